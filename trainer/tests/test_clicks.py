import unittest

import numpy as np

from tessera_trainer.clicks import (
    Click,
    apply_clicks,
    clicks_to_reach,
    distance_transform,
    encode_clicks,
    first_click,
    next_click,
    random_interior_click,
)


def brute_force_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of each inside pixel to the nearest outside pixel, the border counting as outside."""
    height, width = mask.shape
    padded = np.zeros((height + 2, width + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    outside = np.argwhere(~padded)
    out = np.zeros(mask.shape, dtype=np.float32)
    for y, x in np.argwhere(mask):
        out[y, x] = np.sqrt(((outside - [y + 1, x + 1]) ** 2).sum(1).min())
    return out


def disc(height: int, width: int, cy: float, cx: float, radius: float) -> np.ndarray:
    ys, xs = np.indices((height, width))
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2


class DistanceTransformTest(unittest.TestCase):
    def test_equals_brute_force_on_random_masks(self):
        rng = np.random.default_rng(3)
        for _ in range(60):
            height, width = rng.integers(1, 16, 2)
            mask = rng.random((height, width)) < rng.random()
            np.testing.assert_array_equal(distance_transform(mask), brute_force_distance(mask))

    def test_counts_the_image_border_as_background(self):
        mask = np.ones((5, 9), dtype=bool)
        self.assertEqual(float(distance_transform(mask).max()), 3.0)


class FirstClickTest(unittest.TestCase):
    def test_lands_inside_at_the_largest_distance(self):
        rng = np.random.default_rng(5)
        for _ in range(20):
            mask = disc(40, 50, rng.uniform(10, 30), rng.uniform(10, 40), rng.uniform(3, 9))
            mask |= disc(40, 50, rng.uniform(10, 30), rng.uniform(10, 40), rng.uniform(3, 9))
            click = first_click(mask)
            distance = brute_force_distance(mask)
            self.assertTrue(click.positive)
            self.assertTrue(mask[click.y, click.x])
            self.assertEqual(distance[click.y, click.x], distance.max())

    def test_empty_mask_gives_no_click(self):
        self.assertIsNone(first_click(np.zeros((8, 8), dtype=bool)))

    def test_random_interior_click_stays_well_inside(self):
        mask = disc(40, 40, 20, 20, 10)
        distance = distance_transform(mask)
        rng = np.random.default_rng(0)
        for _ in range(20):
            click = random_interior_click(mask, rng)
            self.assertGreaterEqual(distance[click.y, click.x], 0.4 * distance.max())


class NextClickTest(unittest.TestCase):
    def test_positive_click_in_the_largest_missed_region(self):
        target = np.zeros((40, 60), dtype=bool)
        target[5:35, 5:55] = True
        prediction = target.copy()
        prediction[10:30, 30:52] = False  # a big miss
        prediction[6:9, 6:9] = False  # a small miss
        click = next_click(target, prediction)
        self.assertTrue(click.positive)
        self.assertTrue(10 <= click.y < 30 and 30 <= click.x < 52)

    def test_negative_click_in_the_largest_false_region(self):
        target = disc(50, 50, 25, 25, 8)
        prediction = target | disc(50, 50, 10, 40, 7)  # a false blob bigger than any miss
        prediction[25, 25] = False
        click = next_click(target, prediction)
        self.assertFalse(click.positive)
        self.assertFalse(target[click.y, click.x])
        self.assertTrue(prediction[click.y, click.x])

    def test_ties_go_to_the_missed_region_and_agreement_gives_none(self):
        target = np.zeros((9, 9), dtype=bool)
        target[1, 1] = True
        prediction = np.zeros((9, 9), dtype=bool)
        prediction[7, 7] = True
        self.assertEqual(next_click(target, prediction), Click(x=1, y=1, positive=True))
        self.assertIsNone(next_click(target, target))


class ApplyClicksTest(unittest.TestCase):
    def test_clicked_pixels_follow_their_clicks_and_the_later_click_wins(self):
        prediction = np.zeros((6, 6), dtype=bool)
        prediction[1:4, 1:4] = True
        clicks = [Click(x=5, y=5, positive=True), Click(x=2, y=2, positive=True), Click(x=2, y=2, positive=False)]
        out = apply_clicks(prediction, clicks)
        self.assertTrue(out[5, 5])
        self.assertFalse(out[2, 2])
        # Only the clicked pixels change, and the prediction itself is left as it was.
        self.assertEqual(int((out != prediction).sum()), 2)
        self.assertTrue(prediction[2, 2])

    def test_the_next_simulated_click_moves_on_once_a_click_is_applied(self):
        # A one-pixel miss the decoder ignores: without consistency the same click repeats forever.
        target = np.zeros((8, 8), dtype=bool)
        target[2:6, 2:6] = True
        prediction = target.copy()
        prediction[2, 2] = False
        click = next_click(target, prediction)
        self.assertEqual(click, Click(x=2, y=2, positive=True))
        self.assertIsNone(next_click(target, apply_clicks(prediction, [click])))


class EncodeClicksTest(unittest.TestCase):
    def test_gaussian_peaks_at_the_click_cell_in_its_channel(self):
        maps = encode_clicks([Click(x=21, y=9, positive=True), Click(x=2, y=30, positive=False)], 10, 8, 4)
        self.assertEqual(maps.shape, (2, 10, 8))
        self.assertEqual(maps.dtype, np.float32)
        self.assertEqual(np.unravel_index(maps[0].argmax(), maps[0].shape), (2, 5))
        self.assertEqual(np.unravel_index(maps[1].argmax(), maps[1].shape), (7, 0))
        # Click centre (21.5, 9.5) is 0.5 px from cell (2, 5)'s centre (22, 10) in each axis.
        self.assertAlmostEqual(float(maps[0, 2, 5]), float(np.exp(-0.5 / 18)), places=6)
        self.assertLess(float(maps[0, 7, 0]), 1e-6)

    def test_no_clicks_gives_zero_maps(self):
        self.assertFalse(encode_clicks([], 4, 4, 4).any())


class ClicksToReachTest(unittest.TestCase):
    def test_counts_until_the_threshold_and_caps(self):
        self.assertEqual(clicks_to_reach([0.5, 0.86, 0.95], 0.85, 20), 2)
        self.assertEqual(clicks_to_reach([0.5, 0.6], 0.85, 20), 20)


if __name__ == "__main__":
    unittest.main()
