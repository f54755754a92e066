"""Active learning's strategies on crafted model outputs: a confident image ranks below an
uncertain one (entropy, boundary, tta); an image without predicted objects is not boundary's
top; diverse spreads a batch over distinct clusters; random is reproducible by seed; every score
is finite; summaries rank as the full outputs do."""

import unittest

import numpy as np

from tessera_trainer.strategies import (
    BOUNDARY_MIN_PIXELS,
    STRATEGY_NAMES,
    Candidate,
    binary_entropy,
    boundary_band,
    image_score,
    instance_edges,
    needs,
    rank,
    summarize,
)

SIZE = 48


def disc_labels(centres, radius: float = 6.0) -> np.ndarray:
    rows, cols = np.indices((SIZE, SIZE))
    labels = np.zeros((SIZE, SIZE), dtype=np.int32)
    for index, (y, x) in enumerate(centres, start=1):
        labels[(rows - y) ** 2 + (cols - x) ** 2 <= radius**2] = index
    return labels


def crafted(image_id: int, inside: float, outside: float, spread: float, rng: np.random.Generator,
            centres=((12, 12), (30, 34)), features=None) -> Candidate:
    """Objects at `centres` with P(foreground) `inside`, background `outside`; 8 views that
    disagree by +-spread; pooled features as given (else random)."""
    labels = disc_labels(centres)
    foreground = np.where(labels > 0, inside, outside).astype(np.float32)
    signs = np.where(rng.random((8, SIZE, SIZE)) < 0.5, -1.0, 1.0)
    tta = np.clip(foreground[None] + spread * signs, 0.0, 1.0).astype(np.float32)
    vector = rng.normal(size=16) if features is None else np.asarray(features, dtype=np.float64)
    return Candidate(image_id=image_id, foreground=foreground, labels=labels, features=vector.astype(np.float32), tta=tta)


class ConfidentBelowUncertainTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.confident = crafted(1, 0.99, 0.01, 0.005, rng)
        self.uncertain = crafted(2, 0.6, 0.4, 0.3, rng)
        self.middling = crafted(3, 0.9, 0.1, 0.1, rng)

    def test_entropy_boundary_and_tta_rank_the_uncertain_image_first(self):
        for strategy in ("entropy", "boundary", "tta", "diverse"):
            with self.subTest(strategy=strategy):
                ranking = rank(strategy, [self.confident, self.uncertain, self.middling], seed=0)
                self.assertEqual([image_id for image_id, _ in ranking], [2, 3, 1])
                scores = [score for _, score in ranking]
                self.assertTrue(all(np.isfinite(scores)))
                self.assertGreater(scores[0], scores[2])

    def test_scales(self):
        self.assertAlmostEqual(float(binary_entropy(np.array(0.5))), 1.0)
        self.assertAlmostEqual(float(binary_entropy(np.array(0.0))), 0.0, places=4)
        flat = Candidate(image_id=9, foreground=np.full((8, 8), 0.5, np.float32))
        self.assertAlmostEqual(image_score("entropy", flat), 1.0)
        views = np.zeros((8, 4, 4), np.float32)
        views[::2] = 1.0  # half the views say yes, half no: the largest variance
        self.assertAlmostEqual(image_score("tta", Candidate(image_id=9, tta=views)), 0.25)
        same = Candidate(image_id=9, tta=np.full((8, 4, 4), 0.3, np.float32))
        self.assertAlmostEqual(image_score("tta", same), 0.0)

    def test_boundary_looks_near_the_edges_only(self):
        # Same probabilities near the edges, more entropy far from them: the same boundary score.
        quiet = crafted(4, 0.99, 0.01, 0.0, np.random.default_rng(1))
        noisy = crafted(5, 0.99, 0.01, 0.0, np.random.default_rng(1))
        band = boundary_band(noisy.labels)
        noisy.foreground = np.where(band, noisy.foreground, 0.5).astype(np.float32)
        self.assertAlmostEqual(image_score("boundary", quiet), image_score("boundary", noisy), places=6)
        self.assertGreater(image_score("entropy", noisy), image_score("entropy", quiet))

    def test_an_image_without_objects_or_with_a_speck_is_not_boundary_top(self):
        empty_uncertain = Candidate(image_id=6, foreground=np.full((SIZE, SIZE), 0.45, np.float32),
                                    labels=np.zeros((SIZE, SIZE), np.int32))
        speck_labels = np.zeros((SIZE, SIZE), np.int32)
        speck_labels[20, 20] = 1
        speck = Candidate(image_id=7, foreground=np.full((SIZE, SIZE), 0.5, np.float32), labels=speck_labels)
        self.assertEqual(image_score("boundary", empty_uncertain), 0.0)
        # A one-pixel object: its edges are it and its 4 neighbours; the band (7 x 7 less the
        # corners) is of full entropy and is divided by the floor.
        self.assertEqual(int(boundary_band(speck_labels).sum()), 45)
        self.assertAlmostEqual(image_score("boundary", speck), 45 / BOUNDARY_MIN_PIXELS, places=5)
        ranking = rank("boundary", [empty_uncertain, speck, self.uncertain], seed=0)
        self.assertEqual(ranking[0][0], 2)
        self.assertEqual(ranking[-1][0], 6)

    def test_edges_and_band(self):
        labels = np.zeros((7, 7), np.int32)
        labels[2:5, 2:5] = 1
        labels[2:5, 5] = 2
        edges = instance_edges(labels)
        self.assertFalse(edges[3, 3])  # inside
        self.assertTrue(edges[2, 2] and edges[1, 2] and edges[3, 4] and edges[3, 5])
        self.assertFalse(edges[0, 0])
        band = boundary_band(labels, 1)
        self.assertTrue(band[0, 1] and band[1, 0])  # next to the edge pixels (1, 2) and (2, 1)
        self.assertFalse(band[0, 0])
        self.assertFalse(boundary_band(np.zeros((5, 5), np.int32)).any())


class DiverseTest(unittest.TestCase):
    def test_ten_near_duplicates_and_three_distinct_fields_the_first_four_picks_cover_all(self):
        rng = np.random.default_rng(2)
        hard = rng.normal(size=16)
        candidates = [crafted(100 + i, 0.55, 0.45, 0.0, rng, features=hard + 0.01 * rng.normal(size=16)) for i in range(10)]
        for i in range(3):
            candidates.append(crafted(200 + i, 0.85, 0.15, 0.0, rng, features=rng.normal(size=16) * 3))
        order = [image_id for image_id, _ in rank("diverse", candidates, seed=0)]
        self.assertEqual(sorted(order), sorted(c.image_id for c in candidates))
        first = order[:4]
        self.assertEqual(sum(1 for i in first if 100 <= i < 110), 1, first)
        self.assertEqual(sorted(i for i in first if i >= 200), [200, 201, 202])
        # The most uncertain first; entropy alone would spend the batch on the duplicates.
        self.assertLess(first[0], 200)
        self.assertTrue(all(i < 200 for i, _ in rank("entropy", candidates, seed=0)[:4]))

    def test_gains_never_increase_and_a_batch_size_keeps_the_greedy_picks(self):
        rng = np.random.default_rng(3)
        candidates = [crafted(i, rng.uniform(0.5, 0.99), rng.uniform(0.01, 0.5), 0.0, rng) for i in range(20)]
        full = rank("diverse", candidates, seed=0)
        scores = [score for _, score in full]
        self.assertTrue(all(a >= b - 1e-12 for a, b in zip(scores, scores[1:])), scores)
        self.assertAlmostEqual(scores[0], max(image_score("diverse", c) for c in candidates))
        batch = rank("diverse", candidates, seed=0, batch_size=5)
        self.assertEqual(batch[:5], full[:5])
        self.assertEqual(sorted(i for i, _ in batch), list(range(20)))

    def test_an_empty_field_is_not_picked_however_unsure_its_background(self):
        rng = np.random.default_rng(4)
        # Nothing predicted (p < 0.5 everywhere) but very unsure: entropy's top, not diverse's.
        empty = Candidate(image_id=1, foreground=np.full((SIZE, SIZE), 0.45, np.float32),
                          features=rng.normal(size=16).astype(np.float32))
        objects = crafted(2, 0.7, 0.2, 0.0, rng)
        self.assertEqual(rank("entropy", [empty, objects], seed=0)[0][0], 1)
        self.assertEqual([i for i, _ in rank("diverse", [empty, objects], seed=0)], [2, 1])
        self.assertEqual(image_score("diverse", empty), 0.0)
        # Where no image has predicted objects, diverse still spreads by features alone.
        far = rng.normal(size=16) * 5
        blank = [Candidate(image_id=10 + i, foreground=np.full((8, 8), 0.3, np.float32),
                           features=(far if i == 2 else np.ones(16) + 0.01 * i).astype(np.float32)) for i in range(3)]
        self.assertEqual([i for i, _ in rank("diverse", blank, seed=0, batch_size=2)][:2], [10, 12])

    def test_exact_duplicates_and_zero_features(self):
        same = [Candidate(image_id=i, foreground=np.full((4, 4), 0.5, np.float32), features=np.zeros(4, np.float32))
                for i in (3, 1, 2)]
        self.assertEqual([i for i, _ in rank("diverse", same, seed=0)], [1, 2, 3])


class RandomTest(unittest.TestCase):
    def test_reproducible_by_seed_and_independent_of_the_pool(self):
        candidates = [Candidate(image_id=i) for i in range(50)]
        first = rank("random", candidates, seed=7)
        self.assertEqual(first, rank("random", list(reversed(candidates)), seed=7))
        self.assertNotEqual([i for i, _ in first], [i for i, _ in rank("random", candidates, seed=8)])
        self.assertNotEqual([i for i, _ in first], list(range(50)))
        # Dropping images (labelled since) keeps the others' relative order.
        kept = [i for i, _ in first if i % 3]
        self.assertEqual([i for i, _ in rank("random", [c for c in candidates if c.image_id % 3], seed=7)], kept)
        self.assertTrue(all(0.0 <= score < 1.0 for _, score in first))
        self.assertEqual(needs("random"), frozenset())


class ContractTest(unittest.TestCase):
    def test_scores_are_finite_even_for_nan_outputs(self):
        broken = Candidate(image_id=1, foreground=np.full((SIZE, SIZE), np.nan, np.float32),
                           labels=disc_labels([(20, 20)]), features=np.full(16, np.nan, np.float32),
                           tta=np.full((8, SIZE, SIZE), np.nan, np.float32))
        fine = crafted(2, 0.7, 0.3, 0.2, np.random.default_rng(4))
        for strategy in STRATEGY_NAMES:
            with self.subTest(strategy=strategy):
                ranking = rank(strategy, [broken, fine], seed=0)
                self.assertEqual(sorted(i for i, _ in ranking), [1, 2])
                self.assertTrue(all(np.isfinite(score) for _, score in ranking))

    def test_summaries_rank_as_the_full_outputs(self):
        rng = np.random.default_rng(5)
        candidates = [crafted(i, rng.uniform(0.5, 1.0), rng.uniform(0.0, 0.5), rng.uniform(0, 0.3), rng) for i in range(12)]
        for strategy in STRATEGY_NAMES:
            with self.subTest(strategy=strategy):
                summaries = [summarize(strategy, c, seed=3) for c in candidates]
                self.assertTrue(all(s.foreground is None and s.labels is None and s.tta is None for s in summaries))
                self.assertEqual(rank(strategy, summaries, seed=3), rank(strategy, candidates, seed=3))

    def test_needs_and_refusals(self):
        self.assertEqual(STRATEGY_NAMES, ("random", "entropy", "boundary", "tta", "diverse"))
        self.assertEqual(needs("boundary"), frozenset({"foreground", "labels"}))
        self.assertEqual(needs("tta"), frozenset({"tta"}))
        self.assertEqual(needs("diverse"), frozenset({"foreground", "features"}))
        with self.assertRaises(ValueError):
            rank("uncertainty", [], seed=0)
        with self.assertRaises(ValueError):
            rank("tta", [Candidate(image_id=1, foreground=np.zeros((2, 2)))], seed=0)
        with self.assertRaises(ValueError):
            rank("entropy", [Candidate(image_id=1, score=0.1), Candidate(image_id=1, score=0.2)], seed=0)
        self.assertEqual(rank("diverse", [], seed=0), [])


if __name__ == "__main__":
    unittest.main()
