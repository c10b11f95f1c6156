#!/usr/bin/env bash
# Set up what the project needs on a fresh Debian or Ubuntu machine: the system
# libraries Qt and OpenCV load (and strace, with the dev extra), a virtual environment
# in .venv, and the project installed into it in editable mode with the extras named
# in $1 (default: none).
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

system_packages="libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
  libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libwayland-cursor0
  xvfb xauth"
# The test suite watches the app's system calls (tests/test_offline.py: no network, no
# compilers at start-up) and renders the session report in a real browser
# (tests/test_report.py, scripts/report_screenshot.py: Debian's chromium).
case ",$extras," in *,dev,*) system_packages="$system_packages strace chromium" ;; esac
if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=$(for package in $system_packages; do
    dpkg -s "$package" >/dev/null 2>&1 || echo "$package"; done)
  if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing system packages (Qt's libraries; strace and chromium for the tests): $(echo $missing)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi

target="."
[ -n "$extras" ] && target=".[$extras]"
stamp=".venv/.installed-$(echo "${extras:-app}" | tr ',' '-')"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing the project ($target) into .venv"
  .venv/bin/python -m pip install -q -e "$target"
  .venv/bin/python -m pip check
  touch "$stamp"
fi
