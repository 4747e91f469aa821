#!/usr/bin/env bash
# Installs what snconnect needs on Debian/Ubuntu. Idempotent: fast when everything is there.
#   scripts/setup.sh          to build and run the app
#   scripts/setup.sh --test   also the test tools (Xvfb, WebKitWebDriver, tauri-driver, selenium)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WITH_TESTS=0
[ "${1:-}" = "--test" ] && WITH_TESTS=1
say() { printf '\n==> %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# Tauri 2 build dependencies (tauri-on-linux.md §1), D-Bus for the keychain, xdg-open for the
# links the window opens in the system browser, python for tests.
PKGS=(build-essential pkg-config curl file libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
      librsvg2-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev libdbus-1-dev
      gnome-keyring dbus dbus-x11 xdg-utils python3 python3-venv)
if [ "$WITH_TESTS" = 1 ]; then
  PKGS+=(xvfb xauth webkit2gtk-driver libsecret-tools x11-utils xclip xdotool dunst fonts-dejavu-core)
fi
MISSING=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || MISSING+=("$p")
done
if [ "${#MISSING[@]}" -gt 0 ]; then
  say "apt: installing ${MISSING[*]}"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING[@]}"
fi

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null; then
  echo "Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 2
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null && rustup component add "$c"
  fi
done
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "Node.js 20.19 or newer is needed for the UI build (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 2
fi

# UI dependencies, from the lock file; reinstalled only when the lock file changed.
STAMP="$ROOT/ui/node_modules/.snconnect-lock"
if ! cmp -s "$ROOT/ui/package-lock.json" "$STAMP" 2>/dev/null; then
  say "npm ci (ui/)"
  (cd "$ROOT/ui" && npm ci --no-audit --no-fund)
  cp "$ROOT/ui/package-lock.json" "$STAMP"
fi

if [ "$WITH_TESTS" = 1 ]; then
  if ! command -v cargo-fuzz >/dev/null; then
    say "cargo install cargo-fuzz (the fuzzing harness; runs on stable with RUSTC_BOOTSTRAP=1)"
    cargo install cargo-fuzz --version 0.13.2 --locked
  fi
  if ! command -v tauri-driver >/dev/null; then
    say "cargo install tauri-driver"
    cargo install tauri-driver --version 2.1.0 --locked
  fi
  if [ ! -x "$ROOT/.venv/bin/python" ] || ! "$ROOT/.venv/bin/python" -c 'import selenium' 2>/dev/null; then
    say "python venv with selenium (WebDriver client)"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tests/e2e/requirements.txt"
  fi
  # The standards OAuth server (oidc-provider) of the standards_server tests, from its lock file;
  # reinstalled only when the lock file changed.
  OAUTH_STAMP="$ROOT/tests/oauth-server/node_modules/.snconnect-lock"
  if ! cmp -s "$ROOT/tests/oauth-server/package-lock.json" "$OAUTH_STAMP" 2>/dev/null; then
    say "npm ci (tests/oauth-server/)"
    (cd "$ROOT/tests/oauth-server" && npm ci --no-audit --no-fund)
    cp "$ROOT/tests/oauth-server/package-lock.json" "$OAUTH_STAMP"
  fi
fi
