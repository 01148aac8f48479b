#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Frames/s of `tcvclineart ! tcvccolorize` (the default model unless MODEL=FILE) on
# `videotestsrc pattern=ball` at SIZE (default 1280x720), with glibc's allocator as it comes
# (the anchor) and with the setting docs/colorize.md recommends
# (MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296), alternating, ROUNDS
# rounds (default 2) for each precision in PRECISIONS (default "bf16 fp32"). Each figure is
# FRAMES frames (default 300) over the run's time less a 1-frame run's (the process start and
# the model load), so that it is the steady rate. Also prints the minor page faults a frame.
# A benchmark, not a test: compare figures of one run only (this VM varies by ±15 % between runs).
#   tools/element-speed.sh            # or: make element-speed
#   FRAMES=100 ROUNDS=1 PRECISIONS=bf16 tools/element-speed.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
unset MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_
frames=${FRAMES:-300}
rounds=${ROUNDS:-2}
size=${SIZE:-1280x720}
[[ $frames =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ && $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] \
  || { echo "FRAMES and ROUNDS must be positive integers, SIZE WxH" >&2; exit 2; }
model_prop=""
[ -n "${MODEL:-}" ] && model_prop="model-file=$MODEL"
tuned=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296)

# Prints "SECONDS MINOR_FAULTS" of one run of N frames (env assignments in "$@").
run() {
  local n=$1 precision=$2; shift 2
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/element-speed.XXXXXX")
  # shellcheck disable=SC2086
  env "$@" /usr/bin/time -f "%e %R" -o "$log" gst-launch-1.0 -q videotestsrc pattern=ball \
    num-buffers="$n" ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=25/1" ! \
    tcvclineart ! tcvccolorize $model_prop precision="$precision" ! fakesink >/dev/null
  tail -n 1 "$log"
  rm -f "$log"
}

printf '%-6s %-8s %10s %14s\n' precision malloc frames/s faults/frame
for precision in ${PRECISIONS:-bf16 fp32}; do
  for _ in $(seq "$rounds"); do
    for setting in default tuned; do
      envs=(TCVC_ELEMENT_SPEED=1)
      [ "$setting" = tuned ] && envs=("${tuned[@]}")
      read -r t1 f1 < <(run 1 "$precision" "${envs[@]}")
      read -r tn fn < <(run "$frames" "$precision" "${envs[@]}")
      awk -v p="$precision" -v s="$setting" -v n="$frames" -v t1="$t1" -v tn="$tn" \
        -v f1="$f1" -v fn="$fn" \
        'BEGIN { printf "%-6s %-8s %10.1f %14.0f\n", p, s, (n - 1) / (tn - t1), (fn - f1) / (n - 1) }'
    done
  done
done
