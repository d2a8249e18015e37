"""The RViz config of a launch, with topics resolved from its namespace, cloud topic and params file.

`config/segment.rviz` is a template written for the defaults (no namespace, input `/cloud`,
the node's topics under `/clickenhance`). RViz needs absolute topic names, so a launch with
`namespace:=robot` or `cloud_topic:=/velodyne_points` would show empty displays with it.
`write_rviz_config` writes a copy whose displays and Publish Point tool name the topics that
node really uses. Plain Python and YAML: tested without `launch` or RViz.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import yaml

from clickenhance_ros.launch_arguments import resolve_name, resolve_namespace

NODE_NAME = "clickenhance"
# The node parameters that name topics, with the node's defaults (see node_parameters.py).
TOPIC_PARAMETERS = {"cloud_topic": "cloud", "clicked_point_topic": "/clicked_point", "marker_namespace": "~/clicks"}


@dataclass(frozen=True)
class NodeTopics:
    """Absolute names of the topics RViz shows or publishes for one clickenhance node."""

    cloud: str
    segmentation: str
    object: str
    followed_object: str
    click_markers: str
    interactive_markers: str
    clicked_point: str


def node_topics(namespace: str = "", cloud_topic: str = "cloud",
                parameters: Mapping[str, Any] | None = None) -> NodeTopics:
    """Topics of a node started by segment.launch.py (its `cloud` input remapped to `cloud_topic`).

    `parameters` are the node's values from the params file; the remap only applies while the
    `cloud_topic` parameter still names `cloud`, as rcl matches remaps against the used name.
    """
    values = {**TOPIC_PARAMETERS, **{k: v for k, v in (parameters or {}).items() if k in TOPIC_PARAMETERS}}

    def resolve(name: str) -> str:
        return resolve_name(name, namespace, NODE_NAME)

    cloud = resolve(values["cloud_topic"])
    if cloud == resolve("cloud"):
        cloud = resolve(cloud_topic)
    return NodeTopics(cloud=cloud, segmentation=resolve("~/segmentation"), object=resolve("~/object"),
                      followed_object=resolve("~/followed_object"), click_markers=resolve("~/click_markers"),
                      interactive_markers=resolve(values["marker_namespace"]),
                      clicked_point=resolve(values["clicked_point_topic"]))


def _section_pattern(key: str) -> re.Pattern:
    """Regex of a params-file node key: '**' stands for any namespaces, '*' for one name part."""
    pattern = ""
    for part in key.strip("/").split("/"):
        pattern += "(/[^/]+)*" if part == "**" else "/" + re.escape(part).replace(r"\*", "[^/]+")
    return re.compile(pattern)


def read_node_parameters(params_file: str | Path, namespace: str = "") -> dict[str, Any]:
    """The parameters a params file gives the node `<namespace>/clickenhance`, later sections winning."""
    path = Path(params_file)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"params_file {str(path)!r} cannot be read as YAML: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"params_file {str(path)!r} must map node names to 'ros__parameters'")
    node = f"{resolve_namespace(namespace)}/{NODE_NAME}"
    values: dict[str, Any] = {}
    for key, section in document.items():
        if isinstance(section, dict) and _section_pattern(str(key)).fullmatch(node):
            values.update(section.get("ros__parameters") or {})
    return values


def _entries(displays: list[dict]) -> Iterator[dict]:
    """Every display, including those inside display groups."""
    for display in displays:
        yield display
        yield from _entries(display.get("Displays") or [])


def rviz_config(template: dict, topics: NodeTopics) -> dict:
    """A copy of `template` (written for the default topics) with `topics` in its displays and tools."""
    renames = dict(zip(astuple(node_topics()), astuple(topics), strict=True))
    config = copy.deepcopy(template)
    manager = config.get("Visualization Manager") or {}
    for entry in [*_entries(manager.get("Displays") or []), *(manager.get("Tools") or [])]:
        topic = entry.get("Topic")
        if isinstance(topic, dict) and topic.get("Value") in renames:
            topic["Value"] = renames[topic["Value"]]
        if entry.get("Interactive Markers Namespace") in renames:
            entry["Interactive Markers Namespace"] = renames[entry["Interactive Markers Namespace"]]
    return config


def write_rviz_config(template_path: str | Path, topics: NodeTopics, output_path: str | Path | None = None) -> Path:
    """Write the RViz config for `topics` and return its path.

    Without `output_path` the file goes to the temp folder under a name derived from its content, so
    launches with the same arguments reuse one file and launching many times leaves no pile of them.
    """
    template = yaml.safe_load(Path(template_path).read_text())
    text = yaml.safe_dump(rviz_config(template, topics), sort_keys=False, default_flow_style=False)
    if output_path is None:
        folder = Path(tempfile.gettempdir()) / "clickenhance_rviz"
        folder.mkdir(exist_ok=True)
        output_path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.rviz"
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as stream:
            stream.write(text)  # then renamed: a concurrent launch never reads half a file
        os.replace(stream.name, output_path)
        return output_path
    Path(output_path).write_text(text)
    return Path(output_path)
