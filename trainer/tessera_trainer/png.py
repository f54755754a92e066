"""PNG reading and writing with numpy and zlib only (8- and 16-bit, grey, grey+alpha, RGB,
RGBA, palette; not interlaced). Pillow is used for reading when installed, as a faster path.
Never alters pixel values: 16-bit stays 16-bit.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PngError(ValueError):
    pass


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undoes the per-row PNG filters; returns (height, stride) uint8."""
    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size != height * (stride + 1):
        raise PngError("image data has the wrong length")
    rows = data.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind = int(rows[y, 0])
        line = rows[y, 1:].astype(np.int32)
        if kind == 0:
            current = line
        elif kind == 1:
            current = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) & 255
        elif kind == 2:
            current = (line + previous) & 255
        elif kind in (3, 4):
            current = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                left = current[x - bpp] if x >= bpp else 0
                up = previous[x]
                if kind == 3:
                    predictor = (left + up) >> 1
                else:
                    up_left = previous[x - bpp] if x >= bpp else 0
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                current[x] = (line[x] + predictor) & 255
        else:
            raise PngError(f"unknown PNG filter {kind}")
        out[y] = current
        previous = current
    return out


def _read_png_pure(data: bytes) -> np.ndarray:
    if not data.startswith(_SIGNATURE):
        raise PngError("not a PNG file")
    position = len(_SIGNATURE)
    header = None
    palette = None
    chunks = []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise PngError("PNG without IHDR")
    width, height, depth, color, _, _, interlace = header
    if interlace:
        raise PngError("interlaced PNG is not supported")
    if color not in _CHANNELS or depth not in (8, 16):
        raise PngError(f"unsupported PNG: colour type {color}, bit depth {depth}")
    channels = _CHANNELS[color]
    bytes_per_sample = depth // 8
    bpp = channels * bytes_per_sample
    try:
        raw = zlib.decompress(b"".join(chunks))
    except zlib.error as error:
        raise PngError(f"corrupt PNG data: {error}") from error
    rows = _unfilter(raw, height, width * bpp, bpp)
    if depth == 16:
        pixels = rows.reshape(height, width * channels, 2).astype(np.uint16)
        samples = (pixels[..., 0] << 8) | pixels[..., 1]
    else:
        samples = rows
    image = samples.reshape(height, width, channels)
    if color == 3:
        if palette is None:
            raise PngError("palette PNG without PLTE")
        image = palette[image[..., 0]]
    return image


def _read_with_pillow(path: Path) -> np.ndarray | None:
    """Pillow's decoding when it keeps the stored values, else None."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as opened:
            if opened.format != "PNG" or opened.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I;16B"):
                return None
            array = np.array(opened)
    except Exception:  # noqa: BLE001 - the reference decoder then gives a clear error
        return None
    if array.dtype != np.uint8:
        array = array.astype(np.uint16)
    return array[..., None] if array.ndim == 2 else array


def read_png(path: Path | str) -> np.ndarray:
    """Pixels as (height, width, channels), uint8 or uint16, exactly as stored."""
    path = Path(path)
    data = path.read_bytes()
    # Pillow converts 16-bit colour PNGs to 8 bits, so only 8-bit and 16-bit grey go through it.
    sixteen_bit_colour = len(data) > 25 and data[24] == 16 and data[25] != 0
    if not sixteen_bit_colour:
        array = _read_with_pillow(path)
        if array is not None:
            return array
    return _read_png_pure(data)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png(path: Path | str, image: np.ndarray) -> None:
    """Writes (height, width) or (height, width, channels in 1..4) uint8/uint16 pixels."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    height, width, channels = array.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    if array.dtype == np.uint8:
        depth = 8
        payload = array.astype(np.uint8)
    elif array.dtype == np.uint16:
        depth = 16
        payload = array.astype(">u2")
    else:
        raise PngError(f"cannot write {array.dtype} as PNG")
    rows = payload.reshape(height, -1).view(np.uint8).reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    Path(path).write_bytes(
        _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
    )
