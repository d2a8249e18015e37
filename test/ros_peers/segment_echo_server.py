"""A peer process for the interface test: serves clickenhance_ros/srv/SegmentObject.

It answers with the indices of the request cloud's points that lie within 1 m of the
first positive point, so the test can check that both directions carry real data.
"""

import sys

import numpy as np
import rclpy
from rclpy.node import Node

from clickenhance_ros.srv import SegmentObject


class EchoServer(Node):
    """Serves `segment` and answers from the request's own cloud."""

    def __init__(self) -> None:
        super().__init__("segment_echo_server")
        self.create_service(SegmentObject, "segment", self.on_segment)

    def on_segment(self, request: SegmentObject.Request, response: SegmentObject.Response) -> SegmentObject.Response:
        cloud = request.cloud
        xyz = np.frombuffer(bytes(cloud.data), dtype=np.float32).reshape(-1, 3)
        click = request.positive_points[0]
        distance = np.linalg.norm(xyz - np.array([click.x, click.y, click.z], dtype=np.float32), axis=1)
        response.indices = np.flatnonzero(distance < 1.0).astype(np.uint32).tolist()
        response.success = True
        response.message = f"{len(xyz)} points, {len(request.negative_points)} negative clicks"
        response.inference_time_ms = 1.5
        return response


def main() -> int:
    rclpy.init()
    node = EchoServer()
    print("ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
