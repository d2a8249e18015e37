"""Named sensor presets for the generator: spinning LiDARs of 16 to 128 rings, a Livox-like rosette, an RGB-D camera.

Beam elevations and fields of view are the manufacturers' published datasheet values:
  - Velodyne VLP-16 (Puck): 16 lasers, vertical FOV +15 to -15 deg, 2 deg apart; 100 m; +-3 cm.
  - Velodyne HDL-32E: 32 lasers, +10.67 to -30.67 deg, 1.33 deg apart; 80-100 m; +-2 cm.
  - Velodyne HDL-64E (KITTI): about +2 to -24.9 deg in two blocks (LidarConfig's default layout).
  - Ouster OS1-128: 128 channels evenly over a 45 deg vertical FOV (+-22.5 deg); about 120 m.
  - Ouster OS2-128: 128 channels evenly over a 22.5 deg vertical FOV (+-11.25 deg); about 240 m (cut here
    to the 85 m the street scenes reach).
  - Livox Mid-40: 38.4 deg circular FOV, non-repetitive rosette, 100k points/s; 2 cm (1 sigma).
  - Intel RealSense D435 depth: 87 x 58 deg FOV, depth from about 0.3 m; the usable range is cut at 6 m.
Azimuth columns are the 10 Hz settings (VLP-16 0.2 deg, HDL-32E about 0.16 deg, Ouster 1024 columns).
Range noise of the depth camera grows with the square of the distance, as measured for structured-light
and stereo depth sensors (Nguyen, Izadi, Lovell, "Modeling Kinect Sensor Noise", 3DIMPVT 2012:
sigma(z) = 1.2 mm + 1.9 mm/m^2 (z - 0.4 m)^2); dropout rates are this generator's choices, higher for
sparse and solid-state sensors whose returns drop more on dark and grazing surfaces.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from clickenhance_model.scenes.lidar import LidarConfig


def _rings(top: float, bottom: float, count: int) -> tuple[float, ...]:
    """`count` evenly spaced beam elevations from `top` to `bottom` degrees, top first."""
    return tuple(float(e) for e in np.round(np.linspace(top, bottom, count), 4))


SENSOR_PRESETS: dict[str, LidarConfig] = {
    "hdl64": LidarConfig(),
    "vlp16": LidarConfig(
        elevations_deg=_rings(15.0, -15.0, 16), azimuth_steps=1800, max_range=100.0, range_noise=0.015,
        dropout=0.03, far_dark_dropout=0.6,
    ),
    "hdl32": LidarConfig(
        elevations_deg=_rings(10.67, -30.67, 32), azimuth_steps=2250, max_range=100.0, range_noise=0.01,
        dropout=0.02,
    ),
    "os1_128": LidarConfig(
        elevations_deg=_rings(22.5, -22.5, 128), azimuth_steps=1024, max_range=120.0, range_noise=0.015,
        dropout=0.02, elevation_jitter_deg=0.01,
    ),
    "os2_128": LidarConfig(
        elevations_deg=_rings(11.25, -11.25, 128), azimuth_steps=1024, max_range=85.0, range_noise=0.02,
        dropout=0.02, elevation_jitter_deg=0.01,
    ),
    "livox_mid40": LidarConfig(
        pattern="rosette", fov_deg=(38.4, 38.4), rosette_rays=10_000, max_range=85.0, min_range=1.0,
        range_noise=0.02, dropout=0.04, grazing_dropout=0.7, height=1.6,
    ),
    "rgbd": LidarConfig(
        pattern="pinhole", fov_deg=(87.0, 58.0), image_size=(212, 120), min_range=0.3, max_range=6.0,
        range_noise=0.0012, range_noise_growth=0.0019, outlier_rate=0.0, dropout=0.02, far_dark_dropout=0.3,
        grazing_dropout=0.5, elevation_jitter_deg=0.0,
    ),
}  # fmt: skip
OUTDOOR_SENSORS = ("hdl64", "vlp16", "hdl32", "os1_128", "os2_128", "livox_mid40")
INDOOR_SENSORS = ("fused", "rgbd")  # "fused": the multi-view spherical scan of IndoorConfig (ScanNet-like)


def sensor_preset(name: str) -> LidarConfig:
    """A copy of the named preset (see the module docstring for the datasheet values behind each)."""
    if name not in SENSOR_PRESETS:
        raise ValueError(f"unknown sensor {name!r}; presets: {', '.join(SENSOR_PRESETS)}")
    return dataclasses.replace(SENSOR_PRESETS[name])
