#!/usr/bin/env python3
"""Weighted means of TCVC model files' weights (model card, stage 26).

    tools/experiments/mix-weights.py OUT.safetensors MODEL[:WEIGHT]...

OUT's weights are sum(WEIGHT_i * MODEL_i) / sum(WEIGHT_i) (WEIGHT defaults to 1), in the first
model's storage precision (F16 or F32), with the first model's metadata (architecture, training
size, working orientation, recommended output) and a provenance that names the mix. Two uses:

- a *soup*: the mean of runs fine-tuned from one start with other seeds
  (`OUT A B`);
- an *interpolation* between a start and its fine-tune, theta_start + a * (theta_ft -
  theta_start) = a * FT + (1 - a) * START: a = 0.5 is `OUT FT:1 START:1`, a = 1.5 is
  `OUT FT:3 START:-1` (a negative weight extrapolates; the weights must not sum to 0).

Every model must hold the same tensors with the same shapes and the same architecture and input
metadata; the file is written atomically (`tools/safetensors_io.py`, numpy alone: no
safetensors package).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # noqa: E402  (the tools' one safetensors reader and writer)

# Metadata that must agree between the mixed files: the architecture and the input. The rest
# (training size, orientation, output, previous frame) comes from the first file; where another
# file says otherwise, a note says so (an interpolation towards an earlier start is such a mix).
SAME = ('format', 'format_version', 'channels', 'res_blocks', 'input_mode')
NOTE = ('train_size', 'previous_frame', 'working_orientation', 'output_mode')


def read(path):
    tensors, meta, dtypes = safetensors_io.or_exit(safetensors_io.read, path, who='mix-weights')
    for name, dtype in dtypes.items():
        if dtype not in ('F16', 'F32'):
            sys.exit(f'mix-weights: {path}: tensor {name} is {dtype}; F16 or F32 expected')
    return meta, tensors


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out')
    p.add_argument('models', nargs='+', metavar='MODEL[:WEIGHT]')
    args = p.parse_args()
    parts = []
    for m in args.models:
        path, _, w = m.rpartition(':') if ':' in m else (m, '', '1')
        try:
            parts.append((path, float(w)))
        except ValueError:
            p.error(f'{m}: the weight after the last colon must be a number')
    total = sum(w for _, w in parts)
    if abs(total) < 1e-9:
        p.error('the weights sum to 0: nothing to normalise by')
    loaded = [(path, w) + read(path) for path, w in parts]
    first_path, _, first_meta, first = loaded[0]
    for path, _, meta, tensors in loaded[1:]:
        for k in SAME:
            if meta.get(k) != first_meta.get(k):
                p.error(f'{path}: {k} = {meta.get(k)!r}, but {first_path} has '
                        f'{first_meta.get(k)!r}: only models of one kind mix')
        for k in NOTE:
            if meta.get(k) != first_meta.get(k):
                print(f'mix-weights: note: {path} has {k} = {meta.get(k)!r}; {args.out} keeps '
                      f'{first_path}\'s {first_meta.get(k)!r}', file=sys.stderr)
        if {k: v.shape for k, v in tensors.items()} != {k: v.shape for k, v in first.items()}:
            p.error(f'{path}: other tensors or shapes than {first_path}')
    mixed = {}
    for name, t in first.items():
        acc = sum(w * tensors[name].astype(np.float64) for _, w, _, tensors in loaded)
        mixed[name] = (acc / total).astype(t.dtype)
        if not np.isfinite(mixed[name]).all():
            sys.exit(f'mix-weights: {name} leaves the range of {t.dtype} in the mix (an '
                     'extrapolation too far?); mix F32 files or use smaller weights')
    meta = dict(first_meta)
    desc = ' + '.join(f'{w:g} x {os.path.basename(path)}' for path, w in parts)
    meta['provenance'] = (f'weighted mean ({desc}) / {total:g}; first: '
                          f'{first_meta.get("provenance", "")}')
    safetensors_io.or_exit(safetensors_io.write, args.out, mixed, meta, who='mix-weights')
    print(f'mix-weights: wrote {args.out}: {desc}, over {total:g}', file=sys.stderr)


if __name__ == '__main__':
    main()
