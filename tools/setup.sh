#!/usr/bin/env bash
# One-shot, re-runnable setup of everything gst-tcvc needs on Debian 12:
#   1. Debian packages (GStreamer 1.22 dev + plugins, OpenCV, clang, ffmpeg, python3-venv, npm,
#      Slurm + munge for the render-farm test)
#   2. a Python venv in ./.venv with torch==2.11.0 and the reference tools (tools/requirements.txt)
#   3. the sample clips from package registries into ./data (sha256-verified)
#   4. a release build of the plugin (target/release/libgsttcvc.so)
# Each step says what it does and skips what is already there. Uses sudo only when not root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${TCVC_VENV:-$here/.venv}
step() { echo "setup: $*"; }
fail() {
  echo "setup: ERROR: $*" >&2
  exit 1
}
# An interrupted pip leaves its unpacked wheels (pip-unpack-*, ~1.5 GB for torch) in the
# temporary folder; on a machine that runs setup often (CI) they fill the disk. Everything this
# script puts in a temporary folder goes into one of its own (named by its process id), removed
# when it exits, or by the next setup if this one was killed.
tmp_base=${TMPDIR:-/tmp}
for d in "$tmp_base"/tcvc-setup.*; do
  pid=${d#"$tmp_base"/tcvc-setup.}
  pid=${pid%%.*}
  [ -d "$d" ] && [ -n "$pid" ] && [ ! -e "/proc/$pid" ] && rm -rf "$d"
done
TMPDIR=$(mktemp -d "$tmp_base/tcvc-setup.$$.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
# A fresh clone takes ~15 GB once the tests and the demo have run (target/ with the libtorch-linked
# test binaries, the venv, the data), more while pip unpacks torch; a disk that fills mid-link
# kills the linker with SIGBUS ("ld terminated with signal 7 [Bus error]").
free_gb=$(df -Pk "$here" | awk 'NR==2 {print int($4 / 1048576)}')
if [ "${free_gb:-0}" -lt 25 ]; then
  echo "setup: WARNING: only ${free_gb} GB free on the disk of $here; the build, the venv and the" \
    "tests need ~25 GB (a full disk shows as 'ld terminated with signal 7 [Bus error]')" >&2
fi

# --- 1. Debian packages -------------------------------------------------------------------
pkgs=(
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libopencv-dev clang libclang-dev ffmpeg python3-venv unzip pkg-config fonts-dejavu-core
  openclipart-svg librsvg2-bin meson ninja-build
  # tests/farm.rs runs the render-farm example on a single-node Slurm of its own on localhost
  slurmctld slurmd slurm-client munge
)
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  step "Debian packages: all ${#pkgs[@]} present"
else
  step "Debian packages: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq || fail "apt-get update failed; check the network / apt sources"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    fail "apt-get install of ${missing[*]} failed"
fi

# --- 2. Python venv -------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  py=python3
  [ -x /usr/bin/python3 ] && py=/usr/bin/python3
  step "Python venv: creating $venv with $($py --version)"
  "$py" -m venv "$venv" || fail "could not create the venv $venv (is python3-venv installed?)"
fi
if "$venv/bin/python" - tools/requirements.txt <<'PY'; then
import sys, importlib.metadata as md
want = [l.split('#')[0].strip() for l in open(sys.argv[1])]
want = [w for w in want if w]
bad = []
for w in want:
    name, ver = w.split('==')
    try:
        if md.version(name) != ver:
            bad.append(w)
    except md.PackageNotFoundError:
        bad.append(w)
sys.exit(1 if bad else 0)
PY
  step "Python venv: $venv has every package of tools/requirements.txt"
else
  step "Python venv: installing tools/requirements.txt into $venv (torch is ~4.6 GB, ~2 min)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r tools/requirements.txt ||
    fail "pip install -r tools/requirements.txt failed; check that PyPI is reachable"
fi

# --- 3. Sample data -------------------------------------------------------------------------
TCVC_PYTHON="$venv/bin/python" tools/fetch-data.sh
# The 2D cel corpus (docs/corpus.md): its held-out test clips are the demo and the default
# model's check; ~30 s the first time (the arcade wheel from PyPI, openclipart SVGs), then cached.
step "2D corpus: tools/corpus.py build --out ${TCVC_DATA_DIR:-$here/data}/corpus"
"$venv/bin/python" tools/corpus.py build --out "${TCVC_DATA_DIR:-$here/data}/corpus" >/dev/null ||
  fail "rendering the 2D corpus failed (see above); run 'tools/corpus.py build --out data/corpus' for details"

# --- 4. Release build -----------------------------------------------------------------------
step "build: cargo build --release (from scratch ~6 min, then incremental)"
export LIBTORCH_USE_PYTORCH=1 PATH="$venv/bin:$PATH"
cargo build --release --locked
step "done: plugin at $here/target/release/libgsttcvc.so (GST_PLUGIN_PATH=$here/target/release)"
