#!/usr/bin/env bash
# The demo (`make demo`): line art | colorized | original, side by side, with the quality figures.
#   examples/demo.sh [INPUT] [FRAMES]
# INPUT: a video file or a folder of PNG frames (e.g. a held-out clip of the 2D corpus,
# data/corpus/test/test_000_16x9, which `make demo` uses; encoded to an MP4 first, 24 frames/s).
# defaults: data/bigbuckbunny_720p.mp4, every frame. Environment: OUT_DIR (default out/),
# DEMO_WIDTH x DEMO_HEIGHT (panel size, default 640x360), MODEL (a model file; default: the
# default model built into the plugin), GST_PLUGIN_PATH (default the repo's target/release).
#
# One gst-launch-1.0 -m pipeline: decode -> scale to the panel size -> tcvclineart -> tcvccolorize
# (no model-file: the built-in default model) -> tcvcssim ! tcvcpsnr ! tcvcflicker against the
# original -> compositor (line art | colorized | original) -> H.264 MP4. Then ffmpeg picks four
# evenly spaced frames of the MP4 into a PNG contact sheet, and the three <element>-summary
# messages and the output paths are printed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 [INPUT] [FRAMES]"
in=${1:-$here/data/bigbuckbunny_720p.mp4}
frames=${2:-0}
out_dir=${OUT_DIR:-$here/out}
w=${DEMO_WIDTH:-640}
h=${DEMO_HEIGHT:-360}
model=${MODEL:-}
# libtorch's frame-sized buffers stay in the process between frames (docs/colorize.md, Performance).
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4294967296}

[ $# -le 2 ] || { echo "$usage" >&2; exit 2; }
[ -f "$in" ] || [ -d "$in" ] || { echo "demo: input '$in' not found (run 'make setup' for the sample clips)" >&2; exit 1; }
[[ $frames =~ ^[0-9]+$ ]] || { echo "demo: FRAMES must be a whole number (0 = all), got '$frames'" >&2; exit 2; }
[[ $w =~ ^[1-9][0-9]*$ && $h =~ ^[1-9][0-9]*$ ]] || { echo "demo: DEMO_WIDTH/DEMO_HEIGHT must be positive integers" >&2; exit 2; }
[ -z "$model" ] || [ -f "$model" ] || { echo "demo: MODEL '$model' not found" >&2; exit 1; }
for tool in gst-launch-1.0 gst-inspect-1.0 ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || { echo "demo: $tool not found (run 'make setup')" >&2; exit 1; }
done
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
for element in tcvclineart tcvccolorize tcvcssim tcvcpsnr tcvcflicker; do
  gst-inspect-1.0 "$element" >/dev/null 2>&1 || {
    echo "demo: GStreamer element $element not found in GST_PLUGIN_PATH=$GST_PLUGIN_PATH (run 'make build')" >&2
    exit 1
  }
done

mkdir -p "$out_dir"
name=$(basename "${in%.*}")
if [ -d "$in" ]; then
  # A folder of frames: one near-lossless MP4 of it (4:4:4 keeps the flat colours).
  first=$(find "$in" -maxdepth 1 -name '*.png' | sort | head -n 1)
  [ -n "$first" ] || { echo "demo: folder '$in' has no PNG frames" >&2; exit 1; }
  seq_mp4=$out_dir/${name}.mp4
  ffmpeg -v error -y -framerate 24 -pattern_type glob -i "$in/*.png" -c:v libx264 -crf 8 \
    -pix_fmt yuv444p "$seq_mp4"
  in=$seq_mp4
fi
mp4=$out_dir/${name}_demo.mp4
sheet=$out_dir/${name}_demo_contact.png
log=$(mktemp "${TMPDIR:-/tmp}/demo.XXXXXX")
trap 'rm -f "$log"' EXIT
if [ "$frames" -gt 0 ]; then
  # A short copy of the input (an `identity eos-after` cut leaves a GAP event that makes
  # compositor repeat the last frames up to the clip's length).
  short=$out_dir/${name}_first${frames}.mp4
  ffmpeg -v error -y -i "$in" -frames:v "$frames" -an -c:v libx264 -preset veryfast -crf 12 "$short"
  in=$short
fi
model_prop=""
[ -n "$model" ] && model_prop="model-file=$model"

echo "demo: $in -> line art | colorized ($([ -n "$model" ] && echo "$model" || echo "built-in default model")) | original, ${w}x${h} panels"
# Both compare pads get RGB of the same size; the colorized stream passes through the three
# quality elements (each forwards its sink stream) to the compositor's middle panel.
# shellcheck disable=SC2086
if ! gst-launch-1.0 -m \
  filesrc location="$in" ! decodebin ! videoconvert ! videoscale add-borders=false ! \
  video/x-raw,width="$w",height="$h",pixel-aspect-ratio=1/1,format=RGB ! tee name=orig \
  orig. ! queue ! tcvclineart ! tee name=line \
  line. ! queue ! videoconvert ! comp.sink_0 \
  line. ! queue ! tcvccolorize $model_prop ! videoconvert ! video/x-raw,format=RGB ! \
    tcvcssim name=ssim ! tcvcpsnr name=psnr ! tcvcflicker name=flicker ! \
    queue ! videoconvert ! comp.sink_1 \
  orig. ! queue ! ssim.reference \
  orig. ! queue ! psnr.reference \
  orig. ! queue ! flicker.reference \
  orig. ! queue ! videoconvert ! comp.sink_2 \
  compositor name=comp sink_0::xpos=0 sink_1::xpos="$w" sink_2::xpos=$((2 * w)) ! \
    videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=faster ! mp4mux ! \
    filesink location="$mp4" >"$log" 2>&1; then
  cat "$log" >&2
  echo "demo: the pipeline failed (see above)" >&2
  exit 1
fi
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$mp4")
step=$(( n > 4 ? n / 4 : 1 ))
ffmpeg -v error -y -i "$mp4" -vf "select='not(mod(n\,$step))',scale=$((3 * w / 2)):-2,tile=1x4" \
  -frames:v 1 -fps_mode vfr "$sheet"

echo "demo: quality of the colorized panel against the original (per-frame means):"
# e.g. "tcvcpsnr-summary, frames=(guint64)24, mean=(double)17.1, ..." -> "tcvcpsnr: 24 frames, mean 17.1, ..."
grep -E "tcvc(ssim|psnr|flicker)-summary" "$log" |
  sed -E 's/^.*(tcvc[a-z]+)-summary, /  \1: /; s/\([a-z0-9]+\)//g; s/=/ /g; s/;? *$//'
echo "demo: wrote $mp4 ($n frames: line art | colorized | original)"
echo "demo: wrote $sheet (4 frames)"
