"""Runs a version's encoder on a pool image and hands a strategy (strategies.py) the outputs it
needs, as a Candidate: the foreground probability, the proposals' instance labels (made from
the foreground and distance logits with the version's proposal thresholds), the encoder
features pooled over the image, and the foreground probability under the 8 dihedral views
(only when asked: 8 encoder passes).

Large images are tiled as the browser tiles them (card input.tileSize 512, tileOverlap 64;
shared/ml/imageSession.ts planTiles): overlapping windows whose cores partition the image, each
window's outputs kept on its core only; an image no larger than a tile runs whole, zero-padded
to a multiple of 16 (evaluate.encode_image). Proposals are made once on the stitched logits of
the whole image. Never chooses a device or reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, List, Optional, Tuple

import numpy as np
import torch

from .evaluate import pad_to_multiple
from .model import FEATURE_STRIDE, ImageEncoder
from .proposals import DEFAULT_PROPOSAL_OPTIONS, ProposalOptions, propose_instances, sigmoid
from .strategies import FEATURES, FOREGROUND, LABELS, OUTPUTS, TTA, Candidate

TILE_SIZE = 512
TILE_OVERLAP = 64
# View k: mirrored left-right when k >= 4, then rotated by 90 degrees (k % 4) times.
DIHEDRAL_VIEWS = 8


@dataclass(frozen=True)
class Tile:
    """A window of the image (top, left, height, width) and the part it answers for (its core,
    in image coordinates: rows [core_top, core_bottom), columns [core_left, core_right))."""

    top: int
    left: int
    height: int
    width: int
    core_top: int
    core_left: int
    core_bottom: int
    core_right: int


def tile_starts(length: int, size: int, overlap: int) -> List[int]:
    """imageSession.ts tileStarts: windows of `size` overlapping by `overlap`, covering [0, length)."""
    if length <= size:
        return [0]
    step = max(1, size - overlap)
    starts = list(range(0, length - size, step))
    starts.append(length - size)
    return starts


def _js_round(value: float) -> int:
    """Math.round: halves go up."""
    return int(np.floor(value + 0.5))


def tile_cores(starts: List[int], size: int, length: int) -> List[Tuple[int, int]]:
    """imageSession.ts tileCores: the middle of each overlap splits the axis among its tiles."""
    cores = []
    for i, start in enumerate(starts):
        low = 0 if i == 0 else _js_round((start + starts[i - 1] + size) / 2)
        high = length if i == len(starts) - 1 else _js_round((starts[i + 1] + start + size) / 2)
        cores.append((low, high))
    return cores


def plan_tiles(height: int, width: int, size: int = TILE_SIZE, overlap: int = TILE_OVERLAP) -> List[Tile]:
    """imageSession.ts planTiles: one tile when the image fits, else overlapping tiles in rows."""
    ys, xs = tile_starts(height, size, overlap), tile_starts(width, size, overlap)
    th, tw = min(size, height), min(size, width)
    y_cores, x_cores = tile_cores(ys, th, height), tile_cores(xs, tw, width)
    return [
        Tile(y, x, th, tw, y_cores[j][0], x_cores[i][0], y_cores[j][1], x_cores[i][1])
        for j, y in enumerate(ys)
        for i, x in enumerate(xs)
    ]


def dihedral(image: np.ndarray, view: int) -> np.ndarray:
    """View `view` of a (..., H, W) array: mirrored left-right when view >= 4, then rotated."""
    out = image[..., ::-1] if view >= 4 else image
    return np.rot90(out, view % 4, axes=(-2, -1))


def undo_dihedral(image: np.ndarray, view: int) -> np.ndarray:
    """The inverse of dihedral(., view)."""
    out = np.rot90(image, -(view % 4), axes=(-2, -1))
    return out[..., ::-1] if view >= 4 else out


@dataclass
class WindowOutputs:
    foreground: np.ndarray  # (h, w) logits, identity view
    distance: np.ndarray  # (h, w) logits
    features: Optional[torch.Tensor]  # (F, ceil(h/4), ceil(w/4)) on the device
    views: Optional[np.ndarray]  # (T, h, w) probabilities, mapped back


@torch.no_grad()
def _encode_window(encoder: ImageEncoder, window: np.ndarray, device: torch.device, views: int) -> WindowOutputs:
    """One pass per view (batching the views took twice as long on a CPU: 512 x 512 activations
    of four images fall out of the caches)."""
    height, width = window.shape[1:]
    probabilities: List[np.ndarray] = []
    foreground = distance = np.zeros((height, width), dtype=np.float32)
    features: Optional[torch.Tensor] = None
    for view in range(max(1, views)):
        view_h, view_w = (height, width) if view % 2 == 0 else (width, height)
        batch = pad_to_multiple(np.ascontiguousarray(dihedral(window, view)))[None]
        feats, _, fg, dist = encoder(torch.from_numpy(batch).to(device))
        logits = undo_dihedral(fg[0, 0, :view_h, :view_w].float().cpu().numpy(), view)
        if view == 0:
            foreground = np.ascontiguousarray(logits)
            distance = dist[0, 0, :height, :width].float().cpu().numpy()
            features = feats[0, :, : -(-height // FEATURE_STRIDE), : -(-width // FEATURE_STRIDE)]
        if views > 1:
            probabilities.append(sigmoid(logits.astype(np.float64)).astype(np.float32))
    stack = np.stack(probabilities) if views > 1 else None
    return WindowOutputs(foreground=foreground, distance=distance, features=features, views=stack)


def _cells(low: int, high: int) -> slice:
    """The feature cells (stride 4) whose centres, 4 i + 1.5, lie in [low, high)."""
    first = int(np.ceil((low - 1.5) / FEATURE_STRIDE))
    last = int(np.ceil((high - 1.5) / FEATURE_STRIDE))
    return slice(max(first, 0), max(last, 0))


@torch.no_grad()
def candidate_from_image(
    encoder: ImageEncoder,
    image: np.ndarray,
    device: torch.device,
    image_id: int = 0,
    needs: Collection[str] = OUTPUTS,
    proposal_options: ProposalOptions = DEFAULT_PROPOSAL_OPTIONS,
    tile_size: int = TILE_SIZE,
    tile_overlap: int = TILE_OVERLAP,
    views: int = DIHEDRAL_VIEWS,
) -> Candidate:
    """One image (model channels, H, W) float32, normalised as the trainer does
    (normalization.normalize_with_own_stats) → its Candidate with the outputs in `needs`
    (strategies.needs(name); the default, every output, serves all strategies and costs the 8
    views). The encoder is put in eval mode and must already be on `device`."""
    unknown = set(needs) - OUTPUTS
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)} (known: {sorted(OUTPUTS)})")
    if image.ndim != 3 or image.shape[0] != encoder.in_channels:
        raise ValueError(f"expected ({encoder.in_channels}, H, W), got {image.shape}")
    encoder.eval()
    height, width = image.shape[1:]
    if not needs:
        return Candidate(image_id=int(image_id))
    want_views = views if TTA in needs else 1
    foreground = np.zeros((height, width), dtype=np.float32)
    distance = np.zeros((height, width), dtype=np.float32)
    stack = np.zeros((want_views, height, width), dtype=np.float32) if want_views > 1 else None
    pooled: Optional[torch.Tensor] = None
    cells = 0
    for tile in plan_tiles(height, width, tile_size, tile_overlap):
        window = np.ascontiguousarray(image[:, tile.top : tile.top + tile.height, tile.left : tile.left + tile.width])
        out = _encode_window(encoder, window, device, want_views)
        rows = slice(tile.core_top - tile.top, tile.core_bottom - tile.top)
        cols = slice(tile.core_left - tile.left, tile.core_right - tile.left)
        core = (slice(tile.core_top, tile.core_bottom), slice(tile.core_left, tile.core_right))
        foreground[core] = out.foreground[rows, cols]
        distance[core] = out.distance[rows, cols]
        if stack is not None and out.views is not None:
            stack[(slice(None),) + core] = out.views[:, rows, cols]
        if FEATURES in needs and out.features is not None:
            part = out.features[:, _cells(rows.start, rows.stop), _cells(cols.start, cols.stop)]
            total = part.sum(dim=(1, 2))
            pooled = total if pooled is None else pooled + total
            cells += int(part.shape[1] * part.shape[2])
    candidate = Candidate(image_id=int(image_id))
    if FOREGROUND in needs or LABELS in needs:
        candidate.foreground = sigmoid(foreground.astype(np.float64)).astype(np.float32)
    if LABELS in needs:
        candidate.labels = propose_instances(foreground, distance, proposal_options).labels
    if FEATURES in needs and pooled is not None:
        candidate.features = (pooled / max(cells, 1)).float().cpu().numpy()
    if TTA in needs:
        candidate.tta = stack
    return candidate
