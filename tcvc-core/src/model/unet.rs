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
//! at test time); weights N(0, 0.02), biases 0 (pix2pix `init_type normal`). Training sizes must
//! be multiples of `2ⁿ`; `n` is the largest value ≤ 8 that divides both sides, at least 5. At
//! inference other sizes are edge-padded to a multiple of `2ⁿ` and cropped back.
//!
//! Variables: `down{i}.weight|bias`, `up{i}.weight|bias`; the model file (format
//! [`UNET_FORMAT_NAME`]) stores them with metadata `channels` and `downs`.
use super::error::{FileRole, ModelError, Result};
use super::layers::{instance_norm, leaky_relu, relu, Conv2d, ConvSpec, ConvTranspose2d};
use std::collections::HashMap;
use tch::{nn, Device, Kind, Tensor};

/// `format` metadata of a pix2pix U-Net model file.
pub const UNET_FORMAT_NAME: &str = "tcvc-pix2pix-unet";
/// Input channels: the line art (or grey) only.
pub const UNET_INPUT_CHANNELS: i64 = 1;
/// Input channels of the pix2pix discriminator: line art + image.
pub const PIX2PIX_DISCRIMINATOR_CHANNELS: i64 = 4;
/// Fewest downsamplings supported (pix2pix's structure needs 5).
pub const MIN_DOWNS: u32 = 5;
/// Most downsamplings (unet_256).
pub const MAX_DOWNS: u32 = 8;

const DOWN: ConvSpec = ConvSpec::new(2, 1, 1);

/// Number of downsamplings for a `width × height` training size: the largest `n ≤ 8` with
/// `2ⁿ` dividing both sides, or `None` when that is below [`MIN_DOWNS`].
pub fn downs_for(width: u32, height: u32) -> Option<u32> {
    let n = (width.trailing_zeros().min(height.trailing_zeros())).min(MAX_DOWNS);
    (n >= MIN_DOWNS).then_some(n)
}

/// The U-Net generator.
#[derive(Debug)]
pub struct UnetGenerator {
    downs: Vec<Conv2d>,
    ups: Vec<ConvTranspose2d>,
    ngf: i64,
}

fn inner(ngf: i64, i: usize) -> i64 {
    ngf * (1i64 << i.min(3))
}

/// Names and shapes of the variables of a U-Net with `downs` levels and width `ngf`, in
/// creation order (`down0`, `up0`, `down1`, …).
pub fn unet_parameter_specs(downs: u32, ngf: i64) -> Vec<(String, Vec<i64>)> {
    let n = downs as usize;
    let mut v = Vec::with_capacity(4 * n);
    for i in 0..n {
        let cin = if i == 0 {
            UNET_INPUT_CHANNELS
        } else {
            inner(ngf, i - 1)
        };
        v.push((format!("down{i}.weight"), vec![inner(ngf, i), cin, 4, 4]));
        v.push((format!("down{i}.bias"), vec![inner(ngf, i)]));
        let up_in = if i == n - 1 {
            inner(ngf, i)
        } else {
            2 * inner(ngf, i)
        };
        let up_out = if i == 0 { 3 } else { inner(ngf, i - 1) };
        // ConvTranspose2d weights are [in, out, k, k].
        v.push((format!("up{i}.weight"), vec![up_in, up_out, 4, 4]));
        v.push((format!("up{i}.bias"), vec![up_out]));
    }
    v
}

fn check_shape(downs: u32, ngf: i64) -> Result<()> {
    if !(MIN_DOWNS..=MAX_DOWNS).contains(&downs)
        || !(1..=super::generator::MAX_CHANNELS).contains(&ngf)
    {
        return Err(ModelError::InvalidConfig(format!(
            "a U-Net with {downs} downsamplings and {ngf} channels is not supported \
             ({MIN_DOWNS}..={MAX_DOWNS} downsamplings, 1..=1024 channels)"
        )));
    }
    Ok(())
}

impl UnetGenerator {
    /// A new trainable generator with `downs` downsamplings and base width `ngf` under `path`.
    pub fn new(path: &nn::Path, downs: u32, ngf: i64) -> Result<Self> {
        check_shape(downs, ngf)?;
        let n = downs as usize;
        let mut d = Vec::with_capacity(n);
        let mut u = Vec::with_capacity(n);
        for i in 0..n {
            let cin = if i == 0 {
                UNET_INPUT_CHANNELS
            } else {
                inner(ngf, i - 1)
            };
            d.push(Conv2d::new(
                &(path / format!("down{i}")),
                cin,
                inner(ngf, i),
                4,
                DOWN,
            )?);
            let up_in = if i == n - 1 {
                inner(ngf, i)
            } else {
                2 * inner(ngf, i)
            };
            let up_out = if i == 0 { 3 } else { inner(ngf, i - 1) };
            u.push(ConvTranspose2d::new(
                &(path / format!("up{i}")),
                up_in,
                up_out,
                4,
                2,
                1,
            )?);
        }
        Ok(UnetGenerator {
            downs: d,
            ups: u,
            ngf,
        })
    }

    /// A generator from named tensors of [`unet_parameter_specs`] (validated shapes).
    pub fn from_named_tensors(
        downs: u32,
        ngf: i64,
        mut tensors: HashMap<String, Tensor>,
    ) -> Result<Self> {
        check_shape(downs, ngf)?;
        let mut take = |name: String| {
            tensors.remove(&name).ok_or(ModelError::MissingTensor {
                role: FileRole::Generator,
                name,
            })
        };
        let (mut d, mut u) = (Vec::new(), Vec::new());
        for i in 0..downs as usize {
            d.push(Conv2d::from_tensors(
                take(format!("down{i}.weight"))?,
                Some(take(format!("down{i}.bias"))?),
                DOWN,
            ));
            u.push(ConvTranspose2d {
                weight: take(format!("up{i}.weight"))?,
                bias: take(format!("up{i}.bias"))?,
                stride: 2,
                padding: 1,
            });
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

    /// Device of the weights.
    pub fn device(&self) -> Device {
        self.downs[0].weight.device()
    }

    /// Kind of the weights (the compute kind).
    pub fn kind(&self) -> Kind {
        self.downs[0].weight.kind()
    }

    /// `B × 1 × H × W` line art in `[0, 1]` (sides multiples of `2^downs`) → `B × 3 × H × W`
    /// RGB in `[0, 1]`. `train` enables dropout (seed libtorch's generator for
    /// reproducibility). Records autograd when grad mode is on.
    pub fn forward_t(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        self.level(0, input, train)
    }

    /// Inference on any size ≥ `2^downs`: the input (moved to the weights' device and kind) is
    /// edge-padded to a multiple of `2^downs`, the output cropped back; no autograd.
    pub fn infer(&self, lineart: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let s = lineart.size();
        if s.len() != 4 || s[1] != UNET_INPUT_CHANNELS {
            return Err(ModelError::InvalidInput(format!(
                "U-Net input must be N x 1 x H x W, got {s:?}"
            )));
        }
        let m = 1i64 << self.downs();
        let (h, w) = (s[2], s[3]);
        if h < m || w < m {
            return Err(ModelError::InvalidInput(format!(
                "the pix2pix U-Net with {} downsamplings needs frames of at least {m}x{m}, got \
                 {w}x{h}",
                self.downs()
            )));
        }
        let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
        let x = lineart
            .f_to_device(self.device())
            .and_then(|x| x.f_to_kind(self.kind()))
            .and_then(|x| {
                if ph != 0 || pw != 0 {
                    x.f_replication_pad2d([0, pw, 0, ph])
                } else {
                    Ok(x)
                }
            })
            .map_err(ModelError::torch("preparing the U-Net input"))?;
        let y = self.forward_t(&x, false)?;
        y.f_narrow(2, 0, h)
            .and_then(|y| y.f_narrow(3, 0, w))
            .map_err(ModelError::torch("cropping the U-Net output"))
    }

    fn level(&self, i: usize, x: &Tensor, train: bool) -> Result<Tensor> {
        let n = self.downs.len();
        let down = &self.downs[i];
        let d = if i == 0 {
            down.forward(x)?
        } else {
            let h = down.forward(&leaky_relu(x, 0.2)?)?;
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
        let h = self.ups[i].forward(&relu(&inner)?)?;
        let torch = ModelError::torch("running the U-Net");
        if i == 0 {
            return h
                .f_tanh()
                .and_then(|t| t.f_add_scalar(1.0))
                .and_then(|t| t.f_mul_scalar(0.5))
                .map_err(torch);
        }
        let mut h = instance_norm(&h)?;
        if (4..=n.saturating_sub(2)).contains(&i) && i != n - 1 {
            h = h
                .f_dropout(0.5, train)
                .map_err(ModelError::torch("dropout"))?;
        }
        Tensor::f_cat(&[x, &h], 1).map_err(torch)
    }

    /// All variables as `(name, tensor)` (shallow clones).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, (d, u)) in self.downs.iter().zip(&self.ups).enumerate() {
            v.push((format!("down{i}.weight"), d.weight.shallow_clone()));
            if let Some(b) = &d.bias {
                v.push((format!("down{i}.bias"), b.shallow_clone()));
            }
            v.push((format!("up{i}.weight"), u.weight.shallow_clone()));
            v.push((format!("up{i}.bias"), u.bias.shallow_clone()));
        }
        v
    }

    /// A new handle on the same weights (no copy).
    pub fn shallow_clone(&self) -> Self {
        UnetGenerator {
            downs: self.downs.iter().map(Conv2d::shallow_clone).collect(),
            ups: self
                .ups
                .iter()
                .map(ConvTranspose2d::shallow_clone)
                .collect(),
            ngf: self.ngf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_sizes_and_dropout() {
        assert_eq!(downs_for(256, 256), Some(8));
        assert_eq!(downs_for(64, 64), Some(6));
        assert_eq!(downs_for(96, 64), Some(5));
        assert_eq!(downs_for(160, 96), Some(5));
        assert_eq!(downs_for(48, 48), None);
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let g = UnetGenerator::new(&vs.root(), 6, 8).unwrap();
        // 6 levels x (down + up) x (weight + bias).
        assert_eq!(vs.variables().len(), 24);
        let specs = unet_parameter_specs(6, 8);
        let vars = vs.variables();
        for (name, shape) in &specs {
            assert_eq!(&vars[name].size(), shape, "{name}");
        }
        let x = Tensor::rand([2, 1, 64, 64], (Kind::Float, Device::Cpu));
        let y = g.forward_t(&x, false).unwrap();
        assert_eq!(y.size(), [2, 3, 64, 64]);
        assert!(y.min().double_value(&[]) >= 0.0 && y.max().double_value(&[]) <= 1.0);
        let y2 = g.forward_t(&x, false).unwrap();
        assert!(y.allclose(&y2, 0.0, 0.0, false), "eval is deterministic");
        g.forward_t(&x, true).unwrap().sum(Kind::Float).backward();
        // Inference pads odd sizes and crops back; on a multiple it equals forward_t.
        let y3 = g.infer(&x).unwrap();
        assert!(y.allclose(&y3, 0.0, 0.0, false));
        let odd = Tensor::rand([1, 1, 70, 90], (Kind::Float, Device::Cpu));
        assert_eq!(g.infer(&odd).unwrap().size(), [1, 3, 70, 90]);
        let small = Tensor::rand([1, 1, 40, 90], (Kind::Float, Device::Cpu));
        let e = g.infer(&small).unwrap_err().to_string();
        assert!(e.contains("at least 64x64"), "{e}");
    }
}
