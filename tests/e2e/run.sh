#!/usr/bin/env bash
# The WebDriver end-to-end test of the real app window.
#   tests/e2e/run.sh <path-to-app-binary> [SCENARIO…]   (a custom-protocol build: cargo build -p snconnect-app;
#   scenarios a e b c d p k s v n i t, default all; see suite.py)
# Runs inside a private D-Bus session and Xvfb, with a throwaway HOME, an unlocked throwaway
# gnome-keyring, a notification server (dunst), tauri-driver on :4444 and the browser stand-in
# as $BROWSER.
set -euo pipefail
if [ -z "${E2E_INNER:-}" ]; then
  export E2E_INNER=1
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APP=$(realpath "$1")
PY=${E2E_PYTHON:-$ROOT/.venv/bin/python}
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$ROOT/artifacts}
mkdir -p "$E2E_ARTIFACTS"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
export HOME=$(mktemp -d "${TMPDIR:-/tmp}/e2e-home.XXXXXX")   # throwaway keyring, config and caches
eval "$(printf 'ci-keyring-password' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
export BROWSER="$ROOT/tests/support/browser_standin.py"
export STANDIN_LOG="$E2E_ARTIFACTS/standin.log"
export SNCONNECT_REDIRECT_PORT=${SNCONNECT_REDIRECT_PORT:-18765}
export SNCONNECT_LOG=debug
# Short enough for the callback-timeout case, long enough for a paste by the test.
export SNCONNECT_CONSENT_TIMEOUT=${SNCONNECT_CONSENT_TIMEOUT:-15}
export STANDIN_MODE_FILE="$HOME/standin-mode"
export SNCONNECT_CARE_INTERVAL_S=2   # background token care looks every 2 s (default 60)
export TAURI_APP="$APP"
# The CLI beside the app binary: another process on the same config dir and keychain.
export SNCONNECT_CLI=${SNCONNECT_CLI:-$(dirname "$APP")/snconnect}
unset SNCONNECT_INSTANCE SNCONNECT_CONFIG_DIR SNCONNECT_CA_FILE
DRIVER_LOG="$E2E_ARTIFACTS/app-and-driver.log"
export E2E_SCAN_LOGS="$DRIVER_LOG:$STANDIN_LOG"
: > "$STANDIN_LOG"
# A real notification server (dunst) on this session bus, and a record of what it was asked to show.
export NOTIFY_LOG="$E2E_ARTIFACTS/notifications.log"
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" > "$NOTIFY_LOG" 2>&1 &
MONITOR=$!
dunst > "$E2E_ARTIFACTS/dunst.log" 2>&1 &
DUNST=$!
tauri-driver --port 4444 > "$DRIVER_LOG" 2>&1 &
DRIVER=$!
trap 'kill $DRIVER $DUNST $MONITOR 2>/dev/null || true; rm -rf "$HOME"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:4444/status >/dev/null && break; sleep 0.1; done
"$PY" "$ROOT/tests/e2e/suite.py" "${@:2}"
