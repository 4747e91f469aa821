#!/usr/bin/env bash
# Builds the Linux packages with the Tauri bundler: a .deb and an .rpm holding the app
# (/usr/bin/snconnect-app), its desktop entry and icons, the `snconnect` CLI on PATH, and the
# simulator the start screen's "Try the demo instance" runs (/usr/lib/snconnect/snsim).
#
#   scripts/package.sh            release build → target/release/bundle/{deb,rpm}/
#   scripts/package.sh --debug    debug build (fast; what CI packages)
#   scripts/package.sh --check    also install the .deb (apt-get, as root or with sudo), launch
#                                 the installed app under Xvfb until its first screen is
#                                 interactive, run `snconnect --version` from PATH, remove the
#                                 package and check nothing of it is left on PATH
# The flags combine (`--debug --check`). AppImage: see README.md ("Packages").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
PROFILE=release CHECK=0
for a in "$@"; do
  case "$a" in
    --debug) PROFILE=debug ;;
    --check) CHECK=1 ;;
    *) echo "usage: scripts/package.sh [--debug] [--check]" >&2; exit 2 ;;
  esac
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
say() { printf '\n==> %s\n' "$*"; }

say "building the CLI and the simulator ($PROFILE)"
FLAGS=()
[ "$PROFILE" = release ] && FLAGS=(--release)
cargo build "${FLAGS[@]}" -p snconnect -p snsim

# tauri.conf.json names target/release/…; a debug package takes the debug builds.
FILES=$(printf '{"/usr/bin/snconnect":"target/%s/snconnect","/usr/lib/snconnect/snsim":"target/%s/snsim"}' "$PROFILE" "$PROFILE")
OVERRIDE="{\"bundle\":{\"linux\":{\"deb\":{\"files\":$FILES},\"rpm\":{\"files\":$FILES}}}}"
TFLAGS=()
[ "$PROFILE" = debug ] && TFLAGS=(--debug)
say "tauri build ${TFLAGS[*]} --bundles deb,rpm (builds ui/ first: beforeBuildCommand)"
# --ignore-version-mismatches: the Rust tauri-plugin-clipboard-manager is 2.5 (write_secret,
# which the hand-off card's secret copy needs) and npm has no 2.5 of its JS side; the window
# only calls its write_text, the same command in both.
ui/node_modules/.bin/tauri build "${TFLAGS[@]}" --bundles deb,rpm --ignore-version-mismatches \
  --config "$OVERRIDE"

BUNDLE="target/$PROFILE/bundle"
DEB=$(ls -t "$BUNDLE"/deb/*.deb | head -1)
RPM=$(ls -t "$BUNDLE"/rpm/*.rpm 2>/dev/null | head -1 || true)
say "packages"
ls -l "$DEB" ${RPM:+"$RPM"}
# The package must hold the app, the CLI, the desktop entry and the icons.
CONTENTS=$(dpkg-deb -c "$DEB")
for f in usr/bin/snconnect-app usr/bin/snconnect usr/lib/snconnect/snsim \
         usr/share/applications/snconnect.desktop \
         usr/share/icons/hicolor/128x128/apps/snconnect-app.png; do
  grep -qE " (\./)?$f\$" <<<"$CONTENTS" || { echo "package: $f is missing from $DEB" >&2; echo "$CONTENTS" >&2; exit 1; }
done
[ "$CHECK" = 1 ] || exit 0

PKG=$(dpkg-deb -f "$DEB" Package)
say "apt-get install ./$DEB (package $PKG)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "./$DEB"
cleanup() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y "$PKG" >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "snconnect --version from PATH"
WHERE=$(command -v snconnect)
[ "$WHERE" = /usr/bin/snconnect ] || { echo "package: snconnect on PATH is $WHERE, not the package's" >&2; exit 1; }
snconnect --version
/usr/lib/snconnect/snsim --version   # what the installed app's demo choice runs

say "launching the installed app (its desktop entry's Exec) under Xvfb"
EXEC=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' /usr/share/applications/snconnect.desktop)
[ -x "$(command -v "$EXEC")" ] || { echo "package: the desktop entry runs $EXEC, which is not installed" >&2; exit 1; }
export PKG_EXEC="$EXEC"
dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash -c '
  set -euo pipefail
  export HOME=$(mktemp -d) SNCONNECT_LOG=info
  trap "rm -rf \"\$HOME\"" EXIT
  printf "package-check" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  LOG="$HOME/app.log"
  "$PKG_EXEC" > "$LOG" 2>&1 &
  APP=$!
  for _ in $(seq 300); do
    grep -q "window interactive" "$LOG" && break
    kill -0 "$APP" 2>/dev/null || { cat "$LOG" >&2; echo "package: the installed app exited" >&2; exit 1; }
    sleep 0.1
  done
  grep "window interactive" "$LOG" || { cat "$LOG" >&2; echo "package: no interactive window in 30 s" >&2; exit 1; }
  xdotool search --name "^snconnect$" >/dev/null || { echo "package: no window titled snconnect" >&2; exit 1; }
  echo "window \"snconnect\" is up"
  kill "$APP"; wait "$APP" 2>/dev/null || true
  # The demo choice runs the packaged simulator; it goes when the app goes, even on kill -9.
  "$PKG_EXEC" --demo > "$LOG" 2>&1 &
  APP=$!
  for _ in $(seq 300); do grep -q "demo mode: simulated" "$LOG" && break; sleep 0.1; done
  grep "demo mode: simulated" "$LOG" || { cat "$LOG" >&2; echo "package: the demo did not start" >&2; exit 1; }
  SIM=$(pgrep -P "$APP" -f /usr/lib/snconnect/snsim) || { echo "package: no snsim child" >&2; exit 1; }
  kill -9 "$APP"; wait "$APP" 2>/dev/null || true
  alive() { case "$(ps -o stat= -p "$SIM" 2>/dev/null)" in ""|Z*) return 1 ;; esac; }   # a zombie has ended
  for _ in $(seq 50); do alive || break; sleep 0.1; done
  ! alive || { echo "package: snsim outlived the app" >&2; exit 1; }
  echo "demo started /usr/lib/snconnect/snsim, which ended with the app (kill -9)"
'

say "apt-get remove $PKG"
trap - EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y "$PKG"
for f in /usr/bin/snconnect /usr/bin/snconnect-app /usr/lib/snconnect/snsim \
         /usr/share/applications/snconnect.desktop; do
  [ ! -e "$f" ] || { echo "package: $f is still there after removal" >&2; exit 1; }
done
echo "installed, launched, answered --version and removed cleanly: $DEB"
