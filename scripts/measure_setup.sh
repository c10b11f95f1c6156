#!/usr/bin/env bash
# Time the README's two commands on fresh clones of this repository, each in its own
# clone beside this one (so ../shared sits beside it as in CI), and print a markdown
# table for README.md (see scripts/update_readme.py):
#   bash scripts/measure_setup.sh > docs/results/setup-times.md
# The app command analyses 60 frames of a shared clip, saves a screenshot and quits.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
parent="$(dirname "$here")"
clip="$parent/shared/data/media/fer_test.mp4"
timed() {  # timed NAME COMMAND...: run COMMAND in a fresh clone, print seconds
  local clone="$parent/setup-timing-$1"
  rm -rf "$clone"
  git clone -q "$here" "$clone"
  local start end
  start=$(date +%s)
  (cd "$clone" && "${@:2}") >"$clone.log" 2>&1 || { echo "failed, see $clone.log" >&2; exit 1; }
  end=$(date +%s)
  rm -rf "$clone"
  echo $((end - start))
}
load_before=$(cut -d' ' -f1 /proc/loadavg)
app_seconds=$(timed app bash scripts/app.sh --source "$clip" --quit-after-frames 60 \
  --screenshot /tmp/setup-timing-screenshot.png)
test_seconds=$(timed tests bash scripts/test.sh -q)
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "Fresh clones on $(date -u +%Y-%m-%d), $cpu, no GPU, no display; pip's download cache was warm;"
echo "load average $load_before before the runs (other work on the machine slows them)."
echo
echo "| command | wall time |"
echo "| --- | --- |"
printf '| `bash scripts/app.sh --source fer_test.mp4 --quit-after-frames 60 --screenshot ...` | %d min %02d s |\n' \
  $((app_seconds / 60)) $((app_seconds % 60))
printf '| `bash scripts/test.sh` | %d min %02d s |\n' $((test_seconds / 60)) $((test_seconds % 60))
