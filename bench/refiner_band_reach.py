"""How much of a first click's error the point refiner can reach at all: its boundary band against the errors.

The refiner (`unet.PointRefiner`) answers only in the prior's boundary band (`inference.point_features.
boundary_band`: points whose 10 cm voxel holds both prior values or touches a voxel of the other value). On a
sparse scan (a 16-ring LiDAR, rings 0.3 to 0.6 m apart at 10 to 20 m) the points an object's first region
misses may share no voxel edge with it: the band is then empty, and no fit of the refiner can save a click
there. This script clicks once on each object as the evaluation's simulated user does (the object's point
farthest from its border), and reports per object the IoU after that click, the band's points, and how many of
the click's wrong points (missed object points, taken background points) lie in the band. The closing lines
count the objects whose band is empty and the share of all first-click errors inside a band: what a refiner on
this band can reach on these scans. They also split what the refiner changed against the region it corrects
(points it took out of the region, points it added) into right and wrong changes: a refiner whose additions are
mostly wrong gains nothing from a wider band. Compare band rules on generated scans with it before judging one.
The last line splits the errors of the objects left below 85% into missed object points and taken background: a
generated sparse scan whose small objects overgrow where the real ones miss their lowest ring teaches a refiner
not to add (compare the two with `--max-points 150`). Its last two lines say which classes that taken background
belongs to and, on SemanticKITTI's classes, of which kind the objects are (things, stuff, or the buildings and
vegetation no real set holds): a generated cut whose overgrowth is mostly building parts spreading into their
building differs from a real one in the targets it draws, not in how its poles and trunks stand.

    python bench/refiner_band_reach.py --checkpoint REFINED.pt --dataset semantickitti \\
        --root ../shared/real_scans/semantickitti --objects all --keep-rings 4
    python bench/refiner_band_reach.py --checkpoint REFINED.pt --dataset npy --root ../shared/real_scans/scannet
    python bench/refiner_band_reach.py --checkpoint REFINED.pt --root runs/scenes/any_object_bleed --sequences 01 \\
        --min-points 100 --scene-stride 4
    python bench/refiner_band_reach.py --checkpoint REFINED.pt --root runs/scenes/any_object_rgbd_colour \\
        --sequences 01 --scene-sensors hdl64 os1_128 os2_128 --keep-rings 4 --min-points 25

The inference options are the checkpoint's own (a fusion model's `ground_prior` hands an object clicked on
the ground to the prior: such objects are listed as "prior").
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from clickenhance_model.datasets import build_dataset
from clickenhance_model.datasets.semantic_kitti import SemanticKittiDataset, object_kind
from clickenhance_model.evaluate import named_for_domain
from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_model.segmenter import ModelSession, Segmenter
from clickenhance_model.training.synthetic import manifest_domains, scans_of_sensors


class FirstClick(NamedTuple):
    """One object's first click: its IoU, the refiner's band, the errors, and what the refiner changed against the
    region it corrects (removed: points it took out of it; added: points it put in; right: the change is correct)."""

    iou: float
    band: int
    wrong: int
    in_band: int
    removed_right: int
    removed_wrong: int
    added_right: int
    added_wrong: int
    missed: int  # object points the answer left out
    taken: int  # background points the answer took
    taken_classes: tuple[tuple[int, int], ...] = ()  # (class id, points) of the taken ones, given the cloud's labels

    @property
    def changes(self) -> tuple[int, int, int, int]:
        """The refiner's changes: removed right, removed wrong, added right, added wrong."""
        return self.removed_right, self.removed_wrong, self.added_right, self.added_wrong


def first_click_reach(session: ModelSession, xyz: np.ndarray, truth: np.ndarray,
                      semantic: np.ndarray | None = None) -> FirstClick | None:  # fmt: skip
    """The first click of the evaluation's simulated user on one object of the cloud `xyz` of `session` (its clicks
    cleared first, so one session serves every object of a scan); None where the refiner takes no part
    (`ModelSession.refiner_inputs`). With the cloud's class ids (`semantic`), the taken points' classes too."""
    click = next_click(xyz, np.zeros(len(xyz), dtype=bool), truth)
    session.reset()
    mask = session.add_click(click.index, positive=True)
    inputs = session.refiner_inputs([(click.index, True)])
    if inputs is None:
        return None
    at = session.valid_indices[inputs[0]]
    band = np.zeros(len(xyz), dtype=bool)
    band[at] = True
    before = inputs[1] > session.segmenter.logit_threshold  # the band's answer before the refiner
    after, object_point = mask[at], truth[at]
    removed, added = before & ~after, ~before & after
    wrong = mask != truth
    classes: tuple[tuple[int, int], ...] = ()
    if semantic is not None:
        ids, counts = np.unique(semantic[mask & ~truth], return_counts=True)
        classes = tuple((int(i), int(c)) for i, c in zip(ids, counts, strict=True))
    return FirstClick(float((mask & truth).sum() / max((mask | truth).sum(), 1)), int(band.sum()), int(wrong.sum()),
                      int((wrong & band).sum()), int((removed & ~object_point).sum()),
                      int((removed & object_point).sum()), int((added & object_point).sum()),
                      int((added & ~object_point).sum()), int((truth & ~mask).sum()),
                      int((mask & ~truth).sum()), classes)  # fmt: skip


def main() -> None:
    """One row per object, then the objects with an empty band and the share of errors the band holds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a network with a point refiner")
    parser.add_argument("--dataset", default="semantickitti", help="reader of --root (as clickenhance-eval's)")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--sequences", nargs="+", help="semantickitti: sequences to read (a generated mix: 01, its "
                        "validation split)")  # fmt: skip
    parser.add_argument("--scene-stride", type=int, default=1, help="every K-th scan only")
    parser.add_argument("--scene-sensors", nargs="+", metavar="SENSOR",
                        help="a generated mix: only the scans of these sensors (as clickenhance-eval's; e.g. hdl64 "
                             "os1_128 os2_128 with --keep-rings 4: the generated 16-ring cut)")  # fmt: skip
    parser.add_argument("--objects", help="semantickitti: things, stuff or all")
    parser.add_argument("--keep-rings", type=int, help="semantickitti: keep every K-th laser ring")
    parser.add_argument("--min-points", type=int, default=50, help="skip smaller objects")
    parser.add_argument("--max-points", type=int, help="skip larger objects (e.g. 150: a sparse scan's small objects)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segmenter = Segmenter.load(args.checkpoint, device="cpu")
    if not segmenter.config.network.point_refiner:
        raise SystemExit(f"{args.checkpoint}: no point refiner to measure")
    options = {k: v for k, v in (("objects", args.objects), ("keep_rings", args.keep_rings),
                                 ("sequences", args.sequences and tuple(args.sequences))) if v is not None}  # fmt: skip
    dataset = build_dataset(args.dataset, args.root, **options)
    domains = manifest_domains(args.root)  # a generated mix: each scan's own domain, as the evaluation's
    print("scene | class | points | IoU@1 | band points | wrong points | wrong in band | removed right / wrong | "
          "added right / wrong")
    empty = measured = prior = 0
    wrong_all = wrong_band = 0
    changes = np.zeros(4, dtype=np.int64)
    missed = taken = 0  # the first answers' errors of objects it leaves below 85% IoU
    below = 0
    taken_classes: Counter[str] = Counter()  # ... their taken points by class
    kinds: dict[str, np.ndarray] = {}  # ... and by kind (SemanticKITTI's classes): objects, missed, taken
    names_of = dataset.class_names
    names = dataset.scene_names()[:: args.scene_stride]
    if args.scene_sensors:
        try:
            names = scans_of_sensors(args.root, names, args.scene_sensors)
        except ValueError as error:
            raise SystemExit(f"--scene-sensors: {error}") from error
    for name in names:
        scene = dataset.load_scene(name)
        domain = domains.get(name, dataset.domain)
        session = segmenter.with_options(domain=domain).session(scene.xyz, scene.rgb)
        objects = [o for o in dataset.objects(scene, args.min_points)
                   if args.max_points is None or o.num_points <= args.max_points]  # fmt: skip
        for obj in named_for_domain(objects, domain, dataset.domain):
            truth = scene.object_mask(obj.instance_id)
            reach = first_click_reach(session, scene.xyz, truth, scene.semantic)
            if reach is None:
                prior += 1
                print(f"{name} | {obj.class_name} | {int(truth.sum())} | prior | | |")
                continue
            measured += 1
            empty += reach.band == 0
            wrong_all, wrong_band = wrong_all + reach.wrong, wrong_band + reach.in_band
            changes += reach.changes
            if reach.iou < 0.85:
                below, missed, taken = below + 1, missed + reach.missed, taken + reach.taken
                taken_classes.update({names_of.get(c, str(c)): n for c, n in reach.taken_classes})
                if isinstance(dataset, SemanticKittiDataset):
                    part = kinds.setdefault(object_kind(obj.semantic_id), np.zeros(3, dtype=np.int64))
                    part += (1, reach.missed, reach.taken)
            print(f"{name} | {obj.class_name} | {int(truth.sum())} | {100 * reach.iou:.1f} | {reach.band} | "
                  f"{reach.wrong} | {reach.in_band} | {reach.removed_right} / {reach.removed_wrong} | "
                  f"{reach.added_right} / {reach.added_wrong}")
    print(f"objects: {measured} with the refiner ({prior} handed to the prior); band empty at the first click: "
          f"{empty} of {measured}")
    print(f"first-click wrong points inside the band: {wrong_band} of {wrong_all} "
          f"({100 * wrong_band / max(wrong_all, 1):.1f}%)")
    print(f"the refiner's first-click changes: removed {changes[0]} right / {changes[1]} wrong, added {changes[2]} "
          f"right / {changes[3]} wrong")
    print(f"objects below 85% after the first click: {below}; their answers missed {missed} object points and took "
          f"{taken} background points")
    print("their taken background by class: " + ", ".join(f"{c} {n}" for c, n in taken_classes.most_common()))
    if kinds:
        print("those objects by kind (objects: missed / taken points): " + ", ".join(
            f"{k} {n}: {m} / {t}" for k, (n, m, t) in sorted(kinds.items())))  # fmt: skip


if __name__ == "__main__":
    main()
