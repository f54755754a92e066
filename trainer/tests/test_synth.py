import unittest

import numpy as np

from tessera_trainer.synth import generate_image, random_synthetic_image


class SyntheticImageTest(unittest.TestCase):
    def test_dtypes_ranges_and_shapes(self):
        for channels in (1, 2):
            for bit_depth, dtype in ((8, np.uint8), (16, np.uint16)):
                sample = generate_image(np.random.default_rng(channels * 10 + bit_depth), 64, 80, channels, bit_depth)
                self.assertEqual(sample.image.dtype, dtype)
                self.assertEqual(sample.image.shape, (channels, 64, 80))
                self.assertEqual(sample.labels.shape, (64, 80))
                self.assertEqual(sample.labels.dtype, np.int32)
                if bit_depth == 16:
                    # 16-bit images use more than the 8-bit range.
                    self.assertGreater(int(sample.image[0].max()), 255)

    def test_labels_are_consecutive_and_objects_are_brighter_than_background(self):
        rng = np.random.default_rng(4)
        for _ in range(6):
            sample = random_synthetic_image(rng, 96, 96)
            count = int(sample.labels.max())
            self.assertGreater(count, 0)
            np.testing.assert_array_equal(np.unique(sample.labels), np.arange(count + 1))
            plane = sample.image[0].astype(np.float64)
            self.assertGreater(plane[sample.labels > 0].mean(), plane[sample.labels == 0].mean())

    def test_touching_objects_occur(self):
        rng = np.random.default_rng(9)
        touching = 0
        for _ in range(5):
            labels = random_synthetic_image(rng, 128, 128).labels
            a, b = labels[:, :-1], labels[:, 1:]
            touching += int(((a > 0) & (b > 0) & (a != b)).sum())
        self.assertGreater(touching, 0)

    def test_same_seed_same_image(self):
        first = random_synthetic_image(np.random.default_rng(123), 64, 64)
        second = random_synthetic_image(np.random.default_rng(123), 64, 64)
        third = random_synthetic_image(np.random.default_rng(124), 64, 64)
        np.testing.assert_array_equal(first.image, second.image)
        np.testing.assert_array_equal(first.labels, second.labels)
        self.assertFalse(np.array_equal(first.labels, third.labels))

    def test_rejects_unsupported_formats(self):
        with self.assertRaises(ValueError):
            generate_image(np.random.default_rng(0), 32, 32, channels=3)
        with self.assertRaises(ValueError):
            generate_image(np.random.default_rng(0), 32, 32, bit_depth=12)


if __name__ == "__main__":
    unittest.main()
