"""Checks an unpacked bioimage.io model package (format 0.5.7) the way bioimageio.spec would,
offline: rdf.yaml against the vendored JSON Schema (Draft 2020-12, with format checks), then
every check the schema cannot make (shared/vendor/bioimageio/README.md): citations, ids,
size references, sha256 of every file, test tensors loadable by numpy with shapes that fit
their axes, one weights entry without parent, non-empty FAIR fields, a string timestamp.
Prints one JSON object; exit status 0 when everything passes. Reads only; with --preprocessed
it writes the test input after the description's preprocessing, computed with numpy.

usage: check_package.py DIR [--schema FILE] [--preprocessed OUT.npy]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

import numpy as np
import yaml
from jsonschema import Draft202012Validator

REPOSITORY = Path(__file__).resolve().parents[3]
DEFAULT_SCHEMA = REPOSITORY.parent / "shared" / "vendor" / "bioimageio" / "bioimageio_schema_model_0.5.json"
LOWER_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
# The id an axis has when it names none (the schema's defaults per axis type).
DEFAULT_AXIS_IDS = {"batch": "batch", "channel": "channel", "index": "index", "time": "time", "space": "x"}
FAIR_FIELDS = ["description", "authors", "cite", "license", "tags", "documentation"]


class Report:
    def __init__(self) -> None:
        self.checks: Dict[str, List[str]] = {}

    def check(self, name: str, ok: bool, problem: str) -> None:
        problems = self.checks.setdefault(name, [])
        if not ok:
            problems.append(problem)

    @property
    def ok(self) -> bool:
        return all(not problems for problems in self.checks.values())


def axis_id(axis: Dict[str, Any]) -> str:
    return axis.get("id", DEFAULT_AXIS_IDS.get(axis.get("type", ""), ""))


def file_descriptors(value: Any, where: str = "") -> List[tuple]:
    """Every {source, sha256?} object in the description, with where it is."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("source"), str):
            found.append((where, value))
        for key, item in value.items():
            found.extend(file_descriptors(item, f"{where}.{key}" if where else key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(file_descriptors(item, f"{where}[{index}]"))
    return found


def urls(value: Any, where: str = "") -> List[tuple]:
    """Every `url` value and every source or documentation that is a URL (the format checker
    tests `uri` only with rfc3987 installed)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else key
            if isinstance(item, str) and (key in ("url", "git_repo") or (key in ("source", "documentation") and "://" in item)):
                found.append((path, item))
            found.extend(urls(item, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(urls(item, f"{where}[{index}]"))
    return found


def check_schema(rdf: Dict[str, Any], schema_path: Path, report: Report) -> None:
    schema = json.loads(schema_path.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in sorted(validator.iter_errors(rdf), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(part) for part in error.absolute_path)
        report.check("schema", False, f"{path or '(root)'}: {error.message[:300]}")
    report.check("schema", True, "")


def check_fields(rdf: Dict[str, Any], root: Path, report: Report) -> None:
    timestamp = rdf.get("timestamp")
    report.check("timestamp is a string", isinstance(timestamp, str), f"timestamp is {type(timestamp).__name__}")
    # The format checker tests date-time only with rfc3339-validator installed; bioimageio.spec
    # reads timestamps with datetime.fromisoformat.
    if isinstance(timestamp, str):
        try:
            datetime.fromisoformat(timestamp)
        except ValueError as error:
            report.check("timestamp is a string", False, f"timestamp {timestamp!r}: {error}")
    for where, url in urls(rdf):
        parsed = urlparse(url)
        report.check("urls are http(s) urls", parsed.scheme in ("http", "https") and bool(parsed.netloc), f"{where}: {url!r}")
    for index, entry in enumerate(rdf.get("cite") or []):
        report.check("cite has doi or url", bool(entry.get("doi") or entry.get("url")), f"cite[{index}] has neither doi nor url")
    documentation = rdf.get("documentation")
    report.check("documentation is a .md file", isinstance(documentation, str) and documentation.endswith(".md"), f"documentation is {documentation!r}")
    if isinstance(documentation, str) and "://" not in documentation:
        report.check("documentation is a .md file", (root / documentation).is_file(), f"{documentation} is missing")
    for field in FAIR_FIELDS:
        value = rdf.get(field)
        report.check("FAIR fields are non-empty", bool(value and (not isinstance(value, str) or value.strip())), f"{field} is empty")
    tensors = [*rdf.get("inputs", []), *rdf.get("outputs", [])]
    for tensor in tensors:
        report.check("FAIR fields are non-empty", bool(tensor.get("test_tensor")), f"tensor {tensor.get('id')} has no test_tensor")
    without_parent = [name for name, entry in (rdf.get("weights") or {}).items() if entry and not entry.get("parent")]
    report.check("exactly one weights entry without parent", len(without_parent) == 1, f"weights without parent: {without_parent}")


def check_ids(rdf: Dict[str, Any], report: Report) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Tensor and axis ids; returns axes by tensor id and axis id."""
    tensors = [*rdf.get("inputs", []), *rdf.get("outputs", [])]
    ids = [tensor.get("id", "input" if tensor in rdf.get("inputs", []) else "output") for tensor in tensors]
    report.check("tensor ids are unique", len(set(ids)) == len(ids), f"tensor ids {ids}")
    axes_by_tensor: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for tensor_id, tensor in zip(ids, tensors):
        report.check("ids are lower-case identifiers", bool(LOWER_IDENTIFIER.fullmatch(tensor_id)) and tensor_id.isidentifier(), f"tensor id {tensor_id!r}")
        axis_ids = [axis_id(axis) for axis in tensor.get("axes", [])]
        report.check("axis ids are unique per tensor", len(set(axis_ids)) == len(axis_ids), f"{tensor_id} axes {axis_ids}")
        for axis, name in zip(tensor.get("axes", []), axis_ids):
            report.check("ids are lower-case identifiers", bool(LOWER_IDENTIFIER.fullmatch(name)) and name.isidentifier(), f"{tensor_id} axis id {name!r}")
            for channel in axis.get("channel_names", []) or []:
                report.check("channel names are identifiers", isinstance(channel, str) and channel.isidentifier(), f"{tensor_id} channel {channel!r}")
        axes_by_tensor[tensor_id] = {name: axis for axis, name in zip(tensor.get("axes", []), axis_ids)}
    for tensor_id, axes in axes_by_tensor.items():
        for name, axis in axes.items():
            size = axis.get("size")
            if isinstance(size, dict) and "tensor_id" in size:
                target = axes_by_tensor.get(size["tensor_id"], {}).get(size.get("axis_id", ""))
                report.check("size references point to existing axes", target is not None, f"{tensor_id}.{name} refers to {size}")
                if target is not None:
                    report.check("size references point to existing axes", target.get("type") != "batch", f"{tensor_id}.{name} refers to a batch axis")
    return axes_by_tensor


def check_files(rdf: Dict[str, Any], root: Path, report: Report) -> None:
    for where, descriptor in file_descriptors(rdf):
        source = descriptor["source"]
        if "://" in source:
            continue
        path = root / source
        report.check("every file exists", path.is_file(), f"{where}: {source} is missing")
        if not path.is_file():
            continue
        expected = descriptor.get("sha256")
        report.check("every file has a sha256", bool(expected), f"{where}: {source} has no sha256")
        if expected:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
            report.check("sha256 of every file matches", actual == expected, f"{source}: {actual} != {expected}")


def expected_size(tensor_id: str, name: str, axes_by_tensor, shapes) -> Optional[int]:
    """An axis size a SizeReference or a fixed size implies (None when any size fits)."""
    axis = axes_by_tensor[tensor_id][name]
    size = axis.get("size")
    if isinstance(size, int):
        return size
    if isinstance(size, dict) and "tensor_id" in size:
        reference = axes_by_tensor.get(size["tensor_id"], {}).get(size.get("axis_id", ""))
        shape = shapes.get(size["tensor_id"])
        if reference is None or shape is None:
            return None  # a dangling reference is reported by check_ids
        names = list(axes_by_tensor[size["tensor_id"]])
        reference_size = shape[names.index(size["axis_id"])]
        # axis.size = reference.size * reference.scale / axis.scale + offset, fractions down.
        return int(reference_size * reference.get("scale", 1.0) / axis.get("scale", 1.0) // 1) + size.get("offset", 0)
    return None


def check_test_tensors(rdf: Dict[str, Any], root: Path, axes_by_tensor, report: Report) -> Dict[str, np.ndarray]:
    arrays: Dict[str, np.ndarray] = {}
    tensors = [*rdf.get("inputs", []), *rdf.get("outputs", [])]
    for tensor in tensors:
        tensor_id = tensor.get("id")
        test = tensor.get("test_tensor") or {}
        source = test.get("source", "")
        report.check("test tensors are .npy files", source.endswith(".npy"), f"{tensor_id}: {source}")
        try:
            arrays[tensor_id] = np.load(root / source, allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - reported, not raised
            report.check("test tensors load with numpy", False, f"{tensor_id}: {error}")
            continue
        report.check("test tensors load with numpy", True, "")
        data = tensor.get("data") or {}
        dtype = data.get("type", "float32") if isinstance(data, dict) else "float32"
        report.check("test tensors have the data type", str(arrays[tensor_id].dtype) == dtype, f"{tensor_id}: {arrays[tensor_id].dtype} != {dtype}")
    shapes = {tensor_id: array.shape for tensor_id, array in arrays.items()}
    for tensor_id, array in arrays.items():
        axes = axes_by_tensor[tensor_id]
        fits = array.ndim == len(axes)
        report.check("test tensor shapes fit their axes", fits, f"{tensor_id}: {array.ndim} dimensions for {len(axes)} axes")
        if not fits:
            continue
        for size, (name, axis) in zip(array.shape, axes.items()):
            kind = axis.get("type")
            declared = axis.get("size")
            if kind == "batch":
                ok = declared in (None, 1) and (declared is None or size == 1)
            elif kind == "channel":
                ok = size == len(axis.get("channel_names", []))
            elif isinstance(declared, dict) and "min" in declared:
                ok = size >= declared["min"] and (size - declared["min"]) % declared["step"] == 0
            else:
                wanted = expected_size(tensor_id, name, axes_by_tensor, shapes)
                ok = wanted is None or wanted == size
            wanted_text = f"{len(axis.get('channel_names', []))} channel names" if kind == "channel" else declared
            report.check("test tensor shapes fit their axes", ok, f"{tensor_id}.{name}: size {size} does not fit {wanted_text}")
        value_range = tensor_data_range(rdf, tensor_id)
        if value_range is not None and array.size:
            low, high = value_range
            ok = (low is None or float(array.min()) >= low) and (high is None or float(array.max()) <= high)
            report.check("test tensors lie in their data range", ok, f"{tensor_id}: [{array.min()}, {array.max()}] outside {value_range}")
    return arrays


def tensor_data_range(rdf: Dict[str, Any], tensor_id: str):
    for tensor in [*rdf.get("inputs", []), *rdf.get("outputs", [])]:
        data = tensor.get("data")
        if tensor.get("id") == tensor_id and isinstance(data, dict) and "range" in data:
            return tuple(data["range"])
    return None


def preprocess(tensor: Dict[str, Any], array: np.ndarray) -> np.ndarray:
    """The description's preprocessing of an input, as bioimageio.core computes it (numpy)."""
    names = [axis_id(axis) for axis in tensor["axes"]]
    out = array.astype(np.float32)
    for step in tensor.get("preprocessing", []):
        kwargs = step.get("kwargs", {}) or {}
        reduce = tuple(names.index(name) for name in (kwargs.get("axes") or names))
        if step["id"] == "scale_range":
            low = np.percentile(out, kwargs.get("min_percentile", 0.0), axis=reduce, keepdims=True)
            high = np.percentile(out, kwargs.get("max_percentile", 100.0), axis=reduce, keepdims=True)
            out = ((out - low) / (high - low + kwargs.get("eps", 1e-6))).astype(np.float32)
        elif step["id"] == "clip":
            out = np.clip(out, kwargs.get("min"), kwargs.get("max"))
        elif step["id"] == "scale_linear" and "axis" not in kwargs:
            out = (out * kwargs.get("gain", 1.0) + kwargs.get("offset", 0.0)).astype(np.float32)
        elif step["id"] == "ensure_dtype":
            out = out.astype(kwargs["dtype"])
        else:
            raise ValueError(f"preprocessing {step['id']} is not implemented here")
    return out.astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="folder with rdf.yaml")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    parser.add_argument("--preprocessed", type=Path, help="write the preprocessed test input here")
    args = parser.parse_args()
    root: Path = args.package
    report = Report()
    text = (root / "rdf.yaml").read_text()
    rdf = yaml.safe_load(text)
    check_schema(rdf, args.schema, report)
    check_fields(rdf, root, report)
    axes_by_tensor = check_ids(rdf, report)
    check_files(rdf, root, report)
    arrays = check_test_tensors(rdf, root, axes_by_tensor, report)
    result: Dict[str, Any] = {
        "ok": report.ok,
        "checks": {name: ("ok" if not problems else problems) for name, problems in report.checks.items()},
        "schema": str(args.schema),
        "formatsChecked": sorted(Draft202012Validator.FORMAT_CHECKER.checkers),
        "shapes": {tensor_id: list(array.shape) for tensor_id, array in arrays.items()},
        "files": sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()),
    }
    if args.preprocessed and rdf.get("inputs"):
        tensor = rdf["inputs"][0]
        if tensor.get("id") in arrays:
            preprocessed = preprocess(tensor, arrays[tensor["id"]])
            np.save(args.preprocessed, preprocessed, allow_pickle=False)
            result["preprocessed"] = {"shape": list(preprocessed.shape), "min": float(preprocessed.min()), "max": float(preprocessed.max())}
    print(json.dumps(result, indent=1))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
