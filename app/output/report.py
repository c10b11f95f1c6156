"""A session report: one self-contained HTML file made from a recorded timeline CSV.

It holds the run's facts (source, model and its SHA-256, settings, duration, frames,
faces), and per face: its emotions and valence over time with the markers as labelled
vertical lines, each emotion's share of its frames, the frames where it was missing or of
low quality (``QUALITY``), and its baseline when calibrated. A batch report opens with
one table over the manifest, then each file's report.

Plots are matplotlib figures written as SVG into the page (text as paths), with no
script, stylesheet, font or image fetched: the file works offline and alone.
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.face.valence import valence
from app.output import palette
from app.output.report_faces import FaceSummary, face_summaries, run_frames, time_axis
from app.output.timeline_columns import SMOOTHED
from app.output.timeline_file import TimelineFile, read_timeline
from app.system.output_files import write_bytes_staged

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d2327;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { text-align: left; padding: .2em .8em .2em 0; border-bottom: 1px solid #e4e6ea; }
td.number { text-align: right; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
.note { color: #5b6470; }
"""


class ReportError(RuntimeError):
    """The report cannot be made here (no plotting library)."""


@dataclass(frozen=True)
class RunFacts:
    """What the CSV alone cannot say, from the run that made it (``None``: not known)."""

    source: str | None = None
    model_path: Path | None = None
    frames: int | None = None
    """Frames analysed, faces or not."""
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchEntry:
    """One manifest row: the input, its CSV (None when there is none), how it went."""

    input: str
    csv: Path | None
    status: str
    error: str
    model: str
    model_sha256: str
    frames: int | None = None


def write_report(csv_path: str | Path, out: str | Path, facts: RunFacts | None = None) -> Path:
    """The report of one recorded CSV at ``out``; ValueError for a CSV that is not a
    timeline, OSError when ``out`` cannot be written (an earlier file stays whole)."""
    timeline = read_timeline(csv_path)
    body = _session(timeline, facts or RunFacts(), level=1)
    return _write(out, f"Emotion report: {Path(csv_path).name}", body)


def write_batch_report(entries: Sequence[BatchEntry], out: str | Path, title: str) -> Path:
    """One table over the manifest (file, faces, dominant emotion, mean valence, failures),
    then each file's report."""
    rows, sections = [], []
    for entry in entries:
        timeline = _readable(entry.csv)
        summaries = face_summaries(timeline) if timeline else []
        shares = Counter()
        for summary in summaries:
            shares.update(summary.shown)
        dominant = shares.most_common(1)[0][0] if shares else ""
        valences = [summary.mean_valence for summary in summaries if math.isfinite(summary.mean_valence)]
        failure = entry.error or ("" if entry.status == "ok" else entry.status)
        rows.append([entry.input, str(len(summaries)), dominant,
                     f"{np.mean(valences):+.2f}" if valences else "", failure])
        if timeline is not None:
            facts = RunFacts(source=entry.input, frames=entry.frames,
                             settings={"model SHA-256": entry.model_sha256})
            sections.append(f"<section><h2>{_text(entry.input)}</h2>"
                            f"{_session(timeline, facts, level=3)}</section>")
    table = _table(["file", "faces", "dominant emotion", "mean valence", "failure"], rows)
    return _write(out, title, f"<h1>{_text(title)}</h1>{table}{''.join(sections)}")


def _readable(path: Path | None) -> TimelineFile | None:
    if path is None or not path.is_file():
        return None
    try:
        return read_timeline(path)
    except ValueError:
        return None


def _session(timeline: TimelineFile, facts: RunFacts, level: int) -> str:
    summaries = face_summaries(timeline)
    parts = [] if level > 1 else [f"<h1>Emotion report: {_text(timeline.path.name)}</h1>"]
    parts.append(_facts(timeline, facts, summaries))
    if not summaries:
        parts.append('<p class="note">No face was recorded.</p>')
    for summary in summaries:
        parts.append(_face_section(timeline, summary, level + 1))
    return "".join(parts)


def _facts(timeline: TimelineFile, facts: RunFacts, summaries: list[FaceSummary]) -> str:
    models = sorted({row.get("model", "") for row in timeline.face_rows()} - {""})
    model = facts.model_path.name if facts.model_path else ", ".join(models) or "unknown"
    digest = (_sha256(facts.model_path) if facts.model_path and facts.model_path.is_file()
              else facts.settings.get("model SHA-256", "not recorded in the CSV"))
    first = timeline.face_rows()[:1]
    settings = {name: first[0][name] for name in ("smoothing_s", "switch_margin", "switch_hold_s")
                if first and first[0].get(name)}
    settings.update({name: value for name, value in facts.settings.items() if name != "model SHA-256"})
    times, basis = time_axis(timeline, timeline.face_rows())
    frames = facts.frames if facts.frames is not None else run_frames(timeline)
    rows = [["source", facts.source or _source_guess(timeline)], ["CSV", str(timeline.path)],
            ["model", model], ["model SHA-256", digest],
            ["settings", ", ".join(f"{name} {value}" for name, value in settings.items()) or "not recorded"],
            ["duration", f"{np.nanmax(times) - np.nanmin(times):.1f} s ({basis})" if len(times) else "0 s"],
            ["frames", f"{frames}" + ("" if facts.frames is not None else " (spanned by the CSV's rows)")],
            ["faces", f"{len(summaries)} (IDs {', '.join(str(s.face_id) for s in summaries)})"
             if summaries else "0"],
            ["markers", ", ".join(f"{label} at {time:.1f} s" for time, label in timeline.markers) or "none"]]
    return _table(["", ""], rows, show_header=False)


def _source_guess(timeline: TimelineFile) -> str:
    files = [row.get("source_file", "") for row in timeline.face_rows() if row.get("source_file")]
    return f"an image folder ({len(set(files))} images with faces)" if files else "not recorded in the CSV"


def _face_section(timeline: TimelineFile, summary: FaceSummary, level: int) -> str:
    heading = f"<h{level}>Face {summary.face_id}</h{level}>"
    total = summary.frames_seen + summary.frames_missing
    quality = [[reason, str(count), _share(count, total)] for reason, count in summary.quality_counts.items()]
    quality.insert(0, ["missing (no row for this face)", str(summary.frames_missing),
                       _share(summary.frames_missing, total)])
    shares = [[label, str(count), _share(count, summary.frames_seen)]
              for label, count in summary.shown.most_common()]
    baseline = (f"<p>Calibrated: baseline {', '.join(map(_text, summary.baselines))}.</p>"
                if summary.baselines else '<p class="note">Not calibrated.</p>')
    return (f"<section>{heading}{_figure(timeline, summary)}"
            f"<p>Seen in {summary.frames_seen} of {total} frames; mean valence "
            f"{_signed(summary.mean_valence)}.</p>{baseline}"
            f"<h{level + 1}>Emotion shown (smoothed), share of the face's frames</h{level + 1}>"
            f"{_table(['emotion', 'frames', 'share'], shares)}"
            f"<h{level + 1}>Missing and low-quality frames</h{level + 1}>"
            f"{_table(['frames', 'count', 'share of the run'], quality)}</section>")


def _figure(timeline: TimelineFile, summary: FaceSummary) -> str:
    """The face's timelines and shares as inline SVG (matplotlib, no fonts or images)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # the packaged bundle leaves matplotlib out
        raise ReportError(f"the report's plots need matplotlib, which this installation lacks "
                          f"({error}); make the report from an installed emotion-live "
                          "(pip install emotion-live, or bash scripts/app.sh)") from None

    rows = timeline.face_rows(summary.face_id)
    times, basis = time_axis(timeline, rows)
    smoothed = timeline.probabilities(rows, SMOOTHED)
    figure = Figure(figsize=(11, 5.2))
    grid = figure.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(3, 2), wspace=0.18, hspace=0.12)
    emotions, valence_axes, shares = (figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[1, 0]),
                                      figure.add_subplot(grid[:, 1]))
    order = np.argsort(times)
    colours = [palette.emotion_colour_rgb(label, index) for index, label in enumerate(timeline.labels)]
    for index, label in enumerate(timeline.labels):
        emotions.plot(times[order], smoothed[order, index], color=colours[index], linewidth=1.4, label=label)
    emotions.set_ylim(0, 1)
    emotions.set_ylabel("probability (smoothed)")
    emotions.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=len(timeline.labels), fontsize=8,
                    frameon=False, handlelength=1.2, columnspacing=1.0)
    emotions.tick_params(labelbottom=False)
    valence_axes.axhline(0, color="#999999", linewidth=0.8)
    valence_axes.plot(times[order], valence(smoothed, timeline.labels)[order], color="#37474f",
                      linewidth=1.4, label="valence (smoothed)")
    calibrated = timeline.values(rows, "valence_calibrated")
    if np.isfinite(calibrated).any():
        valence_axes.plot(times[order], calibrated[order], color="#8e24aa", linewidth=1.2,
                          label="valence (calibrated)")
        valence_axes.legend(loc="lower left", fontsize=8, frameon=False)
    valence_axes.set_ylim(-1, 1)
    valence_axes.set_ylabel("valence")
    valence_axes.set_xlabel(f"{basis} (s)")
    marker_times, _ = time_axis(timeline, None)
    for axes in (emotions, valence_axes):
        axes.set_xlim(*(_range(times)))
        axes.grid(alpha=0.25)
        for time, (_, label) in zip(marker_times, timeline.markers):
            if math.isfinite(time):
                axes.axvline(time, color="#263238", linestyle="--", linewidth=1)
                if axes is emotions:
                    axes.annotate(label, (time, 1.0), xytext=(3, -10), textcoords="offset points",
                                  fontsize=8, rotation=0, color="#263238")
    labels = list(timeline.labels)
    counts = [summary.shown.get(label, 0) / max(summary.frames_seen, 1) for label in labels]
    shares.barh(labels[::-1], counts[::-1], color=colours[::-1])
    shares.set_xlim(0, 1)
    shares.set_title("share of frames", fontsize=9)
    shares.tick_params(labelsize=8)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # the XML prolog and doctype do not belong inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)  # RDF links, not content
    return f'<figure aria-label="face {summary.face_id} timeline">{svg}</figure>'


def _range(times: np.ndarray) -> tuple[float, float]:
    if not len(times):
        return 0.0, 1.0
    low, high = float(np.nanmin(times)), float(np.nanmax(times))
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _table(header: list[str], rows: list[list[str]], show_header: bool = True) -> str:
    head = "<tr>" + "".join(f"<th>{_text(cell)}</th>" for cell in header) + "</tr>" if show_header else ""
    body = "".join("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _signed(value: float) -> str:
    return f"{value:+.2f}" if math.isfinite(value) else "none (the labels give no valence)"


def _share(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else ""


def _text(value: object) -> str:
    return html.escape(str(value))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write(out: str | Path, title: str, body: str) -> Path:
    out = Path(out).expanduser()
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}"
            '<p class="note">Made by emotion-app report. Valence is happy minus the strongest of angry, '
            "disgust, fear and sad: a summary of the probabilities, not a measurement of its own.</p>"
            "</body></html>")
    write_bytes_staged(out, page.encode("utf-8"))
    return out
