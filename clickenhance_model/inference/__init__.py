"""Interactive inference, one module per step of the data flow (each step feeds the next).

1. `cloud`: a caller's cloud validated; non-finite points and points beyond `max_range` dropped,
   the caller's indices kept (once per cloud).
2. Scan index, once per cloud: `voxel_grid` (the one `voxelize`, shared by the learned model and
   the baseline) and `voxel_graph` (KD-tree and kNN graph of the voxels, normals, ground,
   bridges; `GraphConfig`, presets). The KD-tree of the points (snapping, click rules) is the
   session's, built on first use.
3. `crop`: the voxels within a 3D ball of the positive clicks (every click).
4. `click_encoding`: Euclidean and geodesic click maps over the crop, and the geodesic region
   of the clicks (every click); `geodesic_region` gives that region per point on a graph of
   another preset (the baseline; the prior of a fusion network whose maps graph is not the preset),
   where a model may price the graph's edges by a learned `edge_affinity` (never the baseline).
5. `network_input`: crop + click maps -> the network's feature tensors and batches; the
   network itself, `unet.ClickEnhanceNet`, runs in `segmenter.Segmenter.predict`.
6. `click_rules`: the rules that make every click count in the returned mask.
7. `session` on top: `InteractiveSession` runs steps 1-6 for one object's clicks (undo, reset,
   snapping); `session_cache` keeps the sessions of the last clouds for stateless callers.

What stays outside, and why: the network definition (`unet`), its configuration
(`model_config`), checkpoints and the spconv adaptation describe a trained model, not a
step of the flow, and training loads them without running a session; `segmenter` (the
learned model's `Segmenter`/`ModelSession`) and `baseline` (the training-free method) are
the two segmenters built from these steps, the objects `load_segmenter` returns. Training,
evaluation, datasets and scenes use this package; nothing here imports them, and only the
learned steps (`network_input`, `symmetric_views`, `edge_affinity`) import torch: the baseline runs without it.
"""
