"""The demo's picture: an overview of the scan with each annotated object boxed and numbered, and per
object a close-up as a person looks at it, coloured by how its final mask compares with the truth.

A close-up is an oblique orthographic view from the sensor's side (the faces the LiDAR saw), 30 degrees
from above: true positives, false positives and misses in three colours, the ground truth's box as a
dashed outline, the numbered clicks (+ / -) at their points, and the IoU after each click beside it.
Uses matplotlib's object API with the Agg canvas (headless, no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

TRUE_POSITIVE = "#009E73"  # Okabe-Ito palette: distinguishable with colour-blindness
FALSE_POSITIVE = "#D55E00"
MISSED = "#0072B2"
CONTEXT = "#C4C4C4"
BOX = "#111111"
ELEVATION_DEG = 30.0
MARGIN_M = 1.5  # scene shown around an object in its close-up


@dataclass(frozen=True)
class FigureObject:
    """One annotated object as the figure shows it.

    `truth` and `mask` are bool (N,) over the scan; `clicks` are (point index, positive) in click
    order and `ious` the IoU after each of them.
    """

    number: int
    name: str
    truth: np.ndarray
    mask: np.ndarray
    clicks: tuple[tuple[int, bool], ...]
    ious: tuple[float, ...]


@dataclass(frozen=True)
class GroundTruthBox:
    """The ground truth's box: yaw from the principal axis of its points seen from above."""

    center: np.ndarray  # (2,) metres, x, y
    axes: np.ndarray  # (2, 2) rows: unit length and width directions
    half: np.ndarray  # (2,) half length and half width, metres
    z_range: tuple[float, float]

    @classmethod
    def of(cls, xyz: np.ndarray) -> GroundTruthBox:
        """The box around `xyz` (M, 3), M >= 1, aligned with its main horizontal direction."""
        xy = xyz[:, :2].astype(np.float64)
        center = xy.mean(axis=0)
        _, vectors = np.linalg.eigh(np.cov((xy - center).T) if len(xy) > 2 else np.eye(2))
        axes = vectors[:, ::-1].T  # largest eigenvalue first
        local = (xy - center) @ axes.T
        low, high = local.min(axis=0), local.max(axis=0)
        return cls(center + (low + high) / 2 @ axes, axes, (high - low) / 2, (float(xyz[:, 2].min()),
                                                                              float(xyz[:, 2].max())))

    def corners(self) -> np.ndarray:
        """The 8 corners (8, 3): bottom face then top face, each counter-clockwise."""
        signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
        ring = self.center + (signs * self.half) @ self.axes  # (4, 2)
        return np.vstack([np.c_[ring, np.full(4, z)] for z in self.z_range])

    def edges(self) -> list[tuple[int, int]]:
        """Corner index pairs of the 12 edges."""
        return [(k, (k + 1) % 4) for k in range(4)] + [(4 + k, 4 + (k + 1) % 4) for k in range(4)] + \
            [(k, k + 4) for k in range(4)]


def view_from_sensor(target: np.ndarray, elevation_deg: float = ELEVATION_DEG) -> np.ndarray:
    """Rotation (3, 3) whose rows are screen right, screen up and depth (away from the viewer).

    The viewer looks at `target` from the sensor's side (the sensor sits at the origin), from
    `elevation_deg` above the horizon, so the faces the LiDAR scanned face the viewer.
    """
    horizontal = np.asarray(target[:2], dtype=np.float64)
    norm = float(np.linalg.norm(horizontal))
    horizontal = horizontal / norm if norm > 1e-6 else np.array([1.0, 0.0])
    elevation = np.radians(elevation_deg)
    forward = np.r_[np.cos(elevation) * horizontal, -np.sin(elevation)]
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.vstack([right, np.cross(right, forward), forward])


def draw_demo_figure(xyz: np.ndarray, objects: Sequence[FigureObject], path: str | Path, title: str = "",
                     min_iou: float | None = None, dpi: int = 110) -> Path:
    """Write the demo's PNG and return its path: a row of close-ups (one per object) above the
    overview and the IoU-per-click curves.

    Raises ValueError when `xyz` is not (N, 3) or an object's masks, clicks or IoUs do not fit it.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"xyz must be (N, 3), got {xyz.shape}")
    for item in objects:
        _check_object(item, len(xyz))
    columns = max(len(objects), 1)
    fig = Figure(figsize=(max(6.0 * columns, 16.0), 12.0), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.15], left=0.045, right=0.985, top=0.865, bottom=0.055,
                            hspace=0.22)
    top = grid[0].subgridspec(1, columns, wspace=0.06)
    for column, item in enumerate(objects):
        _draw_close_up(fig.add_subplot(top[0, column]), xyz, item)
    bottom = grid[1].subgridspec(1, 2, width_ratios=[2.3, 1.0], wspace=0.12)
    _draw_overview(fig.add_subplot(bottom[0, 0]), xyz, objects)
    _draw_iou_curves(fig.add_subplot(bottom[0, 1]), objects, min_iou)
    fig.suptitle(title or f"{len(objects)} objects annotated by clicks", fontsize=15, y=0.985)
    fig.legend(handles=_legend_handles(), loc="upper center", ncol=6, frameon=False, fontsize=10.5,
               bbox_to_anchor=(0.5, 0.955))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _check_object(item: FigureObject, points: int) -> None:
    """ValueError naming the object when its masks, clicks or IoUs do not fit a scan of `points` points."""
    for name in ("truth", "mask"):
        value = np.asarray(getattr(item, name))
        if value.dtype != bool or value.shape != (points,):
            raise ValueError(f"object {item.number}: {name} must be a bool mask of shape ({points},), "
                             f"got {value.dtype} {value.shape}")
    if not item.truth.any():
        raise ValueError(f"object {item.number}: its ground truth has no points")
    if any(not 0 <= index < points for index, _ in item.clicks):
        raise ValueError(f"object {item.number}: a click index lies outside the scan's {points} points")
    if len(item.ious) != len(item.clicks):
        raise ValueError(f"object {item.number}: {len(item.clicks)} clicks but {len(item.ious)} IoU values")


def _legend_handles() -> list[Line2D]:
    dot = {"marker": "o", "linestyle": "", "markersize": 8}
    return [Line2D([], [], color=TRUE_POSITIVE, label="in mask and object (true positive)", **dot),
            Line2D([], [], color=FALSE_POSITIVE, label="in mask, not object (false positive)", **dot),
            Line2D([], [], color=MISSED, label="object, not in mask (missed)", **dot),
            Line2D([], [], color=BOX, linestyle="--", label="ground-truth box"),
            Line2D([], [], color="black", marker="$+$", linestyle="", markersize=9, label="positive click"),
            Line2D([], [], color="black", marker="$-$", linestyle="", markersize=9, label="negative click")]


def _outcome_colors(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per point colour: true positive, false positive, missed, or context."""
    colors = np.full(len(truth), CONTEXT, dtype=object)
    colors[truth & mask] = TRUE_POSITIVE
    colors[mask & ~truth] = FALSE_POSITIVE
    colors[truth & ~mask] = MISSED
    return colors


def _draw_overview(ax: Axes, xyz: np.ndarray, objects: Sequence[FigureObject]) -> None:
    """Top view of the region holding the sensor and the objects: greys by height, the objects
    coloured by outcome, each boxed and numbered."""
    boxes = [GroundTruthBox.of(xyz[item.truth]) for item in objects]
    corners = np.vstack([np.zeros((1, 2))] + [box.corners()[:4, :2] for box in boxes])
    low, high = corners.min(axis=0) - 6.0, corners.max(axis=0) + 6.0
    shown = np.all((xyz[:, :2] >= low) & (xyz[:, :2] <= high), axis=1)
    z = xyz[shown, 2]
    z_low, z_high = np.percentile(z, [2, 98]) if len(z) else (0.0, 1.0)
    shade = 0.8 - 0.55 * np.clip((z - z_low) / max(z_high - z_low, 1e-6), 0, 1)  # higher = darker
    ax.scatter(xyz[shown, 0], xyz[shown, 1], s=0.8, c=np.repeat(shade[:, None], 3, axis=1), marker=".",
               linewidths=0, rasterized=True)
    for item, box in zip(objects, boxes, strict=True):
        involved = item.truth | item.mask
        colors = _outcome_colors(item.truth, item.mask)[involved]
        ax.scatter(xyz[involved, 0], xyz[involved, 1], s=3.0, c=list(colors), marker=".", linewidths=0,
                   rasterized=True)
        ring = box.center + (np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (box.half + 0.3)) @ box.axes
        ax.add_patch(Polygon(ring, closed=True, fill=False, edgecolor="black", linewidth=1.3))
        away = ring[np.argmax(ring @ box.center)]  # the corner farthest from the sensor
        ax.annotate(str(item.number), away, xytext=10 * box.center / max(np.linalg.norm(box.center), 1e-6),
                    textcoords="offset points", ha="center", va="center", fontsize=12, fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.2", "fc": "#F0E442", "ec": "black"})
    ax.plot([0], [0], marker="^", color="black", markersize=8)
    ax.annotate("sensor", (0, 0), xytext=(0, -14), textcoords="offset points", ha="center", fontsize=9)
    _fit_limits(ax, low, high)
    ax.set_xlabel("x (m, forward)")
    ax.set_ylabel("y (m, left)")
    ax.set_title("Overview from above: the annotated objects boxed and numbered", fontsize=12)


def _draw_close_up(ax: Axes, xyz: np.ndarray, item: FigureObject) -> None:
    """Oblique view of the object's ground-truth box, MARGIN_M around it and around each click, with the
    numbered clicks."""
    box = GroundTruthBox.of(xyz[item.truth])
    local = (xyz[:, :2] - box.center) @ box.axes.T
    near = np.all(np.abs(local) <= box.half + MARGIN_M, axis=1)
    for index, _ in item.clicks:  # a click beside the box is shown with the scene around it
        near |= np.linalg.norm(xyz[:, :2] - xyz[index, :2], axis=1) <= MARGIN_M
    rotation = view_from_sensor(np.r_[box.center, np.mean(box.z_range)])
    screen = xyz[near] @ rotation.T  # [M, 3]: right, up, depth
    colors = _outcome_colors(item.truth[near], item.mask[near])
    involved = item.truth[near] | item.mask[near]
    order = np.lexsort((-screen[:, 2], involved))  # context first, then far to near
    size = float(np.clip(12000.0 / max(int(involved.sum()), 1), 2.0, 18.0))
    ax.scatter(screen[order, 0], screen[order, 1], s=np.where(involved[order], size, 0.4 * size),
               c=list(colors[order]), marker="o", linewidths=0, rasterized=True)
    corners = box.corners() @ rotation.T
    for a, b in box.edges():
        ax.plot(corners[[a, b], 0], corners[[a, b], 1], color=BOX, linestyle="--", linewidth=1.0)
    _draw_clicks(ax, xyz, rotation, item.clicks)
    clicked = xyz[[index for index, _ in item.clicks]].reshape(-1, 3) @ rotation.T
    span = np.vstack([screen[involved, :2], corners[:, :2], clicked[:, :2]])
    pad = 0.1 * float(np.ptp(span, axis=0).max()) + 0.3
    _fit_limits(ax, span.min(axis=0) - pad, span.max(axis=0) + pad)
    ax.set_xticks([])
    ax.set_yticks([])
    truth, mask = item.truth, item.mask
    ious = " → ".join(f"{value:.2f}" for value in item.ious) or "no click"
    outside = int((mask & ~near).sum())
    away = f" ({outside} outside this view)" if outside else ""
    ax.set_title(f"{item.number}: {item.name} ({int(truth.sum())} points), seen from the sensor\n"
                 f"IoU per click {ious}\nfinal mask: {int((mask & ~truth).sum())} false positives{away}, "
                 f"{int((truth & ~mask).sum())} missed", fontsize=10.5)


def _fit_limits(ax: Axes, low: np.ndarray, high: np.ndarray) -> None:
    """Show at least [low, high] at equal scale on both axes, widening one span to fill the panel."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches() * (box.width, box.height)
    center, half = (low + high) / 2, (high - low) / 2
    if half[1] / half[0] < height / width:
        half[1] = half[0] * height / width
    else:
        half[0] = half[1] * width / height
    ax.set_xlim(center[0] - half[0], center[0] + half[0])
    ax.set_ylim(center[1] - half[1], center[1] + half[1])
    ax.set_aspect("equal", adjustable="box")


def _draw_clicks(ax: Axes, xyz: np.ndarray, rotation: np.ndarray, clicks: Sequence[tuple[int, bool]]) -> None:
    """Each click as a ringed dot at its point with a numbered +/- label beside it."""
    for number, (index, positive) in enumerate(clicks, start=1):
        u, v, _ = xyz[index] @ rotation.T
        color = TRUE_POSITIVE if positive else FALSE_POSITIVE
        ax.plot([u], [v], marker="o", markersize=9, markerfacecolor="white", markeredgecolor="black",
                markeredgewidth=1.6, zorder=5)
        ax.plot([u], [v], marker="o", markersize=4, color=color, zorder=6)
        angle = np.radians(50 + 70 * (number - 1))
        offset = (28 * np.cos(angle), 28 * np.sin(angle))
        ax.annotate(f"{number}{'+' if positive else '−'}", (u, v), xytext=offset, textcoords="offset points",
                    ha="center", va="center", fontsize=11, fontweight="bold", zorder=7,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "#F0E442" if positive else "white", "ec": "black"},
                    arrowprops={"arrowstyle": "-", "color": "black", "linewidth": 1.2})


def _draw_iou_curves(ax: Axes, objects: Sequence[FigureObject], min_iou: float | None) -> None:
    """IoU after each click, one line per object marked with its number, and the pass threshold."""
    styles = ["-", "--", "-.", ":"]
    for k, item in enumerate(objects):
        clicks = np.arange(1, len(item.ious) + 1) + 0.05 * (k - (len(objects) - 1) / 2)  # apart when equal
        ax.plot(clicks, item.ious, color=str(0.45 * (k % 3) / 2), linestyle=styles[k % len(styles)],
                linewidth=1.4, marker=f"${item.number}$", markersize=11, label=f"object {item.number}")
    if min_iou is not None:
        ax.axhline(min_iou, color=FALSE_POSITIVE, linestyle=":", linewidth=1.4,
                   label=f"pass: final IoU >= {min_iou:.2f}")
    most = max([len(item.ious) for item in objects] + [3])
    ax.set_xlim(0.6, most + 0.4)
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(np.arange(1, most + 1))
    ax.set_xlabel("click")
    ax.set_ylabel("IoU with the ground truth")
    ax.grid(alpha=0.3)
    if objects or min_iou is not None:
        ax.legend(loc="lower right", fontsize=9, handlelength=3)
    ax.set_title("IoU after each click", fontsize=12)
