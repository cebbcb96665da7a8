#!/usr/bin/env bash
# Set up (with the local model backend unless PLANQA_LIGHT=1), build or update the index of the
# bundled reports, and answer a sample question.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${PLANQA_LIGHT:-0}" = "1" ]; then
  bash scripts/setup.sh
else
  bash scripts/setup.sh local
fi
.venv/bin/planqa index
.venv/bin/planqa ask "2023年末北京常住人口是多少？"
