#!/usr/bin/env bash
# The default model (or MODEL=FILE) through the real elements, as a user runs it: each clip at its
# own size and aspect, `tcvclineart ! tcvccolorize` (no model-file unless MODEL is set), measured
# by tcvcpsnr / tcvcssim against the original frames. One line per clip:
#   CLIP WxH FRAMES PSNR SSIM
#   tools/element-check.sh CLIP...   (a video file or a folder of PNG frames named %05d.png)
# PROPS="temporal-smoothing=0.8 ..." adds tcvccolorize properties.
# Used for docs/model-card.md's acceptance table; `tcvc-eval --size native` gives the same clips'
# trivial baselines (white, grey, lineart, mean-colour) and should agree with these figures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[ $# -ge 1 ] || { echo "usage: $0 CLIP..." >&2; exit 2; }
model_prop=""
[ -n "${MODEL:-}" ] && model_prop="model-file=$MODEL"
model_prop="$model_prop ${PROPS:-}"
log=$(mktemp "${TMPDIR:-/tmp}/element-check.XXXXXX")
trap 'rm -f "$log"' EXIT
for clip in "$@"; do
  if [ -d "$clip" ]; then
    src="multifilesrc location=$clip/%05d.png index=0 caps=image/png,framerate=24/1 ! pngdec"
    first=$clip/00000.png
    [ -f "$first" ] || { echo "$clip: no 00000.png (frames must be named %05d.png)" >&2; exit 1; }
  else
    src="filesrc location=$clip ! decodebin"
  fi
  # shellcheck disable=SC2086
  gst-launch-1.0 -m $src ! videoconvert ! video/x-raw,format=RGB ! tee name=t \
    t. ! queue ! tcvclineart ! tcvccolorize $model_prop ! videoconvert ! video/x-raw,format=RGB ! \
      tcvcpsnr name=p ! tcvcssim name=s ! fakesink sync=false \
    t. ! queue ! p.reference t. ! queue ! s.reference >"$log" 2>&1 || {
    cat "$log" >&2
    echo "$clip: the pipeline failed" >&2
    exit 1
  }
  if [ -d "$clip" ]; then
    # The PNG header: width and height are big-endian 32-bit at bytes 16..23.
    read -r w0 w1 w2 w3 h0 h1 h2 h3 < <(od -An -tu1 -j16 -N8 "$first")
    size=$(((w0 << 24) | (w1 << 16) | (w2 << 8) | w3))x$(((h0 << 24) | (h1 << 16) | (h2 << 8) | h3))
  else
    size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$clip")
  fi
  psnr=$(grep -m1 "tcvcpsnr-summary" "$log" | grep -oE "mean=\(double\)[-0-9.e+]+" | cut -d')' -f2)
  ssim=$(grep -m1 "tcvcssim-summary" "$log" | grep -oE "mean=\(double\)[-0-9.e+]+" | cut -d')' -f2)
  frames=$(grep -m1 "tcvcpsnr-summary" "$log" | grep -oE "frames=\(guint64\)[0-9]+" | cut -d')' -f2)
  printf '%s %s %s %.2f %.4f\n' "$(basename "$clip")" "$size" "$frames" "$psnr" "$ssim"
done
