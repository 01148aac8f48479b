#!/usr/bin/env bash
# Renders a 2D cartoon clip from Debian's synfig-examples with synfig, as training / test data
# (optional: `make setup` does not run it; a render takes ~27 min on 2 cores for eye.sif).
#   tools/render-synfig.sh [EXAMPLE] [OUTPUT.mp4] [WIDTHxHEIGHT] [SECONDS]
# defaults: eye (examples/eye.sif), data/synfig_eye_480x270_24fps.mp4, 480x270, the whole
# animation. Installs synfig and synfig-examples with apt when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
example=${1:-eye}
out=${2:-$here/data/synfig_${example}_${3:-480x270}_24fps.mp4}
size=${3:-480x270}
seconds=${4:-}
[[ $size =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || { echo "render-synfig: size must be WIDTHxHEIGHT, got '$size'" >&2; exit 2; }
w=${BASH_REMATCH[1]}
h=${BASH_REMATCH[2]}
[ -z "$seconds" ] || [[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "render-synfig: SECONDS must be a number, got '$seconds'" >&2; exit 2; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
if ! command -v synfig >/dev/null || [ ! -d /usr/share/doc/synfig-examples ]; then
  echo "render-synfig: installing synfig and synfig-examples (apt)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends synfig synfig-examples
fi
src=/usr/share/doc/synfig-examples/examples/$example.sif
[ -f "$src" ] || [ -f "$src.gz" ] || { echo "render-synfig: no example '$example' in /usr/share/doc/synfig-examples/examples" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synfig.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -f "$src.gz" ]; then gunzip -c "$src.gz" >"$tmp/$example.sif"; else cp "$src" "$tmp/$example.sif"; fi
# Examples may reference images next to them.
cp -r "$(dirname "$src")"/. "$tmp/" 2>/dev/null || true
end=()
[ -z "$seconds" ] || end=(--end-time "${seconds}s")
echo "render-synfig: rendering $example.sif at ${w}x${h}, 24 fps -> $out"
(cd "$tmp" && synfig "$example.sif" -t png -w "$w" -h "$h" --fps 24 "${end[@]}" -o frame.png -q)
mkdir -p "$(dirname "$out")"
ffmpeg -v error -y -framerate 24 -pattern_type glob -i "$tmp/frame*.png" -c:v libx264 -crf 16 -pix_fmt yuv420p "$out"
echo "render-synfig: wrote $out ($(ls "$tmp"/frame*.png | wc -l) frames)"
