#!/usr/bin/env bash
# Builds and opens the snconnect window. With no --instance (and no SNCONNECT_INSTANCE) it
# starts in demo mode (--demo) against an embedded simulated ServiceNow instance.
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
exec cargo run -p snconnect-app -- "${ARGS[@]}"
