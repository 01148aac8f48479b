#!/usr/bin/env bash
# The equal-budget fine-tunes of the model card (stages 5-7, 9): 1,000 steps from the default
# before stage 5 (git d4b451e), fresh Adam, --lr-g 3e-5, seed 3, the clips of corpus seeds 0-2
# with --lines-at source, the default's losses (squared error, EfficientNet-Lite0 content and
# style, no adversarial term), the mean of the last three checkpoints, recommending fill.
#   tools/experiments/finetune.sh recipe   self-feed, degraded previous frames, temporal loss (the default)
#   tools/experiments/finetune.sh blank    the previous frame always blank (--prev-prob 0)
#   tools/experiments/finetune.sh paper    the paper's rule: ground truth w.p. 0.5, else blank
#   tools/experiments/finetune.sh walk     two chain walkers a batch (temporal loss), two blank samples
#   tools/experiments/finetune.sh walk0    the same without the temporal loss
#   tools/experiments/finetune.sh walklong walk, plus the one-shot clips of 90-120 frames of
#                                           `tools/corpus.py build --size long --seed 3 --out data/corpus-long3`
#   tools/experiments/finetune.sh walkclose walk, plus the close-up clips of
#                                           `tools/corpus.py build --size closeup --seed 3 --out data/corpus-closeup3`
#   tools/experiments/finetune.sh walkplain walk, plus the plain-page clips of
#                                           `tools/corpus.py build --size plain --seed 3 --out data/corpus-plain3`
#   tools/experiments/finetune.sh walkmore walk, plus the training clips of corpus seeds 3-5
#                                           (`tools/corpus.py build --seed N --out data/corpus-sN`): twice the clips
# Stage 22's default: START=runs/default-160.safetensors SIZE=224x128 SEED=4 ... walk --flip 0.5;
# stage 24's adds --working-orientation turn (portrait clips at the size turned).
# Writes runs/ft-VARIANT/ (checkpoints, losses) and runs/ft-VARIANT.safetensors (OUT=path changes
# both); extra arguments go to tcvc-train. START=FILE starts from another model (stage 9: the
# default), SIZE=WxH trains at another size, SEED=N changes the seed, LR=X the generator's
# learning rate (default 3e-5), STEPS=N the budget (with --resume: continues a finished run to N
# steps), THREADS=N the libtorch threads (default 1: two runs side by side). Needs `make
# setup`, `make efficientnet` and `tools/corpus.py build --seed 1 --out data/corpus-s1` (and
# --seed 2, data/corpus-s2).
set -euo pipefail
cd "$(dirname "$0")/../.."
export LIBTORCH_USE_PYTORCH=1 OMP_WAIT_POLICY=passive
bin=${BIN:-target/release/tcvc-train}
name=${1:?recipe, blank, paper, walk, walk0, walklong, walkclose, walkplain or walkmore}; shift
case $name in
  recipe) v=(--self-feed 0.5 --self-feed-ramp 300 --unroll 2 --degrade-prev 0.3 --temporal-weight 10) ;;
  blank) v=(--prev-prob 0) ;;
  paper) v=() ;;
  walk) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10) ;;
  walk0) v=(--chain-walkers 2 --prev-prob 0) ;;
  walklong) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10)
    for d in data/corpus-long3/train/*; do v+=(--train "$d"); done ;;
  walkclose) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10)
    for d in data/corpus-closeup3/train/*; do v+=(--train "$d"); done ;;
  walkplain) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10)
    for d in data/corpus-plain3/train/*; do v+=(--train "$d"); done ;;
  walkmore) v=(--chain-walkers 2 --prev-prob 0 --temporal-weight 10)
    for d in data/corpus-s3/train/* data/corpus-s4/train/* data/corpus-s5/train/*; do v+=(--train "$d"); done ;;
  *) echo "recipe, blank, paper, walk, walk0, walklong, walkclose, walkplain or walkmore" >&2; exit 2 ;;
esac
mkdir -p runs
start=${START:-runs/previous-default-d4b451e.safetensors}
if [ -z "${START:-}" ] && [ ! -s $start ]; then
  git show d4b451e:models/tcvc-default.safetensors > $start
fi
out=${OUT:-runs/ft-$name}
args=()
for d in data/corpus/train/* data/corpus-s1/train/* data/corpus-s2/train/*; do args+=(--train "$d"); done
for d in data/corpus/val/*; do args+=(--val "$d"); done
# --resume continues the run in OUT (its checkpoints hold the weights; --init-from would clash).
init=(--init-from "$start")
for a in "$@"; do [ "$a" = --resume ] && init=(); done
exec $bin "${args[@]}" "${v[@]}" "${init[@]}" --lines-at source \
  --channels 32 --res-blocks 6 --size ${SIZE:-160x96} --batch-size 4 --threads ${THREADS:-1} --seed ${SEED:-3} \
  --steps ${STEPS:-1000} --lr-g ${LR:-3e-5} --export-dtype f16 \
  --adv-weight 0 --perceptual efficientnet-lite0 --content-weight 0.04 --style-weight 0.5 \
  --l1-weight 0 --l2-weight 50 --output-mode fill \
  --checkpoint-every 250 --keep 20 --val-every 250 --val-frames 48 --export-average 3 \
  --checkpoint-dir $out --export $out.safetensors "$@"
