"""Instance proposals from the automatic head: cores of high centre-distance seed the objects,
which then grow through the foreground. Pure numpy; card.json describes the same steps for the
TypeScript side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Mapping

import numpy as np

# The trainer's defaults; a model version's card holds its own (tuned) values.
FOREGROUND_THRESHOLD = 0.5
SEED_THRESHOLD = 0.5
MIN_SEED_AREA = 3
MIN_AREA = 8


@dataclass(frozen=True)
class ProposalOptions:
    """The post-processing thresholds of card.proposals (shared/ml/proposals.ts ProposalOptions)."""

    foreground_threshold: float = FOREGROUND_THRESHOLD
    seed_threshold: float = SEED_THRESHOLD
    min_seed_area: int = MIN_SEED_AREA
    min_area: int = MIN_AREA

    def to_card(self) -> Dict[str, float]:
        """The card's camelCase keys."""
        return {
            "foregroundThreshold": self.foreground_threshold,
            "seedThreshold": self.seed_threshold,
            "minSeedArea": self.min_seed_area,
            "minArea": self.min_area,
        }

    @staticmethod
    def from_card(proposals: Mapping[str, object]) -> "ProposalOptions":
        return ProposalOptions(
            foreground_threshold=float(proposals["foregroundThreshold"]),  # type: ignore[arg-type]
            seed_threshold=float(proposals["seedThreshold"]),  # type: ignore[arg-type]
            min_seed_area=int(proposals["minSeedArea"]),  # type: ignore[call-overload]
            min_area=int(proposals["minArea"]),  # type: ignore[call-overload]
        )

    def to_dict(self) -> Dict[str, float]:
        return asdict(self)


DEFAULT_PROPOSAL_OPTIONS = ProposalOptions()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _neighbour_views(padded: np.ndarray):
    """The four 4-connected neighbours of every pixel of a one-pixel padded array."""
    return (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])


def connected_components(mask: np.ndarray) -> np.ndarray:
    """4-connected components labelled 1..K in raster order of their first pixel (0 outside)."""
    height, width = mask.shape
    big = height * width
    labels = np.where(mask, np.arange(big).reshape(height, width), big)
    flat_mask = mask.ravel()
    while True:
        padded = np.pad(labels, 1, constant_values=big)
        updated = labels
        for neighbour in _neighbour_views(padded):
            updated = np.where(mask, np.minimum(updated, neighbour), big)
        # Pointer jumping: a label is a pixel index of the same component; follow it.
        flat = updated.ravel().copy()
        for _ in range(4):
            flat[flat_mask] = flat[flat[flat_mask]]
        updated = flat.reshape(height, width)
        if np.array_equal(updated, labels):
            break
        labels = updated
    out = np.zeros((height, width), dtype=np.int32)
    roots = np.unique(labels[mask])
    lookup = np.zeros(big + 1, dtype=np.int32)
    lookup[roots] = np.arange(1, roots.size + 1, dtype=np.int32)
    out[mask] = lookup[labels[mask]]
    return out


def remove_small(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Drops labels with fewer than min_area pixels and renumbers the rest densely, in order."""
    area = np.bincount(labels.ravel())
    keep = area >= min_area
    keep[0] = False
    lookup = np.zeros(area.size, dtype=np.int32)
    lookup[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return lookup[labels]


def grow_labels(seeds: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Grows labelled seeds through `region` one 4-connected pixel layer at a time; a pixel
    reached by several labels in the same layer takes the smallest."""
    labels = np.where(region, seeds, 0).astype(np.int32)
    big = np.iinfo(np.int32).max
    while True:
        padded = np.pad(np.where(labels > 0, labels, big), 1, constant_values=big)
        nearest = np.full(labels.shape, big, dtype=np.int32)
        for neighbour in _neighbour_views(padded):
            nearest = np.minimum(nearest, neighbour)
        frontier = region & (labels == 0) & (nearest < big)
        if not frontier.any():
            return labels
        labels = np.where(frontier, nearest, labels)


@dataclass
class Proposals:
    labels: np.ndarray  # (H, W) int32, 1..K
    scores: np.ndarray  # (K,) mean foreground probability of each object


def seeded_objects(foreground: np.ndarray, core_components: np.ndarray, min_seed_area: int) -> np.ndarray:
    """Steps 2-4 from the connected components of the cores: those of at least min_seed_area
    pixels grow through the foreground, then the foreground parts no seed reached become objects
    of their own (the minimum area is not applied yet)."""
    seeds = remove_small(core_components, min_seed_area)
    grown = grow_labels(seeds, foreground)
    orphans = connected_components(foreground & (grown == 0))
    offset = int(grown.max())
    return np.where(orphans > 0, orphans + offset, grown)


def propose_instances(
    foreground_logits: np.ndarray,
    distance_logits: np.ndarray,
    options: ProposalOptions = DEFAULT_PROPOSAL_OPTIONS,
) -> Proposals:
    """1. foreground = sigmoid(fg) > foreground_threshold; 2. seeds = 4-connected components of
    foreground with sigmoid(distance) > seed_threshold, at least min_seed_area pixels; 3. seeds
    grow through the foreground layer by layer; 4. foreground parts no seed reached become
    objects of their own; 5. objects under min_area pixels are dropped; score = mean foreground
    probability."""
    probability = sigmoid(foreground_logits.astype(np.float64))
    foreground = probability > options.foreground_threshold
    cores = foreground & (sigmoid(distance_logits.astype(np.float64)) > options.seed_threshold)
    objects = seeded_objects(foreground, connected_components(cores), options.min_seed_area)
    labels = remove_small(objects, options.min_area)
    count = int(labels.max())
    area = np.bincount(labels.ravel(), minlength=count + 1)
    total = np.bincount(labels.ravel(), weights=probability.ravel(), minlength=count + 1)
    scores = (total[1:] / np.maximum(area[1:], 1)).astype(np.float32)
    return Proposals(labels=labels.astype(np.int32), scores=scores)
