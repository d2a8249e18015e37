"""Vectorised numpy ray casting of a Scene from one origin: nearest hit per ray, with labels.

Broad phase: each primitive's oriented bounding box gives an azimuth interval (exact for the box)
and a conservative elevation interval as seen from the origin; rays sorted by azimuth turn the
azimuth interval into a slice, so only (ray, primitive) pairs that can hit are formed, in chunks of
at most `pair_budget` pairs. Narrow phase: slab test (boxes), quadratic plus caps (cylinders) and
quadratic (ellipsoids) in each primitive's unit frame.
"""

from __future__ import annotations

import numpy as np

from clickenhance_model.scenes.primitives import (
    GROUND_HIT,
    NO_HIT,
    PrimitiveTable,
    RayHits,
    Scene,
    Shape,
)

_EPS = 1e-6
_CORNER_SIGNS = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])  # [8, 3]


def cast_rays(
    scene: Scene,
    origin: np.ndarray,
    dirs: np.ndarray,
    rng: np.random.Generator | None = None,
    pair_budget: int = 1 << 20,
) -> RayHits:
    """Nearest hit of every ray `origin + t * dirs[i]` (t > 0) against the scene's shapes and ground.

    `rng` drives see-through surfaces and volumetric scatter (Material.pass_prob/scatter); with None
    every surface is solid and opaque, which makes the result a pure function of the geometry.
    """
    origin = np.asarray(origin, dtype=np.float64)
    dirs = np.asarray(dirs, dtype=np.float64)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise ValueError(f"origin must be 3 finite numbers, got {origin!r}")
    if dirs.ndim != 2 or dirs.shape[1] != 3 or not np.all(np.isfinite(dirs)):
        raise ValueError(f"dirs must be a finite [n, 3] array, got shape {dirs.shape}")
    norms = np.linalg.norm(dirs, axis=1)
    if np.any(norms < 1e-12):
        raise ValueError("dirs contains a zero-length direction")
    dirs = dirs / norms[:, None]
    n = len(dirs)
    t = np.full(n, np.inf)
    prim = np.full(n, NO_HIT, dtype=np.int64)
    table = scene.table()
    if len(table):
        _nearest_primitive_hits(table, origin, dirs, rng, pair_budget, t, prim)
    return _assemble(scene, table, origin, dirs, t, prim)


def _assemble(
    scene: Scene, table: PrimitiveTable, origin: np.ndarray, dirs: np.ndarray, t: np.ndarray, prim: np.ndarray
) -> RayHits:
    """Merge in the ground, then look up labels, normals and materials of the winning surfaces."""
    n = len(dirs)
    normal = np.zeros((n, 3))
    semantic = np.zeros(n, dtype=np.uint32)
    remission = np.zeros(n, dtype=np.float32)
    if scene.ground is not None:
        tg, sem_g, n_g = scene.ground.intersect(origin, dirs)
        closer = tg < t
        t[closer], prim[closer] = tg[closer], GROUND_HIT
        normal[closer], semantic[closer] = n_g[closer], sem_g[closer]
        remission[closer] = scene.ground.remission(sem_g[closer])
    on = prim >= 0
    p = prim[on]
    instance = np.zeros(n, dtype=np.uint32)
    color = np.full((n, 3), 128, dtype=np.uint8)
    recorded = prim != NO_HIT
    if on.any():
        normal[on] = _world_normals(table, p, origin, dirs[on], t[on])
        semantic[on], instance[on] = table.semantic[p], table.instance[p]
        remission[on], color[on], recorded[on] = table.remission[p], table.color[p], table.recorded[p]
    return RayHits(t, prim, normal, semantic, instance, remission, color, recorded)


def angular_bounds(table: PrimitiveTable, origin: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per primitive (az_lo, az_hi, el_lo, el_hi, full) of its bounding box seen from `origin`.

    Azimuths are in radians with az_lo in (-pi, pi] and az_hi in [az_lo, az_lo + pi); `full` marks
    boxes whose footprint contains the origin (every azimuth). Elevations bound the box from outside.
    """
    local = table.size[:, None, :] * _CORNER_SIGNS[None]  # [P, 8, 3]
    rel = table.center[:, None, :] + np.einsum("pij,pkj->pki", table.rotation, local) - origin  # [P, 8, 3]
    ang = np.sort(np.arctan2(rel[..., 1], rel[..., 0]), axis=1)  # [P, 8]
    gaps = np.concatenate([np.diff(ang, axis=1), (ang[:, :1] + 2 * np.pi) - ang[:, -1:]], axis=1)
    k = np.argmax(gaps, axis=1)
    rows = np.arange(len(ang))
    full = gaps[rows, k] <= np.pi + 1e-9
    lo = ang[rows, (k + 1) % 8]
    hi = ang[rows, k]
    hi = np.where(hi < lo, hi + 2 * np.pi, hi)
    dxy = np.linalg.norm(rel[..., :2], axis=2)  # [P, 8]
    d_max = dxy.max(axis=1)
    upright = np.abs(table.rotation[:, 2, 2]) > 1 - 1e-9
    p_local = np.einsum("pji,pj->pi", table.rotation, origin - table.center)  # R^T (o - c)
    d_upright = np.linalg.norm(np.maximum(np.abs(p_local[:, :2]) - table.size[:, :2], 0.0), axis=1)
    r_xy = np.linalg.norm(rel[..., :2] - (table.center[:, None, :2] - origin[:2]), axis=2).max(axis=1)
    d_sphere = np.maximum(np.linalg.norm(table.center[:, :2] - origin[:2], axis=1) - r_xy, 0.0)
    d_min = np.where(upright, d_upright, d_sphere)
    z_lo, z_hi = rel[..., 2].min(axis=1), rel[..., 2].max(axis=1)
    el_hi = np.arctan2(z_hi, np.where(z_hi > 0, d_min, d_max))
    el_lo = np.arctan2(z_lo, np.where(z_lo < 0, d_min, d_max))
    return lo, hi, el_lo - 1e-9, el_hi + 1e-9, full


def _candidate_ranges(az_sorted: np.ndarray, table: PrimitiveTable, origin: np.ndarray) -> tuple[np.ndarray, ...]:
    """Slices [start, stop) of the azimuth-sorted rays that each primitive can hit, plus el bounds."""
    n = len(az_sorted)
    lo, hi, el_lo, el_hi, full = angular_bounds(table, origin)
    i0 = np.searchsorted(az_sorted, lo, side="left")
    i1 = np.searchsorted(az_sorted, np.minimum(hi, np.pi), side="right")
    wrap = (hi > np.pi) & ~full
    j1 = np.searchsorted(az_sorted, hi - 2 * np.pi, side="right")
    i0, i1 = np.where(full, 0, i0), np.where(full, n, i1)
    idx = np.arange(len(lo))
    starts = np.concatenate([i0, np.zeros(wrap.sum(), dtype=np.int64)])
    stops = np.concatenate([i1, j1[wrap]])
    owner = np.concatenate([idx, idx[wrap]])
    keep = stops > starts
    return starts[keep], stops[keep], owner[keep], el_lo, el_hi


def _chunks(starts: np.ndarray, stops: np.ndarray, owner: np.ndarray, budget: int):
    """Yield (ray_positions, owner) pair arrays of at most about `budget` pairs each."""
    counts = stops - starts
    pieces = np.maximum(1, -(-counts // budget))  # split ranges longer than the budget
    if np.any(pieces > 1):
        rep = np.repeat(np.arange(len(starts)), pieces)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        base = starts[rep]
        starts, stops, owner = base + k * budget, np.minimum(stops[rep], base + (k + 1) * budget), owner[rep]
        counts = stops - starts
    group = np.cumsum(counts) // budget
    for g in np.unique(group):
        sel = group == g
        s, c = starts[sel], counts[sel]
        offsets = np.repeat(s - (np.cumsum(c) - c), c)
        yield np.arange(c.sum()) + offsets, np.repeat(owner[sel], c)


def _nearest_primitive_hits(
    table: PrimitiveTable,
    origin: np.ndarray,
    dirs: np.ndarray,
    rng: np.random.Generator | None,
    budget: int,
    best_t: np.ndarray,
    best_p: np.ndarray,
) -> None:
    """Fill best_t/best_p (in place) with the nearest primitive hit of each ray."""
    az = np.arctan2(dirs[:, 1], dirs[:, 0])
    order = np.argsort(az, kind="stable")
    el_sorted = np.arcsin(np.clip(dirs[order, 2], -1.0, 1.0))
    starts, stops, owner, el_lo, el_hi = _candidate_ranges(az[order], table, origin)
    o_unit = np.einsum("pij,pj->pi", table.to_unit, origin - table.center)  # [P, 3]
    for pos, p in _chunks(starts, stops, owner, budget):
        keep = (el_sorted[pos] >= el_lo[p]) & (el_sorted[pos] <= el_hi[p])
        ray, p = order[pos[keep]], p[keep]
        t = _pair_hits(table, o_unit[p], np.einsum("mij,mj->mi", table.to_unit[p], dirs[ray]), p, rng)
        hit = np.isfinite(t)
        ray, p, t = ray[hit], p[hit], t[hit]
        srt = np.lexsort((t, ray))
        first = np.ones(len(srt), dtype=bool)
        first[1:] = ray[srt[1:]] != ray[srt[:-1]]
        win = srt[first]
        better = t[win] < best_t[ray[win]]
        best_t[ray[win[better]]] = t[win[better]]
        best_p[ray[win[better]]] = p[win[better]]


def _pair_hits(
    table: PrimitiveTable, o: np.ndarray, d: np.ndarray, p: np.ndarray, rng: np.random.Generator | None
) -> np.ndarray:
    """Hit distance of each (ray, primitive) pair given unit-frame origins/directions (inf = miss)."""
    t_in = np.full(len(p), np.inf)
    t_out = np.full(len(p), -np.inf)
    shape = table.shape[p]
    for kind, func in ((Shape.BOX, unit_box), (Shape.CYLINDER, unit_cylinder), (Shape.ELLIPSOID, unit_sphere)):
        sel = shape == kind
        if sel.any():
            t_in[sel], t_out[sel] = func(o[sel], d[sel])
    valid = (t_in <= t_out) & (t_out > _EPS)
    t = np.where(t_in > _EPS, t_in, t_out)
    if rng is not None:
        valid &= _passes(table.pass_prob[p], valid, rng)
        t = _scatter(t, t_in, t_out, table.scatter[p], valid, rng)
    return np.where(valid, t, np.inf)


def _passes(pass_prob: np.ndarray, valid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """False for the hits a see-through surface lets pass (one draw per candidate hit)."""
    keep = np.ones(len(valid), dtype=bool)
    idx = np.flatnonzero(valid & (pass_prob > 0))
    keep[idx] = rng.random(len(idx)) >= pass_prob[idx]
    return keep


def _scatter(
    t: np.ndarray, t_in: np.ndarray, t_out: np.ndarray, scatter: np.ndarray, valid: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Move returns from volumetric surfaces (foliage) an exponential depth inside, up to the far side."""
    idx = np.flatnonzero(valid & (scatter > 0) & (t_in > _EPS))
    t = t.copy()
    t[idx] = np.minimum(t[idx] + rng.exponential(1.0, len(idx)) * scatter[idx], t_out[idx])
    return t


def _roots(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted real roots of a t^2 + b t + c (a > 0); (inf, -inf) where there are none."""
    disc = b * b - 4 * a * c
    real = disc >= 0
    sq = np.sqrt(np.where(real, disc, 0.0))
    q = -0.5 * (b + np.where(b >= 0, sq, -sq))
    with np.errstate(divide="ignore", invalid="ignore"):
        r0 = q / a
        r1 = np.where(q != 0, c / q, r0)
    return np.where(real, np.minimum(r0, r1), np.inf), np.where(real, np.maximum(r0, r1), -np.inf)


def _slab(o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters of rays through the slab -1 <= x <= 1 (per column)."""
    d = np.where(np.abs(d) < 1e-12, np.where(d < 0, -1e-12, 1e-12), d)
    t1, t2 = (-1.0 - o) / d, (1.0 - o) / d
    return np.minimum(t1, t2), np.maximum(t1, t2)


def unit_box(o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t_in, t_out) of rays [m, 3] with the cube [-1, 1]^3; t_in > t_out means a miss."""
    near, far = _slab(o, d)
    return near.max(axis=1), far.min(axis=1)


def unit_cylinder(o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t_in, t_out) of rays with the capped cylinder x^2 + y^2 <= 1, |z| <= 1."""
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1])
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - 1.0
    parallel = a < 1e-14
    s0, s1 = _roots(np.where(parallel, 1.0, a), b, c)
    inside = c <= 0
    s0 = np.where(parallel, np.where(inside, -np.inf, np.inf), s0)
    s1 = np.where(parallel, np.where(inside, np.inf, -np.inf), s1)
    z0, z1 = _slab(o[:, 2:], d[:, 2:])
    return np.maximum(s0, z0[:, 0]), np.minimum(s1, z1[:, 0])


def unit_sphere(o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t_in, t_out) of rays with the unit ball."""
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * np.einsum("ij,ij->i", o, d)
    c = np.einsum("ij,ij->i", o, o) - 1.0
    return _roots(a, b, c)


def _world_normals(
    table: PrimitiveTable, p: np.ndarray, origin: np.ndarray, dirs: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Outward unit normals at hit points `origin + t * dirs` on primitives `p`."""
    q = np.einsum("mij,mj->mi", table.to_unit[p], origin + t[:, None] * dirs - table.center[p])  # unit frame
    n = np.zeros_like(q)
    shape = table.shape[p]
    rows = np.arange(len(q))
    box = shape == Shape.BOX
    axis = np.argmax(np.abs(q[box]), axis=1)
    n[rows[box], axis] = np.sign(q[rows[box], axis])
    cyl = shape == Shape.CYLINDER
    radial = np.hypot(q[cyl, 0], q[cyl, 1])
    cap = np.abs(q[cyl, 2]) > radial
    n[cyl] = np.where(cap[:, None], np.stack([0 * radial, 0 * radial, np.sign(q[cyl, 2])], 1), q[cyl] * [1, 1, 0])
    ell = shape == Shape.ELLIPSOID
    n[ell] = q[ell]
    world = np.einsum("mij,mj->mi", table.rotation[p], n / table.size[p])
    return world / np.maximum(np.linalg.norm(world, axis=1, keepdims=True), 1e-12)
