"""The user-facing API: `Segmenter` (a network on a device) and its click `ModelSession`.

    seg = Segmenter.load("model.pt", device="auto")   # or Segmenter.load() for the shipped default
    sess = seg.session(xyz, rgb=None)                  # xyz float32 (N, 3), metres, z up
    mask = sess.add_click(index, positive=True)        # bool (N,) over the caller's points
    mask = sess.add_click((x, y, z), positive=False)   # snapped to the nearest point
    sess.undo(); sess.reset(); sess.clicks; sess.mask; sess.last_inference_ms

A session voxelises its cloud and builds its voxel graph once; each click crops, encodes
(two bounded Dijkstra runs on that graph for the geodesic maps) and runs the network on the
crop only (batch of one, the `inference` path the trainer uses too). Points that are
not finite or lie beyond `max_range` metres of the sensor origin are left out (never in a mask).
`last_inference_ms` is the wall time of the latest click's segmentation (crop, encoding,
network, voxel mask back to points); the session start (voxels, graph) is not in it.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.config import config_from_dict
from clickenhance_model.errors import CheckpointError
from clickenhance_model.inference.click_rules import ClickRules
from clickenhance_model.inference.edge_affinity import EdgeAffinity
from clickenhance_model.inference.geodesic_region import GeodesicRegion, needs_own_graph, prior_preset
from clickenhance_model.inference.network_input import collate, encode_crop
from clickenhance_model.inference.point_features import (
    HELD_MARGIN,
    boundary_band,
    click_growth,
    column_band,
    disagreement_band,
    flip_band,
    height_above_floor,
    network_additions,
    network_holds,
    overruled_holds,
    point_features,
    reach_band,
    shape_band,
    shape_columns,
)
from clickenhance_model.inference.session import InteractiveSession
from clickenhance_model.inference.symmetric_views import mean_over_views, view_samples
from clickenhance_model.inference.voxel_graph import scan_graph
from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.model_config import ModelConfig, SegmenterConfig
from clickenhance_model.spconv_backend import resolve_device
from clickenhance_model.unet import ClickEnhanceNet

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "default.pt"


class Segmenter:
    """A ClickEnhance network ready for interactive segmentation on one device.

    Build it with `Segmenter.load` (trained weights) or `Segmenter.from_config` (untrained,
    for tests and training). `options` are `SegmenterConfig` fields (snap_distance, threshold).
    """

    def __init__(
        self,
        model: ClickEnhanceNet,
        config: ModelConfig,
        device: str | torch.device = "cpu",
        options: SegmenterConfig | None = None,
        extra: dict | None = None,
    ):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.options = options or SegmenterConfig()
        self.extra = extra or {}

    @functools.cached_property
    def edge_affinity(self) -> EdgeAffinity | None:
        """The learned edge prices of this model's prior (`extra["edge_affinity"]`), or None; read once."""
        stored = self.extra.get("edge_affinity")
        return None if stored is None else EdgeAffinity.from_extra(stored)

    @classmethod
    def load(
        cls, checkpoint: str | Path | None = None, device: str | torch.device = "auto", **options: Any
    ) -> Segmenter:
        """Load trained weights; `checkpoint=None` means the default model shipped in the package.

        `options` override the checkpoint's own inference options (extra "inference_options",
        chosen on validation scans when it was shipped, e.g. ground_gate), which override the
        `SegmenterConfig` defaults. Raises CheckpointError when the file is unusable, or when
        no default model is shipped yet.
        """
        if checkpoint is None:
            if not DEFAULT_CHECKPOINT.is_file():
                raise CheckpointError(
                    f"no default model is shipped yet ({DEFAULT_CHECKPOINT} is missing): "
                    "pass checkpoint=PATH or use method='baseline'"
                )
            checkpoint = DEFAULT_CHECKPOINT
        resolved = resolve_device(device)
        state_dict, config, extra = load_checkpoint(checkpoint, resolved)
        model = ClickEnhanceNet(config)
        model.load_state_dict(state_dict)
        stored = extra.get("inference_options") or {}
        try:
            config_from_dict(SegmenterConfig, stored, "inference_options")
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{checkpoint}: unusable inference options in the checkpoint: {error}") from error
        merged = {**stored, **options}
        segmenter = cls(model, config, resolved, config_from_dict(SegmenterConfig, merged, "options"), extra)
        try:
            segmenter.edge_affinity  # noqa: B018 (read now: a broken one is the checkpoint's error, not a session's)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"{checkpoint}: unusable edge affinity in the checkpoint: {error}") from error
        return segmenter

    @classmethod
    def from_config(
        cls, model_config: ModelConfig | None = None, device: str | torch.device = "cpu", seed: int = 0, **options: Any
    ) -> Segmenter:
        """An UNTRAINED segmenter (random weights from `seed`), for tests and as a training start."""
        config = model_config or ModelConfig()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ClickEnhanceNet(config)
        return cls(model, config, device, config_from_dict(SegmenterConfig, options, "options"))

    def with_options(self, **options: Any) -> Segmenter:
        """The same network (shared weights, same device) with other inference options, e.g. domain="indoor"."""
        return Segmenter(self.model, self.config, self.device, dataclasses.replace(self.options, **options), self.extra)

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write this segmenter's weights and config as a checkpoint (see `checkpoint.save_checkpoint`)."""
        return save_checkpoint(path, self.model, self.config, extra)

    def session(self, xyz: np.ndarray, rgb: np.ndarray | None = None) -> ModelSession:
        """Start clicking on one cloud: xyz float32 (N, 3) in metres, z up; rgb optional (N, 3) in [0, 1]."""
        return ModelSession(self, xyz, rgb)

    def predict(self, sample: dict) -> np.ndarray:
        """Object mask (bool) over the voxels of one sample from `encode_crop`/`prepare_sample`."""
        return self.object_logit(sample) > self.logit_threshold

    @property
    def logit_threshold(self) -> float:
        """The object logit above which a voxel or point is object (the `threshold` probability's logit)."""
        threshold = self.options.threshold
        return float(np.log(threshold / (1.0 - threshold)))

    @property
    def network_votes(self) -> bool:
        """Whether a `prior_fusion` network's logit enters the fused answer at its gain in this segmenter's domain
        (`NetworkConfig.network_gain_domains`); elsewhere the fused answer is the prior's."""
        return self.options.domain in self.config.network.network_gain_domains

    def prior_logit(self, prior: np.ndarray) -> np.ndarray:
        """Object logit (float32) of a `prior_fusion` network where it sees nothing but the prior (0/1 per point)."""
        with torch.inference_mode():
            prior = torch.from_numpy(np.array(prior, dtype=np.float32))  # a copy: a session's kept prior is read-only
            return self.model.prior_logit(prior).cpu().numpy()

    def object_logit(self, sample: dict) -> np.ndarray:
        """Object logit (float32) of each crop voxel of `sample` (a prior finer than the voxels is fused per point
        by `point_logits`). With `options.views` > 1 the network's logits are the mean over that many turned and
        mirrored views of the crop (`inference.symmetric_views`), run as one batch.
        """
        network, prior = self._network_logits(sample)
        with torch.inference_mode():
            logits = (network if not self.config.network.prior_fusion else
                      self.model.fuse(network, prior, self.network_votes))  # fmt: skip
            return (logits[:, 1] - logits[:, 0]).float().cpu().numpy()

    def point_logits(self, sample: dict, point_prior: np.ndarray, point_voxel: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Fused object logit of each point (its voxel's network logit with its own prior, 0/1) and its voxel's
        own network logit, both float32 (M,); `point_voxel` is each point's crop voxel."""
        network, _ = self._network_logits(sample)
        with torch.inference_mode():
            network = network[torch.as_tensor(point_voxel, device=self.device)]  # [M, 2]
            prior = torch.as_tensor(point_prior, dtype=torch.float32, device=self.device)  # [M]
            fused = self.model.fuse(network, prior, self.network_votes)
            return ((fused[:, 1] - fused[:, 0]).float().cpu().numpy(),
                    (network[:, 1] - network[:, 0]).float().cpu().numpy())  # fmt: skip

    def refine(self, features: np.ndarray) -> np.ndarray:
        """The point refiner's correction (float32 (M,)) of M points' fused logits, from `inference.point_features`."""
        with torch.inference_mode():
            delta = self.model.point_refiner(torch.as_tensor(features, dtype=torch.float32, device=self.device))
            return delta.float().cpu().numpy()

    def refined_logits(self, features: np.ndarray, fused: np.ndarray,
                       dropped: tuple[bool, bool] = (False, False)) -> np.ndarray:  # fmt: skip
        """The object logits (float32 (M,)) of M band points after the point refiner: `fused` plus its correction,
        then, where the network speaks, its sure answers held (`NetworkConfig.point_refiner_keep`,
        `inference.point_features.network_holds`) but for those dropped for this click state (object, background:
        the user's clicks overrule them, `inference.point_features.overruled_holds`, or the network does not know
        the object, `ModelSession._network_knows`)."""
        logit = fused + self.refine(features)
        keep = self.config.network.point_refiner_keep
        if keep <= 0 or not self.network_votes:
            return logit
        network = self.config.network
        hold_in, hold_out = network_holds(features, keep, network.point_refiner_flips, network.point_refiner_memory,
                                          network.point_refiner_keep_yield, network.point_refiner_keep_out)  # fmt: skip
        hold_in &= not dropped[0]
        hold_out &= not dropped[1]
        logit[hold_in] = np.maximum(logit[hold_in], np.maximum(fused[hold_in], self.logit_threshold + HELD_MARGIN))
        logit[hold_out] = np.minimum(logit[hold_out], self.logit_threshold - HELD_MARGIN)
        return logit

    def _network_logits(self, sample: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The network's own logits [V, 2] over the crop voxels of `sample` (mean over `options.views`) and the
        sample's voxel prior [V] (None without one)."""
        was_training = self.model.training
        self.model.eval()
        views = self.options.views
        try:
            with torch.inference_mode():
                batch = collate(view_samples(sample, views), self.device)
                network, _ = self.model(batch, embeddings=False, fuse=False)  # [views * V, 2]
                network = mean_over_views(network, views)  # [V, 2]
                prior = batch["prior"][: len(network)] if "prior" in batch else None  # sample["prior"]
                return network, prior
        finally:
            self.model.train(was_training)


def _at_points(values: np.ndarray, inside: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`values` (one per point of `inside`, sorted point indices) at those of `points` that lie inside."""
    at = np.minimum(np.searchsorted(inside, points), max(len(inside) - 1, 0))
    found = inside[at] == points if len(inside) else np.zeros(len(points), dtype=bool)
    return values[at[found]]


def model_click_rules(options: SegmenterConfig, rules: ClickRules | None) -> ClickRules | None:
    """A model session's click rules: `rules` with the model's own rules 3 and 4 (`options.gain_reach`,
    `keep_direction`) where set. Rule 4 stays off under a deferred foot click (`joined_click: deferred`), whose
    road becomes the fence it bore at a negative click, which rule 4 forbids."""
    deferred = prior_preset(options.domain, options.joined_click).joined_click == "deferred"
    direction = options.keep_direction and not deferred
    if rules is None or not (options.gain_reach > 0 or direction):
        return rules
    return dataclasses.replace(rules, gain_reach=options.gain_reach, keep_direction=direction)


def _first_click(positive: np.ndarray, negative: np.ndarray) -> bool:
    """Whether a click state is an object's first click (one positive click, no negative one): where the disputes,
    the network's additions and the shape band are drawn, on a region no correction has moved yet."""
    return len(positive) == 1 and len(negative) == 0


class ModelSession(InteractiveSession):
    """Clicks on one object of one cloud, segmented by a `Segmenter` (see `InteractiveSession`).

    A `prior_fusion` network corrects the geodesic region of the clicks. When the session's
    `domain` preset is the network's own graph (same settings, same voxels), that region comes
    with the network input; otherwise (the maps' frozen graph, `MAPS_PRESETS`, is not the baseline's
    preset any more, or an indoor cloud for a network with outdoor maps) the session builds the
    preset's graph on its own voxels and fuses per point. Either
    way, outside the network's crop the prior alone answers, so an object larger than the crop
    (a road, a facade) is not cut at its edge; a network without prior fusion calls it background.
    """

    def __init__(self, segmenter: Segmenter, xyz: np.ndarray, rgb: np.ndarray | None = None):
        options = segmenter.options
        super().__init__(xyz, rgb, snap_distance=options.snap_distance, max_range=options.max_range)
        self.click_rules = model_click_rules(options, self.click_rules)
        self.segmenter = segmenter
        config = segmenter.config
        self.grid = voxelize(self.xyz, self.rgb, config.input.voxel_size)  # cached per cloud
        self.graph = scan_graph(self.grid, config)  # cached per cloud; None without geodesic maps
        self.last_crop_voxels = 0  # voxels fed to the network by the latest click
        self.prior: GeodesicRegion | None = None  # the domain's geodesic prior, when not the network's graph
        self._height: np.ndarray | None = None  # height of each point above the floor, for the point refiner
        self._prior_regions: dict[tuple[bytes, bytes], np.ndarray] = {}  # the latest two click states' priors
        preset = prior_preset(options.domain, options.joined_click)
        affinity = segmenter.edge_affinity
        if affinity is not None and options.domain not in affinity.domains:
            affinity = None
        if needs_own_graph(config, preset) or affinity is not None:
            self.prior = GeodesicRegion(self.xyz, preset, affinity)

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        """Crop + encode around the clicks, run the network, map voxel labels back to the points."""
        ground_object = self._ground_object(positive, negative)  # `ground_prior`: a road or floor is the prior's alone
        if ground_object and self.prior is not None:  # no crop, no network
            self.last_crop_voxels = 0
            return self.prior.of_points(positive, negative)
        sample = encode_crop(
            self.grid, self.xyz[positive], self.xyz[negative], self.xyz[current], self.segmenter.config, self.graph
        )
        if ground_object:  # the prior comes with the maps: the encoding's region, over the whole scan
            self.last_crop_voxels = 0
            return sample["scan_prior"][self.grid.point_to_voxel]
        crop = sample["crop"].numpy()
        self.last_crop_voxels = len(crop)
        gate = self._ground_gate(positive)
        if self.prior is None:
            voxel_mask = np.zeros(len(self.grid), dtype=bool)  # without a prior, voxels outside the crop are background
            if "scan_prior" in sample:  # a fusion network: outside the crop, the prior alone (a road or wall past it)
                voxel_mask = self.segmenter.prior_logit(sample["scan_prior"]) > self.segmenter.logit_threshold
            voxel_mask[crop] = self.segmenter.predict(sample)
            return (voxel_mask & gate)[self.grid.point_to_voxel]
        region = self._prior_region(positive, negative)  # [M] the domain preset's geodesic region
        logit = self.segmenter.prior_logit(region)  # outside the crop: the prior alone
        refiner = self.segmenter.config.network.point_refiner
        previous = self._previous_region(region, positive, negative, current) if refiner else None
        shown = self._memory(region, self._shown_before()) if refiner else None
        inside, fused, band, features, dropped, added = self._crop_points(sample, region, positive, negative,
                                                                          refiner, previous, shown)  # fmt: skip
        logit[inside] = fused
        if features is not None:  # the point refiner, in the prior's boundary band
            logit[inside[band]] = self.segmenter.refined_logits(features, logit[inside[band]], dropped)
        if added.any():  # the network's additions beyond the prior at a first click (`point_refiner_network_adds`)
            at = inside[added]
            logit[at] = np.maximum(logit[at], self.segmenter.logit_threshold + HELD_MARGIN)
        return (logit > self.segmenter.logit_threshold) & gate[self.grid.point_to_voxel]

    def _previous_region(self, region: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                         current: int) -> np.ndarray | None:  # fmt: skip
        """For a refiner with flips (`NetworkConfig.point_refiner_flips`), the prior of the clicks before the latest
        one (`current`, the last of its kind); `region` itself where no positive click came before it (nothing
        moved). None without flips."""
        if not self.segmenter.config.network.point_refiner_flips:
            return None
        if len(positive) and positive[-1] == current:
            positive = positive[:-1]
        else:
            negative = negative[:-1]
        return self._prior_region(positive, negative) if len(positive) else region

    def _memory(self, region: np.ndarray, shown: np.ndarray | None) -> np.ndarray | None:
        """For a refiner with memory (`NetworkConfig.point_refiner_memory`), the answer shown after the click before
        (`shown`, bool over `self.xyz`); `region` itself where there is none (nothing was shown, so nothing differs
        from the prior). None without memory."""
        if not self.segmenter.config.network.point_refiner_memory:
            return None
        return region if shown is None else shown

    def _prior_region(self, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """The domain prior's region of a click state (point indices), kept for the latest two states: the next
        click's `_previous_region` is this click's region, so a refiner with flips solves one region per click.
        Read-only: callers copy before changing it."""
        key = (positive.tobytes(), negative.tobytes())
        region = self._prior_regions.get(key)
        if region is None:
            region = self.prior.of_points(positive, negative)
            region.flags.writeable = False
            self._prior_regions = {**dict(list(self._prior_regions.items())[-1:]), key: region}
        return region

    def _crop_points(self, sample: dict, region: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                     with_features: bool, previous: np.ndarray | None = None, shown: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, tuple[bool, bool],
                                np.ndarray]:  # fmt: skip
        """The points inside the crop of `sample` (indices into `self.xyz`), their fused logits before the point
        refiner, when `with_features` which of them lie in the prior's boundary band (bool) and the refiner
        features of those (`inference.point_features`), which of the network's holds are dropped for this click
        state (object, background: those the clicks overrule, `overruled_holds`, and both on an object the network
        does not know, `_network_knows`, which also drops the disputes), and which of them the network adds to the
        answer (bool, `_network_additions`). With `previous` (the prior before the latest
        click, `_previous_region`) the band also holds the points the latest click moved (`flip_band`); with `shown`
        (the answer after the click before, `_memory`) the points where the prior differs from it; with shape
        (`NetworkConfig.point_refiner_shape`), at an object's first click, the prior's points shaped unlike the
        clicked one (`shape_band`, `_shape`)."""
        crop = sample["crop"].numpy()
        lookup = np.full(len(self.grid), -1, dtype=np.int64)  # grid voxel -> crop voxel
        lookup[crop] = np.arange(len(crop))
        crop_voxel = lookup[self.grid.point_to_voxel]  # [M]
        inside = np.flatnonzero(crop_voxel >= 0)
        fused, network = self.segmenter.point_logits(sample, region[inside], crop_voxel[inside])
        added = self._network_additions(region, network, inside, positive, negative)
        if not with_features:
            return inside, fused, np.zeros(len(inside), dtype=bool), None, (False, False), added
        voxel = self.grid.point_to_voxel[inside]
        band = boundary_band(self.grid.coords, voxel, region[inside])
        reach = self.segmenter.config.network.point_refiner_reach
        if reach > 0:  # the sparse voxels' points near the other value: across a sparse scan's ring gaps
            band |= reach_band(self.xyz[inside], voxel, region[inside], reach)
        column = self.segmenter.config.network.point_refiner_column
        if column > 0:  # what lies straight under the region: a sparse scan's lowest ring of an object
            band |= column_band(self.xyz[inside], region[inside], column)
        silent = not self._network_knows(region, network, inside, positive[:1])
        dropped = (True, True) if silent else overruled_holds(
            _at_points(network, inside, positive), _at_points(network, inside, negative),
            self.segmenter.config.network.point_refiner_keep_overruled)  # fmt: skip
        if not silent and self._disputes(positive, negative, dropped[1]):  # however far from the prior's boundary
            band |= disagreement_band(region[inside], network, self.segmenter.config.network.point_refiner_disagree)
        if previous is not None:  # what the latest click moved, however far from a boundary voxel
            band |= flip_band(region[inside], previous[inside])
        if shown is not None:  # what the answer before took out of the prior or added to it
            band |= flip_band(region[inside], shown[inside])
        shape = self._shape(inside, positive)
        if shape is not None and _first_click(positive, negative):  # a first click's region, shaped unlike it
            gap = self.segmenter.config.network.point_refiner_shape
            band |= shape_band(region[inside], shape[:, 0], shape[:, 2], gap)
        at = inside[band]
        if self._height is None:  # once per cloud
            self._height = height_above_floor(self.xyz)
        growth = None
        if previous is not None and self.segmenter.config.network.point_refiner_growth:  # the move's size, in the crop
            growth = click_growth(region[inside], previous[inside])
        features = point_features(self.xyz[at], None if self.rgb is None else self.rgb[at], self._height[at],
                                  self.grid, voxel[band], region[at], fused[band], network[band],
                                  self.xyz[positive], self.xyz[negative],
                                  None if previous is None else previous[at], growth,
                                  None if shown is None else shown[at],
                                  None if shape is None else shape[band])  # fmt: skip
        return inside, fused, band, features, dropped, added

    def _shape(self, inside: np.ndarray, positive: np.ndarray) -> np.ndarray | None:
        """For a refiner with shape (`NetworkConfig.point_refiner_shape`), the `shape_columns` of the crop points
        `inside`, read off the prior's graph at their nodes and at the first positive click's; None without."""
        if self.segmenter.config.network.point_refiner_shape <= 0:
            return None
        graph, node = self.prior.graph, self.prior.node_of_point
        return shape_columns(graph.variation[node[inside]], graph.normal_z[node[inside]],
                             float(graph.variation[node[positive[0]]]))  # fmt: skip

    def _network_knows(self, region: np.ndarray, network: np.ndarray, inside: np.ndarray, first: np.ndarray) -> bool:
        """Whether the network's disputes and holds apply to this click state's object: its prior region (bool over
        the points) holds at least `NetworkConfig.point_refiner_network_min_region` points, the network calls at
        least `point_refiner_network_min_share` of the region's crop points object (`network`: its logits at the
        crop points `inside`), and its logit at the first positive click (`first`; none where it lies outside the
        crop) is at least `point_refiner_network_recognised`. The logits are read only as far as a test needs."""
        if int(region.sum()) < self.segmenter.config.network.point_refiner_network_min_region:
            return False
        return self._network_recognises(region, network, inside, first)

    def _network_recognises(self, region: np.ndarray, network: np.ndarray, inside: np.ndarray,
                            first: np.ndarray) -> bool:  # fmt: skip
        """`_network_knows` whatever the region's size: the network calls at least
        `point_refiner_network_min_share` of the region's crop points object and the first positive click object
        at `point_refiner_network_recognised` or more."""
        config = self.segmenter.config.network
        if config.point_refiner_network_min_share:
            on_region = network[region[inside]]
            if not (len(on_region) and (on_region >= 0).mean() >= config.point_refiner_network_min_share):
                return False
        if not config.point_refiner_network_recognised:
            return True
        at_first = _at_points(network, inside, first)
        return bool(len(at_first) and at_first[0] >= config.point_refiner_network_recognised)

    def _network_additions(self, region: np.ndarray, network: np.ndarray, inside: np.ndarray, positive: np.ndarray,
                           negative: np.ndarray) -> np.ndarray:  # fmt: skip
        """Which crop points (`inside`; `network`: its logits there) join the answer beyond the prior
        (`NetworkConfig.point_refiner_network_adds`): at an object's first click, where the network speaks and
        recognises the object (`_network_recognises`), the points outside the prior region it calls object at that
        logit or more, within `point_refiner_network_adds_reach` of the region's crop points. None elsewhere."""
        added = np.zeros(len(inside), dtype=bool)
        config = self.segmenter.config.network
        if config.point_refiner_network_adds <= 0 or not self.segmenter.network_votes:
            return added
        if not _first_click(positive, negative) or not self._network_recognises(region, network, inside, positive):
            return added
        return network_additions(self.xyz[inside], region[inside], network, config.point_refiner_network_adds,
                                 config.point_refiner_network_adds_reach)  # fmt: skip

    def _disputes(self, positive: np.ndarray, negative: np.ndarray, background_overruled: bool) -> bool:
        """Whether this click state's refiner band holds the network's disputes
        (`NetworkConfig.point_refiner_disagree`): where the network speaks (`Segmenter.network_votes`), at the
        first click only with `point_refiner_disagree_first`, and with `point_refiner_disagree_overruled` not where
        a positive click overruled the background hold (`background_overruled`, `overruled_holds`)."""
        network = self.segmenter.config.network
        if network.point_refiner_disagree <= 0 or not self.segmenter.network_votes:
            return False
        if network.point_refiner_disagree_overruled and background_overruled:
            return False
        return not network.point_refiner_disagree_first or _first_click(positive, negative)

    def refiner_inputs(self, clicks: list[tuple[int, bool]], shown: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
        """What the point refiner sees for a click state (caller indices, positive flags, in click order): the
        points of the prior's boundary band in the crop (indices into `self.xyz`), their fused logits before the
        refiner and their features; None where the refiner takes no part (an object the `ground_prior` hands to
        the prior, or a network whose prior comes with its own voxels). For a refiner with memory, `shown` is the
        answer after the click before (bool over the caller's points; None: none was shown). For fitting the
        refiner (`training.point_refiner_fit`)."""
        positive, negative, current = self._click_indices([self._make_click(index, bool(p)) for index, p in clicks])
        if self.prior is None or len(positive) == 0 or self._ground_object(positive, negative):
            return None
        sample = encode_crop(self.grid, self.xyz[positive], self.xyz[negative], self.xyz[current],
                             self.segmenter.config, self.graph)  # fmt: skip
        region = self._prior_region(positive, negative)
        previous = self._previous_region(region, positive, negative, current)
        memory = self._memory(region, None if shown is None else np.asarray(shown, dtype=bool)[self.valid_indices])
        inside, fused, band, features, _, _ = self._crop_points(sample, region, positive, negative, True, previous,
                                                                memory)  # fmt: skip
        return inside[band], fused[band], features

    def _ground_object(self, positive: np.ndarray, negative: np.ndarray) -> bool:
        """Whether the `ground_prior` option hands this object to the prior: a fusion network's object that the
        prior's graph takes for the ground (`VoxelGraph.object_on_ground`; clicks as point indices)."""
        if not (self.segmenter.options.ground_prior and self.segmenter.config.network.prior_fusion):
            return False
        if self.prior is not None:
            node_of_point = self.prior.node_of_point
            return self.prior.graph.object_on_ground(node_of_point[positive], node_of_point[negative])
        graph, gap = self.graph, self.graph.config.max_edge
        first = graph.nodes_near(self.xyz[positive[:1]], gap)
        if len(first) == 0:
            return False
        return graph.object_on_ground(np.concatenate([first, graph.nodes_near(self.xyz[positive[1:]], gap)]),
                                      graph.nodes_near(self.xyz[negative], gap))  # fmt: skip

    def _ground_gate(self, positive: np.ndarray) -> np.ndarray:
        """Grid voxels the object may hold under the `ground_gate` option (all True when it is off).

        It reads the ground of the scan graph the geodesic click maps use; networks without
        those maps have no graph and are not gated.
        """
        if not self.segmenter.options.ground_gate or self.graph is None:
            return np.ones(len(self.grid), dtype=bool)
        nodes = self.graph.nodes_near(self.xyz[positive], self.graph.config.max_edge)
        return self.graph.ground_gate(nodes)
