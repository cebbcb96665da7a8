#!/usr/bin/env bash
# Set up (with the local model backend unless PLANQA_LIGHT=1), build or update the index of the
# bundled reports, and start the web app on http://127.0.0.1:${PLANQA_PORT:-8501}.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${PLANQA_LIGHT:-0}" = "1" ]; then
  bash scripts/setup.sh
else
  bash scripts/setup.sh local
fi
.venv/bin/planqa index
port="${PLANQA_PORT:-8501}"
echo "==> PlanQA（京规问答）: open http://127.0.0.1:${port} in a browser (Ctrl-C stops it)" >&2
exec .venv/bin/streamlit run app.py --server.address "${PLANQA_ADDRESS:-127.0.0.1}" --server.port "$port"
