"""Random furnished rooms, scanned like an RGB-D reconstruction: ray casts from a few viewpoints, fused.

Rooms have a floor, four walls, a door, optionally a ceiling, and furniture (tables, chairs, shelves with
books, sofas, cabinets, boxes) with NYU40 (ScanNet) class ids; with their counts above zero also floor
lamps, bins, pillows and small objects on the tables, and `chair_styles` / `round_table_prob` vary the
shapes. Scanning (`sensor` "fused") casts a dense spherical ray pattern from several viewpoints at head
height and merges the hits on a voxel grid, so, as in ScanNet, surfaces hidden from every viewpoint
(under sofas, behind shelves) have no points, and the density is even. `sensor` "rgbd" instead takes a
few frames of a depth camera (pinhole, limited range, noise growing with depth) looking into the room.
Colours come from each part's base colour, shaded by incidence, with noise; `colour_bleed` carries them across
borders as an RGB-D reconstruction's fused, slightly misregistered colour frames do, and `part_colour_prob` gives
furniture parts colours of their own. Points are in the room frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.layout import Footprints
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose, simulate_scan
from clickenhance_model.scenes.primitives import Material, Primitive, Scene, box, cylinder, ellipsoid, yaw_matrix
from clickenhance_model.scenes.sensors import INDOOR_SENSORS, sensor_preset


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
    sensor: str = "fused"  # "fused": spherical scans from every viewpoint; "rgbd": depth-camera frames
    camera: LidarConfig = field(default_factory=lambda: sensor_preset("rgbd"))
    camera_views: tuple[int, int] = (1, 3)  # rgbd: frames fused, taken from the first viewpoints
    chair_styles: tuple[str, ...] = ("four_leg",)  # drawn from: four_leg, office, stool, armchair
    round_table_prob: float = 0.0
    lamps: tuple[int, int] = (0, 0)
    bins: tuple[int, int] = (0, 0)
    pillows_per_sofa: tuple[int, int] = (0, 0)
    table_clutter: tuple[int, int] = (0, 0)  # small objects (cups, bottles, books, laptops, lamps) per table
    # The floor, each wall and the door as objects (ScanNet labels them as instances, and an operator
    # clicks them); off: they are background, as before.
    structure_targets: bool = False
    # Metres: each point takes the mean colour within a radius drawn per room from this range, around itself moved
    # by its scan frame's offset (up to that radius; each colour frame's misregistration), its own texture kept, so
    # colour runs across borders as in a ScanNet reconstruction (`bleed_colours`,
    # `scenes.statistics.border_colour_bleed`). (0, 0): exact part colours.
    colour_bleed: tuple[float, float] = (0.0, 0.0)
    # Chance that a part of a piece of furniture (a leg, a seat, a door, a shelf board) takes a colour of its own
    # (`scenes.statistics.inner_colour_edges`: real furniture has parts of other colours); drawn from its own random
    # stream, so the room's shapes and the scan are those without it. 0: one colour per object, as before.
    part_colour_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.sensor not in INDOOR_SENSORS:
            raise ValueError(f"IndoorConfig.sensor must be one of {INDOOR_SENSORS}, got {self.sensor!r}")
        if not 0.0 <= self.colour_bleed[0] <= self.colour_bleed[1]:
            raise ValueError(f"IndoorConfig.colour_bleed must be a range 0 <= lo <= hi, got {self.colour_bleed}")
        if not 0.0 <= self.part_colour_prob <= 1.0:
            raise ValueError(f"IndoorConfig.part_colour_prob must be in [0, 1], got {self.part_colour_prob}")
        unknown = set(self.chair_styles) - set(CHAIR_STYLES)
        if not self.chair_styles or unknown:
            raise ValueError(f"IndoorConfig.chair_styles must name some of {CHAIR_STYLES}, got {self.chair_styles}")


@dataclass
class GeneratedRoom:
    """A room scene, its scanner viewpoints and the (semantic, instance) of each object in it."""

    scene: Scene
    viewpoints: list[SensorPose]
    objects: list[tuple[int, int]]


CHAIR_STYLES = ("four_leg", "office", "stool", "armchair")
_WOOD = [(150, 111, 51), (120, 85, 45), (190, 150, 100), (90, 60, 35)]
_FABRIC = [(70, 90, 140), (150, 60, 60), (90, 120, 80), (110, 110, 110), (200, 180, 150)]
_PAINT = [(235, 235, 225), (225, 220, 200), (200, 215, 225), (240, 230, 215)]
_PLASTIC = [(30, 30, 35), (200, 40, 40), (40, 90, 180), (230, 200, 60), (240, 240, 240), (60, 150, 90)]
_METAL = [(170, 170, 175), (60, 60, 65), (200, 190, 160)]


def jittered_colour(rng: np.random.Generator, palette: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """One palette colour, each channel scaled by 0.85 to 1.15 (a material's colour, not two pieces alike)."""
    base = np.array(palette[int(rng.integers(len(palette)))], dtype=float)
    return tuple(int(c) for c in np.clip(base * rng.uniform(0.85, 1.15, 3), 0, 255))


class _Room:
    """Collects a room's primitives, instance ids and floor occupancy."""

    def __init__(self, rng: np.random.Generator, width: float, depth: float) -> None:
        self.rng, self.width, self.depth = rng, width, depth
        self.prims: list[Primitive] = []
        self.objects: list[tuple[int, int]] = []
        self.floor = Footprints()
        self._next_id = 1
        self.tables: list[tuple[float, float, float, float, float, float]] = []  # x, y, yaw, length, depth, height
        self.sofas: list[tuple[float, float, float, float, float, float]] = []  # x, y, yaw, length, depth, seat

    def material(self, semantic: int, palette: list[tuple[int, int, int]], thing: bool = True) -> Material:
        """A material for a new object (a fresh instance id for things) with a jittered palette colour."""
        color = jittered_colour(self.rng, palette)
        instance = 0
        if thing:
            instance, self._next_id = self._next_id, self._next_id + 1
        return Material(semantic=semantic, instance=instance, remission=float(np.mean(color)) / 255, color=color)

    def add(self, prim: Primitive, as_object: bool) -> None:
        """Add one room-frame primitive; `as_object` gives it a fresh instance id (no random draw)."""
        if as_object:
            material = dataclasses.replace(prim.material, instance=self._next_id)
            self._next_id += 1
            self.objects.append((material.semantic, material.instance))
            prim = dataclasses.replace(prim, material=material)
        self.prims.append(prim)

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
    _shell(room, float(rng.uniform(*config.room_height)), rng.random() < config.ceiling_prob, config.structure_targets)
    _furnish(room, config)
    viewpoints = []
    for _ in range(int(rng.integers(config.viewpoints[0], config.viewpoints[1] + 1))):
        for _ in range(50):
            x, y = rng.uniform(0.5, width - 0.5), rng.uniform(0.5, depth - 0.5)
            if room.floor.is_free(x, y, 0.3):
                position = np.array([x, y, rng.uniform(1.2, 1.7)])
                viewpoints.append(SensorPose(position, yaw_matrix(float(rng.uniform(0, 2 * np.pi)))))
                break
    prims = room.prims
    if config.part_colour_prob > 0:  # a spawned stream: the draws above and the scan's below are unchanged
        prims = recolour_parts(prims, config.part_colour_prob, rng.spawn(1)[0])
    return GeneratedRoom(Scene(prims), viewpoints, room.objects)


def recolour_parts(prims: list[Primitive], chance: float, rng: np.random.Generator) -> list[Primitive]:
    """The primitives with each part of an object (instance > 0) given, with `chance`, a jittered colour of its own
    from any furniture palette; labels, shapes and remission (what the depth sensor's dropout reads) are kept."""
    palette = _WOOD + _FABRIC + _PLASTIC + _METAL
    out = []
    for prim in prims:
        if prim.material.instance and rng.random() < chance:
            material = dataclasses.replace(prim.material, color=jittered_colour(rng, palette))
            prim = dataclasses.replace(prim, material=material)
        out.append(prim)
    return out


def _shell(room: _Room, height: float, ceiling: bool, targets: bool = False) -> None:
    """Floor, four walls, a door and optionally the ceiling (background, or objects when `targets`).

    Instance ids of the structure are drawn without touching the random stream, so `targets`
    changes the labels only, never the geometry or colours.
    """
    w, d, t = room.width, room.depth, 0.1
    floor = room.material(classes.NYU_FLOOR, [(160, 130, 100), (120, 120, 125), (180, 170, 150)], thing=False)
    wall = room.material(classes.NYU_WALL, _PAINT, thing=False)
    room.add(box(np.array([w / 2, d / 2, -t / 2]), np.array([w / 2 + t, d / 2 + t, t / 2]), floor), targets)
    for center, half in (
        ([w / 2, -t / 2, height / 2], [w / 2 + t, t / 2, height / 2]),
        ([w / 2, d + t / 2, height / 2], [w / 2 + t, t / 2, height / 2]),
        ([-t / 2, d / 2, height / 2], [t / 2, d / 2, height / 2]),
        ([w + t / 2, d / 2, height / 2], [t / 2, d / 2, height / 2]),
    ):
        room.add(box(np.array(center), np.array(half), wall), targets)
    if ceiling:
        top = dataclasses.replace(wall, semantic=classes.NYU_CEILING)
        room.prims.append(box(np.array([w / 2, d / 2, height + t / 2]), np.array([w / 2 + t, d / 2 + t, t / 2]), top))
    door = room.material(classes.NYU_DOOR, _WOOD, thing=False)
    dx = room.rng.uniform(0.6, w - 0.6)
    room.add(box(np.array([dx, 0.015, 1.03]), np.array([0.45, 0.02, 1.03]), door), targets)
    room.floor.claim_disc(float(dx), 0.5, 0.5)  # keep the doorway clear


def _furnish(room: _Room, config: IndoorConfig) -> None:
    """Tables with chairs, then wall furniture (shelves, sofas, cabinets), loose chairs and boxes."""
    rng = room.rng
    for _ in range(_count(rng, config.tables)):
        round_top = config.round_table_prob > 0 and rng.random() < config.round_table_prob
        build = round_table_parts if round_top else table_parts
        parts, length, depth = build(rng, room.material(classes.NYU_TABLE, _WOOD))
        pose = room.spot(length, depth, against_wall=False)
        if pose is not None:
            room.place(parts, *pose)
            room.tables.append((*pose, length, depth, float(parts[0].center[2] + parts[0].size[2])))
            _chairs_around(room, pose, length, depth, _count(rng, config.chairs_per_table), config)
    _wall_furniture(room, config)
    for _ in range(_count(rng, config.extra_chairs)):
        pose = room.spot(0.5, 0.5, against_wall=False)
        if pose is not None:
            room.place(_chair(room, config), *pose)
    for _ in range(_count(rng, config.boxes)):
        size = rng.uniform(0.15, 0.35, 3)
        pose = room.spot(2 * size[1], 2 * size[0], against_wall=rng.random() < 0.5)
        if pose is not None:
            mat = room.material(classes.NYU_BOX, [(190, 150, 100), (170, 130, 90), (220, 220, 210)])
            room.place([box(np.array([0.0, 0.0, size[2]]), size, mat)], *pose)
    _clutter(room, config)


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
        parts, length, depth = sofa_parts(rng, room.material(classes.NYU_SOFA, _FABRIC))
        pose = _against_wall(room, parts, length, depth)
        if pose is not None:
            room.sofas.append((*pose, length, depth, float(parts[0].size[2] * 2)))
    for _ in range(_count(rng, config.cabinets)):
        _against_wall(room, *cabinet_parts(rng, room.material(classes.NYU_CABINET, _WOOD)))


def _against_wall(
    room: _Room, parts: list[Primitive], length: float, depth: float
) -> tuple[float, float, float] | None:
    """Place an object with its back to a wall, if a free stretch of wall is found; returns its pose."""
    pose = room.spot(length, depth, against_wall=True)
    if pose is not None:
        room.place(parts, *pose)
    return pose


def _chairs_around(
    room: _Room, table: tuple[float, float, float], length: float, depth: float, n: int, config: IndoorConfig
) -> None:
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
            room.place(_chair(room, config), float(cx), float(cy), facing)


def round_table_parts(rng: np.random.Generator, mat: Material) -> tuple[list[Primitive], float, float]:
    """A round table: disc top on a central column with a foot disc; returns (parts, diameter, diameter)."""
    radius, height = rng.uniform(0.35, 0.65), rng.uniform(0.7, 0.76)
    parts = [
        cylinder(np.array([0.0, 0.0, height - 0.02]), radius, 0.02, mat),
        cylinder(np.array([0.0, 0.0, height / 2]), 0.04, height / 2 - 0.02, mat),
        cylinder(np.array([0.0, 0.0, 0.015]), radius * 0.55, 0.015, mat),
    ]
    return parts, 2 * radius, 2 * radius


def office_chair_parts(rng: np.random.Generator, mat: Material) -> list[Primitive]:
    """An office chair facing +x: five-star base, gas column, padded seat and a tall backrest."""
    seat_h, s = rng.uniform(0.44, 0.52), rng.uniform(0.44, 0.52)
    parts = [
        box(np.array([0.0, 0.0, seat_h]), np.array([s / 2, s / 2, 0.04]), mat),
        box(np.array([-s / 2, 0.0, seat_h + 0.35]), np.array([0.03, s / 2 - 0.02, rng.uniform(0.22, 0.32)]), mat),
        cylinder(np.array([0.0, 0.0, (seat_h - 0.04) / 2 + 0.05]), 0.025, (seat_h - 0.04) / 2 - 0.05, mat),
    ]
    for k in range(5):  # star legs
        angle = 2 * np.pi * k / 5
        parts.append(
            box(
                np.array([0.15 * np.cos(angle), 0.15 * np.sin(angle), 0.06]),
                np.array([0.15, 0.02, 0.015]),
                mat,
                yaw_matrix(angle),
            )
        )
    return parts


def stool_parts(rng: np.random.Generator, mat: Material) -> list[Primitive]:
    """A stool: round seat on three or four splayed legs, no backrest."""
    height, radius = rng.uniform(0.45, 0.75), rng.uniform(0.15, 0.2)
    parts = [cylinder(np.array([0.0, 0.0, height - 0.02]), radius, 0.02, mat)]
    legs = int(rng.integers(3, 5))
    for k in range(legs):
        angle = 2 * np.pi * k / legs
        parts.append(
            cylinder(
                np.array([0.8 * radius * np.cos(angle), 0.8 * radius * np.sin(angle), height / 2 - 0.02]),
                0.015,
                height / 2 - 0.02,
                mat,
            )
        )
    return parts


def armchair_parts(rng: np.random.Generator, mat: Material) -> list[Primitive]:
    """An upholstered armchair facing +x: seat block, backrest and two arms."""
    width, depth, seat = rng.uniform(0.7, 0.95), rng.uniform(0.7, 0.9), rng.uniform(0.38, 0.45)
    parts, _, _ = sofa_parts(rng, mat)  # the sofa's shape rules, scaled to chair size
    scale = np.array([depth, width, seat]) / (2 * parts[0].size)
    return [Primitive(p.shape, p.center * scale, p.size * scale, p.rotation, p.material) for p in parts]


def _chair(room: _Room, config: IndoorConfig) -> list[Primitive]:
    """A chair of one of the configured styles (one style draws nothing extra, so scenes keep their stream)."""
    rng = room.rng
    style = config.chair_styles[0] if len(config.chair_styles) == 1 else str(rng.choice(config.chair_styles))
    palette = _FABRIC if style == "armchair" else _WOOD + _FABRIC + (_PLASTIC if style != "four_leg" else [])
    mat = room.material(classes.NYU_CHAIR, palette)
    build = {"four_leg": chair_parts, "office": office_chair_parts, "stool": stool_parts, "armchair": armchair_parts}
    return build[style](rng, mat)


def _clutter(room: _Room, config: IndoorConfig) -> None:
    """Floor lamps, bins, pillows on the sofas and small objects on the tables (nothing drawn for zero counts)."""
    rng = room.rng
    for _ in range(_optional(rng, config.lamps)):
        pose = room.spot(0.4, 0.4, against_wall=rng.random() < 0.7)
        if pose is not None:
            room.place(_lamp_parts(rng, room.material(classes.NYU_LAMP, _METAL + _PAINT), floor=True), *pose)
    for _ in range(_optional(rng, config.bins)):
        pose = room.spot(0.35, 0.35, against_wall=rng.random() < 0.6)
        if pose is not None:
            mat = room.material(classes.NYU_OTHER_FURNITURE, _PLASTIC + _METAL)
            radius, height = rng.uniform(0.12, 0.2), rng.uniform(0.3, 0.7)
            shape = cylinder(np.array([0.0, 0.0, height / 2]), radius, height / 2, mat)
            if rng.random() < 0.4:
                shape = box(np.array([0.0, 0.0, height / 2]), np.array([radius, radius * 0.8, height / 2]), mat)
            room.place([shape], *pose)
    for x, y, yaw, length, depth, seat in room.sofas:
        for _ in range(_optional(rng, config.pillows_per_sofa)):
            mat = room.material(classes.NYU_PILLOW, _FABRIC + _PAINT)
            along = rng.uniform(-length / 2 + 0.35, length / 2 - 0.35)
            pillow = ellipsoid(np.array([-depth / 2 + 0.3, along, seat + 0.2]), np.array([0.08, 0.22, 0.2]), mat)
            room.place([pillow], x, y, yaw)
    for table in room.tables:
        for _ in range(_optional(rng, config.table_clutter)):
            _table_item(room, table)


def _optional(rng: np.random.Generator, span: tuple[int, int]) -> int:
    """A count from an inclusive range; (0, 0) draws nothing, so rooms without the object keep their stream."""
    return _count(rng, span) if span[1] > 0 else 0


def _lamp_parts(rng: np.random.Generator, mat: Material, floor: bool) -> list[Primitive]:
    """A lamp: foot disc, stem and a shade (floor lamp about 1.5 m tall, table lamp about 0.4 m)."""
    height = rng.uniform(1.3, 1.8) if floor else rng.uniform(0.3, 0.5)
    shade = rng.uniform(0.15, 0.25) if floor else rng.uniform(0.08, 0.14)
    return [
        cylinder(np.array([0.0, 0.0, 0.015]), shade * 0.8, 0.015, mat),
        cylinder(np.array([0.0, 0.0, height / 2]), 0.015, height / 2, mat),
        cylinder(np.array([0.0, 0.0, height]), shade, shade * 0.7, mat),
    ]


def _table_item(room: _Room, table: tuple[float, float, float, float, float, float]) -> None:
    """One small object on a table top: a cup, a bottle, a stack of books, a laptop or a table lamp."""
    rng = room.rng
    x, y, yaw, length, depth, top = table
    local = np.array([rng.uniform(-depth / 2 + 0.1, depth / 2 - 0.1), rng.uniform(-length / 2 + 0.1, length / 2 - 0.1)])
    kind = int(rng.integers(5))
    if kind == 0:  # cup
        mat = room.material(classes.NYU_OTHER_PROP, _PLASTIC + _PAINT)
        parts = [cylinder(np.array([0.0, 0.0, 0.05]), rng.uniform(0.035, 0.05), 0.05, mat)]
    elif kind == 1:  # bottle: body and neck
        mat = room.material(classes.NYU_OTHER_PROP, _PLASTIC)
        h = rng.uniform(0.18, 0.3)
        parts = [
            cylinder(np.array([0.0, 0.0, h * 0.35]), 0.035, h * 0.35, mat),
            cylinder(np.array([0.0, 0.0, h * 0.85]), 0.013, h * 0.15, mat),
        ]
    elif kind == 2:  # a stack of books
        mat = room.material(classes.NYU_BOOKS, _FABRIC)
        parts = [
            box(np.array([0.0, 0.0, 0.02 + 0.04 * k]), np.array([0.1, 0.14, 0.02]), mat, yaw_matrix(0.2 * k))
            for k in range(int(rng.integers(1, 5)))
        ]
    elif kind == 3:  # laptop: base and an opened screen
        mat = room.material(classes.NYU_OTHER_PROP, _METAL + [(30, 30, 35)])
        tilt = rng.uniform(0.1, 0.5)
        c, s = np.cos(tilt), np.sin(tilt)
        screen = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        parts = [
            box(np.array([0.0, 0.0, 0.01]), np.array([0.12, 0.17, 0.01]), mat),
            box(np.array([-0.12 - 0.11 * s, 0.0, 0.02 + 0.11 * c]), np.array([0.006, 0.17, 0.11]), mat, screen),
        ]
    else:
        parts = _lamp_parts(rng, room.material(classes.NYU_LAMP, _METAL + _PAINT), floor=False)
    rot = yaw_matrix(yaw)
    center = np.array([x, y, 0.0]) + rot @ np.array([local[0], local[1], 0.0])
    lifted = [Primitive(p.shape, p.center + np.array([0.0, 0.0, top]), p.size, p.rotation, p.material) for p in parts]
    room.place(lifted, float(center[0]), float(center[1]), float(yaw + rng.uniform(0, 2 * np.pi)))


def scan_room(room: GeneratedRoom, config: IndoorConfig, rng: np.random.Generator) -> LidarScan:
    """Scan the room from each viewpoint and fuse the coloured points, one per voxel, in the room frame."""
    xyz, rgb, sem, inst = [], [], [], []
    camera = config.sensor == "rgbd"
    poses = _camera_poses(room, config, rng) if camera else room.viewpoints
    for pose in poses:
        if camera:
            part = simulate_scan(room.scene, pose, config.camera, rng, with_color=True)
        else:
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
    if config.colour_bleed[1] > 0:  # drawn last, so the room's geometry and labels match those without bleed
        frame = np.repeat(np.arange(len(xyz)), [len(part) for part in xyz])[keep]
        objects = np.concatenate(sem)[keep].astype(np.int64) * 65536 + np.concatenate(inst)[keep]
        colors = bleed_colours(points[keep], colors, objects, frame, float(rng.uniform(*config.colour_bleed)), rng)
    return LidarScan(
        xyz=points[keep].astype(np.float32),
        remission=(colors.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255).round(2),
        semantic=np.concatenate(sem)[keep],
        instance=np.concatenate(inst)[keep],
        rgb=colors,
    )


def bleed_colours(xyz: np.ndarray, rgb: np.ndarray, objects: np.ndarray, frame: np.ndarray, radius: float,
                  rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Colours (uint8 (N, 3)) bled as an RGB-D reconstruction's: each point takes the mean colour within `radius` of
    itself shifted by its frame's offset (whatever object lies there), plus its own detail (its colour less the
    mean of its own object's points within `radius`: shading and noise), so colour runs across borders and the
    surfaces keep their texture. `objects`: an integer label per point; `frame`: which scan frame each point came
    from, with one offset of up to `radius` in a random direction per frame, as each colour frame is registered
    to the depth a little off. A point with no point around its shifted place keeps its colour."""
    frames = int(frame.max(initial=-1)) + 1
    direction = rng.normal(size=(frames, 3))
    length = radius * rng.uniform(size=(frames, 1))
    offset = direction / np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9) * length
    if radius <= 0 or len(xyz) == 0:
        return rgb
    tree = cKDTree(xyz)
    colour = np.asarray(rgb, dtype=np.float64)
    shifted, found = _ball_means(tree, xyz + offset[frame], colour, radius)
    own, _ = _ball_means(tree, xyz, colour, radius, objects)
    bled = np.clip(np.round(shifted + colour - own), 0, 255)
    return np.where(found[:, None], bled, colour).astype(np.uint8)


def _ball_means(tree: cKDTree, at: np.ndarray, colour: np.ndarray, radius: float, objects: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Mean colour (N, 3) of the tree's points within `radius` of each of `at` (with `objects`, `at` are the tree's
    own points and only those of the same object count), and whether any point counted."""
    balls = tree.query_ball_point(at, radius)
    sizes = np.fromiter((len(b) for b in balls), dtype=np.int64, count=len(balls))
    members = np.fromiter((i for b in balls for i in b), dtype=np.int64, count=int(sizes.sum()))
    owner = np.repeat(np.arange(len(at)), sizes)
    if objects is not None:
        same = objects[members] == objects[owner]
        members, owner = members[same], owner[same]
    count = np.bincount(owner, minlength=len(at))
    total = np.stack([np.bincount(owner, weights=colour[members, c], minlength=len(at)) for c in range(3)], axis=1)
    return total / np.maximum(count, 1)[:, None], count > 0


def _camera_poses(room: GeneratedRoom, config: IndoorConfig, rng: np.random.Generator) -> list[SensorPose]:
    """Depth-camera poses at the first viewpoints, each aimed near the room's middle, tilted down 10 to 40 deg."""
    count = min(len(room.viewpoints), _count(rng, config.camera_views))
    middle = room.scene.primitives[0].center[:2]  # the floor slab's centre (_shell adds it first)
    poses = []
    for view in room.viewpoints[:count]:
        aim = middle + rng.normal(0.0, 0.7, 2) - view.position[:2]
        yaw = float(np.arctan2(aim[1], aim[0])) if np.linalg.norm(aim) > 0.3 else float(rng.uniform(0, 2 * np.pi))
        tilt = np.radians(rng.uniform(10.0, 40.0))
        c, s = np.cos(tilt), np.sin(tilt)
        down = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # turns the optical axis (+x) downwards
        poses.append(SensorPose(view.position, yaw_matrix(yaw) @ down))
    return poses


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
