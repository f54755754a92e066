"""Active learning's strategies (shared/schemas/activeLearning.ts Strategy): how a new version
ranks the images nobody has finished. Pure numpy; never runs a model (scoring.py does and
hands each image's outputs over as a Candidate).

One contract per strategy (ImageStrategy): an image's model outputs in, a score out (higher =
more to learn from it); a batch strategy may also set the order itself, looking at every
candidate. The registry maps the wire names to them.

Use: `scoring.candidate_from_image(encoder, image, device, image_id, needs(name))` per image,
then `rank(name, candidates, seed, batch_size)` → [(image id, score)] best first. For a large
pool keep `summarize(name, candidate, seed)` of each instead (score and, for diverse, the
pooled features; the maps dropped): rank gives the same order.

Definitions (entropies in bits, so in [0, 1]; p = sigmoid of the automatic head's foreground
logit, the identity view's):

- random: a seeded permutation. An image's score is a uniform number in [0, 1) from
  sha256("tessera-random:<seed>:<imageId>"), so an image keeps its place relative to the others
  whatever else is in the pool; rank by score.
- entropy: mean binary entropy of p over every pixel of the image (confident background
  included: an image that is mostly empty and sure of it ranks low).
- boundary: binary entropy summed over the band within BOUNDARY_RADIUS pixels (Chebyshev) of the
  predicted instance edges (pixels whose 4-neighbour has another label in the proposals' labels,
  object-background and object-object), divided by max(band pixels, BOUNDARY_MIN_PIXELS). An
  image without predicted objects has no band and scores 0 (never top), and a lone tiny edge
  cannot make an image top either.
- tta: mean over pixels of the variance (population, over the views) of p under the 8 dihedral
  transforms (4 rotations by 90 degrees, each also mirrored), each mapped back; in [0, 0.25].
- diverse: k-centre greedy on the L2-normalised pooled encoder features, weighted by an
  uncertainty u that counts only where the model predicts objects: binary entropy of p summed
  over the predicted foreground (p >= 0.5) dilated by CONTENT_RADIUS pixels, divided by the
  image's pixels. A field where nothing is predicted has nothing to correct however unsure its
  background is (measured: mean entropy alone spent whole rounds on empty tissue fields, and
  k-centre favours such outliers). The first pick is the most uncertain image; each next pick
  maximises u x d, d = half the Euclidean distance to the nearest image picked so far (in [0,
  1]). The score written is that gain at the pick (u for the first), so scores never increase
  with the rank. When no candidate has any predicted object (u = 0 for all), u = 1 for all:
  pure k-centre. With batch_size, the greedy picks that many; the rest follow by their gain
  against those picks. Exact ties go to the more uncertain, then the smaller image id.

Every ranking breaks exact ties by the smaller image id, and every score is finite (an output
with NaN scores 0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

# The outputs a Candidate can carry (scoring.py computes only those a strategy needs).
FOREGROUND = "foreground"
LABELS = "labels"
FEATURES = "features"
TTA = "tta"
OUTPUTS: FrozenSet[str] = frozenset({FOREGROUND, LABELS, FEATURES, TTA})

BOUNDARY_RADIUS = 2
# diverse's uncertainty region: predicted foreground grown by this many pixels (an object's edge
# and the background just around it are where corrections happen).
CONTENT_RADIUS = 4
# About the band of one object 16 pixels across (perimeter 50 x band 5).
BOUNDARY_MIN_PIXELS = 256
PROBABILITY_EPSILON = 1e-6

Ranking = List[Tuple[int, float]]


@dataclass
class Candidate:
    """One pool image's model outputs. Each strategy reads only what it needs; `score`, when
    set (see summarize), is the image's own score already computed and the maps may be None."""

    image_id: int
    foreground: Optional[np.ndarray] = None  # (H, W) float32 P(foreground), identity view
    labels: Optional[np.ndarray] = None  # (H, W) int32 instance labels of the proposals, 0 = none
    features: Optional[np.ndarray] = None  # (D,) float32 encoder features pooled over the image
    tta: Optional[np.ndarray] = None  # (T, H, W) float32 P(foreground) per dihedral view, mapped back
    score: Optional[float] = None


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of Bernoulli(p), elementwise (0 at p = 0 or 1, 1 at p = 0.5); NaN → 0."""
    p = np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.0), PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def _finite(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else 0.0


def _require(candidate: Candidate, name: str, strategy: str) -> np.ndarray:
    value = getattr(candidate, name)
    if value is None:
        raise ValueError(f"strategy {strategy!r} needs the candidate's {name} (image {candidate.image_id})")
    return np.asarray(value)


def by_score(candidates: Sequence[Candidate], scores: Sequence[float]) -> Ranking:
    """Highest score first, ties to the smaller image id."""
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i].image_id))
    return [(int(candidates[i].image_id), float(scores[i])) for i in order]


class ImageStrategy:
    """The contract: `score` one image from its outputs (`needs` names them); `order` ranks all
    candidates given their scores (by score unless the strategy is a batch one)."""

    name = ""
    needs: FrozenSet[str] = frozenset()

    def score(self, candidate: Candidate, seed: int) -> float:
        raise NotImplementedError

    def order(self, candidates: Sequence[Candidate], scores: Sequence[float], seed: int,
              batch_size: Optional[int]) -> Ranking:
        return by_score(candidates, scores)


class RandomStrategy(ImageStrategy):
    name = "random"
    needs: FrozenSet[str] = frozenset()

    def score(self, candidate: Candidate, seed: int) -> float:
        digest = hashlib.sha256(f"tessera-random:{seed}:{candidate.image_id}".encode()).hexdigest()
        return int(digest[:13], 16) / float(16 ** 13)


class EntropyStrategy(ImageStrategy):
    name = "entropy"
    needs = frozenset({FOREGROUND})

    def score(self, candidate: Candidate, seed: int) -> float:
        probability = _require(candidate, FOREGROUND, self.name)
        return _finite(binary_entropy(probability).mean()) if probability.size else 0.0


def instance_edges(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (the image's border is no edge)."""
    padded = np.pad(labels, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    edges = np.zeros(labels.shape, dtype=bool)
    for neighbour in (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
        edges |= neighbour != centre
    return edges


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (Chebyshev) dilation by radius pixels, separable."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        length = out.shape[axis]
        for shift in range(1, min(radius, length - 1) + 1):
            ahead = [slice(None)] * 2
            behind = [slice(None)] * 2
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(ahead)] |= out[tuple(behind)]
            grown[tuple(behind)] |= out[tuple(ahead)]
        out = grown
    return out


def boundary_band(labels: np.ndarray, radius: int = BOUNDARY_RADIUS) -> np.ndarray:
    return dilate(instance_edges(labels), radius)


class BoundaryStrategy(ImageStrategy):
    name = "boundary"
    needs = frozenset({FOREGROUND, LABELS})

    def score(self, candidate: Candidate, seed: int) -> float:
        probability = _require(candidate, FOREGROUND, self.name)
        labels = _require(candidate, LABELS, self.name)
        if labels.shape != probability.shape:
            raise ValueError(f"image {candidate.image_id}: labels {labels.shape} and foreground {probability.shape} differ")
        band = boundary_band(labels)
        total = float(binary_entropy(probability[band]).sum()) if band.any() else 0.0
        return _finite(total / max(int(band.sum()), BOUNDARY_MIN_PIXELS))


class TtaStrategy(ImageStrategy):
    name = "tta"
    needs = frozenset({TTA})

    def score(self, candidate: Candidate, seed: int) -> float:
        views = np.nan_to_num(_require(candidate, TTA, self.name).astype(np.float64), nan=0.5)
        if views.ndim != 3 or views.shape[0] < 2:
            raise ValueError(f"image {candidate.image_id}: tta should be (views >= 2, H, W), got {views.shape}")
        return _finite(views.var(axis=0).mean()) if views[0].size else 0.0


def object_uncertainty(probability: np.ndarray) -> float:
    """Binary entropy of p over the predicted foreground grown by CONTENT_RADIUS, per image pixel."""
    probability = np.nan_to_num(np.asarray(probability, dtype=np.float64), nan=0.0)
    if probability.size == 0:
        return 0.0
    region = dilate(probability >= 0.5, CONTENT_RADIUS)
    return _finite(binary_entropy(probability)[region].sum() / probability.size) if region.any() else 0.0


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    features = np.nan_to_num(np.asarray(features, dtype=np.float64))
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


class DiverseStrategy(ImageStrategy):
    name = "diverse"
    needs = frozenset({FOREGROUND, FEATURES})

    def score(self, candidate: Candidate, seed: int) -> float:
        """The uncertainty u (object_uncertainty); the gain written in the ranking comes from order."""
        return object_uncertainty(_require(candidate, FOREGROUND, self.name))

    def order(self, candidates: Sequence[Candidate], scores: Sequence[float], seed: int,
              batch_size: Optional[int]) -> Ranking:
        count = len(candidates)
        if count == 0:
            return []
        # Sorted once by (-u, id): argmax then returns the first of equal gains, the tie rule.
        order = sorted(range(count), key=lambda i: (-scores[i], candidates[i].image_id))
        ids = np.array([candidates[i].image_id for i in order], dtype=np.int64)
        uncertainty = np.array([scores[i] for i in order], dtype=np.float64)
        if not (uncertainty > 0).any():
            uncertainty = np.ones(count, dtype=np.float64)
        rows = [_require(candidates[i], FEATURES, self.name).reshape(-1) for i in order]
        if len({row.size for row in rows}) != 1:
            raise ValueError("diverse: the candidates' features differ in length")
        features = unit_rows(np.stack(rows))
        picks = count if batch_size is None else max(1, min(int(batch_size), count))
        nearest = np.ones(count, dtype=np.float64)  # d to the picks so far (1 before the first)
        free = np.ones(count, dtype=bool)
        ranking: Ranking = []
        for _ in range(picks):
            gain = np.where(free, uncertainty * nearest, -1.0)
            best = int(np.argmax(gain))
            ranking.append((int(ids[best]), _finite(gain[best])))
            free[best] = False
            distance = np.linalg.norm(features - features[best], axis=1) / 2.0
            np.minimum(nearest, distance, out=nearest)
        rest = np.flatnonzero(free)
        gains = uncertainty[rest] * nearest[rest]
        # Stable sort keeps the (-u, id) order among equal gains.
        for index in rest[np.argsort(-gains, kind="stable")]:
            ranking.append((int(ids[index]), _finite(uncertainty[index] * nearest[index])))
        return ranking


STRATEGIES: Dict[str, ImageStrategy] = {
    strategy.name: strategy
    for strategy in (RandomStrategy(), EntropyStrategy(), BoundaryStrategy(), TtaStrategy(), DiverseStrategy())
}
STRATEGY_NAMES: Tuple[str, ...] = tuple(STRATEGIES)


def get_strategy(name: str) -> ImageStrategy:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(STRATEGY_NAMES)})")
    return STRATEGIES[name]


def needs(strategy: str) -> FrozenSet[str]:
    """The outputs (FOREGROUND, LABELS, FEATURES, TTA) the strategy reads from a Candidate."""
    return get_strategy(strategy).needs


def image_score(strategy: str, candidate: Candidate, seed: int = 0) -> float:
    """The strategy's score of one image (the precomputed one when the candidate carries it)."""
    if candidate.score is not None:
        return _finite(candidate.score)
    return _finite(get_strategy(strategy).score(candidate, seed))


def summarize(strategy: str, candidate: Candidate, seed: int = 0) -> Candidate:
    """What rank still needs of a candidate: its score and, for a strategy that reads them when
    ordering, its pooled features; the maps are dropped (a pool can hold thousands of images)."""
    keep_features = FEATURES in get_strategy(strategy).needs
    return replace(candidate, foreground=None, labels=None, tta=None,
                   features=candidate.features if keep_features else None,
                   score=image_score(strategy, candidate, seed))


def rank(strategy: str, candidates: Sequence[Candidate], seed: int = 0, batch_size: Optional[int] = None) -> Ranking:
    """(image id, score) of every candidate, best first (rank 1 = label first). seed matters to
    'random' only; batch_size to 'diverse' only (greedy picks; None = a greedy full order)."""
    chosen = get_strategy(strategy)
    ids = [candidate.image_id for candidate in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("rank: an image id appears twice among the candidates")
    scores = [image_score(strategy, candidate, seed) for candidate in candidates]
    return chosen.order(candidates, scores, seed, batch_size)
