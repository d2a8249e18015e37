"""Random street scenes built from analytic shapes, in the road frame (x along the road, y left, z up).

A scene is a street cross-section (road with lanes and parking strips, curbs, sidewalks, terrain) along
which frontages are laid out (buildings, hedges, fences, yards with trees, cross-street gaps), then
street furniture (trees, lamp poles, signs, bins), parked and moving vehicles, pedestrians and cyclists,
and, when their counts are above zero, benches, bollard rows, fence segments, sidewalk bushes and other
objects (hydrants, utility boxes, cones); `building_parts` adds doors, steps and facade pieces.
Every size, pose and count is drawn from the given numpy Generator, so a seed reproduces the scene.

Which objects carry instance ids (the training targets) follows SemanticKITTI by default (things only,
or every object with `stuff_instances`); a non-empty `target_mix` instead gives each object of group g
(classes.OUTDOOR_TARGET_GROUPS) an instance id with chance target_mix[g], drawn from a stream of its
own, so the mix changes which objects are targets but not the scene.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.layout import Footprints
from clickenhance_model.scenes.lidar import SensorPose
from clickenhance_model.scenes.primitives import (
    Material,
    Primitive,
    Scene,
    StreetGround,
    align_z,
    box,
    cylinder,
    ellipsoid,
    tilt_to_normal,
    yaw_matrix,
)

_LATERAL = np.array([0.0, 1.0, 0.0])  # wheel axles point along the object's y axis


@dataclass
class OutdoorConfig:
    """Ranges the street generator draws from; (lo, hi) pairs are uniform ranges, counts inclusive."""

    half_length: float = 85.0  # street modelled from -half_length to +half_length around the sensor
    road_half_width: tuple[float, float] = (3.5, 8.0)
    sidewalk_width: tuple[float, float] = (2.0, 6.0)
    curb_height: tuple[float, float] = (0.08, 0.2)
    max_grade: float = 0.05  # slope along the road
    max_cross_slope: float = 0.02
    max_curvature: float = 3e-4  # crest or sag of the road profile, 1/m
    parking_prob: float = 0.7  # chance that a side has a parking strip
    parked_fill: tuple[float, float] = (0.2, 0.85)  # share of a parking strip taken by vehicles
    angled_parking_prob: float = 0.0  # chance that a side's row parks perpendicular or at 60/45 degrees
    van_share: float = 0.15
    truck_share: float = 0.05
    moving_vehicles: tuple[int, int] = (0, 6)
    pedestrians: tuple[int, int] = (0, 10)
    cyclists: tuple[int, int] = (0, 3)
    parked_bicycles: tuple[int, int] = (0, 4)
    tree_spacing: tuple[float, float] = (5.0, 14.0)
    pole_spacing: tuple[float, float] = (18.0, 40.0)
    signs: tuple[int, int] = (1, 6)
    bins: tuple[int, int] = (0, 4)
    building_share: float = 0.45  # share of frontage segments that are buildings
    hedge_share: float = 0.2  # share that are hedges with trees behind
    woods_share: float = 0.2  # share that are clumps of trees and bushes (the rest: fences or walls with yards)
    cross_street_prob: float = 0.35  # chance per side of a gap for a cross street
    closed_end_prob: float = 0.5  # chance per street end of a building row across the road
    stuff_instances: bool = False  # also give instance ids to poles, signs, trunks, ... (KITTI-360 style)
    target_mix: dict[str, float] = field(default_factory=dict)  # group -> chance of an instance id ({} = off)
    building_parts: bool = False  # doors, steps and facade pieces (bays, pilasters) as objects of their own
    benches: tuple[int, int] = (0, 0)
    bollard_rows: tuple[int, int] = (0, 0)
    fence_segments: tuple[int, int] = (0, 0)  # free-standing railings and site fences on the sidewalks
    sidewalk_bushes: tuple[int, int] = (0, 0)
    other_objects: tuple[int, int] = (0, 0)  # hydrants, utility boxes, traffic cones
    # chance that a property-line fence or wall has a hedge grown against its back (touching it, seen through a
    # mesh, often overtopping it), as on real streets; 0 keeps the yard 1 m behind (and the old random stream)
    fence_overgrowth_prob: float = 0.0
    # chance per side that the terrain past the sidewalk (a verge or a ditch in front of the property line) lies
    # `verge_drop` metres below the sidewalk, so the fences and walls there stand with their feet below it, often
    # out of sight, as on real streets; 0 keeps that terrain level with the sidewalk (and the old random stream)
    verge_drop_prob: float = 0.0
    verge_drop: tuple[float, float] = (0.1, 0.35)
    # chance that a property-line fence is a sparse mesh (70-95% of beams pass) on a solid plinth 0.15-0.45 m
    # high, so it is seen mostly at its foot, as the real dev fences are (half their points 0.1-0.4 m above the
    # sidewalk); 0 keeps the old fences (and the old random stream)
    fence_plinth_prob: float = 0.0
    # chance that a property-line fence is a low solid edging `low_fence_height` metres high (a garden border or a
    # kerb fence, often with a hedge behind it: `fence_overgrowth_prob`), as some real dev fences are (30-35 cm);
    # 0 keeps the old fences (and the old random stream)
    low_fence_prob: float = 0.0
    low_fence_height: tuple[float, float] = (0.25, 0.6)
    # metres from the ground to where a tree's crown starts (its trunk's height up to the crown). On the real dev
    # frames the vegetation within 1 m of a trunk is mostly at its foot: 19% of the trunks have it mostly in the
    # crown (`scenes.statistics`, "trunks with crown in reach"); crowns from 1-3 m give 65% on the generated HDL-64E
    # scans, 2.5-4.5 m 17%. (1.0, 3.0) keeps the old trees and random stream
    tree_crown_base: tuple[float, float] = (1.0, 3.0)
    # Annotation, not geometry: chance that an object's point at the ground is labelled as the ground under it,
    # falling off as exp(-height / ground_label_bleed_height) (scenes.annotation_noise; 0 = exact labels)
    ground_label_bleed: float = 0.0
    ground_label_bleed_height: float = 0.04

    def __post_init__(self) -> None:
        unknown = set(self.target_mix) - set(classes.OUTDOOR_TARGET_GROUPS)
        if unknown:
            raise ValueError(
                f"OutdoorConfig.target_mix: unknown group(s) {sorted(unknown)}; "
                f"groups: {', '.join(classes.OUTDOOR_TARGET_GROUPS)}"
            )
        if not 0.0 <= self.ground_label_bleed <= 1.0 or not self.ground_label_bleed_height > 0.0:
            raise ValueError(
                "OutdoorConfig: ground_label_bleed must be in [0, 1] and ground_label_bleed_height > 0, got "
                f"{self.ground_label_bleed}, {self.ground_label_bleed_height}"
            )
        if not 0.0 <= self.fence_overgrowth_prob <= 1.0:
            raise ValueError(f"OutdoorConfig.fence_overgrowth_prob must be in [0, 1], got {self.fence_overgrowth_prob}")
        if not 0.0 <= self.fence_plinth_prob <= 1.0:
            raise ValueError(f"OutdoorConfig.fence_plinth_prob must be in [0, 1], got {self.fence_plinth_prob}")
        if not 0.0 <= self.low_fence_prob <= 1.0 or not 0.0 < self.low_fence_height[0] <= self.low_fence_height[1]:
            raise ValueError("OutdoorConfig: low_fence_prob must be in [0, 1] and low_fence_height a (lo, hi) range of "
                             f"heights > 0, got {self.low_fence_prob}, {self.low_fence_height}")  # fmt: skip
        if not 0.0 <= self.verge_drop_prob <= 1.0 or not 0.0 <= self.verge_drop[0] <= self.verge_drop[1]:
            raise ValueError("OutdoorConfig: verge_drop_prob must be in [0, 1] and verge_drop a (lo, hi) range of "
                             f"depths >= 0, got {self.verge_drop_prob}, {self.verge_drop}")  # fmt: skip
        if not 0.0 < self.tree_crown_base[0] <= self.tree_crown_base[1]:
            raise ValueError(f"OutdoorConfig.tree_crown_base must be a (lo, hi) range of heights > 0, got "
                             f"{self.tree_crown_base}")  # fmt: skip
        if any(not 0.0 <= float(p) <= 1.0 for p in self.target_mix.values()):
            raise ValueError(f"OutdoorConfig.target_mix: chances must be in [0, 1], got {self.target_mix}")


@dataclass
class GeneratedScene:
    """A scene, where its sensor stands, and the (semantic, instance) of each object placed in it."""

    scene: Scene
    pose: SensorPose
    objects: list[tuple[int, int]]


class _Builder:
    """Collects primitives, hands out instance ids and keeps footprints free of overlaps."""

    def __init__(self, rng: np.random.Generator, config: OutdoorConfig, ground: StreetGround) -> None:
        self.rng, self.config, self.ground = rng, config, ground
        self.prims: list[Primitive] = []
        self.objects: list[tuple[int, int]] = []
        self.floor = Footprints()
        self._next_id = 1
        # target draws come from a stream of their own, so the mix never changes the geometry
        self._targets = np.random.default_rng(int(rng.integers(1 << 62))) if config.target_mix else None

    def instance(self, semantic: int, group: str | None = None) -> int:
        """A new instance id if the object is a target, else 0.

        Targets are thing classes (or every class with stuff_instances), or with a target mix the
        objects of `group` (default: the class's group) with the mix's chance.
        """
        if self._targets is not None:
            chance = self.config.target_mix.get(group or classes.DEFAULT_GROUP.get(semantic, "other"), 0.0)
            if self._targets.random() >= chance:
                return 0
        elif semantic not in classes.SEMANTIC_KITTI_THINGS and not self.config.stuff_instances:
            return 0
        self._next_id += 1
        self.objects.append((semantic, self._next_id - 1))
        return self._next_id - 1

    def place(self, parts: list[Primitive], x: float, y: float, yaw: float, on_ground: bool = True) -> None:
        """Add parts built in an object frame (origin on the ground, x forward) at (x, y) with `yaw`."""
        z = float(self.ground.surface_height(x, y))
        rot = yaw_matrix(yaw)
        if on_ground:
            rot = tilt_to_normal(self.ground.normal(x, y)) @ rot
        origin = np.array([x, y, z])
        for part in parts:
            self.prims.append(
                Primitive(part.shape, origin + rot @ part.center, part.size, rot @ part.rotation, part.material)
            )

    def u(self, span: tuple[float, float]) -> float:
        """Uniform draw from a (lo, hi) range."""
        return float(self.rng.uniform(span[0], span[1]))

    def count(self, span: tuple[int, int]) -> int:
        """Integer draw from an inclusive (lo, hi) range."""
        return int(self.rng.integers(span[0], span[1] + 1))

    def part(self, semantic: int, group: str) -> int:
        """Instance id of an object that only a target mix makes a target (vegetation, fence stretches, parts)."""
        return self.instance(semantic, group) if self._targets is not None else 0

    def piece(self, wall: Material) -> int:
        """Instance id of a piece of a building: its own when the mix makes it a target, else the building's."""
        return self.part(classes.BUILDING, "building_part") or wall.instance

    def relabel(self, material: Material, group: str) -> Material:
        """`material` as a new object of `group` under a target mix (else unchanged); draws nothing from the scene."""
        if self._targets is None:
            return material
        return dataclasses.replace(material, instance=self.instance(material.semantic, group))


def _mat(rng: np.random.Generator, semantic: int, instance: int, remission: tuple[float, float], **kw) -> Material:
    """A material with a remission drawn from `remission` and a grey-ish colour derived from it."""
    rem = float(rng.uniform(*remission))
    grey = int(np.clip(60 + 300 * rem, 0, 255))
    return Material(semantic=semantic, instance=instance, remission=rem, color=(grey, grey, grey), **kw)


def generate_outdoor(
    rng: np.random.Generator, config: OutdoorConfig | None = None, sensor_height: float = 1.73
) -> GeneratedScene:
    """Draw one street scene and the pose of a roof-mounted LiDAR driving along it."""
    config = config or OutdoorConfig()
    ground = _sample_ground(rng, config)
    b = _Builder(rng, config, ground)
    lanes, sensor_y = _lanes(rng, ground)
    pose = _sensor_pose(b, sensor_y, sensor_height)
    for side in (1, -1):
        _frontage(b, side)
        _sidewalk_furniture(b, side)
        _parked_vehicles(b, side)
    _street_ends(b)
    _moving_traffic(b, lanes)
    _people(b, lanes)
    _street_objects(b)
    return GeneratedScene(Scene(b.prims, ground), pose, b.objects)


def _sample_ground(rng: np.random.Generator, config: OutdoorConfig) -> StreetGround:
    """The street cross-section and profile: widths, curbs, parking strips, slopes, lane marking."""
    cl, cr = rng.uniform(*config.road_half_width, size=2)
    park = [float(rng.uniform(2.0, 2.5)) if rng.random() < config.parking_prob else 0.0 for _ in range(2)]
    if cl + cr - park[0] - park[1] < 3.5:  # keep at least one lane to drive in
        park = [0.0, 0.0]
    drive_lo, drive_hi = -cr + park[1], cl - park[0]
    two_way = drive_hi - drive_lo >= 5.5
    ground = StreetGround(
        slope_x=float(rng.uniform(-config.max_grade, config.max_grade)),
        slope_y=float(rng.uniform(-config.max_cross_slope, config.max_cross_slope)),
        curve_x=float(rng.uniform(-config.max_curvature, config.max_curvature)),
        curve_y=float(-rng.uniform(0.0, 0.004)),  # camber: the crown drains to the gutters
        curb_left=float(cl),
        curb_right=float(cr),
        curb_height_left=float(rng.uniform(*config.curb_height)),
        curb_height_right=float(rng.uniform(*config.curb_height)),
        sidewalk_left=float(rng.uniform(*config.sidewalk_width)),
        sidewalk_right=float(rng.uniform(*config.sidewalk_width)),
        parking_left=park[0],
        parking_right=park[1],
        lane_marking_y=float((drive_lo + drive_hi) / 2) if two_way else None,
        remission_gain=float(rng.uniform(0.8, 1.25)),
        bumps=tuple(_bump(rng) for _ in range(4)),
    )
    if config.verge_drop_prob <= 0:
        return ground
    drops = [float(rng.uniform(*config.verge_drop)) if rng.random() < config.verge_drop_prob else 0.0 for _ in "lr"]
    return dataclasses.replace(ground, verge_drop_left=drops[0], verge_drop_right=drops[1])


def _bump(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """One sinusoidal ground undulation: wave vector (1.5 to 15 m wavelength), phase, amplitude."""
    k = 2 * np.pi / rng.uniform(1.5, 15.0)
    heading = rng.uniform(0, 2 * np.pi)
    return (
        float(k * np.cos(heading)),
        float(k * np.sin(heading)),
        float(rng.uniform(0, 2 * np.pi)),
        float(rng.uniform(0.003, 0.02)),
    )


def _lanes(rng: np.random.Generator, g: StreetGround) -> tuple[list[tuple[float, float]], float]:
    """Lane centres with driving direction (yaw), and the lateral position of the sensor's car."""
    lo, hi = -g.curb_right + g.parking_right, g.curb_left - g.parking_left
    if g.lane_marking_y is None:
        lanes = [((lo + hi) / 2, 0.0)]
    else:
        lanes = [((lo + g.lane_marking_y) / 2, 0.0), ((g.lane_marking_y + hi) / 2, np.pi)]
    return lanes, float(lanes[0][0] + rng.uniform(-0.3, 0.3))


def _sensor_pose(b: _Builder, sensor_y: float, height: float) -> SensorPose:
    """Pose of the roof LiDAR at x = 0, tilted with the road; also adds the ego car that shadows it."""
    g = b.ground
    rot = tilt_to_normal(g.normal(0.0, sensor_y)) @ yaw_matrix(float(b.rng.uniform(-0.08, 0.08)))
    position = np.array([0.0, sensor_y, float(g.height(0.0, sensor_y)) + height])
    ego = Material(semantic=classes.UNLABELED, recorded=False)
    # Sensor-frame bonnet/boot (0.8 m below the sensor) and roof (0.4 m below), fitted so that the beams
    # below about -19 degrees lose returns to the car as on the KITTI recordings.
    b.prims.append(box(position + rot @ np.array([0.1, 0.0, -1.15]), np.array([2.2, 0.9, 0.35]), ego, rot))
    b.prims.append(box(position + rot @ np.array([0.1, 0.0, -0.7]), np.array([1.0, 0.75, 0.3]), ego, rot))
    b.floor.claim_rect(0.0, sensor_y, 0.0, 14.0, 6.0)  # the ego car and the room it keeps around it
    return SensorPose(position=position, rotation=rot)


def _side_y(g: StreetGround, side: int, outward: float) -> float:
    """Lateral coordinate `outward` metres beyond the curb on side +1 (left) or -1 (right)."""
    return side * ((g.curb_left if side > 0 else g.curb_right) + outward)


def _walk_width(g: StreetGround, side: int) -> float:
    """Sidewalk width on a side."""
    return g.sidewalk_left if side > 0 else g.sidewalk_right


def _verge_drop(g: StreetGround, side: int) -> float:
    """How far the terrain past a side's sidewalk lies below it (0: level)."""
    return g.verge_drop_left if side > 0 else g.verge_drop_right


def _frontage(b: _Builder, side: int) -> None:
    """Segments along one side behind the sidewalk: buildings, hedges, fences with yards, open gaps."""
    cfg, rng = b.config, b.rng
    x = -cfg.half_length - rng.uniform(0, 10)
    gap_at = rng.uniform(-50, 50) if rng.random() < cfg.cross_street_prob else None
    while x < cfg.half_length:
        length = float(rng.uniform(6.0, 24.0))
        if gap_at is not None and x <= gap_at <= x + length:
            x, gap_at = gap_at + rng.uniform(8.0, 14.0), None  # cross street: nothing on that stretch
            continue
        setback = _walk_width(b.ground, side) + float(rng.exponential(2.0))
        kind = rng.random()
        if kind < cfg.building_share:
            _building(b, side, x, length, setback)
        elif kind < cfg.building_share + cfg.hedge_share:
            _hedge(b, side, x, length, setback)
        elif kind < cfg.building_share + cfg.hedge_share + cfg.woods_share:
            _woods(b, side, x, length, setback)
        else:
            if _verge_drop(b.ground, side) > 0:  # at the verge's top: the fence's foot below the sidewalk, hidden by it
                setback = _walk_width(b.ground, side) + float(rng.uniform(0.15, 0.8))
            back = _fence(b, side, x, length, setback)
            behind = _overgrowth(b, side, x, length, back) if cfg.fence_overgrowth_prob > 0 else 0.0
            _yard(b, side, x, length, setback + behind + 1.0)
        x += length + float(rng.choice([0.0, rng.uniform(0.5, 4.0)]))


def _building(b: _Builder, side: int, x0: float, length: float, setback: float) -> None:
    """A building block: main volume, sometimes a taller rear part and facade bays or balconies."""
    rng, g = b.rng, b.ground
    depth, height = float(rng.uniform(8, 16)), float(rng.uniform(3.5, 20.0))
    mat = _mat(rng, classes.BUILDING, b.instance(classes.BUILDING), (0.3, 0.55))
    y_face = _side_y(g, side, setback)
    yc = y_face + side * depth / 2
    z0 = float(g.surface_height(x0 + length / 2, y_face)) - 1.0  # foundations below the sloped ground
    b.prims.append(
        box(
            np.array([x0 + length / 2, yc, z0 + (height + 1.0) / 2]),
            np.array([length / 2, depth / 2, (height + 1.0) / 2]),
            mat,
        )
    )
    if rng.random() < 0.5:  # facade bays / balconies on upper floors
        for bx in np.arange(x0 + 2.0, x0 + length - 2.0, rng.uniform(3.0, 6.0)):
            bz = z0 + 1.0 + rng.uniform(2.5, max(2.6, height - 1.0))
            b.prims.append(
                box(
                    np.array([bx, y_face - side * 0.5, bz]),
                    np.array([rng.uniform(0.8, 1.6), 0.5, 0.1]),
                    dataclasses.replace(mat, instance=b.piece(mat)) if b.config.building_parts else mat,
                )
            )
    if b.config.building_parts:
        _building_parts(b, mat, side, x0, length, y_face)
    for _ in range(int(rng.integers(0, 3))):  # front-garden trees and shrubs
        _tree(b, x0 + rng.uniform(0, length), _side_y(g, side, setback - rng.uniform(0.5, 2.5)))
    for _ in range(int(rng.integers(0, 4))):
        _bush(b, x0 + rng.uniform(0, length), _side_y(g, side, setback - rng.uniform(0.3, 1.5)))
    for _ in range(int(rng.integers(0, 4))):  # tall trees in the back gardens, seen over low roofs
        _tree(b, x0 + rng.uniform(0, length), _side_y(g, side, setback + depth + rng.uniform(1.0, 8.0)))
    if rng.random() < 0.3:  # a shop canopy over the sidewalk
        b.prims.append(
            box(
                np.array([x0 + length / 2, y_face - side * 0.8, z0 + 1.0 + rng.uniform(2.4, 3.2)]),
                np.array([length / 2 * 0.8, 0.8, 0.05]),
                mat,
            )
        )


def _hedge(b: _Builder, side: int, x0: float, length: float, setback: float) -> None:
    """A hedge along the property line with trees behind it."""
    rng = b.rng
    h = float(rng.uniform(0.8, 2.5))
    w = float(rng.uniform(0.6, 1.5))
    mat = _mat(rng, classes.VEGETATION, b.part(classes.VEGETATION, "hedge"), (0.25, 0.4), pass_prob=0.1,
               scatter=0.15)  # fmt: skip
    y = _side_y(b.ground, side, setback + w / 2)
    b.place(
        [box(np.array([0.0, 0.0, h / 2]), np.array([length / 2, w / 2, h / 2 + 0.05]), mat)],
        x0 + length / 2,
        y,
        0.0,
        on_ground=False,
    )
    _yard(b, side, x0, length, setback + w + 1.0)


def _woods(b: _Builder, side: int, x0: float, length: float, setback: float) -> None:
    """A clump of trees with bushes under them (a park or an overgrown plot)."""
    rng = b.rng
    for _ in range(int(rng.integers(2, 3 + int(length / 4)))):
        _tree(b, x0 + rng.uniform(0, length), _side_y(b.ground, side, setback + rng.uniform(0.5, 10.0)))
    for _ in range(int(rng.integers(1, 3 + int(length / 4)))):
        _bush(b, x0 + rng.uniform(0, length), _side_y(b.ground, side, setback + rng.uniform(0.3, 8.0)))


def _fence(b: _Builder, side: int, x0: float, length: float, setback: float) -> float:
    """A fence (see-through mesh or solid boards, with `fence_plinth_prob` a sparse mesh on a solid plinth, with
    `low_fence_prob` a low solid edging) with posts, or a low wall, along the property line; returns the setback of
    its back face."""
    rng = b.rng
    y = _side_y(b.ground, side, setback)
    h = float(rng.uniform(0.8, 2.0))
    wall = rng.random() < 0.3
    sem = classes.OTHER_STRUCTURE if wall else classes.FENCE
    mat = _mat(rng, sem, 0, (0.2, 0.45), pass_prob=0.0 if wall else float(rng.choice([0.0, rng.uniform(0.3, 0.7)])))
    thick = 0.2 if wall else 0.03
    plinth = 0.0
    if not wall and b.config.low_fence_prob > 0 and rng.random() < b.config.low_fence_prob:
        h = float(rng.uniform(*b.config.low_fence_height))  # a low solid edging: boards seen whole, no plinth
        mat = dataclasses.replace(mat, pass_prob=0.0)
    elif not wall and b.config.fence_plinth_prob > 0 and rng.random() < b.config.fence_plinth_prob:
        plinth = float(rng.uniform(0.15, 0.45))  # a solid base under a sparse mesh
        mat = dataclasses.replace(mat, pass_prob=float(rng.uniform(0.7, 0.95)))
    for s in np.arange(x0, x0 + length, 8.0):
        seg = min(8.0, x0 + length - s)
        stretch = b.relabel(mat, "wall" if wall else "fence")  # each 8 m stretch is one object under a mix
        if plinth:  # the mesh above the base; the base is the same object, solid and a little thicker
            parts = [box(np.array([0.0, 0.0, (h + plinth) / 2]), np.array([seg / 2, thick, (h - plinth) / 2]), stretch),
                     box(np.array([0.0, 0.0, plinth / 2 - 0.1]), np.array([seg / 2, 0.06, plinth / 2 + 0.1]),
                         dataclasses.replace(stretch, pass_prob=0.0))]  # fmt: skip
        else:
            parts = [box(np.array([0.0, 0.0, h / 2 - 0.1]), np.array([seg / 2, thick, h / 2 + 0.1]), stretch)]
        b.place(parts, s + seg / 2, y, 0.0, on_ground=False)
        if not wall:  # the stretch's first post belongs to it
            post = dataclasses.replace(_mat(rng, classes.FENCE, 0, (0.2, 0.4)), instance=stretch.instance)
            b.place([cylinder(np.array([0.0, 0.0, h / 2]), 0.05, h / 2 + 0.05, post)], s, y, 0.0, on_ground=False)
    return setback + thick


def _overgrowth(b: _Builder, side: int, x0: float, length: float, back: float) -> float:
    """With chance `fence_overgrowth_prob`, a hedge grown against the back face (at setback `back`) of a fence or
    wall (2 cm behind it, over 40-100% of its length, 0.7-2.6 m high, so often over its top); returns the
    hedge's depth (0 when none was grown)."""
    rng = b.rng
    if rng.random() >= b.config.fence_overgrowth_prob:
        return 0.0
    cover = length * float(rng.uniform(0.4, 1.0))
    start = x0 + float(rng.uniform(0.0, length - cover))
    h, w = float(rng.uniform(0.7, 2.6)), float(rng.uniform(0.5, 1.5))
    mat = _mat(rng, classes.VEGETATION, b.part(classes.VEGETATION, "hedge"), (0.25, 0.4), pass_prob=0.1,
               scatter=0.15)  # fmt: skip
    y = _side_y(b.ground, side, back + 0.02 + w / 2)
    b.place([box(np.array([0.0, 0.0, h / 2]), np.array([cover / 2, w / 2, h / 2 + 0.05]), mat)], start + cover / 2,
            y, 0.0, on_ground=False)  # fmt: skip
    return w


def _yard(b: _Builder, side: int, x0: float, length: float, setback: float) -> None:
    """Trees and bushes in a yard, and a building further back."""
    rng = b.rng
    for _ in range(int(rng.integers(1, 5))):
        _tree(b, x0 + rng.uniform(0, length), _side_y(b.ground, side, setback + rng.uniform(1.0, 6.0)))
    for _ in range(int(rng.integers(0, 3))):
        _bush(b, x0 + rng.uniform(0, length), _side_y(b.ground, side, setback + rng.uniform(0.5, 4.0)))
    if rng.random() < 0.7:
        _building(b, side, x0 + 1.0, max(4.0, length - 2.0), setback + float(rng.uniform(5.0, 12.0)))


def _tree(b: _Builder, x: float, y: float) -> None:
    """A tree: trunk cylinder and one to three see-through, volumetric crown ellipsoids, the crown starting at
    `OutdoorConfig.tree_crown_base`."""
    rng = b.rng
    r = float(rng.uniform(0.12, 0.35))
    if not b.floor.claim_disc(x, y, r + 0.3):
        return
    trunk_h = b.u(b.config.tree_crown_base)
    crown_r = float(rng.uniform(1.8, 4.5))
    crown_h = float(rng.uniform(2.0, 5.0))
    trunk = _mat(rng, classes.TRUNK, b.instance(classes.TRUNK), (0.25, 0.38))
    leaves = _mat(rng, classes.VEGETATION, b.part(classes.VEGETATION, "canopy"), (0.25, 0.42), pass_prob=0.2,
                  scatter=0.3)  # fmt: skip
    top = trunk_h + crown_h * 0.6
    parts = [cylinder(np.array([0.0, 0.0, top / 2 - 0.1]), r, top / 2 + 0.1, trunk)]
    for _ in range(int(rng.integers(1, 4))):
        off = rng.normal(0.0, 0.35 * crown_r, 2)
        semi = np.array([crown_r, crown_r, crown_h]) * rng.uniform(0.7, 1.1, 3)
        parts.append(ellipsoid(np.array([off[0], off[1], trunk_h + semi[2] * 0.9]), semi, leaves))
    b.place(parts, x, y, float(rng.uniform(0, 2 * np.pi)), on_ground=False)


def _bush(b: _Builder, x: float, y: float) -> None:
    """A low volumetric bush."""
    rng = b.rng
    r = float(rng.uniform(0.4, 1.4))
    if not b.floor.claim_disc(x, y, r):
        return
    mat = _mat(rng, classes.VEGETATION, b.part(classes.VEGETATION, "bush"), (0.25, 0.42), pass_prob=0.1,
               scatter=0.15)  # fmt: skip
    h = r * float(rng.uniform(0.5, 0.9))
    b.place(
        [ellipsoid(np.array([0.0, 0.0, h * 0.7]), np.array([r, r * rng.uniform(0.6, 1.0), h]), mat)],
        x,
        y,
        float(rng.uniform(0, np.pi)),
        on_ground=False,
    )


def _pitch(angle: float) -> np.ndarray:
    """Rotation by `angle` radians about +y (tilts an object's +z towards +x for positive angles)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _wheels(
    rng: np.random.Generator, xs: list[float], half_track: float, radius: float, mat: Material
) -> list[Primitive]:
    """Pairs of wheels (cylinders with lateral axles) at the given axle positions."""
    rot = align_z(_LATERAL)
    return [cylinder(np.array([x, s * half_track, radius]), radius, 0.11, mat, rot) for x in xs for s in (-1, 1)]


def car_parts(rng: np.random.Generator, semantic: int, instance: int) -> tuple[list[Primitive], float, float]:
    """A passenger car: lower body, glass cabin and four wheels; returns (parts, length, width)."""
    length, width, height = rng.uniform(3.7, 4.9), rng.uniform(1.65, 1.9), rng.uniform(1.38, 1.6)
    body = _mat(rng, semantic, instance, (0.06, 0.3))
    glass = _mat(rng, semantic, instance, (0.05, 0.2), pass_prob=float(rng.uniform(0.2, 0.5)))
    tyre = _mat(rng, semantic, instance, (0.03, 0.1))
    clear, belt, r_wheel = rng.uniform(0.15, 0.22), rng.uniform(0.82, 0.98), rng.uniform(0.29, 0.34)
    cab_len = rng.uniform(0.45, 0.6) * length
    cab_x = rng.uniform(-0.15, 0.0) * length
    parts = [
        box(np.array([0.0, 0.0, (clear + belt) / 2]), np.array([length / 2, width / 2, (belt - clear) / 2]), body),
        box(
            np.array([cab_x, 0.0, (belt + height) / 2]),
            np.array([cab_len / 2, width / 2 - 0.08, (height - belt) / 2]),
            glass,
        ),
    ]
    axle = length / 2 - rng.uniform(0.7, 0.9)
    return parts + _wheels(rng, [-axle, axle], width / 2 - 0.12, r_wheel, tyre), length, width


def van_parts(rng: np.random.Generator, semantic: int, instance: int) -> tuple[list[Primitive], float, float]:
    """A van: tall box body with a short bonnet, and four wheels."""
    length, width, height = rng.uniform(4.6, 5.9), rng.uniform(1.9, 2.05), rng.uniform(1.9, 2.6)
    body = _mat(rng, semantic, instance, (0.1, 0.4))
    tyre = _mat(rng, semantic, instance, (0.03, 0.1))
    clear, bonnet = 0.22, rng.uniform(0.5, 0.9)
    parts = [
        box(
            np.array([-bonnet / 2, 0.0, (clear + height) / 2]),
            np.array([(length - bonnet) / 2, width / 2, (height - clear) / 2]),
            body,
        ),
        box(
            np.array([length / 2 - bonnet / 2, 0.0, (clear + 1.05) / 2]),
            np.array([bonnet / 2, width / 2 - 0.05, (1.05 - clear) / 2]),
            body,
        ),
    ]
    axle = length / 2 - 0.85
    return parts + _wheels(rng, [-axle, axle], width / 2 - 0.15, 0.34, tyre), length, width


def truck_parts(rng: np.random.Generator, semantic: int, instance: int) -> tuple[list[Primitive], float, float]:
    """A truck: cab, cargo box and two or three axles."""
    cargo_len, width = rng.uniform(4.5, 8.0), rng.uniform(2.3, 2.55)
    cab_len, cab_h, cargo_h = 2.2, rng.uniform(2.7, 3.2), rng.uniform(3.0, 3.8)
    length = cab_len + 0.3 + cargo_len
    body = _mat(rng, semantic, instance, (0.15, 0.5))
    tyre = _mat(rng, semantic, instance, (0.03, 0.1))
    front = length / 2
    parts = [
        box(
            np.array([front - cab_len / 2, 0.0, 0.45 + (cab_h - 0.45) / 2]),
            np.array([cab_len / 2, width / 2 - 0.05, (cab_h - 0.45) / 2]),
            body,
        ),
        box(
            np.array([-length / 2 + cargo_len / 2, 0.0, 0.9 + (cargo_h - 0.9) / 2]),
            np.array([cargo_len / 2, width / 2, (cargo_h - 0.9) / 2]),
            body,
        ),
    ]
    axles = [front - 1.3, -length / 2 + 1.2] + ([-length / 2 + 2.6] if cargo_len > 6 else [])
    return parts + _wheels(rng, axles, width / 2 - 0.25, 0.5, tyre), length, width


def person_parts(rng: np.random.Generator, semantic: int, instance: int, walking: bool) -> list[Primitive]:
    """A pedestrian facing +x: legs (apart when walking), arms, torso and head."""
    h = rng.uniform(1.5, 1.95)
    skin = _mat(rng, semantic, instance, (0.15, 0.45))
    leg = 0.47 * h
    swing = rng.uniform(0.15, 0.35) if walking else rng.uniform(0.0, 0.05)
    parts = []
    for s, sign in ((-1, 1), (1, -1)):
        parts.append(cylinder(np.array([0.0, s * 0.1, leg / 2]), 0.075, leg / 2, skin, _pitch(sign * swing)))
        parts.append(cylinder(np.array([0.0, s * 0.23, 0.63 * h]), 0.045, 0.15 * h, skin, _pitch(-sign * swing)))
    parts.append(ellipsoid(np.array([0.0, 0.0, 0.66 * h]), np.array([0.13, 0.2, 0.19 * h]), skin))
    parts.append(ellipsoid(np.array([0.0, 0.0, 0.93 * h]), np.array([0.1, 0.085, 0.12]), skin))
    return parts


def cyclist_parts(rng: np.random.Generator, semantic: int, instance: int, rider: bool = True) -> list[Primitive]:
    """A bicycle (spoked wheels, frame) facing +x, with its rider leaning forward when `rider`."""
    mat = _mat(rng, semantic, instance, (0.1, 0.4))
    spokes = _mat(rng, semantic, instance, (0.05, 0.2), pass_prob=0.45)
    wheel_r = rng.uniform(0.3, 0.36)
    axle = align_z(_LATERAL)
    parts = [cylinder(np.array([s * 0.53, 0.0, wheel_r]), wheel_r, 0.025, spokes, axle) for s in (-1, 1)]
    parts.append(box(np.array([0.0, 0.0, 0.6]), np.array([0.45, 0.03, 0.03]), mat, _pitch(0.35)))
    parts.append(box(np.array([0.45, 0.0, 0.85]), np.array([0.03, 0.28, 0.03]), mat))  # handlebar
    if rider:
        lean = rng.uniform(0.3, 0.8)
        parts.append(ellipsoid(np.array([0.0, 0.0, 1.25]), np.array([0.13, 0.2, 0.32]), mat, _pitch(lean)))
        parts.append(ellipsoid(np.array([0.12 + 0.3 * lean, 0.0, 1.6]), np.array([0.1, 0.09, 0.12]), mat))
        for s in (-1, 1):
            parts.append(cylinder(np.array([-0.05, s * 0.13, 0.65]), 0.07, 0.32, mat, _pitch(0.25 * s)))
            parts.append(cylinder(np.array([0.3, s * 0.22, 1.15]), 0.045, 0.28, mat, _pitch(-0.8)))
    return parts


def _sidewalk_furniture(b: _Builder, side: int) -> None:
    """Trees along the curb, lamp poles, traffic signs and bins on one sidewalk."""
    cfg, rng, g = b.config, b.rng, b.ground
    walk = _walk_width(g, side)
    if rng.random() < 0.9:
        x = -cfg.half_length + rng.uniform(0, 10)
        while x < cfg.half_length:
            _tree(b, x, _side_y(g, side, rng.uniform(0.6, min(1.5, walk))))
            x += b.u(cfg.tree_spacing)
    x = -cfg.half_length + rng.uniform(0, 20)
    while x < cfg.half_length:
        _lamp_pole(b, x, _side_y(g, side, 0.4), side)
        x += b.u(cfg.pole_spacing)
    for _ in range(b.count(cfg.signs) // 2 + int(rng.random() < 0.5)):
        _sign(b, rng.uniform(-cfg.half_length * 0.7, cfg.half_length * 0.7), _side_y(g, side, 0.5))
    for _ in range(b.count(cfg.bins) // 2):
        x, y = rng.uniform(-50, 50), _side_y(g, side, rng.uniform(0.5, walk))
        if b.floor.claim_disc(x, y, 0.4):
            mat = _mat(rng, classes.OTHER_OBJECT, b.instance(classes.OTHER_OBJECT, "bin"), (0.1, 0.5))
            b.place([cylinder(np.array([0.0, 0.0, 0.5]), 0.3, 0.5, mat)], x, y, 0.0, on_ground=False)


def _lamp_pole(b: _Builder, x: float, y: float, side: int) -> None:
    """A street lamp: pole, arm reaching over the road, lamp head."""
    rng = b.rng
    if not b.floor.claim_disc(x, y, 0.3):
        return
    h, r, arm = rng.uniform(5.0, 9.0), rng.uniform(0.07, 0.15), rng.uniform(0.5, 2.0)
    mat = _mat(rng, classes.POLE, b.instance(classes.POLE), (0.12, 0.3))
    parts = [
        cylinder(np.array([0.0, 0.0, h / 2 - 0.1]), r, h / 2 + 0.1, mat),
        box(np.array([arm / 2, 0.0, h - 0.15]), np.array([arm / 2, 0.04, 0.04]), mat),
        box(np.array([arm, 0.0, h - 0.3]), np.array([0.3, 0.15, 0.08]), mat),
    ]
    b.place(parts, x, y, -side * np.pi / 2, on_ground=False)


def _sign(b: _Builder, x: float, y: float) -> None:
    """A traffic sign: thin pole and a retro-reflective plate or disc facing the traffic."""
    rng = b.rng
    if not b.floor.claim_disc(x, y, 0.4):
        return
    h = rng.uniform(2.0, 3.0)
    pole = _mat(rng, classes.POLE, b.instance(classes.POLE), (0.15, 0.3))
    plate = _mat(rng, classes.TRAFFIC_SIGN, b.instance(classes.TRAFFIC_SIGN), (0.7, 0.95))
    size = rng.uniform(0.3, 0.45)
    if rng.random() < 0.5:
        board = cylinder(np.array([0.06, 0.0, h + size]), size, 0.015, plate, align_z(np.array([1.0, 0.0, 0.0])))
    else:
        board = box(np.array([0.06, 0.0, h + size]), np.array([0.015, size, size * rng.uniform(0.7, 1.3)]), plate)
    parts = [cylinder(np.array([0.0, 0.0, (h + size) / 2]), 0.04, (h + size) / 2, pole), board]
    b.place(parts, x, y, float(rng.choice([0.0, np.pi])) + rng.normal(0, 0.2), on_ground=False)


def _vehicle(b: _Builder, moving: bool) -> tuple[list[Primitive], float, float]:
    """Parts of a car, van or truck with its SemanticKITTI label (moving variants when `moving`)."""
    cfg, rng = b.config, b.rng
    draw = rng.random()
    if draw < cfg.truck_share:
        sem, build = (classes.MOVING_TRUCK if moving else classes.TRUCK), truck_parts
    elif draw < cfg.truck_share + cfg.van_share:
        sem, build = (classes.MOVING_OTHER_VEHICLE if moving else classes.OTHER_VEHICLE), van_parts
    else:
        sem, build = (classes.MOVING_CAR if moving else classes.CAR), car_parts
    return build(rng, sem, b.instance(sem))


def _parked_vehicles(b: _Builder, side: int) -> None:
    """A row of parked vehicles in the side's parking strip (or sparsely at the curb without one).

    With `angled_parking_prob` a row parks perpendicular or at 60 or 45 degrees to the curb,
    reaching into the road, so vehicles are seen nose-on and side by side as in parking bays.
    """
    cfg, rng, g = b.config, b.rng, b.ground
    strip = g.parking_left if side > 0 else g.parking_right
    fill = b.u(cfg.parked_fill) if strip > 0 else (rng.uniform(0.05, 0.35) if rng.random() < 0.4 else 0.0)
    angled = cfg.angled_parking_prob > 0 and rng.random() < cfg.angled_parking_prob
    angle = float(rng.choice([np.pi / 2, np.pi / 3, np.pi / 4])) if angled else 0.0
    y_mid = _side_y(g, side, -(strip / 2 if strip > 0 else 1.0))
    x = -cfg.half_length + rng.uniform(0, 6)
    while x < cfg.half_length:
        if rng.random() >= fill:
            x += rng.uniform(3.0, 6.0)
            continue
        saved = len(b.objects)
        parts, length, width = _vehicle(b, moving=False)
        if angled:
            yaw = float(side * angle + rng.choice([0.0, np.pi]) + rng.normal(0, 0.05))
            along = length * abs(np.cos(angle)) + width * np.sin(angle)
            across = length * np.sin(angle) + width * abs(np.cos(angle))
            xc, yc = x + along / 2, _side_y(g, side, -across / 2 - rng.uniform(0.0, 0.3))
        else:
            yaw = float(rng.choice([0.0, np.pi]) + rng.normal(0, 0.03))
            along = length
            xc, yc = x + length / 2, y_mid + rng.normal(0, 0.12)
        if b.floor.claim_rect(xc, yc, yaw, length, width):
            b.place(parts, xc, yc, yaw)
        else:
            del b.objects[saved:]
        x += along + rng.uniform(0.4, 2.5)


def _street_ends(b: _Builder) -> None:
    """Close some street ends with a building row across the road (a T-junction)."""
    rng, g = b.rng, b.ground
    for end in (1, -1):
        if rng.random() >= b.config.closed_end_prob:
            continue
        x = end * rng.uniform(45.0, b.config.half_length)
        depth, height = rng.uniform(8, 16), rng.uniform(4.0, 20.0)
        half_w = g.curb_left + g.curb_right + 2 * max(g.sidewalk_left, g.sidewalk_right) + 20.0
        mat = _mat(rng, classes.BUILDING, b.instance(classes.BUILDING), (0.3, 0.55))
        z0 = float(g.height(x, 0.0)) - 1.0
        b.prims.append(
            box(
                np.array([x + end * depth / 2, 0.0, z0 + (height + 1) / 2]),
                np.array([depth / 2, half_w, (height + 1) / 2]),
                mat,
            )
        )


def _moving_traffic(b: _Builder, lanes: list[tuple[float, float]]) -> None:
    """Vehicles driving in the lanes, not overlapping the ego car or each other."""
    rng = b.rng
    for _ in range(b.count(b.config.moving_vehicles)):
        lane_y, lane_yaw = lanes[int(rng.integers(len(lanes)))]
        saved = len(b.objects)
        parts, length, width = _vehicle(b, moving=True)
        x, y, yaw = rng.uniform(-60, 60), lane_y + rng.normal(0, 0.2), lane_yaw + rng.normal(0, 0.02)
        if b.floor.claim_rect(x, y, yaw, length + 2.0, width + 0.4):
            b.place(parts, x, y, yaw)
        else:
            del b.objects[saved:]


def _people(b: _Builder, lanes: list[tuple[float, float]]) -> None:
    """Pedestrians on the sidewalks (a few crossing), cyclists in the lanes, parked bicycles."""
    cfg, rng, g = b.config, b.rng, b.ground
    for _ in range(b.count(cfg.pedestrians)):
        walking = rng.random() < 0.6
        side = int(rng.choice([-1, 1]))
        x = rng.uniform(-45, 45)
        y = (
            _side_y(g, side, rng.uniform(0.3, _walk_width(g, side)))
            if rng.random() < 0.85
            else rng.uniform(-g.curb_right, g.curb_left)
        )
        _add_person(b, x, y, float(rng.uniform(0, 2 * np.pi)), walking)
    for _ in range(b.count(cfg.cyclists)):
        lane_y, lane_yaw = lanes[int(rng.integers(len(lanes)))]
        moving = rng.random() < 0.8
        sem = classes.MOVING_BICYCLIST if moving else classes.BICYCLIST
        x, y = rng.uniform(-45, 45), lane_y + rng.uniform(-1.2, 1.2)
        if b.floor.claim_rect(x, y, lane_yaw, 1.8, 0.8):
            b.place(cyclist_parts(rng, sem, b.instance(sem)), x, y, lane_yaw + rng.normal(0, 0.1))
    for _ in range(b.count(cfg.parked_bicycles)):
        side = int(rng.choice([-1, 1]))
        x, y = rng.uniform(-40, 40), _side_y(g, side, rng.uniform(0.3, _walk_width(g, side)))
        yaw = float(rng.uniform(0, 2 * np.pi))
        if b.floor.claim_rect(x, y, yaw, 1.8, 0.8):
            b.place(
                cyclist_parts(rng, classes.BICYCLE, b.instance(classes.BICYCLE), rider=False),
                x,
                y,
                yaw,
                on_ground=False,
            )


def _add_person(b: _Builder, x: float, y: float, yaw: float, walking: bool) -> None:
    """Place one pedestrian if the spot is free."""
    if not b.floor.claim_disc(x, y, 0.4):
        return
    sem = classes.MOVING_PERSON if walking else classes.PERSON
    b.place(person_parts(b.rng, sem, b.instance(sem), walking), x, y, yaw, on_ground=False)


def _building_parts(b: _Builder, wall: Material, side: int, x0: float, length: float, y_face: float) -> None:
    """Doors (some up a flight of steps) and pilasters on a facade: building_part targets, else part of the building."""
    rng, g = b.rng, b.ground
    out = -side  # from the facade towards the road
    for _ in range(int(rng.integers(1, 2 + int(length // 8)))):
        x = float(rng.uniform(x0 + 1.2, max(x0 + 1.3, x0 + length - 1.2)))
        z = float(g.surface_height(x, y_face + out * 0.5))
        width, height, proud = rng.uniform(0.9, 2.0), rng.uniform(2.1, 2.6), rng.uniform(0.06, 0.14)
        steps = int(rng.integers(0, 4)) if rng.random() < 0.5 else 0
        rise, tread = rng.uniform(0.13, 0.18), rng.uniform(0.28, 0.35)
        door = _mat(rng, classes.BUILDING, b.piece(wall), (0.08, 0.45))
        bottom = z + steps * rise
        b.prims.append(
            box(
                np.array([x, y_face + out * proud / 2, bottom + height / 2]),
                np.array([width / 2, proud / 2, height / 2]),
                door,
            )
        )
        if steps:
            flight = dataclasses.replace(wall, instance=b.piece(wall))
            for k in range(steps):  # step k reaches (steps - k) treads out and (k + 1) rises up
                reach = (steps - k) * tread
                b.prims.append(
                    box(
                        np.array([x, y_face + out * reach / 2, z - 0.1 + (k + 1) * rise / 2 + 0.05]),
                        np.array([width / 2 + 0.2, reach / 2, (k + 1) * rise / 2 + 0.05]),
                        flight,
                    )
                )
    if rng.random() < 0.4:  # pilasters: flat columns proud of the facade
        top = float(rng.uniform(2.5, 6.0))
        for x in np.arange(x0 + 0.5, x0 + length - 0.3, rng.uniform(3.0, 6.0)):
            z = float(g.surface_height(x, y_face + out * 0.5)) - 0.2
            half = np.array([rng.uniform(0.15, 0.35), rng.uniform(0.08, 0.25), (top + 0.2) / 2])
            b.prims.append(
                box(
                    np.array([x, y_face + out * half[1], z + half[2]]),
                    half,
                    dataclasses.replace(wall, instance=b.piece(wall)),
                )
            )


def _optional(b: _Builder, span: tuple[int, int]) -> int:
    """A count from an inclusive range; (0, 0) draws nothing, so scenes without the object keep their stream."""
    return b.count(span) if span[1] > 0 else 0


def _street_objects(b: _Builder) -> None:
    """Benches, bollard rows, free-standing fence segments, sidewalk bushes and other objects (counts per street)."""
    cfg, rng, g = b.config, b.rng, b.ground
    for _ in range(_optional(b, cfg.sidewalk_bushes)):
        side = int(rng.choice([-1, 1]))
        _bush(b, rng.uniform(-60, 60), _side_y(g, side, rng.uniform(0.8, max(0.9, _walk_width(g, side)))))
    for _ in range(_optional(b, cfg.benches)):
        _bench(b, int(rng.choice([-1, 1])))
    for _ in range(_optional(b, cfg.bollard_rows)):
        _bollards(b, int(rng.choice([-1, 1])))
    for _ in range(_optional(b, cfg.fence_segments)):
        _fence_segment(b, int(rng.choice([-1, 1])))
    for _ in range(_optional(b, cfg.other_objects)):
        _other_object(b, int(rng.choice([-1, 1])))


def _sidewalk_spot(
    b: _Builder, side: int, outward: tuple[float, float], length: float, width: float, tries: int = 8
) -> tuple[float, float] | None:
    """A free spot within 50 m along the street, `outward` metres beyond the curb, for a length x width object."""
    for _ in range(tries):
        x, y = float(b.rng.uniform(-50, 50)), _side_y(b.ground, side, b.rng.uniform(*outward))
        if b.floor.claim_rect(x, y, 0.0, length, width):
            return x, y
    return None


def _bench(b: _Builder, side: int) -> None:
    """A park bench on the sidewalk facing the road: seat, tilted backrest, two leg slabs."""
    rng, g = b.rng, b.ground
    length, depth, seat = rng.uniform(1.2, 2.0), rng.uniform(0.4, 0.55), rng.uniform(0.42, 0.48)
    spot = _sidewalk_spot(b, side, (0.6, max(0.7, _walk_width(g, side) - 0.3)), length, depth + 0.3)
    if spot is None:
        return
    x, y = spot
    mat = _mat(rng, classes.OTHER_OBJECT, b.instance(classes.OTHER_OBJECT, "bench"), (0.15, 0.45))
    parts = [
        box(np.array([0.0, 0.0, seat]), np.array([depth / 2, length / 2, 0.03]), mat),
        box(np.array([-depth / 2, 0.0, seat + 0.25]), np.array([0.03, length / 2, 0.2]), mat, _pitch(-0.2)),
    ]
    parts += [
        box(np.array([0.0, s * (length / 2 - 0.12), seat / 2]), np.array([depth / 2 - 0.03, 0.03, seat / 2]), mat)
        for s in (-1, 1)
    ]
    b.place(parts, x, y, -side * np.pi / 2, on_ground=False)


def _bollards(b: _Builder, side: int) -> None:
    """A row of bollards along the curb, each its own object."""
    rng, g = b.rng, b.ground
    x, gap = float(rng.uniform(-50, 40)), float(rng.uniform(1.2, 2.2))
    radius, height = float(rng.uniform(0.05, 0.11)), float(rng.uniform(0.7, 1.1))
    y = _side_y(g, side, rng.uniform(0.25, 0.5))
    for k in range(int(rng.integers(3, 9))):
        if b.floor.claim_disc(x + k * gap, y, radius + 0.1):
            mat = _mat(rng, classes.OTHER_OBJECT, b.instance(classes.OTHER_OBJECT, "bollard"), (0.2, 0.6))
            parts = [
                cylinder(np.array([0.0, 0.0, height / 2]), radius, height / 2, mat),
                ellipsoid(np.array([0.0, 0.0, height]), np.array([radius, radius, radius * 0.6]), mat),
            ]
            b.place(parts, x + k * gap, y, 0.0, on_ground=False)


def _fence_segment(b: _Builder, side: int) -> None:
    """A free-standing railing at the curb or a site fence on the sidewalk: mesh or bars with posts, one object."""
    rng, g = b.rng, b.ground
    length, height = float(rng.uniform(2.0, 8.0)), float(rng.uniform(0.9, 2.0))
    outward = (0.2, 0.4) if rng.random() < 0.5 else (max(0.3, _walk_width(g, side) - 0.4),) * 2
    spot = _sidewalk_spot(b, side, outward, length, 0.3)
    if spot is None:
        return
    x, y = spot
    instance = b.instance(classes.FENCE, "fence")
    mesh = _mat(rng, classes.FENCE, instance, (0.15, 0.45), pass_prob=float(rng.uniform(0.2, 0.7)))
    post = _mat(rng, classes.FENCE, instance, (0.15, 0.4))
    parts = [box(np.array([0.0, 0.0, height / 2 + 0.05]), np.array([length / 2, 0.02, height / 2 - 0.05]), mesh)]
    for px in np.linspace(-length / 2, length / 2, max(2, int(round(length / 2.5)) + 1)):
        parts.append(cylinder(np.array([px, 0.0, height / 2 + 0.02]), 0.04, height / 2 + 0.02, post))
    b.place(parts, x, y, float(rng.normal(0, 0.03)), on_ground=False)


def _other_object(b: _Builder, side: int) -> None:
    """A fire hydrant, a utility box or a traffic cone on the sidewalk (cones also at the road edge)."""
    rng, g = b.rng, b.ground
    kind = int(rng.integers(3))
    spot = _sidewalk_spot(b, side, (-0.8, 0.0) if kind == 2 else (0.3, max(0.4, _walk_width(g, side))), 0.9, 0.9)
    if spot is None:
        return
    x, y = spot
    mat = _mat(rng, classes.OTHER_OBJECT, b.instance(classes.OTHER_OBJECT, "other"), (0.2, 0.7))
    if kind == 0:  # hydrant: body, cap, two side nozzles
        h = float(rng.uniform(0.6, 0.9))
        parts = [
            cylinder(np.array([0.0, 0.0, h / 2]), 0.12, h / 2, mat),
            ellipsoid(np.array([0.0, 0.0, h]), np.array([0.13, 0.13, 0.1]), mat),
        ]
        parts += [cylinder(np.array([0.0, s * 0.15, h * 0.65]), 0.05, 0.06, mat, align_z(_LATERAL)) for s in (-1, 1)]
    elif kind == 1:  # utility cabinet
        half = np.array([rng.uniform(0.2, 0.35), rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.8)])
        parts = [box(np.array([0.0, 0.0, half[2]]), half, mat)]
    else:  # traffic cone as stacked discs over a square foot
        parts = [box(np.array([0.0, 0.0, 0.02]), np.array([0.2, 0.2, 0.02]), mat)]
        parts += [cylinder(np.array([0.0, 0.0, 0.04 + 0.1 * k + 0.05]), 0.15 - 0.035 * k, 0.05, mat) for k in range(4)]
    b.place(parts, x, y, float(rng.uniform(0, 2 * np.pi)), on_ground=False)
