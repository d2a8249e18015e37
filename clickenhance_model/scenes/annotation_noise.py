"""Label noise of human annotation, added to the exact labels of a generated scan.

Real LiDAR labels are painted on accumulated scans, and the ground is painted up to a height: the
lowest centimetres of a car's wheels and sills, a fence's foot or a bin's base often carry the ground's
label. `scenes.statistics.base_ground_label_shares` measures it: on the real SemanticKITTI dev frames,
14.5% / 3.0% / 0.4% of the points inside a standing object at 0-10 / 10-20 / 20-35 cm above its base
are labelled ground (exact generated labels: 7.1% / 0 / 0, the lowest band being geometry; with
`ground_label_bleed` 0.5 and a 6 cm height: 11.2% / 1.7% / 0.3%; docs/training_data.md). A
simulated user clicks such a point as a false positive deep in the object, and that one negative
click can take the whole object from the mask; exact labels never teach or test that.
"""

from __future__ import annotations

import numpy as np

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.lidar import LidarScan, SensorPose
from clickenhance_model.scenes.primitives import StreetGround


def bleed_ground_labels(
    scan: LidarScan,
    pose: SensorPose,
    ground: StreetGround,
    chance: float,
    height_scale: float,
    rng: np.random.Generator,
) -> LidarScan:
    """Label object points near the ground as the ground under them, with chance `chance * exp(-h / height_scale)`.

    `h` is the point's height above the ground surface (sensor-frame points are put in the scene frame
    with `pose`); relabelled points get the ground's class and instance 0. Ground points and points of
    unlabelled shapes keep their labels. With `chance` 0 the scan is returned as it is, with no draw.
    """
    if chance <= 0.0 or not len(scan):
        return scan
    world = scan.xyz.astype(np.float64) @ np.asarray(pose.rotation).T + np.asarray(pose.position)
    height = np.maximum(world[:, 2] - ground.surface_height(world[:, 0], world[:, 1]), 0.0)
    on_object = ~np.isin(scan.semantic, list(classes.SEMANTIC_KITTI_GROUND)) & (scan.semantic != classes.UNLABELED)
    bleed = on_object & (rng.random(len(scan)) < chance * np.exp(-height / height_scale))
    if not bleed.any():
        return scan
    semantic, instance = scan.semantic.copy(), scan.instance.copy()
    semantic[bleed] = ground.label_below(world[bleed, 0], world[bleed, 1])
    instance[bleed] = 0
    return LidarScan(xyz=scan.xyz, remission=scan.remission, semantic=semantic, instance=instance, rgb=scan.rgb)
