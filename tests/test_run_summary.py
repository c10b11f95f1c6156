"""The end-of-run summary and the ``--plot`` image: from results made by hand, and at the
end of real headless runs (a few seconds of video each)."""

import os
import re
import time
from datetime import datetime

import cv2
import numpy as np
import pytest

from app.face.quality import FaceQuality
from app.output.palette import SURFACE_RGB, bgr, emotion_colour_rgb
from app.output.run_summary import RunTally, summary_text
from app.output.timeline_image import checked_plot_path, draw_timelines, write_image
from app.results import FaceResult, Frame, FrameResult, StageTimings
from tests.test_headless import emotion_app, read_rows
from training.data.labels import FER2013_LABELS

HAPPY, NEUTRAL = FER2013_LABELS.index("happy"), FER2013_LABELS.index("neutral")


def face(face_id: int, shown: int, box=(0.0, 0.0, 20.0, 20.0)) -> FaceResult:
    """A face whose smoothed top emotion (the one shown) is ``shown``; the frames are 100 px."""
    smoothed = np.full(len(FER2013_LABELS), 0.05)
    smoothed[shown] = 0.7
    return FaceResult(face_id, box, {}, "mesh", FER2013_LABELS, smoothed,
                      smoothed, FaceQuality(40.0, 0.5, 1.0, 0.0, 0.0, 100.0))


def result(index: int, faces=(), source_ms: float | None = None) -> FrameResult:
    frame = Frame(np.zeros((100, 100, 3), np.uint8), index, time.monotonic(),
                  datetime.now().astimezone(), source_ms)
    return FrameResult(frame, tuple(faces), "mini_xception", FER2013_LABELS,
                       "CPUExecutionProvider", StageTimings(), 30.0, 0)


def video_tally(keep_series: bool = False) -> RunTally:
    """Ten frames at 25 fps: face 1 happy in 6 and neutral in 2, face 2 in 3, 2 empty."""
    tally = RunTally("video", keep_series)
    for index in range(10):
        faces = []
        if index < 8:
            faces.append(face(1, HAPPY if index < 6 else NEUTRAL))
        if 3 <= index < 6:
            faces.append(face(2, NEUTRAL, (70.0, 40.0, 20.0, 20.0)))
        tally.add(result(index, faces, source_ms=40.0 * index))
    return tally


def test_the_summary_lists_each_face_with_its_share_of_each_emotion_shown():
    text = summary_text(video_tally())
    assert text.splitlines()[0] == ("10 frames analysed: 2 faces seen (IDs 1, 2), "
                                    "2 frames without a face.")
    assert "face 1 (top left): 8 frames, happy 75%, neutral 25%" in text  # where: which is which
    assert "face 2 (right): 3 frames, neutral 100%" in text


def test_a_run_without_faces_says_so_and_many_faces_are_summed_up():
    empty = RunTally("camera")
    empty.add(result(0))
    assert summary_text(empty) == "1 frame analysed: 0 faces seen, 1 frame without a face."
    crowd = RunTally("folder")
    crowd.add(result(0, [face(face_id, HAPPY) for face_id in range(1, 26)]))
    text = summary_text(crowd, most_listed=20)
    assert len([line for line in text.splitlines() if line.startswith("face ")]) == 20
    assert "... and 5 more faces seen in fewer frames (all are in the CSV)." in text


def test_series_follow_the_video_clock_for_files_and_image_numbers_for_folders():
    tally = video_tally(keep_series=True)
    assert tally.faces[1].times == pytest.approx([0.04 * index for index in range(8)])
    assert tally.faces[2].values[0][NEUTRAL] == pytest.approx(0.7)
    assert "source_s" in tally.axis_title
    folder = RunTally("folder", keep_series=True)
    for index in range(3):
        folder.add(result(index, [face(index + 1, HAPPY)]))
    assert [folder.faces[face_id].times for face_id in (1, 2, 3)] == [[0.0], [1.0], [2.0]]
    assert not RunTally("video").faces and video_tally().faces[1].values == []  # kept only to plot


def test_the_plot_has_a_panel_per_face_in_the_emotion_colours(tmp_path):
    image = draw_timelines(video_tally(keep_series=True), "test")
    one_panel = draw_timelines(RunTally("video", keep_series=True), "nothing")
    assert image.shape[1] == 1200 and image.shape[0] > one_panel.shape[0]  # two panels, one note
    panels = image[:, :1000].astype(int)
    for label in ("happy", "neutral"):
        colour = np.array(bgr(emotion_colour_rgb(label, FER2013_LABELS.index(label))))
        assert (np.abs(panels - colour).sum(axis=2) < 30).sum() > 100, label
    assert (one_panel != bgr(SURFACE_RGB)).any()  # "No face seen" is written
    path = tmp_path / "plot.png"
    assert write_image(path, image) == path.stat().st_size
    assert cv2.imread(str(path)).shape == image.shape
    assert not list(tmp_path.glob(".*partial"))


def test_a_bad_plot_path_is_refused_with_what_would_work(tmp_path):
    assert checked_plot_path(tmp_path / "a.PNG") == tmp_path / "a.PNG"
    with pytest.raises(ValueError, match=r"must end in one of \.png, \.jpg, \.jpeg"):
        checked_plot_path(tmp_path / "a.svg")
    with pytest.raises(ValueError, match="it is a folder; name a file in it"):
        checked_plot_path(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        checked_plot_path(tmp_path / "missing" / "a.png")


def test_a_failed_write_leaves_the_earlier_plot_whole(tmp_path, monkeypatch):
    path = tmp_path / "plot.png"
    path.write_bytes(b"earlier")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.output.timeline_image.os.replace", fail)
    with pytest.raises(OSError, match="No space left"):
        write_image(path, np.zeros((8, 8, 3), np.uint8))
    assert path.read_bytes() == b"earlier" and sorted(tmp_path.iterdir()) == [path]


SHIPPED_MODEL = "mini_xception"  # models_onnx/: trained, so the plot shows real readings
SUMMARY_FACE = re.compile(r"^face (\d+)(?: \([a-z ]+\))?: (\d+) frames?, (.+)$", re.MULTILINE)


def test_a_run_summarises_its_faces_and_plots_them_in_the_window_colours(media_dir, tmp_path):
    """Two seconds of four tiled faces: the summary, the plot and the CSV tell one story."""
    csv_path, plot_path = tmp_path / "faces.csv", tmp_path / "faces.png"
    clip = media_dir / "four_faces_tiled.mp4"
    completed = emotion_app("--headless", "--source", clip, "--model", SHIPPED_MODEL,
                            "--csv", csv_path, "--plot", plot_path, "--max-frames", "60")
    assert completed.returncode == 0, completed.stderr
    assert f"Plot: {plot_path}" in completed.stderr
    columns, rows = read_rows(csv_path)
    assert columns.index("source_s") == columns.index("source_ms") + 1  # beside its twin
    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    by_frame = {int(row["frame_index"]): float(row["source_s"]) for row in rows}
    assert sorted(by_frame) == list(range(60))
    steps = np.diff([by_frame[index] for index in range(60)])
    assert steps == pytest.approx(np.full(59, 1 / fps), abs=1e-3)
    assert all(float(row["source_s"]) == pytest.approx(float(row["source_ms"]) / 1000, abs=1e-3)
               for row in rows)

    summary = completed.stdout
    assert "60 frames analysed" in summary and "0 frames without a face" in summary
    listed = {int(face_id): (int(frames), shares) for face_id, frames, shares
              in SUMMARY_FACE.findall(summary)}
    recorded = {int(row["face_id"]) for row in rows}
    assert set(listed) == recorded and len(recorded) >= 3, summary
    for face_id, (frames, shares) in listed.items():
        face_rows = [row for row in rows if int(row["face_id"]) == face_id]
        assert frames == len(face_rows)
        percent = {label: int(value) for label, value in re.findall(r"(\w+) (\d+)%", shares)}
        assert sum(percent.values()) == pytest.approx(100, abs=len(percent))  # rounding
        for label, value in percent.items():  # the same counts as the CSV's shown emotion
            shown = sum(row["top_emotion_smoothed"] == label for row in face_rows)
            assert value == pytest.approx(100 * shown / len(face_rows), abs=0.5)

    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(plot_path))
    assert image.shape[1] == 1200 and 600 < image.shape[0] < 1400  # a panel per face
    assert (image != bgr(SURFACE_RGB)).any(axis=2).mean() > 0.03
    colours = {label: np.array(bgr(emotion_colour_rgb(label, index)))
               for index, label in enumerate(FER2013_LABELS)}
    lines = image[:, :image.shape[1] - 200].astype(int)  # the panels, not their legends
    drawn = {label: int((np.abs(lines - colour).sum(axis=2) < 30).sum())
             for label, colour in colours.items()}
    longest = max(listed, key=lambda face_id: listed[face_id][0])
    main_emotion = re.match(r"(\w+)", listed[longest][1]).group(1)  # drawn thickest, longest
    assert drawn[main_emotion] > 1000 and sum(count > 100 for count in drawn.values()) >= 5, drawn


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_plot_that_cannot_be_written_keeps_the_csv_complete(media_dir, tmp_path):
    """The plot comes last, after the CSV is closed: its failure costs no rows."""
    csv_path, plot_path = tmp_path / "kept.csv", tmp_path / "full.png"
    plot_path.symlink_to("/dev/full")  # a disk that fills up just before the plot is written
    completed = emotion_app("--headless", "--source", media_dir / "pyfeat_single_face.mp4",
                            "--model", SHIPPED_MODEL, "--csv", csv_path, "--plot", plot_path,
                            "--max-frames", "15", "--overwrite")  # the link exists: replace it
    assert completed.returncode == 1
    assert (f"cannot write the plot to {plot_path}: No space left on device; the CSV {csv_path} "
            "is kept (15 rows)") in completed.stderr
    assert "face 1: 15 frames" in completed.stdout  # the summary still comes
    _, rows = read_rows(csv_path)
    assert [int(row["frame_index"]) for row in rows] == list(range(15))
    assert csv_path.read_bytes().endswith(b"\n")


def test_one_frame_is_plotted_as_bars_not_as_a_timeline_of_dots():
    """A photo: each face's probabilities as bars, the happy bar as long as its share."""
    from app.output.frame_bars import PANEL_WIDTH, draw_frame_bars
    from app.output.palette import bgr, emotion_colour_rgb

    tally = RunTally("folder", keep_series=True)
    tally.add(result(0, [face(1, HAPPY), face(2, NEUTRAL, (70.0, 70.0, 20.0, 20.0))]))
    image = draw_frame_bars(tally, "photo.jpg")
    happy = np.all(image == bgr(emotion_colour_rgb("happy", HAPPY)), axis=2)
    first_panel = happy[:, :PANEL_WIDTH + 16]
    longest = first_panel.sum(axis=1).max()
    assert longest == pytest.approx(0.7 * (PANEL_WIDTH - 170), abs=2)  # 70 % of the track
    second_panel = happy[:, PANEL_WIDTH + 16:]
    assert second_panel.sum(axis=1).max() == pytest.approx(0.05 * (PANEL_WIDTH - 170), abs=2)
