"""The README's and the docs' generated blocks match what their commands produce now, and
their hand-written text types no measured figure."""

import re
import sys

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import update_readme  # noqa: E402


def test_readme_blocks_are_current():
    current = update_readme.README.read_text()
    assert update_readme.render(current) == current, "run: python scripts/update_readme.py"


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
