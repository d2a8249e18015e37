"""Range sensors simulated by ray casting a Scene: spinning multi-beam LiDARs (HDL-64E-like by default),
a non-repetitive rosette (Livox-like) and a pinhole depth camera (RGB-D); presets in `scenes.sensors`.

Every ray is cast, so occlusion, shadows behind objects, self-shadowing by the ego vehicle and the
fall of point density with range come from the geometry; range noise, dropouts (random, dark
surfaces far away, grazing incidence) and remission (surface reflectivity x incidence) are added on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clickenhance_model.scenes.primitives import Scene
from clickenhance_model.scenes.raycast import cast_rays

PATTERNS = ("spinning", "rosette", "pinhole")


@dataclass
class LidarConfig:
    """Ray pattern and noise of the simulated sensor (defaults: Velodyne HDL-64E as on the KITTI car).

    `pattern` "spinning" casts `beams` rings of `azimuth_steps` rays (elevations `elevations_deg`, top
    first, or the HDL-64E's two blocks when empty); "rosette" casts `rosette_rays` rays along two
    counter-rotating prism deflections inside a cone of `fov_deg` around +x (Livox-like, non-repetitive:
    the pattern starts at a random time); "pinhole" casts one ray per pixel of a `image_size` (width,
    height) camera looking along +x with horizontal x vertical field of view `fov_deg`, and its range
    limits apply to depth (z of the camera), as a depth camera reports it.
    """

    pattern: str = "spinning"
    beams: int = 64
    azimuth_steps: int = 2048
    upper_block_top_deg: float = 2.0  # HDL-64E: upper block of lasers, 1/3 degree apart
    upper_block_bottom_deg: float = -8.33
    lower_block_top_deg: float = -8.83  # lower block, about 1/2 degree apart
    lower_block_bottom_deg: float = -24.9
    upper_block_fraction: float = 0.5  # share of the beams in the upper block
    elevation_jitter_deg: float = 0.03  # per-beam calibration error
    height: float = 1.73  # metres above the ground
    min_range: float = 1.0
    max_range: float = 80.0
    range_noise: float = 0.02  # Gaussian sigma, metres
    outlier_rate: float = 0.001  # share of returns with a gross range error
    dropout: float = 0.015  # no return, independent of the surface
    far_dark_dropout: float = 0.5  # extra no-return chance for a black surface at max range (scales with r^2)
    grazing_dropout: float = 0.5  # extra no-return chance at grazing incidence (cosine below 0.1)
    remission_noise: float = 0.03  # additive Gaussian sigma on remission
    pair_budget: int = 1 << 20  # (ray, shape) pairs per ray-casting chunk: bounds memory
    elevations_deg: tuple[float, ...] = ()  # spinning: explicit beam elevations (overrides the two blocks)
    range_noise_growth: float = 0.0  # extra sigma per squared metre of range (depth cameras: noise ~ z^2)
    fov_deg: tuple[float, float] = (38.4, 38.4)  # rosette: cone diameter (first value); pinhole: (h, v)
    rosette_rays: int = 10_000  # rosette: rays of one frame (Livox Mid-40: 100k points/s, 0.1 s)
    rosette_hz: tuple[float, float] = (217.0, -131.3)  # rosette: turn rates of the two prisms
    image_size: tuple[int, int] = (320, 240)  # pinhole: pixels (width, height)

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"LidarConfig.pattern must be one of {PATTERNS}, got {self.pattern!r}")
        if self.elevations_deg:
            self.elevations_deg = tuple(float(e) for e in self.elevations_deg)
            self.beams = len(self.elevations_deg)
        if len(self.fov_deg) != 2 or not all(0 < f < 180 for f in self.fov_deg):
            raise ValueError(f"LidarConfig.fov_deg must be two angles in (0, 180), got {self.fov_deg}")
        if self.rosette_rays < 1 or len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(
                f"LidarConfig: rosette_rays and image_size must be >= 1, got {self.rosette_rays}, {self.image_size}"
            )
        if self.range_noise_growth < 0:
            raise ValueError(f"LidarConfig.range_noise_growth must be >= 0, got {self.range_noise_growth}")
        if self.beams < 1 or self.azimuth_steps < 1:
            raise ValueError(
                f"LidarConfig: beams and azimuth_steps must be >= 1, got {self.beams}, {self.azimuth_steps}"
            )
        if not 0 < self.min_range < self.max_range:
            raise ValueError(f"LidarConfig: need 0 < min_range < max_range, got {self.min_range}, {self.max_range}")
        if not 0 <= self.upper_block_fraction <= 1:
            raise ValueError(f"LidarConfig.upper_block_fraction must be in [0, 1], got {self.upper_block_fraction}")


@dataclass
class SensorPose:
    """Where the sensor is in the scene: position [3] and world-from-sensor rotation [3, 3]."""

    position: np.ndarray
    rotation: np.ndarray


@dataclass
class LidarScan:
    """Points in the sensor frame (x forward, y left, z up, metres) with per-point labels."""

    xyz: np.ndarray  # [N, 3] float32
    remission: np.ndarray  # [N] float32 in [0, 1]
    semantic: np.ndarray  # [N] uint32 raw class id
    instance: np.ndarray  # [N] uint32, 0 for background
    rgb: np.ndarray | None = None  # [N, 3] uint8 where the scanner sees colour (indoor)

    def __len__(self) -> int:
        return len(self.xyz)


def beam_elevations(config: LidarConfig) -> np.ndarray:
    """Nominal beam elevations in degrees, top beam first (`elevations_deg`, else two blocks like the HDL-64E)."""
    if config.elevations_deg:
        return np.asarray(config.elevations_deg, dtype=np.float64)
    upper = int(round(config.beams * config.upper_block_fraction))
    lower = config.beams - upper
    top = np.linspace(config.upper_block_top_deg, config.upper_block_bottom_deg, upper) if upper else np.empty(0)
    bottom = np.linspace(config.lower_block_top_deg, config.lower_block_bottom_deg, lower) if lower else np.empty(0)
    if upper == 1:
        top = np.array([config.upper_block_top_deg])
    if lower == 1:
        bottom = np.array([config.lower_block_bottom_deg])
    return np.concatenate([top, bottom])


def ray_directions(config: LidarConfig, rng: np.random.Generator) -> np.ndarray:
    """Unit directions in the sensor frame of one frame of the config's pattern, [n, 3]."""
    if config.pattern == "rosette":
        return rosette_directions(config, rng)
    if config.pattern == "pinhole":
        return pinhole_directions(config)
    return spinning_directions(config, rng)


def spinning_directions(config: LidarConfig, rng: np.random.Generator) -> np.ndarray:
    """One revolution, [beams * azimuth_steps, 3], beam-major (one ring after another)."""
    elev = np.radians(beam_elevations(config) + rng.normal(0.0, config.elevation_jitter_deg, config.beams))
    start = rng.uniform(-np.pi, np.pi)
    az = start - 2 * np.pi * np.arange(config.azimuth_steps) / config.azimuth_steps  # clockwise spin
    ce, se = np.cos(elev)[:, None], np.sin(elev)[:, None]
    dirs = np.stack(np.broadcast_arrays(ce * np.cos(az), ce * np.sin(az), se), axis=-1)
    return dirs.reshape(-1, 3)


def rosette_directions(config: LidarConfig, rng: np.random.Generator) -> np.ndarray:
    """A Livox-like rosette around +x: the sum of two counter-rotating deflections, from a random start time.

    Each prism deflects the beam by a quarter of the field of view, so the sum stays inside the cone;
    the two turn rates are not in a small integer ratio, so the petals fill the cone over time.
    """
    half = np.radians(config.fov_deg[0]) / 2
    t = rng.uniform(0.0, 100.0) + np.arange(config.rosette_rays) / (config.rosette_rays * 10.0)  # a 0.1 s frame
    w1, w2 = 2 * np.pi * np.asarray(config.rosette_hz, dtype=np.float64)
    offset = half / 2 * (np.exp(1j * w1 * t) + np.exp(1j * w2 * t))  # [n] angular offset from the axis
    polar, around = np.abs(offset), np.angle(offset)
    return np.stack([np.cos(polar), np.sin(polar) * np.cos(around), np.sin(polar) * np.sin(around)], axis=1)


def pinhole_directions(config: LidarConfig) -> np.ndarray:
    """One ray per pixel of a pinhole camera looking along +x (image rows top first), [width * height, 3]."""
    width, height = config.image_size
    tan_h, tan_v = np.tan(np.radians(config.fov_deg) / 2)
    u = (np.arange(width) + 0.5) / width * 2 - 1  # [-1, 1] left to right
    v = (np.arange(height) + 0.5) / height * 2 - 1  # [-1, 1] top to bottom
    vv, uu = np.meshgrid(v, u, indexing="ij")
    dirs = np.stack([np.ones_like(uu), -uu * tan_h, -vv * tan_v], axis=-1).reshape(-1, 3)
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def simulate_scan(
    scene: Scene,
    pose: SensorPose,
    config: LidarConfig,
    rng: np.random.Generator,
    with_color: bool = False,
    directions: np.ndarray | None = None,
) -> LidarScan:
    """Cast one full revolution against `scene` and return the points the sensor would report.

    With `with_color` the points also get the surfaces' colours, shaded by incidence (an RGB-D scanner);
    `directions` ([n, 3] unit vectors in the sensor frame) replaces the beam pattern of `config`.
    """
    local = ray_directions(config, rng) if directions is None else np.asarray(directions, dtype=np.float64)
    hits = cast_rays(scene, pose.position, local @ np.asarray(pose.rotation).T, rng, config.pair_budget)
    depth = hits.t * local[:, 0] if config.pattern == "pinhole" else hits.t  # a depth camera limits z
    keep = hits.recorded & (depth >= config.min_range) & (depth <= config.max_range)
    idx = np.flatnonzero(keep)
    d_world = local[idx] @ np.asarray(pose.rotation).T
    cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[idx], d_world))
    sigma = config.range_noise + config.range_noise_growth * hits.t[idx] ** 2  # [n], scalar noise when growth is 0
    rng_m = hits.t[idx] + rng.normal(0.0, sigma, len(idx))
    outlier = rng.random(len(idx)) < config.outlier_rate
    rng_m[outlier] += rng.uniform(-1.0, 1.0, outlier.sum())
    remission = _remission(hits.remission[idx], cos_inc, config, rng)
    p_drop = (
        config.dropout
        + config.far_dark_dropout * (hits.t[idx] / config.max_range) ** 2 * (1.0 - remission)
        + config.grazing_dropout * np.clip((0.1 - cos_inc) / 0.1, 0.0, 1.0)
    )
    ok = (rng.random(len(idx)) >= p_drop) & (rng_m > 0)
    idx, rng_m = idx[ok], rng_m[ok]
    rgb = None
    if with_color:
        shade = (0.6 + 0.4 * cos_inc[ok])[:, None] * rng.normal(1.0, 0.04, (len(idx), 1))
        rgb = np.clip(hits.color[idx] * shade + rng.normal(0.0, 4.0, (len(idx), 3)), 0, 255).astype(np.uint8)
    return LidarScan(
        xyz=(local[idx] * rng_m[:, None]).astype(np.float32),
        remission=remission[ok],
        semantic=hits.semantic[idx],
        instance=hits.instance[idx],
        rgb=rgb,
    )


def _remission(base: np.ndarray, cos_inc: np.ndarray, config: LidarConfig, rng: np.random.Generator) -> np.ndarray:
    """Reported remission: reflectivity x (Lambert-like) incidence term, speckle, quantised to 0.01 like KITTI."""
    value = base * (0.75 + 0.25 * cos_inc) * rng.lognormal(0.0, 0.15, len(base))
    value = value + rng.normal(0.0, config.remission_noise, len(base))
    return np.round(np.clip(value, 0.0, 0.99), 2).astype(np.float32)
