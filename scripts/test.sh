#!/usr/bin/env bash
# Set up (with the sentence-transformers, test and local-model extras), make sure Debian's
# chromium is there for the browser test, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh st,test,local
# (and a Chinese font, so its screenshots show characters, not boxes)
if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "==> installing Debian's chromium and a Chinese font for the browser test" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  pkgs="chromium fonts-wqy-microhei"
  $sudo_cmd apt-get install -y -qq $pkgs >&2 || { $sudo_cmd apt-get update -qq >&2 && $sudo_cmd apt-get install -y -qq $pkgs >&2; }
fi
# pytest exits 5 when no test ran; that is a failure here, not a pass.
exec .venv/bin/python -m pytest -q -ra "$@"
