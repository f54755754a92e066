"""Reads label images written by Tessera with readers it did not write: Pillow for PNG and
TIFF, tifffile for TIFF. Compares every value with the expected uint16 values (raw,
little-endian) and prints one JSON report on stdout. Usage: check_labels.py MANIFEST.json

The manifest: {"files": [{"path", "expected", "width", "height"}], "labelMap"?: path,
"classImages"?: [path]}; classImages are checked to hold only values the label map names.
"""
import json
import platform
import struct
import sys
from typing import Any, Dict, List

import numpy as np
import PIL
import tifffile
from PIL import Image


def png_header(path: str) -> Dict[str, int]:
    """Bit depth and colour type from the PNG's IHDR chunk, read byte by byte."""
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return {"bitDepth": -1, "colourType": -1}
    return {"bitDepth": head[24], "colourType": head[25]}


def compare(reader: str, values: np.ndarray, expected: np.ndarray, extra: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "reader": reader,
        "dtype": str(values.dtype),
        "shape": list(values.shape),
        **extra,
    }
    if values.shape != expected.shape:
        result["equal"] = False
        result["mismatches"] = -1
        return result
    # Pillow widens 16-bit PNG to 32-bit signed ('I'); compare the numbers themselves.
    wide = values.astype(np.int64)
    differ = wide != expected.astype(np.int64)
    result["mismatches"] = int(differ.sum())
    result["equal"] = result["mismatches"] == 0
    result["min"] = int(wide.min())
    result["max"] = int(wide.max())
    if not result["equal"]:
        row, col = (int(v) for v in np.argwhere(differ)[0])
        result["firstMismatch"] = {"row": row, "col": col, "got": int(wide[row, col]), "expected": int(expected[row, col])}
    return result


def check_file(entry: Dict[str, Any]) -> List[Dict[str, Any]]:
    path = entry["path"]
    expected = np.fromfile(entry["expected"], dtype="<u2").reshape(entry["height"], entry["width"])
    results = []
    with Image.open(path) as image:
        extra: Dict[str, Any] = {"path": path, "mode": image.mode, "format": image.format}
        if path.endswith(".png"):
            extra.update(png_header(path))
        results.append(compare("pillow", np.array(image), expected, extra))
    if path.endswith((".tif", ".tiff")):
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            extra = {"path": path, "pages": len(tif.pages), "bitsPerSample": page.bitspersample, "samplesPerPixel": page.samplesperpixel}
            results.append(compare("tifffile", page.asarray(), expected, extra))
    return results


def check_class_image(path: str, label_map: Dict[str, Any]) -> Dict[str, Any]:
    with Image.open(path) as image:
        values = sorted(int(v) for v in np.unique(np.array(image)))
    unnamed = [v for v in values if str(v) not in label_map]
    return {"path": path, "values": values, "unnamed": unnamed}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    report: Dict[str, Any] = {
        "versions": {
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "tifffile": tifffile.__version__,
            "numpy": np.__version__,
        },
        "files": [r for entry in manifest["files"] for r in check_file(entry)],
    }
    if "labelMap" in manifest:
        with open(manifest["labelMap"], encoding="utf-8") as f:
            label_map = json.load(f)
        report["classImages"] = [check_class_image(p, label_map) for p in manifest.get("classImages", [])]
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
