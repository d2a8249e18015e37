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
NYU_CEILING = 22
NYU_BOX = 29
NYU_OTHER_FURNITURE = 39

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
    NYU_CEILING: "ceiling",
    NYU_BOX: "box",
    NYU_OTHER_FURNITURE: "otherfurniture",
}

# Indoor "things": furniture and boxes; walls, floor, ceiling and doors are background.
NYU40_THINGS: frozenset[int] = frozenset(
    {NYU_CABINET, NYU_CHAIR, NYU_SOFA, NYU_TABLE, NYU_BOOKSHELF, NYU_DESK, NYU_BOX, NYU_OTHER_FURNITURE}
)
