"""Semantic class ids the generated scenes use: SemanticKITTI ids outdoors, NYU40 (ScanNet) ids indoors.

Ids are the datasets' own raw ids, so readers and evaluation code written for the real data
load generated scans unchanged.
"""

from __future__ import annotations

# SemanticKITTI raw label ids (semantic-kitti.yaml, "labels").
UNLABELED = 0
CAR = 10
BICYCLE = 11
MOTORCYCLE = 15
TRUCK = 18
OTHER_VEHICLE = 20
PERSON = 30
BICYCLIST = 31
ROAD = 40
PARKING = 44
SIDEWALK = 48
OTHER_GROUND = 49
BUILDING = 50
FENCE = 51
OTHER_STRUCTURE = 52
LANE_MARKING = 60
VEGETATION = 70
TRUNK = 71
TERRAIN = 72
POLE = 80
TRAFFIC_SIGN = 81
OTHER_OBJECT = 99
MOVING_CAR = 252
MOVING_BICYCLIST = 253
MOVING_PERSON = 254
MOVING_TRUCK = 258
MOVING_OTHER_VEHICLE = 259

SEMANTIC_KITTI_NAMES: dict[int, str] = {
    UNLABELED: "unlabeled",
    CAR: "car",
    BICYCLE: "bicycle",
    MOTORCYCLE: "motorcycle",
    TRUCK: "truck",
    OTHER_VEHICLE: "other-vehicle",
    PERSON: "person",
    BICYCLIST: "bicyclist",
    ROAD: "road",
    PARKING: "parking",
    SIDEWALK: "sidewalk",
    OTHER_GROUND: "other-ground",
    BUILDING: "building",
    FENCE: "fence",
    OTHER_STRUCTURE: "other-structure",
    LANE_MARKING: "lane-marking",
    VEGETATION: "vegetation",
    TRUNK: "trunk",
    TERRAIN: "terrain",
    POLE: "pole",
    TRAFFIC_SIGN: "traffic-sign",
    OTHER_OBJECT: "other-object",
    MOVING_CAR: "moving-car",
    MOVING_BICYCLIST: "moving-bicyclist",
    MOVING_PERSON: "moving-person",
    MOVING_TRUCK: "moving-truck",
    MOVING_OTHER_VEHICLE: "moving-other-vehicle",
}

# SemanticKITTI "things": the classes whose points carry instance ids in the real labels.
SEMANTIC_KITTI_THINGS: frozenset[int] = frozenset(
    {CAR, BICYCLE, MOTORCYCLE, TRUCK, OTHER_VEHICLE, PERSON, BICYCLIST, 32}
    | {MOVING_CAR, MOVING_BICYCLIST, MOVING_PERSON, 255, 256, 257, MOVING_TRUCK, MOVING_OTHER_VEHICLE}
)

# SemanticKITTI's ground classes: what the generated street ground is labelled with.
SEMANTIC_KITTI_GROUND: frozenset[int] = frozenset({ROAD, PARKING, SIDEWALK, OTHER_GROUND, LANE_MARKING, TERRAIN})

# NYU40 ids as used by ScanNet (nyu40id column of scannetv2-labels.combined.tsv).
NYU_WALL = 1
NYU_FLOOR = 2
NYU_CABINET = 3
NYU_CHAIR = 5
NYU_SOFA = 6
NYU_TABLE = 7
NYU_DOOR = 8
NYU_BOOKSHELF = 10
NYU_DESK = 14
NYU_SHELVES = 15
NYU_PILLOW = 18
NYU_CEILING = 22
NYU_BOOKS = 23
NYU_TELEVISION = 25
NYU_BOX = 29
NYU_LAMP = 35
NYU_BAG = 37
NYU_OTHER_FURNITURE = 39  # ScanNet maps trash cans here
NYU_OTHER_PROP = 40  # small objects: cups, bottles, plant pots

NYU40_NAMES: dict[int, str] = {
    0: "unlabeled",
    NYU_WALL: "wall",
    NYU_FLOOR: "floor",
    NYU_CABINET: "cabinet",
    NYU_CHAIR: "chair",
    NYU_SOFA: "sofa",
    NYU_TABLE: "table",
    NYU_DOOR: "door",
    NYU_BOOKSHELF: "bookshelf",
    NYU_DESK: "desk",
    NYU_SHELVES: "shelves",
    NYU_PILLOW: "pillow",
    NYU_CEILING: "ceiling",
    NYU_BOOKS: "books",
    NYU_TELEVISION: "television",
    NYU_BOX: "box",
    NYU_LAMP: "lamp",
    NYU_BAG: "bag",
    NYU_OTHER_FURNITURE: "otherfurniture",
    NYU_OTHER_PROP: "otherprop",
}

# Indoor "things": furniture, boxes and clutter; walls, floor, ceiling and doors are background.
NYU40_THINGS: frozenset[int] = frozenset(
    {NYU_CABINET, NYU_CHAIR, NYU_SOFA, NYU_TABLE, NYU_BOOKSHELF, NYU_DESK, NYU_BOX, NYU_OTHER_FURNITURE}
    | {NYU_SHELVES, NYU_PILLOW, NYU_BOOKS, NYU_TELEVISION, NYU_LAMP, NYU_BAG, NYU_OTHER_PROP}
)

# Outdoor target groups: what an operator clicks, for OutdoorConfig.target_mix. Several groups share a
# SemanticKITTI class (bushes, hedges and canopies are vegetation; bins, benches and bollards other-object;
# doors, steps and facade pieces building), so the generator names the group where it places an object;
# this map gives the group of a class when nothing more specific is named.
OUTDOOR_TARGET_GROUPS = (
    "vehicle", "person", "cyclist", "pole", "sign", "trunk", "canopy", "bush", "hedge", "bin", "bench",
    "bollard", "fence", "wall", "building", "building_part", "other",
)  # fmt: skip
DEFAULT_GROUP: dict[int, str] = {
    **dict.fromkeys((CAR, TRUCK, OTHER_VEHICLE, MOTORCYCLE, MOVING_CAR, MOVING_TRUCK, MOVING_OTHER_VEHICLE),
                    "vehicle"),
    **dict.fromkeys((PERSON, MOVING_PERSON), "person"),
    **dict.fromkeys((BICYCLE, BICYCLIST, MOVING_BICYCLIST), "cyclist"),
    POLE: "pole",
    TRAFFIC_SIGN: "sign",
    TRUNK: "trunk",
    VEGETATION: "bush",
    FENCE: "fence",
    OTHER_STRUCTURE: "wall",
    BUILDING: "building",
    OTHER_OBJECT: "other",
}  # fmt: skip
