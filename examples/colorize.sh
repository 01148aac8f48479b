#!/usr/bin/env bash
# Colorize a clip: decode, extract line art, colorize with a model, encode to H.264 MP4.
#   examples/colorize.sh MODEL.safetensors|default INPUT OUTPUT.mp4 [tcvccolorize properties…]
# e.g. examples/colorize.sh model.safetensors data/bigbuckbunny_720p.mp4 out/color.mp4 precision=bf16
#      examples/colorize.sh default data/bigbuckbunny_720p.mp4 out/color.mp4   (the built-in model)
# A reference-code checkpoint converts with: tools/convert_reference.py CKPT.pth MODEL.safetensors --input-mode lineart
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 MODEL.safetensors|default INPUT OUTPUT.mp4 [tcvccolorize properties…]"
model=${1:?$usage}
in=${2:?$usage}
out=${3:?$usage}
shift 3
model_prop=(model-file="$model")
if [ "$model" = default ] && [ ! -e default ]; then
  model_prop=()
else
  [ -f "$model" ] || { echo "colorize: model $model not found (or say 'default' for the built-in model)" >&2; exit 1; }
fi
[ -f "$in" ] || { echo "colorize: input $in not found (run 'make setup' for the sample clips)" >&2; exit 1; }
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
mkdir -p "$(dirname "$out")"
gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! videoconvert ! tcvclineart ! \
  tcvccolorize "${model_prop[@]}" "$@" ! videoconvert ! \
  x264enc speed-preset=faster ! mp4mux ! filesink location="$out"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$out")
echo "colorize: wrote $out ($frames frames)"
