#!/usr/bin/env python3
"""Models on the held-out clips of several renderings of the corpus (model card, stage 13).

    tools/experiments/renderings.py MODEL... [--seeds 0,7,8] [--split val] [--json FILE]
                                    [-- tcvc-eval options]

Another `tools/corpus.py build --seed N` renders the same held-out characters and props into
other validation, test and chain clips: another episode of the same show. Seed 0 is the
checkout's data/corpus; any other seed N is data/corpus-seedN, rendered here when missing
(~70 s each). Every model runs through `tcvc-eval --size native --output-mode fill --no-baselines`
(the chain, each clip at its own size, as the element colours it) in one run over the chosen
split of every rendering; the table gives each model's PSNR per rendering (the mean over that
rendering's frames) and the mean of the renderings. MODEL is a model file or `default`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def corpus_dir(seed):
    return os.path.join(ROOT, 'data', 'corpus' if seed == 0 else f'corpus-seed{seed}')


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('models', nargs='+')
    p.add_argument('--seeds', default='0,7,8', help='corpus seeds (default 0,7,8)')
    p.add_argument('--split', default='val', choices=['val', 'test', 'chain'])
    p.add_argument('--json', help='keep the tcvc-eval JSON here')
    p.add_argument('--eval', default=os.path.join(ROOT, 'target', 'release', 'tcvc-eval'))
    args = p.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(',')]
    except ValueError:
        p.error(f'--seeds {args.seeds}: give integers separated by commas, e.g. 0,7,8')
    clips = {}
    for seed in seeds:
        d = corpus_dir(seed)
        if seed != 0 and not os.path.isdir(os.path.join(d, args.split)):
            print(f'renderings: rendering corpus seed {seed} into {d} ...', file=sys.stderr)
            subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'corpus.py'), 'build',
                            '--seed', str(seed), '--out', d, '--quiet'], check=True)
        s = os.path.join(d, args.split)
        names = sorted(os.listdir(s)) if os.path.isdir(s) else []
        if not names:
            p.error(f'{s} holds no clips: render the corpus first (`make setup`)')
        clips[seed] = [os.path.join(s, n) for n in names]
    if args.json:
        out = args.json
    else:
        with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
            out = f.name
    cmd = [args.eval]
    for m in args.models:
        cmd += ['--model', m]
    cmd += ['--size', 'native', '--output-mode', 'fill', '--no-baselines', '--json', out] + extra
    cmd += [c for seed in seeds for c in clips[seed]]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    if r.returncode == 0:
        with open(out) as f:
            report = json.load(f)
    if not args.json:
        os.unlink(out)
    if r.returncode != 0:
        sys.exit(f'renderings: tcvc-eval failed (exit {r.returncode})')
    print('| model | ' + ' | '.join(f'seed {s}' for s in seeds) + ' | mean |')
    print('|---|' + '---:|' * (len(seeds) + 1))
    for m in report['models']:
        cells = []
        for seed in seeds:
            mine = set(clips[seed])
            vs = [v for v in m['videos'] if v['path'] in mine]
            n = sum(v['summary']['frames'] for v in vs)
            cells.append(sum(v['summary']['psnr'] * v['summary']['frames'] for v in vs) / n)
        row = ' | '.join(f'{c:.2f}' for c in cells)
        print(f"| {m['label']} | {row} | {sum(cells) / len(cells):.2f} |")


if __name__ == '__main__':
    main()
