"""What an ONNX file says about itself, read without building an ONNX Runtime session.

Listing the models folders needs each file's card and signature, not a runnable
graph. An ONNX Runtime session, even unoptimised, loads and lays out every weight, which
costs as much as the weights weigh; the app does not ship the ``onnx`` package. So this
module reads the few fields it needs straight from the protobuf wire format of
``ModelProto`` (onnx/onnx.proto): ``metadata_props`` (14) and the graph's (7) ``input``
(11) and ``output`` (12) names and shapes, skipping everything else, initializers
included, by seeking past them: the file is never read whole. A file that is not
well-formed protobuf, or has no graph, is refused here; one that parses but that ONNX
Runtime cannot run is refused when a session opens it to analyse frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

Dimension = int | str | None
"""A fixed size, a symbolic name (``"batch"``), or unknown."""

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MODEL_GRAPH, _MODEL_METADATA = 7, 14
_GRAPH_INPUT, _GRAPH_OUTPUT = 11, 12
MAX_KEPT_BYTES = 16 << 20
"""Most bytes of metadata and signature read into memory (a card is a few kB)."""
MAX_FIELDS = 1_000_000
"""Most fields walked in the model and its graph (a large graph has tens of thousands)."""


class OnnxHeaderError(ValueError):
    """The bytes are not an ONNX model (not protobuf, truncated, or without a graph)."""


class OnnxTextError(OnnxHeaderError):
    """A text field (metadata above all) is not UTF-8, as ONNX requires."""


@dataclass(frozen=True)
class TensorSignature:
    name: str
    shape: tuple[Dimension, ...]


@dataclass(frozen=True)
class OnnxHeader:
    metadata: dict[str, str]
    inputs: tuple[TensorSignature, ...]
    outputs: tuple[TensorSignature, ...]


def read_header(path: str | Path) -> OnnxHeader:
    """The metadata and the graph's inputs and outputs of an ONNX file; raises
    OnnxHeaderError for bytes that are not one, OSError for a file that cannot be read.

    Only what it needs is read: everything else, the weights above all, is skipped by
    seeking past it, so a 3 GB file costs a few reads; what is kept in memory is capped
    (``MAX_KEPT_BYTES``), as is the number of fields walked (``MAX_FIELDS``)."""
    with open(path, "rb") as file:
        reader = _Reader(file)
        metadata: dict[str, str] = {}
        graph = None
        for field, value in reader.fields(0, reader.size, keep=(_MODEL_METADATA,)):
            if field == _MODEL_METADATA:
                entry = dict(_fields(value))
                metadata[_text(entry.get(1, b""))] = _text(entry.get(2, b""))
            elif field == _MODEL_GRAPH:
                graph = value
        if not isinstance(graph, _Span):
            raise OnnxHeaderError("no graph in the file")
        inputs, outputs = [], []
        for field, value in reader.fields(graph.start, graph.end, keep=(_GRAPH_INPUT, _GRAPH_OUTPUT)):
            if field == _GRAPH_INPUT:
                inputs.append(_signature(value))
            elif field == _GRAPH_OUTPUT:
                outputs.append(_signature(value))
    return OnnxHeader(metadata, tuple(inputs), tuple(outputs))


@dataclass(frozen=True)
class _Span:
    """Where a length-delimited field lies in the file, unread."""

    start: int
    end: int


class _Reader:
    """Fields of a message in a file, read where kept and skipped by seeking otherwise."""

    def __init__(self, file) -> None:
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        self.kept = 0
        self.walked = 0

    def fields(self, start: int, end: int, keep: tuple[int, ...]):
        """(field number, value) of the message in bytes [start, end): ints for varints and
        fixed fields, bytes for the length-delimited fields in ``keep``, a ``_Span`` for
        the others."""
        position = start
        while position < end:
            self.walked += 1
            if self.walked > MAX_FIELDS:
                raise OnnxHeaderError(f"more than {MAX_FIELDS:,} fields before the graph's "
                                      "signature: not a model this app reads")
            self.file.seek(position)
            head = self.file.read(min(20, end - position))
            key, used = _varint(head, 0)
            field, wire_type = key >> 3, key & 7
            if field == 0:
                raise OnnxHeaderError("field number 0: not protobuf")
            if wire_type == _VARINT:
                value, used = _varint(head, used)
                position += used
            elif wire_type in (_FIXED64, _FIXED32):
                width = 8 if wire_type == _FIXED64 else 4
                if position + used + width > end:
                    raise OnnxHeaderError("a field runs past the end of the file (truncated?)")
                value = int.from_bytes(head[used:used + width], "little")
                position += used + width
            elif wire_type == _LENGTH:
                length, used = _varint(head, used)
                value_start, position = position + used, position + used + length
                if position > end:
                    raise OnnxHeaderError("a field runs past the end of the file (truncated?)")
                value = self._kept(value_start, length) if field in keep else _Span(value_start, position)
            else:
                raise OnnxHeaderError(f"wire type {wire_type}: not an ONNX model")
            yield field, value

    def _kept(self, start: int, length: int) -> bytes:
        self.kept += length
        if self.kept > MAX_KEPT_BYTES:
            raise OnnxHeaderError(f"its metadata and signature take more than {MAX_KEPT_BYTES >> 20} MB: "
                                  "not a model this app reads")
        self.file.seek(start)
        data = self.file.read(length)
        if len(data) != length:
            raise OnnxHeaderError("a field runs past the end of the file (truncated?)")
        return data


def _signature(value_info: memoryview) -> TensorSignature:
    """ValueInfoProto: name (1), TypeProto (2) -> tensor_type (1) -> shape (2) -> dim (1)."""
    fields = dict(_fields(value_info))
    tensor = dict(_fields(dict(_fields(fields.get(2, b""))).get(1, b"")))
    shape = tensor.get(2)
    dimensions = [] if shape is None else [_dimension(value) for field, value in _fields(shape)
                                           if field == 1]
    return TensorSignature(_text(fields.get(1, b"")), tuple(dimensions))


def _dimension(value: memoryview) -> Dimension:
    """TensorShapeProto.Dimension: dim_value (1, varint) or dim_param (2, string)."""
    fields = dict(_fields(value))
    if 1 in fields:
        return int(fields[1])
    return _text(fields[2]) if 2 in fields else None


def _fields(data: memoryview | bytes):
    """(field number, value) of one message: ints for varints and fixed fields, a view of
    the bytes for length-delimited ones. Raises OnnxHeaderError on malformed input."""
    if isinstance(data, int):
        raise OnnxHeaderError("a message field holds a number: not an ONNX model")
    data = memoryview(data)
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise OnnxHeaderError("field number 0: not protobuf")
        if wire_type == _VARINT:
            value, position = _varint(data, position)
        elif wire_type == _LENGTH:
            length, position = _varint(data, position)
            if position + length > end:
                raise OnnxHeaderError("a field runs past the end of the file (truncated?)")
            value, position = data[position: position + length], position + length
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            if position + size > end:
                raise OnnxHeaderError("a field runs past the end of the file (truncated?)")
            value, position = int.from_bytes(data[position: position + size], "little"), position + size
        else:
            raise OnnxHeaderError(f"wire type {wire_type}: not an ONNX model")
        yield field, value


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise OnnxHeaderError("a number runs past the end of the file (truncated?)")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _text(value: memoryview | bytes | int) -> str:
    if isinstance(value, int):
        raise OnnxHeaderError("a text field holds a number: not an ONNX model")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as error:
        raise OnnxTextError(f"{error.reason} at byte {error.start}") from None
