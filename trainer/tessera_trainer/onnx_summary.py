"""Reads the outline of an ONNX file (opset, graph inputs and outputs, operator types) with a
minimal protobuf wire-format parser, since the `onnx` package is not available. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Tuple


class OnnxFormatError(ValueError):
    pass


def _varint(data: bytes, position: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise OnnxFormatError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 70:
            raise OnnxFormatError("varint too long")


def _fields(data: bytes) -> Iterator[Tuple[int, int, object]]:
    """(field number, wire type, value) of one message: ints for varints, bytes otherwise."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, data[position : position + 8]
            position += 8
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise OnnxFormatError("truncated field")
            yield number, wire, data[position : position + length]
            position += length
        elif wire == 5:
            yield number, wire, data[position : position + 4]
            position += 4
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")


@dataclass
class OnnxSummary:
    ir_version: int = 0
    opsets: Dict[str, int] = field(default_factory=dict)
    inputs: List[str] = field(default_factory=list)
    outputs: List[str] = field(default_factory=list)
    initializers: int = 0
    op_types: Dict[str, int] = field(default_factory=dict)


def summarize_onnx_bytes(data: bytes) -> OnnxSummary:
    summary = OnnxSummary()
    graph = None
    for number, wire, value in _fields(data):
        if number == 1 and wire == 0:
            summary.ir_version = int(value)  # type: ignore[arg-type]
        elif number == 8 and wire == 2:
            domain, version = "", 0
            for sub_number, _, sub_value in _fields(value):  # type: ignore[arg-type]
                if sub_number == 1:
                    domain = bytes(sub_value).decode()  # type: ignore[arg-type]
                elif sub_number == 2:
                    version = int(sub_value)  # type: ignore[arg-type]
            summary.opsets[domain] = version
        elif number == 7 and wire == 2:
            graph = value
    if graph is None:
        raise OnnxFormatError("no graph in the model")
    for number, wire, value in _fields(graph):  # type: ignore[arg-type]
        if wire != 2:
            continue
        if number == 1:
            for sub_number, _, sub_value in _fields(value):  # type: ignore[arg-type]
                if sub_number == 4:
                    op = bytes(sub_value).decode()  # type: ignore[arg-type]
                    summary.op_types[op] = summary.op_types.get(op, 0) + 1
        elif number == 5:
            summary.initializers += 1
        elif number in (11, 12):
            name = next((bytes(v).decode() for n, _, v in _fields(value) if n == 1), "")  # type: ignore[arg-type]
            (summary.inputs if number == 11 else summary.outputs).append(name)
    return summary


def summarize_onnx(path: Path | str) -> OnnxSummary:
    return summarize_onnx_bytes(Path(path).read_bytes())
