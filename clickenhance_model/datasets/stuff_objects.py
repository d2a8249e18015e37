"""Objects of classes without instance labels ("stuff"): connected components of one class.

SemanticKITTI labels instances only for thing classes (cars, people, ...). Poles, trunks,
traffic signs, fences and loose other objects are what a user also clicks on, and where
a model trained on cars may fail, so the evaluation turns them into objects: the points
of one such class that carry no instance id are split into connected components (two
points are connected when they are at most `gap` metres apart, through a chain of such
pairs). Each component gets a new instance id STUFF_BASE + k, above every uint32 label
value, so it never collides with a labelled instance; `select_objects` then drops
components under the benchmark's minimum size.

Ground (roads, sidewalks, terrain, floors) is never an object of these benchmarks, but a model
that has only seen it as background vetoes it when a user clicks it (an indoor floor); training
may therefore turn ground pieces into objects as well (`with_ground_objects`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from clickenhance_model.datasets.scene import Scene

STUFF_BASE = 1 << 32  # instance ids of stuff components start here (labelled ids are uint32)
DEFAULT_GAP = 0.4  # metres: points closer than this belong to one component
GROUND_CELL = 1.0  # metres: cell edge of the ground pieces (`with_ground_objects`); far LiDAR rings are metres apart
GROUND_MIN_SHARE = 0.1  # a ground piece is an object when it holds this share of its class group's points
OBJECT_SETS = ("things", "stuff", "all")


def component_labels(xyz: np.ndarray, gap: float) -> np.ndarray:
    """Connected component (0..C-1, numbered by first point) of each point, joining points within `gap` metres."""
    if len(xyz) == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(xyz).query_pairs(gap, output_type="ndarray")  # [P, 2]
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(len(xyz),) * 2)
    _, labels = connected_components(graph, directed=False)
    return _numbered_by_first_point(labels)


def cell_component_labels(xyz: np.ndarray, cell: float) -> np.ndarray:
    """Connected component (numbered by first point) of each point, joining points of touching `cell`-metre
    cells (faces, edges and corners): `component_labels` at the cost of the occupied cells, for large surfaces."""
    if len(xyz) == 0:
        return np.zeros(0, dtype=np.int64)
    cells, cell_of = np.unique(np.floor(xyz / cell).astype(np.int64), axis=0, return_inverse=True)
    touching = 1.01 * np.sqrt(3.0)  # the farthest touching cell (a corner) in cell units
    return _numbered_by_first_point(component_labels(cells.astype(np.float64), touching)[cell_of.reshape(-1)])


def _numbered_by_first_point(labels: np.ndarray) -> np.ndarray:
    """Component labels renumbered so that component k starts before component k + 1 (the same on every run)."""
    _, first = np.unique(labels, return_index=True)
    order = np.empty(len(first), dtype=np.int64)
    order[np.argsort(first)] = np.arange(len(first))
    return order[labels]


def with_ground_objects(
    scene: Scene, groups: Iterable[Iterable[int]], cell: float = GROUND_CELL, min_share: float = GROUND_MIN_SHARE
) -> Scene:
    """The scene with the main connected pieces of each group of ground classes (e.g. the whole ground
    surface) as objects too, for a model that must segment the ground it is clicked on.

    Only points with instance 0 count; ids continue above the scene's largest (and STUFF_BASE). Ground
    surfaces hold tens of thousands of points, so pieces are found on `cell`-metre cells
    (`cell_component_labels`). Pieces with less than `min_share` of their group's points (a far ring's
    stub of road behind a car) stay background, so ground does not crowd out the objects.
    """
    instance = scene.instance.copy()
    next_id = max(STUFF_BASE, int(instance.max(initial=0)) + 1)
    for group in groups:
        members = np.flatnonzero(np.isin(scene.semantic, list(group)) & (instance == 0))
        if len(members) == 0:
            continue
        labels = cell_component_labels(scene.xyz[members].astype(np.float64), cell)
        sizes = np.bincount(labels)
        kept = np.flatnonzero(sizes >= min_share * len(members))  # never empty: the largest piece has >= 1/C
        piece = np.full(len(sizes), -1, dtype=np.int64)
        piece[kept] = np.arange(len(kept))
        labels = piece[labels]
        instance[members[labels >= 0]] = next_id + labels[labels >= 0]
        next_id += len(kept)
    return Scene(scene.name, scene.xyz, scene.rgb, instance, scene.semantic)


def check_object_options(objects: str, gap: float) -> None:
    """Raise ValueError unless `objects` names an object set and `gap` is a positive distance."""
    if objects not in OBJECT_SETS:
        raise ValueError(f"objects must be one of {', '.join(OBJECT_SETS)}, got {objects!r}")
    if not gap > 0:
        raise ValueError(f"the stuff gap must be > 0 metres, got {gap}")


def with_stuff_objects(scene: Scene, classes: Iterable[int], objects: str, gap: float = DEFAULT_GAP) -> Scene:
    """The scene with the object set `objects`: "things" (as read), "stuff" (components only) or "all".

    Stuff components are built from the points of `classes` with instance 0, class by class
    (ascending id), so their ids are the same on every run.
    """
    check_object_options(objects, gap)
    if objects == "things":
        return scene
    instance = scene.instance.copy() if objects == "all" else np.zeros_like(scene.instance)
    next_id = STUFF_BASE
    for class_id in sorted(set(int(c) for c in classes)):
        members = np.flatnonzero((scene.semantic == class_id) & (scene.instance == 0))
        if len(members) == 0:
            continue
        labels = component_labels(scene.xyz[members].astype(np.float64), gap)
        instance[members] = next_id + labels
        next_id += int(labels.max()) + 1
    return Scene(scene.name, scene.xyz, scene.rgb, instance, scene.semantic)
