"""Reading a card from the file's header: the same card and signature ONNX Runtime sees,
refusals with a reason for what is not an ONNX model, and no session opened."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from app.model.card import ModelCardError, card_of_session, read_card
from app.model.onnx_header import OnnxHeaderError, read_header
from tests.onnx_fixtures import fer_card, linear_model, write_model

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "models_onnx").glob("*.onnx"))


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_the_header_says_what_onnx_runtime_reads(path):
    header, session = read_header(path), _session(path)
    assert header.metadata == session.get_modelmeta().custom_metadata_map
    assert [(tensor.name, list(tensor.shape)) for tensor in header.inputs] == [
        (argument.name, argument.shape) for argument in session.get_inputs()]
    assert [(tensor.name, list(tensor.shape)) for tensor in header.outputs] == [
        (argument.name, argument.shape) for argument in session.get_outputs()]
    assert read_card(path) == card_of_session(session, str(path))


def test_a_card_is_read_without_opening_a_session(tmp_path, monkeypatch, mini_xception_onnx):
    def refuse(*args, **kwargs):
        raise AssertionError("read_card opened an ONNX Runtime session")

    monkeypatch.setattr(ort, "InferenceSession", refuse)
    assert read_card(mini_xception_onnx).architecture == "mini_xception"


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[: len(data) // 2], "past the end of the file"),
    (lambda data: b"\xff" * 64, "past the end of the file"),
    (lambda data: b"name: a text file, not a model\n", "not an ONNX model"),
    (lambda data: b"", "no graph"),
])
def test_what_is_not_an_onnx_model_is_refused_with_a_reason(tmp_path, damage, reason):
    good = write_model(tmp_path / "good.onnx", linear_model(), fer_card())
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(OnnxHeaderError, match=reason):
        read_header(bad)
    with pytest.raises(ModelCardError, match="bad.onnx: not a readable ONNX model"):
        read_card(bad)


def test_a_foreign_model_is_refused_naming_the_missing_card(tmp_path):
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(linear_model().SerializeToString())
    with pytest.raises(ModelCardError, match="not an emotion model of this app"):
        read_card(foreign)


GIGABYTES = 3 << 30


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _bytes_read() -> int:
    return int(next(line for line in Path("/proc/self/io").read_text().splitlines()
                    if line.startswith("rchar:")).split()[1])


def write_with_huge_weights(path: Path, model) -> Path:
    """``model`` with a 3 GB initializer inside its graph, before its card (the order ONNX
    files have: field 7, the graph, comes before field 14, the metadata), written sparse."""
    fer_card().embed(model)
    graph = model.graph.SerializeToString()
    model.ClearField("graph")
    rest = model.SerializeToString()
    weights_key = _varint(5 << 3 | 2) + _varint(GIGABYTES)
    graph_key = _varint(7 << 3 | 2) + _varint(len(graph) + len(weights_key) + GIGABYTES)
    with open(path, "wb") as file:
        file.write(graph_key + graph + weights_key)
        file.seek(GIGABYTES, 1)  # a hole: no disk used
        file.write(rest)  # ir_version, opset and the card
    return path


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts the bytes read in /proc/self/io")
def test_listing_reads_the_header_only_however_large_the_file(tmp_path):
    """A 3 GB file in the models folder made --list-models take 28 s and 3.2 GB of memory:
    the header was read with read_bytes()."""
    from app.model.library import describe_models

    write_with_huge_weights(tmp_path / "huge.onnx", linear_model())
    with open(tmp_path / "junk.onnx", "wb") as file:  # not ONNX at all
        file.write(_varint(7 << 3 | 2) + _varint(GIGABYTES - 16))
        file.truncate(GIGABYTES)
    before = _bytes_read()
    listing = describe_models([tmp_path])
    assert _bytes_read() - before < 1 << 20  # a megabyte at most, of 6 GB
    assert "huge (linear_probe)" in listing and "junk.onnx: not a readable ONNX model" in listing
