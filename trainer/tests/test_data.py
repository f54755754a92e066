import tempfile
import unittest
from pathlib import Path

import numpy as np

from tessera_trainer.data import (
    TrainingSampler,
    is_held_out,
    load_labelled_folder,
    median_object_contrast,
    normalized_distance,
    object_table,
    polarity_for,
    prepare_image,
    sample_crop,
)
from tessera_trainer.normalization import normalize_with_own_stats
from tessera_trainer.png import _read_png_pure, read_png, write_png
from tessera_trainer.synth import generate_image


def write_folder(root: Path, count: int, seed: int = 0) -> None:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        sample = generate_image(rng, 48, 64, channels=1, bit_depth=8)
        write_png(root / "images" / f"img{index:02d}.png", sample.image[0])
        write_png(root / "labels" / f"img{index:02d}.png", sample.labels.astype(np.uint16))


class PngTest(unittest.TestCase):
    def test_round_trip_8_and_16_bit_with_both_decoders(self):
        rng = np.random.default_rng(1)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "x.png"
            for dtype in (np.uint8, np.uint16):
                for channels in (1, 2, 3, 4):
                    pixels = rng.integers(0, np.iinfo(dtype).max, (9, 7, channels)).astype(dtype)
                    write_png(path, pixels)
                    np.testing.assert_array_equal(read_png(path), pixels)
                    np.testing.assert_array_equal(_read_png_pure(path.read_bytes()), pixels)

    def test_rejects_files_that_are_not_png(self):
        with self.assertRaises(ValueError):
            _read_png_pure(b"GIF89a not a png")


class HeldOutSplitTest(unittest.TestCase):
    def test_fixed_and_about_a_fifth(self):
        ids = [f"image-{i}" for i in range(2000)]
        held = [i for i in ids if is_held_out(i)]
        self.assertEqual(held, [i for i in ids if is_held_out(i)])
        self.assertTrue(0.17 < len(held) / len(ids) < 0.23)


class LabelledFolderTest(unittest.TestCase):
    def test_loads_both_parts_without_overlap(self):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "set"
            write_folder(root, 12)
            train = load_labelled_folder(root, 2, held_out=False)
            held = load_labelled_folder(root, 2, held_out=True)
            self.assertEqual(len(train) + len(held), 12)
            self.assertFalse({i.image_id for i in train} & {i.image_id for i in held})
            item = train[0]
            self.assertEqual(item.image.shape, (2, 48, 64))
            self.assertEqual(item.image.dtype, np.float32)
            self.assertTrue(0 <= item.image.min() and item.image.max() <= 1)

    def test_16_bit_colour_and_grey_images_load_exactly_with_the_servers_channel_rule(self):
        rng = np.random.default_rng(8)
        labels = np.zeros((6, 9), dtype=np.uint16)
        labels[1:5, 2:7] = 1
        cases = {
            # 16-bit RGB: red and green feed the two model channels, each with its own statistics.
            "rgb16": (rng.integers(0, 65536, (6, 9, 3)).astype(np.uint16), lambda p: p[..., :3]),
            # Grey stored as R = G = B is one channel, as the server keeps it.
            "grey_rgb": (np.repeat(rng.integers(0, 256, (6, 9, 1)).astype(np.uint8), 3, axis=2), lambda p: p[..., :1]),
            # A fully opaque alpha channel is dropped; any other is kept as a channel.
            "opaque_rgba": (np.concatenate([rng.integers(0, 256, (6, 9, 3)), np.full((6, 9, 1), 255)], axis=2).astype(np.uint8),
                            lambda p: p[..., :3]),
            "grey_alpha16": (rng.integers(0, 65536, (6, 9, 2)).astype(np.uint16), lambda p: p),
        }
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "colour"
            (root / "images").mkdir(parents=True)
            (root / "labels").mkdir()
            for name, (pixels, _) in cases.items():
                write_png(root / "images" / f"{name}.png", pixels)
                write_png(root / "labels" / f"{name}.png", labels)
            items = {item.image_id: item for item in load_labelled_folder(root, 2, held_out=None)}
        for name, (pixels, kept) in cases.items():
            raw = np.moveaxis(kept(pixels), 2, 0)
            np.testing.assert_array_equal(items[name].image, normalize_with_own_stats(raw, 2), err_msg=name)
        self.assertFalse(items["grey_rgb"].image[1].any())
        self.assertEqual(float(items["rgb16"].image.max()), 1.0)

    def test_label_of_another_size_names_the_file(self):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "bad"
            write_folder(root, 1)
            write_png(root / "labels" / "img00.png", np.zeros((10, 10), dtype=np.uint16))
            with self.assertRaisesRegex(ValueError, "img00.png"):
                load_labelled_folder(root, 2, held_out=None)


class PolarityTest(unittest.TestCase):
    def test_dark_objects_choose_the_inverted_view_and_bright_ones_keep_theirs(self):
        rng = np.random.default_rng(5)
        samples = [generate_image(rng, 48, 64, channels=1, bit_depth=8) for _ in range(3)]
        bright = [prepare_image(f"b{i}", "t", s.image, s.labels, 2) for i, s in enumerate(samples)]
        dark = [prepare_image(f"d{i}", "t", 255 - s.image, s.labels, 2) for i, s in enumerate(samples)]
        self.assertGreater(median_object_contrast(bright), 0.1)
        self.assertLess(median_object_contrast(dark), -0.1)
        self.assertEqual(polarity_for(median_object_contrast(bright), "bright"), "bright")
        self.assertEqual(polarity_for(median_object_contrast(dark), "bright"), "dark")
        # Dark images prepared inverted show bright objects: a dark base keeps its polarity.
        inverted = [prepare_image(f"i{i}", "t", 255 - s.image, s.labels, 2, "dark") for i, s in enumerate(samples)]
        self.assertEqual(polarity_for(median_object_contrast(inverted), "dark"), "dark")
        # No labelled object says nothing: the polarity stays.
        empty = prepare_image("e", "t", samples[0].image, np.zeros_like(samples[0].labels), 2)
        self.assertIsNone(median_object_contrast([empty]))
        self.assertEqual(polarity_for(None, "dark"), "dark")


class TargetsTest(unittest.TestCase):
    def test_normalised_distance_is_one_at_each_centre_and_zero_outside(self):
        labels = np.zeros((20, 30), dtype=np.int32)
        labels[2:9, 2:9] = 1
        labels[10:19, 12:28] = 2
        distance = normalized_distance(labels)
        self.assertEqual(float(distance[labels == 0].max()), 0.0)
        for label in (1, 2):
            self.assertAlmostEqual(float(distance[labels == label].max()), 1.0)
        table = object_table(labels)
        np.testing.assert_array_equal(table[:, 0], [1, 2])
        np.testing.assert_array_equal(table[:, 3], [49, 144])

    def test_crops_hold_the_chosen_object(self):
        rng = np.random.default_rng(2)
        sample = generate_image(rng, 96, 96)
        item = prepare_image("x", "synthetic", sample.image, sample.labels, 2)
        for _ in range(10):
            crop = sample_crop(item, rng, 64, (0.65, 1.5))
            if crop is None:
                continue
            image, labels, distance, target = crop
            self.assertEqual(image.shape, (2, 64, 64))
            self.assertEqual(labels.shape, (64, 64))
            self.assertGreaterEqual(int(target.sum()), 4)
            self.assertTrue((labels[target] > 0).all())

    def test_sampler_batches(self):
        sampler = TrainingSampler([], np.random.default_rng(0), 2, 64, synthetic_pool=4, synthetic_size=(64, 96))
        batch = sampler.next_batch(3)
        self.assertEqual(tuple(batch.image.shape), (3, 2, 64, 64))
        self.assertEqual(tuple(batch.foreground.shape), (3, 1, 64, 64))
        self.assertEqual(batch.target.shape, (3, 64, 64))
        self.assertTrue(all(t.any() for t in batch.target))


if __name__ == "__main__":
    unittest.main()
