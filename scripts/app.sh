#!/usr/bin/env bash
# Set everything up (first run only) and launch the app. Arguments go to emotion-app,
# e.g.  bash scripts/app.sh --source 0 --model mini_xception
# Without a display, emotion-app says what to run instead and exits with status 69
# (a run with --screenshot or --quit-after-frames goes offscreen by itself).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/emotion-app "$@"
