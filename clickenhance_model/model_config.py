"""Configuration dataclasses of the ClickEnhance model and of the inference API.

`ModelConfig` is everything that shapes the trained network and its input (saved inside
every checkpoint); `SegmenterConfig` holds inference options a user may change freely.
Both load from YAML through `clickenhance_model.config` (unknown keys are an error), e.g.
`load_config(ModelConfig, "config/model_default.yaml")`.

The ablation switches of the paper are `input.encoding` ("dense" | "sparse", Fig. 8),
`network.use_cse` (Click-Specific Encoder on/off) and `loss.click_loss` (click loss on/off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clickenhance_model.config import config_from_dict, config_to_dict, load_config

ENCODINGS = ("dense", "sparse")
GEODESIC_GRAPHS = ("off", "outdoor", "indoor")
DENSE_MAP_SCALES = ("minmax", "radius")  # InputConfig.dense_map_scale
DOMAINS = ("outdoor", "indoor")  # kinds of cloud, one graph preset each
JOINED_CLICK_RULES = ("ground", "free", "lifted", "deferred")  # GraphConfig.joined_click
# SegmenterConfig switches a shipped model carries, chosen on generated validation scans
CHOSEN_ON_VALIDATION = ("ground_gate", "ground_prior", "joined_click", "views", "gain_reach", "keep_direction")
MAX_VIEWS = 8  # SegmenterConfig.views: the quarter turns about z and their mirrors (inference.symmetric_views)


@dataclass(frozen=True)
class InputConfig:
    """How a cloud and its clicks become the network input (crop, voxels, click maps).

    Attributes:
        voxel_size: voxel edge length in metres.
        crop_radius: radius in metres of the ball around every positive click; voxels
            farther than that (3D distance) from all positive clicks are not fed to the
            network and are background, so no point far above or below the clicks can
            stretch the click maps' normalisation. 0 disables the radius limit.
        max_voxels: upper bound on voxels in the crop (the nearest to the positive clicks
            are kept), so latency does not grow with the density of the scan. 0 = no bound.
        coord_scale: metres per unit of the xyz input features (xyz relative to the first
            positive click, divided by this).
        encoding: click encoding, "dense" (distance maps, the paper) or "sparse" (cubes).
        sparse_cube_size: edge length in metres of the cube marked around each click by the
            sparse encoding; at least two voxels, so the clicked voxel is always marked.
        geodesic_maps: add two channels to the main branch, the geodesic distance (along the
            voxel graph of `inference.voxel_graph`, with that frozen maps preset, `MAPS_PRESETS`:
            "outdoor" | "indoor") to the nearest positive / negative click, divided by the preset's
            `max_radius` and clipped to 1. Euclidean maps cannot tell a car from the wall 30 cm behind it; the
            graph can. "off" (the paper's input) by default.
        geodesic_normal_penalty: the `normal_penalty` of that graph (the maps preset's other
            settings stay). 0, the default, is the graph every network before it was trained with.
            The baseline presets (`PRESETS`) move on their own (normal penalty 2 outdoors and 3
            indoors, a 1 m longest edge outdoors), so a network keeps the maps it learned on. A
            `prior_fusion` network whose maps graph is not its domain's baseline preset reads its
            prior off the preset's own graph, so its prior is always the baseline's answer.
        geodesic_channels: feed those two maps to the network (default). False keeps the graph
            for a `prior_fusion` network's prior only: its input is then the paper's (Euclidean
            maps), so its evidence does not repeat the prior's (networks fed the geodesic maps
            learned to echo the region they encode).
        dense_map_scale: how the dense (Euclidean) click maps become [0, 1]: "minmax" (the paper:
            min-max over the crop, so their values depend on how far the crop reaches: 8-20 m on
            one street, 4-9 m in a room) or "radius" (distance / `crop_radius`, clipped to 1: the
            same metres give the same value in every cloud; needs a crop radius).
    """

    voxel_size: float = 0.1
    crop_radius: float = 20.0
    max_voxels: int = 12000
    coord_scale: float = 10.0
    encoding: str = "dense"
    sparse_cube_size: float = 0.3
    geodesic_maps: str = "off"
    geodesic_normal_penalty: float = 0.0
    geodesic_channels: bool = True
    dense_map_scale: str = "minmax"

    @property
    def dense_map_metres(self) -> float | None:
        """The metric scale of the dense click maps (`dense_map_scale` "radius"); None for the paper's min-max."""
        return self.crop_radius if self.dense_map_scale == "radius" else None

    @property
    def main_features(self) -> int:
        """Input channels of the main branch: xyz, rgb, two click maps (+ two geodesic maps)."""
        return 10 if self.feeds_geodesic_maps else 8

    @property
    def feeds_geodesic_maps(self) -> bool:
        """Whether the network's input holds the two geodesic click maps."""
        return self.geodesic_maps != "off" and self.geodesic_channels

    def __post_init__(self) -> None:
        """Reject values the preprocessing cannot work with."""
        if not self.voxel_size > 0:
            raise ValueError(f"input.voxel_size must be > 0 metres, got {self.voxel_size}")
        if self.crop_radius < 0 or self.max_voxels < 0:
            raise ValueError("input.crop_radius and input.max_voxels must be >= 0 (0 disables them)")
        if 0 < self.crop_radius < 2 * self.voxel_size:
            raise ValueError(f"input.crop_radius ({self.crop_radius} m) must be 0 or at least two voxels")
        if not self.coord_scale > 0:
            raise ValueError(f"input.coord_scale must be > 0, got {self.coord_scale}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"input.encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.geodesic_maps not in GEODESIC_GRAPHS:
            raise ValueError(f"input.geodesic_maps must be one of {GEODESIC_GRAPHS}, got {self.geodesic_maps!r}")
        if self.dense_map_scale not in DENSE_MAP_SCALES:
            raise ValueError(f"input.dense_map_scale must be one of {DENSE_MAP_SCALES}, got {self.dense_map_scale!r}")
        if self.dense_map_scale == "radius" and self.crop_radius == 0:
            raise ValueError("input.dense_map_scale 'radius' divides by crop_radius: set a crop radius > 0")
        if not self.geodesic_normal_penalty >= 0:
            raise ValueError(f"input.geodesic_normal_penalty must be >= 0, got {self.geodesic_normal_penalty}")
        if self.encoding == "sparse" and self.sparse_cube_size < 2 * self.voxel_size:
            raise ValueError(
                f"input.sparse_cube_size ({self.sparse_cube_size} m) must be at least two voxels "
                f"({2 * self.voxel_size} m) so that the clicked voxel is always inside its cube"
            )


@dataclass(frozen=True)
class NetworkConfig:
    """Widths and depth of the sparse U-Net and of the Click-Specific Encoder (CSE).

    Attributes:
        channels: main encoder/decoder width per resolution level (level i has voxels
            2**i times the input voxel size).
        cse_channels: CSE width per level (lighter than `channels`, same length).
        encoder_blocks: residual blocks per encoder level.
        decoder_blocks: residual blocks per decoder level.
        use_cse: build and use the Click-Specific Encoder (ablation switch).
        embedding_dim: output size of the projection head used by the click loss.
        prior_fusion: the network corrects a prior instead of segmenting from nothing: its
            object logit is `prior_scale * (2 * region - 1) + network_gain * (network's logit)`,
            where `region` is the training-free geodesic region of the same clicks (the
            baseline's answer, from the scan graph of `input.geodesic_maps`) and both scalars
            are learned. With gain 0 it is the baseline; training adds what the network knows.
            Not in the paper (see the README). Needs `input.geodesic_maps`.
        point_refiner: a per-point head (`unet.PointRefiner`) adds a correction to each point's fused
            logit from what the point has and its voxel has not (`inference.point_features`). It is
            fitted on a trained network, frozen, by `clickenhance-fit-point-refiner`; off, every point of a voxel
            gets the voxel's network logit. Needs `prior_fusion`.
        point_refiner_colour: whether the refiner reads colour. Off, it sees every cloud as a colourless
            one (a LiDAR's), so the clean colours of generated rooms cannot teach it cues that a real
            camera's colour, bled across depth edges and shaded by real light, does not keep.
        point_refiner_reach: metres; the refiner also answers the points of sparse voxels within this
            distance of a point of the other prior value (`inference.point_features.reach_band`), so
            that on a sparse scan it can reach the rings a region misses. 0: the voxel band alone.
        point_refiner_flips: the refiner also answers every point the latest click moved into or out of the
            prior (`inference.point_features.flip_band`), told which way it moved. A later click on a sparse
            scan moves whole rings at once (a positive click on a fence floods the hedge behind it, a
            negative one at a trunk's foot takes the trunk's lower rings), far from any voxel band; this lets
            the refiner judge that change point by point.
        point_refiner_column: metres; the refiner also answers the points outside the prior that lie under a
            prior point, within this horizontal distance of it and at most `COLUMN_DEPTH` below
            (`inference.point_features.column_band`): an object's lowest ring on a sparse scan, which the
            region misses when it lies within the ground's height. 0: off.
        point_refiner_growth: the refiner (with flips) is also told how large the latest click's move was against
            the region before it (`inference.point_features.click_growth`): a positive click that floods the hedge
            behind a fence triples the region, one that adds the fence's missed rings does not, and the flip columns
            alone flag both alike. Needs `point_refiner_flips`.
        point_refiner_memory: the refiner (with flips) is also told the answer the user saw after the click before
            (the session's previous mask) and answers every point where the prior differs from it
            (`inference.point_features`' `shown`). Without it a refiner answers each click state afresh: a flood it
            removed comes back at the next click, wherever that click lands, because the prior still holds it. The
            answer then depends on the session's history, not on its clicks alone (a batch of clicks is answered as
            one state). Needs `point_refiner_flips`.
        point_refiner_disagree: a logit; the refiner also answers the points of the crop where the network's own
            logit disagrees with the prior by more than this (`inference.point_features.disagreement_band`): a prior
            point the network calls background below minus this, or a point outside the prior it calls object above
            it. A first click's flood into the hedge a car touches lies far from the prior's boundary, and so does
            the rest of a car a negative click cut off; there the network often knows better and the band alone
            never asks it. Only in `network_gain_domains` (a street network's disputes in a room are no knowledge).
            0: off.
        point_refiner_disagree_first: the disagreement band only at an object's first click, whose flood nothing
            else puts in the band; at later clicks the flips and the memory hold what the user's clicks moved, and
            the network's disputes there overrule the user's corrections.
        point_refiner_shape: the refiner is also told each point's local shape, and the first click's (its voxel's
            surface variation in the prior's graph, the vertical part of its normal; `inference.point_features`'
            `shape_columns`), and at an object's first click it also answers the prior's points whose surface
            variation differs from the clicked point's by more than this (`shape_band`): a trunk's first click
            takes the canopy and the bushes it touches far inside the region, where no other band reaches. 0: off.
        point_refiner_keep: a logit; where the network speaks (`network_gain_domains`) its sure answers hold after
            the refiner (`inference.point_features.network_holds`): object where its own logit is at least this on
            a point the prior holds or the latest click moved out, background where it is at most minus this on a
            point the prior holds that the answer shown before left out. A negative click that cuts a car in the
            geodesic prior, and a positive click that brings back a flood the answer had left out, otherwise
            undo the network's sure answers there. 0: off.
        point_refiner_keep_yield: metres; the background hold yields to the user's positive clicks: none closer
            than this to one (at most `point_features.CLICK_REACH`, the refiner's horizon for click distances; 0: it
            never yields). A vehicle network's sure "background" on a building part the user clicked then cannot
            outvote the click. The object hold never yields: a negative click's cut stops where the network is sure.
        point_refiner_keep_out: a logit; the background hold only where the network's logit is at most minus this
            (0: minus `point_refiner_keep`). A street network is surer of a hedge than of a building part it was
            never shown: session 40's demo vehicle needs the hold on its returning hedge flood (median -15.8).
        point_refiner_keep_overruled: a logit; a hold the user's clicks contradict is dropped for the click state
            (`inference.point_features.overruled_holds`): no background hold once a positive click lies on a point
            whose network logit is at most minus this, no object hold once a negative click lies on one at least
            this. A vehicle network that calls a clicked building part background is wrong about this object, and
            its sure "background" elsewhere on it is no knowledge either. 0: holds are never dropped.
        point_refiner_disagree_overruled: the disputes (`point_refiner_disagree`) are dropped as well where a
            positive click overrules the background hold (`point_refiner_keep_overruled`): a network that calls the
            clicked object background would have the refiner cut it, as the disputes cut a flood.
        point_refiner_network_min_region: points; the disputes and the holds only for click states whose prior
            region holds at least this many points. On a smaller one (a sparse scan's pole, trunk or distant car,
            a few rings of a few dozen points) the network's crop sees too few points to be sure of anything but
            what it was trained on, and its sure answers overrule the boundary the refiner and the user's clicks
            draw. 0: always.
        point_refiner_network_recognised: a logit; the disputes and the holds only on an object whose first positive
            click the network calls object at this or more, one it recognises. A street network trained on vehicles
            recognises a car; its sure "background" on a pole, a trunk, a building part or a hedge the user clicked
            is no knowledge of that object. 0: on every object.
        point_refiner_network_min_share: the disputes and the holds only where the network calls at least this share
            of the prior region's crop points object. A street network that calls most of a clicked tree or trunk
            background does not know it, and its disputes and holds would cut it; a car whose region floods into a
            hedge keeps a large share. 0: always.
        point_refiner_network_adds: a logit; at an object's first click (one positive click, no negative), where the
            network speaks (`network_gain_domains`) and recognises the object (`point_refiner_network_recognised`
            and `point_refiner_network_min_share`, whatever the region's size), the crop points outside the prior
            that the network calls object at this or more join the answer. A distant car on a 16-ring scan is a few
            rings 1 to 7 m apart: the graph's region holds the clicked ring, no refiner band reaches the others,
            and the network, which sees the whole crop, calls them object (session 48, docs/default_model.md).
            Later clicks add nothing: a refiner with memory is shown the answer the user saw and answers the points
            where the prior differs from it, these among them. 0: off.
        point_refiner_network_adds_reach: metres; the additions only within this distance of the prior region's
            points in the crop: about one ring gap of a 16-ring scan at 30 m (1.7 degrees x 30 m = 0.9 m). Farther
            off, the vehicle network's "object" lies on what stands beside a clicked pole, trunk or person (session
            48). 0: anywhere in the crop.
        network_gain_domains: the cloud domains (`DOMAINS`, the session's `SegmenterConfig.domain`) where the
            network's own logit speaks beyond the refiner's input: inference fuses it at its `network_gain`, and
            the refiner's disagreement band is drawn; in the others the fused answer is the prior's alone (gain 0)
            and the network takes part only as one of the refiner's inputs. A network trained on streets only should
            not vote in a room: its sure logits there are a street's. Training fuses at the gain everywhere.
    """

    channels: tuple[int, ...] = (16, 32, 64, 96, 128)
    cse_channels: tuple[int, ...] = (8, 16, 24, 32, 48)
    encoder_blocks: int = 1
    decoder_blocks: int = 1
    use_cse: bool = True
    embedding_dim: int = 16
    prior_fusion: bool = False
    point_refiner: bool = False
    point_refiner_colour: bool = True
    point_refiner_reach: float = 0.0
    point_refiner_flips: bool = False
    point_refiner_column: float = 0.0
    point_refiner_growth: bool = False
    point_refiner_memory: bool = False
    point_refiner_disagree: float = 0.0
    point_refiner_disagree_first: bool = False
    point_refiner_shape: float = 0.0
    point_refiner_keep: float = 0.0
    point_refiner_keep_yield: float = 0.0
    point_refiner_keep_out: float = 0.0
    point_refiner_keep_overruled: float = 0.0
    point_refiner_disagree_overruled: bool = False
    point_refiner_network_min_region: int = 0
    point_refiner_network_recognised: float = 0.0
    point_refiner_network_min_share: float = 0.0
    point_refiner_network_adds: float = 0.0
    point_refiner_network_adds_reach: float = 0.0
    network_gain_domains: tuple[str, ...] = DOMAINS

    def __post_init__(self) -> None:
        """Check that the widths describe a buildable network."""
        if not 0 <= self.point_refiner_shape <= 1:  # surface variations lie in [0, 1]
            raise ValueError(f"network.point_refiner_shape must lie in [0, 1], got {self.point_refiner_shape}")
        if self.point_refiner_disagree < 0:
            raise ValueError(f"network.point_refiner_disagree must be >= 0, got {self.point_refiner_disagree}")
        if min(self.point_refiner_keep, self.point_refiner_keep_out, self.point_refiner_keep_overruled) < 0:
            raise ValueError(f"network.point_refiner_keep, point_refiner_keep_out and point_refiner_keep_overruled "
                             f"must be >= 0, got {self.point_refiner_keep}, {self.point_refiner_keep_out} and "
                             f"{self.point_refiner_keep_overruled}")  # fmt: skip
        if not 0 <= self.point_refiner_keep_yield <= 2.0:  # point_features.CLICK_REACH: click distances stop there
            raise ValueError(f"network.point_refiner_keep_yield must lie in [0, 2] m, got "
                             f"{self.point_refiner_keep_yield}")  # fmt: skip
        if self.point_refiner_disagree_overruled and not self.point_refiner_keep_overruled > 0:
            raise ValueError("network.point_refiner_disagree_overruled drops the disputes where a click overrules the "
                             "background hold: it needs network.point_refiner_keep_overruled > 0")  # fmt: skip
        if not 0 <= self.point_refiner_network_min_share <= 1:
            raise ValueError(f"network.point_refiner_network_min_share must lie in [0, 1], got "
                             f"{self.point_refiner_network_min_share}")  # fmt: skip
        if self.point_refiner_network_adds < 0 or self.point_refiner_network_adds_reach < 0:
            raise ValueError(f"network.point_refiner_network_adds (a logit) and point_refiner_network_adds_reach (m) "
                             f"must be >= 0 (0: off, anywhere), got {self.point_refiner_network_adds} and "
                             f"{self.point_refiner_network_adds_reach}")  # fmt: skip
        if self.point_refiner_network_recognised < 0:
            raise ValueError(f"network.point_refiner_network_recognised must be >= 0 (a logit; 0: off), got "
                             f"{self.point_refiner_network_recognised}")  # fmt: skip
        if self.point_refiner_network_min_region < 0:
            raise ValueError(f"network.point_refiner_network_min_region must be >= 0 points, got "
                             f"{self.point_refiner_network_min_region}")  # fmt: skip
        if set(self.network_gain_domains) - set(DOMAINS):
            raise ValueError(f"network.network_gain_domains must be some of {DOMAINS}, got {self.network_gain_domains}")
        if self.point_refiner and not self.prior_fusion:
            raise ValueError("network.point_refiner corrects a fused logit: it needs network.prior_fusion")
        if self.point_refiner_growth and not self.point_refiner_flips:
            raise ValueError("network.point_refiner_growth measures the latest click's move: it needs "
                             "network.point_refiner_flips")  # fmt: skip
        if self.point_refiner_memory and not self.point_refiner_flips:
            raise ValueError("network.point_refiner_memory compares the previous answer with the latest click's "
                             "prior: it needs network.point_refiner_flips")  # fmt: skip
        if len(self.channels) < 2 or any(c <= 0 for c in self.channels):
            raise ValueError(f"network.channels needs >= 2 positive widths, got {self.channels}")
        if len(self.cse_channels) != len(self.channels) or any(c <= 0 for c in self.cse_channels):
            raise ValueError(
                f"network.cse_channels must have {len(self.channels)} positive widths (one per level), "
                f"got {self.cse_channels}"
            )
        if self.encoder_blocks < 0 or self.decoder_blocks < 0 or self.embedding_dim <= 0:
            raise ValueError("network.encoder_blocks/decoder_blocks must be >= 0 and embedding_dim > 0")

    @property
    def levels(self) -> int:
        """Number of resolution levels of the U-Net."""
        return len(self.channels)


@dataclass(frozen=True)
class LossConfig:
    """Training loss L = seg_weight * (CE + Dice) + click_weight * L_click (paper eq. 4).

    Attributes:
        seg_weight: weight of cross-entropy + Dice.
        click_weight: weight of the click triplet loss.
        click_loss: use the click loss at all (ablation switch).
        num_samples: K, samples drawn from each of the false-positive and false-negative regions.
        margin: triplet margin on L2-normalised embeddings.
        prior_error_weight: for `prior_fusion` networks, the cross-entropy weight of the voxels
            whose geodesic prior is wrong (prior region != label); the others weigh 1. Most voxels
            agree with the prior, so at 1 the cheapest way down the loss is to echo it; a larger
            weight spends the network on the corrections. Not in the paper.
    """

    seg_weight: float = 0.8
    click_weight: float = 0.2
    click_loss: bool = True
    num_samples: int = 16
    margin: float = 0.1
    prior_error_weight: float = 1.0

    def __post_init__(self) -> None:
        """Reject negative weights and an empty sample count."""
        if self.seg_weight < 0 or self.click_weight < 0 or self.margin < 0:
            raise ValueError("loss weights and margin must be >= 0")
        if not self.prior_error_weight >= 1:
            raise ValueError(f"loss.prior_error_weight must be >= 1, got {self.prior_error_weight}")
        if self.num_samples < 1:
            raise ValueError(f"loss.num_samples (K) must be >= 1, got {self.num_samples}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a trained ClickEnhance model; stored in every checkpoint."""

    input: InputConfig = field(default_factory=InputConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        """Reject combinations the network cannot be built with."""
        if self.network.prior_fusion and self.input.geodesic_maps == "off":
            raise ValueError("network.prior_fusion needs input.geodesic_maps (the prior is the geodesic region)")
        if not self.input.geodesic_channels and not self.network.prior_fusion:
            raise ValueError("input.geodesic_channels false builds a graph only for network.prior_fusion's prior: "
                             "turn prior_fusion on, or set input.geodesic_maps off")  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ModelConfig:
        """Build from a plain dict (e.g. a checkpoint's), rejecting unknown keys."""
        return config_from_dict(cls, data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Load from a YAML file, rejecting unknown keys."""
        return load_config(cls, path)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (lists, numbers, strings), as stored in checkpoints."""
        return config_to_dict(self)


@dataclass(frozen=True)
class SegmenterConfig:
    """Inference options of `Segmenter` that do not change the network.

    Attributes:
        snap_distance: largest distance in metres between a click given by coordinates
            and the point it snaps to.
        threshold: a voxel is part of the object when its foreground probability is above this.
        ground_gate: for networks with geodesic click maps: while no positive click is on the
            ground, the scan graph's ground voxels (road, floor) are left out of the mask; a
            positive click on the ground lifts it. Not part of the paper's method (see the README).
        ground_prior: for `prior_fusion` networks: an object whose first positive click is on the
            ground of the prior's graph (a road, a floor) is the prior's region alone. The networks
            saw few ground targets in training and veto large ones (a room's floor). Not part of
            the paper's method.
        joined_click: for `prior_fusion` networks: the prior's rule for an object first clicked on
            a node that only joined the ground (a fence's foot, a car's sill; `GraphConfig.joined_click`:
            "free", "lifted" or "deferred" make it an object the network answers, "ground" the road).
            None = the domain preset's own rule. Not part of the paper's method.
        max_range: points farther than this (metres) from the sensor origin are dropped like
            non-finite ones (never in a mask): a stray return at 1e17 m would otherwise blow up
            the voxel grid. 1 km is beyond every LiDAR and RGB-D camera.
        domain: the kind of cloud, "outdoor" (LiDAR) or "indoor" (RGB-D); for networks with
            `prior_fusion` it picks the graph preset of the geodesic prior (the baseline's, see
            `inference.voxel_graph.PRESETS`). Other networks ignore it.
        views: test-time views of each crop (1 to 8: the quarter turns about z, then their
            mirrors, `inference.symmetric_views`); the network's object logit is their mean.
            Costs one network pass per view (run as one batch). 1 = the crop as given.
        gain_reach: click rule 3 as part of this model's recipe (`inference.click_rules`, `ClickRules.gain_reach`):
            a positive click adds to the answer before it only within this many times its distance to the nearest
            negative click. 0 = off. A caller's own click rules (`clickenhance-eval --gain-reach`, the node's
            `gain_reach`) replace it; the baseline never carries it.
        keep_direction: click rule 4 as part of this model's recipe (`ClickRules.keep_direction`): positive clicks
            only add to the answer shown before them, negative clicks only take out of it. Off by default; carried
            and replaced like `gain_reach`.
    """

    snap_distance: float = 0.5
    threshold: float = 0.5
    ground_gate: bool = True
    ground_prior: bool = False
    joined_click: str | None = None
    max_range: float = 1000.0
    domain: str = "outdoor"
    views: int = 1
    gain_reach: float = 0.0
    keep_direction: bool = False

    def __post_init__(self) -> None:
        """Check ranges."""
        if not 1 <= self.views <= MAX_VIEWS:
            raise ValueError(f"views must be in [1, {MAX_VIEWS}], got {self.views}")
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.joined_click is not None and self.joined_click not in JOINED_CLICK_RULES:
            raise ValueError(f"joined_click must be one of {JOINED_CLICK_RULES} or None, got {self.joined_click!r}")
        if not self.snap_distance >= 0:
            raise ValueError(f"snap_distance must be >= 0 metres, got {self.snap_distance}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if not self.max_range > 0:
            raise ValueError(f"max_range must be > 0 metres, got {self.max_range}")
        if not self.gain_reach >= 0:
            raise ValueError(f"gain_reach must be >= 0 (0 = off), got {self.gain_reach}")
