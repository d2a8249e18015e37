"""A peer process for the transport test: publishes one fixed PointCloud2 until killed.

The cloud is generated from a seed given on the command line, so the receiving test can
rebuild the exact same bytes and compare.
"""

import sys

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from reference_cloud import reference_cloud  # noqa: E402


def main() -> int:
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rclpy.init()
    node = Node("cloud_publisher")
    publisher = node.create_publisher(PointCloud2, "points", qos_profile_sensor_data)
    message = reference_cloud(seed, count)
    node.create_timer(0.1, lambda: publisher.publish(message))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
