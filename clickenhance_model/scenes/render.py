"""Bird's-eye and side-view PNG pictures of labelled point clouds, with one object highlighted (docs, demo, checks).

Uses matplotlib's object API with the Agg canvas, so it works headless and leaves pyplot state alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from clickenhance_model.scenes import classes

HIGHLIGHT_RGB = (1.0, 0.05, 0.2)  # strong red-magenta, absent from the class palette
_PALETTE = {
    classes.ROAD: (0.35, 0.35, 0.38),
    classes.PARKING: (0.55, 0.45, 0.55),
    classes.SIDEWALK: (0.65, 0.6, 0.72),
    classes.OTHER_GROUND: (0.5, 0.45, 0.4),
    classes.LANE_MARKING: (0.95, 0.95, 0.95),
    classes.TERRAIN: (0.62, 0.68, 0.35),
    classes.BUILDING: (0.85, 0.6, 0.35),
    classes.FENCE: (0.75, 0.55, 0.45),
    classes.OTHER_STRUCTURE: (0.7, 0.5, 0.3),
    classes.VEGETATION: (0.2, 0.6, 0.2),
    classes.TRUNK: (0.45, 0.3, 0.15),
    classes.POLE: (0.95, 0.85, 0.3),
    classes.TRAFFIC_SIGN: (0.95, 0.65, 0.0),
    classes.OTHER_OBJECT: (0.5, 0.5, 0.2),
    classes.CAR: (0.2, 0.45, 0.95),
    classes.MOVING_CAR: (0.3, 0.6, 1.0),
    classes.TRUCK: (0.1, 0.25, 0.6),
    classes.MOVING_TRUCK: (0.15, 0.3, 0.7),
    classes.OTHER_VEHICLE: (0.3, 0.3, 0.8),
    classes.MOVING_OTHER_VEHICLE: (0.35, 0.35, 0.9),
    classes.BICYCLE: (0.6, 0.3, 0.9),
    classes.BICYCLIST: (0.75, 0.35, 0.95),
    classes.MOVING_BICYCLIST: (0.75, 0.35, 0.95),
    classes.PERSON: (0.95, 0.55, 0.75),
    classes.MOVING_PERSON: (0.95, 0.55, 0.75),
}
NYU_PALETTE = {
    classes.NYU_WALL: (0.55, 0.55, 0.6),
    classes.NYU_FLOOR: (0.4, 0.35, 0.3),
    classes.NYU_CEILING: (0.7, 0.7, 0.75),
    classes.NYU_DOOR: (0.6, 0.45, 0.3),
    classes.NYU_CABINET: (0.3, 0.5, 0.9),
    classes.NYU_CHAIR: (0.95, 0.3, 0.3),
    classes.NYU_SOFA: (0.6, 0.3, 0.8),
    classes.NYU_TABLE: (0.95, 0.75, 0.2),
    classes.NYU_BOOKSHELF: (0.2, 0.75, 0.5),
    classes.NYU_BOX: (0.8, 0.55, 0.3),
    classes.NYU_PILLOW: (0.95, 0.6, 0.8),
    classes.NYU_BOOKS: (0.3, 0.9, 0.9),
    classes.NYU_LAMP: (1.0, 1.0, 0.5),
    classes.NYU_OTHER_FURNITURE: (0.5, 0.8, 0.2),
    classes.NYU_OTHER_PROP: (1.0, 0.45, 0.0),
}
PALETTES = {"semantickitti": _PALETTE, "nyu40": NYU_PALETTE}
VIEWS = {"top": (0, 1, "x (m, forward)", "y (m, left)"), "side": (0, 2, "x (m, forward)", "z (m, up)")}


def _colors(xyz: np.ndarray, labels: np.ndarray | None, palette: dict | None = None) -> np.ndarray:
    """Per-point RGB: by semantic class when labels are given (raw SemanticKITTI uint32 allowed), else by height."""
    if labels is None:
        z = xyz[:, 2]
        lo, hi = np.percentile(z, [2, 98]) if len(z) else (0.0, 1.0)
        t = np.clip((z - lo) / max(hi - lo, 1e-6), 0, 1)[:, None]
        return (1 - t) * np.array([0.25, 0.3, 0.6]) + t * np.array([0.95, 0.9, 0.5])
    sem = np.asarray(labels).astype(np.int64) & 0xFFFF
    out = np.empty((len(sem), 3))
    ids, inverse = np.unique(sem, return_inverse=True)
    for k, sid in enumerate(ids):
        fallback = np.random.default_rng(int(sid)).uniform(0.3, 0.8, 3)
        out[inverse == k] = (_PALETTE if palette is None else palette).get(int(sid), fallback)
    return out


def render_bird_eye(
    xyz: np.ndarray,
    labels_or_mask: np.ndarray | None,
    path: str | Path,
    highlight: np.ndarray | None = None,
    title: str = "",
    extent: float = 50.0,
    dpi: int = 150,
    rgb: np.ndarray | None = None,
    view: str = "top",
    label_set: str = "semantickitti",
    center: tuple[float, float] = (0.0, 0.0),
    point_size: float | None = None,
) -> Path:
    """Write a top-view PNG of `xyz` coloured by class (int labels) or height (None), highlighting a mask.

    A boolean `labels_or_mask` is itself the highlighted mask (the rest drawn grey). `highlight`
    points are drawn on top in a strong colour and circled, so a small object is found in a big scan.
    `extent` is the half width in metres of the square shown around the sensor origin. `rgb` ([N, 3]
    uint8, e.g. an indoor scan's colours) overrides the class colours. `view` "side" draws x against z
    instead of y; `label_set` "nyu40" colours by the indoor classes; `center` is the middle of the picture;
    `point_size` (matplotlib marker area) replaces the size chosen from the point count and extent.
    """
    if view not in VIEWS or label_set not in PALETTES:
        raise ValueError(f"view must be one of {sorted(VIEWS)} and label_set one of {sorted(PALETTES)}")
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] < 2:
        raise ValueError(f"xyz must be [N, 2 or 3], got {xyz.shape}")
    if xyz.shape[1] == 2:
        xyz = np.c_[xyz, np.zeros(len(xyz))]
    labels = None if labels_or_mask is None else np.asarray(labels_or_mask)
    if labels is not None and labels.shape != (len(xyz),):
        raise ValueError(f"labels_or_mask must have one entry per point ({len(xyz)}), got {labels.shape}")
    if labels is not None and labels.dtype == bool:
        highlight = labels if highlight is None else highlight
        colors = np.full((len(xyz), 3), 0.6)
    else:
        colors = _colors(xyz, labels, PALETTES[label_set])
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != (len(xyz), 3):
            raise ValueError(f"rgb must be [N, 3] with N = {len(xyz)}, got {rgb.shape}")
        colors = rgb.astype(np.float64) / 255.0
    mask = np.zeros(len(xyz), dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)
    if mask.shape != (len(xyz),):
        raise ValueError(f"highlight must be a boolean mask with one entry per point ({len(xyz)}), got {mask.shape}")
    u, v, u_name, v_name = VIEWS[view]
    xyz = xyz[:, [u, v, 3 - u - v]]  # the drawn plane first
    fig = Figure(figsize=(8, 8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor((0.1, 0.1, 0.12))
    size = float(np.clip(6e4 / max(len(xyz), 1), 0.3, 4.0)) * (50.0 / extent) ** 2 if point_size is None else point_size
    rest = ~mask
    ax.scatter(xyz[rest, 0], xyz[rest, 1], s=size, c=colors[rest], marker=".", linewidths=0, rasterized=True)
    if mask.any():
        ax.scatter(xyz[mask, 0], xyz[mask, 1], s=4 * size, c=[HIGHLIGHT_RGB], marker=".", linewidths=0)
        center = xyz[mask, :2].mean(axis=0)
        radius = np.linalg.norm(xyz[mask, :2] - center, axis=1).max() + 1.0
        ax.add_patch(Circle(tuple(center), radius, fill=False, color=HIGHLIGHT_RGB, linewidth=1.2))
    ax.plot([0], [0], marker="^", color="white", markersize=5)
    cu, cv = center
    ax.set_xlim(cu - extent, cu + extent)
    ax.set_ylim(cv - extent, cv + extent)
    ax.set_aspect("equal")
    ax.set_xlabel(u_name)
    ax.set_ylabel(v_name)
    ax.set_title(title or f"{len(xyz)} points" + (f", {int(mask.sum())} highlighted" if mask.any() else ""))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
