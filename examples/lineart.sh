#!/usr/bin/env bash
# Line art of a video: decode, extract Canny line art with tcvclineart, encode to H.264 MP4.
#   examples/lineart.sh INPUT OUTPUT.mp4 [tcvclineart properties…]
# e.g. examples/lineart.sh data/bigbuckbunny_720p.mp4 out/lineart.mp4 sigma=1.5
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
in=${1:?usage: $0 INPUT OUTPUT.mp4 [tcvclineart properties…]}
out=${2:?usage: $0 INPUT OUTPUT.mp4 [tcvclineart properties…]}
shift 2
[ -f "$in" ] || { echo "lineart: input $in not found (run 'make setup' for the sample clips)" >&2; exit 1; }
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
mkdir -p "$(dirname "$out")"
gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! videoconvert ! \
  tcvclineart "$@" ! videoconvert ! x264enc speed-preset=faster ! mp4mux ! \
  filesink location="$out"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$out")
echo "lineart: wrote $out ($frames frames)"
