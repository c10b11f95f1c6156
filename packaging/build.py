"""Build Emotion Live as a one-folder bundle: ``.venv/bin/python packaging/build.py``.

Runs PyInstaller on ``packaging/emotion_live.spec`` with the Python that runs this
script (the project's virtual environment, with the ``dev`` extra for PyInstaller),
then prints the bundle's size: the total, its biggest parts and its biggest files.
The result is ``dist/emotion-live/``; run ``dist/emotion-live/emotion-live --help``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "emotion_live.spec"
NAME = "emotion-live"
MB = 1024 * 1024
NEEDED = ("PyInstaller", "mediapipe", "onnxruntime", "cv2", "PySide6")
"""What this Python must have: PyInstaller and the app's own dependencies, which it bundles."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=_description())
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder")
    parser.add_argument("--cpu-only", action="store_true",
                        help="leave out ONNX Runtime's CUDA and TensorRT providers (about 270 MB)")
    parser.add_argument("--clean", action="store_true", help="discard PyInstaller's cache first")
    parser.add_argument("--top", type=int, default=10, help="how many parts and files to list")
    parser.add_argument("--summary", type=Path,
                        help="also write the size report as markdown here (the README quotes it)")
    args = parser.parse_args(argv)
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        print(f"build.py: {', '.join(missing)} not installed for {sys.executable}; run it with the "
              f"project's environment (bash scripts/bootstrap.sh dev, then .venv/bin/python "
              f"packaging/build.py)", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               *(["--clean"] if args.clean else []),
               "--distpath", str(args.dist), "--workpath", str(args.work), str(SPEC),
               *(["--", "--cpu-only"] if args.cpu_only else [])]
    completed = subprocess.run(command, cwd=ROOT)
    if completed.returncode != 0:
        print(f"build.py: PyInstaller failed (exit code {completed.returncode})", file=sys.stderr)
        return completed.returncode
    report = size_report(args.dist / NAME, args.top)
    floor = glibc_floor(args.dist / NAME)
    if floor:
        report += (f"\nRuns on Linux with glibc {floor[0]} or newer "
                   f"(the highest version asked for, by {floor[1]})")
    print(report)
    if args.summary:
        variant = "CPU-only build" if args.cpu_only else "default build (CUDA and TensorRT providers kept)"
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(f"{variant}:\n\n```\n{report.replace(str(args.dist) + '/', '')}\n```\n")
    return 0



def _description() -> str:
    """The docstring's first line as the terminal shows it, without its markup."""
    sys.path.insert(0, str(ROOT))  # app.system.cli_text is standard library only: any Python will do
    from app.system.cli_text import plain_text

    return plain_text(__doc__.splitlines()[0])


def size_report(bundle: Path, top: int = 10) -> str:
    """The bundle's total size, its ``top`` biggest parts (a package's folder or a
    library beside them) and its ``top`` biggest files."""
    sizes = {path.relative_to(bundle): path.stat().st_size
             for path in bundle.rglob("*") if path.is_file() and not path.is_symlink()}
    parts: Counter[str] = Counter()
    for path, size in sizes.items():
        inside = path.parts[1:] if path.parts[0] == "_internal" else path.parts
        parts[inside[0] + ("/" if len(inside) > 1 else "")] += size
    total = sum(sizes.values())
    lines = [f"Bundle {bundle}: {total / MB:.1f} MB in {len(sizes)} files", "Biggest parts:"]
    lines += [f"  {size / MB:8.1f} MB  {part}" for part, size in parts.most_common(top)]
    rest = total - sum(size for _, size in parts.most_common(top))
    lines += [f"  {rest / MB:8.1f} MB  (the other {max(len(parts) - top, 0)} parts)", "Biggest files:"]
    biggest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:top]
    lines += [f"  {size / MB:8.1f} MB  {path}" for path, size in biggest]
    return "\n".join(lines)


def glibc_floor(bundle: Path) -> tuple[str, str] | None:
    """The newest glibc symbol version any bundled binary needs, and that binary; None
    without ``objdump`` (binutils, which PyInstaller's strip needs too)."""
    if shutil.which("objdump") is None:
        return None
    needs = []
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and _is_elf(path):
            symbols = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True).stdout
            needs += [(tuple(map(int, version.split("."))), str(path.relative_to(bundle)))
                      for version in set(re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols))]
    if not needs:
        return None
    version, path = max(needs)
    return ".".join(map(str, version)), path


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(4) == b"\x7fELF"


if __name__ == "__main__":
    sys.exit(main())
