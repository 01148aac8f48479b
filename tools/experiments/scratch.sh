#!/usr/bin/env bash
# The equal-budget runs from scratch of the model card (stages 6-7): 2,000 steps, batch 4,
# 160x96, the clips of corpus seeds 0-2 with --lines-at source, seed 5, squared error alone (no
# adversarial or perceptual term, which pix2pix cannot take here), the mean of the last three
# checkpoints (every 500 steps), recommending fill.
#   T   TCVC with the recipe against drift (self-feed, degraded previous frames, temporal loss)
#   A   TCVC with the previous frame always blank (the ablation)
#   P   the pix2pix U-Net (ngf 32)
#   W   TCVC with two chain walkers a batch (temporal loss 10), the other two samples blank
#   W0  W without the temporal loss    W1  one walker    W3  three walkers    Wt  temporal loss 40
# Writes runs/trio-NAME/ and runs/trio-NAME.safetensors (OUT=path changes both); extra arguments
# go to tcvc-train; SEED=N changes the seed, STEPS=N the budget (stage 8: STEPS=6000 with
# --resume continues a finished 2,000-step run). Needs `make setup` and the corpus seeds 1 and 2
# (see finetune.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export LIBTORCH_USE_PYTORCH=1 OMP_WAIT_POLICY=passive
bin=${BIN:-target/release/tcvc-train}
name=${1:?T, A, P, W, W0, W1, W3 or Wt}; shift
case $name in
  T) v=(--self-feed 0.5 --self-feed-ramp 300 --unroll 2 --degrade-prev 0.3 --temporal-weight 10) ;;
  A) v=(--prev-prob 0) ;;
  P) v=(--arch pix2pix) ;;
  W) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10) ;;
  W0) v=(--chain-walkers 2 --prev-prob 0) ;;
  W1) v=(--chain-walkers 1 --prev-prob 0 --temporal-weight 10) ;;
  W3) v=(--chain-walkers 3 --prev-prob 0 --temporal-weight 10) ;;
  Wt) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 40) ;;
  *) echo "T, A, P, W, W0, W1, W3 or Wt" >&2; exit 2 ;;
esac
args=()
for d in data/corpus/train/* data/corpus-s1/train/* data/corpus-s2/train/*; do args+=(--train "$d"); done
for d in data/corpus/val/*; do args+=(--val "$d"); done
out=${OUT:-runs/trio-$name}
exec $bin "${args[@]}" "${v[@]}" --lines-at source \
  --channels 32 --res-blocks 6 --size 160x96 --batch-size 4 --threads 1 --seed ${SEED:-5} \
  --steps ${STEPS:-2000} --export-dtype f16 --adv-weight 0 --l1-weight 0 --l2-weight 50 \
  --output-mode fill --checkpoint-every 500 --keep 20 --val-every 500 --val-frames 48 \
  --export-average 3 --checkpoint-dir $out --export $out.safetensors "$@"
