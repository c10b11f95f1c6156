"""Per-face latency of every registered architecture in ONNX Runtime, as a markdown table.

    python benchmarks/latency.py                    # CPU, batches 1 and 8
    python benchmarks/latency.py --provider cuda    # CUDA, when it really runs here
    python benchmarks/latency.py --architectures ensemble --merge docs/results/latency-cpu.md

Each architecture runs from a shipped model in ``models_onnx/`` when one is there (any
``*.onnx`` whose model card names the architecture), otherwise from a random-init
export made in a temporary folder with ``training.export.export_onnx``; the table says
which. The shipped ensemble (``emotion-train ensemble``) is measured too, as
``ensemble``. ``--merge FILE`` measures only the given architectures and keeps the
other rows of an earlier table in FILE, saying so. Sessions are opened the way the app
opens them (``app.model.inference``); the figure is the median wall time of one
``session.run`` over ``--repeats`` runs after ``--warmup`` runs, divided by the batch
size. Weights do not change the time, so a random-init model measures the
architecture's cost.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from app.face.alignment import DEFAULT_TEMPLATE_ID
from app.face.preprocess import PreprocessSpec
from app.model.card import ModelCard, ModelCardError, read_card
from app.model.inference import EmotionClassifier
from app.model.providers import REQUESTS, probe
from training.data.labels import FER2013_LABELS

log = logging.getLogger("benchmarks.latency")

REPOSITORY = Path(__file__).resolve().parent.parent
ENSEMBLE = "ensemble"
"""The architecture name on an ensemble's card (``training.commands.ensemble.ARCHITECTURE``)."""


def cpu_name() -> str:
    """The CPU's model name where Linux tells it, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_note() -> str:
    """The 1-minute load average, so that figures taken on a busy machine read as such."""
    if not hasattr(os, "getloadavg"):
        return ""
    return f", load average {os.getloadavg()[0]:.2f} at the end"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def shipped_models(models_dir: Path) -> dict[str, Path]:
    """Architecture -> the first ``*.onnx`` (by name) in ``models_dir`` whose card names it."""
    found: dict[str, Path] = {}
    for path in sorted(models_dir.glob("*.onnx")) if models_dir.is_dir() else []:
        try:
            found.setdefault(read_card(path).architecture, path)
        except ModelCardError as error:
            log.warning("skipping %s: %s", path, error)
    return found


def export_random_init(name: str, folder: Path) -> Path:
    """Export a random-init ``name`` at its default input, gray, with a benchmark-only card."""
    import torch

    from training.export import export_onnx
    from training.models import ARCHITECTURES, build_model

    torch.manual_seed(0)
    size = ARCHITECTURES[name].input_size
    spec = PreprocessSpec(input_size=(size, size), channels=1, color_space="gray", mean=(0.5,),
                          std=(0.5,), gamma=False, alignment_template=DEFAULT_TEMPLATE_ID)
    card = ModelCard(architecture=name, labels=FER2013_LABELS, preprocess=spec,
                     dataset="none (random init, latency benchmark only)")
    return export_onnx(build_model(name), card, folder / f"{name}.onnx")


def benchmark_model(name: str, shipped: dict[str, Path], scratch: Path) -> tuple[Path, str]:
    """The shipped model of architecture ``name``, else a random-init export; and which.
    Raises LookupError for an ensemble none of which is shipped (there is nothing to export)."""
    if name in shipped:
        return shipped[name], f"shipped `{shipped[name].name}`"
    if name == ENSEMBLE:
        raise LookupError(f"no ensemble in the models folder; build one with `emotion-train {ENSEMBLE}`")
    log.info("exporting random-init %s", name)
    return export_random_init(name, scratch), "random-init export"


def median_seconds(classifier: EmotionClassifier, batch_size: int, repeats: int, warmup: int) -> float:
    """Median seconds of one batch through the session, after ``warmup`` untimed runs."""
    card = classifier.card
    batch = np.random.default_rng(0).standard_normal(
        (batch_size, card.preprocess.channels, *card.preprocess.input_size)
    ).astype(np.float32)
    for _ in range(warmup):
        classifier.logits(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.logits(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def architecture_choices() -> list[str]:
    """Every registered architecture, and ``ensemble`` (measured when one is shipped)."""
    from training.models import ARCHITECTURES

    return [*sorted(ARCHITECTURES), ENSEMBLE]


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--models-dir``, ``--architectures`` and ``--merge``, shared with ``pipeline.py``."""
    parser.add_argument("--models-dir", type=Path, default=REPOSITORY / "models_onnx")
    parser.add_argument("--architectures", nargs="+", choices=architecture_choices(),
                        default=architecture_choices(), help="default: every registered one and "
                                                             "the shipped ensemble")
    parser.add_argument("--merge", type=Path, metavar="FILE",
                        help="keep the rows of other architectures from this earlier output")


def print_table(description: str, header: list[str], rows: list[list[str]], merge: Path | None) -> None:
    """The description and the table; with ``merge``, the earlier file's rows of other
    architectures (the first column) are kept, and the description says which are whose."""
    if merge is not None:
        earlier = merge.read_text().strip().splitlines()
        measured = {row[0] for row in rows}
        kept = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in earlier[4:]
                if line.startswith("|")]
        kept = [row for row in kept if row[0] not in measured]
        if kept:  # say whose rows are whose; when none is kept, the earlier description is stale
            command = shlex.join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
            description += (f" Rows of {', '.join(sorted(measured))} from `{command}`; the others "
                            f"from the earlier run: {earlier[0]}")
        rows = sorted(kept + rows, key=lambda row: row[0])
    print(description + "\n")
    print(markdown_table(header, rows))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS),
                        help="execution provider to measure (default: cpu)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per batch size")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    add_selection_arguments(parser)
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("batch sizes and --repeats must be at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)  # progress only; the exporter's INFO chatter stays quiet
    args = parse_arguments(argv)
    report = probe(args.provider)
    if args.provider != "cpu" and not report.on_gpu:
        print(f"--provider {args.provider} is not usable here: {report.summary}", file=sys.stderr)
        return 1
    shipped = shipped_models(args.models_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="latency-") as scratch:
        for name in args.architectures:
            try:
                path, source = benchmark_model(name, shipped, Path(scratch))
            except LookupError as error:
                log.warning("skipping %s: %s", name, error)
                continue
            classifier = EmotionClassifier(path, report.session_providers, max(args.batch_sizes))
            card = classifier.card
            per_face = [
                median_seconds(classifier, size, args.repeats, args.warmup) / size * 1e3
                for size in args.batch_sizes
            ]
            rows.append([name, source, card.preprocess.input_text.split()[0],
                         *(f"{ms:.2f}" for ms in per_face)])
            log.info("%s: %s ms/face", name, ", ".join(f"{ms:.2f}" for ms in per_face))

    header = ["architecture", "model", "input", *(f"batch {size} (ms/face)" for size in args.batch_sizes)]
    print_table(f"Per-face latency (ms, median of {args.repeats} runs after {args.warmup} warm-up), "
                f"ONNX Runtime {report.onnxruntime_version}, {report.summary}; "
                f"{cpu_name()}, {os.cpu_count()} logical CPUs{load_note()}.", header, rows, args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
