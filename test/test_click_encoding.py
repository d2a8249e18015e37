"""Click encodings against brute-force computations, including the empty and flat cases."""

from __future__ import annotations

import numpy as np
import pytest

from clickenhance_model.inference.click_encoding import (
    EMPTY_MAP_VALUE,
    current_click_map,
    dense_click_maps,
    encode_clicks,
    minmax_normalise,
    nearest_click_distance,
    sparse_click_maps,
)


def brute_force_normalised(points: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """Distance to the nearest click from the full distance matrix, min-max normalised by hand."""
    distance = np.sqrt(((points[:, None, :] - clicks[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    return (distance - distance.min()) / (distance.max() - distance.min())


@pytest.mark.parametrize("num_clicks", [1, 3, 20])  # 20 clicks takes the KD-tree path
def test_dense_maps_equal_brute_force(num_clicks: int) -> None:
    rng = np.random.default_rng(num_clicks)
    points = rng.uniform(-5, 5, size=(500, 3))
    positive = rng.uniform(-5, 5, size=(num_clicks, 3))
    negative = rng.uniform(-5, 5, size=(num_clicks + 1, 3))
    maps = dense_click_maps(points, positive, negative)
    assert maps.shape == (500, 2) and maps.dtype == np.float32
    np.testing.assert_allclose(maps[:, 0], brute_force_normalised(points, positive), atol=1e-6)
    np.testing.assert_allclose(maps[:, 1], brute_force_normalised(points, negative), atol=1e-6)


def test_normalised_map_spans_zero_to_one() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 10, size=(300, 3))
    maps = dense_click_maps(points, points[:2], points[5:6])
    assert maps.min(axis=0).tolist() == [0.0, 0.0]
    assert maps.max(axis=0).tolist() == [1.0, 1.0]
    assert maps[0, 0] == 0.0 and maps[5, 1] == 0.0  # a clicked point is at distance 0


def test_map_without_clicks_is_all_ones() -> None:
    points = np.random.default_rng(2).uniform(0, 1, size=(50, 3))
    maps = dense_click_maps(points, points[:1], np.zeros((0, 3)))
    assert EMPTY_MAP_VALUE == 1.0
    np.testing.assert_array_equal(maps[:, 1], np.ones(50, dtype=np.float32))
    np.testing.assert_array_equal(dense_click_maps(points, points[:1], None)[:, 1], maps[:, 1])


def test_flat_and_empty_inputs() -> None:
    assert minmax_normalise(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]  # all equally far: zeros
    assert minmax_normalise(np.zeros(0)).shape == (0,)
    one_point = np.array([[1.0, 2.0, 3.0]])
    assert dense_click_maps(one_point, one_point, None).tolist() == [[0.0, 1.0]]


def test_current_click_map_is_distance_to_that_click_only() -> None:
    rng = np.random.default_rng(3)
    points = rng.uniform(-3, 3, size=(200, 3))
    current = points[17]
    expected = brute_force_normalised(points, current[None, :])
    np.testing.assert_allclose(current_click_map(points, current)[:, 0], expected, atol=1e-6)
    assert current_click_map(points, current).shape == (200, 1)


@pytest.mark.parametrize("num_clicks", [2, 12])
def test_sparse_cubes_equal_brute_force(num_clicks: int) -> None:
    rng = np.random.default_rng(num_clicks)
    points = rng.uniform(-2, 2, size=(2000, 3))
    positive = rng.uniform(-2, 2, size=(num_clicks, 3))
    cube = 0.6
    maps = sparse_click_maps(points, positive, None, cube)
    inside = (np.abs(points[:, None, :] - positive[None, :, :]).max(axis=2) <= cube / 2).any(axis=1)
    np.testing.assert_array_equal(maps[:, 0], inside.astype(np.float32))
    assert maps[:, 1].sum() == 0  # no negative click: nothing marked
    assert 0 < maps[:, 0].sum() < len(points)


def test_sparse_cube_boundary() -> None:
    points = np.array([[0.0, 0.0, 0.0], [0.15, 0.0, 0.0], [0.15, 0.15, -0.15], [0.16, 0.0, 0.0]])
    maps = sparse_click_maps(points, np.zeros((1, 3)), points[3:], cube_size=0.3)
    assert maps[:, 0].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert maps[:, 1].tolist() == [0.0, 1.0, 1.0, 1.0]


def test_encode_clicks_dispatches() -> None:
    rng = np.random.default_rng(4)
    points = rng.uniform(-1, 1, size=(100, 3))
    pos, neg, cur = points[:2], points[2:3], points[2]
    dense, dense_cur = encode_clicks(points, pos, neg, cur, "dense")
    np.testing.assert_array_equal(dense, dense_click_maps(points, pos, neg))
    np.testing.assert_array_equal(dense_cur, current_click_map(points, cur))
    sparse, sparse_cur = encode_clicks(points, pos, neg, cur, "sparse", cube_size=0.4)
    np.testing.assert_array_equal(sparse, sparse_click_maps(points, pos, neg, 0.4))
    np.testing.assert_array_equal(sparse_cur[:, 0], sparse_click_maps(points, cur, None, 0.4)[:, 0])
    with pytest.raises(ValueError, match="unknown click encoding"):
        encode_clicks(points, pos, neg, cur, "gaussian")


def test_nearest_distance_without_clicks_is_infinite() -> None:
    assert np.isinf(nearest_click_distance(np.zeros((4, 3)), None)).all()


def car_on_a_road() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of a flat road, a box "car" standing on it and a wall 1 m past the car's end (gap > max_edge).

    Returns (points, on_car, on_wall); the car's top face is at z = 1.5, 10 cm point spacing.
    """
    step = 0.1
    xs, ys = np.meshgrid(np.arange(-6, 10, step), np.arange(-5, 5, step), indexing="ij")
    road = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    road = road[~((np.abs(road[:, 0]) < 2.0) & (np.abs(road[:, 1]) < 1.0))]  # the car hides the road below it
    tx, ty = np.meshgrid(np.arange(-2, 2, step), np.arange(-1, 1 + step / 2, step), indexing="ij")
    top = np.stack([tx.ravel(), ty.ravel(), np.full(tx.size, 1.5)], axis=1)
    sx, sz = np.meshgrid(np.arange(-2, 2, step), np.arange(0.3, 1.5, step), indexing="ij")
    sides = [np.stack([sx.ravel(), np.full(sx.size, y), sz.ravel()], axis=1) for y in (-1.0, 1.0)]
    wy, wz = np.meshgrid(np.arange(-3, 3, step), np.arange(0.0, 3.0, step), indexing="ij")
    wall = np.stack([np.full(wy.size, 3.0), wy.ravel(), wz.ravel()], axis=1)
    points = np.concatenate([road, top, *sides, wall])
    on_car = np.zeros(len(points), dtype=bool)
    on_car[len(road) : len(road) + len(top) + 2 * len(sx.ravel())] = True
    on_wall = np.zeros(len(points), dtype=bool)
    on_wall[-len(wall) :] = True
    return points, on_car, on_wall


def test_geodesic_maps_follow_the_object_and_stop_at_gaps_and_the_road() -> None:
    from clickenhance_model.inference.click_encoding import geodesic_click_features
    from clickenhance_model.inference.voxel_graph import OUTDOOR, VoxelGraph

    points, on_car, on_wall = car_on_a_road()
    graph = VoxelGraph(points, OUTDOOR)
    click = np.array([[-1.5, 0.0, 1.5]])
    maps, region = geodesic_click_features(graph, click, None)
    assert maps.shape == (len(points), 2) and maps.dtype == np.float32
    assert ((maps >= 0) & (maps <= 1)).all()
    assert (maps[:, 1] == EMPTY_MAP_VALUE).all()  # no negative click
    assert (maps[on_car, 0] < 1).all()  # the whole car is reached along its surface
    assert (maps[on_wall, 0] == 1).all()  # the wall is 1 m away: only the road connects it, at the ground penalty
    far_road = ~on_car & ~on_wall & (np.abs(points[:, 0]) > 3)
    assert (maps[far_road, 0] == 1).all()
    top = on_car & (points[:, 2] == 1.5)
    euclidean = np.linalg.norm(points[top] - click, axis=1) / OUTDOOR.max_radius
    assert (maps[top, 0] >= euclidean - 1e-6).all()  # a path is never shorter than the straight line
    assert (maps[top, 0] <= 1.1 * euclidean + 0.02).all()  # and on a flat face barely longer
    negative = np.array([[1.9, 0.0, 1.5]])
    both, split = geodesic_click_features(graph, click, negative)
    np.testing.assert_array_equal(both[:, 0], maps[:, 0])
    assert both[on_car, 1].min() == 0.0 and (both[on_wall, 1] == 1).all()
    outside, same_region = geodesic_click_features(graph, click, np.array([[30.0, 0.0, 1.0]]))  # 20 m from any point
    np.testing.assert_array_equal(outside, maps)
    np.testing.assert_array_equal(same_region, region)
    some = np.flatnonzero(on_wall | on_car)
    at_crop = geodesic_click_features(graph, click, negative, some)  # read at a crop
    np.testing.assert_array_equal(at_crop[0], both[some])
    np.testing.assert_array_equal(at_crop[1], split[some])
    # the region is the baseline's rule: the car (and only the car) for one click on it; a negative click
    # at its far end takes the car's far half
    assert region.dtype == bool and region[on_car].all() and not region[~on_car].any()
    assert split[on_car & (points[:, 0] < -1.0)].all() and not split[on_car & (points[:, 0] > 1.0)].any()


def test_ground_gate_drops_the_road_for_an_object_clicked_off_it_only() -> None:
    from clickenhance_model.inference.voxel_graph import OUTDOOR, VoxelGraph

    points, on_car, on_wall = car_on_a_road()
    graph = VoxelGraph(points, OUTDOOR)
    road = ~on_car & ~on_wall
    assert graph.ground[road].mean() > 0.95 and not graph.ground[on_car & (points[:, 2] > 1.0)].any()
    car_click = graph.nodes_near(np.array([[-1.5, 0.0, 1.5]]), OUTDOOR.max_edge)
    road_click = graph.nodes_near(np.array([[8.0, 4.0, 0.0]]), OUTDOOR.max_edge)
    np.testing.assert_array_equal(graph.ground_gate(car_click), ~graph.ground)  # off the ground: the road goes
    assert graph.ground_gate(np.concatenate([car_click, road_click])).all()  # a positive click on the road lifts it
    assert graph.ground_gate(road_click).all()  # the road itself is the object
    assert graph.ground_gate(np.zeros(0, dtype=np.int64)).all()


def test_scan_graph_maps_match_the_per_crop_graph_except_at_the_crop_border() -> None:
    """The geodesic maps read from the one graph of the scan equal those of a graph built on the crop alone.

    Tolerance: exact (1e-6) on every voxel more than 1 m (twice the graph's longest edge) inside
    the crop's ball. Only at the border may they differ, because the crop cuts kNN edges and
    islands there (and a path may leave the crop and come back); on this scene that is under 1%
    of the crop. Dense LiDAR at 0.2 m voxels, as the network sees it.
    """
    from clickenhance_model.inference.click_encoding import geodesic_click_features
    from clickenhance_model.inference.crop import select_crop
    from clickenhance_model.inference.voxel_graph import OUTDOOR, VoxelGraph
    from clickenhance_model.inference.voxel_grid import voxelize
    from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
    from clickenhance_model.scenes.lidar import LidarConfig

    scan = generate_scan("outdoor", 3, 0, GeneratorConfig(lidar=LidarConfig(azimuth_steps=1024)))
    grid = voxelize(scan.xyz, None, 0.2)
    graph = VoxelGraph(grid.centroids, OUTDOOR)  # once for the scan
    rng, radius = np.random.default_rng(0), 8.0
    objects = [o for o in np.unique(scan.instance) if o > 0 and (scan.instance == o).sum() > 50]
    assert len(objects) >= 8
    for object_id in objects[:8]:
        inside = np.flatnonzero(scan.instance == object_id)
        positive = scan.xyz[rng.choice(inside, 2)].astype(np.float64)
        near = np.flatnonzero((scan.instance != object_id) & (np.linalg.norm(scan.xyz - positive[0], axis=1) < 3))
        negative = scan.xyz[rng.choice(near, 1)].astype(np.float64)
        crop = select_crop(grid.centroids, positive, radius, 0)
        per_crop = geodesic_click_features(VoxelGraph(grid.centroids[crop], OUTDOOR), positive, negative)[0]
        from_scan = geodesic_click_features(graph, positive, negative, crop)[0]
        differ = np.abs(per_crop - from_scan).max(axis=1) > 1e-6
        depth = radius - np.linalg.norm(grid.centroids[crop][:, None] - positive[None], axis=2).min(axis=1)
        assert not differ[depth > 2 * OUTDOOR.max_edge].any() and differ.mean() < 0.01


def test_networks_keep_their_maps_graph_when_the_baseline_presets_move() -> None:
    """The maps' graph is the frozen MAPS_PRESETS entry (as every network so far was trained), whatever the
    baseline's PRESETS now say; only a network's own `geodesic_normal_penalty` changes it."""
    import dataclasses

    from clickenhance_model.inference.voxel_graph import MAPS_PRESETS, PRESETS, maps_graph_config
    from clickenhance_model.model_config import InputConfig, ModelConfig

    for domain, (max_edge, max_radius, voxel) in {"outdoor": (0.5, 8.0, 0.1), "indoor": (0.12, 2.5, 0.03)}.items():
        maps = maps_graph_config(ModelConfig(input=InputConfig(geodesic_maps=domain)))
        assert maps == MAPS_PRESETS[domain] and maps.normal_penalty == 0.0
        assert (maps.max_edge, maps.max_radius, maps.voxel_size) == (max_edge, max_radius, voxel)
        tuned = maps_graph_config(ModelConfig(input=InputConfig(geodesic_maps=domain, geodesic_normal_penalty=2.0)))
        assert tuned == dataclasses.replace(MAPS_PRESETS[domain], normal_penalty=2.0)
        assert PRESETS[domain].normal_penalty > 0  # the baseline's own graph has moved on already
    assert maps_graph_config(ModelConfig(input=InputConfig(geodesic_maps="off"))) is None


def test_radius_scaled_maps_read_the_same_metres_whatever_the_crop_reaches() -> None:
    """Min-max maps of one object change when the crop reaches farther (a far box joins it); maps scaled by the
    crop radius do not, and equal distance / radius clipped to 1 (all ones without a click)."""
    from clickenhance_model.inference.network_input import encode_crop
    from clickenhance_model.inference.voxel_grid import voxelize
    from clickenhance_model.model_config import InputConfig, ModelConfig

    rng = np.random.default_rng(3)
    near = rng.uniform(0.0, 2.0, (400, 3))
    far = rng.uniform(0.0, 0.5, (100, 3)) + [15.0, 0.0, 0.0]
    click, negative = near[0], near[1]
    features = {}
    for scale in ("minmax", "radius"):
        config = ModelConfig(input=InputConfig(crop_radius=20.0, max_voxels=0, dense_map_scale=scale))
        for name, cloud in {"near": near, "with far box": np.concatenate([near, far])}.items():
            grid = voxelize(cloud.astype(np.float32), None, config.input.voxel_size)
            sample = encode_crop(grid, click[None], negative[None], negative, config)
            centroids = grid.centroids[sample["crop"].numpy()]
            on_near = (centroids < 3.0).all(axis=1)
            features[scale, name] = (sample["features"][on_near, 6:8].numpy(),
                                     sample["cse_features"][on_near, 3].numpy(), centroids[on_near])  # fmt: skip
    assert not np.allclose(features["minmax", "near"][0], features["minmax", "with far box"][0])
    for index in (0, 1):
        assert np.array_equal(features["radius", "near"][index], features["radius", "with far box"][index])
    maps, current, centroids = features["radius", "near"]
    np.testing.assert_allclose(maps[:, 0], np.linalg.norm(centroids - click, axis=1) / 20.0, atol=1e-6)
    np.testing.assert_allclose(current, np.linalg.norm(centroids - negative, axis=1) / 20.0, atol=1e-6)
    no_click = dense_click_maps(centroids, click[None], None, scale=20.0)[:, 1]
    assert (no_click == 1.0).all()
    with pytest.raises(ValueError, match="dense_map_scale"):
        InputConfig(dense_map_scale="metres")
    with pytest.raises(ValueError, match="crop radius"):
        InputConfig(crop_radius=0.0, dense_map_scale="radius")
