#!/usr/bin/env bash
# Training-speed benchmark: tcvc-train against the same TCVC step in plain PyTorch
# (tools/pytorch_train_step.py), on the same machine in the same run.
#
#   tools/bench_train.sh [small|paper|all]     (default: small)
#
#   small: 128x128, batch 1, channels 32, res-blocks 4
#   paper: 256x256, batch 1, channels 64, res-blocks 8 (the paper's generator)
#
# Environment: ROUNDS (3) alternating rounds per config, STEPS (10) timed steps per run after
# 2 warm-up steps, THREADS (0 = libtorch's default) CPU threads for both, PERCEPTUAL (off |
# random) content/style through a random VGG19 in both, DEVICE (cpu).
#
# Each round runs tcvc-train --bench-steps, PyTorch as is, and PyTorch with the same glibc malloc
# settings tcvc-train applies to itself (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_, see
# tcvc-tools/src/malloc.rs). It prints every run, then the median samples/s (wall clock) and CPU
# seconds per sample (all threads; steadier on a shared machine) and the ratios
# tcvc-train / PyTorch (> 1 = tcvc-train faster).
set -euo pipefail
cd "$(dirname "$0")/.."
export LIBTORCH_USE_PYTORCH=1 PATH="$PWD/.venv/bin:$PATH"
PY=${TCVC_PYTHON:-.venv/bin/python}
BIN=target/release/tcvc-train
CLIP=${TCVC_DATA_DIR:-data}/bigbuckbunny_720p.mp4
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10}
THREADS=${THREADS:-0}
PERCEPTUAL=${PERCEPTUAL:-off}
DEVICE=${DEVICE:-cpu}
WHICH=${1:-small}

[ -x "$BIN" ] || cargo build --release --bin tcvc-train
[ -f "$CLIP" ] || { echo "missing $CLIP: run make setup" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

case "$WHICH" in
small) CONFIGS=("128 1 32 4") ;;
paper) CONFIGS=("256 1 64 8") ;;
all) CONFIGS=("128 1 32 4" "256 1 64 8") ;;
*) echo "usage: $0 [small|paper|all]" >&2; exit 2 ;;
esac

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for cfg in "${CONFIGS[@]}"; do
    read -r SIZE BATCH CH RES <<<"$cfg"
    echo "== ${SIZE}x${SIZE} batch $BATCH channels $CH res-blocks $RES perceptual $PERCEPTUAL threads $THREADS, $STEPS steps x $ROUNDS rounds"
    perc=()
    [ "$PERCEPTUAL" = random ] && perc=(--perceptual random)
    : >"$WORK/results"
    for r in $(seq "$ROUNDS"); do
        out=$("$BIN" --train "$CLIP" --max-frames 24 --size "$SIZE" --batch-size "$BATCH" \
            --channels "$CH" --res-blocks "$RES" --device "$DEVICE" --threads "$THREADS" \
            --checkpoint-dir "$WORK/run" --cache-dir "$WORK/cache" "${perc[@]}" \
            --bench-steps "$STEPS" 2>/dev/null | grep '^bench:')
        echo "  round $r tcvc-train     : $out"
        echo "rust $(field samples_per_s <<<"$out") $(field cpu_s_per_sample <<<"$out")" >>"$WORK/results"
        out=$("$PY" tools/pytorch_train_step.py --size "$SIZE" --batch-size "$BATCH" \
            --channels "$CH" --res-blocks "$RES" --steps "$STEPS" --threads "$THREADS" \
            --perceptual "$PERCEPTUAL")
        echo "  round $r pytorch        : $out"
        echo "torch $(field samples_per_s <<<"$out") $(field cpu_s_per_sample <<<"$out")" >>"$WORK/results"
        out=$(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 \
            "$PY" tools/pytorch_train_step.py --size "$SIZE" --batch-size "$BATCH" \
            --channels "$CH" --res-blocks "$RES" --steps "$STEPS" --threads "$THREADS" \
            --perceptual "$PERCEPTUAL")
        echo "  round $r pytorch+malloc : $out"
        echo "torchm $(field samples_per_s <<<"$out") $(field cpu_s_per_sample <<<"$out")" >>"$WORK/results"
    done
    python3 - "$WORK/results" <<'PYEOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, sps, cpu = line.split()
    rows.setdefault(k, []).append((float(sps), float(cpu)))
med = {k: (statistics.median(v[0] for v in r), statistics.median(v[1] for v in r)) for k, r in rows.items()}
names = {"rust": "tcvc-train", "torch": "PyTorch", "torchm": "PyTorch + same malloc settings"}
for k in ("rust", "torch", "torchm"):
    s, c = med[k]
    print(f"  median {names[k]:32s} {s:8.3f} samples/s  {c:8.4f} CPU s/sample")
for k in ("torch", "torchm"):
    print(f"  ratio tcvc-train / {names[k]:32s} wall {med['rust'][0] / med[k][0]:.2f}x   "
          f"CPU {med[k][1] / med['rust'][1]:.2f}x")
PYEOF
done
