"""The README's and the docs' generated blocks match what their commands produce now, and
their hand-written text types no measured figure."""

import re
import sys
import zlib

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import update_readme  # noqa: E402


def test_readme_blocks_are_current():
    current = update_readme.README.read_text()
    assert update_readme.render(current) == current, "run: python scripts/update_readme.py"


def test_every_block_sits_in_a_document():
    assert update_readme.missing_blocks() == []


def test_every_results_file_names_a_command_in_the_repository():
    for entries in update_readme.RESULTS.values():
        for _, command in entries:
            script = command.split()[1]
            assert (REPO_ROOT / script).is_file(), command


MEASURED = re.compile(r"\b\d+(?:\.\d+)? ?(?:%|MB|GB|ms\b|frames/s|fps\b|s per|minutes\b|h\b)")
BLOCKS = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)
CODE = re.compile(r"```.*?```", re.DOTALL)
SETTINGS = ("1 MB, two old files kept", "95 % interval")
"""Figures that are settings, not measurements (the log's rotation size, a confidence level)."""


def test_every_document_is_current():
    for path in update_readme.DOCUMENTS:
        assert update_readme.render_document(path) == path.read_text(), (
            f"{path.name}: run python scripts/update_readme.py")


def test_hand_written_text_gives_no_measured_figure():
    """A figure typed into prose goes stale the day it is measured again; the prose points
    to a generated block or a results file instead."""
    typed = []
    for path in update_readme.DOCUMENTS:
        prose = CODE.sub("", BLOCKS.sub("", path.read_text()))
        typed += [f"{path.name}: {line.strip()}" for line in prose.splitlines()
                  if MEASURED.search(line) and not any(setting in line for setting in SETTINGS)]
    assert not typed, "\n".join(typed)


def test_the_aims_table_says_met_only_when_every_named_model_clears_its_aim():
    rows = update_readme.aims_rows([(0.73, "a.onnx"), (0.71, "b.onnx"), (0.67, "c.onnx")])
    assert [row.rsplit("|", 2)[-2].strip() for row in rows[2:]] == ["yes", "yes", "yes"]
    rows = update_readme.aims_rows([(0.73, "a.onnx"), (0.69, "b.onnx"), (0.60, "c.onnx")])
    assert [row.rsplit("|", 2)[-2].strip() for row in rows[2:]] == ["no", "no", "yes"]
    assert "`c.onnx` 60.00 %" in rows[2]
    rows = update_readme.aims_rows([(0.75, "only.onnx")])  # one model cannot be two at 70 %
    assert rows[3].endswith("| no |")


DOCS = [*update_readme.DOCUMENTS, *sorted((REPO_ROOT / "docs").glob("*.md"))]
AGREEMENT = re.compile(r"\b(\d+)/(\d+) agree\b|members: \w+ (\d+)/(\d+)")


def png_texts(path) -> dict[str, str]:
    """The text entries of a PNG file."""
    data, texts, offset = path.read_bytes(), {}, 8
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        if kind in (b"tEXt", b"zTXt"):  # zTXt: a compression method byte, then zlib data
            key, _, value = body.partition(b"\0")
            value = zlib.decompress(value[1:]) if kind == b"zTXt" else value
            texts[key.decode("latin-1")] = value.decode("latin-1")
        offset += length + 12
    return texts


def test_the_screenshot_shows_the_shipped_default_model_as_it_is_now():
    """docs/screenshot.png names the model file it shows and its SHA-256: a screenshot of a
    model since replaced (another ensemble, another input size) is stale."""
    import hashlib

    from app.gui.launch import SCREENSHOT_MODEL_KEY
    from app.model.library import most_accurate_installed

    shown = png_texts(REPO_ROOT / "docs" / "screenshot.png").get(SCREENSHOT_MODEL_KEY, "")
    default = most_accurate_installed().path
    expected = f"{default.name} {hashlib.sha256(default.read_bytes()).hexdigest()}"
    assert shown == expected, "retake it with the command under the README's screenshot"


def test_agreement_examples_count_the_shipped_ensembles_members():
    from app.model.card import read_card

    members = len(read_card(REPO_ROOT / "models_onnx" / "ensemble.onnx").member_names)
    found = [(path.name, match.group(0)) for path in DOCS for match in AGREEMENT.finditer(path.read_text())]
    assert found
    wrong = [(name, text) for name, text in found if not text.endswith(f"/{members}")
             and f"/{members} agree" not in text]
    assert not wrong, f"the shipped ensemble has {members} members: {wrong}"


def test_no_document_says_model_cards_need_an_onnx_runtime_session():
    """Cards are read from the file's header (app.model.onnx_header), not by building a session."""
    stale = [path.name for path in DOCS
             if re.search(r"card\w*\W+(?:is|are)\W+read\W+through\W+an\W+ONNX\W+Runtime\W+session",
                          path.read_text())]
    assert not stale
