#!/usr/bin/env bash
# Set everything up (first run only) and launch the app. Arguments go to emotion-app,
# e.g.  bash scripts/app.sh --source 0 --model mini_xception
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ] \
   && [ "$(uname)" = "Linux" ]; then
  echo "No display found: running the window offscreen (try --screenshot PATH to see it)."
  export QT_QPA_PLATFORM=offscreen
fi
exec .venv/bin/emotion-app "$@"
