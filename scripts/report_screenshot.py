"""Render a session report in Debian's headless Chromium and save a screenshot: how
README.md's picture of a report is made, and how the tests look at one.

    python scripts/report_screenshot.py report.html docs/report.png [--width 1200 --height 1500]

Chromium starts with a fresh profile and with its background networking, component
updates and first-run steps off, so the page is all it loads.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")


def browser() -> str | None:
    """The Chromium on PATH, or None (``apt-get install chromium`` on Debian)."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshot(page: Path, image: Path, width: int = 1200, height: int = 1500,
               timeout_s: float = 120) -> Path:
    """Render ``page`` and write a PNG of its first ``width`` x ``height`` pixels; RuntimeError
    when there is no Chromium or it writes no image."""
    executable = browser()
    if executable is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    image = image.resolve()
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        command = [executable, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-component-update", "--no-first-run",
                   f"--user-data-dir={profile}",
                   "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={image}",
                   page.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if not image.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-800:]}")
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("image", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1500)
    args = parser.parse_args(argv)
    try:
        print(screenshot(args.page, args.image, args.width, args.height))
    except RuntimeError as error:
        print(f"report_screenshot: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
