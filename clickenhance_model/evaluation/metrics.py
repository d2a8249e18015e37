"""Interactive segmentation metrics: IoU@k, NoC@τ and AP of the masks after k clicks.

Per object the protocol records the IoU after each click 1..K (K = max clicks; once the
mask is exact the IoU stays 1). IoU@k is the mean over objects of the IoU after k clicks;
NoC@τ the mean over objects of the first k whose IoU reaches τ, or K when none does.

AP treats the mask after k clicks as one instance prediction for its own object, as in
ScanNet's instance benchmark: per class, predictions are ranked by confidence, a
prediction is a true positive when its IoU reaches the threshold, and AP is the area
under the interpolated precision-recall curve; the class APs are averaged. AP averages
thresholds 0.50:0.95:0.05; AP50 and AP25 use one threshold. Segmenters give no mask
confidence here, so every mask ranks equal: the curve is a single point where precision
and recall both equal the hit rate q, and a class's AP is q**2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOC_THRESHOLDS = (0.80, 0.85, 0.90)
AP_THRESHOLDS = tuple(np.round(np.arange(0.50, 0.951, 0.05), 2))


def iou(prediction: np.ndarray, ground_truth: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    prediction = np.asarray(prediction, dtype=bool)
    ground_truth = np.asarray(ground_truth, dtype=bool)
    union = np.count_nonzero(prediction | ground_truth)
    return 1.0 if union == 0 else np.count_nonzero(prediction & ground_truth) / union


def number_of_clicks(ious: Sequence[float], threshold: float, max_clicks: int | None = None) -> int:
    """First click count k (1-based) whose IoU reaches `threshold`, else `max_clicks` (default len(ious))."""
    limit = len(ious) if max_clicks is None else max_clicks
    for k, value in enumerate(ious[:limit], start=1):
        if value >= threshold:
            return k
    return limit


def iou_curve(rows_ious: Sequence[Sequence[float]], max_clicks: int) -> np.ndarray:
    """Mean IoU after k = 1..max_clicks clicks over objects (short rows repeat their last IoU)."""
    if not rows_ious:
        return np.full(max_clicks, np.nan)
    table = np.array([pad_ious(r, max_clicks) for r in rows_ious])  # [objects, K]
    return table.mean(axis=0)


def pad_ious(ious: Sequence[float], max_clicks: int) -> list[float]:
    """IoUs cut or padded to `max_clicks` entries by repeating the last (0.0 when empty)."""
    values = list(ious[:max_clicks])
    last = values[-1] if values else 0.0
    return values + [last] * (max_clicks - len(values))


def average_precision(hits: np.ndarray, scores: np.ndarray | None = None) -> float:
    """AP of one class: one prediction per ground-truth object, `hits[i]` if it matched its object.

    Predictions with equal scores form one point of the precision-recall curve; AP sums
    recall steps times the interpolated (max-to-the-right) precision. NaN for no object.
    """
    hits = np.asarray(hits, dtype=bool)
    if len(hits) == 0:
        return float("nan")
    scores = np.ones(len(hits)) if scores is None else np.asarray(scores, dtype=np.float64)
    levels = np.unique(scores)[::-1]  # descending score thresholds
    precision, recall = [], []
    for level in levels:
        taken = scores >= level
        true_positives = np.count_nonzero(hits & taken)
        precision.append(true_positives / np.count_nonzero(taken))
        recall.append(true_positives / len(hits))
    precision = np.maximum.accumulate(np.array(precision)[::-1])[::-1]  # interpolate: best precision to the right
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * precision))


def mean_class_ap(ious: np.ndarray, classes: np.ndarray, threshold: float, scores: np.ndarray | None = None) -> float:
    """Mean over classes of the AP at one IoU threshold."""
    values = []
    for label in np.unique(classes):
        members = classes == label
        values.append(average_precision(ious[members] >= threshold, None if scores is None else scores[members]))
    return float(np.mean(values)) if values else float("nan")


def ap_summary(ious: np.ndarray, classes: np.ndarray, scores: np.ndarray | None = None) -> dict[str, float]:
    """AP (0.50:0.95), AP50 and AP25 of the masks of all objects after one click count."""
    return {
        "AP": float(np.mean([mean_class_ap(ious, classes, t, scores) for t in AP_THRESHOLDS])),
        "AP50": mean_class_ap(ious, classes, 0.50, scores),
        "AP25": mean_class_ap(ious, classes, 0.25, scores),
    }


def summarize(rows_ious: Sequence[Sequence[float]], classes: Sequence[str], max_clicks: int) -> dict:
    """Summary over objects: NoC@80/85/90, IoU@k for k = 1..K, AP/AP50/AP25 after each k, rising/stuck counts."""
    curve = iou_curve(rows_ious, max_clicks)
    table = np.array([pad_ious(r, max_clicks) for r in rows_ious]).reshape(len(rows_ious), max_clicks)
    labels = np.asarray(classes)
    summary: dict = {"objects": len(rows_ious), "max_clicks": max_clicks}
    for threshold in NOC_THRESHOLDS:
        nocs = [number_of_clicks(r, threshold, max_clicks) for r in table.tolist()]
        summary[f"NoC@{round(threshold * 100)}"] = float(np.mean(nocs)) if nocs else float("nan")
    summary["IoU@k"] = [float(v) for v in curve]
    summary["AP@k"] = [ap_summary(table[:, k], labels) for k in range(max_clicks)] if len(table) else []
    summary.update(responsiveness_summary(table.tolist(), max_clicks))
    return summary


RISE_FROM_CLICK = 5  # responsiveness compares the IoU after the last click with the IoU after this one
RISE_MIN_GAIN = 0.02  # an object whose IoU gains less than 2 points after click 5 ...
STUCK_BELOW = 0.85  # ... while its final IoU is under 85% is "stuck": corrections no longer help


def click_responsiveness(ious: Sequence[float], max_clicks: int) -> dict[str, float | bool] | None:
    """Whether one object's IoU still rises after click 5: gain IoU@K - IoU@5, `rising` and `stuck`.

    A model that ignores corrections shows up here even when its mean IoU looks fine.
    `stuck` means a gain under RISE_MIN_GAIN while IoU@K is under STUCK_BELOW. None when
    the budget K is RISE_FROM_CLICK clicks or fewer (nothing to compare).
    """
    if max_clicks <= RISE_FROM_CLICK:
        return None
    padded = pad_ious(ious, max_clicks)
    gain = float(padded[-1] - padded[RISE_FROM_CLICK - 1])
    rising = bool(gain >= RISE_MIN_GAIN)
    return {"gain_after_5": gain, "rising": rising, "stuck": bool(not rising and padded[-1] < STUCK_BELOW)}


def responsiveness_summary(rows_ious: Sequence[Sequence[float]], max_clicks: int) -> dict[str, int | None]:
    """Counts over objects: still rising after click 5, and stuck (None when the budget is 5 or fewer)."""
    flags = [click_responsiveness(r, max_clicks) for r in rows_ious]
    if max_clicks <= RISE_FROM_CLICK:
        return {"rising_after_5": None, "stuck_objects": None}
    rising, stuck = (sum(int(f[key]) for f in flags) for key in ("rising", "stuck"))
    return {"rising_after_5": rising, "stuck_objects": stuck}


COLLAPSE_DROP = 0.20  # one click that takes more than 20 IoU points from the mask "collapses" it


def click_collapses(ious: Sequence[float], clicks: Sequence[tuple[int, bool]]) -> list[dict[str, float | int | bool]]:
    """The clicks after which one object's IoU fell by more than COLLAPSE_DROP: click number (1-based), sign, drop.

    The user sees the mask vanish after one correction. On the real dev scans nearly every collapse
    follows a negative click on a lone point labelled otherwise inside an object the mask held
    (docs/default_model.md, session 13), so the sign says which kind of robustness a set tests.
    """
    out: list[dict[str, float | int | bool]] = []
    for k in range(1, min(len(ious), len(clicks))):
        drop = float(ious[k - 1]) - float(ious[k])
        if drop > COLLAPSE_DROP + 1e-9:  # IoUs are fractions: 0.9 - 0.7 is not over 0.2
            out.append({"click": k + 1, "positive": bool(clicks[k][1]), "drop": drop})
    return out


def collapse_summary(per_object: Sequence[Sequence[dict]]) -> dict[str, int]:
    """Counts over objects' `click_collapses`: objects with any, and collapses after negative and positive clicks."""
    signs = [bool(c["positive"]) for collapses in per_object for c in collapses]
    return {
        "collapsed_objects": sum(1 for collapses in per_object if collapses),
        "collapses_after_negative": signs.count(False),
        "collapses_after_positive": signs.count(True),
    }
