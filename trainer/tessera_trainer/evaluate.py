"""Held-out metrics with the simulated-click protocol (RITM) and the automatic proposals
(DSB2018 / StarDist AP at IoU 0.5). Same definitions as the evaluation CLI
(shared/ml/metrics.ts); this copy fills the card when pretraining ends. Never trains.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .clicks import NO_PREVIOUS_MASK_LOGIT, Click, apply_clicks, clicks_to_reach, encode_click_batch, first_click, next_click
from .data import LabelledImage, object_boxes
from .model import FEATURE_STRIDE, SIZE_MULTIPLE, ClickDecoder, ImageEncoder
from .proposals import DEFAULT_PROPOSAL_OPTIONS, ProposalOptions, propose_instances

MAX_CLICKS = 20
CLICK_WINDOW = 256


def pad_to_multiple(image: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """Zero padding on the bottom and right up to the next multiple (normalised background is ~0)."""
    _, height, width = image.shape
    padded_h = -(-height // multiple) * multiple
    padded_w = -(-width // multiple) * multiple
    return np.pad(image, ((0, 0), (0, padded_h - height), (0, padded_w - width)))


@torch.no_grad()
def encode_image(
    encoder: ImageEncoder, image: np.ndarray, device: torch.device
) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Features and details of the padded image; head logits cropped to the image size."""
    height, width = image.shape[1:]
    tensor = torch.from_numpy(pad_to_multiple(image))[None].to(device)
    features, details, foreground, distance = encoder(tensor)
    return (
        features,
        details,
        foreground[0, 0, :height, :width].cpu().numpy(),
        distance[0, 0, :height, :width].cpu().numpy(),
    )


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def match_instances(truth: np.ndarray, predicted: np.ndarray, threshold: float = 0.5) -> Dict[str, float]:
    """One-to-one matching at IoU > threshold (unique for threshold >= 0.5)."""
    truth = truth.astype(np.int64).ravel()
    predicted = predicted.astype(np.int64).ravel()
    n_truth = int(truth.max()) + 1
    n_predicted = int(predicted.max()) + 1
    area_truth = np.bincount(truth, minlength=n_truth)
    area_predicted = np.bincount(predicted, minlength=n_predicted)
    both = (truth > 0) & (predicted > 0)
    pairs = np.bincount(truth[both] * n_predicted + predicted[both], minlength=n_truth * n_predicted)
    nonzero = np.flatnonzero(pairs)
    t, p = nonzero // n_predicted, nonzero % n_predicted
    iou = pairs[nonzero] / (area_truth[t] + area_predicted[p] - pairs[nonzero])
    order = np.argsort(-iou, kind="stable")
    used_t, used_p, matched = set(), set(), []
    for index in order:
        if iou[index] <= threshold:
            break
        if t[index] in used_t or p[index] in used_p:
            continue
        used_t.add(int(t[index])); used_p.add(int(p[index])); matched.append(float(iou[index]))
    count_truth = int((area_truth[1:] > 0).sum())
    count_predicted = int((area_predicted[1:] > 0).sum())
    tp = len(matched)
    denominator = count_truth + count_predicted - tp
    return {
        "tp": tp,
        "fp": count_predicted - tp,
        "fn": count_truth - tp,
        "ap": 1.0 if denominator == 0 else tp / denominator,
        "sum_matched_iou": float(sum(matched)),
    }


def _window(box: Tuple[slice, slice], height: int, width: int, size: int) -> Tuple[int, int, int, int]:
    """A window of at most size x size (multiples of 16, origin a multiple of the stride)
    centred on the object and clamped inside the padded image."""
    win_h, win_w = min(size, height), min(size, width)
    centre_y = (box[0].start + box[0].stop) / 2
    centre_x = (box[1].start + box[1].stop) / 2
    top = int(np.clip(round((centre_y - win_h / 2) / FEATURE_STRIDE) * FEATURE_STRIDE, 0, height - win_h))
    left = int(np.clip(round((centre_x - win_w / 2) / FEATURE_STRIDE) * FEATURE_STRIDE, 0, width - win_w))
    return top, left, win_h, win_w


@torch.no_grad()
def interactive_ious(
    decoder: ClickDecoder,
    features: torch.Tensor,
    details: torch.Tensor,
    labels: np.ndarray,
    max_clicks: int = MAX_CLICKS,
    stop_at: float = 0.9,
    chunk: int = 32,
) -> List[List[float]]:
    """IoU after each simulated click for every object of one image (stops once >= stop_at)."""
    padded_h, padded_w = details.shape[2:]
    padded_labels = np.zeros((padded_h, padded_w), dtype=labels.dtype)
    padded_labels[: labels.shape[0], : labels.shape[1]] = labels
    boxes = object_boxes(padded_labels)
    results: List[List[float]] = []
    by_window: Dict[Tuple[int, int], List[Tuple[int, int, int]]] = {}
    for label, box in boxes.items():
        top, left, win_h, win_w = _window(box, padded_h, padded_w, CLICK_WINDOW)
        by_window.setdefault((win_h, win_w), []).append((label, top, left))
    for (win_h, win_w), objects in by_window.items():
        for start in range(0, len(objects), chunk):
            group = objects[start : start + chunk]
            results.extend(_run_group(decoder, features, details, padded_labels, group, win_h, win_w, max_clicks, stop_at))
    return results


def _run_group(decoder, features, details, labels, group, win_h, win_w, max_clicks, stop_at) -> List[List[float]]:
    s = FEATURE_STRIDE
    feats = torch.cat([features[:, :, top // s : (top + win_h) // s, left // s : (left + win_w) // s] for _, top, left in group])
    dets = torch.cat([details[:, :, top : top + win_h, left : left + win_w] for _, top, left in group])
    targets = [labels[top : top + win_h, left : left + win_w] == label for label, top, left in group]
    clicks: List[List[Click]] = []
    for target in targets:
        click = first_click(target)
        clicks.append([click] if click is not None else [])
    previous = torch.full((len(group), 1, win_h // s, win_w // s), NO_PREVIOUS_MASK_LOGIT, device=feats.device)
    ious: List[List[float]] = [[] for _ in group]
    active = list(range(len(group)))
    for _ in range(max_clicks):
        maps = encode_click_batch([clicks[i] for i in active], win_h // s, win_w // s, s).to(feats.device)
        mask, low = decoder(feats[active], dets[active], maps, previous[active])
        previous[active] = low
        predictions = (mask[:, 0] > 0).cpu().numpy()
        still = []
        for row, index in enumerate(active):
            prediction = apply_clicks(predictions[row], clicks[index])
            iou = mask_iou(prediction, targets[index])
            ious[index].append(iou)
            click = next_click(targets[index], prediction)
            if iou < stop_at and click is not None:
                clicks[index].append(click)
                still.append(index)
        active = still
        if not active:
            break
    return ious


def evaluate(
    encoder: ImageEncoder,
    decoder: ClickDecoder,
    items: Sequence[LabelledImage],
    device: torch.device,
    max_clicks: int = MAX_CLICKS,
    proposal_options: ProposalOptions = DEFAULT_PROPOSAL_OPTIONS,
    before_image: Optional[Callable[[], None]] = None,
) -> Dict[str, float]:
    """noc85, noc90, iou_at_1click, auto_ap50, auto_mean_matched_iou, foreground_iou over items,
    the proposals made with the model's own thresholds (its card's). before_image runs before
    each image (a worker stops a cancelled job there by raising)."""
    encoder.eval(); decoder.eval()
    per_object: List[List[float]] = []
    tp = fp = fn = 0
    matched_iou = 0.0
    intersection = union = 0
    for item in items:
        if before_image is not None:
            before_image()
        features, details, foreground, distance = encode_image(encoder, item.image, device)
        per_object.extend(interactive_ious(decoder, features, details, item.labels, max_clicks))
        proposals = propose_instances(foreground, distance, proposal_options)
        match = match_instances(item.labels, proposals.labels)
        tp += int(match["tp"]); fp += int(match["fp"]); fn += int(match["fn"])
        matched_iou += match["sum_matched_iou"]
        truth_fg, predicted_fg = item.labels > 0, foreground > 0
        intersection += int((truth_fg & predicted_fg).sum()); union += int((truth_fg | predicted_fg).sum())
    # Once IoU reached 0.9 evaluation stopped; later clicks would keep it there.
    count = max(1, len(per_object))
    return {
        "n_images": len(items),
        "n_objects": len(per_object),
        "iou_at_1click": float(sum(ious[0] if ious else 0.0 for ious in per_object) / count),
        "noc85": float(sum(clicks_to_reach(ious, 0.85, max_clicks) for ious in per_object) / count),
        "noc90": float(sum(clicks_to_reach(ious, 0.90, max_clicks) for ious in per_object) / count),
        "auto_ap50": tp / max(1, tp + fp + fn),
        "auto_mean_matched_iou": matched_iou / max(1, tp),
        "foreground_iou": intersection / max(1, union),
    }
