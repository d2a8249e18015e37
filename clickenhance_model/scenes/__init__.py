"""Synthetic labelled scenes: analytic street and room scenes, a ray-cast spinning LiDAR, SemanticKITTI files.

Entry points: `clickenhance_model.scenes.generate.generate_scan` (one labelled scan from a kind, seed and
frame index) and its command line `python -m clickenhance_model.scenes.generate`; `write_scan` /
`read_scan` (SemanticKITTI layout); `simulate_scan` (the sensor model on any Scene); `sensor_preset`
(spinning LiDARs of 16 to 128 rings, a Livox-like rosette, an RGB-D camera).
Pictures: `clickenhance_model.scenes.render.render_bird_eye` (top or side view; imports matplotlib, so not
re-exported here).
"""

from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose, simulate_scan
from clickenhance_model.scenes.sensors import sensor_preset
from clickenhance_model.scenes.writer import read_scan, write_scan

__all__ = [
    "LidarConfig",
    "LidarScan",
    "SensorPose",
    "read_scan",
    "sensor_preset",
    "simulate_scan",
    "write_scan",
]
