#!/usr/bin/env bash
# Soak benchmark (not a test): N frames (default 10000) through each pipeline below, the
# gst-launch-1.0 process's resident memory (VmRSS) sampled every 0.2 s. Prints, per pipeline,
# the RSS once warm (median over the second tenth of the run, at least 3 s in), at the end
# (median over the last tenth), the peak, and the growth from warm to end; exit 1 when a growth
# is 5 % or more.
#   tools/soak.sh [N]          SOAK_SIZE=WxH (default 320x180), GST_PLUGIN_PATH as for the tests
# The source is videotestsrc pattern=ball (a moving ball on black, so the colorizer's chain and
# the compare elements see real frame-to-frame change); `is-live=false`, `sync=false`: as fast as
# the elements go.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$here/target/release}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
n=${1:-10000}
size=${SOAK_SIZE:-320x180}
w=${size%x*}
h=${size#*x}
src="videotestsrc pattern=ball num-buffers=$n ! video/x-raw,format=RGB,width=$w,height=$h,framerate=25/1"
declare -a names pipes
names+=("tcvclineart ! tcvccolorize")
pipes+=("$src ! tcvclineart ! tcvccolorize ! fakesink sync=false")
for el in tcvcssim "tcvcssim window=ffmpeg" tcvcpsnr tcvcflicker; do
  names+=("$el")
  # The reference is the same stream, one frame late: every pair differs.
  pipes+=("$src ! tee name=t t. ! queue ! $el name=m ! fakesink sync=false t. ! queue ! identity ts-offset=40000000 ! m.reference")
done
fail=0
printf '%-28s %8s %10s %10s %10s %8s %8s\n' pipeline frames warm_kB end_kB peak_kB growth seconds
for i in "${!names[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  # shellcheck disable=SC2086
  gst-launch-1.0 -q ${pipes[$i]} >"$log" 2>&1 &
  pid=$!
  samples=()
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && samples+=("$rss")
    sleep 0.2
  done
  wait "$pid" || { echo "${names[$i]}: gst-launch-1.0 failed:" >&2; cat "$log" >&2; exit 1; }
  secs=$(( $(date +%s) - start ))
  rm -f "$log"
  k=${#samples[@]}
  # Warm: the median of the samples of the second tenth of the run (at least 3 s in: plugin and
  # libtorch loading); end: the median of the last tenth, teardown (the last 2 samples) left out.
  [ "$k" -ge 25 ] || { echo "${names[$i]}: ran ${secs}s, too short to sample; raise N" >&2; exit 1; }
  tenth=$(( k / 10 ))
  wi=$tenth
  [ "$wi" -ge 15 ] || wi=15
  median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  warm=$(median "${samples[@]:$wi:$tenth}")
  end=$(median "${samples[@]:$(( k - 2 - tenth )):$tenth}")
  peak=$(printf '%s\n' "${samples[@]}" | sort -n | tail -n1)
  growth=$(awk -v a="$warm" -v b="$end" 'BEGIN { printf "%.2f", (b - a) * 100 / a }')
  printf '%-28s %8s %10s %10s %10s %7s%% %8s\n' "${names[$i]}" "$n" "$warm" "$end" "$peak" "$growth" "$secs"
  awk -v g="$growth" 'BEGIN { exit !(g >= 5) }' && fail=1
done
exit $fail
