"""Fit the point refiner of a trained prior-fusion network on generated scans; the network stays frozen.

A network voxel (10 cm) gives all its points one logit, so where a table's foot meets the floor or a
car's sill the kerb, the fused answer can only follow the geodesic prior point by point. The refiner
(`unet.PointRefiner`) adds a per-point correction from `inference.point_features`. It is fitted here,
after training, on click states of the simulated user: for each object of a sample of the generated
scans the simulated user clicks up to `--clicks` times on the baseline's answers (the click states the
network meets when it answers like the prior) or, with `--user network`, on the frozen network's own (the
states it meets at evaluation), or, with `--user answerer` and memory, on the answers the rows show
(`--memory-from`'s: the states that refiner's own users meet, its collapses among them), and the network answers
one or two of those states (`--states-per-object 0`: every one). Each point of the prior's boundary band in the
crop (where the refiner acts) is a training row: all those whose voxel holds an error or two labels, and a random
share of the rest, weighted as the points they stand for. Collecting the rows takes about 5 minutes per 100 scans
on one CPU core (about 20 with the network as the user and every state); the fit itself takes seconds.

    clickenhance-fit-point-refiner --checkpoint runs/RUN/best.pt --root runs/scenes/any_object_bleed \\
        --out runs/RUN/refined.pt

The output checkpoint is the input one with `network.point_refiner` on and the fitted weights; its
`extra["point_refiner_fit"]` records the settings and the held-out figures. With `--as-fusion` the input
may be a network without prior fusion (the shipped default): it starts as a fusion network whose network
gain is 0, so the refiner corrects the training-free geodesic region itself (the baseline's answer, which
such a network reproduces exactly) and the network's logits are only one of its inputs. `--no-refiner-colour`
fits a refiner that reads no colour (`NetworkConfig.point_refiner_colour`) from the same rows. `--refiner-reach M`,
`--refiner-flips` and `--refiner-column M` widen the band the refiner answers (`NetworkConfig.point_refiner_reach`,
`point_refiner_flips`, `point_refiner_column`); rows are collected in that band and fit only a refiner of the same.
`--refiner-growth` (with `--refiner-flips`) adds two columns saying how large the latest click's move was against the
region before it (`NetworkConfig.point_refiner_growth`): the flip columns flag a positive click that floods the hedge
behind a fence and one that adds the fence's missed rings alike; rows must be collected with it.
`--refiner-shape G` adds three columns (each point's local shape and the first click's: surface variation, the
vertical part of the normal; `NetworkConfig.point_refiner_shape`) and, at an object's first click, answers the prior's
points whose surface variation differs from the clicked point's by more than G: the canopy a trunk's first click takes.
`--refiner-memory` (with `--refiner-flips`) adds a column holding the answer shown after the click before
(`NetworkConfig.point_refiner_memory`) and answers every point where the prior differs from it. That answer is
another model's: `--memory-from CKPT` (a refined checkpoint, run with the same inference options; its answers are
taken click by click when it has memory itself) or, without it, the network being fitted before its refiner acts
(the fused prior). A first fit takes a refiner without memory as that model; a second can take the first's answers.
`--weighting iou` divides each click state's rows by its union in the band (the band's points of the object or of
the answer): the loss then weighs every state as its error within the band where the refiner acts (not the object's
IoU error; a nearly right region has a band mostly wrong too), as NoC and IoU@k weigh every object, instead of
letting large objects' crops decide.
`--ring-cuts 1 4` also collects each street scan of a spinning LiDAR on its every-4th-ring cut (`datasets.laser_rings`,
as the evaluation's `--keep-rings 4` makes a 16-ring sensor of an HDL-64E) where that cut keeps at least 16 rings, so
the rows hold the uneven ring gaps of a thinned real sensor, which the generated 16-ring sensor's even spacing lacks.
`--rows A.npz B.npz` fits on several collections at once (collected with the same reach), e.g. cuts collected in
parallel.
`--collapse-states` also answers every state right after a click that collapsed the user's mask (an IoU drop of over
20 points, `evaluation.metrics.click_collapses`): drawn states rarely hit one, yet a late negative click taking most
of a nearly finished car is what leaves a real object stuck; with `--refiner-flips` the points it took are in the
band, told which way they moved.
`--object-kinds things stuff` lets the simulated user segment only the street objects of those kinds
(`semantic_kitti.object_kind`): vehicles and people, and poles, trunks, signs, fences and other objects, which the real
dev sets hold; a generated street's building parts, crowns and hedges (kind "other") are targets the operator rarely
asks for. Rooms keep every object. Their states teach the refiner to cut a part off the whole it overgrew into, and
session 36 found the small objects need that too (without them the generated 16-ring cut lost its gain, things and
stuff included: docs/default_model.md), so every kind is the default.
`--refiner-gain 0.75` scales the fitted correction: a point then leaves the prior's answer (a logit of +-4 at network
gain 0) only where the correction beats it by a third more, so the refiner moves fewer points and fewer of them wrongly
(the held-out figures are those of the scaled refiner).
`--network-gain 0.75` (with `--as-fusion`) writes the fusion with that network gain instead of 0, set after the fit
like `--refiner-gain`: the refiner stays confined to the prior's band and flips, so without it a first click's flood
into the hedge a car touches stays (the refiner never sees those points), while the network's logit, scaled so that a
sure network (|logit| over 5.3) outvotes the prior's +-4, removes it everywhere. The rows and the held-out figures are
at gain 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.checkpoint import load_checkpoint
from clickenhance_model.datasets.laser_rings import MIN_CUT_RINGS, ring_index
from clickenhance_model.datasets.semantic_kitti import OBJECT_KINDS, SemanticKittiDataset, object_kind
from clickenhance_model.errors import ClickEnhanceError
from clickenhance_model.evaluation.metrics import click_collapses
from clickenhance_model.evaluation.protocol import ProtocolSettings, object_rng, simulate_object
from clickenhance_model.inference.session import InteractiveSession
from clickenhance_model.model_config import DOMAINS, NetworkConfig
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.config import train_config_from_dict, trained_domains
from clickenhance_model.training.initialisation import initialise_weights
from clickenhance_model.training.synthetic import manifest_domains
from clickenhance_model.unet import ClickEnhanceNet, PointRefiner

USERS = ("baseline", "network", "answerer")
# the refiner settings that rows are collected with, its band's and its growth columns' (a fit must use the rows'
# own): their defaults
BAND_DEFAULTS: dict[str, float | bool] = {"refiner_reach": 0.0, "refiner_flips": False, "refiner_column": 0.0,
                                          "refiner_growth": False, "refiner_memory": False, "refiner_disagree": 0.0,
                                          "refiner_disagree_first": False, "refiner_shape": 0.0}
# the FitSettings fields that say how rows are collected: a fit of saved rows takes them from the rows' record
COLLECTION_SETTINGS = ("clicks", "user", "states_per_object", "objects_per_scene", "scene_stride", "held_out_every",
                       "min_points", "rest_per_state", "ring_cuts", "collapse_states", "object_kinds", "memory_from")
WEIGHTINGS = ("points", "iou")


@dataclass(frozen=True)
class FitSettings:
    """How rows are collected and the refiner fitted (recorded in the output checkpoint)."""

    clicks: int = 10  # click budget of the simulated user per object
    # whose answers the simulated user corrects: "baseline", "network" (the frozen network's) or, with memory,
    # "answerer" (the answers the rows show: `memory_from`'s, so its own collapses are the states answered)
    user: str = "baseline"
    states_per_object: int = 2  # click states answered per object: the first and k - 1 drawn ones; 0: every state
    objects_per_scene: int = 2
    scene_stride: int = 4  # every k-th scan of the split
    held_out_every: int = 8  # every k-th of those scans is held out to report the fit
    min_points: int = 100
    rest_per_state: int = 1500  # random rows drawn among the points whose voxel has no error and one label
    epochs: int = 30
    batch: int = 8192
    lr: float = 3e-3
    seed: int = 0
    # "points": every crop point weighs the same, so large objects' crops dominate the loss; "iou": a click
    # state's rows are divided by its union in the band (band points of the object or of the answer), so each
    # state weighs as its error in the band does and a pole's state counts as much as a building's (NoC and IoU
    # are per object)
    weighting: str = "points"
    # every k-th laser ring of the street scans of spinning sensors, one collection per cut (1: every ring); a cut
    # k > 1 is used where it leaves at least MIN_CUT_RINGS rings, on objects of at least min_points / k points
    ring_cuts: tuple[int, ...] = (1,)
    # also answer the state right after each click that collapsed the user's mask (`click_collapses`)
    collapse_states: bool = False
    # the kinds (`semantic_kitti.object_kind`) of street objects the simulated user segments: a generated street
    # also holds building parts, hedges and crowns as objects, which no real dev set asks for but which teach the
    # refiner the overgrowth of a part into its whole; rooms' objects are all furniture and always count
    object_kinds: tuple[str, ...] = OBJECT_KINDS
    # the fitted correction is scaled by this (`scale_refiner`): below 1 a point leaves the prior's answer only where
    # the fit is surer of it, so fewer points flip and a smaller share of the flips are wrong
    refiner_gain: float = 1.0
    # for a refiner with memory: the checkpoint whose answers are the rows' answers shown after the click before ("":
    # the network being fitted, before its refiner acts)
    memory_from: str = ""
    # with --as-fusion: the network gain of the written fusion (`NetworkConfig.prior_fusion`), set after the fit like
    # `refiner_gain`. Rows are collected, and the refiner fitted, at gain 0 (the prior's answer, the network's logit one
    # of the refiner's inputs); a gain above 0 lets the network's own logit vote at every point too, outside the band
    # where the refiner acts: there a first click's flood into a hedge is the network's to remove, or no one's
    network_gain: float = 0.0
    # the domains where that gain and the band of --refiner-disagree apply (`NetworkConfig.network_gain_domains`);
    # empty: those the network was trained on (its training config's; every domain without one), so that a street
    # network neither votes nor disputes in a room
    network_gain_domains: tuple[str, ...] = ()
    # the written network holds its sure answers after the refiner where it speaks (`NetworkConfig.point_refiner_keep`,
    # a logit; 0: off), set after the fit: rows and fit do not see it
    network_keep: float = 0.0
    # metres: that background hold yields to positive clicks within this (`NetworkConfig.point_refiner_keep_yield`)
    network_keep_yield: float = 0.0
    # a logit: that background hold only where the network's logit is at most minus this (0: minus network_keep;
    # `NetworkConfig.point_refiner_keep_out`)
    network_keep_out: float = 0.0
    # a logit: the user's clicks overrule those holds where they land on the network's sure opposite answer
    # (`NetworkConfig.point_refiner_keep_overruled`; 0: never)
    network_keep_overruled: float = 0.0
    # the disputes are dropped too where a positive click overrules the background hold
    # (`NetworkConfig.point_refiner_disagree_overruled`; needs network_keep_overruled)
    network_disagree_overruled: bool = False
    # points: the disputes and the holds only for click states whose prior region holds at least this many
    # (`NetworkConfig.point_refiner_network_min_region`; 0: always)
    network_min_region: int = 0
    # a logit: the disputes and the holds only on an object whose first positive click the network calls object at
    # this or more (`NetworkConfig.point_refiner_network_recognised`; 0: on every object)
    network_recognised: float = 0.0
    # the disputes and the holds only where the network calls at least this share of the prior region's crop points
    # object (`NetworkConfig.point_refiner_network_min_share`; 0: always)
    network_min_share: float = 0.0
    # a logit: at an object's first click, where the network speaks and recognises the object, the points outside the
    # prior it calls object at this or more join the answer (`NetworkConfig.point_refiner_network_adds`; 0: off)
    network_adds: float = 0.0
    # metres: those additions only within this of the prior region (`point_refiner_network_adds_reach`; 0: anywhere)
    network_adds_reach: float = 0.0
    # the disputes the written network serves with (`NetworkConfig.point_refiner_disagree`), set after the fit; 0: the
    # --refiner-disagree the rows were collected with. The refiner answers each point alone, so a higher threshold
    # gives the same answers on the fewer points it draws; rows collected without disputes give a refiner that
    # answers them as it answers the band's other points
    served_disagree: float = 0.0
    # the written network draws those disputes at an object's first click only
    # (`NetworkConfig.point_refiner_disagree_first`; rows collected with --refiner-disagree-first serve so anyway)
    served_disagree_first: bool = False

    def __post_init__(self) -> None:
        if self.user not in USERS or self.states_per_object < 0 or self.clicks < 1 or self.weighting not in WEIGHTINGS:
            raise ValueError(f"fit settings: user must be one of {USERS}, weighting one of {WEIGHTINGS}, "
                             f"states_per_object >= 0 and clicks >= 1; got {self.user!r}, {self.weighting!r}, "
                             f"{self.states_per_object}, {self.clicks}")  # fmt: skip
        object.__setattr__(self, "ring_cuts", tuple(int(k) for k in self.ring_cuts))  # argparse gives a list
        if not self.ring_cuts or min(self.ring_cuts) < 1 or len(set(self.ring_cuts)) != len(self.ring_cuts):
            raise ValueError(f"fit settings: ring_cuts must be distinct integers >= 1, got {self.ring_cuts}")
        kinds = tuple(kind for kind in OBJECT_KINDS if kind in self.object_kinds)  # one order, whatever was given
        if not self.object_kinds or set(self.object_kinds) - set(OBJECT_KINDS):
            raise ValueError(f"fit settings: object_kinds must be some of {OBJECT_KINDS}, got {self.object_kinds}")
        object.__setattr__(self, "object_kinds", kinds)
        object.__setattr__(self, "network_gain_domains", tuple(self.network_gain_domains))  # argparse gives a list
        if set(self.network_gain_domains) - set(DOMAINS):
            raise ValueError(f"fit settings: network_gain_domains must be some of {DOMAINS}, got "
                             f"{self.network_gain_domains}")  # fmt: skip
        if not self.refiner_gain > 0:
            raise ValueError(f"fit settings: refiner_gain must be > 0, got {self.refiner_gain}")
        if not self.network_gain >= 0:
            raise ValueError(f"fit settings: network_gain must be >= 0, got {self.network_gain}")
        try:  # the served options' bounds are the network config's own
            NetworkConfig(**self.served_network())
        except ValueError as error:
            raise ValueError(f"fit settings: {error}") from error

    def served_network(self, refiner_disagree: float = 0.0, refiner_disagree_first: bool = False) -> dict[str, object]:
        """The `NetworkConfig` fields the written network serves with, set after the fit: its holds, the rules on
        which click states they and the disputes apply, the network's additions at a first click, and the disputes
        themselves (`served_disagree`, else the
        rows' own `refiner_disagree`; at the first click only with either `*_first`)."""
        return {"point_refiner_keep": self.network_keep, "point_refiner_keep_yield": self.network_keep_yield,
                "point_refiner_keep_out": self.network_keep_out,
                "point_refiner_keep_overruled": self.network_keep_overruled,
                "point_refiner_disagree_overruled": self.network_disagree_overruled,
                "point_refiner_network_min_region": self.network_min_region,
                "point_refiner_network_recognised": self.network_recognised,
                "point_refiner_network_min_share": self.network_min_share,
                "point_refiner_network_adds": self.network_adds,
                "point_refiner_network_adds_reach": self.network_adds_reach,
                "point_refiner_disagree": self.served_disagree or refiner_disagree,
                "point_refiner_disagree_first": self.served_disagree_first or refiner_disagree_first}


@dataclass
class Rows:
    """Training rows: refiner features [P, F], fused logits before the refiner [P], labels [P] (0/1), weights
    [P] (the crop points each row stands for) and unions [P] (the union of object and answer among the band's points,
    the points the refiner answers, of the click state the row comes from; empty for rows saved before unions
    were kept)."""

    features: list[np.ndarray]
    fused: list[np.ndarray]
    labels: list[np.ndarray]
    weights: list[np.ndarray]
    unions: list[np.ndarray] = dataclasses.field(default_factory=list)

    def arrays(self) -> tuple[torch.Tensor, ...]:
        """The rows as four tensors: features, fused logits, labels, weights (no state at all: features [0, 0] and
        empty others, e.g. a held-out split whose scans hold no object of the kinds asked for)."""
        if not self.labels:
            return torch.zeros((0, 0)), torch.zeros(0), torch.zeros(0), torch.zeros(0)
        return tuple(torch.from_numpy(np.concatenate(part).astype(np.float32))
                     for part in (self.features, self.fused, self.labels, self.weights))  # fmt: skip

    def loss_weights(self, weighting: str) -> torch.Tensor:
        """Each row's weight in the fit: the points it stands for, divided by its state's union for "iou"."""
        # float32 first, as `save_rows` stores them: a refit from saved rows then fits exactly what the first fit did
        weights = torch.from_numpy(np.concatenate(self.weights).astype(np.float32).astype(np.float64))
        if weighting == "iou":
            if sum(len(u) for u in self.unions) != len(weights):
                raise ValueError("--weighting iou needs rows collected with their states' unions; these rows were "
                                 "saved before unions were kept (collect them again)")  # fmt: skip
            weights = weights / torch.from_numpy(np.concatenate(self.unions).astype(np.float64)).clamp(min=1.0)
        return weights.float()


def informative_rows(voxel: np.ndarray, labels: np.ndarray, wrong: np.ndarray, rest: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rows of one crop and their weights: every point whose voxel holds a wrong answer or both labels (weight 1),
    and `rest` of the others, weighted by how many each stands for, so the rows weigh as the whole crop does."""
    _, groups = np.unique(voxel, return_inverse=True)
    count = groups.max() + 1 if len(groups) else 0
    objects, points = np.bincount(groups, weights=labels, minlength=count), np.bincount(groups, minlength=count)
    mixed = (objects > 0) & (objects < points)
    flagged = mixed | (np.bincount(groups, weights=wrong, minlength=count) > 0)
    hard = np.flatnonzero(flagged[groups])
    easy = np.flatnonzero(~flagged[groups])
    weight = 1.0
    if len(easy) > rest:
        weight = len(easy) / rest
        easy = rng.choice(easy, rest, replace=False)
    return np.concatenate([hard, easy]), np.concatenate([np.ones(len(hard)), np.full(len(easy), weight)])


def click_states(clicks: int, states: int, rng: np.random.Generator, collapsed: Sequence[int] = ()) -> list[int]:
    """Which click states (numbers of clicks given, ascending) of a run of `clicks` clicks are answered: the first
    and `states - 1` drawn ones (repeats merge), or every one when `states` is 0; and the `collapsed` ones (click
    numbers after which the user's mask collapsed), which draw nothing from `rng`."""
    if states == 0:
        return list(range(1, clicks + 1))
    drawn = {1, *(int(rng.integers(1, clicks + 1)) for _ in range(states - 1))}
    return sorted(drawn | {int(k) for k in collapsed if 1 <= k <= clicks})


def shown_answers(session: InteractiveSession, clicks: Sequence[tuple[int, bool]], counts: Sequence[int],
                  click_by_click: bool) -> dict[int, np.ndarray]:  # fmt: skip
    """The answer (bool over the caller's points) `session` shows after the first k of `clicks`, for each k > 0 of
    `counts` (ascending): click by click from a reset where its segmenter remembers its own previous answers
    (`NetworkConfig.point_refiner_memory`), else one batch per k."""
    answers: dict[int, np.ndarray] = {}
    given = 0
    session.reset()
    for k in (k for k in counts if k > 0):
        if not click_by_click:
            session.reset()
            answers[k] = session.add_clicks(clicks[:k])
            continue
        while given < k:
            session.add_click(*clicks[given])
            given += 1
        answers[k] = session.mask
    return answers


def collect_rows(segmenter: Segmenter, dataset: SemanticKittiDataset, scenes: Sequence[str], domains: dict[str, str],
                 settings: FitSettings, progress: bool = True, answerer: Segmenter | None = None, jobs: int = 1
                 ) -> tuple[Rows, int]:  # fmt: skip
    """Rows of the click states of `scenes`, each on every ring cut of `settings` that applies to it, and the
    number of states they came from. For a refiner with memory the answer shown after the click before a state is
    `answerer`'s (None: `segmenter`'s own). With `jobs` > 1 the scans are answered in that many worker processes;
    every scan draws from its own generator, so the rows are those of one process, in the same order."""
    if settings.user == "answerer" and not segmenter.config.network.point_refiner_memory:  # no answer to click on
        raise ValueError("the 'answerer' user clicks on the answers a refiner with memory is shown; this refiner "
                         "has no memory (point_refiner_memory)")  # fmt: skip
    work = [(name, cut) for name in scenes for cut in settings.ring_cuts
            if cut == 1 or domains.get(name, dataset.domain) == "outdoor"]  # fmt: skip
    bar = tqdm(total=len(work), desc="click states", unit="scan", disable=not progress)
    if jobs > 1 and len(work) > 1:
        parts = rows_in_workers(segmenter, answerer, dataset, domains, settings, work, jobs)
    else:
        collector = RowCollector(segmenter, answerer, dataset, domains, settings)
        parts = (collector.rows_of(name, cut) for name, cut in work)
    rows, states = Rows([], [], [], [], []), 0
    with bar:
        for part, count in parts:
            for name in ("features", "fused", "labels", "weights", "unions"):
                getattr(rows, name).extend(getattr(part, name))
            states += count
            bar.update(1)
    return rows, states


class RowCollector:
    """Answers the click states of one scan at a time for `collect_rows` (in its process or in a worker)."""

    def __init__(self, segmenter: Segmenter, answerer: Segmenter | None, dataset: SemanticKittiDataset,
                 domains: dict[str, str], settings: FitSettings):  # fmt: skip
        self.segmenter, self.answerer, self.settings = segmenter, answerer, settings
        self.dataset, self.domains = dataset, domains
        self.baselines = {domain: BaselineSegmenter.for_domain(domain) for domain in ("outdoor", "indoor")}
        self.protocol = ProtocolSettings(max_clicks=settings.clicks, seed=settings.seed)
        self.readers = {k: dataset if k == 1 else SemanticKittiDataset(dataset.root, dataset.sequences, keep_rings=k)
                        for k in settings.ring_cuts}  # fmt: skip

    def rows_of(self, name: str, cut: int) -> tuple[Rows, int]:
        """The rows of scan `name` on ring cut `cut` (1: every ring) and the number of click states answered."""
        segmenter, answerer, dataset, settings = self.segmenter, self.answerer, self.dataset, self.settings
        rows, states = Rows([], [], [], [], []), 0
        memory = segmenter.config.network.point_refiner_memory
        scene = self.readers[cut].load_scene(name)
        if cut > 1 and (len(scene.xyz) < 2 or int(ring_index(scene.xyz).max()) + 1 < MIN_CUT_RINGS):
            return rows, states  # not a spinning sensor with rings enough to thin
        domain = self.domains.get(name, dataset.domain)
        objects = dataset.objects(scene, max(settings.min_points // cut, 1))
        if domain == "outdoor":
            objects = [obj for obj in objects if object_kind(obj.semantic_id) in settings.object_kinds]
        key = name if cut == 1 else f"{name}@{cut}"  # cut 1 draws what a fit without cuts draws
        rng = np.random.default_rng([settings.seed, zlib.crc32(key.encode())])
        if not objects:
            return rows, states
        picked = rng.choice(len(objects), min(settings.objects_per_scene, len(objects)), replace=False)
        session = segmenter.with_options(domain=domain).session(scene.xyz, scene.rgb)
        answers_of = None
        if memory:
            answers_of = (answerer or segmenter).with_options(domain=domain).session(scene.xyz, scene.rgb)
        user_session = session  # "network": the user corrects the network being fitted
        if settings.user == "baseline":
            user_session = self.baselines[domain].session(scene.xyz, scene.rgb)
        elif settings.user == "answerer":
            user_session = answers_of
        for k in picked:
            obj = objects[k]
            truth = scene.object_mask(obj.instance_id)
            user = object_rng(settings.seed, key, obj.instance_id)
            ious, clicks, _ = simulate_object(user_session, scene.xyz, truth, self.protocol, user)
            if not clicks:
                continue
            collapsed = [c["click"] for c in click_collapses(ious, clicks)] if settings.collapse_states else []
            counts = click_states(len(clicks), settings.states_per_object, rng, collapsed)
            shown = {}
            if answers_of is not None and user_session is answers_of:  # the user just saw each of them, click by click
                shown = {count - 1: answers_of.mask_after(count - 1) for count in counts if count > 1}
            elif answers_of is not None:
                shown = shown_answers(answers_of, clicks, [count - 1 for count in counts],
                                      (answerer or segmenter).config.network.point_refiner_memory)  # fmt: skip
            for count in counts:
                inputs = session.refiner_inputs(clicks[:count], shown.get(count - 1))
                if inputs is None:
                    continue
                inside, fused, features = inputs
                labels = truth[session.valid_indices][inside].astype(np.float64)
                voxel = session.grid.point_to_voxel[inside]
                keep, weights = informative_rows(voxel, labels, (fused > 0) != (labels > 0), settings.rest_per_state,
                                                 rng)  # fmt: skip
                rows.features.append(features[keep])
                rows.fused.append(fused[keep])
                rows.labels.append(labels[keep])
                rows.weights.append(weights)
                rows.unions.append(np.full(len(keep), float(((fused > 0) | (labels > 0)).sum())))
                states += 1
        return rows, states


# One worker process's collector (`collect_rows` with jobs > 1), built once per process.
_worker: dict[str, RowCollector] = {}


def _portable(segmenter: Segmenter | None, folder: Path, name: str) -> tuple[str, dict] | None:
    """A segmenter as a checkpoint file in `folder` and its inference options, for a worker to load (its parametrized
    modules do not pickle); None for None."""
    if segmenter is None:
        return None
    return str(segmenter.save(folder / f"{name}.pt")), dataclasses.asdict(segmenter.options)


def _start_worker(segmenter: tuple[str, dict], answerer: tuple[str, dict] | None, root: str,
                  sequences: tuple[str, ...], domains: dict[str, str], settings: FitSettings,
                  device: str) -> None:  # fmt: skip
    """Build a worker's collector: one torch thread, the segmenters loaded from the files `_portable` wrote."""
    torch.set_num_threads(1)
    loaded = [None if part is None else Segmenter.load(part[0], device, **part[1]) for part in (segmenter, answerer)]
    _worker["collector"] = RowCollector(*loaded, SemanticKittiDataset(root, sequences), domains, settings)


def _rows_in_worker(item: tuple[str, int]) -> tuple[Rows, int]:
    """One (scan, cut) in a worker."""
    return _worker["collector"].rows_of(*item)


def rows_in_workers(segmenter: Segmenter, answerer: Segmenter | None, dataset: SemanticKittiDataset,
                    domains: dict[str, str], settings: FitSettings, work: list[tuple[str, int]],
                    jobs: int) -> Iterator[tuple[Rows, int]]:  # fmt: skip
    """`RowCollector.rows_of` of every (scan, cut) of `work` in `jobs` worker processes, yielded in `work`'s order."""
    with tempfile.TemporaryDirectory(prefix="clickenhance_rows_") as folder:
        portable = (_portable(segmenter, Path(folder), "segmenter"), _portable(answerer, Path(folder), "answerer"))
        context = multiprocessing.get_context("spawn")  # torch's thread pools do not survive a fork
        with ProcessPoolExecutor(jobs, context, initializer=_start_worker,
                                 initargs=(*portable, str(dataset.root), tuple(dataset.sequences), domains, settings,
                                           str(segmenter.device))) as pool:  # fmt: skip
            yield from pool.map(_rows_in_worker, work)


def wrong_points(fused: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                 delta: torch.Tensor | None = None) -> float:  # fmt: skip
    """Crop points answered wrong (logit > 0 against the label; rows weighted), with the refiner's correction
    `delta` or without it."""
    logit = fused if delta is None else fused + delta
    return float((((logit > 0).float() != labels).float() * weights).sum())


def fit_refiner(model: ClickEnhanceNet, rows: Rows, settings: FitSettings, progress: bool = True) -> list[float]:
    """Fit `model.point_refiner` (the rest frozen) by the weighted binary cross-entropy of the refined logits (rows
    weighted by `settings.weighting`); returns the mean loss of each epoch."""
    features, fused, labels, _ = rows.arrays()
    weights = rows.loss_weights(settings.weighting)
    weights = weights / weights.mean()
    refiner = model.point_refiner
    refiner.train()
    optimizer = torch.optim.Adam(refiner.parameters(), lr=settings.lr)
    generator = torch.Generator().manual_seed(settings.seed)
    history = []
    for _ in tqdm(range(settings.epochs), desc="fit", unit="epoch", disable=not progress):
        order = torch.randperm(len(labels), generator=generator)
        total = 0.0
        for start in range(0, len(order), settings.batch):
            batch = order[start:start + settings.batch]
            logit = fused[batch] + refiner(features[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, labels[batch], weight=weights[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append(total / max(len(order), 1))
    refiner.eval()
    return history


def collection_options(args: argparse.Namespace, settings: FitSettings) -> dict:
    """The options of a command that collects rows, as `save_rows` records them: the checkpoint, scans and inference
    switches, the band's settings and the collection's `FitSettings` (lists for tuples, so JSON keeps them)."""
    fields = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(settings).items()}
    return {"checkpoint": str(args.checkpoint), "root": str(args.root), "sequences": list(args.sequences),
            "views": args.views, "ground_prior": args.ground_prior, "ground_gate": args.ground_gate,
            "as_fusion": args.as_fusion, **{key: getattr(args, key) for key in BAND_DEFAULTS}, **fields}


def network_domains(extra: dict) -> tuple[str, ...]:
    """The domains a checkpoint's network was trained on, from the training config it stores; every domain without
    one (nothing known, nothing taken away)."""
    train_config = extra.get("train_config")
    return tuple(trained_domains(train_config_from_dict(train_config))) if train_config else DOMAINS


def scale_refiner(refiner: PointRefiner, gain: float) -> None:
    """Scale the correction `refiner` answers by `gain` (its last, linear layer's weights and bias)."""
    with torch.no_grad():
        refiner.layers[-1].weight.mul_(gain)
        refiner.layers[-1].bias.mul_(gain)


def save_rows(path: Path, rows: Rows, states: int, test_rows: Rows, test_states: int,
              band: dict[str, float | bool] | None = None, ring_cuts: Sequence[int] = (1,),
              collapse_states: bool = False, object_kinds: Sequence[str] = OBJECT_KINDS,
              memory_from: str = "", collection: dict | None = None) -> None:  # fmt: skip
    """Write the fit's and the held-out rows to one npz (its folder made if missing), with the refiner's band and
    growth settings they were collected with (`BAND_DEFAULTS`' fields; None: those defaults), the ring cuts they were
    collected on, whether they hold the collapsed states (`FitSettings.collapse_states`), the kinds of street
    objects they come from (`FitSettings.object_kinds`), whose answers their memory column holds
    (`FitSettings.memory_from`) and `collection`: the collecting command's options (JSON-able), so that a card can
    name the command that collected them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = {}
    for prefix, part in (("fit", rows), ("held_out", test_rows)):
        for name, tensor in zip(("features", "fused", "labels", "weights"), part.arrays(), strict=True):
            parts[f"{prefix}_{name}"] = tensor.numpy()
        parts[f"{prefix}_unions"] = np.concatenate(part.unions) if part.unions else np.zeros(0)
    np.savez(path, fit_states=states, held_out_states=test_states, **{**BAND_DEFAULTS, **(band or {})},
             ring_cuts=np.asarray(ring_cuts, dtype=np.int64), collapse_states=bool(collapse_states),
             object_kinds=np.asarray(list(object_kinds)), memory_from=np.asarray(memory_from),
             collection=np.asarray(json.dumps(collection or {})), **parts)  # fmt: skip


@dataclass(frozen=True)
class RowsRecord:
    """What a file of rows was collected with, as `save_rows` recorded it: the refiner's band and growth settings
    (`BAND_DEFAULTS`' fields; a reach of None for rows saved before it was recorded, the defaults for the others),
    the ring cuts (every ring for rows saved before cuts), whether the collapsed states are in (False for rows saved
    before), the kinds of street objects (every kind for rows saved before) and whose answers the memory column
    holds ("" for rows saved before) and the collecting command's options ({} for rows saved before)."""

    band: dict[str, float | bool | None]
    ring_cuts: tuple[int, ...]
    collapse_states: bool
    object_kinds: tuple[str, ...]
    memory_from: str = ""
    collection: dict = dataclass_field(default_factory=dict)


def rows_record(path: Path) -> RowsRecord:
    """The `RowsRecord` of the rows in `path`."""
    with np.load(path) as data:
        band = {key: type(default)(data[key]) if key in data else default for key, default in BAND_DEFAULTS.items()}
        if "refiner_reach" not in data:
            band["refiner_reach"] = None
        return RowsRecord(band, tuple(int(k) for k in data["ring_cuts"]) if "ring_cuts" in data else (1,),
                          bool(data["collapse_states"]) if "collapse_states" in data else False,
                          tuple(str(k) for k in data["object_kinds"]) if "object_kinds" in data else OBJECT_KINDS,
                          str(data["memory_from"]) if "memory_from" in data else "",
                          json.loads(str(data["collection"])) if "collection" in data else {})


def load_rows(path: Path) -> tuple[Rows, int, Rows, int]:
    """The rows `save_rows` wrote: (fit rows, their states, held-out rows, their states)."""
    with np.load(path) as data:
        filled = {prefix: len(data[f"{prefix}_labels"]) > 0 for prefix in ("fit", "held_out")}  # a split may be empty
        rows, test_rows = (Rows(*[[data[f"{prefix}_{name}"]] if filled[prefix] else []
                                  for name in ("features", "fused", "labels", "weights")],
                                [data[f"{prefix}_unions"]] if filled[prefix] and f"{prefix}_unions" in data else [])
                           for prefix in ("fit", "held_out"))  # fmt: skip
        return rows, int(data["fit_states"]), test_rows, int(data["held_out_states"])


def join_rows(parts: Sequence[tuple[Rows, int, Rows, int]]) -> tuple[Rows, int, Rows, int]:
    """Several `load_rows` results as one: rows side by side, states summed. Unions are kept only when every part
    has them (else `--weighting iou` refuses the joined rows, as it would any part without); a part without rows
    has nothing to keep."""
    joined = []
    for index in (0, 2):
        rows = [part[index] for part in parts]
        unions = [u for r in rows for u in r.unions] if all(r.unions for r in rows if r.labels) else []
        joined.append(Rows(*[[array for r in rows for array in getattr(r, name)]
                             for name in ("features", "fused", "labels", "weights")], unions))  # fmt: skip
    return joined[0], sum(part[1] for part in parts), joined[1], sum(part[3] for part in parts)


def build_parser() -> argparse.ArgumentParser:
    """Options of the fit."""
    parser = argparse.ArgumentParser(prog="clickenhance-fit-point-refiner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a trained prior-fusion network")
    parser.add_argument("--root", type=Path, required=True, help="generated scans (clickenhance-generate-scenes)")
    parser.add_argument("--sequences", nargs="+", default=["00"], help="the training split's sequences")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (the network with its refiner)")
    parser.add_argument("--views", type=int, default=4, help="network views per click, as the evaluation uses")
    for switch in ("ground-prior", "ground-gate"):
        parser.add_argument(f"--{switch}", action=argparse.BooleanOptionalAction, default=None,
                            help="inference switch as the evaluation's (default: the checkpoint's own)")  # fmt: skip
    parser.add_argument("--as-fusion", action="store_true",
                        help="a --checkpoint without prior fusion starts as a fusion network at its start (network "
                             "gain 0): the refiner then corrects the training-free region itself, the network's "
                             "logits one of its inputs")  # fmt: skip
    parser.add_argument("--refiner-colour", action=argparse.BooleanOptionalAction, default=True,
                        help="whether the refiner reads colour (NetworkConfig.point_refiner_colour); rows collected "
                             "with colour serve both")  # fmt: skip
    parser.add_argument("--refiner-reach", type=float, default=0.0,
                        help="metres: the refiner also answers sparse voxels' points this near the other prior value "
                             "(NetworkConfig.point_refiner_reach; 0: the voxel band alone); rows must be collected "
                             "with it")  # fmt: skip
    parser.add_argument("--refiner-flips", action="store_true",
                        help="the refiner also answers the points the latest click moved into or out of the prior, "
                             "told which way (NetworkConfig.point_refiner_flips); rows must be collected with "
                             "it")  # fmt: skip
    parser.add_argument("--refiner-column", type=float, default=0.0,
                        help="metres: the refiner also answers the points under the prior within this horizontal "
                             "distance (NetworkConfig.point_refiner_column; 0: off); rows must be collected with "
                             "it")  # fmt: skip
    parser.add_argument("--refiner-disagree", type=float, default=0.0,
                        help="a logit: the refiner also answers the crop's points where the network's own logit "
                             "disputes the prior by more than this (NetworkConfig.point_refiner_disagree; 0: off); "
                             "rows must be collected with it")  # fmt: skip
    parser.add_argument("--refiner-disagree-first", action="store_true",
                        help="with --refiner-disagree: that band at an object's first click only "
                             "(NetworkConfig.point_refiner_disagree_first); rows must be collected with "
                             "it")  # fmt: skip
    parser.add_argument("--refiner-shape", type=float, default=0.0,
                        help="the refiner is also told each point's local shape and the first click's, and at an "
                             "object's first click answers the prior's points whose surface variation differs from "
                             "the clicked point's by more than this (NetworkConfig.point_refiner_shape; 0: off); rows "
                             "must be collected with it")  # fmt: skip
    parser.add_argument("--refiner-growth", action="store_true",
                        help="with --refiner-flips: the refiner is also told how large the latest click's move was "
                             "against the region before it (NetworkConfig.point_refiner_growth); rows must be "
                             "collected with it")  # fmt: skip
    parser.add_argument("--refiner-memory", action="store_true",
                        help="with --refiner-flips: the refiner is also told the answer shown after the click before "
                             "and answers where the prior differs from it (NetworkConfig.point_refiner_memory); rows "
                             "must be collected with it (that answer: --memory-from's)")  # fmt: skip
    parser.add_argument("--join-answerers", action="store_true",
                        help="with --rows of several files: fit on rows whose memory columns show different "
                             "refiners' answers (the on-policy rows of successive DAgger steps, aggregated); each "
                             "state keeps the answer its own collection showed, and the card names every "
                             "answerer")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="scans whose click states are collected at once, each in a worker process with one torch "
                             "thread (the same rows as one process)")  # fmt: skip
    parser.add_argument("--rows", type=Path, nargs="+",
                        help="npz of collected rows: read when it exists, else written after collecting (refit with "
                             "other fit settings without collecting again); several existing files are fitted on "
                             "together")  # fmt: skip
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    for field, default in asdict(FitSettings()).items():
        if field == "ring_cuts":
            parser.add_argument("--ring-cuts", type=int, nargs="+", default=list(default),
                                help="collect the street scans of spinning LiDARs on every k-th ring for each k "
                                     "given (1: every ring; a cut must keep 16 rings)")  # fmt: skip
            continue
        if field == "collapse_states":
            parser.add_argument("--collapse-states", action="store_true",
                                help="also answer the state right after each click that collapsed the user's mask "
                                     "(an IoU drop of over 20 points)")  # fmt: skip
            continue
        if field == "object_kinds":
            parser.add_argument("--object-kinds", nargs="+", choices=OBJECT_KINDS, default=list(default),
                                help="kinds of street objects the simulated user segments (things: vehicles and "
                                     "people; stuff: poles, trunks, signs, fences, other objects; other: building "
                                     "parts, vegetation, ground); rooms' objects always count")  # fmt: skip
            continue
        if field == "network_gain_domains":
            parser.add_argument("--network-gain-domains", nargs="+", choices=DOMAINS, default=list(default),
                                help="the cloud domains where the network speaks: its vote at --network-gain and "
                                     "the disputes of --refiner-disagree (default: those it was trained on; "
                                     "elsewhere the prior answers and the network is one of the refiner's "
                                     "inputs)")  # fmt: skip
            continue
        choices = {"user": USERS, "weighting": WEIGHTINGS}.get(field)
        helps = {"user": "whose answers the simulated user corrects: the baseline's, the frozen network's, or "
                         "(with --refiner-memory) the answers the rows show, --memory-from's: rows of the states a "
                         "refiner's own users meet",
                 "refiner_gain": "scale the fitted correction by this (below 1: a more cautious refiner that moves "
                                 "fewer points, a smaller share of them wrongly)",
                 "memory_from": "with --refiner-memory: the refined checkpoint whose answers are the rows' answers "
                                "shown after the click before (default: the network being fitted, before its "
                                "refiner acts)",
                 "network_gain": "with --as-fusion: the written fusion's network gain, set after the fit (rows and "
                                 "refiner at gain 0): the network's logit then votes at every point, also where a "
                                 "first click's flood lies beyond the refiner's band",
                 "network_keep": "a logit: where the network speaks its sure answers hold after the refiner "
                                 "(NetworkConfig.point_refiner_keep; set after the fit; 0: off)",
                 "network_keep_yield": "metres, with --network-keep: its background hold yields to positive clicks "
                                       "within this (NetworkConfig.point_refiner_keep_yield; at most 2)",
                 "network_keep_out": "a logit, with --network-keep: its background hold only where the network's "
                                     "logit is at most minus this (NetworkConfig.point_refiner_keep_out; 0: minus "
                                     "--network-keep)",
                 "network_keep_overruled": "a logit, with --network-keep: a positive click where the network's logit "
                                           "is at most minus this drops its background hold, a negative click where "
                                           "it is at least this its object hold (NetworkConfig."
                                           "point_refiner_keep_overruled; 0: never)",
                 "network_disagree_overruled": "with --network-keep-overruled: such a positive click drops the "
                                               "disputes too (NetworkConfig.point_refiner_disagree_overruled)",
                 "network_min_region": "points: the disputes and the holds only for click states whose prior "
                                       "region holds at least this many (NetworkConfig."
                                       "point_refiner_network_min_region; 0: always)",
                 "network_recognised": "a logit: the disputes and the holds only on an object whose first "
                                       "positive click the network calls object at this or more (NetworkConfig."
                                       "point_refiner_network_recognised; 0: on every object)",
                 "network_min_share": "the disputes and the holds only where the network calls at least this "
                                      "share of the prior region's crop points object (NetworkConfig."
                                      "point_refiner_network_min_share; 0: always)",
                 "network_adds": "a logit: at an object's first click, where the network speaks and recognises "
                                 "the object, the points outside the prior it calls object at this or more join the "
                                 "answer (NetworkConfig.point_refiner_network_adds; 0: off)",
                 "network_adds_reach": "metres, with --network-adds: only within this of the prior region "
                                       "(NetworkConfig.point_refiner_network_adds_reach; 0: anywhere in the crop)",
                 "served_disagree": "the written network draws the disputes at this threshold (set after the fit; "
                                    "0: the rows' own --refiner-disagree); rows collected without disputes give a "
                                    "refiner that answers them as the band's other points",
                 "served_disagree_first": "with --served-disagree: those disputes at an object's first click only "
                                          "(NetworkConfig.point_refiner_disagree_first)"}  # fmt: skip
        if isinstance(default, bool):  # a switch, off by default
            parser.add_argument(f"--{field.replace('_', '-')}", action="store_true", help=helps.get(field))
            continue
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default, choices=choices,
                            help=helps.get(field))  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Collect rows, fit, report held-out errors, write the refined checkpoint; 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        settings = FitSettings(**{field: getattr(args, field) for field in asdict(FitSettings())})
        state_dict, source, extra = load_checkpoint(args.checkpoint, args.device)
        if settings.user == "answerer" and not args.refiner_memory:
            raise ValueError("--user answerer clicks on the answers a refiner with memory is shown; add "
                             "--refiner-memory")  # fmt: skip
        if settings.memory_from and not args.refiner_memory:
            raise ValueError("--memory-from names the answers a refiner with memory is shown; add --refiner-memory")
        if settings.served_disagree_first and not (settings.served_disagree or args.refiner_disagree):
            raise ValueError("--served-disagree-first says when the written network draws its disputes; add "
                             "--served-disagree")  # fmt: skip
        if settings.network_gain and not args.as_fusion:
            raise ValueError("--network-gain sets the gain of a fusion that --as-fusion starts at 0; a prior-fusion "
                             "network learned its own")  # fmt: skip
        if not (source.network.prior_fusion or args.as_fusion):
            raise ValueError(f"{args.checkpoint}: the point refiner corrects a prior-fusion network; this one has "
                             "none (--as-fusion starts it as one at network gain 0)")  # fmt: skip
        network = dataclasses.replace(source.network, prior_fusion=True, point_refiner=True,
                                      point_refiner_colour=args.refiner_colour,
                                      **{f"point_{key}": getattr(args, key) for key in BAND_DEFAULTS},
                                      network_gain_domains=settings.network_gain_domains
                                      or network_domains(extra))  # fmt: skip
        config = dataclasses.replace(source, network=network)
        torch.manual_seed(settings.seed)
        model = ClickEnhanceNet(config)
        network_only = {k: v for k, v in state_dict.items() if not k.startswith("point_refiner.")}
        initialise_weights(model, config, network_only, source, args.checkpoint)  # the refiner starts from the seed
        dataset = SemanticKittiDataset(args.root, sequences=tuple(args.sequences))
        scenes = dataset.scene_names()[:: settings.scene_stride]
    except (ClickEnhanceError, ValueError, FileNotFoundError) as error:
        print(f"clickenhance-fit-point-refiner: {error}", file=sys.stderr)
        return 2
    options = {**(extra.get("inference_options") or {}), "views": args.views}
    options.update({key: value for key in ("ground_prior", "ground_gate") if (value := getattr(args, key)) is not None})
    segmenter = Segmenter(model, config, args.device, options=None, extra=extra).with_options(**options)
    domains = manifest_domains(args.root)
    held_out = scenes[settings.held_out_every - 1 :: settings.held_out_every]  # the k-th, 2k-th, ... scan
    held = set(held_out)
    fitted = [name for name in scenes if name not in held]
    present = [path.is_file() for path in args.rows or []]
    collections: list[dict] = []  # the collecting command's options of each file of saved rows fitted on
    if any(present):
        if not all(present) or len(present) > 1 and len(set(args.rows)) < len(present):
            missing = ", ".join(str(path) for path, there in zip(args.rows, present, strict=True) if not there)
            print(f"clickenhance-fit-point-refiner: --rows: several files are fitted on together and must all "
                  f"exist once each; missing or repeated: {missing or 'a repeated file'}", file=sys.stderr)  # fmt: skip
            return 2
        cuts, with_collapses, kinds, memory_from = set(), False, set(), set()
        for path in args.rows:
            record = rows_record(path)
            collections.append(record.collection)
            with_collapses |= record.collapse_states
            kinds.update(record.object_kinds)
            memory_from.add(record.memory_from)
            for key, value in record.band.items():
                if value is not None and value != getattr(args, key):
                    print(f"clickenhance-fit-point-refiner: {path} holds rows collected with "
                          f"--{key.replace('_', '-')} {value}, not {getattr(args, key)} (collect them again)",
                          file=sys.stderr)  # fmt: skip
                    return 2
            cuts.update(record.ring_cuts)
        joined = args.join_answerers and not settings.memory_from
        if len(memory_from) > 1 and not joined or settings.memory_from and memory_from != {settings.memory_from}:
            print(f"clickenhance-fit-point-refiner: --rows: the files' memory columns hold the answers of "
                  f"{', '.join(sorted(repr(m) for m in memory_from))}, not of one --memory-from "
                  f"{settings.memory_from!r} (fit them apart, leave --memory-from out, or join several steps' "
                  f"on-policy rows with --join-answerers)", file=sys.stderr)  # fmt: skip
            return 2
        settings = dataclasses.replace(settings, ring_cuts=tuple(sorted(cuts)), collapse_states=with_collapses,
                                       object_kinds=tuple(kinds),
                                       memory_from=" + ".join(sorted(memory_from)))  # as recorded
        rows, states, test_rows, test_states = join_rows([load_rows(path) for path in args.rows])
    else:
        if args.rows and len(args.rows) > 1:
            print("clickenhance-fit-point-refiner: --rows: collected rows are written to one file", file=sys.stderr)
            return 2
        if args.join_answerers:
            print("clickenhance-fit-point-refiner: --join-answerers joins saved rows files (--rows); a collection "
                  "shows one answerer's answers", file=sys.stderr)  # fmt: skip
            return 2
        answerer = None
        if settings.memory_from:
            try:
                answerer = Segmenter.load(settings.memory_from, args.device, **options)
            except ClickEnhanceError as error:
                print(f"clickenhance-fit-point-refiner: --memory-from: {error}", file=sys.stderr)
                return 2
        rows, states = collect_rows(segmenter, dataset, fitted, domains, settings, args.progress, answerer, args.jobs)
        test_rows, test_states = collect_rows(segmenter, dataset, held_out, domains, settings, args.progress, answerer,
                                              args.jobs)  # fmt: skip
        if args.rows:
            collections.append(collection_options(args, settings))
            save_rows(args.rows[0], rows, states, test_rows, test_states,
                      {key: getattr(args, key) for key in BAND_DEFAULTS}, settings.ring_cuts, settings.collapse_states,
                      settings.object_kinds, settings.memory_from,
                      collections[0])  # fmt: skip
    if not sum(len(labels) for labels in rows.labels):
        print("clickenhance-fit-point-refiner: no point of a prior's boundary band to fit on", file=sys.stderr)
        return 2
    try:
        history = fit_refiner(model, rows, settings, args.progress)
    except ValueError as error:  # rows without unions for --weighting iou
        print(f"clickenhance-fit-point-refiner: {error}", file=sys.stderr)
        return 2
    scale_refiner(model.point_refiner, settings.refiner_gain)
    features, fused, labels, weights = test_rows.arrays()  # the held-out figures are at the rows' network gain 0
    with torch.no_grad():
        # the refiner's correction of the held-out rows, used by both reports
        delta = model.point_refiner(features) if len(labels) else torch.zeros(0)
    before, after = wrong_points(fused, labels, weights), wrong_points(fused, labels, weights, delta)
    report = {"settings": asdict(settings), "source": str(args.checkpoint), "root": str(args.root),
              "domains": sorted({domains.get(name, dataset.domain) for name in fitted}),  # for the shipped facts
              "rows": [str(path) for path in args.rows or []], "rows_collections": collections,
              "as_fusion": args.as_fusion, "refiner_colour": args.refiner_colour,
              **{key: getattr(args, key) for key in BAND_DEFAULTS}, "inference_options": options,
              "fit_states": states, "fit_rows": int(sum(len(x) for x in rows.labels)), "loss": history,
              "held_out_states": test_states, "held_out_rows": len(labels),
              "held_out_points": float(weights.sum()), "held_out_wrong_before": before,
              "held_out_wrong_after": after}  # fmt: skip
    print(f"held-out crop points answered wrong: {before:.0f} before, {after:.0f} with the refiner "
          f"({weights.sum():.0f} points, {test_states} click states)")
    if test_rows.unions and test_states:  # the same errors as a share of each state's union, averaged over states
        shares = test_rows.loss_weights("iou")
        report["held_out_union_share_before"] = wrong_points(fused, labels, shares) / test_states
        report["held_out_union_share_after"] = wrong_points(fused, labels, shares, delta) / test_states
        print(f"held-out errors per click state, as a share of its union: "
              f"{report['held_out_union_share_before']:.4f} before, {report['held_out_union_share_after']:.4f} "
              "with the refiner")
    if settings.network_gain:  # after the fit and its held-out figures, which are at the rows' gain 0
        with torch.no_grad():
            model.network_gain.fill_(settings.network_gain)
    served = settings.served_network(args.refiner_disagree, args.refiner_disagree_first)
    segmenter.config = dataclasses.replace(segmenter.config, network=dataclasses.replace(segmenter.config.network,
                                                                                        **served))  # fmt: skip
    segmenter.save(args.out, {**extra, "point_refiner_fit": report})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
