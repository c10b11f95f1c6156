"""The one table of the CSV timeline's columns: the header, the rows and README.md follow it."""

import csv

import pytest

from app.model.card_text import RESERVED_MEMBER_NAMES
from app.output.timeline_columns import (
    MARKER,
    ROW_TYPE,
    SMOOTHED,
    TABLE,
    FaceRow,
    Moment,
    columns_for,
    markdown_table,
    row_cells,
    timeline_columns,
)
from app.output.timeline_csv import CsvRecorder
from tests.conftest import REPO_ROOT
from tests.test_recorder import ensemble_result, frame_result
from training.data.labels import FER2013_LABELS

MEMBERS = ("mini", "vgg", "yolo")


def read_table(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_the_header_is_the_table_with_a_column_per_label_and_per_member():
    names = [column.name for group in TABLE for column in group.columns]
    assert len(names) == len(set(names)), "a column declared twice"
    single, ensemble = timeline_columns(FER2013_LABELS), timeline_columns(FER2013_LABELS, MEMBERS)
    assert single[0] == ROW_TYPE.name and single[-1] == MARKER.name
    smoothed = [f"smoothed_{label}" for label in FER2013_LABELS]
    assert [name for name in single if SMOOTHED.item(name)] == smoothed
    assert "agreement" not in single and set(ensemble) - set(single) == {
        "agreement", *(f"top_{member}" for member in MEMBERS)}
    patterns = [name.partition("<")[0] for name in names if "<" in name]
    assert patterns == ["p_", "smoothed_", "calibrated_", "top_"]


def test_a_face_row_and_a_marker_row_line_up_with_the_header_by_name(tmp_path):
    path = tmp_path / "timeline.csv"
    recorder = CsvRecorder(path, FER2013_LABELS, members=MEMBERS)
    recorder.write_frame(ensemble_result([3, 3, 6], raw_top=3, shown=6))
    recorder.write_marker("cue", frame_index=4, source_ms=160.0)
    recorder.close()
    head, face, marker = read_table(path)
    assert head == timeline_columns(FER2013_LABELS, MEMBERS)
    assert len(face) == len(marker) == len(head)
    face, marker = dict(zip(head, face)), dict(zip(head, marker))
    assert (face["row_type"], face["face_id"], face["box_w_px"]) == ("face", "1", "30.0")
    assert (face["top_emotion"], face["top_emotion_smoothed"]) == ("happy", "neutral")
    assert (face["agreement"], face["top_vgg"], face["smoothing_s"]) == ("0.667", "happy", "0.15")
    assert (face["gamma"], face["marker"]) == ("1.200", "")
    filled = {"row_type", "wall_time", "t_seconds", "frame_index", "source_ms", "source_s", "marker"}
    assert {name for name, cell in marker.items() if cell} == filled
    assert (marker["row_type"], marker["frame_index"], marker["source_s"], marker["marker"]) == (
        "marker", "4", "0.160", "cue")


@pytest.mark.parametrize("members", [(), MEMBERS])
def test_every_column_fills_its_cell_on_a_face_row_of_a_video(members):
    """A readable face of a video frame with an ensemble and a steady read: only the image
    folder's and the marker's cells stay empty."""
    result = ensemble_result([3, 3, 6], raw_top=3, shown=6) if members else frame_result(2)
    frame = result.frame
    row = FaceRow(Moment(frame.wall_time, 1.5, frame.index, frame.source_ms), result, result.faces[0])
    cells = row_cells(columns_for(FER2013_LABELS, members), row)
    empty = {name for name, cell in cells.items() if cell == ""}
    uncalibrated = {"baseline", "valence_calibrated", *(f"calibrated_{label}" for label in FER2013_LABELS)}
    steadiness = set() if members else {"smoothing_s", "switch_margin", "switch_hold_s"}
    assert empty == {"source_file", "marker"} | steadiness | uncalibrated


def test_the_readme_table_is_rendered_from_the_table():
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"<!-- timeline-columns:begin -->\n{markdown_table()}\n<!-- timeline-columns:end -->" in readme
    for group in TABLE:
        assert group.meaning in markdown_table()


def test_the_member_names_a_card_refuses_are_those_that_would_repeat_a_column():
    """Members named ``emotion`` and ``emotion_smoothed`` made two ``top_emotion`` columns
    (and two ``top_emotion_smoothed``), and the members' values overwrote the real ones."""
    fixed = {column.name for group in TABLE for column in group.columns if column.placeholder is None}
    member_column = next(column for group in TABLE for column in group.columns
                         if column.placeholder == "<member>")
    assert {name for name in fixed if member_column.item(name)} == {
        member_column.named(name) for name in RESERVED_MEMBER_NAMES}
    with pytest.raises(ValueError, match="repeat the columns"):
        columns_for(FER2013_LABELS, ["emotion", "emotion_smoothed"])
