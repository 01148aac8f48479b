#!/usr/bin/env bash
# One frame (two thirds into each clip) of each clip through the real elements, as a user runs
# them: line art (`tcvclineart`) | output (`tcvclineart ! tcvccolorize`, the default model unless
# MODEL=FILE) | original, one row per clip, into one JPEG (docs/model-card.md's picture).
#   tools/test-clips-sheet.sh OUT.jpg CLIP_DIR...   (folders of PNG frames named %05d.png)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
py=${TCVC_PYTHON:-$here/.venv/bin/python}
[ $# -ge 2 ] || { echo "usage: $0 OUT.jpg CLIP_DIR..." >&2; exit 2; }
out=$1; shift
model_prop=""
[ -n "${MODEL:-}" ] && model_prop="model-file=$MODEL"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-clips-sheet.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rows=()
for clip in "$@"; do
  name=$(basename "$clip")
  n=$(find "$clip" -maxdepth 1 -name '[0-9][0-9][0-9][0-9][0-9].png' | wc -l)
  [ "$n" -gt 0 ] || { echo "$clip: no %05d.png frames" >&2; exit 1; }
  k=$(( 2 * n / 3 ))
  mkdir -p "$tmp/$name/c" "$tmp/$name/l"
  src="multifilesrc location=$clip/%05d.png index=0 stop-index=$k caps=image/png,framerate=24/1 ! pngdec ! videoconvert"
  # shellcheck disable=SC2086
  gst-launch-1.0 -q $src ! tcvclineart ! tee name=t \
    t. ! queue ! videoconvert ! pngenc ! multifilesink location="$tmp/$name/l/%05d.png" \
    t. ! queue ! tcvccolorize $model_prop ! videoconvert ! pngenc ! multifilesink location="$tmp/$name/c/%05d.png"
  f=$(printf %05d "$k")
  rows+=("$tmp/$name/l/$f.png" "$tmp/$name/c/$f.png" "$clip/$f.png")
done
"$py" - "$out" "${rows[@]}" <<'PY'
import sys, cv2, numpy as np
out, files = sys.argv[1], sys.argv[2:]
H = 144
rows = []
for i in range(0, len(files), 3):
    ims = [cv2.imread(f, cv2.IMREAD_COLOR) for f in files[i:i + 3]]
    ims = [cv2.resize(im, (round(im.shape[1] * H / im.shape[0]), H), interpolation=cv2.INTER_AREA) for im in ims]
    gap = np.full((H, 4, 3), 255, np.uint8)
    rows.append(np.hstack([ims[0], gap, ims[1], gap, ims[2]]))
w = max(r.shape[1] for r in rows)
rows = [np.hstack([r, np.full((H, w - r.shape[1], 3), 255, np.uint8)]) for r in rows]
sheet = np.vstack([np.vstack([r, np.full((4, w, 3), 255, np.uint8)]) for r in rows])
cv2.imwrite(out, sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
print(f"{out}: {len(rows)} clips, {sheet.shape[1]}x{sheet.shape[0]}")
PY
