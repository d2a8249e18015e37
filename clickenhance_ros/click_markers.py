"""The clicks of the current object as an RViz MarkerArray: green positive, red negative, numbered."""

from __future__ import annotations

from collections.abc import Sequence

from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from clickenhance_model.inference.session import Click

POSITIVE_COLOR = ColorRGBA(r=0.1, g=0.9, b=0.1, a=1.0)
NEGATIVE_COLOR = ColorRGBA(r=0.95, g=0.1, b=0.1, a=1.0)
TEXT_COLOR = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
NAMESPACE_SPHERES, NAMESPACE_LABELS = "clicks", "click_numbers"


def click_markers(header: Header, clicks: Sequence[Click], sphere_diameter: float = 0.3) -> MarkerArray:
    """A DELETEALL marker, then per click a sphere (green/red) and its 1-based number above it."""
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for number, click in enumerate(clicks, start=1):
        x, y, z = (float(v) for v in click.position)
        sphere = Marker(header=header, ns=NAMESPACE_SPHERES, id=number, type=Marker.SPHERE, action=Marker.ADD)
        sphere.pose.position = Point(x=x, y=y, z=z)
        sphere.pose.orientation.w = 1.0
        sphere.scale.x = sphere.scale.y = sphere.scale.z = sphere_diameter
        sphere.color = POSITIVE_COLOR if click.positive else NEGATIVE_COLOR
        text = Marker(header=header, ns=NAMESPACE_LABELS, id=number, type=Marker.TEXT_VIEW_FACING,
                      action=Marker.ADD, text=f"{number}{'+' if click.positive else '-'}")
        text.pose.position = Point(x=x, y=y, z=z + sphere_diameter * 1.5)
        text.pose.orientation.w = 1.0
        text.scale.z = sphere_diameter
        text.color = TEXT_COLOR
        markers += [sphere, text]
    return MarkerArray(markers=markers)
