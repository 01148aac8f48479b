#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs on a GPU machine from the bundle tools/gpu-bundle.sh makes (docs/gpu.md): checks that the
# plugin loads and that tcvccolorize's CUDA path gives the CPU's frames, then measures
# throughput (element and training step) on CUDA against the CPU of the same machine.
#
# usage: gpu-check.sh [BUNDLE] [TRAIN_DATA...]   (BUNDLE: the unpacked .gpu folder; TRAIN_DATA:
#        clips or image folders for the training-step benchmark, optional). The python3 on PATH
#        must be the one with PyTorch 2.11 (its torch/lib is put on LD_LIBRARY_PATH).
#        SKIP_FPS=1 skips the element throughput runs.
set -uo pipefail
B=$(realpath "${1:-.gpu}"); shift || true
here=$(dirname "$(realpath "$0")")
TL=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$B/lib:$TL GST_PLUGIN_SYSTEM_PATH=$B/plugins \
  GST_PLUGIN_SCANNER=$B/bin/gst-plugin-scanner GST_REGISTRY=${TMPDIR:-/tmp}/tcvc-gpu-registry.bin \
  PATH=$B/bin:$PATH OMP_WAIT_POLICY=passive
work=$(mktemp -d)

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
echo "cpu cores: $(nproc)"

echo "== plugin"
gst-inspect-1.0 tcvc | grep -E "^  (Version|tcvc)|^ *tcvc" | head
ldd "$B/plugins/libgsttcvc.so" | grep -E "torch_cuda|not found"

echo "== CUDA path = CPU path (test on_cuda_the_frames_match_the_cpu_frames)"
colorize-tests --exact on_cuda_the_frames_match_the_cpu_frames --nocapture --test-threads 1 2>&1 | grep -E "cuda|test result|panicked"

echo "== paper-size generator (C64/R8, random weights from the reference code)"
python3 "$here/reference_generator.py" "$work/paper.pth" --channels 64 --res-blocks 8 --seed 1 >/dev/null &&
python3 "$here/convert_reference.py" "$work/paper.pth" "$work/paper.safetensors" --input-mode lineart --train-size 256x256 >/dev/null &&
ls -la "$work/paper.safetensors"

# fps of `videotestsrc 1280x720 ! tcvclineart ! ... ! fakesink` from two runs (N0 and N1 frames):
# (N1 - N0) / (t1 - t0), so model loading and CUDA start-up do not count.
fps() {
  local n0=$1 n1=$2; shift 2
  local t=()
  for n in $n0 $n1; do
    local s=$(date +%s.%N)
    gst-launch-1.0 -q videotestsrc pattern=ball num-buffers=$n ! video/x-raw,width=1280,height=720,framerate=25/1 \
      ! tcvclineart ! "$@" ! fakesink sync=false >/dev/null || { echo failed; return; }
    t+=("$s" "$(date +%s.%N)")
  done
  python3 -c "import sys; t=[float(x) for x in sys.argv[1:]]; print(f'{($n1 - $n0) / ((t[3] - t[2]) - (t[1] - t[0])):.1f}')" "${t[@]}"
}
if [ -z "${SKIP_FPS:-}" ]; then
echo "== element throughput, 720p in, frames/s (videotestsrc ball ! tcvclineart ! X ! fakesink)"
printf "%-58s %s\n" "tcvclineart only (CPU ceiling)" "$(fps 50 450 identity)"
printf "%-58s %s\n" "default model (its train_size), cpu fp32 (anchor)" "$(fps 20 120 tcvccolorize device=cpu)"
for p in fp32 fp16 bf16; do
  printf "%-58s %s\n" "default model (its train_size), cuda $p" "$(fps 50 450 tcvccolorize device=cuda precision=$p)"
done
printf "%-58s %s\n" "default model at 1280x720, cuda fp16" "$(fps 50 450 tcvccolorize device=cuda precision=fp16 working-width=1280 working-height=720)"
printf "%-58s %s\n" "paper size 256x256, cpu fp32 (anchor)" "$(fps 5 25 tcvccolorize model-file=$work/paper.safetensors device=cpu)"
for p in fp32 fp16 bf16; do
  printf "%-58s %s\n" "paper size 256x256, cuda $p" "$(fps 50 450 tcvccolorize model-file=$work/paper.safetensors device=cuda precision=$p)"
done
printf "%-58s %s\n" "paper size at 1280x720, cuda fp16" "$(fps 20 220 tcvccolorize model-file=$work/paper.safetensors device=cuda precision=fp16 working-width=1280 working-height=720)"
fi

if [ $# -gt 0 ]; then
  echo "== training step (tcvc-train --bench-steps; samples/s)"
  data=(); for d in "$@"; do data+=(--train "$d"); done
  bench() { tcvc-train "${data[@]}" --no-plots --checkpoint-dir "$work/bench" --cache-dir "$work/cache" "$@" 2>&1 | grep '^bench:' | sed 's/^bench: //'; }
  bench --device cpu --channels 32 --res-blocks 6 --size 160x96 --batch-size 4 --bench-steps 10
  bench --device cuda --channels 32 --res-blocks 6 --size 160x96 --batch-size 4 --bench-steps 100
  bench --device cuda --channels 32 --res-blocks 6 --size 160x96 --batch-size 16 --bench-steps 100
  bench --device cpu --channels 64 --res-blocks 8 --size 256x256 --batch-size 4 --perceptual random --bench-steps 2
  bench --device cuda --channels 64 --res-blocks 8 --size 256x256 --batch-size 4 --perceptual random --bench-steps 50
  bench --device cuda --channels 64 --res-blocks 8 --size 256x256 --batch-size 16 --perceptual random --bench-steps 20
fi
rm -rf "$work"
