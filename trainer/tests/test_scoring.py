"""Scoring's model outputs on a tiny randomly initialised encoder: the tiling of the browser
(imageSession.ts planTiles), the dihedral views and their inverses, and each output of a
Candidate against the encoder run by hand (whole image, tiles, views)."""

import unittest

import numpy as np
import torch

from tessera_trainer.evaluate import encode_image
from tessera_trainer.model import ModelConfig, build_networks
from tessera_trainer.proposals import propose_instances, sigmoid
from tessera_trainer.scoring import candidate_from_image, dihedral, plan_tiles, tile_starts, undo_dihedral
from tessera_trainer.strategies import OUTPUTS, STRATEGY_NAMES, needs, rank, summarize

TINY = ModelConfig(widths=(4, 8, 8, 8), feature_channels=8, detail_channels=4, decoder_width=8)
CPU = torch.device("cpu")


class TilingTest(unittest.TestCase):
    def test_as_the_browser_tiles(self):
        self.assertEqual(tile_starts(300, 512, 64), [0])
        self.assertEqual(tile_starts(1200, 512, 64), [0, 448, 688])
        tiles = plan_tiles(1200, 1000)
        self.assertEqual(len(tiles), 9)
        # Cores split each overlap in its middle (Math.round), rows then columns.
        self.assertEqual([(t.core_top, t.core_bottom) for t in tiles[::3]], [(0, 480), (480, 824), (824, 1200)])
        self.assertEqual([(t.left, t.core_left, t.core_right) for t in tiles[:3]], [(0, 0, 480), (448, 480, 724), (488, 724, 1000)])
        cover = np.zeros((1200, 1000), np.int32)
        for t in tiles:
            self.assertEqual((t.height, t.width), (512, 512))
            self.assertTrue(t.top <= t.core_top < t.core_bottom <= t.top + t.height)
            self.assertTrue(t.left <= t.core_left < t.core_right <= t.left + t.width)
            cover[t.core_top : t.core_bottom, t.core_left : t.core_right] += 1
        self.assertTrue((cover == 1).all())
        (whole,) = plan_tiles(40, 700, 512, 64)[:1]
        self.assertEqual((whole.height, whole.core_bottom), (40, 40))

    def test_dihedral_views_and_their_inverses(self):
        array = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
        views = [dihedral(array, k) for k in range(8)]
        self.assertEqual(len({v.tobytes() for v in views}), 8)
        for k, view in enumerate(views):
            self.assertEqual(view.shape, (2, 3, 5) if k % 2 == 0 else (2, 5, 3))
            np.testing.assert_array_equal(undo_dihedral(view, k), array)


class CandidateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        torch.manual_seed(0)
        cls.encoder, _ = build_networks(TINY)
        cls.encoder.eval()
        rng = np.random.default_rng(1)
        cls.image = rng.random((2, 40, 56)).astype(np.float32)

    def run_encoder(self, image):
        features, _, foreground, distance = encode_image(self.encoder, np.ascontiguousarray(image), CPU)
        return features, foreground, distance

    def test_a_small_image_runs_whole(self):
        candidate = candidate_from_image(self.encoder, self.image, CPU, image_id=5)
        features, foreground, distance = self.run_encoder(self.image)
        self.assertEqual(candidate.image_id, 5)
        np.testing.assert_allclose(candidate.foreground, sigmoid(foreground.astype(np.float64)), atol=1e-6)
        np.testing.assert_array_equal(candidate.labels, propose_instances(foreground, distance).labels)
        # Pooled over the cells of the image (10 x 14), not the padding.
        expected = features[0, :, :10, :14].mean(dim=(1, 2)).numpy()
        np.testing.assert_allclose(candidate.features, expected, rtol=1e-5, atol=1e-6)
        self.assertEqual(candidate.tta.shape, (8, 40, 56))
        np.testing.assert_allclose(candidate.tta[0], candidate.foreground, atol=1e-6)
        for view in (1, 5):  # a rotation, a mirrored rotation (both swap height and width)
            _, logits, _ = self.run_encoder(dihedral(self.image, view))
            np.testing.assert_allclose(candidate.tta[view], undo_dihedral(sigmoid(logits.astype(np.float64)), view),
                                       atol=1e-5)

    def test_large_images_are_tiled_and_each_core_comes_from_its_window(self):
        image = np.random.default_rng(2).random((2, 80, 100)).astype(np.float32)
        candidate = candidate_from_image(self.encoder, image, CPU, needs={"foreground"}, tile_size=48, tile_overlap=16)
        tiles = plan_tiles(80, 100, 48, 16)
        self.assertGreater(len(tiles), 4)
        for tile in tiles:
            window = image[:, tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
            _, logits, _ = self.run_encoder(window)
            core = (slice(tile.core_top, tile.core_bottom), slice(tile.core_left, tile.core_right))
            local = (slice(tile.core_top - tile.top, tile.core_bottom - tile.top),
                     slice(tile.core_left - tile.left, tile.core_right - tile.left))
            np.testing.assert_allclose(candidate.foreground[core], sigmoid(logits[local].astype(np.float64)), atol=1e-6)
        tiled = candidate_from_image(self.encoder, image, CPU, needs=OUTPUTS, tile_size=48, tile_overlap=16)
        self.assertEqual((tiled.labels.shape, tiled.tta.shape, tiled.features.shape), ((80, 100), (8, 80, 100), (8,)))
        np.testing.assert_allclose(tiled.foreground, candidate.foreground, atol=1e-6)  # batched views: rounding

    def test_only_what_the_strategy_needs_and_a_ranking_for_each(self):
        rng = np.random.default_rng(3)
        images = [rng.random((2, 32, 48)).astype(np.float32) * scale for scale in (0.2, 1.0, 3.0)]
        for strategy in STRATEGY_NAMES:
            with self.subTest(strategy=strategy):
                wanted = needs(strategy)
                candidates = [candidate_from_image(self.encoder, image, CPU, 10 + i, wanted) for i, image in enumerate(images)]
                for name in OUTPUTS:
                    self.assertEqual(getattr(candidates[0], name) is not None, name in wanted, name)
                ranking = rank(strategy, [summarize(strategy, c, seed=1) for c in candidates], seed=1)
                self.assertEqual(sorted(i for i, _ in ranking), [10, 11, 12])
                self.assertTrue(all(np.isfinite(score) for _, score in ranking))
        with self.assertRaises(ValueError):
            candidate_from_image(self.encoder, images[0], CPU, needs={"logits"})
        with self.assertRaises(ValueError):
            candidate_from_image(self.encoder, images[0][:1], CPU)


if __name__ == "__main__":
    unittest.main()
