#!/usr/bin/env bash
# Installs what building, running and testing Hearth needs and is missing — and only that:
#   1. Debian/Ubuntu packages (checked with dpkg -s; apt-get runs only if one is missing),
#   2. the UI's npm packages (npm ci when ui/node_modules is missing or older than the lock file),
#   3. with --e2e: tauri-driver (cargo install, when not on PATH).
# Needs the Rust toolchain and Node.js 20 or newer. Runs apt-get through sudo when not root.
set -euo pipefail

cd "$(dirname "$0")/.."

e2e=false
for arg in "$@"; do
  case "$arg" in
    --e2e) e2e=true ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Tauri's WebKit and GTK headers, the C toolchain, a CJK font (Chinese renders as boxes without
# one), and for headless runs and tests Xvfb with xauth and the WebKit WebDriver.
PACKAGES=(
  libwebkit2gtk-4.1-dev build-essential pkg-config curl file
  fonts-wqy-microhei
  xvfb xauth webkit2gtk-driver
  # The GUI tests answer the native file dialog (GTK) on the keyboard through xdotool.
  xdotool
  # GStreamer decoders for lesson media: MP3/AAC/H.264 (WebKitGTK plays media through them).
  gstreamer1.0-plugins-good gstreamer1.0-libav
  # The API fuzz run (scripts/fuzz-api.sh) installs schemathesis into a virtual environment.
  python3-venv
  # Certificates (issue #14): the CJK font embedded (subset) in certificate PDFs, and for the
  # tests pdftoppm (PDF to PNG) and zbarimg (reads the printed QR code back).
  fonts-noto-cjk poppler-utils zbar-tools
  # The service's tests on PostgreSQL (scripts/pg-cluster.sh starts a throwaway cluster from
  # these binaries; the package's own system cluster is not used).
  postgresql
  # The web console's browser test (issue #15): headless Chromium driven through chromedriver,
  # both from Debian (no browser download at run time).
  chromium chromium-driver
)
TAURI_DRIVER_VERSION=2.1.0

log() { echo "install-deps: $*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg -s succeeds for removed-but-configured packages too; check the status line.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    log "missing ${missing[*]} and no apt-get: install them with your package manager"
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { log "missing ${missing[*]}: run as root or install sudo"; exit 1; }
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt (unattended upgrades) instead of failing on its lock.
  apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  "${sudo[@]}" apt-get "${apt_opts[@]}" update -qq
  "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node 20+ for the UI build.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "Node.js 20 or newer (with npm) is needed: https://nodejs.org or your distribution"
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  log "Node.js $(node --version) is too old: 20 or newer is needed"
  exit 1
fi

# npm packages: reinstall when node_modules is missing or older than package(-lock).json.
# ui/check holds svelte-check, which needs TypeScript 5's JavaScript API (ui/ builds with 7);
# console/ is the web console served by hearth-server (issue #15).
for dir in ui ui/check console; do
  stamp=$dir/node_modules/.hearth-npm-ci
  if [[ ! -f $stamp || $dir/package-lock.json -nt $stamp || $dir/package.json -nt $stamp ]]; then
    log "npm ci in $dir/"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
done

if $e2e; then
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v tauri-driver >/dev/null; then
    log "cargo install tauri-driver $TAURI_DRIVER_VERSION"
    cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked --quiet
  fi
fi
