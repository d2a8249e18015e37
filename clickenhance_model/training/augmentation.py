"""Training-time augmentation of a scene before voxelisation: pose, scale, jitter and density.

Generated streets share a layout (cars parallel to the x axis, a sensor at one height, one
point density per range), and a network trained on them learns those regularities instead
of the objects. Random yaw about the sensor, a mirror, a small scale change, position
jitter and random point dropout (a sparser sensor or a farther object) remove them; a ring cut
(every k-th laser ring of a spinning LiDAR's scan) shows a sparser sensor's whole rings and uneven gaps. Each
sample draws its own parameters from a seeded generator, so a resumed run sees the same
augmented samples as the interrupted one.
"""

from __future__ import annotations

import numpy as np

from clickenhance_model.datasets.laser_rings import sensor_ring_cut
from clickenhance_model.datasets.scene import Scene
from clickenhance_model.training.config import AugmentConfig

MIN_KEPT_OBJECT_POINTS = 30  # dropout never thins the sampled object below this many points


def augment_scene(scene: Scene, instance_id: int, config: AugmentConfig, rng: np.random.Generator) -> Scene:
    """A randomly posed, scaled, jittered and thinned copy of `scene` (the scene itself when nothing is enabled)."""
    if not config.enabled:
        return scene
    if config.ring_cut_prob > 0:  # first: rings come from the stored point order (no draw when off: old runs repeat)
        scene = _ring_cut(scene, instance_id, config, rng)
    xyz = scene.xyz.astype(np.float64)
    if config.rotate:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        c, s = np.cos(angle), np.sin(angle)
        xyz = xyz @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    if rng.random() < config.flip_prob:
        xyz[:, 1] = -xyz[:, 1]
    xyz *= rng.uniform(*config.scale)
    if config.jitter > 0:
        xyz += rng.normal(0.0, config.jitter, xyz.shape)
    keep = _dropout_mask(scene.instance == instance_id, config, rng)
    rgb = None if scene.rgb is None else scene.rgb[keep]
    return Scene(scene.name, xyz[keep].astype(np.float32), rgb, scene.instance[keep], scene.semantic[keep])


def _dropout_mask(on_object: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Points kept by random dropout at a rate drawn per sample; all of them when it would empty the object."""
    if rng.random() >= config.dropout_prob:
        return np.ones(len(on_object), dtype=bool)
    keep = rng.random(len(on_object)) < rng.uniform(*config.keep_ratio)
    return keep if _keeps_object(keep, on_object) else np.ones(len(on_object), dtype=bool)


def _keeps_object(keep: np.ndarray, on_object: np.ndarray) -> bool:
    """Whether thinning to `keep` leaves the sampled object at least `MIN_KEPT_OBJECT_POINTS` points (all of them
    when it has fewer): no augmentation thins the target below that floor."""
    return np.count_nonzero(keep & on_object) >= min(MIN_KEPT_OBJECT_POINTS, np.count_nonzero(on_object))


def _ring_cut(scene: Scene, instance_id: int, config: AugmentConfig, rng: np.random.Generator) -> Scene:
    """The scene on every k-th ring (k drawn from `ring_cuts`) at `ring_cut_prob`; itself where the cut is no sensor
    or would thin the sampled object below `MIN_KEPT_OBJECT_POINTS`."""
    if rng.random() >= config.ring_cut_prob:
        return scene
    k = int(rng.choice(config.ring_cuts))
    keep = sensor_ring_cut(scene.xyz, k)
    if keep is None or not _keeps_object(keep, scene.instance == instance_id):
        return scene
    rgb = None if scene.rgb is None else scene.rgb[keep]
    return Scene(scene.name, scene.xyz[keep], rgb, scene.instance[keep], scene.semantic[keep])
