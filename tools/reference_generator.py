#!/usr/bin/env python3
"""Reference TCVC generator built from plain torch.nn layers.

This mirrors the reference implementation (TCVC ``src/models.py``, i.e.
EdgeConnect's ``InpaintGenerator`` with a 4-channel input) layer by layer,
using the same ``nn.Sequential`` indices so that ``state_dict`` keys are the
reference ones (``encoder.1.weight``, ``middle.0.conv_block.5.bias``,
``decoder.7.weight``, ...). The only generalisation is that the base width
(64 in the paper) and the number of residual blocks (8) are parameters.

It writes a reference-format checkpoint ``torch.save({'generator': sd})``
and, with ``--input-out DIR``, a deterministic test input and the reference
fp32 CPU output, for cross-checking other implementations:

    DIR/lineart.f32   1 x 1 x H x W   float32 little-endian, C order
    DIR/prev.f32      1 x 3 x H x W
    DIR/output.f32    1 x 3 x H x W   G(cat[lineart, prev])
    DIR/meta.json     shapes, config, seed

Usage:
    reference_generator.py OUT.pth [--channels 64] [--res-blocks 8]
        [--seed 0] [--init reference|reference-random-bias]
        [--input-out DIR --height 64 --width 64]
        [--bench N]  # time N forwards of the given size (inference_mode)
        [--chain DIR]  # colorize DIR/*.pgm in order as the paper's inference does
        [--serve]      # benchmark peer: one timed forward per line read on stdin

With ``--chain DIR`` the network colorizes the 8-bit line-art frames ``DIR/*.pgm`` (sorted by
name) autoregressively: frame 0 with a blank (zeros) previous frame, frame k with the output of
frame k-1, inputs scaled to [0, 1]; output k goes to ``DIR/NAME.ref.f32`` (1 x 3 x H x W float32).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn


class ResnetBlock(nn.Module):
    """EdgeConnect ResnetBlock without spectral norm (as in the generator)."""

    def __init__(self, dim, dilation=1):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, dilation=dilation),
            nn.InstanceNorm2d(dim, track_running_stats=False),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, dilation=1),
            nn.InstanceNorm2d(dim, track_running_stats=False),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class InpaintGenerator(nn.Module):
    """TCVC generator: input cat[lineart (1), previous RGB (3)] in [0, 1]."""

    def __init__(self, channels=64, residual_blocks=8):
        super().__init__()
        c = channels
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(4, c, kernel_size=7, padding=0),
            nn.InstanceNorm2d(c, track_running_stats=False),
            nn.ReLU(True),
            nn.Conv2d(c, 2 * c, kernel_size=4, stride=2, padding=1),
            nn.InstanceNorm2d(2 * c, track_running_stats=False),
            nn.ReLU(True),
            nn.Conv2d(2 * c, 4 * c, kernel_size=4, stride=2, padding=1),
            nn.InstanceNorm2d(4 * c, track_running_stats=False),
            nn.ReLU(True),
        )
        self.middle = nn.Sequential(
            *[ResnetBlock(4 * c, 2) for _ in range(residual_blocks)]
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, kernel_size=4, stride=2, padding=1),
            nn.InstanceNorm2d(2 * c, track_running_stats=False),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, kernel_size=4, stride=2, padding=1),
            nn.InstanceNorm2d(c, track_running_stats=False),
            nn.ReLU(True),
            nn.ReflectionPad2d(3),
            nn.Conv2d(c, 3, kernel_size=7, padding=0),
        )

    def init_weights(self, gain=0.02, random_bias=0.0):
        """Reference init_weights('normal', 0.02); optionally random biases
        (N(0, random_bias)) so that bias handling is exercised by tests."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight.data, 0.0, gain)
                if random_bias > 0:
                    nn.init.normal_(m.bias.data, 0.0, random_bias)
                else:
                    nn.init.constant_(m.bias.data, 0.0)

    def forward(self, x):
        x = self.encoder(x)
        x = self.middle(x)
        x = self.decoder(x)
        return (torch.tanh(x) + 1) / 2


def deterministic_input(seed, height, width):
    g = torch.Generator().manual_seed(seed + 1)
    lineart = torch.rand(1, 1, height, width, generator=g)
    prev = torch.rand(1, 3, height, width, generator=g)
    return lineart, prev


def write_f32(path, t):
    arr = t.detach().cpu().contiguous().numpy().astype("<f4", copy=False)
    with open(path, "wb") as f:
        f.write(arr.tobytes(order="C"))


def read_pgm(path):
    """An 8-bit binary PGM (P5) as a H x W uint8 array."""
    with open(path, "rb") as f:
        data = f.read()
    magic, w, h, maxval, pixels = data.split(maxsplit=4)
    if magic != b"P5" or int(maxval) != 255:
        raise SystemExit(f"{path}: not an 8-bit binary PGM")
    return np.frombuffer(pixels, dtype=np.uint8, count=int(w) * int(h)).reshape(int(h), int(w))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", help="checkpoint path to write ({'generator': state_dict})")
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--res-blocks", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--init",
        choices=["reference", "reference-random-bias"],
        default="reference-random-bias",
        help="weights N(0,0.02); biases 0 (reference) or N(0,0.1)",
    )
    p.add_argument("--input-out", metavar="DIR", help="write test input + reference output here")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--bench", type=int, default=0, metavar="N",
                   help="time N fp32 CPU forwards (torch.inference_mode) of H x W")
    p.add_argument("--serve", action="store_true",
                   help="for each line on stdin, time one fp32 forward of H x W and print ms")
    p.add_argument("--chain", metavar="DIR",
                   help="colorize DIR/*.pgm autoregressively, write DIR/NAME.ref.f32")
    args = p.parse_args(argv)

    if args.channels < 1 or args.res_blocks < 0:
        p.error("--channels must be >= 1 and --res-blocks >= 0")
    torch.manual_seed(args.seed)
    net = InpaintGenerator(args.channels, args.res_blocks)
    net.init_weights(random_bias=0.1 if args.init == "reference-random-bias" else 0.0)
    net.eval()
    torch.save({"generator": net.state_dict()}, args.output)

    if args.input_out:
        os.makedirs(args.input_out, exist_ok=True)
        lineart, prev = deterministic_input(args.seed, args.height, args.width)
        with torch.inference_mode():
            out = net(torch.cat([lineart, prev], 1))
        write_f32(os.path.join(args.input_out, "lineart.f32"), lineart)
        write_f32(os.path.join(args.input_out, "prev.f32"), prev)
        write_f32(os.path.join(args.input_out, "output.f32"), out)
        meta = {
            "channels": args.channels,
            "res_blocks": args.res_blocks,
            "seed": args.seed,
            "lineart_shape": list(lineart.shape),
            "prev_shape": list(prev.shape),
            "output_shape": list(out.shape),
            "dtype": "float32-le",
            "torch": torch.__version__,
        }
        with open(os.path.join(args.input_out, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)

    if args.chain:
        names = sorted(f for f in os.listdir(args.chain) if f.endswith(".pgm"))
        prev = None
        with torch.inference_mode():
            for name in names:
                art = read_pgm(os.path.join(args.chain, name))
                x = torch.from_numpy(art.astype(np.float32) / 255.0)[None, None]
                if prev is None:
                    prev = torch.zeros(1, 3, *x.shape[2:])
                prev = net(torch.cat([x, prev], 1))
                write_f32(os.path.join(args.chain, name[:-4] + ".ref.f32"), prev)

    if args.serve:
        lineart, prev = deterministic_input(args.seed, args.height, args.width)
        x = torch.cat([lineart, prev], 1)
        with torch.inference_mode():
            net(x)  # warm-up
            print("ready", flush=True)
            for _ in sys.stdin:
                t0 = time.perf_counter()
                net(x)
                print(f"{1000 * (time.perf_counter() - t0):.3f}", flush=True)
        return 0

    if args.bench > 0:
        lineart, prev = deterministic_input(args.seed, args.height, args.width)
        x = torch.cat([lineart, prev], 1)
        with torch.inference_mode():
            net(x)  # warm-up
            times = []
            for _ in range(args.bench):
                t0 = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({
            "bench": "pytorch-reference-fp32",
            "threads": torch.get_num_threads(),
            "size": [args.height, args.width],
            "median_ms": 1000 * times[len(times) // 2],
            "min_ms": 1000 * times[0],
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
