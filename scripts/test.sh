#!/usr/bin/env bash
# Set up (with the sentence-transformers and test extras) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh st,test,local
# pytest exits 5 when no test ran; that is a failure here, not a pass.
exec .venv/bin/python -m pytest -q -ra "$@"
