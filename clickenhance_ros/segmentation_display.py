"""The frozen scan as RViz shows it: x, y, z, rgb, label per point, rebuilt cheaply after every click.

Labels are object ids (0 = background; the object being clicked shows the id it will get).
Colours: grey background, one stable colour per accepted object, orange for the current
object. Everything that only changes on accept (positions, accepted labels and colours) is
cached per scan, so a click costs one copy of the cached points plus the mask's points.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from clickenhance_model.annotation import Annotation
from clickenhance_ros.cloud_conversion import SEGMENTATION_DTYPE, cloud_from_array, pack_rgb

BACKGROUND_RGB = np.array([150, 150, 150], dtype=np.uint8)
CURRENT_RGB = np.array([255, 140, 0], dtype=np.uint8)


def object_palette(ids: np.ndarray) -> np.ndarray:
    """A distinct, stable uint8 RGB colour per object id (golden-ratio hues)."""
    hue = (np.asarray(ids, dtype=np.float64) * 0.618033988749895) % 1.0
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hue[:, None] * 6.0) % 6.0
    rgb = 1.0 - 0.75 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (rgb * 255).astype(np.uint8)


class SegmentationDisplay:
    """Builds the ~/segmentation cloud of a scan; caches what changes only when objects are accepted."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._base: np.ndarray | None = None
        self._current = pack_rgb(CURRENT_RGB[None, :])[0]

    def cloud(self, header: Header, xyz: np.ndarray, annotation: Annotation, mask: np.ndarray) -> PointCloud2:
        """The cloud for `xyz` with the accepted objects of `annotation` and the current `mask`."""
        key = (id(annotation), len(annotation.objects))
        if key != self._key or self._base is None or len(self._base) != len(xyz):
            self._base = self._base_points(xyz, annotation)
            self._key = key
        points = self._base.copy()
        points["rgb"][mask] = self._current
        points["label"][mask] = annotation.next_object_id
        return cloud_from_array(points, header)

    @staticmethod
    def _base_points(xyz: np.ndarray, annotation: Annotation) -> np.ndarray:
        """Positions, accepted object ids and their colours."""
        ids = (annotation.labels >> 16).astype(np.uint32)
        colors = np.broadcast_to(BACKGROUND_RGB, (len(ids), 3)).copy()
        accepted = ids > 0
        colors[accepted] = object_palette(ids[accepted])
        points = np.empty(len(xyz), dtype=SEGMENTATION_DTYPE)
        points["x"], points["y"], points["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        points["rgb"] = pack_rgb(colors)
        points["label"] = ids
        return points
