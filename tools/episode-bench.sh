#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tcvc-episode against the element over the same clip, in one run (ratios against the element's
# figure of the same run): `tcvclineart ! tcvccolorize` in gst-launch-1.0, and
# `tcvc-episode colorize --batch B` for B in $BATCHES, at fp32 and bf16, both encoding with the
# same x264 settings. The clip: pieces of Big Buck Bunny's four shots (data/bigbuckbunny_1080p.mp4)
# at $SIZE, $PIECES pieces of $LEN frames (a cut at every join).
#
#   tools/episode-bench.sh            # or: make episode-bench
#   SIZE=1280:720 BATCHES="1 8" tools/episode-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=passive GST_PLUGIN_PATH=$PWD/target/release
SIZE=${SIZE:-640:360}
LEN=${LEN:-24}
BATCHES=${BATCHES:-1 4 8}
PRECISIONS=${PRECISIONS:-fp32 bf16}
OUT=${OUT:-runs/episode-bench}
EP=target/release/tcvc-episode
ENC="x264enc speed-preset=ultrafast"
mkdir -p "$OUT"
clip=$OUT/clip.mkv
# Starts inside the four shots (0-284, 285-377, 378-552, 553-719), alternating between them.
starts=(20 300 400 600 150 330 480 650 80 420 240 690)
parts=""; labels=""
for i in "${!starts[@]}"; do
  a=${starts[$i]}; b=$((a + LEN))
  parts+="[0:v]trim=start_frame=$a:end_frame=$b,setpts=PTS-STARTPTS,scale=$SIZE[v$i];"
  labels+="[v$i]"
done
ffmpeg -v error -y -i data/bigbuckbunny_1080p.mp4 -filter_complex \
  "${parts}${labels}concat=n=${#starts[@]}:v=1:a=0,format=yuv420p[out]" -map "[out]" \
  -c:v ffv1 -r 24 "$clip"
frames=$(( ${#starts[@]} * LEN ))
"$EP" plan "$clip" -o "$OUT/shots.json" 2>&1 | tail -n1

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$frames / ($2 - $1):.2f}')"; }
printf '| run | precision | frames/s | × element |\n|---|---|---:|---:|\n' > "$OUT/report.md"
for p in $PRECISIONS; do
  t0=$(now)
  gst-launch-1.0 -q filesrc location="$clip" ! decodebin ! videoconvert ! tcvclineart ! \
    tcvccolorize precision=$p ! videoconvert ! $ENC ! mpegtsmux ! \
    filesink location="$OUT/element-$p.ts" > /dev/null
  t1=$(now)
  base=$(rate "$t0" "$t1")
  printf '| element (tcvclineart ! tcvccolorize) | %s | %s | 1.00 |\n' "$p" "$base" >> "$OUT/report.md"
  for b in $BATCHES; do
    t0=$(now)
    "$EP" colorize "$clip" --shots "$OUT/shots.json" --batch "$b" --precision "$p" \
      --device cpu --encoder "$ENC" -o "$OUT/episode-b$b-$p.ts" 2> "$OUT/episode-b$b-$p.log"
    t1=$(now)
    r=$(rate "$t0" "$t1")
    x=$(python3 -c "print(f'{$r / $base:.2f}')")
    printf '| tcvc-episode --batch %s | %s | %s | %s |\n' "$b" "$p" "$r" "$x" >> "$OUT/report.md"
  done
done
echo "$frames frames ($SIZE, ${#starts[@]} shots), $(nproc) cores, $(date -u +%F)" >> "$OUT/report.md"
cat "$OUT/report.md"
