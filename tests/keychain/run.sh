#!/usr/bin/env bash
# The real-keychain test: a private D-Bus session, a throwaway HOME, gnome-keyring unlocked
# with a throwaway password, then the --ignored keychain test. Prints the test's own output.
set -euo pipefail
if [ -z "${KEYCHAIN_INNER:-}" ]; then
  export KEYCHAIN_INNER=1
  exec dbus-run-session -- "$0" "$@"
fi
cd "$(dirname "$0")/../.."
REAL_HOME=$HOME
export CARGO_HOME=${CARGO_HOME:-$REAL_HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$REAL_HOME/.rustup}
export HOME=$(mktemp -d "${TMPDIR:-/tmp}/keychain-home.XXXXXX")
trap 'rm -rf "$HOME"' EXIT
unset DISPLAY
eval "$(printf 'ci-keyring-password' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# --workspace so features resolve as in the main `cargo test --workspace` run: no rebuild.
cargo test --workspace --test keychain_real -- --ignored --test-threads=1
