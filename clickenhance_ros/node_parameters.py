"""Parameters of the clickenhance node: declared with descriptors, read once into a frozen dataclass.

Every parameter is read once at start-up, so each is declared `read_only` (changing it
needs a restart). `config/segment.yaml` holds the same defaults under `clickenhance:`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from clickenhance_model.inference.click_rules import ClickRules, chosen_rules
from clickenhance_model.model_config import DOMAINS, MAX_VIEWS

METHODS = ("auto", "model", "baseline")
RELIABILITIES = ("reliable", "best_effort")
GROUND_GATES = ("auto", "true", "false")


@dataclass(frozen=True)
class NodeParameters:
    """The node's settings (see `SPECS` for each one's meaning, unit and range)."""

    method: str = "auto"
    checkpoint: str = ""
    device: str = "auto"
    voxel_size: float = 0.0
    crop_radius: float = -1.0
    snap_distance: float = 0.5
    gain_reach: float = 0.0
    keep_direction: bool = False
    ground_gate: str = "auto"
    views: int = 0
    domain: str = "outdoor"
    segment_cache_clouds: int = 2
    cloud_topic: str = "cloud"
    cloud_reliability: str = "reliable"
    clicked_point_topic: str = "/clicked_point"
    marker_namespace: str = "~/clicks"
    output_directory: str = "~/clickenhance_annotations"
    autosave: bool = True
    default_semantic_label: int = 0
    state_publish_rate: float = 1.0
    tf_timeout: float = 0.1
    request_timeout: float = 60.0
    request_queue_depth: int = 100
    service_threads: int = 32
    web_port: int = 0
    web_host: str = "127.0.0.1"
    follow_max_speed: float = 10.0
    follow_min_confidence: float = 0.5
    follow_odom_frame: str = ""

    def __post_init__(self) -> None:
        """Reject values the descriptors cannot express (choices)."""
        if self.method not in METHODS:
            raise ValueError(f"parameter 'method' must be one of {', '.join(METHODS)}, got {self.method!r}")
        gate = str(self.ground_gate).lower()  # a bool from a params file, or a string
        if gate not in GROUND_GATES:
            raise ValueError(f"parameter 'ground_gate' must be one of {', '.join(GROUND_GATES)}, "
                             f"got {self.ground_gate!r}")
        object.__setattr__(self, "ground_gate", gate)
        if self.domain not in DOMAINS:
            raise ValueError(f"parameter 'domain' must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
        if self.cloud_reliability not in RELIABILITIES:
            raise ValueError(f"parameter 'cloud_reliability' must be one of {', '.join(RELIABILITIES)}, "
                             f"got {self.cloud_reliability!r}")

    @property
    def model_options(self) -> dict[str, bool | int]:
        """`SegmenterConfig` options to load a model with; those left to the weights' own choice are absent."""
        options: dict[str, bool | int] = {}
        if self.ground_gate != "auto":
            options["ground_gate"] = self.ground_gate == "true"
        if self.views > 0:
            options["views"] = self.views
        return options

    @property
    def click_rules(self) -> ClickRules | None:
        """The click rules of the operator's sessions where `gain_reach` or `keep_direction` set them (they replace
        the segmenter's own as a whole); None: the segmenter's own."""
        return chosen_rules(self.gain_reach, self.keep_direction)

    @property
    def output_path(self) -> Path:
        """`output_directory` with `~` expanded."""
        return Path(self.output_directory).expanduser()


def _float_range(low: float, high: float) -> dict:
    return {"floating_point_range": [FloatingPointRange(from_value=low, to_value=high)]}


def _int_range(low: int, high: int) -> dict:
    return {"integer_range": [IntegerRange(from_value=low, to_value=high)]}


# name -> (description, extra descriptor fields)
SPECS: dict[str, tuple[str, dict]] = {
    "method": ("Segmenter: 'model' (learned ClickEnhance network), 'baseline' (training-free), or 'auto' "
               "(the model when a checkpoint is given, or the shipped one when it was trained on this node's "
               "domain and still beats today's baseline on the real dev sets, weights/README.md; else the "
               "baseline).",
               {"additional_constraints": "one of: auto, model, baseline"}),
    "checkpoint": ("Path of the model checkpoint; empty = the shipped default model.", {}),
    "device": ("Inference device: 'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'.", {}),
    "voxel_size": ("Voxel edge length in metres; 0 = the segmenter's own (a model accepts only its trained one).",
                   _float_range(0.0, 2.0)),
    "crop_radius": ("Radius in metres around the positive clicks that the segmenter looks at (the model: a 3D "
                    "ball, only its trained value; the baseline: geodesic reach); 0 = no limit, -1 = its own.",
                    _float_range(-1.0, 500.0)),
    "snap_distance": ("Largest distance in metres between a click and the cloud point it snaps to.",
                      _float_range(0.01, 20.0)),
    "gain_reach": ("Click rule 3 for the operator's clicks (RViz, ~/click): a positive click adds to the mask only "
                   "within this many times its distance to the nearest negative click, so it cannot flood past the "
                   "background already marked; 0 = the segmenter's own (off, but for weights that carry it).",
                   _float_range(0.0, 10.0)),
    "keep_direction": ("Click rule 4 for the operator's clicks: positive clicks only add to the mask shown, negative "
                       "clicks only take out of it, so a late correction cannot drop or flood the rest of the "
                       "object; false = the segmenter's own (off, but for weights that carry it). Set with "
                       "gain_reach, the two replace the weights' click rules.", {}),
    "ground_gate": ("Model with geodesic click maps: keep road/floor voxels out of an object clicked off the "
                    "ground, until a positive click lands on the ground. 'auto' (default): the weights' own choice "
                    "(made on validation scans when they shipped); true or false forces it.",
                    {"additional_constraints": "one of: auto, true, false", "dynamic_typing": True}),
    "views": ("Model: test-time views per crop, 1 to 8 (quarter turns about z, then mirrors; the network's logit "
              "is their mean, one network pass each). 0 (default): the weights' own choice, else 1.",
              _int_range(0, MAX_VIEWS)),
    "domain": ("Kind of cloud: 'outdoor' (LiDAR) or 'indoor' (RGB-D camera, room scans); picks the geodesic "
               "graph preset of the baseline and of the model's prior (voxel size, edge length, reach).",
               {"additional_constraints": "one of: outdoor, indoor"}),
    "segment_cache_clouds": ("Clouds whose sessions (voxels, KD-tree, voxel graph) ~/segment keeps, so a caller "
                             "resending one of them with new clicks pays only for the clicks; each 120k-point "
                             "cloud holds some tens of MB.", _int_range(1, 64)),
    "cloud_topic": ("PointCloud2 input topic (relative names resolve in the node's namespace; remappable).", {}),
    "cloud_reliability": ("QoS reliability of the cloud subscription (depth 1, volatile): 'reliable' (default) "
                          "receives multi-MB clouds whole, while best-effort loses most of them (fragmented over "
                          "DDS, dropped without a log); it matches only reliable publishers. 'best_effort' also "
                          "matches best-effort (sensor-data QoS) publishers, for small clouds or lossless links.",
                          {"additional_constraints": "one of: reliable, best_effort"}),
    "clicked_point_topic": ("PointStamped topic of RViz's Publish Point tool.", {}),
    "marker_namespace": ("Namespace of the interactive marker server (RViz 'Interactive Markers' display).", {}),
    "output_directory": ("Folder where Save writes one sub-folder per annotated scan ('~' is expanded).", {}),
    "autosave": ("Save the annotation after every accepted object, so a crash loses nothing.", {}),
    "default_semantic_label": ("SemanticKITTI class given to objects accepted from the RViz menu (0 = unlabeled).",
                               _int_range(0, 65535)),
    "state_publish_rate": ("Rate in Hz at which ~/state and the click markers are re-published for late "
                           "subscribers; 0 = only on change.", _float_range(0.0, 50.0)),
    "tf_timeout": ("Seconds to wait for a transform of a click into the cloud's frame.", _float_range(0.0, 10.0)),
    "request_timeout": ("Seconds a service call waits for its request; at the deadline a request not yet "
                        "started is cancelled (never applied), one already running is still applied (the "
                        "failure message says which).", _float_range(1.0, 3600.0)),
    "request_queue_depth": ("Requests each service (and /clicked_point) queues while all are busy; rclpy's "
                            "default of 10 silently drops the 11th simultaneous call.", _int_range(10, 10000)),
    "service_threads": ("Executor threads; service calls waiting for inference each hold one.", _int_range(4, 1024)),
    "web_port": ("TCP port of the browser annotation page attached to this node's session (clicks from the "
                 "browser and RViz go through the same worker); 0 = off.", _int_range(0, 65535)),
    "web_host": ("Address the browser page binds; 127.0.0.1 (default) serves only this machine, 0.0.0.0 every "
                 "network (the page has no authentication).", {}),
    "follow_max_speed": ("~/follow motion gate: the fastest the followed object may move relative to the sensor "
                         "(with follow_odom_frame: relative to that frame), in m/s; it never jumps farther.",
                         _float_range(0.0, 100.0)),
    "follow_min_confidence": ("~/follow: below this confidence (agreement of point count, extent and position "
                              "with the previous cloud) the object is reported lost instead of published.",
                              _float_range(0.0, 1.0)),
    "follow_odom_frame": ("~/follow: fixed frame (e.g. 'odom') through which tf2 carries the object between "
                          "clouds; empty = off (the object's motion is found by matching; tf2_ros is needed).", {}),
}


def declare_parameters(node: Node) -> NodeParameters:
    """Declare every parameter of `NodeParameters` on `node` and return their values.

    Raises ValueError naming the parameter when a value is out of its choices.
    """
    defaults = NodeParameters()
    values = {}
    for field in fields(NodeParameters):
        description, extra = SPECS[field.name]
        descriptor = ParameterDescriptor(description=description, read_only=True, **extra)
        node.declare_parameter(field.name, getattr(defaults, field.name), descriptor)
        values[field.name] = node.get_parameter(field.name).value
    return NodeParameters(**values)
