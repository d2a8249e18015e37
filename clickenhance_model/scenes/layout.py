"""Floor-plan occupancy for scene layout: objects claim discs so that later objects do not overlap them."""

from __future__ import annotations

import numpy as np


class Footprints:
    """Discs (x, y, radius) already taken on the ground plane."""

    def __init__(self) -> None:
        self.discs: list[tuple[float, float, float]] = []

    def is_free(self, x: float, y: float, r: float) -> bool:
        """Whether a disc of radius r at (x, y) overlaps no claimed disc."""
        return all((x - fx) ** 2 + (y - fy) ** 2 >= (r + fr) ** 2 for fx, fy, fr in self.discs)

    def claim_disc(self, x: float, y: float, r: float) -> bool:
        """Claim a disc if it is free; returns whether it was."""
        if not self.is_free(x, y, r):
            return False
        self.discs.append((x, y, r))
        return True

    def claim_rect(self, x: float, y: float, yaw: float, length: float, width: float) -> bool:
        """Claim a row of discs covering a length x width rectangle (an elongated object) if all are free."""
        radius = width / 2
        count = max(2, int(np.ceil(length / max(radius, 1e-3) / 1.5)))
        offsets = np.linspace(-length / 2 + radius, length / 2 - radius, count) if length > width else [0.0]
        discs = [(x + o * np.cos(yaw), y + o * np.sin(yaw), radius) for o in offsets]
        if not all(self.is_free(dx, dy, r) for dx, dy, r in discs):
            return False
        self.discs.extend(discs)
        return True
