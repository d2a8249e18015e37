"""Analytic shapes (oriented boxes, elliptic cylinders, ellipsoids, a street height field) and a ray caster.

The caster is vectorised numpy: a broad phase keeps, per shape, only the rays inside its azimuth and
elevation interval as seen from the (single) ray origin, and an exact narrow phase intersects those
(ray, shape) pairs in the shape's unit frame. Cost grows with the pairs that can hit, not rays x shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from clickenhance_model.scenes import classes

NO_HIT = -2
_FAR = 1e4  # metres; ground hits further than this are dropped
GROUND_HIT = -1
_EPS = 1e-6


class Shape(IntEnum):
    """Kinds of primitive; each is the image of a unit shape under scale, rotation and translation."""

    BOX = 0  # |x|, |y|, |z| <= 1
    CYLINDER = 1  # x^2 + y^2 <= 1, |z| <= 1
    ELLIPSOID = 2  # x^2 + y^2 + z^2 <= 1


@dataclass(frozen=True)
class Material:
    """What a ray hitting a shape returns: labels, reflectivity, colour, and how the surface scatters.

    `pass_prob` lets a ray go through (glass, mesh fences, gaps in foliage); `scatter` is the mean
    depth in metres at which a return comes from inside the shape (foliage); `recorded=False` marks
    shapes that block rays but give no point (the ego vehicle under the sensor).
    """

    semantic: int
    instance: int = 0
    remission: float = 0.3
    color: tuple[int, int, int] = (128, 128, 128)
    pass_prob: float = 0.0
    scatter: float = 0.0
    recorded: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.semantic < 1 << 16:
            raise ValueError(f"Material.semantic must be in [0, 65535], got {self.semantic}")
        if not 0 <= self.instance < 1 << 16:
            raise ValueError(f"Material.instance must be in [0, 65535], got {self.instance}")
        if not 0.0 <= self.pass_prob < 1.0:
            raise ValueError(f"Material.pass_prob must be in [0, 1), got {self.pass_prob}")
        if not self.scatter >= 0.0:
            raise ValueError(f"Material.scatter must be >= 0, got {self.scatter}")


@dataclass(frozen=True, eq=False)
class Primitive:
    """One analytic shape: world point = rotation @ (size * unit point) + center."""

    shape: Shape
    center: np.ndarray  # [3] metres
    size: np.ndarray  # [3] half extents (box), radii and half height (cylinder), semi-axes (ellipsoid)
    rotation: np.ndarray  # [3, 3] world-from-local, columns are the local axes
    material: Material

    def __post_init__(self) -> None:
        for name, want in (("center", (3,)), ("size", (3,)), ("rotation", (3, 3))):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != want or not np.all(np.isfinite(value)):
                raise ValueError(f"Primitive.{name} must be a finite array of shape {want}, got {value!r}")
            object.__setattr__(self, name, value)
        if np.any(self.size <= 0):
            raise ValueError(f"Primitive.size must be positive, got {self.size}")
        if not np.allclose(self.rotation.T @ self.rotation, np.eye(3), atol=1e-6):
            raise ValueError("Primitive.rotation must be orthonormal")


def yaw_matrix(yaw: float) -> np.ndarray:
    """Rotation by `yaw` radians about +z."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def align_z(axis: np.ndarray) -> np.ndarray:
    """A rotation taking local +z to the unit vector `axis` (used for horizontal cylinders: wheels, boards)."""
    z = np.asarray(axis, dtype=np.float64)
    z = z / np.linalg.norm(z)
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def tilt_to_normal(normal: np.ndarray) -> np.ndarray:
    """The smallest rotation taking +z to `normal` (stands an object on sloped ground)."""
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n)
    axis = np.cross([0.0, 0.0, 1.0], n)
    s, c = np.linalg.norm(axis), n[2]
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def box(center: np.ndarray, half: np.ndarray, material: Material, rotation: np.ndarray | None = None) -> Primitive:
    """An oriented box with half extents `half` along the local axes."""
    return Primitive(Shape.BOX, center, half, np.eye(3) if rotation is None else rotation, material)


def cylinder(
    center: np.ndarray,
    radius: float,
    half_height: float,
    material: Material,
    rotation: np.ndarray | None = None,
    radius_y: float | None = None,
) -> Primitive:
    """A capped (elliptic when `radius_y` differs) cylinder whose axis is the local z axis."""
    size = np.array([radius, radius if radius_y is None else radius_y, half_height])
    return Primitive(Shape.CYLINDER, center, size, np.eye(3) if rotation is None else rotation, material)


def ellipsoid(
    center: np.ndarray, semi_axes: np.ndarray, material: Material, rotation: np.ndarray | None = None
) -> Primitive:
    """An ellipsoid with the given semi-axes along the local axes."""
    return Primitive(Shape.ELLIPSOID, center, semi_axes, np.eye(3) if rotation is None else rotation, material)


@dataclass
class PrimitiveTable:
    """Primitives as parallel arrays (structure of arrays) for the vectorised caster."""

    shape: np.ndarray  # [P] int
    center: np.ndarray  # [P, 3]
    size: np.ndarray  # [P, 3]
    rotation: np.ndarray  # [P, 3, 3]
    to_unit: np.ndarray  # [P, 3, 3] diag(1/size) @ rotation.T
    semantic: np.ndarray  # [P] uint32
    instance: np.ndarray  # [P] uint32
    remission: np.ndarray  # [P] float32
    color: np.ndarray  # [P, 3] uint8
    pass_prob: np.ndarray  # [P]
    scatter: np.ndarray  # [P]
    recorded: np.ndarray  # [P] bool

    @classmethod
    def build(cls, primitives: list[Primitive]) -> PrimitiveTable:
        """Pack a list of primitives (possibly empty)."""
        p = len(primitives)
        rotation = np.array([q.rotation for q in primitives]).reshape(p, 3, 3)
        size = np.array([q.size for q in primitives]).reshape(p, 3)
        mats = [q.material for q in primitives]
        return cls(
            shape=np.array([int(q.shape) for q in primitives], dtype=np.int64),
            center=np.array([q.center for q in primitives]).reshape(p, 3),
            size=size,
            rotation=rotation,
            to_unit=np.transpose(rotation, (0, 2, 1)) / size[:, :, None],
            semantic=np.array([m.semantic for m in mats], dtype=np.uint32),
            instance=np.array([m.instance for m in mats], dtype=np.uint32),
            remission=np.array([m.remission for m in mats], dtype=np.float32),
            color=np.array([m.color for m in mats], dtype=np.uint8).reshape(p, 3),
            pass_prob=np.array([m.pass_prob for m in mats], dtype=np.float64),
            scatter=np.array([m.scatter for m in mats], dtype=np.float64),
            recorded=np.array([m.recorded for m in mats], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.shape)


# Ground remission by class before the per-scene gain (values near the real HDL-64E means).
GROUND_REMISSION = {
    classes.ROAD: 0.26,
    classes.PARKING: 0.29,
    classes.SIDEWALK: 0.36,
    classes.TERRAIN: 0.38,
    classes.LANE_MARKING: 0.7,
}


FLAT_KINDS = (0, 1, 2, 5, 6)  # `StreetGround.intersect`'s kinds of hit on the height field (not a vertical face)


@dataclass(frozen=True)
class StreetGround:
    """Street ground in the road frame (x along the road, y to the left, z up), labelled by region.

    Height z = h(x, y) = height0 + slope_x x + slope_y y + curve_x x^2 + curve_y y^2 (grade, cross
    slope, crest or sag, camber) on the road, -curb_right <= y <= curb_left; beyond each curb the
    ground is raised by the curb height (sidewalk, then terrain). Past a sidewalk's outer edge the
    terrain (a verge or a ditch in front of the property line) may lie `verge_drop_*` below the
    sidewalk, with a vertical bank at the edge: the fences and walls that stand there then have their
    feet below the sidewalk, often out of the sensor's sight, as on real streets. Parking strips run
    inside the curbs and a dashed lane marking along y = lane_marking_y. `bumps` (kx, ky, phase,
    amplitude) sinusoids roughen the surface (`terrain_roughness` times more on terrain), applied to
    the hit distance to first order, which makes the scan rings wobble as on real roads.
    """

    height0: float = 0.0
    slope_x: float = 0.0
    slope_y: float = 0.0
    curve_x: float = 0.0
    curve_y: float = 0.0
    curb_left: float = 6.0
    curb_right: float = 6.0
    curb_height_left: float = 0.15
    curb_height_right: float = 0.15
    sidewalk_left: float = 3.0
    sidewalk_right: float = 3.0
    parking_left: float = 0.0
    parking_right: float = 0.0
    lane_marking_y: float | None = 0.0
    remission_gain: float = 1.0
    bumps: tuple[tuple[float, float, float, float], ...] = ()
    terrain_roughness: float = 3.0
    verge_drop_left: float = 0.0
    verge_drop_right: float = 0.0

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Road-level height h(x, y) (without the curb step)."""
        return self.height0 + self.slope_x * x + self.slope_y * y + self.curve_x * x * x + self.curve_y * y * y

    def surface_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the ground surface including the raised sidewalks."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        step = np.where(y > self.curb_left, self.curb_height_left, 0.0)
        step = np.where(y < -self.curb_right, self.curb_height_right, step)
        step = np.where(y > self._verge_edge(1), self.curb_height_left - self.verge_drop_left, step)
        step = np.where(y < self._verge_edge(-1), self.curb_height_right - self.verge_drop_right, step)
        return self.height(x, y) + step

    def _verge_edge(self, side: int) -> float:
        """Lateral coordinate of a side's sidewalk outer edge where the terrain beyond drops (inf where it does
        not: that side's terrain stays level with its sidewalk)."""
        if side > 0:
            return self.curb_left + self.sidewalk_left if self.verge_drop_left > 0 else np.inf
        return -(self.curb_right + self.sidewalk_right) if self.verge_drop_right > 0 else -np.inf

    def label_below(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Semantic id of the ground surface under each (x, y): road, parking, lane marking, sidewalk or terrain."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        kind = np.where(y > self.curb_left, 1, np.where(y < -self.curb_right, 2, 0))
        kind = np.where(y > self._verge_edge(1), 5, np.where(y < self._verge_edge(-1), 6, kind))
        return self._label(x, y, kind)

    def normal(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unit upward normal of the height field at (x, y), shape [..., 3]."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        gx = self.slope_x + 2 * self.curve_x * x
        gy = self.slope_y + 2 * self.curve_y * y
        n = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)

    def _level_roots(self, o: np.ndarray, d: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
        """Both ray parameters where the ray meets z = h(x, y) + offset (nan where it does not)."""
        a = -(self.curve_x * d[:, 0] ** 2 + self.curve_y * d[:, 1] ** 2)
        b = d[:, 2] - (
            self.slope_x * d[:, 0]
            + self.slope_y * d[:, 1]
            + 2 * self.curve_x * o[0] * d[:, 0]
            + 2 * self.curve_y * o[1] * d[:, 1]
        )
        c = o[2] - float(self.height(o[0], o[1])) - offset
        with np.errstate(divide="ignore", invalid="ignore"):
            linear = np.abs(a) < 1e-12
            disc = b * b - 4 * a * c
            q = -0.5 * (b + np.copysign(np.sqrt(np.where(disc >= 0, disc, np.nan)), b))
            r0 = np.where(linear, -c / b, q / a)
            r1 = np.where(linear, np.nan, c / q)
        return np.fmin(r0, r1), np.fmax(r0, r1)

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First hit of each ray with the ground: (t [n] with inf for none, semantic [n], normal [n, 3])."""
        o, d = np.asarray(origin, dtype=np.float64), dirs
        edge_l, edge_r = self._verge_edge(1), self._verge_edge(-1)
        # kind: 0 road, 1 left raised, 2 right raised, 3 left curb face, 4 right curb face, 5 left verge,
        # 6 right verge, 7 left verge bank, 8 right verge bank (5-8 only where the terrain drops)
        levels = (
            (0, 0.0, lambda y: (y >= -self.curb_right) & (y <= self.curb_left)),
            (1, self.curb_height_left, lambda y: (y > self.curb_left) & (y <= edge_l)),
            (2, self.curb_height_right, lambda y: (y < -self.curb_right) & (y >= edge_r)),
            (5, self.curb_height_left - self.verge_drop_left, lambda y: y > edge_l),
            (6, self.curb_height_right - self.verge_drop_right, lambda y: y < edge_r),
        )
        faces = (  # (kind, y of the face, its foot and top over the road level h)
            (3, self.curb_left, 0.0, self.curb_height_left),
            (4, -self.curb_right, 0.0, self.curb_height_right),
            (7, edge_l, self.curb_height_left - self.verge_drop_left, self.curb_height_left),
            (8, edge_r, self.curb_height_right - self.verge_drop_right, self.curb_height_right),
        )
        cands, kinds = [], []
        for kind, offset, inside in levels:
            if kind >= 5 and not np.isfinite(edge_l if kind == 5 else edge_r):
                continue
            for t in self._level_roots(o, d, offset):
                y = o[1] + t * d[:, 1]
                cands.append(np.where(inside(y) & (t > _EPS), t, np.inf))
                kinds.append(kind)
        with np.errstate(divide="ignore", invalid="ignore"):
            for kind, y_face, foot, top in faces:
                if not np.isfinite(y_face):
                    continue
                t = (y_face - o[1]) / d[:, 1]
                z = o[2] + t * d[:, 2]
                h = self.height(o[0] + t * d[:, 0], y_face)
                ok = (t > _EPS) & (z >= h + foot) & (z <= h + top)
                cands.append(np.where(ok, t, np.inf))
                kinds.append(kind)
        stack = np.nan_to_num(np.stack(cands, axis=1), nan=np.inf)  # [n, candidates]
        stack[stack > _FAR] = np.inf  # grazing rays meeting the infinite ground absurdly far away
        which = np.argmin(stack, axis=1)
        t = stack[np.arange(len(d)), which]
        kind = np.array(kinds)[which]
        x, y = o[0] + t * d[:, 0], o[1] + t * d[:, 1]
        hit = np.isfinite(t)
        x, y = np.where(hit, x, 0.0), np.where(hit, y, 0.0)
        normal = self.normal(x, y)
        normal[(kind == 3) | (kind == 7)] = (0.0, 1.0, 0.0)
        normal[(kind == 4) | (kind == 8)] = (0.0, -1.0, 0.0)
        semantic = self._label(x, y, kind)
        if self.bumps:
            t = self._roughen(t, x, y, d[:, 2], semantic, np.isin(kind, FLAT_KINDS))
        return t, semantic, normal

    def _roughen(
        self, t: np.ndarray, x: np.ndarray, y: np.ndarray, dz: np.ndarray, semantic: np.ndarray, flat: np.ndarray
    ) -> np.ndarray:
        """Shift hits on the flat parts by the bump height over the ray's descent (first-order bumpy surface)."""
        bump = np.zeros_like(x)
        for kx, ky, phase, amp in self.bumps:
            bump += amp * np.sin(kx * x + ky * y + phase)
        bump = np.where(semantic == classes.TERRAIN, bump * self.terrain_roughness, bump)
        down = flat & (dz < -1e-3) & np.isfinite(t)
        shift = np.clip(bump / np.where(down, dz, -1.0), -0.5, 0.5)
        return np.where(down, t + shift, t)

    def _label(self, x: np.ndarray, y: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Semantic id of ground points from their region: road, parking, lane marking, sidewalk, terrain."""
        sem = np.full(len(x), classes.ROAD, dtype=np.uint32)
        on_road = kind == 0
        park = (self.parking_left > 0) & (y > self.curb_left - self.parking_left)
        park |= (self.parking_right > 0) & (y < -self.curb_right + self.parking_right)
        sem[on_road & park] = classes.PARKING
        if self.lane_marking_y is not None:
            mark = (np.abs(y - self.lane_marking_y) < 0.075) & (np.mod(x, 9.0) < 3.0)
            sem[on_road & mark & ~park] = classes.LANE_MARKING
        walk_l = (kind == 1) & (y <= self.curb_left + self.sidewalk_left)
        walk_r = (kind == 2) & (y >= -self.curb_right - self.sidewalk_right)
        sem[(kind == 1) | (kind == 2) | (kind >= 5)] = classes.TERRAIN  # 5-8: the verge and its bank
        sem[walk_l | walk_r | (kind == 3) | (kind == 4)] = classes.SIDEWALK
        return sem

    def remission(self, semantic: np.ndarray) -> np.ndarray:
        """Base remission of ground points by class, times the scene's asphalt/concrete gain."""
        out = np.full(len(semantic), 0.25, dtype=np.float32)
        for sem, value in GROUND_REMISSION.items():
            out[semantic == sem] = value
        return out * np.float32(self.remission_gain)


@dataclass
class Scene:
    """Shapes plus an optional street ground, all in one world (road) frame."""

    primitives: list[Primitive]
    ground: StreetGround | None = None
    _table: PrimitiveTable | None = field(default=None, init=False, repr=False)

    def table(self) -> PrimitiveTable:
        """The packed primitive arrays (built once; do not mutate `primitives` afterwards)."""
        if self._table is None or len(self._table) != len(self.primitives):
            self._table = PrimitiveTable.build(self.primitives)
        return self._table


@dataclass
class RayHits:
    """Nearest hit per ray; `primitive` is an index into the scene table, GROUND_HIT or NO_HIT."""

    t: np.ndarray  # [n] metres along the unit direction, inf where no hit
    primitive: np.ndarray  # [n] int64
    normal: np.ndarray  # [n, 3] unit outward normal at the hit (zeros where no hit)
    semantic: np.ndarray  # [n] uint32
    instance: np.ndarray  # [n] uint32
    remission: np.ndarray  # [n] float32 base reflectivity of the surface hit
    color: np.ndarray  # [n, 3] uint8
    recorded: np.ndarray  # [n] bool: hit something that gives a point

    @property
    def hit(self) -> np.ndarray:
        """Rays that hit any surface (recorded or not)."""
        return self.primitive != NO_HIT
