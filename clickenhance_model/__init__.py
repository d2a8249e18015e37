"""ClickEnhance: interactive click-based 3D point cloud segmentation, without ROS."""
