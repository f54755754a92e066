"""Simulated clicks as RITM defines them, and their encoding as decoder input maps.

Same protocol as shared/ml/clickSimulation.ts (exact Euclidean distance transform, image border
counted as background, first maximum in row-major order wins, ties go to the missed region).
Pure numpy/torch; never reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch

from .model import CLICK_SIGMA

# Click maps are Gaussians of this standard deviation, in full-resolution pixels (see card.json).
CLICK_SIGMA_PIXELS = CLICK_SIGMA
# Decoder input for "no previous mask" (a logit: probability ~2e-9).
NO_PREVIOUS_MASK_LOGIT = -20.0


@dataclass(frozen=True)
class Click:
    """Pixel column x and row y (the click's centre is at x + 0.5, y + 0.5)."""

    x: int
    y: int
    positive: bool


def _column_distances_squared(mask: np.ndarray) -> np.ndarray:
    """Squared distance to the nearest background pixel in the same column (rows padded by 0)."""
    height = mask.shape[0]
    rows = np.arange(height, dtype=np.int32)[:, None]
    # Index of the last background row above (or at) each pixel; -1 is the border.
    above = np.where(mask == 0, rows, -1)
    above = np.maximum.accumulate(above, axis=0)
    below = np.where(mask == 0, rows, height)
    below = np.minimum.accumulate(below[::-1], axis=0)[::-1]
    nearest = np.minimum(rows - above, below - rows)
    return nearest.astype(np.int32) ** 2


def distance_transform(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from each inside pixel to the nearest outside pixel (0 outside).

    The image is treated as surrounded by background. Separable and exact: per column the
    distance to the nearest background row, then per row the minimum over all columns of
    (dx^2 + column distance^2), computed on the mask's bounding box only.
    """
    mask = np.asarray(mask) != 0
    out = np.zeros(mask.shape, dtype=np.float32)
    if not mask.any():
        return out
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    # The box is grown by one pixel of background so nearest background pixels lie within it.
    r0, r1 = rows[0], rows[-1] + 1
    c0, c1 = cols[0], cols[-1] + 1
    box = np.zeros((r1 - r0 + 2, c1 - c0 + 2), dtype=bool)
    box[1:-1, 1:-1] = mask[r0:r1, c0:c1]
    column = _column_distances_squared(box)
    width = box.shape[1]
    dx2 = ((np.arange(width)[:, None] - np.arange(width)[None, :]) ** 2).astype(np.int32)
    squared = np.empty(box.shape, dtype=np.int32)
    # Chunk rows so the (rows, x, x') temporary stays small on large masks.
    chunk = max(1, 2_000_000 // (width * width))
    for start in range(0, box.shape[0], chunk):
        part = column[start : start + chunk]  # (r, x')
        squared[start : start + chunk] = (part[:, None, :] + dx2[None, :, :]).min(axis=2)
    inside = np.sqrt(squared[1:-1, 1:-1].astype(np.float64)).astype(np.float32)
    out[r0:r1, c0:c1] = np.where(mask[r0:r1, c0:c1], inside, 0)
    return out


def _argmax_positive(values: np.ndarray) -> tuple[int, float]:
    """First index (row-major) of the largest value > 0, or (-1, 0) when none is positive."""
    flat = values.ravel()
    index = int(np.argmax(flat))
    value = float(flat[index])
    return (index, value) if value > 0 else (-1, 0.0)


def first_click(target: np.ndarray) -> Optional[Click]:
    """The interior point farthest from the object's boundary, or None for an empty mask."""
    index, _ = _argmax_positive(distance_transform(target))
    if index < 0:
        return None
    width = target.shape[1]
    return Click(x=index % width, y=index // width, positive=True)


def next_click(target: np.ndarray, prediction: np.ndarray) -> Optional[Click]:
    """Centre of the largest error region: positive if missed, negative if false; None if equal."""
    target = np.asarray(target) != 0
    prediction = np.asarray(prediction) != 0
    missed = target & ~prediction
    extra = prediction & ~target
    if not missed.any() and not extra.any():
        return None
    fn_index, fn_value = _argmax_positive(distance_transform(missed))
    fp_index, fp_value = _argmax_positive(distance_transform(extra))
    positive = fn_value >= fp_value
    index = fn_index if positive else fp_index
    width = target.shape[1]
    return Click(x=index % width, y=index // width, positive=positive)


def apply_clicks(prediction: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """Click consistency: each clicked pixel takes its click's label (a later click on the same
    pixel wins), whatever the decoder predicted there. A copy; the runtimes do the same
    (shared/ml/segmenter.ts), so a click on a wrongly labelled pixel always changes the mask."""
    out = np.array(prediction, dtype=bool, copy=True)
    height, width = out.shape
    for click in clicks:
        if 0 <= click.y < height and 0 <= click.x < width:
            out[click.y, click.x] = click.positive
    return out


def random_interior_click(target: np.ndarray, rng: np.random.Generator) -> Optional[Click]:
    """A positive click at a random pixel well inside the object (distance >= 40% of the
    maximum), so training also sees clicks that a person makes off the exact centre."""
    distance = distance_transform(target)
    peak = float(distance.max())
    if peak <= 0:
        return None
    candidates = np.flatnonzero(distance.ravel() >= 0.4 * peak)
    index = int(rng.choice(candidates))
    width = target.shape[1]
    return Click(x=index % width, y=index // width, positive=True)


def encode_clicks(
    clicks: Sequence[Click],
    feature_height: int,
    feature_width: int,
    stride: int,
    sigma: float = CLICK_SIGMA_PIXELS,
) -> np.ndarray:
    """(2, h, w) float32 maps at feature resolution: channel 0 positive clicks, 1 negative.

    Feature cell (i, j) covers pixels [stride*j, stride*(j+1)) x [stride*i, stride*(i+1)); its
    centre is (stride*(j + 0.5), stride*(i + 0.5)) in pixel coordinates. Each map holds the
    maximum over its clicks of exp(-d^2 / (2 sigma^2)), d the distance in pixels from the click
    centre (x + 0.5, y + 0.5) to the cell centre, computed in float64 then rounded to float32.
    """
    maps = np.zeros((2, feature_height, feature_width), dtype=np.float64)
    centres_y = stride * (np.arange(feature_height, dtype=np.float64) + 0.5)
    centres_x = stride * (np.arange(feature_width, dtype=np.float64) + 0.5)
    for click in clicks:
        dy2 = (centres_y - (click.y + 0.5)) ** 2
        dx2 = (centres_x - (click.x + 0.5)) ** 2
        value = np.exp(-(dy2[:, None] + dx2[None, :]) / (2.0 * sigma * sigma))
        channel = 0 if click.positive else 1
        np.maximum(maps[channel], value, out=maps[channel])
    return maps.astype(np.float32)


def encode_click_batch(
    batch: Sequence[Sequence[Click]], feature_height: int, feature_width: int, stride: int
) -> torch.Tensor:
    """Encoded clicks of a batch, (N, 2, h, w)."""
    maps = [encode_clicks(clicks, feature_height, feature_width, stride) for clicks in batch]
    return torch.from_numpy(np.stack(maps))


def clicks_to_reach(ious: List[float], threshold: float, max_clicks: int) -> int:
    """Number of clicks until the IoU first reaches the threshold (max_clicks if never)."""
    for index, iou in enumerate(ious[:max_clicks]):
        if iou >= threshold:
            return index + 1
    return max_clicks
