"""Which segmenter the node loads (method auto/model/baseline, overrides), and the node on a real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import NodeProcess, RosClient, box_scene, node_parameters, scene_cloud

pytest.importorskip("rclpy")
from geometry_msgs.msg import Point  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from clickenhance_model.baseline import BaselineSegmenter  # noqa: E402
from clickenhance_model.errors import CheckpointError  # noqa: E402
from clickenhance_model.inference.click_rules import ClickRules  # noqa: E402
from clickenhance_model.training.config import load_train_config  # noqa: E402
from clickenhance_ros import segmenter_loading  # noqa: E402
from clickenhance_ros.node_parameters import NodeParameters  # noqa: E402
from clickenhance_ros.segmenter_loading import SHIPPED_CHECKPOINT, load_configured_segmenter  # noqa: E402
from clickenhance_ros.srv import SegmentObject  # noqa: E402

SCENE = box_scene(seed=4)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained, small ClickEnhance network saved as a real checkpoint."""
    from clickenhance_model.model_config import ModelConfig, NetworkConfig
    from clickenhance_model.segmenter import Segmenter

    config = ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8)))
    return Segmenter.from_config(config).save(tmp_path_factory.mktemp("model") / "tiny.pt")


def test_shipped_checkpoint_path_matches_the_model_package() -> None:
    from clickenhance_model.segmenter import DEFAULT_CHECKPOINT

    assert DEFAULT_CHECKPOINT.resolve() == SHIPPED_CHECKPOINT


def test_auto_without_weights_is_the_baseline_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmenter_loading, "SHIPPED_CHECKPOINT", tmp_path / "weights" / "default.pt")
    loaded = load_configured_segmenter(NodeParameters(voxel_size=0.2, crop_radius=0.0))
    assert loaded.method == "baseline" and isinstance(loaded.segmenter, BaselineSegmenter)
    assert "BASELINE" in loaded.description and "no shipped model yet" in loaded.description
    assert loaded.segmenter.config.voxel_size == 0.2 and loaded.segmenter.config.max_radius == float("inf")


def test_auto_with_a_shipped_model_is_the_model(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clickenhance_model.segmenter as segmenter_module

    monkeypatch.setattr(segmenter_loading, "SHIPPED_CHECKPOINT", tiny_checkpoint)
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", tiny_checkpoint)
    loaded = load_configured_segmenter(NodeParameters(device="cpu"))
    assert loaded.method == "model" and f"auto: shipped model {tiny_checkpoint}" in loaded.description
    assert loaded.segmenter.config.network.channels == (8, 16)  # the shipped file's network


def test_the_node_says_when_the_model_prices_its_prior_by_a_learned_affinity(tiny_checkpoint: Path,
                                                                             tmp_path: Path) -> None:
    from test_edge_affinity import sure_affinity

    from clickenhance_model.segmenter import Segmenter

    priced = Segmenter.load(tiny_checkpoint, device="cpu")
    path = priced.save(tmp_path / "priced.pt", extra={"edge_affinity": sure_affinity(20.0).to_extra()})
    outdoor = load_configured_segmenter(NodeParameters(method="model", checkpoint=str(path), device="cpu"))
    assert "outdoor prior prices each edge by a learned affinity" in outdoor.description
    assert "costs up to 21 times its length" in outdoor.description
    indoor = load_configured_segmenter(NodeParameters(method="model", checkpoint=str(path), device="cpu",
                                                      domain="indoor"))  # fmt: skip
    assert "learned affinity" not in indoor.description  # it prices the outdoor prior only
    plain = load_configured_segmenter(NodeParameters(method="model", checkpoint=str(tiny_checkpoint), device="cpu"))
    assert "learned affinity" not in plain.description


def test_auto_serves_the_shipped_model_only_on_the_domains_it_was_trained_on(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Facts say "outdoor only": an indoor node gets the baseline and says why; `method: model` still forces it."""
    import shutil

    import clickenhance_model.segmenter as segmenter_module
    from clickenhance_model.shipped_facts import write_facts

    shipped = tmp_path / "weights" / "default.pt"
    shipped.parent.mkdir()
    shutil.copyfile(tiny_checkpoint, shipped)
    monkeypatch.setattr(segmenter_loading, "SHIPPED_CHECKPOINT", shipped)
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", shipped)
    write_facts(shipped, load_train_config("synthetic_tiny").to_dict())  # generated streets only
    indoor = load_configured_segmenter(NodeParameters(device="cpu", domain="indoor"))
    assert indoor.method == "baseline" and isinstance(indoor.segmenter, BaselineSegmenter)
    assert "trained on outdoor clouds only, not indoor ones" in indoor.description
    assert indoor.segmenter.config.voxel_size == 0.03  # the indoor preset
    assert load_configured_segmenter(NodeParameters(device="cpu", domain="outdoor")).method == "model"
    assert load_configured_segmenter(NodeParameters(method="model", device="cpu", domain="indoor")).method == "model"
    write_facts(shipped, load_train_config("any_object").to_dict())  # streets and rooms
    assert load_configured_segmenter(NodeParameters(device="cpu", domain="indoor")).method == "model"
    shipped.with_suffix(".json").write_text("{not json")  # unreadable facts: nothing known, nothing taken away
    assert load_configured_segmenter(NodeParameters(device="cpu", domain="indoor")).method == "model"


def test_auto_serves_the_baseline_once_a_rejudgement_refused_the_shipped_model(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal in the facts (`tools/ship_model.py --rejudge-installed`) sends `method: auto` to the baseline and
    says why; the other facts stay, `method: model` and a named checkpoint still serve the weights, and a later
    passing re-judgement (None) gives them back to auto."""
    import json
    import shutil

    import clickenhance_model.segmenter as segmenter_module
    from clickenhance_model.shipped_facts import (
        read_auto_refusal,
        read_trained_domains,
        record_auto_refusal,
        write_facts,
    )

    shipped = tmp_path / "weights" / "default.pt"
    shipped.parent.mkdir()
    shutil.copyfile(tiny_checkpoint, shipped)
    monkeypatch.setattr(segmenter_loading, "SHIPPED_CHECKPOINT", shipped)
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", shipped)
    write_facts(shipped, load_train_config("synthetic_tiny").to_dict())
    assert read_auto_refusal(shipped) is None
    record_auto_refusal(shipped, "judged 2026-12-03: not better on stuff, rings16")
    assert json.loads(shipped.with_suffix(".json").read_text())["trained_domains"] == ["outdoor"]  # kept
    auto = load_configured_segmenter(NodeParameters(device="cpu"))
    assert auto.method == "baseline" and isinstance(auto.segmenter, BaselineSegmenter)
    assert "does not beat today's training-free baseline" in auto.description
    assert "not better on stuff, rings16" in auto.description and "method 'model' serves it anyway" in auto.description
    assert load_configured_segmenter(NodeParameters(method="model", device="cpu")).method == "model"
    assert load_configured_segmenter(NodeParameters(checkpoint=str(shipped), device="cpu")).method == "model"
    record_auto_refusal(shipped, None)
    assert read_auto_refusal(shipped) is None and read_trained_domains(shipped) == ("outdoor",)
    assert load_configured_segmenter(NodeParameters(device="cpu")).method == "model"
    for broken in ("{not json", "[1, 2]", '{"auto_refused": 3}', '{"auto_refused": "  "}'):
        shipped.with_suffix(".json").write_text(broken)  # nothing readable: nothing taken away
        assert read_auto_refusal(shipped) is None
        assert load_configured_segmenter(NodeParameters(device="cpu")).method == "model"


def test_the_annotators_auto_follows_the_same_rule(tiny_checkpoint: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # fmt: skip
    import shutil

    import clickenhance_model.segmenter as segmenter_module
    from clickenhance_model import shipped_facts
    from clickenhance_model.annotate.__main__ import load_method
    from clickenhance_model.segmenter import Segmenter

    shipped = tmp_path / "weights" / "default.pt"
    shipped.parent.mkdir()
    shutil.copyfile(tiny_checkpoint, shipped)
    monkeypatch.setattr(shipped_facts, "SHIPPED_CHECKPOINT", shipped)
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", shipped)
    assert isinstance(load_method("auto", None, "cpu"), Segmenter)
    shipped_facts.record_auto_refusal(shipped, "judged 2026-12-03: not better on rings16")
    assert isinstance(load_method("auto", None, "cpu"), BaselineSegmenter)
    assert "not better on rings16" in capsys.readouterr().err
    assert isinstance(load_method("auto", str(shipped), "cpu"), Segmenter)  # a named checkpoint is served
    assert isinstance(load_method("model", None, "cpu"), Segmenter)


def test_shipped_facts_match_the_shipped_weights() -> None:
    """weights/default.json names the domains the shipped checkpoint's own records say it learned: its training
    config's, and those its point refiner was fitted on (when it has one)."""
    from clickenhance_model.checkpoint import load_checkpoint
    from clickenhance_model.shipped_facts import read_trained_domains
    from clickenhance_model.training.config import train_config_from_dict, trained_domains

    _, config, extra = load_checkpoint(SHIPPED_CHECKPOINT)
    learned = set(trained_domains(train_config_from_dict(extra["train_config"])))
    if config.network.point_refiner:
        assert extra["point_refiner_fit"]["domains"], "a shipped refiner records the domains it was fitted on"
        learned |= set(extra["point_refiner_fit"]["domains"])
    assert set(read_trained_domains(SHIPPED_CHECKPOINT)) == learned
    assert "outdoor" in learned  # the node's own domain: LiDAR streets


def test_a_refusal_of_the_shipped_weights_is_in_their_card() -> None:
    """default.json refuses the shipped weights to `method: auto` only with the re-judgement's section in the card,
    which names the same lost sets."""
    from clickenhance_model.shipped_facts import read_auto_refusal

    refused = read_auto_refusal(SHIPPED_CHECKPOINT)
    card = (SHIPPED_CHECKPOINT.parent / "README.md").read_text()
    assert segmenter_loading.resolve_method(NodeParameters())[0] == ("model" if refused is None else "baseline")
    if refused is None:
        assert "serves the training-free baseline instead" not in card
        return
    section = card.split("## Judged again by today's rule")[-1]
    assert "serves the training-free baseline instead" in section
    lost = refused.split("not better on ")[-1]
    assert f"it loses on {lost})" in section


def test_auto_with_a_checkpoint_is_the_model_and_refuses_other_input_settings(tiny_checkpoint: Path) -> None:
    same = load_configured_segmenter(NodeParameters(checkpoint=str(tiny_checkpoint), device="cpu",
                                                    voxel_size=0.1, crop_radius=20.0, ground_gate=False))
    assert same.method == "model" and same.device == "cpu"  # the trained values themselves are accepted
    assert f"checkpoint {tiny_checkpoint} given" in same.description and "ground gate off" in same.description
    assert same.segmenter.config.input.voxel_size == 0.1 and same.segmenter.config.input.crop_radius == 20.0
    assert same.segmenter.options.ground_gate is False
    for changed in ({"voxel_size": 0.2}, {"crop_radius": 8.0}, {"crop_radius": 0.0}):
        name = next(iter(changed))
        with pytest.raises(ValueError, match=f"parameter {name}=.* differs from the model's trained input.{name}"):
            load_configured_segmenter(NodeParameters(checkpoint=str(tiny_checkpoint), device="cpu", **changed))


def test_domain_picks_the_graph_preset_of_baseline_and_model(tiny_checkpoint: Path) -> None:
    from clickenhance_model.inference.voxel_graph import INDOOR

    baseline = load_configured_segmenter(NodeParameters(method="baseline", domain="indoor"))
    assert baseline.segmenter.config == INDOOR and "indoor preset" in baseline.description
    model = load_configured_segmenter(NodeParameters(checkpoint=str(tiny_checkpoint), device="cpu", domain="indoor"))
    assert model.segmenter.options.domain == "indoor" and "indoor clouds" in model.description
    with pytest.raises(ValueError, match="parameter 'domain' must be one of outdoor, indoor"):
        NodeParameters(domain="underwater")


def test_ground_gate_auto_takes_the_weights_own_choice(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
    from clickenhance_model.segmenter import Segmenter

    state_dict, config, _ = load_checkpoint(tiny_checkpoint)
    model = Segmenter.from_config(config).model
    model.load_state_dict(state_dict)
    gated_off = save_checkpoint(tmp_path / "off.pt", model, config, {"inference_options": {"ground_gate": False}})
    auto = load_configured_segmenter(NodeParameters(checkpoint=str(gated_off), device="cpu"))
    assert auto.segmenter.options.ground_gate is False
    assert "ground gate off (the weights' own choice)" in auto.description
    forced = load_configured_segmenter(NodeParameters(checkpoint=str(gated_off), device="cpu", ground_gate=True))
    assert forced.segmenter.options.ground_gate is True and "ground gate on," in forced.description
    plain = load_configured_segmenter(NodeParameters(checkpoint=str(tiny_checkpoint), device="cpu"))
    assert plain.segmenter.options.ground_gate is True  # weights without a choice: SegmenterConfig's default
    assert NodeParameters(ground_gate="FALSE").model_options == {"ground_gate": False}
    assert NodeParameters(views=4).model_options == {"views": 4} and NodeParameters().model_options == {}
    turned = load_configured_segmenter(NodeParameters(checkpoint=str(gated_off), device="cpu", views=4))
    assert turned.segmenter.options.views == 4 and "4 view(s) per crop" in turned.description
    assert auto.segmenter.options.views == 1  # weights without a choice: SegmenterConfig's default
    with pytest.raises(ValueError, match="parameter 'ground_gate' must be one of auto, true, false"):
        NodeParameters(ground_gate="sometimes")
    broken = save_checkpoint(tmp_path / "broken.pt", model, config, {"inference_options": {"gate": False}})
    with pytest.raises(CheckpointError, match="unusable inference options"):
        Segmenter.load(broken, device="cpu")


def test_the_weights_click_rules_are_served_and_said_unless_the_node_sets_its_own(tiny_checkpoint: Path,
                                                                                   tmp_path: Path) -> None:
    """Weights that carry `gain_reach` and `keep_direction` (chosen on validation scans when they shipped) serve
    click rules 3 and 4 on the operator's sessions and say so at load; the node's own (`gain_reach`,
    `keep_direction`) replace them."""
    from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
    from clickenhance_model.segmenter import Segmenter

    state_dict, config, _ = load_checkpoint(tiny_checkpoint)
    model = Segmenter.from_config(config).model
    model.load_state_dict(state_dict)
    carried = save_checkpoint(tmp_path / "rule3.pt", model, config,
                              {"inference_options": {"gain_reach": 1.5, "keep_direction": True}})
    own = load_configured_segmenter(NodeParameters(checkpoint=str(carried), device="cpu"))
    assert own.segmenter.options.gain_reach == 1.5
    assert "within 1.5 times its distance to the nearest negative click (click rule 3, the weights' own)" in (
        own.description)
    assert "positive clicks only add, negative clicks only take out (click rule 4, the weights' own)" in (
        own.description)
    rules = own.segmenter.session(SCENE.xyz).click_rules
    assert rules.gain_reach == 1.5 and rules.keep_direction is True
    replaced = load_configured_segmenter(NodeParameters(checkpoint=str(carried), device="cpu", gain_reach=0.5))
    assert "the node's click rules replace them" in replaced.description
    assert replaced.segmenter.options.gain_reach == 1.5  # the weights' own, replaced in the operator's sessions
    assert NodeParameters(gain_reach=0.5).click_rules == ClickRules(gain_reach=0.5)
    assert NodeParameters(keep_direction=True).click_rules == ClickRules(keep_direction=True)
    assert NodeParameters().click_rules is None  # the segmenter's own
    plain = load_configured_segmenter(NodeParameters(checkpoint=str(tiny_checkpoint), device="cpu"))
    assert plain.segmenter.options.gain_reach == 0.0 and "click rule" not in plain.description


def test_model_without_weights_raises_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_configured_segmenter(NodeParameters(method="model", checkpoint=str(tmp_path / "absent.pt")))


@pytest.fixture
def model_node(tmp_path: Path, tiny_checkpoint: Path) -> Iterator[NodeProcess]:
    process = NodeProcess(tmp_path / "node.log", node_parameters(tmp_path, method="model",
                                                                 checkpoint=str(tiny_checkpoint), device="cpu"))
    yield process
    assert process.stop() == 0, process.log()


@pytest.mark.ros
@pytest.mark.slow  # torch + spconv in the node process
def test_node_serves_with_the_learned_model(model_node: NodeProcess) -> None:
    """The node on a real (untrained, tiny) network: the same service path, the model's own latency."""
    ros = RosClient("model_node_client")
    try:
        top = SCENE.tops[0]
        request = SegmentObject.Request(cloud=scene_cloud(SCENE), positive_points=[Point(x=top[0], y=top[1], z=top[2])])
        response = ros.call(SegmentObject, "/clickenhance/segment", request, timeout=120)
        assert response.success, response.message
        indices = np.asarray(response.indices)
        assert indices.size >= 1 and indices.max() < len(SCENE.xyz) and response.inference_time_ms > 0
        clicked = int(np.argmin(np.linalg.norm(SCENE.xyz - np.array(top, np.float32), axis=1)))
        assert clicked in indices  # a clicked point is always part of the object
        diagnostics = ros.call_read_only(Trigger, "/clickenhance/diagnostics").message
        assert "learned ClickEnhance model" in diagnostics and "device cpu" in diagnostics
    finally:
        ros.close()


def test_the_weights_ground_prior_and_joined_click_are_said_at_load(tmp_path: Path) -> None:
    """A prior-fusion model's stored switches (`ground_prior`, `joined_click`) are what the node serves and logs."""
    from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
    from clickenhance_model.segmenter import Segmenter

    config = ModelConfig(input=InputConfig(geodesic_maps="outdoor"),
                         network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8), prior_fusion=True))  # fmt: skip
    fusion = Segmenter.from_config(config)
    for joined, said in ((None, False), ("ground", False), ("free", True)):
        path = tmp_path / f"{joined}.pt"
        stored = {"ground_prior": True, **({} if joined is None else {"joined_click": joined})}
        fusion.save(path, {"inference_options": stored})
        loaded = load_configured_segmenter(NodeParameters(checkpoint=str(path), device="cpu"))
        assert loaded.segmenter.options.ground_prior is True and loaded.segmenter.options.joined_click == joined
        assert "the weights' ground prior" in loaded.description
        assert ("fence's foot or a car's sill the network answers (free)" in loaded.description) is said
