"""Raw pixel buffers as the server stores them (little-endian, interleaved channels-last uint8,
uint16 or float32 samples; uint16 instance labels) and the server's channel rule for decoded
files (server/src/images/decodePage.ts simplifyChannels). Pure: bytes in, arrays out; never
rescales a sample.
"""

from __future__ import annotations

import numpy as np

SAMPLE_DTYPES = {"uint8": np.dtype("<u1"), "uint16": np.dtype("<u2"), "float32": np.dtype("<f4")}
LABEL_DTYPE = np.dtype("<u2")


class SampleFormatError(ValueError):
    """Bytes that do not hold what their description says (a data error: retrying cannot help)."""


def decode_samples(data: bytes, width: int, height: int, channels: int, dtype: str) -> np.ndarray:
    """(height, width, channels) interleaved little-endian samples → (channels, height, width)
    in the native byte order, values unchanged."""
    if dtype not in SAMPLE_DTYPES:
        raise SampleFormatError(f"unknown sample type {dtype!r} (expected one of {', '.join(SAMPLE_DTYPES)})")
    if not 1 <= channels <= 4 or width < 1 or height < 1:
        raise SampleFormatError(f"bad image shape {width} x {height} x {channels}")
    kind = SAMPLE_DTYPES[dtype]
    expected = width * height * channels * kind.itemsize
    if len(data) != expected:
        raise SampleFormatError(
            f"{len(data)} bytes of samples for a {width} x {height} image of {channels} {dtype} channel(s) "
            f"(expected {expected})"
        )
    pixels = np.frombuffer(data, dtype=kind).reshape(height, width, channels)
    return np.ascontiguousarray(np.moveaxis(pixels, 2, 0).astype(kind.newbyteorder("=")))


def decode_labels(data: bytes, width: int, height: int) -> np.ndarray:
    """uint16 little-endian instance labels, row-major → (height, width) int32 (0 = background)."""
    expected = width * height * LABEL_DTYPE.itemsize
    if len(data) != expected:
        raise SampleFormatError(f"{len(data)} bytes of labels for a {width} x {height} image (expected {expected})")
    return np.frombuffer(data, dtype=LABEL_DTYPE).reshape(height, width).astype(np.int32)


def simplify_channels(pixels: np.ndarray, has_alpha: bool) -> np.ndarray:
    """What the server keeps of a decoded (height, width, channels) file: a fully opaque alpha
    channel is dropped, and grey stored as R = G = B becomes one channel. So an image loaded
    from a folder meets the model with the channels the browser would give it."""
    count = pixels.shape[2]
    if has_alpha and count in (2, 4) and pixels.dtype != np.float32:
        opaque = np.iinfo(pixels.dtype).max
        if bool((pixels[..., -1] == opaque).all()):
            pixels = pixels[..., :-1]
    if pixels.shape[2] == 3 and bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 0] == pixels[..., 2]).all()):
        pixels = pixels[..., :1]
    return pixels
