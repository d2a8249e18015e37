"""The Segmenter API on real (small) networks: sessions, mapping back, bad input, learning."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest
import torch

import clickenhance_model
from clickenhance_model import CheckpointError, ClickError, CloudError, Segmenter, load_segmenter
from clickenhance_model import segmenter as segmenter_module
from clickenhance_model.inference.network_input import collate, prepare_sample
from clickenhance_model.inference.session import InteractiveSession
from clickenhance_model.losses import clickenhance_loss
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig, SegmenterConfig
from clickenhance_model.segmenter import ModelSession

SMALL = ModelConfig(
    input=InputConfig(voxel_size=0.2, crop_radius=6.0, max_voxels=0, coord_scale=5.0),
    network=NetworkConfig(channels=(8, 16, 32), cse_channels=(4, 8, 16), embedding_dim=8),
)


def box_surface(rng: np.random.Generator, low: list[float], high: list[float], n: int) -> np.ndarray:
    """`n` points on the four sides and the top of an axis-aligned box (what a LiDAR sees)."""
    low_, high_ = np.array(low), np.array(high)
    points = rng.uniform(low_, high_, size=(n, 3))
    face = rng.integers(0, 5, size=n)  # 0-3: sides, 4: top
    axis = np.where(face < 2, 0, np.where(face < 4, 1, 2))
    side = np.where(face % 2 == 0, low_[axis], high_[axis])
    side[face == 4] = high_[2]
    points[np.arange(n), axis] = side
    return points


def synthetic_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ground plane (14 m x 14 m) with two boxes and two cylinders; returns xyz and the target box's mask."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(-7, 7, 0.2), np.arange(-7, 7, 0.2))
    ground = np.c_[gx.ravel(), gy.ravel(), np.zeros(gx.size)] + rng.normal(0, 0.02, (gx.size, 3))
    car = box_surface(rng, [1.0, 0.0, 0.0], [5.0, 1.8, 1.5], 1500)  # the target object
    van = box_surface(rng, [-5.0, -4.0, 0.0], [-2.5, -2.0, 2.0], 1200)
    angle = rng.uniform(0, 2 * np.pi, 600)
    height = rng.uniform(0, 3, 600)
    poles = [np.c_[cx + 0.3 * np.cos(angle), cy + 0.3 * np.sin(angle), height] for cx, cy in [(-2, 4), (0, -3)]]
    parts = [ground, car, van, *poles]
    xyz = np.concatenate(parts).astype(np.float32)
    target = np.zeros(len(xyz), dtype=bool)
    target[len(ground) : len(ground) + len(car)] = True
    return xyz, target


def iou(mask: np.ndarray, target: np.ndarray) -> float:
    return float((mask & target).sum() / max((mask | target).sum(), 1))


@pytest.fixture(scope="module", params=["off", "outdoor"], ids=["paper_input", "geodesic_maps"])
def seg(request: pytest.FixtureRequest) -> Segmenter:
    """The small network, with the paper's input and with geodesic click maps added."""
    config = dataclasses.replace(SMALL, input=dataclasses.replace(SMALL.input, geodesic_maps=request.param))
    return Segmenter.from_config(config, device="cpu", seed=0)


def test_session_click_undo_reset(seg: Segmenter) -> None:
    xyz, target = synthetic_scene()
    session = seg.session(xyz)
    assert isinstance(session, ModelSession) and isinstance(session, InteractiveSession)
    car = np.flatnonzero(target)
    first = session.add_click(int(car[0]))
    assert first.dtype == bool and first.shape == (len(xyz),) and first[car[0]]
    assert session.last_inference_ms > 0 and session.last_crop_voxels > 0
    second = session.add_click(int(car[10]), positive=False)
    assert not second[car[10]] and len(session.clicks) == 2 and not session.clicks[1].positive
    np.testing.assert_array_equal(session.undo(), first)
    np.testing.assert_array_equal(session.mask, first)
    assert not session.reset().any() and session.clicks == ()


def test_session_builds_its_scan_graph_once_and_clicks_only_read_it(seg: Segmenter) -> None:
    xyz, target = synthetic_scene()
    session = seg.session(xyz)
    graph = session.graph
    assert (graph is None) == (seg.config.input.geodesic_maps == "off")
    car = np.flatnonzero(target)
    session.add_click(int(car[0]))
    session.add_click(int(np.flatnonzero(~target)[0]), positive=False)
    last = session.add_click(int(car[len(car) // 2]))  # a positive click moves the crop, not the graph
    assert session.graph is graph
    fresh = seg.session(xyz)
    fresh.add_clicks([(c.index, c.positive) for c in session.clicks])
    np.testing.assert_array_equal(fresh.mask, last)


def test_ground_gate_keeps_the_ground_out_of_an_object_clicked_off_it() -> None:
    config = dataclasses.replace(SMALL, input=dataclasses.replace(SMALL.input, geodesic_maps="outdoor"))
    xyz, target = synthetic_scene()
    ground = np.abs(xyz[:, 2]) < 0.1
    threshold = 0.01  # an untrained network with a low threshold selects plenty of road
    plain = Segmenter.from_config(config, seed=0, threshold=threshold, ground_gate=False).session(xyz)
    gated = Segmenter.from_config(config, seed=0, threshold=threshold).session(xyz)  # the gate is on by default
    car = int(np.flatnonzero(target & (xyz[:, 2] > 1.4))[0])  # a point on the car's roof
    without, with_gate = plain.add_click(car), gated.add_click(car)
    assert (without & ground).sum() > 100 and (with_gate & ground).sum() < 0.05 * (without & ground).sum()
    assert not (with_gate & ~without).any() and with_gate[car]  # the gate only removes, never the click
    road = int(np.flatnonzero(ground & (np.abs(xyz[:, 0]) > 5))[0])
    gated.reset(), plain.reset()
    np.testing.assert_array_equal(gated.add_click(road), plain.add_click(road))  # the road is the object: no gate


def test_snapping_by_coordinates(seg: Segmenter) -> None:
    xyz, target = synthetic_scene()
    session = seg.session(xyz)
    index = int(np.flatnonzero(target)[5])
    by_position = session.add_click(xyz[index] + np.float32(0.01))
    assert session.clicks[0].index == index
    np.testing.assert_array_equal(by_position, seg.session(xyz).add_click(index))
    with pytest.raises(ClickError, match="snap distance"):
        session.add_click((0.0, 0.0, 50.0))
    assert len(session.clicks) == 1  # the failed click changed nothing


def test_mask_maps_back_through_the_finite_filter_and_the_crop() -> None:
    """With a threshold that accepts every voxel, the mask is exactly the crop, at the caller's indices."""
    xyz, target = synthetic_scene()
    far = np.array([[30.0, 0.0, 0.0], [0.0, -40.0, 1.0]], dtype=np.float32)  # far outside the crop
    cloud = np.concatenate([xyz, far, np.full((3, 3), np.nan, dtype=np.float32)])
    order = np.random.default_rng(1).permutation(len(cloud))  # NaN rows and far points scattered
    cloud = cloud[order]
    finite = np.isfinite(cloud).all(axis=1)
    accept_all = Segmenter.from_config(SMALL, device="cpu", seed=0, threshold=1e-9)
    click = int(np.flatnonzero(order == np.flatnonzero(target)[0])[0])  # caller index of a car point
    mask = accept_all.session(cloud).add_click(click)
    sample = prepare_sample(cloud[finite], None, cloud[click][None], None, None, SMALL)
    expected = np.zeros(len(cloud), dtype=bool)
    expected[finite] = sample["point_voxel"].numpy() >= 0
    np.testing.assert_array_equal(mask, expected)
    assert not mask[~finite].any() and not mask[np.isin(order, len(xyz) + np.arange(2))].any()
    horizontal = np.linalg.norm(cloud[:, :2] - cloud[click, :2], axis=1)
    assert mask[finite & (horizontal < 5.5)].all() and not mask[finite & (horizontal > 6.5)].any()


def test_session_uses_the_training_path(seg: Segmenter) -> None:
    """The session's mask (without the ground gate) equals the network run on prepare_sample's batch of one."""
    xyz, target = synthetic_scene()
    car = np.flatnonzero(target)
    session = Segmenter(seg.model, seg.config, options=SegmenterConfig(ground_gate=False)).session(xyz)
    session.click_rules = None  # the network alone (the rules on top are tested in test_click_rules.py)
    session.add_click(int(car[0]))
    mask = session.add_click(int(car[400]), positive=False)
    sample = prepare_sample(xyz, None, xyz[car[:1]], xyz[car[400:401]], xyz[car[400]], seg.config)
    with torch.inference_mode():
        logits, _ = seg.model(collate([sample]), embeddings=False)
    voxel_mask = (torch.softmax(logits, 1)[:, 1] > 0.5).numpy()
    point_voxel = sample["point_voxel"].numpy()
    expected = np.where(point_voxel >= 0, voxel_mask[point_voxel], False)
    expected[car[0]], expected[car[400]] = True, False  # clicked points keep their label
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(
    ("xyz", "match"),
    [
        (np.zeros((0, 3), np.float32), "empty"),
        (np.full((50, 3), np.nan, np.float32), "no finite point"),
        (np.zeros((10, 2), np.float32), "shape"),
        (np.zeros((3, 10), np.float32), "shape"),
        (np.array([["a", "b", "c"]]), "numeric"),
        (np.zeros((4, 3), dtype=complex), "numeric"),
    ],
)
def test_bad_clouds_raise_cloud_error(seg: Segmenter, xyz: np.ndarray, match: str) -> None:
    with pytest.raises(CloudError, match=match):
        seg.session(xyz)


def test_bad_clicks_raise_click_error(seg: Segmenter) -> None:
    xyz, _ = synthetic_scene()
    xyz[7] = np.nan
    session = seg.session(xyz, rgb=np.full(xyz.shape, 0.5, np.float32))
    bad = [(len(xyz), "out of range"), (-1, "out of range"), (7, "non-finite"), ((1.0, 2.0), "3 finite")]
    for target, match in bad:
        with pytest.raises(ClickError, match=match):
            session.add_click(target)
    with pytest.raises(ClickError, match="first click of an object must be positive"):
        session.add_click(0, positive=False)
    with pytest.raises(CloudError, match="rgb"):
        seg.session(xyz, rgb=np.zeros((3, 3)))
    assert session.clicks == () and not session.mask.any()


@pytest.mark.parametrize("cloud", [np.array([[1.0, 2.0, 0.5]]), np.zeros((40, 3)), np.eye(3) * 1e-4])
def test_degenerate_clouds_do_not_crash(seg: Segmenter, cloud: np.ndarray) -> None:
    """One point, duplicates, everything in one voxel: a mask comes back (nothing crashes inside spconv)."""
    mask = seg.session(cloud.astype(np.float32)).add_click(0)
    assert mask.shape == (len(cloud),) and mask[0]


def test_from_config_is_seeded() -> None:
    a = Segmenter.from_config(SMALL, seed=3).model.state_dict()
    b = Segmenter.from_config(SMALL, seed=3).model.state_dict()
    c = Segmenter.from_config(SMALL, seed=4).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_load_segmenter(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Segmenter.from_config(SMALL).save(tmp_path / "m.pt", extra={"note": "test"})
    loaded = load_segmenter("model", checkpoint=str(path), device="cpu", threshold=0.7)
    assert isinstance(loaded, Segmenter) and loaded.options.threshold == 0.7 and loaded.extra == {"note": "test"}
    with pytest.raises(ValueError, match="unknown segmentation method"):
        load_segmenter("magic")
    with pytest.raises(ValueError, match="no checkpoint"):
        load_segmenter("baseline", checkpoint=str(path))
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="no default model is shipped yet"):
        load_segmenter("model")


def test_load_segmenter_baseline_has_the_same_session_api() -> None:
    baseline = load_segmenter("baseline", snap_distance=0.3)
    xyz, target = synthetic_scene()
    session = baseline.session(xyz)
    mask = session.add_click(int(np.flatnonzero(target)[0]))
    assert isinstance(session, InteractiveSession) and mask.shape == (len(xyz),) and mask.dtype == bool


@pytest.mark.parametrize("module", [segmenter_module, clickenhance_model], ids=["segmenter", "package"])
def test_docstring_snippets_run(module: object, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The indented usage lines of the module docstrings run as written."""
    monkeypatch.chdir(tmp_path)
    Segmenter.from_config(SMALL).save("model.pt")
    xyz, target = synthetic_scene()
    index = int(np.flatnonzero(target)[0])
    x, y, z = (float(v) for v in xyz[int(np.flatnonzero(target)[50])])
    lines = [line.strip() for line in module.__doc__.splitlines() if line.startswith("    ")]
    code = "\n".join(re.sub(r"\s+#.*$", "", line) for line in lines)
    namespace = {"Segmenter": Segmenter, "xyz": xyz, "index": index, "x": x, "y": y, "z": z}
    exec(compile(code, f"{module.__name__}.__doc__", "exec"), namespace)  # noqa: S102
    assert namespace["mask"].shape == (len(xyz),) and namespace["mask"].dtype == bool


def test_package_exports_are_lazy() -> None:
    assert clickenhance_model.Segmenter is Segmenter
    with pytest.raises(AttributeError):
        clickenhance_model.NotAThing  # noqa: B018


@pytest.mark.usefixtures("one_thread")
def test_small_model_overfits_one_scene() -> None:
    """Learning works: trained on one scene, a single click segments the car with IoU > 0.9."""
    xyz, target = synthetic_scene()
    car, background = np.flatnonzero(target), np.flatnonzero(~target)
    near = background[np.linalg.norm(xyz[background, :2] - [3.0, 0.9], axis=1) < 4.0]
    centre = int(car[np.argmin(np.linalg.norm(xyz[car] - xyz[car].mean(axis=0), axis=1))])
    seg = Segmenter.from_config(SMALL, seed=0)
    optimizer = torch.optim.Adam(seg.model.parameters(), lr=0.01)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    start, best = time.perf_counter(), 0.0
    for step in range(1, 151):
        samples = []
        for _ in range(2):
            positive = xyz[rng.choice(car, size=rng.integers(1, 3))]
            negative = xyz[rng.choice(near, size=rng.integers(0, 2))]
            current = negative[-1] if len(negative) and rng.random() < 0.5 else positive[-1]
            samples.append(prepare_sample(xyz, None, positive, negative, current, SMALL, labels=target))
        batch = collate(samples)
        seg.model.train()
        logits, embeddings = seg.model(batch)
        loss, _ = clickenhance_loss(logits, embeddings, batch, SMALL.loss, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            best = iou(seg.session(xyz).add_click(centre), target)  # eval mode, the user's path
            if best > 0.9:
                break
    assert best > 0.9, f"IoU {best:.3f} after {step} steps ({time.perf_counter() - start:.0f} s)"
