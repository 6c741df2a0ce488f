#!/usr/bin/env bash
# The main job on the bundled tiny checkpoint. Grows as the tools land.
set -euo pipefail
BUILD=${1:-build}
echo "g2kit demo: codec and config checks (conversion tools land with issues #3-#6)"
ctest --test-dir "$BUILD" -R 'Fp8E4M3|ModelConfig' --output-on-failure
