"""The learned edge affinity of a prior-fusion model's outdoor prior: features, pricing, checkpoint, fit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from test_prior_fusion import FUSION, fusion_segmenter, street

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.errors import CheckpointError
from clickenhance_model.inference.edge_affinity import (
    EDGE_FEATURES,
    EdgeAffinity,
    EdgeAffinityNet,
    edge_features,
    off_ground_edges,
)
from clickenhance_model.inference.geodesic_region import GeodesicRegion
from clickenhance_model.inference.voxel_graph import OUTDOOR, VoxelGraph
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.edge_affinity_fit import fit_affinity, main, node_labels, scan_edge_rows


def sure_affinity(weight: float, logit: float = 30.0) -> EdgeAffinity:
    """An affinity whose MLP says `logit` for every edge (its last layer's bias; every weight zero)."""
    net = EdgeAffinityNet()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.zero_()
        net.layers[-1].bias.fill_(logit)
    return EdgeAffinity(net.eval(), weight)


def test_edge_features_read_length_slope_and_the_step_away_from_the_sensor() -> None:
    nodes = np.array([[10.0, 0.0, 1.0], [10.0, 0.0, 1.5], [10.4, 0.0, 1.0]])
    edges = np.array([[0, 1], [0, 2]])
    normals = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # the third unreliable
    features = edge_features(nodes, edges, 1.0, normals, np.array([0.0, 0.2, 0.4]), np.array([1.0, 1.5, 1.0]))
    assert features.shape == (2, EDGE_FEATURES) and features.dtype == np.float32
    np.testing.assert_allclose(features[:, 0], [0.5, 0.4], atol=1e-6)  # length over max_edge
    np.testing.assert_allclose(features[:, 1], [1.0, 0.0], atol=1e-6)  # slope: straight up, level
    np.testing.assert_allclose(features[:, 6], [1.0, 0.0], atol=1e-6)  # parallel normals; none to an unreliable one
    np.testing.assert_allclose(features[:, 7], [0.5, 1.0], atol=1e-6)  # scatter grades 0, 0.5 and 1 apart
    np.testing.assert_allclose(features[:, 10], [1.0, 0.0])  # both normals reliable
    np.testing.assert_allclose(features[:, 11], [0.0, 1.0], atol=1e-6)  # the second edge points away from the sensor


def test_node_labels_take_the_commonest_label_and_the_smallest_on_a_tie() -> None:
    point_to_node = np.array([0, 0, 0, 1, 1, 2])
    label = np.array([7, 3, 7, 9, 4, 5])
    np.testing.assert_array_equal(node_labels(point_to_node, label, 3), [7, 4, 5])


def test_reweigh_prices_the_off_ground_edges_alone() -> None:
    points, _, _ = street()
    nodes = np.unique(np.floor(points / OUTDOOR.voxel_size), axis=0) * OUTDOOR.voxel_size + OUTDOOR.voxel_size / 2
    graph = VoxelGraph(nodes, OUTDOOR)
    before = graph.lengths.copy()
    graph.costs(False)  # a cached cost matrix must not outlive the new prices
    sure_affinity(4.0).reweigh(graph, nodes)
    off = off_ground_edges(graph)
    assert off.any() and (~off).any()
    np.testing.assert_allclose(graph.lengths[off], 5.0 * before[off], rtol=1e-6)
    np.testing.assert_array_equal(graph.lengths[~off], before[~off])
    assert graph._costs == {}
    with pytest.raises(ValueError, match="finite numbers > 0"):
        graph.scale_lengths(np.zeros(len(graph.lengths)))


def test_a_model_prices_its_outdoor_prior_by_its_affinity_and_keeps_it_through_a_checkpoint(tmp_path: Path) -> None:
    points, on_car, _ = street()
    click = int(np.flatnonzero(on_car)[0])
    plain = fusion_segmenter(0.0)
    priced = Segmenter(plain.model, FUSION, options=plain.options,
                       extra={"edge_affinity": sure_affinity(9.0).to_extra()})
    plain_prior, priced_prior = plain.session(points).prior, priced.session(points).prior
    assert priced_prior is not None and plain_prior is not None
    off = off_ground_edges(priced_prior.graph)
    np.testing.assert_allclose(priced_prior.graph.lengths[off], 10.0 * plain_prior.graph.lengths[off], rtol=1e-6)
    # the affinity is the model's: an indoor session and the training-free baseline keep the plain graph
    indoor = priced.with_options(domain="indoor").session(points).prior
    assert indoor is not None
    np.testing.assert_array_equal(indoor.graph.lengths, GeodesicRegion(points, indoor.config).graph.lengths)
    assert not hasattr(BaselineSegmenter().session(points), "edge_affinity")
    # at weight 0 the priced prior answers what the plain one does
    level = Segmenter(plain.model, FUSION, options=plain.options,
                      extra={"edge_affinity": sure_affinity(0.0).to_extra()})
    np.testing.assert_array_equal(level.session(points).add_click(click), plain.session(points).add_click(click))
    path = priced.save(tmp_path / "priced.pt", extra=priced.extra)
    loaded = Segmenter.load(path, device="cpu")
    assert loaded.edge_affinity is not None and loaded.edge_affinity.weight == 9.0
    np.testing.assert_array_equal(loaded.session(points).prior.graph.lengths, priced_prior.graph.lengths)


def test_an_unusable_affinity_in_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    segmenter = fusion_segmenter(0.0)
    broken = sure_affinity(1.0).to_extra()
    broken["state_dict"] = {"layers.0.weight": torch.zeros(3, 3)}
    path = segmenter.save(tmp_path / "broken.pt", extra={"edge_affinity": broken})
    with pytest.raises(CheckpointError, match="unusable edge affinity"):
        Segmenter.load(path, device="cpu")
    negative = {**sure_affinity(1.0).to_extra(), "weight": -1.0}
    path = segmenter.save(tmp_path / "negative.pt", extra={"edge_affinity": negative})
    with pytest.raises(CheckpointError, match="weight must be"):
        Segmenter.load(path, device="cpu")


def test_scan_rows_label_the_edges_between_two_objects() -> None:
    step = 0.1  # a road and two sparse upright panels 0.3 m apart on it (a sign before a hedge)
    xs, ys = np.meshgrid(np.arange(-4, 4, step), np.arange(-4, 4, step), indexing="ij")
    road = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    ys, zs = np.meshgrid(np.arange(-1, 1, 0.4), np.arange(0.4, 2.5, 0.4), indexing="ij")  # sparse rings
    panels = [np.stack([np.full(ys.size, x), ys.ravel(), zs.ravel()], axis=1) for x in (1.0, 1.3)]
    points = np.concatenate([road, *panels]) + 0.05
    label = np.repeat([40, 81, 70], [len(road), len(panels[0]), len(panels[1])]).astype(np.int64)
    features, target = scan_edge_rows(points, label)
    assert features.shape == (len(target), EDGE_FEATURES) and set(np.unique(target)) <= {0.0, 1.0}
    assert 0 < target.mean() < 0.5  # most off-ground edges lie within one panel, the ones across the gap join two
    across = target == 1
    assert np.all(features[across, 0] >= 0.3 - 1e-6)  # they span the gap


def test_the_fit_is_reproducible_and_tells_the_two_kinds_of_edge_apart() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((4000, EDGE_FEATURES)).astype(np.float32)
    targets = (features[:, 1] > 0.8).astype(np.float32)  # steep edges join two objects
    net, report = fit_affinity(features, targets, epochs=30, batch=512, progress=False)
    again, _ = fit_affinity(features, targets, epochs=30, batch=512, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True))
    assert report["mean_p_apart"] > 0.6 > 0.2 > report["mean_p_together"]
    with pytest.raises(ValueError, match="both kinds"):
        fit_affinity(features, np.zeros(len(features), dtype=np.float32), progress=False)


def test_the_command_attaches_the_affinity_to_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    checkpoint = fusion_segmenter(0.0).save(tmp_path / "model.pt")
    rng = np.random.default_rng(1)
    features = rng.random((2000, EDGE_FEATURES)).astype(np.float32)
    np.savez_compressed(tmp_path / "rows.npz", x=features, y=(features[:, 0] > 0.7).astype(np.float32))
    out = tmp_path / "with_affinity.pt"
    argv = ["--checkpoint", str(checkpoint), "--rows", str(tmp_path / "rows.npz"), "--out", str(out), "--weight", "7",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    loaded = Segmenter.load(out, device="cpu")
    assert loaded.edge_affinity is not None and loaded.edge_affinity.weight == 7.0
    assert loaded.extra["edge_affinity_fit"]["rows"] == [str(tmp_path / "rows.npz")]
    assert main([*argv, "--first-frames", "0", "5"]) == 2
    assert "one frame per --rows file" in capsys.readouterr().err
    assert main(["--rows", str(tmp_path / "rows.npz")]) == 2  # nothing to attach it to
    assert "--checkpoint and --out are needed" in capsys.readouterr().err
    assert main(["--rows", str(tmp_path / "rows.npz"), "--rows-only"]) == 0  # the rows exist: nothing to collect


def test_the_ship_tool_keeps_the_affinity_and_tells_two_affinities_apart(tmp_path: Path) -> None:
    tool = Path(__file__).resolve().parents[1] / "tools" / "ship_model.py"
    spec = importlib.util.spec_from_file_location("ship_model", tool)
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    segmenter = fusion_segmenter(0.0)
    first = segmenter.save(tmp_path / "first.pt", extra={"edge_affinity": sure_affinity(9.0).to_extra()})
    stripped = tmp_path / "stripped.pt"
    ship.strip_checkpoint(first, stripped)
    assert Segmenter.load(stripped, device="cpu").edge_affinity.weight == 9.0
    ship.check_same_weights(first, stripped)  # the same network and the same affinity
    other = segmenter.save(tmp_path / "other.pt", extra={"edge_affinity": sure_affinity(3.0).to_extra()})
    with pytest.raises(ship.ShipError, match="other weights"):
        ship.check_same_weights(other, stripped)
    plain = segmenter.save(tmp_path / "plain.pt")
    with pytest.raises(ship.ShipError, match="other weights"):
        ship.check_same_weights(plain, stripped)
