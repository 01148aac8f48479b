#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Colour one episode on a Slurm cluster: a plan job, an array of N colorize tasks (one shard of
# the shots each, balanced by frame count), then a join that waits for the whole array.
# See docs/farm.md.
#
#   examples/farm/slurm-episode.sh EPISODE.mkv OUT.mkv [N]
#
# Environment: MODEL (default: the built-in model), TCVC_BIN (folder of tcvc-episode, default
# target/release), WORK (shared folder for the plan and the segments, default OUT's folder),
# THREADS (CPU threads per task, default 4), DEVICE (cpu, cuda, auto; default auto),
# PRECISION (fp32, bf16, fp16; default fp32), BATCH (shot chains per forward pass, default 8),
# ENCODER (GStreamer encoder description, default x264enc), SBATCH_ARGS (extra sbatch options:
# --partition, --gres=gpu:1, --account, ...).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 EPISODE OUT [N]" >&2; exit 2; }
EPISODE=$(realpath "$1")
OUT=$(realpath -m "$2")
N=${3:-8}
BIN=$(realpath "${TCVC_BIN:-target/release}")
WORK=$(realpath -m "${WORK:-$(dirname "$OUT")/$(basename "$OUT").work}")
MODEL=${MODEL:-default}
THREADS=${THREADS:-4}
DEVICE=${DEVICE:-auto}
PRECISION=${PRECISION:-fp32}
BATCH=${BATCH:-8}
ENCODER=${ENCODER:-x264enc}
mkdir -p "$WORK/logs"
common=(--parsable --chdir "$WORK" ${SBATCH_ARGS:-})
q() { printf '%q ' "$@"; }

plan=$(sbatch "${common[@]}" --job-name tcvc-plan --cpus-per-task "$THREADS" \
  --output "$WORK/logs/plan.out" \
  --wrap "$(q "$BIN/tcvc-episode" plan "$EPISODE" --model "$MODEL" --line-threads "$THREADS" -o "$WORK/shots.json")")

# Each task colours shard $SLURM_ARRAY_TASK_ID of N into its own segment; a failed task is rerun
# alone with: sbatch --array=K (same script line), the others' segments stay.
array=$(sbatch "${common[@]}" --job-name tcvc-colorize --array "0-$((N - 1))" \
  --cpus-per-task "$THREADS" --dependency "afterok:$plan" \
  --output "$WORK/logs/shard-%a.out" \
  --export "ALL,OMP_WAIT_POLICY=passive" \
  --wrap "$(q "$BIN/tcvc-episode" colorize "$EPISODE" --model "$MODEL" --shots "$WORK/shots.json" \
            --batch "$BATCH" --device "$DEVICE" --precision "$PRECISION" --threads "$THREADS" \
            --line-threads "$THREADS" --encoder "$ENCODER")--shard \$SLURM_ARRAY_TASK_ID/$N -o $WORK/part-\$SLURM_ARRAY_TASK_ID.ts")

segments=""
for ((i = 0; i < N; i++)); do segments+=" $(q "$WORK/part-$i.ts")"; done
join=$(sbatch "${common[@]}" --job-name tcvc-join --dependency "afterok:$array" \
  --output "$WORK/logs/join.out" \
  --wrap "$(q "$BIN/tcvc-episode" join)$segments -o $(q "$OUT")")
echo "plan $plan, colorize array $array (0-$((N - 1))), join $join -> $OUT"
