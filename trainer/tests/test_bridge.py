"""The Stream V2 → Tessera conversion of the stream bridge: typed-array and tag-40 data, the
self-describe tag, pixel sizes in metres, channels, and the errors for what it cannot forward.
Needs Debian's python3-cbor2 (skipped without it)."""

import datetime as dt
import unittest

import numpy as np

from tessera_trainer.bridge import (
    BridgeError,
    StreamV2Converter,
    decode_array,
    main,
    typed_array_dtype,
)

try:
    import cbor2
    from cbor2 import CBORTag
except ImportError:  # pragma: no cover - the CI installs it
    cbor2 = None


def start_message(**overrides):
    message = {
        "type": "start",
        "series_id": 7,
        "series_unique_id": "abc-7",
        "image_size_x": 4,
        "image_size_y": 3,
        "image_dtype": "uint16",
        "channels": ["threshold_1"],
        "x_pixel_size": 75e-6,
        "y_pixel_size": 65e-6,
        "count_time": 0.01,
        "arm_date": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "user_data": {"sample": "lysozyme", "position": [1, 2]},
    }
    message.update(overrides)
    return message


def image_message(data, image_id=0, **overrides):
    message = {
        "type": "image",
        "series_id": 7,
        "image_id": image_id,
        "real_time": [10, 1000],
        "start_time": [3, 2],
        "data": data,
    }
    message.update(overrides)
    return message


def tag40(array: np.ndarray, tag: int):
    return CBORTag(40, [list(array.shape), CBORTag(tag, array.tobytes())])


@unittest.skipIf(cbor2 is None, "python3-cbor2 is not installed")
class ConversionTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(5)

    def roundtrip(self, converter, message):
        """Through real CBOR bytes both ways, as the sockets carry them."""
        out = converter.convert(cbor2.loads(cbor2.dumps(message)))
        return None if out is None else cbor2.loads(cbor2.dumps(out))

    def test_start_in_tessera_terms(self):
        converter = StreamV2Converter(backpressure="queue:8")
        wrapped = CBORTag(55799, start_message())
        out = self.roundtrip(converter, wrapped)
        self.assertEqual(out["type"], "start")
        self.assertEqual(out["series_id"], 7)
        self.assertEqual(out["shape"], [3, 4])
        self.assertEqual(out["dtype"], "uint16")
        self.assertEqual(out["channels"], 1)
        self.assertEqual(out["backpressure"], "queue:8")
        # Metres → micrometres.
        self.assertAlmostEqual(out["pixel_size"]["x"], 75.0)
        self.assertAlmostEqual(out["pixel_size"]["y"], 65.0)
        self.assertEqual(out["metadata"]["user_data"], {"sample": "lysozyme", "position": [1, 2]})
        self.assertEqual(out["metadata"]["channels"], ["threshold_1"])
        self.assertEqual(out["metadata"]["series_unique_id"], "abc-7")

    def test_start_without_pixel_size_or_channels(self):
        message = start_message(channels=[], user_data="")
        del message["x_pixel_size"]
        out = StreamV2Converter().convert(message)
        self.assertNotIn("pixel_size", out)
        self.assertNotIn("backpressure", out)
        self.assertEqual(out["channels"], 1)

    def test_image_tag40_little_endian_uint16(self):
        converter = StreamV2Converter()
        converter.convert(start_message())
        pixels = self.rng.integers(0, 65536, (3, 4)).astype("<u2")
        out = self.roundtrip(converter, CBORTag(55799, image_message({"threshold_1": tag40(pixels, 69)}, image_id=5)))
        self.assertEqual(out["type"], "image")
        self.assertEqual((out["series_id"], out["image_id"]), (7, 5))
        self.assertEqual(out["data"].tag, 69)
        np.testing.assert_array_equal(np.frombuffer(out["data"].value, "<u2"), pixels.reshape(-1))
        arm = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc).timestamp()
        self.assertAlmostEqual(out["acquired_at"], arm + 1.5)
        self.assertAlmostEqual(out["metadata"]["real_time"], 0.01)

    def test_big_endian_and_narrower_types_become_the_series_dtype(self):
        converter = StreamV2Converter()
        converter.convert(start_message(image_dtype="uint32"))
        pixels = self.rng.integers(0, 2**32, (3, 4), dtype=np.uint64).astype(">u4")
        out = converter.convert(image_message({"threshold_1": tag40(pixels, 66)}))  # uint32 BE
        self.assertEqual(out["data"].tag, 70)
        np.testing.assert_array_equal(np.frombuffer(out["data"].value, "<u4"), pixels.astype("<u4").reshape(-1))
        small = self.rng.integers(0, 256, 12).astype(np.uint8)
        out = converter.convert(image_message({"threshold_1": CBORTag(64, small.tobytes())}))
        np.testing.assert_array_equal(np.frombuffer(out["data"].value, "<u4"), small)

    def test_float32_and_column_major(self):
        converter = StreamV2Converter()
        converter.convert(start_message(image_dtype="float32"))
        pixels = self.rng.random((3, 4)).astype(">f4")
        column_major = CBORTag(1040, [[3, 4], CBORTag(81, np.asfortranarray(pixels).tobytes(order="F"))])
        out = converter.convert(image_message({"threshold_1": column_major}))
        self.assertEqual(out["data"].tag, 85)
        np.testing.assert_array_equal(np.frombuffer(out["data"].value, "<f4"), pixels.reshape(-1))

    def test_two_channels_are_interleaved_in_start_order(self):
        converter = StreamV2Converter()
        start = converter.convert(start_message(image_dtype="uint8", channels=["a", "b"]))
        self.assertEqual(start["channels"], 2)
        a = np.arange(12, dtype=np.uint8).reshape(3, 4)
        b = a + 100
        # The map's own order is b, a: the start's order counts.
        out = converter.convert(image_message({"b": tag40(b, 64), "a": tag40(a, 64)}))
        np.testing.assert_array_equal(np.frombuffer(out["data"].value, np.uint8), np.stack([a, b], -1).reshape(-1))
        with self.assertRaisesRegex(BridgeError, "no data for channel 'b'"):
            converter.convert(image_message({"a": tag40(a, 64)}))

    def test_end_and_other_types(self):
        converter = StreamV2Converter()
        converter.convert(start_message())
        self.assertEqual(converter.convert({"type": "end", "series_id": 7}), {"type": "end", "series_id": 7})
        self.assertIsNone(converter.convert({"type": "calibration", "series_id": 7}))
        with self.assertRaisesRegex(BridgeError, "before its start"):
            converter.convert(image_message({"threshold_1": CBORTag(69, b"\0" * 24)}))

    def test_refusals(self):
        converter = StreamV2Converter()
        with self.assertRaisesRegex(BridgeError, "image_dtype 'int16' is not supported"):
            converter.convert(start_message(image_dtype="int16"))
        with self.assertRaisesRegex(BridgeError, "image_size_x"):
            converter.convert(start_message(image_size_x=0))
        with self.assertRaisesRegex(BridgeError, "CBOR map"):
            converter.convert([1, 2])
        with self.assertRaisesRegex(BridgeError, "at most 4"):
            converter.convert(start_message(channels=list("abcde")))
        converter.convert(start_message())
        compressed = CBORTag(40, [[3, 4], CBORTag(56500, ["bslz4", 2, b"\x00" * 10])])
        with self.assertRaisesRegex(BridgeError, "compressed data .'bslz4'.*not supported"):
            converter.convert(image_message({"threshold_1": compressed}))
        signed = CBORTag(40, [[3, 4], CBORTag(77, np.zeros(12, "<i2").tobytes())])
        with self.assertRaisesRegex(BridgeError, "int16 samples, the series declared uint16"):
            converter.convert(image_message({"threshold_1": signed}))
        with self.assertRaisesRegex(BridgeError, "24 samples for dimensions"):
            converter.convert(image_message({"threshold_1": CBORTag(40, [[3, 4], CBORTag(69, b"\0" * 48)])}))
        with self.assertRaisesRegex(BridgeError, "whole 2-byte samples"):
            converter.convert(image_message({"threshold_1": CBORTag(69, b"\0" * 5)}))
        with self.assertRaisesRegex(BridgeError, "valid image_id"):
            converter.convert(image_message({"threshold_1": CBORTag(69, b"\0" * 24)}, image_id=-1))


class TypedArrayTagTest(unittest.TestCase):
    def test_rfc8746_table(self):
        expected = {
            64: "|u1", 65: ">u2", 66: ">u4", 67: ">u8", 68: "|u1", 69: "<u2", 70: "<u4", 71: "<u8",
            72: "|i1", 73: ">i2", 74: ">i4", 75: ">i8", 77: "<i2", 78: "<i4", 79: "<i8",
            80: ">f2", 81: ">f4", 82: ">f8", 84: "<f2", 85: "<f4", 86: "<f8",
        }
        for tag, dtype in expected.items():
            self.assertEqual(typed_array_dtype(tag).str, dtype, tag)
        for tag in (63, 76, 83, 87, 88):
            with self.assertRaises(BridgeError):
                typed_array_dtype(tag)

    def test_byte_strings_and_lists_take_the_series_dtype(self):
        np.testing.assert_array_equal(decode_array(b"\x01\x00\x02\x00", np.dtype("<u2")), [1, 2])
        np.testing.assert_array_equal(decode_array([1, 2, 3], np.dtype("<u2")), [1, 2, 3])
        with self.assertRaises(BridgeError):
            decode_array(b"\x01\x00", None)
        with self.assertRaises(BridgeError):
            decode_array({"x": 1}, np.dtype("u1"))


class CommandLineTest(unittest.TestCase):
    def test_bad_flags(self):
        import contextlib
        import io

        for argv in (
            ["--source", "tcp://127.0.0.1:1", "--url", "http://x/streams/1/ingest", "--token", "t"],
            ["--source", "tcp://127.0.0.1:1", "--url", "ws://x/streams/1/ingest", "--token", "t",
             "--backpressure", "queue:0"],
            ["--url", "ws://x/streams/1/ingest", "--token", "t"],
        ):
            with self.assertRaises(SystemExit) as raised, contextlib.redirect_stderr(io.StringIO()):
                main(argv)
            self.assertEqual(raised.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
