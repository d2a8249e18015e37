"""Summary statistics of labelled LiDAR scans, to compare generated scans with real ones.

`python -m clickenhance_model.scenes.statistics A.bin B.bin ...` prints a table of the mean statistics of
the given SemanticKITTI frames (e.g. a generated sequence against `../shared/real_scans`). A path ending in
`.xyz.npy` is read as a labelled NumPy cloud (`datasets.npy_triplets`, the real indoor region's format).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from clickenhance_model.datasets import npy_triplets
from clickenhance_model.inference.voxel_graph import lowest_nearby
from clickenhance_model.scenes import classes
from clickenhance_model.scenes.lidar import LidarScan
from clickenhance_model.scenes.writer import read_scan

RANGE_BINS = (0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 1000.0)
GROUND = classes.SEMANTIC_KITTI_GROUND
_VEHICLES = frozenset({classes.CAR, classes.MOVING_CAR})
# Classes that stand on the ground, whose lowest points annotators often paint as ground (annotation_noise).
BASE_CLASSES = frozenset(
    {classes.CAR, classes.MOVING_CAR, classes.TRUCK, classes.OTHER_VEHICLE, classes.PERSON, classes.FENCE,
     classes.TRUNK, classes.POLE, classes.OTHER_OBJECT}
)  # fmt: skip
BASE_BANDS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.35))  # metres above the object's local base
BASE_CELL = 0.5  # metres: the object's base under a point is the lowest of its points in the 5 x 5 cells around
EMBEDDED_NEIGHBOURS = (16, 11)  # a point lies inside an object when 11 of its 16 nearest points are of its class
TRUNK_LINK = 0.4  # metres: trunk points this near belong to one trunk
TRUNK_MIN_POINTS = 30
CROWN_REACH = 1.0  # metres: the baseline graph's longest edge, so vegetation this near a trunk is one step away
CROWN_HEIGHT = 1.2  # metres above a trunk's lowest point: vegetation higher than this near a trunk is its crown
BLEED_RADIUS = 0.06  # metres: the neighbourhood that tells a point at an object's border and its two sides' colours
BLEED_SIDE_POINTS = 2  # a border point needs this many neighbours of its own object and of another
INNER_NEIGHBOURS = 4  # an inner point needs this many neighbours of its own object (and none of another)
INNER_EDGE_STEP = 0.1  # RGB in [0, 1]: a colour this far from its object neighbours' mean is an edge inside it


def scan_statistics(
    xyz: np.ndarray, semantic: np.ndarray, instance: np.ndarray, remission: np.ndarray, rgb: np.ndarray | None = None
) -> dict[str, float]:
    """Point count, range histogram (horizontal range, fractions), ground/class shares, cars and remission; with
    colours, the share of border points coloured like the other side (`border_colour_bleed`) and of colour edges
    inside objects (`inner_colour_edges`)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    semantic = np.asarray(semantic)
    n = len(xyz)
    rng = np.linalg.norm(xyz[:, :2], axis=1)
    stats: dict[str, float] = {"points": float(n)}
    hist, _ = np.histogram(rng, bins=RANGE_BINS)
    for lo, hi, count in zip(RANGE_BINS[:-1], RANGE_BINS[1:], hist, strict=True):
        stats[f"range {lo:g}-{hi:g} m"] = count / max(n, 1)
    stats["ground share"] = float(np.isin(semantic, list(GROUND)).mean()) if n else 0.0
    for name, ids in (
        ("building", {classes.BUILDING}),
        ("vegetation", {classes.VEGETATION}),
        ("car", _VEHICLES),
        ("sidewalk", {classes.SIDEWALK}),
        ("road", {classes.ROAD, classes.LANE_MARKING}),
    ):
        stats[f"{name} share"] = float(np.isin(semantic, list(ids)).mean()) if n else 0.0
    stats["remission mean"] = float(np.mean(remission)) if n else 0.0
    cars = _car_points(rng, semantic, np.asarray(instance))
    for lo, hi in ((5, 15), (15, 25), (25, 40)):
        sel = [pts for d, pts in cars if lo <= d < hi]
        stats[f"car points {lo}-{hi} m (median)"] = float(np.median(sel)) if sel else float("nan")
    stats["cars >= 100 points"] = float(sum(pts >= 100 for _, pts in cars))
    stats.update(base_ground_label_shares(xyz, semantic))
    stats["trunks with crown in reach"] = trunks_with_crown_in_reach(xyz, semantic)
    if rgb is not None:
        objects = np.asarray(semantic).astype(np.int64) * 65536 + np.asarray(instance)
        stats["border colour from the other side"] = border_colour_bleed(xyz, rgb, objects)
        things = np.where(np.asarray(instance) > 0, objects, 0)
        stats["colour edges inside objects"] = inner_colour_edges(xyz, rgb, things)
    return stats


def border_colour_bleed(xyz: np.ndarray, rgb: np.ndarray, objects: np.ndarray, radius: float = BLEED_RADIUS) -> float:
    """Share of the border points whose colour lies nearer the mean colour of their neighbours (within `radius`) of
    another object than that of their neighbours of their own object (nan without border points).

    A border point has at least BLEED_SIDE_POINTS neighbours on each side; `objects` is any integer label per
    point (an instance, or class and instance together). An RGB-D reconstruction blends the colours of the
    frames it fuses, which are registered to the depth a few centimetres off, so colour runs across an
    object's border: on the real indoor region about a quarter of the border points take the other side's
    colour. Each generated part has its own palette colour, so few do unless `IndoorConfig.colour_bleed`
    bleeds them.
    """
    colour, (own_count, own_mean), (other_count, other_mean) = _side_colours(xyz, rgb, objects, radius)
    border = (own_count >= BLEED_SIDE_POINTS) & (other_count >= BLEED_SIDE_POINTS)
    if not border.any():
        return float("nan")
    to_own = np.linalg.norm(colour[border] - own_mean[border], axis=1)
    to_other = np.linalg.norm(colour[border] - other_mean[border], axis=1)
    return float(np.mean(to_other < to_own - 1e-6))  # a tie (both sides alike) is no bleed


def inner_colour_edges(xyz: np.ndarray, rgb: np.ndarray, objects: np.ndarray, radius: float = BLEED_RADIUS,
                       step: float = INNER_EDGE_STEP) -> float:  # fmt: skip
    """Share of the inner points of objects (`objects` > 0; no other object's point within `radius`, at least
    INNER_NEIGHBOURS of their own) whose colour differs from the mean of those neighbours by more than `step`
    (RGB in [0, 1], Euclidean): colour edges inside an object, which are no border (nan without inner points).

    Real furniture has parts of other colours (a chair's dark frame under a light seat, a patterned back); a
    point refiner that has only seen one colour per object reads such an edge as the object's border.
    """
    colour, (own_count, own_mean), (other_count, _) = _side_colours(xyz, rgb, objects, radius)
    inner = (np.asarray(objects) > 0) & (other_count == 0) & (own_count >= INNER_NEIGHBOURS)
    if not inner.any():
        return float("nan")
    return float(np.mean(np.linalg.norm(colour[inner] - own_mean[inner], axis=1) > step))


def _side_colours(xyz: np.ndarray, rgb: np.ndarray, objects: np.ndarray, radius: float
                  ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Colours in [0, 1] and, per point, the count and mean colour of its neighbours within `radius` of its own
    object and of other objects."""
    xyz = np.asarray(xyz, dtype=np.float64)
    colour = np.asarray(rgb, dtype=np.float64)
    colour = colour / 255.0 if colour.max(initial=0.0) > 1.0 else colour
    objects = np.asarray(objects)
    pairs = cKDTree(xyz).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
    first, second = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    same = objects[first] == objects[second]
    sides = []
    for chosen in (same, ~same):
        at, of = first[chosen], second[chosen]
        count = np.bincount(at, minlength=len(xyz))
        total = np.stack([np.bincount(at, weights=colour[of, c], minlength=len(xyz)) for c in range(3)], axis=1)
        sides.append((count, total / np.maximum(count, 1)[:, None]))
    return colour, sides[0], sides[1]


def trunks_with_crown_in_reach(xyz: np.ndarray, semantic: np.ndarray) -> float:
    """Share of the trunks (TRUNK_LINK components of at least TRUNK_MIN_POINTS points) most of whose vegetation
    within CROWN_REACH lies over CROWN_HEIGHT above the trunk's lowest point: trunks a click's region can leave
    for their crown in one graph step (nan without such trunks).

    On the real dev frames the vegetation by a trunk is mostly at its foot; generated crowns that start low
    put it in the crown, and a click on the trunk grows into the crown.
    """
    xyz, semantic = np.asarray(xyz, dtype=np.float64), np.asarray(semantic)
    trunk = np.flatnonzero(semantic == classes.TRUNK)
    vegetation = xyz[semantic == classes.VEGETATION]
    if len(trunk) < TRUNK_MIN_POINTS:
        return float("nan")
    pairs = cKDTree(xyz[trunk]).query_pairs(TRUNK_LINK, output_type="ndarray")
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(trunk), len(trunk)))
    _, component = connected_components(links, directed=False)
    sizes = np.bincount(component)
    tree = cKDTree(vegetation) if len(vegetation) else None
    crowned = []
    for c in np.flatnonzero(sizes >= TRUNK_MIN_POINTS):
        points = xyz[trunk[component == c]]
        if tree is None:
            crowned.append(False)  # no vegetation in the scan: no crown in reach
            continue
        near = np.unique(np.fromiter((i for ball in tree.query_ball_point(points, CROWN_REACH) for i in ball),
                                     dtype=np.int64))  # fmt: skip
        heights = vegetation[near, 2] - points[:, 2].min()
        crowned.append(len(near) > 0 and (heights > CROWN_HEIGHT).mean() > 0.5)
    return float(np.mean(crowned)) if crowned else float("nan")


def base_ground_label_shares(xyz: np.ndarray, semantic: np.ndarray) -> dict[str, float]:
    """Share of ground labels among the points inside a standing object, by height above the object's base.

    A point lies inside an object of class c when most of its nearest points (EMBEDDED_NEIGHBOURS) are of
    class c (c in BASE_CLASSES), whatever its own label; its height is measured from the lowest class-c
    point in the 5 x 5 cells of BASE_CELL around it (1-1.5 m; `voxel_graph.lowest_nearby`). Exact labels
    give 0 in every band; real annotation does not.
    """
    xyz, semantic = np.asarray(xyz, dtype=np.float64), np.asarray(semantic)
    k, need = EMBEDDED_NEIGHBOURS
    counts = np.zeros((len(BASE_BANDS), 2))  # per band: ground-labelled, all
    if len(xyz) > k:
        _, near = cKDTree(xyz).query(xyz, k + 1)
        near_sem = semantic[near[:, 1:]]
        for cls in BASE_CLASSES:
            own = semantic == cls
            inside = np.flatnonzero((near_sem == cls).sum(axis=1) >= need)
            if not len(inside):
                continue
            height = xyz[inside, 2] - lowest_nearby(xyz[own], BASE_CELL, reach=2, query_xy=xyz[inside, :2])
            ground = np.isin(semantic[inside], list(GROUND))
            for b, (lo, hi) in enumerate(BASE_BANDS):
                band = (height >= lo - 0.1 * (b == 0)) & (height < hi)  # the lowest band takes points just below
                counts[b] += (ground[band].sum(), band.sum())
    return {
        f"ground labels at base {lo:g}-{hi:g} m": (c[0] / c[1] if c[1] else float("nan"))
        for (lo, hi), c in zip(BASE_BANDS, counts, strict=True)
    }


def _car_points(ranges: np.ndarray, semantic: np.ndarray, instance: np.ndarray) -> list[tuple[float, int]]:
    """(mean horizontal range, point count) of every car instance."""
    out = []
    is_car = np.isin(semantic, list(_VEHICLES)) & (instance > 0)
    keys = semantic.astype(np.int64) * 65536 + instance
    for key in np.unique(keys[is_car]):
        m = keys == key
        out.append((float(ranges[m].mean()), int(m.sum())))
    return out


def mean_statistics(paths: list[Path]) -> dict[str, float]:
    """Statistics averaged over several frames (nan-aware for columns some frames lack: cars, colour)."""
    rows = [scan_statistics(s.xyz, s.semantic, s.instance, s.remission, s.rgb) for s in map(_read, paths)]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with warnings.catch_warnings():  # a column no frame has (no car in a room) is nan, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmean([r.get(k, np.nan) for r in rows])) for k in keys}


def _read(path: Path) -> LidarScan:
    """A SemanticKITTI frame, or a labelled NumPy cloud (`NAME.xyz.npy`, read by `datasets.npy_triplets`; no
    remission)."""
    if not path.name.endswith(npy_triplets.SUFFIX):
        return read_scan(path)
    scene = npy_triplets.NpyTripletDataset(path.parent).load_scene(path.name[: -len(npy_triplets.SUFFIX)])
    return LidarScan(scene.xyz, np.zeros(len(scene.xyz), dtype=np.float32), scene.semantic, scene.instance, scene.rgb)


def main(argv: list[str] | None = None) -> None:
    """Print mean statistics of two groups of frames side by side (the second group is optional)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("frames", type=Path, nargs="+", help="velodyne .bin (or NAME.xyz.npy) files of the first group")
    parser.add_argument("--compare", type=Path, nargs="+", default=[],
                        help="velodyne .bin (or NAME.xyz.npy) files of a second group")
    args = parser.parse_args(argv)
    first = mean_statistics(args.frames)
    second = mean_statistics(args.compare) if args.compare else {}
    print(f"{'statistic':34s} {'first':>10s} {'second':>10s}")
    for key, value in first.items():
        other = f"{second[key]:10.3f}" if key in second else ""
        print(f"{key:34s} {value:10.3f} {other}")


if __name__ == "__main__":
    main()
