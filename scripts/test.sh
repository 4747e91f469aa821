#!/usr/bin/env bash
# Every test: formatting, lints, the UI's type check and unit tests, all cargo tests (real
# Secret Service included), a short fuzzing run of the core's parsers, the WebDriver test of
# the real window, a short benchmark run and the .deb install check. Installs what it needs first.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
say() { printf '\n==> %s\n' "$*"; }
START=$(date +%s)

bash scripts/setup.sh --test
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

say "cargo fmt --check"
cargo fmt --all -- --check

say "UI: svelte-check (TypeScript strict), build, Vitest"
(cd ui && npm run build && npm test)

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The keychain tests (keychain_real, keychain_locked) and the CLI tests start a private
# dbus-daemon + gnome-keyring per test (tests/support/secret_service.rs): a real Secret Service.
say "cargo test (unit tests; snsim, the core and the CLI over real TLS; a real Secret Service; a strict standards OAuth server)"
cargo test --workspace
say "fault matrix: fault → code → state after (crates/snconnect/tests/fault_matrix.rs)"
cat "${FAULT_MATRIX_OUT:-target/fault-matrix.md}"

say "fuzzing: every parser target for 15 s (cargo-fuzz on stable; scripts/fuzz.sh 600 for a long run)"
bash scripts/fuzz.sh 15

say "WebDriver: the real window under Xvfb, demo mode, browser stand-in (scenarios a e b c d p k s v n i t)"
# --all-targets resolves features like the cargo test run above, so this only links the app.
cargo build --workspace --all-targets
tests/e2e/run.sh target/debug/snconnect-app
echo "screenshots of every step: ${E2E_ARTIFACTS:-$ROOT/artifacts}/"

say "benchmark, short form: every row runs (the README's table is scripts/bench.sh, release)"
bash scripts/bench.sh --quick

say "packages: the .deb built, installed with apt-get, launched under Xvfb, snconnect --version, removed"
bash scripts/package.sh --debug --check

say "all tests passed in $(( $(date +%s) - START )) s"
