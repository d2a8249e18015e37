"""Synthetic scenes: ray casting against analytic shapes, the simulated LiDAR, SemanticKITTI files, pictures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.errors import DatasetError
from clickenhance_model.scenes import classes
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan, main
from clickenhance_model.scenes.indoor import IndoorConfig, generate_indoor, scan_room
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose, simulate_scan
from clickenhance_model.scenes.outdoor import generate_outdoor
from clickenhance_model.scenes.primitives import (
    NO_HIT,
    Material,
    Scene,
    Shape,
    StreetGround,
    box,
    cylinder,
    ellipsoid,
    yaw_matrix,
)
from clickenhance_model.scenes.raycast import cast_rays, unit_box, unit_cylinder, unit_sphere
from clickenhance_model.scenes.statistics import scan_statistics
from clickenhance_model.scenes.writer import encode_labels, read_scan, write_scan

SMALL = LidarConfig(beams=16, azimuth_steps=256)
NOISELESS = LidarConfig(
    beams=16, azimuth_steps=256, range_noise=0.0, outlier_rate=0.0, dropout=0.0, far_dark_dropout=0.0,
    grazing_dropout=0.0, elevation_jitter_deg=0.0,
)  # fmt: skip
AT_ORIGIN = SensorPose(np.array([0.0, 0.0, 0.0]), np.eye(3))


def mat(semantic: int = classes.CAR, instance: int = 1) -> Material:
    return Material(semantic=semantic, instance=instance)


def test_nearest_hit_distances_match_hand_computed_values() -> None:
    scene = Scene([
        box(np.array([10.0, 0, 0]), np.array([1.0, 1, 1]), mat(instance=1)),
        cylinder(np.array([0.0, 10, 0]), 1.0, 1.0, mat(instance=2)),
        ellipsoid(np.array([-10.0, 0, 0]), np.array([1.0, 2, 3]), mat(instance=3)),
        box(np.array([0.0, -10, 0]), np.array([1.0, 1, 1]), mat(instance=4), yaw_matrix(np.pi / 4)),
    ])  # fmt: skip
    dirs = np.array([[1.0, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    hits = cast_rays(scene, np.zeros(3), dirs)
    np.testing.assert_allclose(hits.t[:4], [9.0, 9.0, 9.0, 10.0 - np.sqrt(2.0)], atol=1e-9)
    assert np.isinf(hits.t[4:]).all() and (hits.primitive[4:] == NO_HIT).all()
    np.testing.assert_array_equal(hits.instance[:4], [1, 2, 3, 4])
    np.testing.assert_allclose(hits.normal[0], [-1.0, 0, 0], atol=1e-9)  # outward, facing the ray
    np.testing.assert_allclose(hits.normal[3], [-np.sqrt(0.5), np.sqrt(0.5), 0], atol=1e-9)


def test_ray_from_inside_a_shape_hits_its_far_side() -> None:
    t_in, t_out = unit_box(np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]]))
    assert t_in[0] == -1.0 and t_out[0] == 1.0
    t_in, t_out = unit_cylinder(np.array([[0.0, 0, -5]]), np.array([[0.0, 0, 1]]))  # along the axis, through caps
    np.testing.assert_allclose([t_in[0], t_out[0]], [4.0, 6.0])
    t_in, t_out = unit_sphere(np.array([[0.0, 2, 0]]), np.array([[1.0, 0, 0]]))  # passes above the ball
    assert t_in[0] > t_out[0]
    scene = Scene([box(np.array([0.0, 0, 0]), np.array([2.0, 2, 2]), mat())])
    assert cast_rays(scene, np.zeros(3), np.array([[1.0, 0, 0]])).t[0] == pytest.approx(2.0)


def _brute_force(scene: Scene, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Nearest hit by testing every ray against every primitive (no culling)."""
    table = scene.table()
    best = np.full(len(dirs), np.inf)
    funcs = {Shape.BOX: unit_box, Shape.CYLINDER: unit_cylinder, Shape.ELLIPSOID: unit_sphere}
    for p in range(len(table)):
        o = np.tile(table.to_unit[p] @ (origin - table.center[p]), (len(dirs), 1))
        t_in, t_out = funcs[Shape(table.shape[p])](o, dirs @ table.to_unit[p].T)
        t = np.where(t_in > 1e-6, t_in, t_out)
        best = np.minimum(best, np.where((t_in <= t_out) & (t_out > 1e-6), t, np.inf))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_culling_and_chunking_give_the_brute_force_answer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    prims = []
    for k in range(60):
        rot = yaw_matrix(rng.uniform(0, 2 * np.pi)) @ np.linalg.qr(rng.normal(size=(3, 3)))[0] if k % 3 else None
        rot = None if rot is None else rot * np.sign(np.linalg.det(rot))
        make = (box, ellipsoid, lambda c, s, m, r: cylinder(c, s[0], s[2], m, r, s[1]))[k % 3]
        prims.append(make(rng.uniform(-20, 20, 3), rng.uniform(0.1, 4.0, 3), mat(instance=k + 1), rot))
    scene = Scene(prims)
    dirs = rng.normal(size=(4000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    origin = rng.uniform(-3, 3, 3)
    hits = cast_rays(scene, origin, dirs, pair_budget=700)  # tiny chunks: ranges get split
    np.testing.assert_allclose(hits.t, _brute_force(scene, origin, dirs), rtol=1e-9)
    assert np.isfinite(hits.t).sum() > 500


def test_culling_over_and_under_a_shape_keeps_every_direction() -> None:
    slab = box(np.array([0.0, 0.0, 0.0]), np.array([10.0, 10.0, 1.0]), mat(instance=1))
    roof = box(np.array([9.0, 0.0, 9.0]), np.array([3.0, 3.0, 0.2]), mat(instance=2), yaw_matrix(0.3))
    scene = Scene([slab, roof])
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(3000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    for origin in (np.array([9.9, 0.0, 5.0]), np.array([0.0, 0.0, 1.5]), np.array([-9.99, 9.99, 1.01])):
        np.testing.assert_allclose(cast_rays(scene, origin, dirs).t, _brute_force(scene, origin, dirs), rtol=1e-9)


def test_street_ground_heights_curbs_and_labels() -> None:
    g = StreetGround(curb_left=5.0, curb_right=4.0, curb_height_left=0.15, curb_height_right=0.1, sidewalk_left=3.0,
                     parking_left=2.0, lane_marking_y=None)  # fmt: skip
    origin = np.array([0.0, 0.0, 2.0])
    targets = np.array([[0.0, 0.0, 0.0], [0.0, 3.5, 0.0], [0.0, 6.0, 0.15], [0.0, 9.0, 0.15], [0.0, -6.0, 0.1]])
    dirs = targets - origin
    t, semantic, _ = g.intersect(origin, dirs / np.linalg.norm(dirs, axis=1, keepdims=True))
    np.testing.assert_allclose(t, np.linalg.norm(dirs, axis=1), atol=1e-9)
    assert semantic.tolist() == [classes.ROAD, classes.PARKING, classes.SIDEWALK, classes.TERRAIN, classes.SIDEWALK]
    # A ray skimming just above the road towards the right curb hits the curb's vertical face.
    low = np.array([0.0, -1.0, -0.0475])
    t, semantic, normal = g.intersect(np.array([0.0, 0.0, 0.2]), (low / np.linalg.norm(low))[None])
    hit = np.array([0.0, 0.0, 0.2]) + t[0] * low / np.linalg.norm(low)
    assert hit[1] == pytest.approx(-4.0) and 0.0 < hit[2] < 0.1
    assert semantic[0] == classes.SIDEWALK and normal[0].tolist() == [0.0, -1.0, 0.0]


def test_verge_below_the_sidewalk_lowers_the_terrain_and_hides_its_foot() -> None:
    level = StreetGround(curb_left=5.0, curb_right=4.0, curb_height_left=0.15, sidewalk_left=3.0, lane_marking_y=None)
    g = dataclasses.replace(level, verge_drop_left=0.25)
    assert g.surface_height(0.0, 7.9) == pytest.approx(0.15)  # the sidewalk keeps its height
    assert g.surface_height(0.0, 8.1) == pytest.approx(-0.10)  # the verge past it lies 0.25 m lower
    assert level.surface_height(0.0, 8.1) == pytest.approx(0.15)
    assert g.label_below(np.array([0.0, 0.0]), np.array([7.9, 8.1])).tolist() == [classes.SIDEWALK, classes.TERRAIN]
    origin = np.array([0.0, 0.0, 2.0])
    targets = np.array([[0.0, 7.5, 0.15], [0.0, 10.0, -0.10], [0.0, -9.0, 0.15]])
    dirs = (targets - origin) / np.linalg.norm(targets - origin, axis=1, keepdims=True)
    t, semantic, _ = g.intersect(origin, dirs)
    np.testing.assert_allclose(t, np.linalg.norm(targets - origin, axis=1), atol=1e-9)
    assert semantic.tolist() == [classes.SIDEWALK, classes.TERRAIN, classes.TERRAIN]
    # From the road the sidewalk's edge hides the verge just past it: a ray aimed at its foot meets the sidewalk.
    foot = np.array([0.0, 8.3, -0.10]) - origin
    t, semantic, _ = g.intersect(origin, (foot / np.linalg.norm(foot))[None])
    hit = origin + t[0] * foot / np.linalg.norm(foot)
    assert hit[1] < 8.0 and hit[2] == pytest.approx(0.15) and semantic[0] == classes.SIDEWALK
    # Seen from beyond, the bank under the sidewalk's edge is terrain with a lateral normal.
    beyond = np.array([0.0, 12.0, 0.5])
    bank = np.array([0.0, 8.0, 0.0]) - beyond
    t, semantic, normal = g.intersect(beyond, (bank / np.linalg.norm(bank))[None])
    hit = beyond + t[0] * bank / np.linalg.norm(bank)
    assert hit[1] == pytest.approx(8.0) and -0.10 < hit[2] < 0.15
    assert semantic[0] == classes.TERRAIN and normal[0].tolist() == [0.0, 1.0, 0.0]
    # Short of the sidewalk's outer edge nothing changes: rays that meet the level street there meet the same point.
    rays = np.random.default_rng(0).normal(size=(2000, 3)) * (1.0, 1.0, 0.3) - (0.0, 0.0, 0.4)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    level_hit, verge_hit = level.intersect(origin, rays), g.intersect(origin, rays)
    short = np.isfinite(level_hit[0]) & (origin[1] + level_hit[0] * rays[:, 1] < 7.99)
    assert 500 < short.sum() < len(rays)
    for a, b in zip(level_hit, verge_hit, strict=True):
        np.testing.assert_array_equal(a[short], b[short])


def test_box_in_front_of_the_sensor_occludes_what_is_behind_it() -> None:
    near = box(np.array([8.0, 0.0, 0.0]), np.array([0.5, 1.0, 3.0]), mat(instance=1))
    wall = box(np.array([20.0, 0.0, 0.0]), np.array([0.5, 15.0, 3.0]), mat(semantic=classes.BUILDING, instance=0))
    scan = simulate_scan(Scene([near, wall]), AT_ORIGIN, NOISELESS, np.random.default_rng(0))
    az = np.degrees(np.arctan2(scan.xyz[:, 1], scan.xyz[:, 0]))
    shadow = np.abs(az) < np.degrees(np.arctan2(1.0, 8.5)) - 0.5
    on_wall = scan.semantic == classes.BUILDING
    assert shadow.sum() > 20 and (scan.instance[shadow] == 1).all()  # only the near box inside its shadow
    assert on_wall.sum() > 50 and not (on_wall & shadow).any()  # the wall is seen only beside it
    np.testing.assert_allclose(scan.xyz[on_wall, 0], 19.5, atol=1e-4)


def test_point_density_falls_with_range() -> None:
    def points_on(x: float) -> int:
        car = box(np.array([x, 0.0, -0.9]), np.array([2.2, 0.9, 0.75]), mat())
        scan = simulate_scan(Scene([car]), AT_ORIGIN, LidarConfig(), np.random.default_rng(0))
        return int((scan.instance == 1).sum())

    near, mid, far = points_on(8.0), points_on(16.0), points_on(32.0)
    assert near > 2.5 * mid > 2.5 * 2.5 * far > 0


def test_points_lie_on_shapes_with_their_labels() -> None:
    world = generate_outdoor(np.random.default_rng(3))
    scan = simulate_scan(world.scene, world.pose, NOISELESS, np.random.default_rng(3))
    xyz = scan.xyz.astype(np.float64) @ world.pose.rotation.T + world.pose.position  # sensor -> scene frame
    table = world.scene.table()
    things = np.flatnonzero(scan.instance > 0)
    assert len(things) > 20
    for i in things:
        mine = np.flatnonzero((table.instance == scan.instance[i]) & (table.semantic == scan.semantic[i]))
        q = np.einsum("pij,pj->pi", table.to_unit[mine], xyz[i] - table.center[mine])
        level = np.where(table.shape[mine] == Shape.BOX, np.abs(q).max(1), np.linalg.norm(q, axis=1))
        cyl = table.shape[mine] == Shape.CYLINDER
        level[cyl] = np.maximum(np.hypot(q[cyl, 0], q[cyl, 1]), np.abs(q[cyl, 2]))
        slack = 1e-3 / table.size[mine].min(1)  # float32 coordinates
        assert np.any(np.abs(level - 1.0) <= slack), f"point {i} is on no shape of its instance"
    assert set(np.unique(scan.semantic[scan.instance == 0])) <= set(classes.SEMANTIC_KITTI_NAMES) - set(
        classes.SEMANTIC_KITTI_THINGS
    )


def test_generation_is_reproducible_from_the_seed() -> None:
    config = GeneratorConfig(lidar=SMALL)
    a, b = generate_scan("outdoor", 7, 3, config), generate_scan("outdoor", 7, 3, config)
    for name in ("xyz", "remission", "semantic", "instance"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = generate_scan("outdoor", 7, 4, config)
    assert len(c) != len(a) or not np.array_equal(c.xyz, a.xyz)


def _scan(n: int = 50, rgb: bool = False) -> LidarScan:
    rng = np.random.default_rng(0)
    return LidarScan(
        xyz=rng.normal(size=(n, 3)).astype(np.float32),
        remission=rng.uniform(0, 1, n).astype(np.float32),
        semantic=rng.choice([10, 40, 252], n).astype(np.uint32),
        instance=rng.integers(0, 70000 // 2, n).astype(np.uint32),
        rgb=rng.integers(0, 256, (n, 3)).astype(np.uint8) if rgb else None,
    )


def test_written_files_follow_the_semantic_kitti_format(tmp_path: Path) -> None:
    scan = _scan(rgb=True)
    bin_path, label_path = write_scan(tmp_path, 4, 12, scan)
    assert bin_path == tmp_path / "sequences" / "04" / "velodyne" / "000012.bin"
    assert label_path == tmp_path / "sequences" / "04" / "labels" / "000012.label"
    raw = np.fromfile(bin_path, dtype="<f4").reshape(-1, 4)
    np.testing.assert_array_equal(raw[:, :3], scan.xyz)
    np.testing.assert_array_equal(raw[:, 3], scan.remission)
    labels = np.fromfile(label_path, dtype="<u4")
    np.testing.assert_array_equal(labels & 0xFFFF, scan.semantic)
    np.testing.assert_array_equal(labels >> 16, scan.instance)
    assert encode_labels(np.array([10]), np.array([3]))[0] == 10 + 3 * 65536
    back = read_scan(bin_path)
    np.testing.assert_array_equal(back.rgb, scan.rgb)
    np.testing.assert_array_equal(back.instance, scan.instance)


def test_bad_scans_and_files_raise_clear_errors(tmp_path: Path) -> None:
    scan = _scan()
    scan.remission = scan.remission[:-1]
    with pytest.raises(ValueError, match="remission has 49 entries for 50 points"):
        write_scan(tmp_path, 0, 0, scan)
    with pytest.raises(ValueError, match="instance ids must be in"):
        encode_labels(np.array([10]), np.array([70000]))
    bin_path, label_path = write_scan(tmp_path, 0, 1, _scan())
    label_path.write_bytes(label_path.read_bytes()[:-4])
    with pytest.raises(DatasetError, match="49 labels for 50 points"):
        read_scan(bin_path)
    with pytest.raises(ValueError, match="size must be positive"):
        box(np.zeros(3), np.array([1.0, 0.0, 1.0]), mat())
    with pytest.raises(ValueError, match="dirs must be a finite"):
        cast_rays(Scene([]), np.zeros(3), np.array([[np.nan, 0.0, 1.0]]))


def test_command_line_writes_scans_the_dataset_reader_loads(tmp_path: Path) -> None:
    from clickenhance_model.datasets.semantic_kitti import SemanticKittiDataset

    config = tmp_path / "small.yaml"
    config.write_text("lidar: {beams: 16, azimuth_steps: 256}\n")
    args = ["--out", str(tmp_path / "data"), "--scenes", "2", "--seed", "5", "--sequence", "3", "--config", str(config)]
    assert main([*args, "--no-progress"]) == 0
    dataset = SemanticKittiDataset(tmp_path / "data")
    assert dataset.scene_names() == ["03/000000", "03/000001"]
    expected = generate_scan("outdoor", 5, 1, GeneratorConfig(lidar=LidarConfig(beams=16, azimuth_steps=256)))
    scene = dataset.load_scene("03/000001")
    np.testing.assert_array_equal(scene.xyz, expected.xyz)
    np.testing.assert_array_equal(scene.semantic, expected.semantic)
    objects = dataset.objects(scene, min_points=5)
    assert objects and all(o.semantic_id in classes.SEMANTIC_KITTI_THINGS for o in objects)
    with pytest.raises(SystemExit):  # another seed into the same sequence is refused
        main([*args[:6], "99", *args[7:], "--no-progress"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "other"), "--scenes", "0"])
    assert not (tmp_path / "other").exists()


def test_indoor_room_scan_has_colour_and_furniture_instances(tmp_path: Path) -> None:
    config = IndoorConfig(rays_per_view=15_000, viewpoints=(2, 2), tables=(1, 1), chairs_per_table=(2, 2))
    rng = np.random.default_rng(11)
    room = generate_indoor(rng, config)
    scan = scan_room(room, config, rng)
    assert scan.rgb is not None and scan.rgb.shape == (len(scan), 3) and len(scan) > 5000
    assert classes.NYU_TABLE in set(scan.semantic.tolist()) and classes.NYU_FLOOR in set(scan.semantic.tolist())
    things = {(int(s), int(i)) for s, i in zip(scan.semantic, scan.instance, strict=True) if i > 0}
    assert things <= set(room.objects) and all(s in classes.NYU40_THINGS for s, _ in things)
    lo, hi = scan.xyz.min(0), scan.xyz.max(0)
    assert lo[2] > -0.05 and (hi[:2] - lo[:2] < 9.2).all()  # inside the room shell
    write_scan(tmp_path, 0, 0, scan)
    np.testing.assert_array_equal(read_scan(tmp_path / "sequences/00/velodyne/000000.bin").rgb, scan.rgb)


def test_structure_targets_make_floor_walls_and_door_objects_and_change_labels_only() -> None:
    config = IndoorConfig(rays_per_view=15_000, viewpoints=(2, 2), tables=(1, 1), chairs_per_table=(2, 2))
    plain = scan_room(generate_indoor(np.random.default_rng(11), config), config, np.random.default_rng(12))
    with_structure = dataclasses.replace(config, structure_targets=True)
    room = generate_indoor(np.random.default_rng(11), with_structure)
    scan = scan_room(room, with_structure, np.random.default_rng(12))
    np.testing.assert_array_equal(scan.xyz, plain.xyz)  # same geometry and colours: labels only
    np.testing.assert_array_equal(scan.rgb, plain.rgb)
    np.testing.assert_array_equal(scan.semantic, plain.semantic)
    structure = [(s, i) for s, i in room.objects if s in (classes.NYU_FLOOR, classes.NYU_WALL, classes.NYU_DOOR)]
    assert sorted(s for s, _ in structure) == sorted([classes.NYU_FLOOR] + [classes.NYU_WALL] * 4 + [classes.NYU_DOOR])
    floor_id = next(i for s, i in structure if s == classes.NYU_FLOOR)
    on_floor = scan.semantic == classes.NYU_FLOOR
    assert on_floor.sum() > 1000 and (scan.instance[on_floor] == floor_id).all()
    assert (plain.instance[on_floor] == 0).all()  # before: background
    walls = {i for s, i in structure if s == classes.NYU_WALL}
    assert set(scan.instance[scan.semantic == classes.NYU_WALL].tolist()) <= walls and len(walls) == 4
    furniture = plain.instance > 0  # furniture keeps being objects, one id per object as before
    pairs = set(zip(plain.instance[furniture].tolist(), scan.instance[furniture].tolist(), strict=True))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_bird_eye_picture_shows_the_highlighted_object(tmp_path: Path) -> None:
    from matplotlib.image import imread

    from clickenhance_model.scenes.render import HIGHLIGHT_RGB, render_bird_eye

    scan = generate_scan("outdoor", 1, 0, GeneratorConfig(lidar=SMALL))
    car = scan.instance == np.bincount(scan.instance[scan.instance > 0]).argmax()
    for name, highlight in (("with.png", car), ("without.png", None)):
        render_bird_eye(scan.xyz, scan.semantic, tmp_path / name, highlight=highlight, title="test")
    strong = [np.all(np.abs(imread(tmp_path / n)[..., :3] - HIGHLIGHT_RGB) < 0.1, axis=-1).sum() for n in
              ("with.png", "without.png")]  # fmt: skip
    assert strong[0] > 50 and strong[1] == 0


def test_a_full_scan_looks_like_the_real_hdl64_scans(real_scans_dir: Path) -> None:
    real = [scan_statistics(s.xyz, s.semantic, s.instance, s.remission)
            for s in map(read_scan, sorted(real_scans_dir.rglob("*.bin")))]  # fmt: skip
    scan = generate_scan("outdoor", 0, 0)
    ours = scan_statistics(scan.xyz, scan.semantic, scan.instance, scan.remission)
    assert 95_000 < ours["points"] < 130_000 and 120_000 < real[0]["points"] < 130_000
    for key, tolerance in (("ground share", 0.12), ("range 5-10 m", 0.12), ("range 10-20 m", 0.12),
                           ("remission mean", 0.06)):  # fmt: skip
        assert abs(ours[key] - real[0][key]) < tolerance, key
    assert ours["cars >= 100 points"] >= 2


# Digests of scans the generator wrote before target mixes, new objects and sensors existed (commit
# 07d6a66): with those options at their defaults the generator must keep writing the same scans.
_OLD_DIGESTS = {
    "outdoor": (14013, "5a3c235d2ca6c9e0f3596a05edccbc2f846c475f"),
    "indoor": (51420, "fd80b5b27d2bc1c860e53ec7dc4306e62b8dc969"),
}


@pytest.mark.parametrize("kind", ["outdoor", "indoor"])
def test_default_scans_are_those_of_the_generator_before_the_new_options(kind: str) -> None:
    import hashlib

    config = GeneratorConfig(lidar=LidarConfig(beams=32, azimuth_steps=512), indoor=IndoorConfig(rays_per_view=20000))
    scan = generate_scan(kind, 0, 1, config)
    digest = hashlib.sha1()
    for values in (scan.xyz, scan.remission, scan.semantic, scan.instance):
        digest.update(np.ascontiguousarray(values).tobytes())
    assert (len(scan), digest.hexdigest()) == _OLD_DIGESTS[kind]


def _all_kinds(**mix: float) -> GeneratorConfig:
    """A small street with every optional object kind, and the given target mix."""
    from clickenhance_model.scenes.outdoor import OutdoorConfig

    outdoor = OutdoorConfig(
        target_mix=mix, building_parts=True, benches=(3, 3), bollard_rows=(2, 2), fence_segments=(3, 3),
        sidewalk_bushes=(3, 3), other_objects=(4, 4), pedestrians=(4, 4), cyclists=(2, 2), signs=(6, 6),
    )  # fmt: skip
    return GeneratorConfig(lidar=LidarConfig(beams=32, azimuth_steps=512), outdoor=outdoor)


def test_target_mix_makes_every_object_kind_a_target_and_changes_labels_only() -> None:
    everything = _all_kinds(**dict.fromkeys(classes.OUTDOOR_TARGET_GROUPS, 1.0))
    scan = generate_scan("outdoor", 4, 0, everything)
    targets = set(np.unique(scan.semantic[scan.instance > 0]).tolist())
    wanted = {classes.POLE, classes.TRAFFIC_SIGN, classes.TRUNK, classes.VEGETATION, classes.FENCE,
              classes.BUILDING, classes.OTHER_OBJECT}  # fmt: skip
    assert wanted <= targets and targets & {classes.CAR, classes.MOVING_CAR}
    assert targets & {classes.PERSON, classes.MOVING_PERSON}
    vehicles_only = generate_scan("outdoor", 4, 0, _all_kinds(vehicle=1.0))
    np.testing.assert_array_equal(vehicles_only.xyz, scan.xyz)  # the mix draws from a stream of its own
    np.testing.assert_array_equal(vehicles_only.semantic, scan.semantic)
    only = set(np.unique(vehicles_only.semantic[vehicles_only.instance > 0]).tolist())
    assert only and only <= {classes.CAR, classes.MOVING_CAR, classes.TRUCK, classes.MOVING_TRUCK,
                             classes.OTHER_VEHICLE, classes.MOVING_OTHER_VEHICLE}  # fmt: skip
    half = generate_scan("outdoor", 4, 0, _all_kinds(**dict.fromkeys(classes.OUTDOOR_TARGET_GROUPS, 0.5)))
    count = len(np.unique(half.instance[half.instance > 0]))
    assert 0.3 < count / len(np.unique(scan.instance[scan.instance > 0])) < 0.7


def test_new_street_objects_stand_on_the_ground_and_keep_one_id_per_object() -> None:
    from clickenhance_model.scenes.outdoor import generate_outdoor

    config = _all_kinds(**dict.fromkeys(classes.OUTDOOR_TARGET_GROUPS, 1.0))
    street = generate_outdoor(np.random.default_rng(9), config.outdoor)
    ids = [instance for _, instance in street.objects]
    assert len(ids) == len(set(ids))  # one id per object, whatever its class
    low = {}
    for prim in street.scene.primitives:
        if prim.material.semantic == classes.OTHER_OBJECT:  # benches, bollards, hydrants, boxes, cones, bins
            corners = prim.center + np.abs(prim.rotation) @ prim.size * np.array([1, 1, -1])
            key = prim.material.instance
            low[key] = min(low.get(key, np.inf), corners[2] - street.scene.ground.surface_height(*prim.center[:2]))
    assert len(low) >= 8 and all(-0.35 < z < 0.1 for z in low.values())  # resting on the sidewalk or road


def _hedges_behind_fences(config) -> tuple[float, float]:
    """Metres of property-line fence and wall, and metres of them with a hedge 1-3 cm behind, on one street."""
    from clickenhance_model.scenes.outdoor import generate_outdoor

    prims = generate_outdoor(np.random.default_rng(5), config).scene.primitives
    fences = [p for p in prims if p.shape == Shape.BOX and p.material.semantic in (classes.FENCE,
              classes.OTHER_STRUCTURE) and p.size[1] <= 0.2 and p.size[0] > 0.2]  # fmt: skip
    hedges = [p for p in prims if p.shape == Shape.BOX and p.material.semantic == classes.VEGETATION]
    fenced = covered = 0.0
    for fence in fences:
        fenced += 2 * fence.size[0]
        for hedge in hedges:
            gap = abs(hedge.center[1] - fence.center[1]) - fence.size[1] - hedge.size[1]
            overlap = min(fence.center[0] + fence.size[0], hedge.center[0] + hedge.size[0]) - max(
                fence.center[0] - fence.size[0], hedge.center[0] - hedge.size[0])  # fmt: skip
            if 0.01 < gap < 0.03 and overlap > 0 and abs(hedge.center[1]) > abs(fence.center[1]):
                covered += overlap
    return fenced, covered


def test_fence_overgrowth_grows_a_hedge_against_the_back_of_property_line_fences() -> None:
    from clickenhance_model.scenes.outdoor import OutdoorConfig

    fences_only = {"building_share": 0.0, "hedge_share": 0.0, "woods_share": 0.0}
    fenced, covered = _hedges_behind_fences(OutdoorConfig(fence_overgrowth_prob=1.0, **fences_only))
    assert fenced > 50 and 0.4 * fenced <= covered < fenced + 1e-6  # each run is 40-100% overgrown
    fenced, covered = _hedges_behind_fences(OutdoorConfig(**fences_only))
    assert fenced > 50 and covered == 0.0
    with pytest.raises(ValueError, match="fence_overgrowth_prob"):
        OutdoorConfig(fence_overgrowth_prob=1.5)


def test_low_fence_prob_makes_property_line_fences_low_solid_edgings() -> None:
    """`low_fence_prob`: property-line fences (not walls) 0.25-0.6 m from foot to top, solid; off, they stay 0.8-2 m."""
    from clickenhance_model.scenes.outdoor import OutdoorConfig, generate_outdoor

    fences_only = {"building_share": 0.0, "hedge_share": 0.0, "woods_share": 0.0}

    def fence_tops(config: OutdoorConfig) -> list[tuple[float, float]]:
        street = generate_outdoor(np.random.default_rng(5), config)
        boards = [p for p in street.scene.primitives if p.shape == Shape.BOX and p.material.semantic == classes.FENCE
                  and p.size[1] <= 0.05 and p.size[0] > 0.2]  # fmt: skip
        return [(p.center[2] + p.size[2] - street.scene.ground.surface_height(*p.center[:2]), p.material.pass_prob)
                for p in boards]  # fmt: skip

    low = fence_tops(OutdoorConfig(low_fence_prob=1.0, **fences_only))
    assert len(low) > 5 and all(0.2 < top < 0.65 and passing == 0.0 for top, passing in low)
    assert all(top > 0.75 for top, _ in fence_tops(OutdoorConfig(**fences_only)))
    with pytest.raises(ValueError, match="low_fence_prob"):
        OutdoorConfig(low_fence_prob=0.5, low_fence_height=(0.6, 0.2))


def test_verge_drop_lowers_the_terrain_and_puts_property_line_fences_at_its_top() -> None:
    from clickenhance_model.scenes.outdoor import OutdoorConfig, generate_outdoor

    fences_only = {"building_share": 0.0, "hedge_share": 0.0, "woods_share": 0.0}
    street = generate_outdoor(np.random.default_rng(5), OutdoorConfig(verge_drop_prob=1.0, **fences_only))
    g = street.scene.ground
    assert 0.1 <= g.verge_drop_left <= 0.35 and 0.1 <= g.verge_drop_right <= 0.35
    fences = [p for p in street.scene.primitives if p.shape == Shape.BOX and p.material.semantic in (classes.FENCE,
              classes.OTHER_STRUCTURE) and p.size[1] <= 0.2 and p.size[0] > 0.2]  # fmt: skip
    assert len(fences) > 5
    for fence in fences:
        y = fence.center[1]
        edge = g.curb_left + g.sidewalk_left if y > 0 else -(g.curb_right + g.sidewalk_right)
        assert 0.1 < abs(y - edge) < 1.1  # just past the sidewalk's edge, on the lowered verge
        sidewalk = g.surface_height(fence.center[0], edge - np.sign(y) * 0.1)
        assert fence.center[2] - fence.size[2] < sidewalk - 0.1  # its foot below the sidewalk
    level = generate_outdoor(np.random.default_rng(5), OutdoorConfig(**fences_only)).scene.ground
    assert level.verge_drop_left == level.verge_drop_right == 0.0
    with pytest.raises(ValueError, match="verge_drop"):
        OutdoorConfig(verge_drop_prob=0.5, verge_drop=(0.3, 0.1))


def _crown_bottoms(config) -> np.ndarray:
    """Height above the ground of the lowest point of every tree crown (an ellipsoid of vegetation centred more
    than 2 m up; bushes sit lower) on one street."""
    from clickenhance_model.scenes.outdoor import generate_outdoor

    street = generate_outdoor(np.random.default_rng(3), config)
    crowns = [p for p in street.scene.primitives if p.shape == Shape.ELLIPSOID
              and p.material.semantic == classes.VEGETATION
              and p.center[2] - street.scene.ground.surface_height(*p.center[:2]) > 2.0]  # fmt: skip
    return np.array([p.center[2] - p.size[2] - street.scene.ground.surface_height(*p.center[:2]) for p in crowns])


def test_tree_crown_base_lifts_every_crown() -> None:
    from clickenhance_model.scenes.outdoor import OutdoorConfig

    low = _crown_bottoms(OutdoorConfig())
    high = _crown_bottoms(OutdoorConfig(tree_crown_base=(3.5, 3.5)))
    # a crown starts 0.1 of its height (at most 5.5 m) under where the trunk meets it, over ground that may lie a
    # curb higher than the trunk's foot
    assert len(high) > 10 and high.min() > 3.5 - 0.56 - 0.3
    assert len(low) > 10 and (low < 2.0).mean() > 0.3
    with pytest.raises(ValueError, match="tree_crown_base"):
        OutdoorConfig(tree_crown_base=(3.0, 2.0))


def test_trunks_with_crown_in_reach_tells_a_crown_from_plants_at_the_foot() -> None:
    from clickenhance_model.scenes.statistics import trunks_with_crown_in_reach

    rng = np.random.default_rng(0)
    trunk = np.column_stack([rng.normal(0, 0.05, 60), rng.normal(0, 0.05, 60), np.linspace(0.0, 2.0, 60)])
    foot = np.column_stack([rng.uniform(-0.8, 0.8, (80, 2)), rng.uniform(0.0, 0.4, 80)])  # plants round its base
    crown = np.column_stack([rng.uniform(-0.8, 0.8, (80, 2)), rng.uniform(2.3, 2.9, 80)])  # a crown 0.3 m above it
    far = trunk + np.array([10.0, 0.0, 0.0])
    labels = {"trunk": classes.TRUNK, "vegetation": classes.VEGETATION}

    def share(*parts: tuple[np.ndarray, str]) -> float:
        xyz = np.concatenate([p for p, _ in parts])
        return trunks_with_crown_in_reach(xyz, np.concatenate([np.full(len(p), labels[k]) for p, k in parts]))

    assert share((trunk, "trunk"), (foot, "vegetation")) == 0.0
    assert share((trunk, "trunk"), (crown, "vegetation")) == 1.0
    assert share((trunk, "trunk"), (far, "trunk"), (crown, "vegetation")) == 0.5  # the far trunk has none near
    assert share((trunk, "trunk")) == 0.0  # no vegetation at all
    assert np.isnan(share((crown, "vegetation")))  # no trunk
    assert np.isnan(share((trunk[:10], "trunk"), (crown, "vegetation")))  # too few points to be a trunk


def test_border_colour_bleed_counts_border_points_coloured_like_the_other_side(tmp_path: Path) -> None:
    from clickenhance_model.scenes.statistics import border_colour_bleed, mean_statistics

    grid = np.stack(np.meshgrid(np.arange(20) * 0.02, np.arange(20) * 0.02, indexing="ij"), -1).reshape(-1, 2)
    xyz = np.column_stack([grid, np.zeros(len(grid))])  # a 40 x 40 cm sheet, two objects split at x = 0.19
    objects = (xyz[:, 0] > 0.19).astype(np.int64)
    exact = np.where(objects[:, None] == 1, [200, 40, 40], [40, 40, 200]).astype(np.uint8)
    assert border_colour_bleed(xyz, exact, objects) == 0.0
    bled = exact.copy()
    first_column = np.isclose(xyz[:, 0], 0.20)
    bled[first_column] = [40, 40, 200]  # object 1's border column wears object 0's colour
    # within 5 cm the border is the columns at x = 0.16 to 0.22 (80 points); of those only the bled column lies
    # nearer the other side's colour than its own side's
    assert border_colour_bleed(xyz, bled, objects, radius=0.05) == pytest.approx(20 / 80)
    assert np.isnan(border_colour_bleed(xyz, exact, np.zeros(len(xyz), dtype=np.int64)))  # one object, no border
    assert np.isnan(border_colour_bleed(xyz[:1], exact[:1], objects[:1]))
    # the command line reads a labelled NumPy cloud (the real indoor region's format) as well as a frame
    np.save(tmp_path / "sheet.xyz.npy", xyz)
    np.save(tmp_path / "sheet.instance.npy", objects + 1)
    np.save(tmp_path / "sheet.rgb.npy", bled)
    stats = mean_statistics([tmp_path / "sheet.xyz.npy"])
    assert stats["border colour from the other side"] == border_colour_bleed(xyz, bled, objects)


def test_room_colour_bleed_and_part_colours_keep_the_room_and_match_their_statistics() -> None:
    from clickenhance_model.scenes.indoor import bleed_colours
    from clickenhance_model.scenes.statistics import border_colour_bleed, inner_colour_edges

    config = IndoorConfig(sensor="rgbd", camera_views=(2, 2), viewpoints=(2, 2), tables=(1, 1), chairs_per_table=(2, 2))
    exact = scan_room(generate_indoor(np.random.default_rng(5), config), config, np.random.default_rng(6))
    objects = exact.semantic.astype(np.int64) * 65536 + exact.instance
    things = np.where(exact.instance > 0, objects, 0)
    bled_config = dataclasses.replace(config, colour_bleed=(0.08, 0.08))
    bled = scan_room(generate_indoor(np.random.default_rng(5), bled_config), bled_config, np.random.default_rng(6))
    parted_config = dataclasses.replace(config, part_colour_prob=1.0)
    parted_room = generate_indoor(np.random.default_rng(5), parted_config)
    parted = scan_room(parted_room, parted_config, np.random.default_rng(6))
    for scan in (bled, parted):  # drawn from their own streams or last: the same points and labels
        np.testing.assert_array_equal(scan.xyz, exact.xyz)
        np.testing.assert_array_equal(scan.instance, exact.instance)
        np.testing.assert_array_equal(scan.semantic, exact.semantic)
    assert border_colour_bleed(bled.xyz, bled.rgb, objects) > border_colour_bleed(exact.xyz, exact.rgb, objects) + 0.1
    assert 0 < np.mean(np.any(bled.rgb != exact.rgb, axis=1)) < 1
    assert not np.array_equal(parted.rgb, exact.rgb)

    def colours_per_object(chance: float) -> list[int]:
        room = generate_indoor(np.random.default_rng(5), dataclasses.replace(config, part_colour_prob=chance))
        colours: dict[int, set] = {}
        for prim in room.scene.primitives:
            if prim.material.instance:
                colours.setdefault(prim.material.instance, set()).add(prim.material.color)
        return [len(c) for c in colours.values()]

    before, after = colours_per_object(0.0), colours_per_object(1.0)
    assert np.mean(before) < 1.2  # mostly one colour per object (a shelf's books have their own), as before
    assert np.mean(after) > np.mean(before) + 1 and max(after) >= 3  # a chair's legs, seat and back each their own
    assert np.isfinite(inner_colour_edges(parted.xyz, parted.rgb, things))
    # a lone point (nothing but itself around its shifted place) keeps its colour; no radius, no change
    xyz = np.array([[0.0, 0, 0], [0.05, 0, 0], [1.0, 0, 0]])
    rgb = np.array([[0, 0, 0], [100, 200, 50], [7, 7, 7]], dtype=np.uint8)
    labels, frames = np.array([1, 2, 3]), np.zeros(3, dtype=np.int64)
    assert bleed_colours(xyz, rgb, labels, frames, 0.1, np.random.default_rng(0))[2].tolist() == [7, 7, 7]
    assert bleed_colours(xyz, rgb, labels, frames, 0.0, np.random.default_rng(0)) is rgb
    with pytest.raises(ValueError, match="colour_bleed"):
        IndoorConfig(colour_bleed=(0.1, 0.05))
    with pytest.raises(ValueError, match="part_colour_prob"):
        IndoorConfig(part_colour_prob=1.5)


def test_inner_colour_edges_counts_colour_steps_inside_an_object() -> None:
    from clickenhance_model.scenes.statistics import inner_colour_edges

    grid = np.stack(np.meshgrid(np.arange(20) * 0.02, np.arange(20) * 0.02, indexing="ij"), -1).reshape(-1, 2)
    xyz = np.column_stack([grid, np.zeros(len(grid))])
    one = np.ones(len(xyz), dtype=np.int64)
    plain = np.full((len(xyz), 3), 120, dtype=np.uint8)
    assert inner_colour_edges(xyz, plain, one) == 0.0
    two_tone = plain.copy()
    two_tone[xyz[:, 0] > 0.19] = [250, 250, 250]  # a light part beside a grey one, one object
    share = inner_colour_edges(xyz, two_tone, one, radius=0.05)
    assert 0.1 < share < 0.5  # the points within 5 cm of the step, not the rest
    split = np.where(xyz[:, 0] > 0.19, 2, 1)  # the same step as a border between two objects is no inner edge
    assert inner_colour_edges(xyz, two_tone, split, radius=0.05) == 0.0
    assert np.isnan(inner_colour_edges(xyz, plain, np.zeros(len(xyz), dtype=np.int64)))  # no object


def test_target_mix_refuses_unknown_groups_and_bad_chances() -> None:
    from clickenhance_model.scenes.outdoor import OutdoorConfig

    with pytest.raises(ValueError, match=r"unknown group\(s\) \['lamppost'\]"):
        OutdoorConfig(target_mix={"lamppost": 1.0})
    with pytest.raises(ValueError, match="chances must be in"):
        OutdoorConfig(target_mix={"pole": 1.5})


def test_varied_room_seen_by_the_depth_camera() -> None:
    config = IndoorConfig(
        sensor="rgbd", camera_views=(2, 2), viewpoints=(2, 2), tables=(2, 2), chairs_per_table=(2, 3),
        chair_styles=("four_leg", "office", "stool", "armchair"), round_table_prob=0.5, lamps=(2, 2), bins=(2, 2),
        sofas=(1, 1), pillows_per_sofa=(2, 2), table_clutter=(3, 3),
    )  # fmt: skip
    rng = np.random.default_rng(3)
    room = generate_indoor(rng, config)
    kinds = {semantic for semantic, _ in room.objects}
    assert {classes.NYU_LAMP, classes.NYU_OTHER_FURNITURE, classes.NYU_CHAIR, classes.NYU_TABLE} <= kinds
    assert kinds & {classes.NYU_OTHER_PROP, classes.NYU_BOOKS} and classes.NYU_PILLOW in kinds
    scan = scan_room(room, config, rng)
    assert scan.rgb is not None and 2000 < len(scan)
    things = {(int(s), int(i)) for s, i in zip(scan.semantic, scan.instance, strict=True) if i > 0}
    assert things <= set(room.objects) and all(s in classes.NYU40_THINGS for s, _ in things)
    seen_from = np.array([view.position for view in room.viewpoints[:2]])
    nearest = np.min(np.linalg.norm(scan.xyz[:, None, :] - seen_from[None], axis=2), axis=1)
    assert nearest.max() < np.hypot(6.0, 6.0 * np.tan(np.radians(43.5))) and nearest.min() > 0.29
    with pytest.raises(ValueError, match="sensor must be one of"):
        IndoorConfig(sensor="lidar")
    with pytest.raises(ValueError, match="chair_styles must name some of"):
        IndoorConfig(chair_styles=("throne",))


def test_command_line_sensor_presets(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path / "data"), "--scenes", "1", "--no-progress"]
    assert main([*args, "--sensor", "vlp16", "--sequence", "1"]) == 0
    scan = read_scan(tmp_path / "data/sequences/01/velodyne/000000.bin")
    elevation = np.degrees(np.arctan2(scan.xyz[:, 2], np.linalg.norm(scan.xyz[:, :2], axis=1)))
    assert elevation.max() < 15.5 and elevation.min() > -15.5 and 5000 < len(scan)
    with pytest.raises(SystemExit):
        main([*args, "--sensor", "rgbd", "--sequence", "2"])  # a room camera for a street


def test_side_view_draws_heights_and_indoor_classes_get_their_own_colours(tmp_path: Path) -> None:
    from matplotlib.image import imread

    from clickenhance_model.scenes.render import NYU_PALETTE, render_bird_eye

    xyz = np.array([[1.0, -1.0, 0.0], [1.0, -1.0, 2.0], [2.0, 1.5, 1.0]] * 50)  # clear of the origin marker
    chair = np.full(len(xyz), classes.NYU_CHAIR)
    render_bird_eye(xyz, chair, tmp_path / "side.png", view="side", label_set="nyu40", extent=3.0, point_size=40.0)
    image = imread(tmp_path / "side.png")[..., :3]
    red = np.argwhere(np.all(np.abs(image - NYU_PALETTE[classes.NYU_CHAIR]) < 0.05, axis=-1))
    assert len(red) > 20 and np.ptp(red[:, 0]) > 100  # the points 2 m apart in z lie apart vertically
    render_bird_eye(xyz, chair, tmp_path / "top.png", label_set="nyu40", extent=3.0, point_size=40.0)
    top = np.argwhere(np.all(np.abs(imread(tmp_path / "top.png")[..., :3] - NYU_PALETTE[classes.NYU_CHAIR]) < 0.05,
                             axis=-1))  # fmt: skip
    assert np.ptp(top[:, 0]) > 100  # seen from above, the 2.5 m step in y is the vertical spread
    with pytest.raises(ValueError, match="view must be one of"):
        render_bird_eye(xyz, chair, tmp_path / "bad.png", view="front")


def test_building_parts_are_targets_of_their_own_or_part_of_their_building() -> None:
    from clickenhance_model.scenes.outdoor import OutdoorConfig, generate_outdoor

    def building_ids(config: OutdoorConfig) -> tuple[set[int], set[int]]:
        """Instance ids of every building primitive, and of the main volumes (long and tall boxes) alone."""
        street = generate_outdoor(np.random.default_rng(5), config)
        parts = [p for p in street.scene.primitives if p.material.semantic == classes.BUILDING]
        main = {p.material.instance for p in parts if p.size[0] > 2.0 and p.size[2] > 2.2}
        return {p.material.instance for p in parts}, main

    every, main = building_ids(OutdoorConfig(building_parts=True, stuff_instances=True))
    assert 0 not in every and every == main  # doors, steps and pilasters belong to their building's instance
    every, main = building_ids(OutdoorConfig(building_parts=True, target_mix={"building": 1.0, "building_part": 1.0}))
    assert len(every - main) > 10  # each piece is an object of its own
