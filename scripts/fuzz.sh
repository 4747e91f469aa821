#!/usr/bin/env bash
# Coverage-guided fuzzing of the core's parsers (cargo-fuzz / libFuzzer, AddressSanitizer) on
# the stable toolchain. Targets: instance_url loopback_request pasted_redirect token_response
# profile_file (crates/snconnect-core/fuzz/fuzz_targets).
#   scripts/fuzz.sh               every target for 15 s (what CI runs)
#   scripts/fuzz.sh 600           every target for 10 minutes (a long run; >= 1,000,000 runs each)
#   scripts/fuzz.sh 600 token_response
# A crash leaves its input under crates/snconnect-core/fuzz/artifacts/<target>/ and fails the
# script; turn it into a regression test beside the code it broke.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-15}
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(instance_url loopback_request pasted_redirect token_response profile_file)
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
# Stable rustc accepts cargo-fuzz's -Z sanitizer flags with RUSTC_BOOTSTRAP=1 (no nightly here).
export RUSTC_BOOTSTRAP=1
cd "$ROOT/crates/snconnect-core"
cargo fuzz build
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log=$(mktemp)
  if ! cargo fuzz run "$t" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $t crashed; the input is under crates/snconnect-core/fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  printf 'fuzz: %-18s %10s runs in %s s, no crash\n' "$t" "$runs" "$SECONDS_EACH"
  rm -f "$log"
done
