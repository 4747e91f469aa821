#!/usr/bin/env bash
# Builds and opens the snconnect window. With no --instance (and no SNCONNECT_INSTANCE) it
# starts in demo mode (--demo) against a simulated ServiceNow instance (snsim, started by the app).
#   scripts/run.sh [--instance URL] [--redirect-port N] [--ca-file PEM]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
(cd ui && npm run build)
ARGS=("$@")
case " $* " in
  *" --instance"*) ;;
  *) [ -z "${SNCONNECT_INSTANCE:-}" ] && ARGS=(--demo "${ARGS[@]}") ;;
esac
# The app runs the simulator beside it (target/debug/snsim) when the demo is chosen.
cargo build -p snconnect-app -p snsim
exec target/debug/snconnect-app "${ARGS[@]}"
