"""Mixed generated training data: parts of several domains and sensors in one folder, the any-object config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from clickenhance_model.config import config_from_dict
from clickenhance_model.scenes.generate import generate_scan
from clickenhance_model.scenes.writer import read_scan
from clickenhance_model.training.config import (
    CONFIG_DIR,
    DataConfig,
    SyntheticConfig,
    SyntheticPart,
    load_train_config,
)
from clickenhance_model.training.data import index_objects, open_split
from clickenhance_model.training.synthetic import (
    MANIFEST,
    ensure_generated,
    frame_plan,
    generator_config,
    part_counts,
    part_generator,
    scans_of_sensors,
)

REPO = Path(__file__).resolve().parents[1]
SMALL_ROOMS = {"indoor": {"camera_views": [1, 1], "viewpoints": [1, 2], "table_clutter": [1, 2]}}


def tiny_mix() -> SyntheticConfig:
    """Two streets seen by a VLP-16 and one room seen by the depth camera in the training split."""
    mix = (SyntheticPart("outdoor", "vlp16", 2.0), SyntheticPart("indoor", "rgbd", 1.0))
    return SyntheticConfig(train_scans=3, val_scans=1, seed=8, generator=SMALL_ROOMS, mix=mix)


def test_shares_split_a_count_by_largest_remainder() -> None:
    assert part_counts([0.5, 0.25, 0.25], 5) == [3, 1, 1]
    assert part_counts([1.0, 1.0, 1.0], 2) == [1, 1, 0]
    assert sum(part_counts([0.18, 0.14, 0.14, 0.1, 0.06, 0.1, 0.18, 0.1], 800)) == 800


def test_mixed_parts_are_generated_in_one_folder_and_read_like_real_data(tmp_path: Path) -> None:
    config = tiny_mix()
    plan = frame_plan(config, 3)
    assert [domain for domain, _ in plan] == ["outdoor", "outdoor", "indoor"]
    assert plan[0][1].lidar.beams == 16 and plan[2][1].indoor.sensor == "rgbd"
    ensure_generated(tmp_path, config, show_progress=False, workers=1)
    street, room = (read_scan(tmp_path / f"sequences/00/velodyne/00000{k}.bin") for k in (1, 2))
    assert street.rgb is None and room.rgb is not None
    expected = generate_scan("indoor", 8, 2, part_generator(generator_config(config), config.mix[1]))
    np.testing.assert_array_equal(room.xyz, expected.xyz)
    elevation = np.degrees(np.arctan2(street.xyz[:, 2], np.linalg.norm(street.xyz[:, :2], axis=1)))
    assert -15.5 < elevation.min() and elevation.max() < 15.5  # the VLP-16's rings
    data = DataConfig(root=str(tmp_path), min_points=20, synthetic=config)
    objects = index_objects(open_split(data, "train", show_progress=False), data)
    assert {o.scene for o in objects} >= {"00/000000", "00/000002"}  # targets from streets and the room
    check_room_prior(data, objects)


def check_room_prior(data: DataConfig, objects: list) -> None:
    """A fusion network reads a scene's prior off its domain preset's own graph, per point, as each network
    voxel's share of region points, unless its maps are that graph: outdoor maps have their own frozen graph
    (`MAPS_PRESETS`), so every scene; indoor maps at the indoor preset's voxels and normal penalty are the
    rooms' graph, so only the streets. A prior that comes with the maps is 0 or 1 per voxel."""
    import dataclasses

    import torch

    from clickenhance_model.inference.voxel_graph import INDOOR, maps_graph_config
    from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
    from clickenhance_model.training.click_simulation import ClickState, encode_sample
    from clickenhance_model.training.data import load_train_object, own_prior_presets, scene_domains

    network = NetworkConfig(channels=(8, 16), cse_channels=(4, 8), prior_fusion=True)
    outdoor = ModelConfig(input=InputConfig(geodesic_maps="outdoor", geodesic_normal_penalty=2.0), network=network)
    rooms = ModelConfig(input=InputConfig(voxel_size=INDOOR.voxel_size, crop_radius=5.0, geodesic_maps="indoor",
                                          geodesic_normal_penalty=INDOOR.normal_penalty), network=network)  # fmt: skip
    dataset = open_split(data, "train", show_progress=False)
    domains = scene_domains(dataset, data, "train")
    assert domains == {"00/000000": "outdoor", "00/000001": "outdoor", "00/000002": "indoor"}
    assert own_prior_presets(domains, outdoor) == domains
    assert own_prior_presets(domains, rooms) == {"00/000000": "outdoor", "00/000001": "outdoor"}
    plain = dataclasses.replace(outdoor, network=dataclasses.replace(network, prior_fusion=False))
    assert own_prior_presets(domains, plain) == {}
    for model, scene in ((outdoor, "00/000000"), (outdoor, "00/000002"), (rooms, "00/000002")):
        presets = own_prior_presets(domains, model)
        item = next(o for o in objects if o.scene == scene)
        loaded = load_train_object(dataset, item, model.input.voxel_size, graph_config=maps_graph_config(model),
                                   prior_preset=presets.get(scene, ""))  # fmt: skip
        assert (loaded.prior is not None) == (scene in presets)
        state = ClickState()
        state.add(int(np.flatnonzero(loaded.target)[0]), positive=True)
        prior = encode_sample(loaded, state, model)["prior"]
        assert prior.dtype == torch.float32 and ((prior >= 0) & (prior <= 1)).all() and prior.max() > 0
        if scene not in presets:
            assert set(prior.unique().tolist()) <= {0.0, 1.0}


def test_folders_of_older_generator_versions_are_still_accepted(tmp_path: Path) -> None:
    config = SyntheticConfig(train_scans=1, val_scans=1, beams=16, azimuth_steps=256)
    ensure_generated(tmp_path, config, show_progress=False, workers=1)
    record = yaml.safe_load((tmp_path / MANIFEST).read_text())
    for key in ("generator", "mix"):  # settings this version added: absent from older records
        del record["synthetic"][key]
    for key in ("target_mix", "building_parts", "benches", "bollard_rows", "fence_segments", "sidewalk_bushes",
                "other_objects"):  # fmt: skip
        del record["generator"]["outdoor"][key]
    for key in ("pattern", "elevations_deg", "range_noise_growth", "fov_deg", "rosette_rays", "rosette_hz",
                "image_size"):  # fmt: skip
        del record["generator"]["lidar"][key]
    for key in ("sensor", "camera", "camera_views", "chair_styles", "round_table_prob", "lamps", "bins",
                "pillows_per_sofa", "table_clutter"):  # fmt: skip
        del record["generator"]["indoor"][key]
    (tmp_path / MANIFEST).write_text(yaml.safe_dump(record, sort_keys=False))
    ensure_generated(tmp_path, config, show_progress=False, workers=1)  # same settings: reused
    with pytest.raises(ValueError, match="other settings"):
        benches = {"outdoor": {"benches": [1, 2]}}
        other = SyntheticConfig(train_scans=1, val_scans=1, beams=16, azimuth_steps=256, generator=benches)
        ensure_generated(tmp_path, other, show_progress=False)
    record["generator"]["outdoor"]["hovercrafts"] = [1, 2]  # a record of a newer version: not ours either
    (tmp_path / MANIFEST).write_text(yaml.safe_dump(record, sort_keys=False))
    with pytest.raises(ValueError, match="other settings"):
        ensure_generated(tmp_path, config, show_progress=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"generator": {"outdoor": {"bench": [1, 2]}}}, "data.synthetic.generator.outdoor"),
        ({"generator": {"outdoor": {"target_mix": {"lamppost": 1.0}}}}, "unknown group"),
        ({"mix": [{"domain": "outdoor", "sensor": "rgbd"}]}, "outdoor sensor must be one of"),
        ({"mix": [{"domain": "indoor", "sensor": "vlp16"}]}, "indoor sensor must be one of"),
        ({"mix": [{"domain": "outdoor", "share": 0}]}, "share must be > 0"),
    ],
)
def test_bad_mix_settings_are_refused(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_dict(SyntheticConfig, data, where="data.synthetic")


def test_any_object_config_mixes_sensors_and_object_kinds() -> None:
    config = load_train_config(CONFIG_DIR / "any_object.yaml")
    synthetic = config.data.synthetic
    plan = frame_plan(synthetic, synthetic.train_scans)
    outdoor = [settings.lidar for domain, settings in plan if domain == "outdoor"]
    assert {lidar.beams for lidar in outdoor if lidar.pattern == "spinning"} == {16, 32, 64, 128}
    assert any(lidar.pattern == "rosette" for lidar in outdoor)
    assert {settings.indoor.sensor for domain, settings in plan if domain == "indoor"} == {"rgbd", "fused"}
    mix = plan[0][1].outdoor.target_mix
    assert set(mix) == {"vehicle", "person", "cyclist", "pole", "sign", "trunk", "canopy", "bush", "hedge", "bin",
                        "bench", "bollard", "fence", "wall", "building", "building_part", "other"}  # fmt: skip
    assert config.clicks.max_rounds >= 8 and config.model.input.geodesic_maps == "outdoor"
    assert (REPO / config.init_from).is_file()  # the shipped default it fine-tunes


def test_trainer_runs_on_streets_and_rooms_of_a_mix(tmp_path: Path) -> None:
    from clickenhance_model.train import main

    config = yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())
    config["data"]["synthetic"] = {"train_scans": 2, "val_scans": 2, "seed": 8, "generator": SMALL_ROOMS,
                                   "mix": [{"domain": "outdoor", "sensor": "vlp16"}, {"domain": "indoor",
                                                                                      "sensor": "rgbd"}]}  # fmt: skip
    config["model"]["input"]["geodesic_maps"] = "outdoor"  # as the any-object config
    config.update(epochs=1, samples_per_epoch=4, max_steps=2)
    path = tmp_path / "tiny_mix.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["--config", str(path), "--data-root", str(tmp_path / "scenes"), "--out", str(tmp_path / "run"),
            "--device", "cpu", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    objects = json.loads((tmp_path / "run/objects_train.json").read_text())["objects"]
    assert {row["scene"] for row in objects} == {"00/000000", "00/000001"}  # a street and a room
    assert (tmp_path / "run/last.pt").is_file()


def test_evaluation_clicks_each_generated_scene_with_its_domain(tmp_path: Path) -> None:
    """A generated mix's streets and rooms are clicked with their own graph preset, as in training."""
    from clickenhance_model.baseline import BaselineSegmenter
    from clickenhance_model.datasets import build_dataset
    from clickenhance_model.evaluate import main as evaluate
    from clickenhance_model.evaluation.protocol import ProtocolSettings, evaluate_scene
    from clickenhance_model.training.synthetic import manifest_domains, manifest_sensors

    mix = (SyntheticPart("outdoor", "vlp16", 1.0), SyntheticPart("indoor", "rgbd", 1.0))
    config = SyntheticConfig(train_scans=1, val_scans=2, seed=8, generator=SMALL_ROOMS, mix=mix)
    ensure_generated(tmp_path / "mix", config, show_progress=False, workers=1)
    assert manifest_domains(tmp_path / "mix") == {"00/000000": "outdoor", "01/000000": "outdoor",
                                                  "01/000001": "indoor"}  # fmt: skip
    assert manifest_domains(tmp_path) == {}  # no settings record: not a generated folder
    assert manifest_sensors(tmp_path / "mix") == {"00/000000": "outdoor vlp16", "01/000000": "outdoor vlp16",
                                                  "01/000001": "indoor rgbd"}  # fmt: skip
    assert manifest_sensors(tmp_path) == {}
    out = tmp_path / "eval"
    argv = ["--method", "baseline", "--dataset", "semantickitti", "--root", str(tmp_path / "mix"),
            "--sequences", "01", "--max-clicks", "2", "--min-points", "20", "--out", str(out)]  # fmt: skip
    assert evaluate(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["domain"] == "per scene (generator manifest)"
    presets = run["baseline_config"]
    assert presets["indoor"]["voxel_size"] == 0.03 and presets["outdoor"]["voxel_size"] == 0.1
    entries = [json.loads(line) for line in (out / "objects.jsonl").read_text().splitlines()]
    rows = [entry["object"] for entry in entries if "object" in entry]
    room_rows = [row for row in rows if row["scene"] == "01/000001"]
    assert room_rows and len(rows) > len(room_rows)
    from clickenhance_model.datasets.scannet import NYU40_NAMES
    from clickenhance_model.datasets.semantic_kitti import CLASS_NAMES

    # a room's objects carry their NYU40 names (a SemanticKITTI reader would call the NYU bookshelf, 10, a car)
    assert all(row["class_name"] == NYU40_NAMES[row["semantic_id"]] for row in room_rows)
    assert all(row["class_name"] == CLASS_NAMES[row["semantic_id"]] for row in rows if row not in room_rows)
    results = json.loads((out / "results.json").read_text())  # each part summarised on its own
    parts = results["per_sensor"]
    assert sorted(parts) == ["indoor (all sensors)", "indoor rgbd", "outdoor (all sensors)", "outdoor vlp16"]
    assert parts["indoor rgbd"] == parts["indoor (all sensors)"] and parts["indoor rgbd"]["objects"] == len(room_rows)
    assert parts["outdoor vlp16"]["objects"] == len(rows) - len(room_rows)
    room_noc = sum(next((k + 1 for k, iou in enumerate(row["ious"]) if iou >= 0.85), 2) for row in room_rows)
    assert parts["indoor rgbd"]["NoC@85"] == pytest.approx(room_noc / len(room_rows))
    assert "### Per sensor (the parts of the generated mix)" in (out / "table.md").read_text()
    dataset = build_dataset("semantickitti", tmp_path / "mix", sequences=("01",))
    room = dataset.load_scene("01/000001")
    objects = [o for o in dataset.objects(room, 20) if o.instance_id in {row["instance_id"] for row in room_rows}]
    indoor = list(evaluate_scene(BaselineSegmenter.for_domain("indoor"), room, objects, ProtocolSettings(max_clicks=2)))
    assert [r.ious for r in indoor] == [row["ious"] for row in sorted(room_rows, key=lambda r: r["instance_id"])]


def test_evaluation_clicks_only_the_scene_domain_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`clickenhance-eval --scene-domain` and `--scene-sensors`: of a mix, only its streets or only its rooms, or
    only one sensor's scans, are clicked; asking a folder of streets alone for rooms, or a mix for a sensor it
    does not hold, is an error, not an empty run."""
    from clickenhance_model.evaluate import main

    root = tmp_path / "mix"
    ensure_generated(root, tiny_mix(), show_progress=False, workers=1)
    common = ["--dataset", "semantickitti", "--root", str(root), "--sequences", "00", "--method", "baseline",
              "--max-clicks", "2", "--min-points", "20"]  # fmt: skip
    scenes = {}
    for domain in ("outdoor", "indoor", None):
        out = tmp_path / f"eval_{domain}"
        assert main([*common, "--out", str(out), *(["--scene-domain", domain] if domain else [])]) == 0
        results = json.loads((out / "results.json").read_text())
        scenes[domain] = {o["scene"] for o in results["objects"]}
        assert results["run"].get("scene_domain") == domain
    assert scenes["outdoor"] and scenes["outdoor"] <= {"00/000000", "00/000001"}
    assert scenes["indoor"] == {"00/000002"}
    assert scenes[None] == scenes["outdoor"] | scenes["indoor"]
    for sensors, expected in ((["vlp16"], scenes["outdoor"]), (["rgbd", "vlp16"], scenes[None])):
        out = tmp_path / f"eval_{'_'.join(sensors)}"
        assert main([*common, "--out", str(out), "--scene-sensors", *sensors]) == 0
        results = json.loads((out / "results.json").read_text())
        assert {o["scene"] for o in results["objects"]} == expected
        assert results["run"]["scene_sensors"] == sorted(sensors)
    names = ["00/000000", "00/000001", "00/000002", "00/000003"]
    assert scans_of_sensors(root, names, {"rgbd"}) == ["00/000002"]
    assert scans_of_sensors(root, names[::-1], ["vlp16", "rgbd"]) == names[2::-1]  # in the order given
    with pytest.raises(ValueError, match="records no scan of hdl64 "):  # a misspelt or absent sensor: no empty pick
        scans_of_sensors(root, names, ["vlp16", "hdl64"])
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "os1"), "--scene-sensors", "os1_128"]) == 2
    assert "records no scan of os1_128 (its sensors: rgbd, vlp16)" in capsys.readouterr().err
    street_only = tmp_path / "streets"  # generated streets only
    ensure_generated(street_only, SyntheticConfig(train_scans=1, val_scans=1, beams=16, azimuth_steps=256),
                     show_progress=False, workers=1)  # fmt: skip
    capsys.readouterr()
    code = main(["--dataset", "semantickitti", "--root", str(street_only), "--method", "baseline",
                 "--scene-domain", "indoor", "--out", str(tmp_path / "none")])  # fmt: skip
    assert code == 2 and "has no such scene (its scenes are outdoor)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="records no scan of vlp16 \\(its sensors: none recorded\\)"):
        scans_of_sensors(street_only, ["00/000000"], ["vlp16"])  # no mix: no sensor recorded
