"""Annotate point clouds in the browser: recorded scans and rosbag2 clouds offline, the live node remotely.

    python -m clickenhance_model.annotate scans/ --port 8080 --out labels/

`scan_sources` lists the frames, `frame_annotator` holds the offline state and writes the
labels, `ray_picking` turns a click ray into a point, and `page` serves the viser page.
"""
