"""Random furnished rooms, scanned like an RGB-D reconstruction: ray casts from a few viewpoints, fused.

Rooms have a floor, four walls, a door, optionally a ceiling, and furniture (tables, chairs, shelves with
books, sofas, cabinets, boxes) with NYU40 (ScanNet) class ids. Scanning casts a dense spherical ray
pattern from several viewpoints at head height and merges the hits on a voxel grid, so, as in ScanNet,
surfaces hidden from every viewpoint (under sofas, behind shelves) have no points, and the density
is even. Colours come from each part's base colour, shaded by incidence, with noise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.layout import Footprints
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose, simulate_scan
from clickenhance_model.scenes.primitives import Material, Primitive, Scene, box, cylinder, yaw_matrix


def _default_scanner() -> LidarConfig:
    """Noise of the depth scanner: 1 cm range noise, 12 m reach, no gross outliers (the rays come from IndoorConfig)."""
    return LidarConfig(
        min_range=0.3, max_range=12.0, range_noise=0.01, outlier_rate=0.0, dropout=0.02, far_dark_dropout=0.0,
        grazing_dropout=0.3,
    )  # fmt: skip


@dataclass
class IndoorConfig:
    """Ranges the room generator draws from; (lo, hi) pairs are uniform ranges, counts inclusive."""

    room_size: tuple[float, float] = (3.5, 9.0)  # metres, each of width and depth
    room_height: tuple[float, float] = (2.4, 3.2)
    ceiling_prob: float = 0.3  # ScanNet reconstructions mostly lack the ceiling
    tables: tuple[int, int] = (0, 2)
    chairs_per_table: tuple[int, int] = (1, 4)
    extra_chairs: tuple[int, int] = (0, 3)
    shelves: tuple[int, int] = (0, 3)
    sofas: tuple[int, int] = (0, 2)
    cabinets: tuple[int, int] = (0, 2)
    boxes: tuple[int, int] = (0, 6)
    viewpoints: tuple[int, int] = (3, 5)
    rays_per_view: int = 100_000  # random directions, uniform over the sphere between the elevation limits
    elevation_deg: tuple[float, float] = (-85.0, 75.0)
    voxel_size: float = 0.03  # fused points are thinned to one per voxel of this edge (metres)
    scanner: LidarConfig = field(default_factory=_default_scanner)


@dataclass
class GeneratedRoom:
    """A room scene, its scanner viewpoints and the (semantic, instance) of each object in it."""

    scene: Scene
    viewpoints: list[SensorPose]
    objects: list[tuple[int, int]]


_WOOD = [(150, 111, 51), (120, 85, 45), (190, 150, 100), (90, 60, 35)]
_FABRIC = [(70, 90, 140), (150, 60, 60), (90, 120, 80), (110, 110, 110), (200, 180, 150)]
_PAINT = [(235, 235, 225), (225, 220, 200), (200, 215, 225), (240, 230, 215)]


class _Room:
    """Collects a room's primitives, instance ids and floor occupancy."""

    def __init__(self, rng: np.random.Generator, width: float, depth: float) -> None:
        self.rng, self.width, self.depth = rng, width, depth
        self.prims: list[Primitive] = []
        self.objects: list[tuple[int, int]] = []
        self.floor = Footprints()
        self._next_id = 1

    def material(self, semantic: int, palette: list[tuple[int, int, int]], thing: bool = True) -> Material:
        """A material for a new object (a fresh instance id for things) with a jittered palette colour."""
        base = np.array(palette[int(self.rng.integers(len(palette)))], dtype=float)
        color = tuple(int(c) for c in np.clip(base * self.rng.uniform(0.85, 1.15, 3), 0, 255))
        instance = 0
        if thing:
            instance, self._next_id = self._next_id, self._next_id + 1
        return Material(semantic=semantic, instance=instance, remission=float(np.mean(color)) / 255, color=color)

    def place(self, parts: list[Primitive], x: float, y: float, yaw: float) -> None:
        """Add parts built around an object origin on the floor at (x, y), turned by yaw."""
        rot = yaw_matrix(yaw)
        origin = np.array([x, y, 0.0])
        for key in dict.fromkeys((p.material.semantic, p.material.instance) for p in parts if p.material.instance):
            self.objects.append(key)
        for p in parts:
            self.prims.append(Primitive(p.shape, origin + rot @ p.center, p.size, rot @ p.rotation, p.material))

    def spot(
        self, length: float, width: float, against_wall: bool, tries: int = 30
    ) -> tuple[float, float, float] | None:
        """A free floor pose (x, y, yaw) for a length x width footprint, backed onto a wall if asked."""
        for _ in range(tries):
            if against_wall:
                wall = int(self.rng.integers(4))
                along = self.rng.uniform(length / 2 + 0.05, (self.width if wall % 2 == 0 else self.depth) - length / 2)
                off = width / 2 + 0.03
                x, y, yaw = [(along, off, np.pi / 2), (self.width - off, along, np.pi),
                             (along, self.depth - off, -np.pi / 2), (off, along, 0.0)][wall]  # fmt: skip
            else:
                x = self.rng.uniform(length / 2 + 0.3, max(length / 2 + 0.31, self.width - length / 2 - 0.3))
                y = self.rng.uniform(length / 2 + 0.3, max(length / 2 + 0.31, self.depth - length / 2 - 0.3))
                yaw = float(self.rng.uniform(0, 2 * np.pi))
            if self.floor.claim_rect(float(x), float(y), float(yaw) + np.pi / 2, length, width):
                return float(x), float(y), float(yaw)
        return None


def table_parts(rng: np.random.Generator, mat: Material) -> tuple[list[Primitive], float, float]:
    """A table (top and four legs); returns (parts, length, depth), length along the object's y axis."""
    length, depth, height, top = rng.uniform(0.8, 2.0), rng.uniform(0.6, 1.0), rng.uniform(0.68, 0.78), 0.04
    parts = [box(np.array([0.0, 0.0, height - top / 2]), np.array([depth / 2, length / 2, top / 2]), mat)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            center = np.array([sx * (depth / 2 - 0.06), sy * (length / 2 - 0.06), (height - top) / 2])
            parts.append(box(center, np.array([0.025, 0.025, (height - top) / 2]), mat))
    return parts, length, depth


def chair_parts(rng: np.random.Generator, mat: Material) -> list[Primitive]:
    """A chair facing +x: seat, backrest and four thin legs."""
    s, seat_h, back_h = rng.uniform(0.4, 0.5), rng.uniform(0.42, 0.48), rng.uniform(0.35, 0.5)
    leg_r = rng.uniform(0.012, 0.022)
    parts = [
        box(np.array([0.0, 0.0, seat_h]), np.array([s / 2, s / 2, 0.025]), mat),
        box(np.array([-s / 2 + 0.02, 0.0, seat_h + back_h / 2]), np.array([0.02, s / 2, back_h / 2]), mat),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(
                cylinder(np.array([sx * (s / 2 - 0.03), sy * (s / 2 - 0.03), seat_h / 2]), leg_r, seat_h / 2, mat)
            )
    return parts


def shelf_parts(rng: np.random.Generator, mat: Material, books: Material) -> tuple[list[Primitive], float, float]:
    """An open bookshelf facing +x with boards and rows of books; returns (parts, length, depth)."""
    length, depth, height = rng.uniform(0.6, 1.5), rng.uniform(0.25, 0.4), rng.uniform(1.2, 2.2)
    t = 0.02
    parts = [box(np.array([-depth / 2 + t / 2, 0.0, height / 2]), np.array([t / 2, length / 2, height / 2]), mat)]
    parts += [box(np.array([0.0, s * (length / 2 - t / 2), height / 2]), np.array([depth / 2, t / 2, height / 2]), mat)
              for s in (-1, 1)]  # fmt: skip
    levels = np.linspace(0.05, height - t / 2, int(rng.integers(3, 6)))
    for z in levels:
        parts.append(box(np.array([0.0, 0.0, z]), np.array([depth / 2, length / 2, t / 2]), mat))
    for z0, z1 in zip(levels[:-1], levels[1:], strict=True):
        y = -length / 2 + t
        while y < length / 2 - 0.1 and rng.random() < 0.9:
            w, h = rng.uniform(0.02, 0.06), min(rng.uniform(0.15, 0.3), z1 - z0 - 0.03)
            parts.append(
                box(np.array([-0.02, y + w / 2, z0 + t / 2 + h / 2]), np.array([depth / 2 - 0.04, w / 2, h / 2]), books)
            )
            y += w + rng.uniform(0.0, 0.05)
    return parts, length, depth


def sofa_parts(rng: np.random.Generator, mat: Material) -> tuple[list[Primitive], float, float]:
    """A sofa facing +x: base, backrest and two arms; returns (parts, length, depth)."""
    length, depth = rng.uniform(1.5, 2.4), rng.uniform(0.8, 1.0)
    seat, back, arm = rng.uniform(0.38, 0.46), rng.uniform(0.75, 0.9), rng.uniform(0.1, 0.22)
    parts = [
        box(np.array([0.0, 0.0, seat / 2]), np.array([depth / 2, length / 2, seat / 2]), mat),
        box(np.array([-depth / 2 + 0.1, 0.0, (seat + back) / 2]), np.array([0.1, length / 2, (back - seat) / 2]), mat),
    ]
    for s in (-1, 1):
        parts.append(
            box(np.array([0.0, s * (length / 2 - arm / 2), seat + 0.1]), np.array([depth / 2, arm / 2, 0.12]), mat)
        )
    return parts, length, depth


def cabinet_parts(rng: np.random.Generator, mat: Material) -> tuple[list[Primitive], float, float]:
    """A closed cabinet (a box with a slightly proud top); returns (parts, length, depth)."""
    length, depth, height = rng.uniform(0.5, 1.2), rng.uniform(0.4, 0.6), rng.uniform(0.7, 2.0)
    parts = [
        box(np.array([0.0, 0.0, height / 2]), np.array([depth / 2, length / 2, height / 2]), mat),
        box(np.array([0.01, 0.0, height + 0.015]), np.array([depth / 2 + 0.01, length / 2 + 0.01, 0.015]), mat),
    ]
    return parts, length, depth


def generate_indoor(rng: np.random.Generator, config: IndoorConfig | None = None) -> GeneratedRoom:
    """Draw one furnished room (floor corner at the origin, x and y along the walls, z up)."""
    config = config or IndoorConfig()
    width, depth = rng.uniform(*config.room_size, size=2)
    room = _Room(rng, float(width), float(depth))
    _shell(room, float(rng.uniform(*config.room_height)), rng.random() < config.ceiling_prob)
    _furnish(room, config)
    viewpoints = []
    for _ in range(int(rng.integers(config.viewpoints[0], config.viewpoints[1] + 1))):
        for _ in range(50):
            x, y = rng.uniform(0.5, width - 0.5), rng.uniform(0.5, depth - 0.5)
            if room.floor.is_free(x, y, 0.3):
                position = np.array([x, y, rng.uniform(1.2, 1.7)])
                viewpoints.append(SensorPose(position, yaw_matrix(float(rng.uniform(0, 2 * np.pi)))))
                break
    return GeneratedRoom(Scene(room.prims), viewpoints, room.objects)


def _shell(room: _Room, height: float, ceiling: bool) -> None:
    """Floor, four walls, a door and optionally the ceiling (background: no instance ids)."""
    w, d, t = room.width, room.depth, 0.1
    floor = room.material(classes.NYU_FLOOR, [(160, 130, 100), (120, 120, 125), (180, 170, 150)], thing=False)
    wall = room.material(classes.NYU_WALL, _PAINT, thing=False)
    room.prims.append(box(np.array([w / 2, d / 2, -t / 2]), np.array([w / 2 + t, d / 2 + t, t / 2]), floor))
    for center, half in (
        ([w / 2, -t / 2, height / 2], [w / 2 + t, t / 2, height / 2]),
        ([w / 2, d + t / 2, height / 2], [w / 2 + t, t / 2, height / 2]),
        ([-t / 2, d / 2, height / 2], [t / 2, d / 2, height / 2]),
        ([w + t / 2, d / 2, height / 2], [t / 2, d / 2, height / 2]),
    ):
        room.prims.append(box(np.array(center), np.array(half), wall))
    if ceiling:
        top = dataclasses.replace(wall, semantic=classes.NYU_CEILING)
        room.prims.append(box(np.array([w / 2, d / 2, height + t / 2]), np.array([w / 2 + t, d / 2 + t, t / 2]), top))
    door = room.material(classes.NYU_DOOR, _WOOD, thing=False)
    dx = room.rng.uniform(0.6, w - 0.6)
    room.prims.append(box(np.array([dx, 0.015, 1.03]), np.array([0.45, 0.02, 1.03]), door))
    room.floor.claim_disc(float(dx), 0.5, 0.5)  # keep the doorway clear


def _furnish(room: _Room, config: IndoorConfig) -> None:
    """Tables with chairs, then wall furniture (shelves, sofas, cabinets), loose chairs and boxes."""
    rng = room.rng
    for _ in range(_count(rng, config.tables)):
        parts, length, depth = table_parts(rng, room.material(classes.NYU_TABLE, _WOOD))
        pose = room.spot(length, depth, against_wall=False)
        if pose is not None:
            room.place(parts, *pose)
            _chairs_around(room, pose, length, depth, _count(rng, config.chairs_per_table))
    _wall_furniture(room, config)
    for _ in range(_count(rng, config.extra_chairs)):
        pose = room.spot(0.5, 0.5, against_wall=False)
        if pose is not None:
            room.place(chair_parts(rng, room.material(classes.NYU_CHAIR, _WOOD + _FABRIC)), *pose)
    for _ in range(_count(rng, config.boxes)):
        size = rng.uniform(0.15, 0.35, 3)
        pose = room.spot(2 * size[1], 2 * size[0], against_wall=rng.random() < 0.5)
        if pose is not None:
            mat = room.material(classes.NYU_BOX, [(190, 150, 100), (170, 130, 90), (220, 220, 210)])
            room.place([box(np.array([0.0, 0.0, size[2]]), size, mat)], *pose)


def _count(rng: np.random.Generator, span: tuple[int, int]) -> int:
    """Integer draw from an inclusive (lo, hi) range."""
    return int(rng.integers(span[0], span[1] + 1))


def _wall_furniture(room: _Room, config: IndoorConfig) -> None:
    """Bookshelves (books share the shelf's instance), sofas and cabinets backed onto the walls."""
    rng = room.rng
    for _ in range(_count(rng, config.shelves)):
        frame = room.material(classes.NYU_BOOKSHELF, _WOOD)
        books = dataclasses.replace(frame, color=_FABRIC[int(rng.integers(len(_FABRIC)))])
        _against_wall(room, *shelf_parts(rng, frame, books))
    for _ in range(_count(rng, config.sofas)):
        _against_wall(room, *sofa_parts(rng, room.material(classes.NYU_SOFA, _FABRIC)))
    for _ in range(_count(rng, config.cabinets)):
        _against_wall(room, *cabinet_parts(rng, room.material(classes.NYU_CABINET, _WOOD)))


def _against_wall(room: _Room, parts: list[Primitive], length: float, depth: float) -> None:
    """Place an object with its back to a wall, if a free stretch of wall is found."""
    pose = room.spot(length, depth, against_wall=True)
    if pose is not None:
        room.place(parts, *pose)


def _chairs_around(room: _Room, table: tuple[float, float, float], length: float, depth: float, n: int) -> None:
    """Up to n chairs along the long sides of a table, facing it."""
    rng = room.rng
    x, y, yaw = table
    rot = yaw_matrix(yaw)
    for _ in range(n):
        side = float(rng.choice([-1.0, 1.0]))
        local = np.array(
            [side * (depth / 2 + rng.uniform(0.2, 0.35)), rng.uniform(-length / 2 + 0.25, length / 2 - 0.25), 0.0]
        )
        cx, cy, _ = np.array([x, y, 0.0]) + rot @ local
        if (
            0.3 < cx < room.width - 0.3
            and 0.3 < cy < room.depth - 0.3
            and room.floor.claim_disc(float(cx), float(cy), 0.22)
        ):
            facing = yaw + (np.pi if side > 0 else 0.0) + rng.normal(0, 0.2)
            room.place(
                chair_parts(rng, room.material(classes.NYU_CHAIR, _WOOD + _FABRIC)), float(cx), float(cy), facing
            )


def scan_room(room: GeneratedRoom, config: IndoorConfig, rng: np.random.Generator) -> LidarScan:
    """Scan the room from each viewpoint and fuse the coloured points, one per voxel, in the room frame."""
    xyz, rgb, sem, inst = [], [], [], []
    for pose in room.viewpoints:
        part = simulate_scan(
            room.scene, pose, config.scanner, rng, with_color=True, directions=_sphere_rays(config, rng)
        )
        xyz.append(part.xyz.astype(np.float64) @ pose.rotation.T + pose.position)
        rgb.append(part.rgb)
        sem.append(part.semantic)
        inst.append(part.instance)
    if not xyz:
        raise ValueError("the room has no free viewpoint to scan from")
    points = np.concatenate(xyz)
    keep = _one_per_voxel(points, config.voxel_size)
    colors = np.concatenate(rgb)[keep]
    return LidarScan(
        xyz=points[keep].astype(np.float32),
        remission=(colors.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255).round(2),
        semantic=np.concatenate(sem)[keep],
        instance=np.concatenate(inst)[keep],
        rgb=colors,
    )


def _sphere_rays(config: IndoorConfig, rng: np.random.Generator) -> np.ndarray:
    """Random unit directions, uniform over the sphere between the elevation limits (no ring pattern)."""
    lo, hi = np.sin(np.radians(config.elevation_deg))
    z = rng.uniform(lo, hi, config.rays_per_view)
    az = rng.uniform(-np.pi, np.pi, config.rays_per_view)
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(az), r * np.sin(az), z], axis=1)


def _one_per_voxel(points: np.ndarray, voxel: float) -> np.ndarray:
    """Sorted indices of the first point in each occupied voxel."""
    if voxel <= 0:
        return np.arange(len(points))
    cells = np.floor(points / voxel).astype(np.int64)
    cells -= cells.min(axis=0)
    dims = cells.max(axis=0) + 1
    keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)
