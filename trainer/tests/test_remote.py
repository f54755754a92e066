"""The dataset reader on bytes built here (exact values, the channel rule), the blob cache and the
HTTP client's retry rules, against the in-process fake server."""

import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tessera_trainer.normalization import normalize_with_own_stats
from tessera_trainer.protocol import DatasetItem
from tessera_trainer.remote import BlobCache, DatasetError, LeaseLost, ServerError, WorkerClient, labelled_image
from tessera_trainer.samples import decode_labels, decode_samples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_server import FakeServer  # noqa: E402


def item(width: int, height: int, channels: int, dtype: str) -> DatasetItem:
    return DatasetItem.parse({
        "imageId": 5, "name": "x.tif", "width": width, "height": height, "channels": channels, "dtype": dtype,
        "samples": {"url": "/s", "sha256": "0" * 64, "bytes": 0}, "labels": {"url": "/l", "sha256": "1" * 64, "bytes": 0},
        "instances": [{"label": 1, "classId": 3}], "documentHash": "h",
    })


class DatasetReaderTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(4)
        self.labels = np.zeros((5, 7), dtype=np.uint16)
        self.labels[1:4, 2:6] = 1
        self.labels[0, 0] = 300
        self.label_bytes = self.labels.astype("<u2").tobytes()

    def test_uint8_rgb_exact_and_first_two_channels_for_the_model(self):
        pixels = self.rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)  # (H, W, C) as stored
        raw = decode_samples(pixels.tobytes(), 7, 5, 3, "uint8")
        self.assertEqual(raw.dtype, np.uint8)
        np.testing.assert_array_equal(raw, np.moveaxis(pixels, 2, 0))
        image = labelled_image(item(7, 5, 3, "uint8"), pixels.tobytes(), self.label_bytes, "p", 2)
        # Model channel k = image channel k: red and green, each with its own statistics; blue dropped.
        np.testing.assert_array_equal(image.image, normalize_with_own_stats(np.moveaxis(pixels, 2, 0)[:2], 2))
        np.testing.assert_array_equal(image.labels, self.labels.astype(np.int32))
        self.assertEqual(image.image_id, "5")

    def test_uint16_one_channel_exact_and_a_zero_second_channel(self):
        pixels = self.rng.integers(0, 65536, (5, 7, 1)).astype(np.uint16)
        data = pixels.astype("<u2").tobytes()
        raw = decode_samples(data, 7, 5, 1, "uint16")
        self.assertEqual(raw.dtype, np.uint16)
        np.testing.assert_array_equal(raw[0], pixels[..., 0])
        image = labelled_image(item(7, 5, 1, "uint16"), data, self.label_bytes, "p", 2)
        np.testing.assert_array_equal(image.image[1], np.zeros((5, 7), np.float32))
        np.testing.assert_array_equal(image.image[0], normalize_with_own_stats(raw, 1)[0])

    def test_float32_two_channels_exact(self):
        pixels = self.rng.normal(100, 30, (5, 7, 2)).astype(np.float32)
        pixels[2, 3, 1] = -1.5e-7
        raw = decode_samples(pixels.astype("<f4").tobytes(), 7, 5, 2, "float32")
        self.assertEqual(raw.dtype, np.float32)
        np.testing.assert_array_equal(raw, np.moveaxis(pixels, 2, 0))
        labels = decode_labels(self.label_bytes, 7, 5)
        self.assertEqual(int(labels[0, 0]), 300)

    def test_wrong_sizes_are_data_errors(self):
        with self.assertRaises(DatasetError):
            labelled_image(item(7, 5, 3, "uint8"), b"\0" * 104, self.label_bytes, "p", 2)
        with self.assertRaises(DatasetError):
            labelled_image(item(7, 5, 1, "uint8"), b"\0" * 35, self.label_bytes[:-2], "p", 2)
        with self.assertRaises(DatasetError):
            labelled_image(item(7, 5, 1, "int8"), b"\0" * 35, self.label_bytes, "p", 2)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = FakeServer().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def setUp(self):
        self.server.requests.clear()
        self.server.script.clear()
        self.sleeps = []
        self.client = WorkerClient(self.server.url, "secret", retries=3, sleep=self.sleeps.append)

    def progress(self):
        return {"attempt": 1, "progress": {"phase": "train", "step": 0, "totalSteps": 1, "loss": None,
                                           "validation": None, "etaSeconds": None}, "history": [], "log": []}

    def test_5xx_is_retried_with_backoff_and_4xx_is_not(self):
        self.server.script["/heartbeat"] = [503, 502]
        self.assertFalse(self.client.heartbeat(1, self.progress()).cancel)
        self.assertEqual(len(self.server.calls("/heartbeat")), 3)
        self.assertEqual(self.sleeps, [1.0, 2.0])
        self.server.script["/heartbeat"] = [400]
        with self.assertRaises(ServerError) as refused:
            self.client.heartbeat(1, self.progress())
        self.assertEqual(refused.exception.status, 400)
        self.assertEqual(len(self.server.calls("/heartbeat")), 4)
        self.server.script["/heartbeat"] = [500] * 4
        from tessera_trainer.remote import ServerUnreachable

        with self.assertRaises(ServerUnreachable):
            self.client.heartbeat(1, self.progress())

    def test_409_lease_lost_is_its_own_error(self):
        self.server.script["/complete"] = [409]
        with self.assertRaises(LeaseLost):
            self.client.complete(1, {"attempt": 1})
        self.assertEqual(len(self.server.calls("/complete")), 1)

    def test_every_request_carries_the_token_and_relative_urls_keep_the_server_path(self):
        self.assertIsNone(self.client.lease(0, {"name": "w", "device": "cpu"}))
        self.assertEqual(self.server.requests[-1]["auth"], "Bearer secret")
        self.assertEqual(self.server.requests[-1]["json"]["waitSeconds"], 0)
        prefixed = WorkerClient("https://example.org/tessera/", "t")
        self.assertEqual(prefixed.resolve("/api/worker/jobs/1/dataset?cursor=2"),
                         "https://example.org/tessera/api/worker/jobs/1/dataset?cursor=2")
        self.assertEqual(prefixed.resolve("http://other/x"), "http://other/x")

    def test_blob_cache_downloads_once_and_checks_the_hash(self):
        ref = self.server.add_blob(b"pixels" * 1000)
        from tessera_trainer.protocol import BlobRef

        with tempfile.TemporaryDirectory() as folder:
            cache = BlobCache(Path(folder))
            path, fresh = cache.fetch(self.client, BlobRef(ref["url"], ref["sha256"]))
            self.assertTrue(fresh)
            self.assertEqual(path.read_bytes(), b"pixels" * 1000)
            _, fresh = cache.fetch(self.client, BlobRef(ref["url"], ref["sha256"]))
            self.assertFalse(fresh)
            self.assertEqual(len(self.server.calls("/blobs/" + ref["sha256"])), 1)
            with self.assertRaises(ServerError):
                cache.fetch(self.client, BlobRef(ref["url"], "f" * 64))
            self.assertFalse(cache.path("f" * 64).exists())


if __name__ == "__main__":
    unittest.main()
