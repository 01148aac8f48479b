#!/usr/bin/env bash
# One model as the model card measures it: fill, each clip at its own size (the element's path),
# with its chain and frame by frame (--previous blank), on the validation, test and 100-frame
# chain clips of the corpus. Writes runs/measure/NAME-SPLIT.{md,json,log} and
# NAME-blank-SPLIT.*.   tools/experiments/measure.sh NAME MODEL_FILE [tcvc-eval options, e.g.
# --working 224x128]; SPLITS="val test" measures fewer splits.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LIBTORCH_USE_PYTORCH=1 OMP_WAIT_POLICY=passive
name=${1:?name}; file=${2:?model file}; shift 2
o=runs/measure; mkdir -p $o
for s in ${SPLITS:-val test chain}; do
  target/release/tcvc-eval --model "$file" --size native --output-mode fill "$@" \
    --json $o/$name-$s.json data/corpus/$s/* > $o/$name-$s.md 2> $o/$name-$s.log
  target/release/tcvc-eval --model "$file" --previous blank --no-baselines --size native \
    --output-mode fill "$@" --json $o/$name-blank-$s.json data/corpus/$s/* > $o/$name-blank-$s.md 2> $o/$name-blank-$s.log
done
