"""Regenerate the generated blocks of README.md and the docs, so every figure comes from a command.

A block sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``:

- ``architectures``: ``emotion-train models --markdown`` (computed here);
- ``models``: the model cards inside ``models_onnx/*.onnx`` (as ``emotion-train cards``);
- ``aims``: the shipped models' test accuracy (their cards) against ``AIMS``;
- ``timeline-columns``: the CSV timeline's columns and their meaning (``app.output.timeline_columns``);
- ``speed-summary``, ``training-time``: the README's short tables, per shipped model, from its
  card and the results files below;
- ``speed``, ``startup``, ``batch``, ``steadiness``, ``false-faces``, ``calibration``,
  ``setup-times``, ``packaging``: the saved output of the command named in ``RESULTS`` (re-run
  that command to refresh the file, then this script).

A block may sit in any of ``DOCUMENTS``; each block found is rebuilt, and every block
must sit in one of them (the README keeps short summaries; the full tables are in docs/).
Hand-written text in these files gives no measured figure (``tests/test_readme.py``
checks): it points to a block instead.

    python scripts/update_readme.py          # rewrite README.md and the docs
    python scripts/update_readme.py --check  # exit 1 if any of them is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"
DOCUMENTS = (README, REPOSITORY / "docs" / "pipeline.md", REPOSITORY / "docs" / "gui.md",
             REPOSITORY / "docs" / "architecture.md", REPOSITORY / "packaging" / "README.md",
             REPOSITORY / "docs" / "speed.md", REPOSITORY / "docs" / "training.md",
             REPOSITORY / "docs" / "steadiness.md")
"""The hand-written documents: their generated blocks and their prose are checked."""
RESULTS_DIR = REPOSITORY / "docs" / "results"

# block -> [(results file, the command that writes it)]
RESULTS: dict[str, list[tuple[str, str]]] = {
    "speed": [
        ("latency-cpu.md", "python benchmarks/latency.py > docs/results/latency-cpu.md"),
        ("latency-cuda.md", "python benchmarks/latency.py --provider cuda > docs/results/latency-cuda.md"),
        ("pipeline-cpu.md", "python benchmarks/pipeline.py --providers cpu > docs/results/pipeline-cpu.md"),
        ("pipeline-cuda.md",
         "python benchmarks/pipeline.py --providers cuda > docs/results/pipeline-cuda.md"),
        ("tracking-cpu.md", "python benchmarks/pipeline.py --providers cpu --architectures "
                            "mini_xception vgg16_gcca_pdra dcrnet --modes 0:sequential 3:overlapped "
                            "> docs/results/tracking-cpu.md"),
        ("live-cpu.md", "python benchmarks/pipeline.py --providers cpu --architectures ensemble "
                        "mini_xception --views auto --modes 3:live --videos fer_woman2.mp4 "
                        "four_faces_tiled.mp4 --fer-python FER_VENV/bin/python > docs/results/live-cpu.md"),
        ("views-cpu.md", "python benchmarks/pipeline.py --providers cpu --architectures mini_xception "
                         "vgg16_gcca_pdra ensemble --views none all --videos fer_woman2.mp4 "
                         "four_faces_tiled.mp4 --max-frames 200 --fer-python FER_VENV/bin/python "
                         "> docs/results/views-cpu.md"),
        ("mesh-cpu.md", "python benchmarks/pipeline.py --providers cpu --architectures mini_xception "
                        "--views none --modes 3:overlapped:static 3:overlapped --videos fer_woman2.mp4 "
                        "four_faces_tiled.mp4 --fer-python FER_VENV/bin/python > docs/results/mesh-cpu.md"),
        ("tracking-interval.md", "python benchmarks/pipeline.py --providers cpu --architectures "
                                 "mini_xception --modes 1:overlapped 3:overlapped 5:overlapped "
                                 "10:overlapped > docs/results/tracking-interval.md"),
    ],
    "training": [
        ("train-throughput.md",
         "python benchmarks/train_throughput.py --recipes fast > docs/results/train-throughput.md"),
        ("recipe-experiments.md", "python benchmarks/recipe_experiments.py table --runs RUNS "
                                  "> docs/results/recipe-experiments.md"),
    ],
    "startup": [
        ("first-frame.md", "python benchmarks/first_frame.py --baseline CHECKOUT_OF_AN_OLDER_COMMIT "
                           "> docs/results/first-frame.md"),
        ("startup.md", "python benchmarks/startup.py > docs/results/startup.md"),
    ],
    "batch": [("batch.md", "python benchmarks/batch.py > docs/results/batch.md")],
    "steadiness": [("steadiness.md", "python benchmarks/steadiness.py > docs/results/steadiness.md")],
    "calibration": [("calibration.md", "python benchmarks/calibration.py > docs/results/calibration.md")],
    "false-faces": [("false-faces.md", "python benchmarks/false_faces.py > docs/results/false-faces.md")],
    "setup-times": [("setup-times.md", "bash scripts/measure_setup.sh > docs/results/setup-times.md")],
    "packaging": [("bundle.md", "python packaging/build.py --summary docs/results/bundle.md")],
}


def architectures_block() -> str:
    from training.model_table import format_table, table_rows

    return ("Generated by `emotion-train models --markdown` (parameters and multiply-accumulates "
            "of one face at the default input, 7 classes, gray):\n\n"
            + format_table(table_rows(), markdown=True))


def shipped_cards() -> list:
    """(path, card) of each model in ``models_onnx/``, in file-name order."""
    from app.model.card import read_card

    return [(path, read_card(path)) for path in sorted((REPOSITORY / "models_onnx").glob("*.onnx"))]


def models_block() -> str:
    from training.model_cards import summary_table

    cards = shipped_cards()
    if not cards:
        return "No model is shipped yet."
    table = summary_table(cards, link_prefix="models_onnx/")
    return "Generated from the model cards in `models_onnx/`:\n\n" + "\n".join(table)


AIMS = (("every model", None, 0.66), ("at least two models", 2, 0.70), ("the best model", 1, 0.72))
"""(who, how many of the highest must clear it, or None for every model, test accuracy): what
the best single CNNs trained from scratch on FER2013 reach in the literature, and a floor."""


def aims_rows(tested: list[tuple[float, str]]) -> list[str]:
    """The aims table for (test accuracy, file name) pairs: each aim beside the models it
    judges (the lowest for a floor, else the highest as many as it needs)."""
    tested = sorted(tested, reverse=True)
    rows = ["| aim (FER2013 test) | reached | met |", "| --- | --- | --- |"]
    for who, needed, aim in AIMS:
        named = tested[-1:] if needed is None else tested[:needed]
        met = len(named) == (needed or 1) and all(accuracy >= aim for accuracy, _ in named)
        text = ", ".join(f"`{name}` {100 * accuracy:.2f} %" for accuracy, name in named)
        rows.append(f"| {who} at {100 * aim:.0f} % or more | {text} | {'yes' if met else 'no'} |")
    return rows


def aims_block() -> str:
    tested = [(card.metrics["test_accuracy"], path.name)
              for path, card in shipped_cards() if "test_accuracy" in card.metrics]
    if not tested:
        return "No shipped model has test figures yet."
    return ("Generated from the test figures in the model cards in `models_onnx/` (the ensemble "
            "counts as a model; the lowest, the two highest and the highest are shown):\n\n"
            + "\n".join(aims_rows(tested)))


def timeline_columns_block() -> str:
    from app.output.timeline_columns import markdown_table

    return markdown_table()


def results_table(filename: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in a results file, by column name ([] if none)."""
    path = RESULTS_DIR / filename
    lines = [line for line in (path.read_text().splitlines() if path.is_file() else [])
             if line.startswith("|")]
    if len(lines) < 2:
        return []
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:] if len(row) == len(cells[0])]


def command_of(filename: str) -> str:
    return next(command for entries in RESULTS.values() for name, command in entries if name == filename)


SUMMARY_CLIPS = ("fer_woman2.mp4", "four_faces_tiled.mp4")
"""The speed summary's clips: one face, and four at once."""


def speed_summary_block() -> str:
    """Per shipped model, most accurate first: its test accuracy, one face's inference time
    and the whole pipeline's frames per second on a one-face and a four-face clip."""
    latency = {row["model"]: row for row in results_table("latency-cpu.md")}
    frames = {(row["model"], row["video"]): row["frames/s"] for row in results_table("pipeline-cpu.md")}
    cards = sorted(shipped_cards(), key=lambda item: -item[1].metrics.get("test_accuracy", 0.0))
    rows = ["| model | test accuracy | one face (ms) | "
            + " | ".join(f"frames/s, `{clip}`" for clip in SUMMARY_CLIPS) + " |",
            "| --- | --- | --- | " + " | ".join("---" for _ in SUMMARY_CLIPS) + " |"]
    for path, card in cards:
        key = f"shipped `{path.name}`"
        accuracy = card.metrics.get("test_accuracy")
        rows.append(f"| `{path.stem}` | {'-' if accuracy is None else f'{100 * accuracy:.2f} %'} | "
                    f"{latency.get(key, {}).get('batch 1 (ms/face)', '-')} | "
                    + " | ".join(frames.get((key, clip), "-") for clip in SUMMARY_CLIPS) + " |")
    return (f"Generated from the model cards, `{command_of('latency-cpu.md')}` and "
            f"`{command_of('pipeline-cpu.md')}` (the machine and its load: [docs/speed.md](docs/speed.md)):"
            "\n\n" + "\n".join(rows))


def training_time_block() -> str:
    """Seconds per FER2013 epoch of each architecture's fast recipe (the one long runs use),
    beside the epochs and training time of its shipped model."""
    from training.model_cards import _duration

    per_epoch = {(row["architecture"], row["recipe"]): row["s per FER2013 epoch"]
                 for row in results_table("train-throughput.md")}
    rows = ["| architecture | s per FER2013 epoch, fast recipe | shipped model's epochs | "
            "its training time |", "| --- | --- | --- | --- |"]
    for _, card in shipped_cards():
        if card.architecture not in {architecture for architecture, _ in per_epoch}:
            continue  # an ensemble is built, not trained
        rows.append(f"| {card.architecture} | {per_epoch.get((card.architecture, 'fast'), '-')} | "
                    f"{card.training.get('epochs', '-')} | {_duration(card.training.get('seconds'))} |")
    return (f"Generated from `{command_of('train-throughput.md')}` (every core, each architecture in "
            "the precision and layout a run measures fastest; the CPU and its load: "
            "[docs/training.md](docs/training.md#how-fast-each-architecture-trains)) and the model "
            "cards:\n\n" + "\n".join(rows))


def results_block(name: str) -> str:
    parts = []
    for filename, command in RESULTS[name]:
        path = RESULTS_DIR / filename
        if path.is_file():
            parts.append(f"Measured with `{command}`:\n\n{path.read_text().strip()}")
    return "\n\n".join(parts) or "Not measured yet: run " + ", ".join(
        f"`{command}`" for _, command in RESULTS[name])


def builders() -> dict:
    return {"architectures": architectures_block, "models": models_block, "aims": aims_block,
            "timeline-columns": timeline_columns_block, "speed-summary": speed_summary_block,
            "training-time": training_time_block,
            **{name: (lambda name=name: results_block(name)) for name in RESULTS}}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:begin -->)\n(?:.*?\n)?(<!-- {name}:end -->)", re.DOTALL)


def render(text: str) -> str:
    """``text`` with the blocks it holds rebuilt."""
    for name, build in builders().items():
        pattern = block_pattern(name)
        if pattern.search(text) is None:
            continue
        built = build()  # a pattern replacement would read backslashes in the block as escapes
        text = pattern.sub(lambda match, built=built: f"{match.group(1)}\n{built}\n{match.group(2)}", text)
    return text


def missing_blocks() -> list[str]:
    """Blocks that no document holds: each must appear somewhere (the README or a page of
    docs/ it links to)."""
    texts = [path.read_text() for path in DOCUMENTS]
    return [name for name in builders() if not any(block_pattern(name).search(text) for text in texts)]


def render_document(path: Path) -> str:
    return render(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the documents are current")
    args = parser.parse_args(argv)
    missing = missing_blocks()
    if missing:
        print(f"no document holds the blocks {', '.join(missing)}", file=sys.stderr)
        return 1
    stale = []
    for path in DOCUMENTS:
        current = path.read_text()
        updated = render_document(path)
        if updated != current:
            stale.append(path.relative_to(REPOSITORY))
            if not args.check:
                path.write_text(updated)
    if args.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}: run python scripts/update_readme.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPOSITORY))
    sys.exit(main())
