import json
import unittest
from pathlib import Path

import numpy as np

from tessera_trainer.normalization import channel_stats, normalization_range, normalize_image

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "ml" / "fixtures" / "normalization.json"


class NormalizationFixtureTest(unittest.TestCase):
    """The fixture that shared/ml/normalization.test.ts checks the TypeScript side against."""

    def test_python_reproduces_the_shared_fixture(self):
        cases = json.loads(FIXTURE.read_text())["cases"]
        self.assertGreaterEqual(len(cases), 5)
        dtypes = {case["dtype"] for case in cases}
        self.assertEqual(dtypes, {"uint8", "uint16", "float32"})
        self.assertTrue(any(case["channels"] > 1 and case["dtype"] == dtype for case in cases for dtype in dtypes))
        self.assertTrue(any(isinstance(v, str) for case in cases for v in case["pixels"]), "no NaN or infinity")
        self.assertEqual({case["polarity"] for case in cases}, {"bright", "dark"})
        for case in cases:
            pixels = np.array([float(v) for v in case["pixels"]], dtype=np.dtype(case["dtype"]))
            image = np.moveaxis(pixels.reshape(case["height"], case["width"], case["channels"]), 2, 0)
            stats = [channel_stats(image[c]) for c in range(case["channels"])]
            for ours, theirs in zip(stats, case["stats"]):
                self.assertEqual(ours["percentiles"], theirs["percentiles"], case["name"])
                self.assertEqual((ours["min"], ours["max"]), (theirs["min"], theirs["max"]), case["name"])
            out = normalize_image(image, case["stats"], case["modelChannels"], case["polarity"])
            np.testing.assert_array_equal(out.ravel(), np.array(case["expected"], dtype=np.float32), case["name"])


class NormalizationTest(unittest.TestCase):
    def test_scales_p1_to_0_and_p999_to_1_and_clips(self):
        plane = np.arange(1001, dtype=np.uint16).reshape(1, 7, 143)
        stats = channel_stats(plane[0])
        low, high = normalization_range(stats)
        self.assertEqual(low, 10.0)
        self.assertAlmostEqual(high, 999.0, places=9)
        out = normalize_image(plane, [stats], 2)
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(out.shape, (2, 7, 143))
        self.assertEqual(float(out[0].min()), 0.0)
        self.assertEqual(float(out[0].max()), 1.0)
        self.assertFalse(out[1].any())

    def test_leaves_nan_and_infinities_out_and_maps_nan_to_zero(self):
        plane = np.array([[1.0, np.nan, 3.0, np.inf, -np.inf, 2.0]], dtype=np.float32)
        stats = channel_stats(plane)
        self.assertEqual((stats["min"], stats["max"], stats["mean"]), (1.0, 3.0, 2.0))
        out = normalize_image(plane[None], [stats], 1)[0, 0]
        self.assertTrue(np.isfinite(out).all())
        self.assertEqual(float(out[1]), 0.0)
        self.assertEqual((float(out[3]), float(out[4])), (1.0, 0.0))

    def test_flat_channel_is_zero(self):
        plane = np.full((1, 4, 4), 9, dtype=np.uint8)
        self.assertFalse(normalize_image(plane, [channel_stats(plane[0])], 1).any())
        self.assertFalse(normalize_image(plane, [channel_stats(plane[0])], 1, "dark").any())

    def test_dark_polarity_inverts_the_channels_the_image_has(self):
        plane = np.array([[[10, 200, 90], [30, 250, 60]]], dtype=np.uint8)
        stats = [channel_stats(plane[0])]
        bright = normalize_image(plane, stats, 2)
        dark = normalize_image(plane, stats, 2, "dark")
        np.testing.assert_allclose(dark[0], 1 - bright[0], atol=1e-7)
        self.assertEqual(float(dark[0, 0, 0]), 1.0)  # the darkest pixel comes in brightest
        self.assertFalse(dark[1].any())  # a channel the image lacks stays zero
        with self.assertRaises(ValueError):
            normalize_image(plane, stats, 2, "inverted")


if __name__ == "__main__":
    unittest.main()
