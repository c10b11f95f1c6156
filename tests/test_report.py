"""The session report: one self-contained HTML page made from a real recording, with the
run's facts, each face's timelines (markers drawn), shares and low-quality frames, the
baseline when calibrated; rendered in a real browser, offline."""

from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
import pytest
from PIL import Image

from app.cli import main as emotion_app
from app.face.steady import Steadiness
from app.model.library import resolve_model
from app.output import palette
from app.pipeline import Pipeline
from app.sources.capture import open_reader
from tests.conftest import REPO_ROOT
from training.data.labels import FER2013_LABELS

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import report_screenshot  # noqa: E402

MODEL = "mini_xception"


@pytest.fixture(scope="module")
def session(media_dir, tmp_path_factory):
    """A real recording of fer_test.mp4 with a marker a second in, and its calibrated copy."""
    folder = tmp_path_factory.mktemp("session")
    path = folder / "session.csv"
    pipeline = Pipeline(MODEL, provider="cpu")
    pipeline.start_recording(path)

    def on_result(result):
        if result.frame.index == 30:
            pipeline.add_marker("stimulus shown")

    try:
        pipeline.run(open_reader(media_dir / "fer_test.mp4"), on_result)
    finally:
        pipeline.stop_recording()
        pipeline.close()
    calibrated = folder / "calibrated.csv"
    assert emotion_app(["calibrate", str(path), "--marker", "stimulus shown", "--seconds", "0.5",
                        "--out", str(calibrated)]) == 0
    return path, calibrated


def fetched(page: str) -> list[str]:
    """Anything the page would load: src, href, CSS url() or @import other than its own ids."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)["']""", page)
    found += re.findall(r"url\(\s*['\"]?([^'\")#][^'\")]*)", page) + re.findall(r"@import", page)
    return found


def test_a_report_holds_the_run_its_faces_and_nothing_to_fetch(session, tmp_path):
    path, _ = session
    out = tmp_path / "report.html"
    assert emotion_app(["report", str(path), "--out", str(out), "--source", "fer_test.mp4"]) == 0
    page = out.read_text(encoding="utf-8")
    digest = hashlib.sha256(resolve_model(MODEL).read_bytes()).hexdigest()
    smoothing = f"smoothing_s {Steadiness().time_constant_s:g}"
    for fact in ("fer_test.mp4", f"{MODEL}.onnx", digest, smoothing, "position in the video",
                 "stimulus shown at"):
        assert fact in page, fact
    assert page.count("<svg") == page.count("<h2>Face ") >= 1  # one figure per face
    assert "<!-- stimulus shown -->" in page  # the marker's label, drawn in the plot
    assert "Emotion shown (smoothed), share of the face" in page and "missing (no row for this face)" in page
    assert "Not calibrated." in page and "valence" in page
    assert fetched(page) == [] and not re.search(r"<script|<img|<link", page)


def test_a_calibrated_recording_names_its_baseline(session, tmp_path):
    _, calibrated = session
    out = tmp_path / "calibrated.html"
    assert emotion_app(["report", str(calibrated), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Calibrated: baseline marker &#x27;stimulus shown&#x27; + 0.5 s (face " in page
    assert "not recorded in the CSV" in page  # no --source: said, not guessed


def test_bad_input_is_refused_clearly(tmp_path, capsys):
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    assert emotion_app(["report", str(notes), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not an emotion timeline" in capsys.readouterr().err
    assert emotion_app(["report", str(tmp_path / "none.csv"), "--out", str(tmp_path / "r.html")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    assert emotion_app(["--headless", "--source", "x.mp4", "--report", str(tmp_path / "r.html")]) == 2
    assert "--report is made from the recorded timeline: give --csv too" in capsys.readouterr().err


def test_a_batch_report_opens_with_one_table_over_the_manifest(media_dir, tmp_path):
    clips = [media_dir / "fer_test.mp4", media_dir / "pyfeat_no_face.mp4"]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    out = tmp_path / "report.html"
    code = emotion_app(["batch", *map(str, clips), str(broken), "--model", MODEL, "--out",
                        str(tmp_path / "csv"), "--workers", "1", "--max-frames", "15", "--report", str(out)])
    assert code == 1  # the broken file failed; the report is written all the same
    page = out.read_text(encoding="utf-8")
    first_table = page[page.index("<table>"):page.index("</table>")]
    header, *rows = re.findall(r"<tr>(.*?)</tr>", first_table)
    assert re.findall(r"<th>(.*?)</th>", header) == ["file", "faces", "dominant emotion", "mean valence",
                                                       "failure"]
    cells = {re.findall(r"<td>(.*?)</td>", row)[0]: re.findall(r"<td>(.*?)</td>", row) for row in rows}
    assert set(cells) == {str(path) for path in (*clips, broken)}
    fer = cells[str(clips[0])]
    assert fer[1] == "1" and fer[2] in FER2013_LABELS and fer[4] == ""
    assert re.fullmatch(r"[+-]\d\.\d\d", fer[3])
    assert cells[str(broken)][1] == "0" and cells[str(broken)][4]  # its failure, said
    assert page.count("<h2>") == 2 and page.count("<svg") == 1  # each analysed file's report follows
    assert "No face was recorded." in page  # the clip without a face, in its first 15 frames
    assert fetched(page) == []


@pytest.mark.skipif(report_screenshot.browser() is None,
                    reason="no chromium on PATH: apt-get install chromium (bash scripts/bootstrap.sh dev "
                           "installs it)")
def test_chromium_shows_the_plots(session, tmp_path):
    path, _ = session
    out = tmp_path / "report.html"
    assert emotion_app(["report", str(path), "--out", str(out)]) == 0
    image = report_screenshot.screenshot(out, tmp_path / "report.png", 1200, 1400)
    pixels = np.asarray(Image.open(image).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1400, 1200)

    def drawn(colour: str) -> int:
        target = np.array(palette.bgr(colour)[::-1])
        return int((np.abs(pixels - target).max(axis=2) <= 10).sum())
    shown = {label: drawn(palette.emotion_colour_rgb(label, index))
             for index, label in enumerate(FER2013_LABELS)}
    assert shown["happy"] > 500 and shown["sad"] > 500, shown  # the lines and the share bars
    white = (pixels.min(axis=2) > 245).mean()
    assert 0.3 < white < 0.98  # a page, not a blank or an error screen



def test_without_matplotlib_as_in_the_bundle_the_report_says_why_and_writes_nothing(session, tmp_path):
    """The packaged bundle leaves matplotlib out (packaging/runtime_hook_no_matplotlib.py)."""
    import subprocess

    path, _ = session
    out = tmp_path / "report.html"
    hook = REPO_ROOT / "packaging" / "runtime_hook_no_matplotlib.py"
    script = (f"import runpy, sys; runpy.run_path({str(hook)!r}); from app.cli import main; "
              f"sys.exit(main(['report', {str(path)!r}, '--out', {str(out)!r}]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)
    assert done.returncode == 1 and "the report's plots need matplotlib" in done.stderr
    assert not out.exists()
