#!/usr/bin/env bash
# Set up, build (or update) the index of the bundled reports, and run a sample search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/planqa index
.venv/bin/planqa search "2023年末北京常住人口是多少？" -k 3
