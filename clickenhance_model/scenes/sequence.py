"""A short generated LiDAR sequence: one street scene scanned from an ego car driving along it.

Each frame is a ray-cast scan in the sensor frame (x forward, z up), so static objects shift
backwards from frame to frame as an odometry-less follower sees them. The ego car's
unrecorded body moves with the sensor. Used by the follow demo, its bench and tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose, simulate_scan
from clickenhance_model.scenes.outdoor import generate_outdoor
from clickenhance_model.scenes.primitives import Scene

CARS = (classes.CAR, classes.MOVING_CAR)


@dataclass(frozen=True)
class SequenceConfig:
    """Ego motion and sensor of a generated sequence."""

    frames: int = 50
    period: float = 0.1  # seconds between frames (a 10 Hz spinning LiDAR)
    speed: float = 3.0  # ego speed along the sensor's x axis [m/s]
    yaw_rate: float = 0.0  # ego turn rate [rad/s]
    lidar: LidarConfig = dataclasses.field(default_factory=LidarConfig)

    def __post_init__(self) -> None:
        if self.frames < 1 or not self.period > 0:
            raise ValueError(f"SequenceConfig: frames must be >= 1 and period > 0, got {self.frames}, {self.period}")


def ego_poses(start: SensorPose, config: SequenceConfig) -> list[SensorPose]:
    """Sensor poses of each frame: constant speed and turn rate from `start`."""
    poses, position, rotation = [], np.asarray(start.position, float), np.asarray(start.rotation, float)
    step = config.yaw_rate * config.period
    turn = np.array([[np.cos(step), -np.sin(step), 0.0], [np.sin(step), np.cos(step), 0.0], [0.0, 0.0, 1.0]])
    for _ in range(config.frames):
        poses.append(SensorPose(position=position.copy(), rotation=rotation.copy()))
        position = position + rotation[:, 0] * config.speed * config.period
        rotation = turn @ rotation
    return poses


def generate_sequence(seed: int, config: SequenceConfig | None = None) -> Iterator[tuple[float, LidarScan]]:
    """(stamp in seconds, scan) per frame of one street scene seen from the moving ego car."""
    config = config or SequenceConfig()
    rng = np.random.default_rng([seed, 0])
    street = generate_outdoor(rng, sensor_height=config.lidar.height)
    static = [p for p in street.scene.primitives if p.material.recorded]
    ego = [p for p in street.scene.primitives if not p.material.recorded]
    start = street.pose
    for frame, pose in enumerate(ego_poses(start, config)):
        moved = pose.rotation @ start.rotation.T  # the ego body follows the sensor
        body = [dataclasses.replace(p, center=pose.position + moved @ (p.center - start.position),
                                    rotation=moved @ p.rotation) for p in ego]
        scene = Scene(static + body, street.scene.ground)
        yield frame * config.period, simulate_scan(scene, pose, config.lidar, np.random.default_rng([seed, frame + 1]))


def largest_car(scan: LidarScan, max_distance: float = 30.0) -> int:
    """Instance id of the car with most points within `max_distance` of the sensor (ValueError if none)."""
    near = np.linalg.norm(scan.xyz[:, :2], axis=1) <= max_distance
    car = np.isin(scan.semantic, CARS) & (scan.instance > 0) & near
    if not car.any():
        raise ValueError(f"the scan has no car within {max_distance} m")
    ids, counts = np.unique(scan.instance[car], return_counts=True)
    return int(ids[np.argmax(counts)])
