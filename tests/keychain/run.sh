#!/usr/bin/env bash
# The keychain tests against a real Secret Service. Each test starts its own private D-Bus
# session bus and throwaway gnome-keyring (tests/support/secret_service.rs), so this is a
# plain `cargo test`: no dbus-run-session, no HOME juggling. Exits non-zero on failure.
# Needs gnome-keyring, dbus and libsecret-tools (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test -p snconnect-core --test keychain_real --test keychain_locked --test keychain_absent "$@"
