"""Checkpoint files: round trip, atomic write, and one-line errors on real broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from clickenhance_model import segmenter as segmenter_module
from clickenhance_model.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from clickenhance_model.errors import CheckpointError
from clickenhance_model.evaluation.demo_operator import CARS_MIN_IOU, one_click_cars
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.unet import ClickEnhanceNet

SMALL = ModelConfig(
    input=InputConfig(voxel_size=0.2, crop_radius=5.0),
    network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8), embedding_dim=4),
)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, ClickEnhanceNet]:
    torch.manual_seed(0)
    model = ClickEnhanceNet(SMALL)
    path = save_checkpoint(tmp_path / "model.pt", model, SMALL, extra={"epoch": 3, "metrics": {"noc85": 4.5}})
    return path, model


def test_round_trip(saved: tuple[Path, ClickEnhanceNet]) -> None:
    path, model = saved
    state_dict, config, extra = load_checkpoint(path, "cpu")
    assert config == SMALL and extra == {"epoch": 3, "metrics": {"noc85": 4.5}}
    expected = model.state_dict()
    assert state_dict.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left


def test_segmenter_load_gives_the_saved_network(saved: tuple[Path, ClickEnhanceNet]) -> None:
    path, model = saved
    seg = Segmenter.load(path, device="cpu", snap_distance=0.2)
    assert seg.config == SMALL and seg.options.snap_distance == 0.2 and seg.extra["epoch"] == 3
    assert not seg.model.training
    for key, value in model.state_dict().items():
        assert torch.equal(seg.model.state_dict()[key], value), key
    with pytest.raises(ValueError, match="unknown key"):
        Segmenter.load(path, device="cpu", snap_distanse=0.2)


def _rewrite(path: Path, change: dict) -> None:
    payload = torch.load(path, weights_only=True)
    payload.update(change)
    torch.save(payload, path)


def _broken_files(path: Path) -> dict[str, tuple[Path, str]]:
    """Real broken files next to a good checkpoint, each with the reason its error must name."""
    folder, data = path.parent, path.read_bytes()
    cases = {}
    truncated = folder / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    cases["truncated"] = (truncated, "truncated or corrupted")
    corrupted = folder / "corrupted.pt"
    corrupted.write_bytes(data[:100] + bytes(b ^ 0xFF for b in data[100:400]) + data[400:])
    cases["corrupted"] = (corrupted, "truncated or corrupted")
    garbage = folder / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint\n" * 10)
    cases["garbage"] = (garbage, "truncated or corrupted")
    foreign = folder / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    cases["foreign"] = (foreign, "not a ClickEnhance checkpoint")
    for name, change, reason in [
        ("version", {"format_version": FORMAT_VERSION + 1}, "format version"),
        ("bad_config", {"model_config": {"input": {"voxel_sise": 0.1}}}, "invalid model config"),
        ("mismatch", {"model_config": ModelConfig().to_dict()}, "do not match"),
        ("shape", {"model_config": {"network": {"channels": [8, 12], "cse_channels": [4, 8]}}}, "has shape"),
    ]:
        target = folder / f"{name}.pt"
        target.write_bytes(data)
        _rewrite(target, change)
        cases[name] = (target, reason)
    cases["missing"] = (folder / "absent.pt", "no such checkpoint file")
    return cases


def test_broken_files_raise_one_line_errors(saved: tuple[Path, ClickEnhanceNet]) -> None:
    for name, (path, reason) in _broken_files(saved[0]).items():
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path, "cpu")
        message = str(caught.value)
        assert str(path) in message and reason in message, f"{name}: {message}"
        assert "\n" not in message, name
        with pytest.raises(CheckpointError):
            Segmenter.load(path, device="cpu")


def test_load_without_shipped_default_refuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", tmp_path / "weights" / "default.pt")
    with pytest.raises(CheckpointError, match="no default model is shipped yet") as caught:
        Segmenter.load()
    assert "baseline" in str(caught.value) and "\n" not in str(caught.value)


def test_shipped_default_segments_generated_cars_with_one_click() -> None:
    """The model in the package (at most 20 MB, with its card) segments cars of a street it never saw."""
    shipped = segmenter_module.DEFAULT_CHECKPOINT
    assert shipped.is_file() and shipped.stat().st_size <= 20 * 2**20
    assert "BEATS the training-free baseline" in (shipped.parent / "README.md").read_text()
    segmenter = Segmenter.load(device="cpu")
    assert segmenter.config.input.geodesic_maps == "outdoor"
    # The inference options the card states are the ones the weights load with (the card's figures were measured so).
    stated = re.search(r"^Inference options \(.*?\): (.+)\.$", (shipped.parent / "README.md").read_text(), re.M)
    assert stated, "the card states no inference options"
    for name, value in (pair.split("=", 1) for pair in stated.group(1).split(", ")):
        assert str(getattr(segmenter.options, name)) == value, (name, value, segmenter.options)
    ious = one_click_cars(segmenter)  # the cars of a street no training or validation set uses
    assert len(ious) >= 2
    assert min(ious) > CARS_MIN_IOU, ious


def test_extra_must_be_plain_data(tmp_path: Path) -> None:
    model = ClickEnhanceNet(SMALL)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = save_checkpoint(tmp_path / "ok.pt", model, SMALL, extra={"optimizer": optimizer.state_dict()})
    assert load_checkpoint(path)[2]["optimizer"]["param_groups"][0]["lr"] == 0.1
    with pytest.raises(TypeError, match="extra"):
        save_checkpoint(tmp_path / "bad.pt", model, SMALL, extra={"when": object()})
    assert not (tmp_path / "bad.pt").exists()
