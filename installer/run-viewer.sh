#!/usr/bin/env bash
# Command (a) of the README: installs everything, builds, and opens the viewer on the demo
# study. Without a display (a server, CI) the viewer runs under Xvfb and saves a screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."

bash installer/build.sh
BUILD_DIR=${ANOMALYLENS_BUILD_DIR:-build}

if [ -n "${DISPLAY:-}" ]; then
  exec "$BUILD_DIR/app/anomalylens" --demo "$@"
else
  shot="$BUILD_DIR/viewer-screenshot.png"
  echo "run-viewer: no DISPLAY; running the viewer under Xvfb and saving a screenshot to $shot"
  xvfb-run -a -s "-screen 0 1280x1024x24" "$BUILD_DIR/app/anomalylens" --screenshot "$shot" --demo "$@"
  echo "run-viewer: screenshot written to $shot"
fi
