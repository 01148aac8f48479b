// SPDX-License-Identifier: MIT
//! The paper's baseline: the pix2pix U-Net generator (Isola et al. 2017, `UnetGenerator` of
//! `junyanz/pytorch-CycleGAN-and-pix2pix`), conditioned on the line art only (no previous frame).
//!
//! Structure for `n` downsamplings (`n = 8` at 256², "unet_256"), base width `ngf`, level `i`
//! (`0` = outermost) with `inner(i) = ngf · min(2ⁱ, 8)` channels:
//!
//! ```text
//! down_i = Conv2d(in, inner(i), 4, s2, p1)    preceded by LeakyReLU(0.2) (i > 0),
//!                                             followed by IN (0 < i < n−1)
//! up_i   = ConvTranspose2d(·, out(i), 4, s2, p1) preceded by ReLU,
//!          followed by IN (i > 0), Dropout(0.5) (4 ≤ i ≤ n−2), or (tanh + 1) / 2 (i = 0)
//! level_i(x) = up_i(down_i(x))                         (i = n−1, innermost)
//!            = cat[x, up_i(cat[d, level_{i+1}(d)])], d = down_i(x)   (i > 0)
//! ```
//!
//! Choices (documented in `docs/training.md`): `InstanceNorm2d(affine=False)` rather than
//! BatchNorm (no running statistics to checkpoint, identical in training and inference; pix2pix
//! offers it as `--norm instance`), so every conv has a bias; output in `[0, 1]` as the TCVC
//! generator's (`(tanh + 1) / 2` instead of `tanh`); dropout only while training (pix2pix keeps it
//! at test time); weights N(0, 0.02), biases 0 (pix2pix `init_type normal`). Sizes must be
//! multiples of `2ⁿ`; `n` is the largest value ≤ 8 that divides both sides, at least 5.
use super::error::{Result, TrainError};
use tch::{nn, Tensor};

/// Input channels: the line art (or grey) only.
pub const UNET_INPUT_CHANNELS: i64 = 1;
/// Input channels of the pix2pix discriminator: line art + image.
pub const PIX2PIX_DISCRIMINATOR_CHANNELS: i64 = 4;
/// Fewest downsamplings supported (pix2pix's structure needs 5).
pub const MIN_DOWNS: u32 = 5;
/// Most downsamplings (unet_256).
pub const MAX_DOWNS: u32 = 8;

/// Number of downsamplings for a `width × height` input, or an error naming the fix.
pub fn downs_for(width: u32, height: u32) -> Result<u32> {
    let n = (width.trailing_zeros().min(height.trailing_zeros())).min(MAX_DOWNS);
    if n < MIN_DOWNS {
        return Err(TrainError::usage(format!(
            "--arch pix2pix needs a --size whose sides are multiples of 32 (the U-Net halves the \
             frame at least 5 times), got {width}x{height}; use e.g. --size 256 or 128"
        )));
    }
    Ok(n)
}

#[derive(Debug)]
struct Layer {
    weight: Tensor,
    bias: Tensor,
}

impl Layer {
    fn new(path: &nn::Path, shape: [i64; 4], out: i64) -> Result<Self> {
        let weight = path.f_var(
            "weight",
            &shape,
            nn::Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
        )?;
        let bias = path.f_var("bias", &[out], nn::Init::Const(0.0))?;
        Ok(Layer { weight, bias })
    }
}

/// The U-Net generator; variables `down{i}.weight|bias`, `up{i}.weight|bias`.
#[derive(Debug)]
pub struct UnetGenerator {
    downs: Vec<Layer>,
    ups: Vec<Layer>,
    ngf: i64,
}

/// `LeakyReLU(0.2)` as `max(x, 0.2 x)` (tch's `leaky_relu` has torch's default slope 0.01).
fn leaky_relu(x: &Tensor) -> std::result::Result<Tensor, tch::TchError> {
    x.f_maximum(&x.f_mul_scalar(0.2)?)
}

fn instance_norm(x: &Tensor) -> std::result::Result<Tensor, tch::TchError> {
    x.f_instance_norm::<&Tensor>(None, None, None, None, true, 0.1, 1e-5, true)
}

impl UnetGenerator {
    /// A new generator with `downs` downsamplings and base width `ngf` under `path`.
    pub fn new(path: &nn::Path, downs: u32, ngf: i64) -> Result<Self> {
        if !(MIN_DOWNS..=MAX_DOWNS).contains(&downs) || ngf < 1 {
            return Err(TrainError::usage(format!(
                "U-Net with {downs} downsamplings and {ngf} channels is not supported \
                 ({MIN_DOWNS}..={MAX_DOWNS} downsamplings, at least 1 channel)"
            )));
        }
        let n = downs as usize;
        let inner = |i: usize| ngf * (1i64 << i.min(3));
        let mut d = Vec::with_capacity(n);
        let mut u = Vec::with_capacity(n);
        for i in 0..n {
            let cin = if i == 0 {
                UNET_INPUT_CHANNELS
            } else {
                inner(i - 1)
            };
            d.push(Layer::new(
                &(path / format!("down{i}")),
                [inner(i), cin, 4, 4],
                inner(i),
            )?);
            let up_in = if i == n - 1 { inner(i) } else { 2 * inner(i) };
            let up_out = if i == 0 { 3 } else { inner(i - 1) };
            // ConvTranspose2d weights are [in, out, k, k].
            u.push(Layer::new(
                &(path / format!("up{i}")),
                [up_in, up_out, 4, 4],
                up_out,
            )?);
        }
        Ok(UnetGenerator {
            downs: d,
            ups: u,
            ngf,
        })
    }

    /// Number of downsamplings.
    pub fn downs(&self) -> u32 {
        self.downs.len() as u32
    }

    /// Base width.
    pub fn channels(&self) -> i64 {
        self.ngf
    }

    /// `B × 1 × H × W` line art in `[0, 1]` → `B × 3 × H × W` RGB in `[0, 1]`. `train` enables
    /// dropout (seed libtorch's generator for reproducibility).
    pub fn forward_t(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.level(0, input, train)?)
    }

    fn level(
        &self,
        i: usize,
        x: &Tensor,
        train: bool,
    ) -> std::result::Result<Tensor, tch::TchError> {
        let n = self.downs.len();
        let down = &self.downs[i];
        let conv =
            |h: &Tensor| h.f_conv2d(&down.weight, Some(&down.bias), [2, 2], [1, 1], [1, 1], 1);
        let d = if i == 0 {
            conv(x)?
        } else {
            let h = conv(&leaky_relu(x)?)?;
            if i == n - 1 {
                h
            } else {
                instance_norm(&h)?
            }
        };
        let inner = if i == n - 1 {
            d
        } else {
            self.level(i + 1, &d, train)?
        };
        let up = &self.ups[i];
        let h = inner.f_relu()?.f_conv_transpose2d(
            &up.weight,
            Some(&up.bias),
            [2, 2],
            [1, 1],
            [0, 0],
            1,
            [1, 1],
        )?;
        if i == 0 {
            return h.f_tanh()?.f_add_scalar(1.0)?.f_mul_scalar(0.5);
        }
        let mut h = instance_norm(&h)?;
        if (4..=n.saturating_sub(2)).contains(&i) && i != n - 1 {
            h = h.f_dropout(0.5, train)?;
        }
        Tensor::f_cat(&[x, &h], 1)
    }

    /// All variables as `(name, tensor)` (shallow clones), for export.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (kind, layers) in [("down", &self.downs), ("up", &self.ups)] {
            for (i, l) in layers.iter().enumerate() {
                v.push((format!("{kind}{i}.weight"), l.weight.shallow_clone()));
                v.push((format!("{kind}{i}.bias"), l.bias.shallow_clone()));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn shapes_sizes_and_dropout() {
        assert_eq!(downs_for(256, 256).unwrap(), 8);
        assert_eq!(downs_for(64, 64).unwrap(), 6);
        assert_eq!(downs_for(96, 64).unwrap(), 5);
        assert!(downs_for(48, 48).is_err());
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let g = UnetGenerator::new(&vs.root(), 6, 8).unwrap();
        // 6 levels x (down + up) x (weight + bias).
        assert_eq!(vs.variables().len(), 24);
        let x = Tensor::rand([2, 1, 64, 64], (Kind::Float, Device::Cpu));
        let y = g.forward_t(&x, false).unwrap();
        assert_eq!(y.size(), [2, 3, 64, 64]);
        assert!(y.min().double_value(&[]) >= 0.0 && y.max().double_value(&[]) <= 1.0);
        let y2 = g.forward_t(&x, false).unwrap();
        assert!(y.allclose(&y2, 0.0, 0.0, false), "eval is deterministic");
        g.forward_t(&x, true).unwrap().sum(Kind::Float).backward();
    }
}
