#!/usr/bin/env bash
# Builds and opens the snconnect window. With no --instance it runs in demo mode against an
# embedded simulated ServiceNow instance.   scripts/run.sh [--instance URL] [--redirect-port N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
(cd ui && npm run build)
exec cargo run -p snconnect-app -- "$@"
