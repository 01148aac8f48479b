#!/usr/bin/env python3
"""Benchmark peer of tcvc-train: the same TCVC training step in plain PyTorch.

Same architecture and losses as ``tcvc-train --arch tcvc``:

* generator: ``InpaintGenerator`` of tools/reference_generator.py (the reference TCVC
  generator, input cat[line art, previous RGB]), weights N(0, 0.02);
* discriminator: 70x70 PatchGAN on cat[line art, previous, image] (7 channels),
  ``torch.nn.utils.spectral_norm`` on every bias-free conv, LeakyReLU(0.2), logits;
* losses: BCE-with-logits adversarial (D: mean of fake/real terms), 10 * L1 and, with
  ``--perceptual random``, content (L1 of relu1_1..relu5_1) + 1000 * style (L1 of Gram
  matrices of relu2_2, relu3_4, relu4_4, relu5_2) through a frozen random VGG19 with ImageNet
  input normalisation; VGG features of the fake once (with grad) and of the target once (no
  grad), as tcvc-train computes them;
* one step: fake = G(x); D step on D(fake.detach()) and D(real); G step through the updated D
  with D's parameters not requiring grad (pix2pix's set_requires_grad); Adam betas (0, 0.999),
  lr 1e-4 (G) / 1e-5 (D).

The data are fixed random tensors of the same shapes (tcvc-train's batch gathering is a few
index_selects, negligible at these sizes). It times ``--steps`` steps after ``--warmup`` steps
and prints one line ``pytorch: ... samples_per_s=X cpu_s_per_sample=Y`` (wall-clock throughput
and CPU seconds of all threads per sample, steadier on a shared machine).

Usage: pytorch_train_step.py [--size 128] [--batch-size 1] [--channels 32] [--res-blocks 4]
                             [--steps 20] [--warmup 2] [--perceptual off|random] [--threads N]
"""

import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_generator import InpaintGenerator  # noqa: E402


class Discriminator(nn.Module):
    """EdgeConnect/TCVC PatchGAN with spectral norm; returns logits."""

    def __init__(self, in_channels=7):
        super().__init__()
        sn = nn.utils.spectral_norm
        layout = [(in_channels, 64, 2), (64, 128, 2), (128, 256, 2), (256, 512, 1), (512, 1, 1)]
        self.convs = nn.ModuleList()
        for cin, cout, stride in layout:
            conv = nn.Conv2d(cin, cout, 4, stride, 1, bias=False)
            nn.init.normal_(conv.weight, 0.0, 0.02)
            self.convs.append(sn(conv))

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i != len(self.convs) - 1:
                x = F.leaky_relu(x, 0.2)
        return x


VGG_CHANNELS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
                (256, 256), (256, 512), (512, 512), (512, 512), (512, 512), (512, 512),
                (512, 512)]


class RandomVgg19(nn.Module):
    """VGG19 features up to relu5_2 with Kaiming-normal random weights, frozen."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList()
        for cin, cout in VGG_CHANNELS:
            conv = nn.Conv2d(cin, cout, 3, 1, 1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            self.convs.append(conv)
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        h = (x - self.mean) / self.std
        r = lambda h, i: F.relu(self.convs[i](h))  # noqa: E731
        pool = lambda h: F.max_pool2d(h, 2, 2)  # noqa: E731
        r1_1 = r(h, 0)
        r1_2 = r(r1_1, 1)
        r2_1 = r(pool(r1_2), 2)
        r2_2 = r(r2_1, 3)
        r3_1 = r(pool(r2_2), 4)
        r3_2 = r(r3_1, 5)
        r3_3 = r(r3_2, 6)
        r3_4 = r(r3_3, 7)
        r4_1 = r(pool(r3_4), 8)
        r4_2 = r(r4_1, 9)
        r4_3 = r(r4_2, 10)
        r4_4 = r(r4_3, 11)
        r5_1 = r(pool(r4_4), 12)
        r5_2 = r(r5_1, 13)
        return [r1_1, r2_1, r3_1, r4_1, r5_1], [r2_2, r3_4, r4_4, r5_2]


def gram(x):
    b, c, h, w = x.shape
    f = x.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--res-blocks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--perceptual", choices=["off", "random"], default="off")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    g = InpaintGenerator(a.channels, a.res_blocks)
    g.init_weights()
    d = Discriminator(7)
    vgg = RandomVgg19() if a.perceptual == "random" else None
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-5, betas=(0.0, 0.999))

    b, s = a.batch_size, a.size
    lineart = (torch.rand(b, 1, s, s) > 0.1).float()
    real = torch.rand(b, 3, s, s)
    prev = torch.rand(b, 3, s, s) * (torch.arange(b) % 2 == 0).float().view(b, 1, 1, 1)
    bce = F.binary_cross_entropy_with_logits

    def step():
        cond = torch.cat([lineart, prev], 1)
        fake = g(cond)
        opt_d.zero_grad()
        pred_fake = d(torch.cat([cond, fake.detach()], 1))
        pred_real = d(torch.cat([cond, real], 1))
        loss_d = (bce(pred_fake, torch.zeros_like(pred_fake))
                  + bce(pred_real, torch.ones_like(pred_real))) * 0.5
        loss_d.backward()
        opt_d.step()

        opt_g.zero_grad()
        for p in d.parameters():
            p.requires_grad_(False)
        pred = d(torch.cat([cond, fake], 1))
        loss_g = bce(pred, torch.ones_like(pred)) + 10.0 * F.l1_loss(fake, real)
        if vgg is not None:
            fc, fs = vgg(fake)
            with torch.no_grad():
                rc, rs = vgg(real)
            content = sum(F.l1_loss(x, y) for x, y in zip(fc, rc))
            style = sum(F.l1_loss(gram(x), gram(y)) for x, y in zip(fs, rs))
            loss_g = loss_g + content + 1000.0 * style
        loss_g.backward()
        for p in d.parameters():
            p.requires_grad_(True)
        opt_g.step()
        return loss_g.item(), loss_d.item()

    for _ in range(a.warmup):
        step()
    t = time.perf_counter()
    cpu = time.process_time()
    for _ in range(a.steps):
        step()
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu
    print(
        f"pytorch: size={s}x{s} batch={b} channels={a.channels} res_blocks={a.res_blocks} "
        f"perceptual={a.perceptual} threads={torch.get_num_threads()} steps={a.steps} "
        f"seconds={secs:.3f} steps_per_s={a.steps / secs:.4f} "
        f"samples_per_s={a.steps * b / secs:.4f} cpu_s_per_sample={cpu / (a.steps * b):.4f}"
    )


if __name__ == "__main__":
    main()
