#!/usr/bin/env bash
# Quality of a low-bitrate re-encode against its source, with tcvcssim, tcvcpsnr and tcvcflicker.
#   examples/compare.sh [INPUT] [BITRATE_KBPS]
# defaults: data/bigbuckbunny_720p.mp4, 150 kb/s. Environment: SSIM_WINDOW (gaussian | ffmpeg,
# default gaussian), OUT_DIR (default out/), GST_PLUGIN_PATH (default the repo's target/release).
#
# 1. encodes INPUT with x264enc at BITRATE_KBPS into OUT_DIR/<name>_<kbps>k.mp4;
# 2. decodes both files in one gst-launch-1.0 -m pipeline: the re-encode goes to the `sink` pads
#    (tcvcssim ! tcvcpsnr ! tcvcflicker, chained: each passes it through), the original is teed
#    to the three `reference` pads;
# 3. writes the stats files OUT_DIR/<name>_<kbps>k.{ssim.log,psnr.log,flicker.csv} and prints the
#    three <element>-summary messages.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 [INPUT] [BITRATE_KBPS]"
in=${1:-$here/data/bigbuckbunny_720p.mp4}
kbps=${2:-150}
window=${SSIM_WINDOW:-gaussian}
out_dir=${OUT_DIR:-$here/out}

[ $# -le 2 ] || { echo "$usage" >&2; exit 2; }
[ -f "$in" ] || { echo "compare: input '$in' not found (run 'make setup' for the sample clips)" >&2; exit 1; }
[[ $kbps =~ ^[1-9][0-9]*$ ]] || { echo "compare: BITRATE_KBPS must be a positive integer, got '$kbps'" >&2; echo "$usage" >&2; exit 2; }
case $window in gaussian | ffmpeg) ;; *) echo "compare: SSIM_WINDOW must be gaussian or ffmpeg, got '$window'" >&2; exit 2 ;; esac
for tool in gst-launch-1.0 gst-inspect-1.0; do
  command -v "$tool" >/dev/null || { echo "compare: $tool not found (apt-get install gstreamer1.0-tools)" >&2; exit 1; }
done
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
for element in tcvcssim tcvcpsnr tcvcflicker; do
  gst-inspect-1.0 "$element" >/dev/null 2>&1 || {
    echo "compare: GStreamer element $element not found in GST_PLUGIN_PATH=$GST_PLUGIN_PATH (run 'make build')" >&2
    exit 1
  }
done
gst-inspect-1.0 x264enc >/dev/null 2>&1 || { echo "compare: x264enc not found (apt-get install gstreamer1.0-plugins-ugly)" >&2; exit 1; }

mkdir -p "$out_dir"
name=$(basename "${in%.*}")_${kbps}k
low=$out_dir/$name.mp4
log=$(mktemp "${TMPDIR:-/tmp}/compare.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "compare: encoding $in at $kbps kb/s -> $low"
# Every frame keeps its timestamp (no frame dropping), so the pairs line up by running time.
# threads=1: x264's rate control is only deterministic on one thread (same figures every run).
gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
  x264enc bitrate="$kbps" speed-preset=faster threads=1 ! mp4mux ! filesink location="$low"

echo "compare: measuring $low (sink) against $in (reference), SSIM window $window"
# Both decoded to I420 (the elements need the same format and size on both pads).
if ! gst-launch-1.0 -m \
  filesrc location="$low" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
  tcvcssim name=ssim window="$window" stats-file="$out_dir/$name.ssim.log" ! \
  tcvcpsnr name=psnr stats-file="$out_dir/$name.psnr.log" ! \
  tcvcflicker name=flicker stats-file="$out_dir/$name.flicker.csv" ! fakesink \
  filesrc location="$in" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! tee name=t \
  t. ! queue ! ssim.reference \
  t. ! queue ! psnr.reference \
  t. ! queue ! flicker.reference >"$log" 2>&1; then
  echo "compare: the comparison pipeline failed:" >&2
  grep -E 'ERROR|error|WARNING' "$log" >&2 || tail -n 20 "$log" >&2
  exit 1
fi

# A summary line of `gst-launch-1.0 -m` reads:
#   Got message #N from element "psnr" (element): tcvcpsnr-summary, frames=(guint64)132,
#   mean=(double)31.9…, min=(double)…, max=(double)…, unpaired-sink=(guint64)0, unpaired-reference=(guint64)0;
field() { # field LINE NAME -> value
  sed -E -n "s/.*[ ,]$2=\\([a-z0-9]+\\)([^,;]*).*/\\1/p" <<<"$1"
}
printf '\n%-12s %-22s %6s %10s %10s %10s %9s\n' element figure frames mean min max unpaired
for element in tcvcssim tcvcpsnr tcvcflicker; do
  line=$(grep -m1 -F "): $element-summary," "$log") || {
    echo "compare: no $element-summary message in the pipeline output" >&2
    exit 1
  }
  case $element in
    tcvcssim) figure="SSIM all ($window)" ;;
    tcvcpsnr) figure="PSNR avg (dB)" ;;
    tcvcflicker) figure="temporal error (0-255)" ;;
  esac
  printf '%-12s %-22s %6s %10.4f %10.4f %10.4f %9s\n' "$element" "$figure" \
    "$(field "$line" frames)" "$(field "$line" mean)" "$(field "$line" min)" "$(field "$line" max)" \
    "$(field "$line" unpaired-sink)/$(field "$line" unpaired-reference)"
done
echo "(unpaired: frames under test / reference frames with no partner at their running time)"
echo
echo "compare: per-frame stats in $out_dir/$name.{ssim.log,psnr.log,flicker.csv}"
