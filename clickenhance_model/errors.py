"""Exception types of the segmentation API, so callers can tell bad input from bugs."""


class ClickEnhanceError(Exception):
    """Base class of every error this package raises on purpose."""


class CloudError(ClickEnhanceError, ValueError):
    """The point cloud given to a session is unusable (empty, wrong shape, no finite point)."""


class ClickError(ClickEnhanceError, ValueError):
    """A click cannot be applied (out of range, too far from any point, negative first)."""


class CheckpointError(ClickEnhanceError):
    """A checkpoint file is missing, corrupted, truncated or of an incompatible format."""


class DatasetError(ClickEnhanceError):
    """A dataset folder or file does not follow its format."""
