#!/usr/bin/env bash
# The benchmark: snconnect against a baseline measured side by side in the same run (paired,
# alternating runs; median, spread, ratio), never a timed assertion. Rows: the window (start to
# interactive, memory, binary size) against a bare Tauri 2 app built from tests/bench/hello with
# the same toolchain and release profile; `snconnect test` against curl making the same
# requests to snsim over TLS; a full `migrate` with the scripted browser; `test --all` over 200
# profiles against a sequential curl loop. The table goes to stdout and target/bench.md.
#
#   scripts/bench.sh           release build, 9 runs a row, 200 profiles (the README's table)
#   scripts/bench.sh --quick   debug build, 1 run a row, 20 profiles: only that it runs (CI)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
PROFILE=release RUNS=9 PROFILES=200
if [ "${1:-}" = "--quick" ]; then PROFILE=debug RUNS=1 PROFILES=20; fi
for c in Xvfb dbus-run-session gnome-keyring-daemon curl python3; do
  command -v "$c" >/dev/null || { echo "bench: $c is missing; run scripts/setup.sh --test" >&2; exit 2; }
done

echo "==> building ($PROFILE): snconnect-app, snconnect, snsim, the bare Tauri app"
[ -d ui/dist ] || (cd ui && npm run build)
FLAGS=()
[ "$PROFILE" = release ] && FLAGS=(--release)
cargo build "${FLAGS[@]}" -p snconnect-app -p snconnect -p snsim -p hello-tauri

# A display and a private session bus with an unlocked gnome-keyring: the real keychain,
# never the user's.
DISPLAY_NUM=${BENCH_DISPLAY:-97}
Xvfb ":$DISPLAY_NUM" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true' EXIT
export DISPLAY=":$DISPLAY_NUM"
KHOME=$(mktemp -d)
export BENCH_KHOME="$KHOME"
dbus-run-session -- bash -c '
  set -euo pipefail
  export HOME="$BENCH_KHOME" XDG_DATA_HOME="$BENCH_KHOME/data" XDG_RUNTIME_DIR="$BENCH_KHOME/run"
  mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  printf "bench-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  sleep 0.5
  exec python3 tests/bench/bench.py --bin "target/'"$PROFILE"'" --runs '"$RUNS"' --profiles '"$PROFILES"'
'
rm -rf "$KHOME"
