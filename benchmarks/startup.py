"""What importing MediaPipe costs at start-up, plain and the app's way, as a markdown table.

    python benchmarks/startup.py              # 7 fresh processes per way
    python benchmarks/startup.py --runs 15

Each run is a fresh interpreter that times one import: ``import mediapipe`` as it comes
(its audio tasks import ``sounddevice``, its drawing helper ``matplotlib.pyplot``), and
``app.face.mediapipe_import.import_mediapipe()``, which keeps both out (see that module).
The table gives the median and fastest wall time and, where ``strace`` is installed,
the other programs each way starts (``ldconfig``, ``gcc``, ``ld``, ``fc-list``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WAYS = {
    "`import mediapipe`": "import mediapipe",
    "`import_mediapipe()` (the app)": "from app.face.mediapipe_import import import_mediapipe\n"
                                     "import_mediapipe()",
}
TIMED = "import time\nstart = time.perf_counter()\n{code}\nprint(time.perf_counter() - start)"


def seconds(code: str) -> float:
    completed = subprocess.run([sys.executable, "-c", TIMED.format(code=code)],
                               capture_output=True, text=True, check=True)
    return float(completed.stdout.split()[-1])


def programs_started(code: str) -> str:
    """The programs (other than Python) one import starts, counted by name."""
    if shutil.which("strace") is None:
        return "(needs strace)"
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.txt"
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace),
                        sys.executable, "-c", code], capture_output=True, check=True)
        names = [line.split('"')[1].rsplit("/", 1)[-1] for line in trace.read_text().splitlines()
                 if "execve(" in line and "= 0" in line][1:]
    return ", ".join(f"{name} x{names.count(name)}" for name in sorted(set(names))) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per way")
    args = parser.parse_args(argv)
    print(f"Import time of MediaPipe, {args.runs} fresh processes per way; "
          f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.2f} at the start.\n")
    print("| import | median (ms) | fastest (ms) | other programs started |")
    print("| --- | --- | --- | --- |")
    for label, code in WAYS.items():
        times = [seconds(code) * 1000 for _ in range(args.runs)]
        print(f"| {label} | {statistics.median(times):.0f} | {min(times):.0f} | "
              f"{programs_started(code)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
