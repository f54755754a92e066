"""Chooses the automatic head's proposal thresholds (card.proposals) of a model version by grid
search, with the grid, objective and tie rule of server/src/models/tuneProposals.ts: the best
mean per-image AP50 (TP / (TP + FP + FN)), ties to the first point in grid order. Pure given
the head's logits; never falls back to defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np
import torch

from .data import LabelledImage
from .evaluate import encode_image, match_instances
from .model import ImageEncoder
from .proposals import ProposalOptions, connected_components, propose_instances, remove_small, seeded_objects, sigmoid

# tuneProposals.ts PROPOSAL_GRID, in the same order (the order decides ties).
PROPOSAL_GRID: Dict[str, List[float]] = {
    "foregroundThreshold": [0.4, 0.5, 0.6],
    "seedThreshold": [0.3, 0.4, 0.5, 0.6, 0.7],
    "minSeedArea": [3, 8, 16, 32],
    "minArea": [8, 16, 32, 48],
}


@dataclass
class Head:
    """The automatic head's logits of one image and its true labels."""

    foreground: np.ndarray  # (H, W) logits
    distance: np.ndarray  # (H, W) logits
    labels: np.ndarray  # (H, W) instance labels


@torch.no_grad()
def encode_heads(encoder: ImageEncoder, items: Sequence[LabelledImage], device: torch.device) -> List[Head]:
    """One encoder pass per image."""
    encoder.eval()
    heads = []
    for item in items:
        _, _, foreground, distance = encode_image(encoder, item.image, device)
        heads.append(Head(foreground=foreground, distance=distance, labels=item.labels))
    return heads


def proposal_ap50(heads: Sequence[Head], options: ProposalOptions) -> float:
    """Mean over images of AP at IoU 0.5 of the proposals made with these options."""
    if not heads:
        return 0.0
    total = 0.0
    for head in heads:
        total += match_instances(head.labels, propose_instances(head.foreground, head.distance, options).labels)["ap"]
    return total / len(heads)


def grid_points() -> List[ProposalOptions]:
    """Every grid point in tuneProposals.ts's loop order."""
    return [
        ProposalOptions(float(f), float(s), int(a), int(m))
        for f in PROPOSAL_GRID["foregroundThreshold"]
        for s in PROPOSAL_GRID["seedThreshold"]
        for a in PROPOSAL_GRID["minSeedArea"]
        for m in PROPOSAL_GRID["minArea"]
    ]


def grid_ap50(heads: Sequence[Head]) -> Dict[ProposalOptions, float]:
    """proposal_ap50 of every grid point, sharing the work the points have in common (the
    foreground per threshold, the core components per seed threshold, the grown objects per
    seed area): the same numbers as calling proposal_ap50 240 times, at a fraction of the cost."""
    sums: Dict[ProposalOptions, float] = {point: 0.0 for point in grid_points()}
    for head in heads:
        probability = sigmoid(head.foreground.astype(np.float64))
        centre = sigmoid(head.distance.astype(np.float64))
        for f in PROPOSAL_GRID["foregroundThreshold"]:
            foreground = probability > f
            for s in PROPOSAL_GRID["seedThreshold"]:
                components = connected_components(foreground & (centre > s))
                for a in PROPOSAL_GRID["minSeedArea"]:
                    objects = seeded_objects(foreground, components, int(a))
                    for m in PROPOSAL_GRID["minArea"]:
                        labels = remove_small(objects, int(m))
                        sums[ProposalOptions(float(f), float(s), int(a), int(m))] += match_instances(head.labels, labels)["ap"]
    count = max(1, len(heads))
    return {point: total / count for point, total in sums.items()}


def best_proposal_options(heads: Sequence[Head]) -> tuple[ProposalOptions, float]:
    """The grid point with the best mean AP50 (ties: the first in grid order)."""
    if not heads:
        raise ValueError("proposal tuning needs at least one labelled image")
    scores = grid_ap50(heads)
    best = grid_points()[0]
    for point in grid_points():
        if scores[point] > scores[best]:
            best = point
    return best, scores[best]
