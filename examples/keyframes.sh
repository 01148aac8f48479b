#!/usr/bin/env bash
# Artist keyframes: colour a clip from a few frames an artist painted, their colours carried over
# the flat fills that follow them (tcvccolorize keyframe-location + keyframe-carry, `fill` output).
#   examples/keyframes.sh INPUT KEYS OUTPUT.mp4 [tcvccolorize properties…]
# INPUT: a video file, or a folder of PNG frames 00000.png, 00001.png, … (read at 24 frames/s).
# KEYS: the keyframes' printf pattern (e.g. keys/%05d.png: frame 120's key is keys/00120.png;
# frames count from 0 at the clip's start), or `originals:N` to take every N-th frame of a
# PNG-folder INPUT as its own key, copied to OUTPUT's name + `-keys/` (a test of the workflow on
# held-out clips, e.g. data/corpus/chain/chain_001_4x3 originals:24). Extra arguments go to
# tcvccolorize, e.g. keyframe-carry=false (the network alone from each key),
# keyframe-lookahead=24 (each key moved back into the frames before it as well) or
# model-file=show.safetensors.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 INPUT KEYS OUTPUT.mp4 [tcvccolorize properties…]"
in=${1:?$usage}
keys=${2:?$usage}
out=${3:?$usage}
shift 3
[ -e "$in" ] || { echo "keyframes: input $in not found" >&2; exit 1; }
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
mkdir -p "$(dirname "$out")"
if [[ $keys == originals:* ]]; then
  every=${keys#originals:}
  [[ $every =~ ^[1-9][0-9]*$ ]] || { echo "keyframes: originals:N needs a whole number N ≥ 1, got '$every'" >&2; exit 2; }
  [ -d "$in" ] || { echo "keyframes: originals:N needs a folder of PNG frames as INPUT" >&2; exit 2; }
  dir="${out%.*}-keys"
  rm -rf "$dir" && mkdir -p "$dir"
  i=0
  while IFS= read -r f; do
    if (( i % every == 0 )); then cp "$f" "$dir/$(printf %05d "$i").png"; fi
    i=$((i + 1))
  done < <(find "$in" -maxdepth 1 -name '*.png' | sort)
  keys="$dir/%05d.png"
  echo "keyframes: $(find "$dir" -name '*.png' | wc -l) keys (every $every frames of $in) in $dir"
fi
if [ -d "$in" ]; then
  # multifilesrc reads 00000.png, 00001.png, ... until one is missing.
  [ -f "$in/00000.png" ] || { echo "keyframes: a frame folder needs files named 00000.png, 00001.png, ..." >&2; exit 1; }
  src=(multifilesrc location="$in/%05d.png" index=0 caps="image/png,framerate=24/1" ! pngdec)
else
  src=(filesrc location="$in" ! decodebin)
fi
gst-launch-1.0 -q "${src[@]}" ! videoconvert ! tcvclineart ! \
  tcvccolorize output-mode=fill keyframe-location="$keys" "$@" ! videoconvert ! \
  x264enc speed-preset=faster ! mp4mux ! filesink location="$out"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$out")
echo "keyframes: wrote $out ($frames frames)"
