// SPDX-License-Identifier: MIT
//! [`ColorNet`]: the generator of either architecture a model file can hold — the paper's
//! TCVC [`Generator`] (line art + previous frame) or the pix2pix [`UnetGenerator`] baseline
//! (line art only). The element, `tcvc-eval` and the trainer run both through this one type.
use super::error::Result;
use super::generator::{Generator, GeneratorConfig};
use super::unet::UnetGenerator;
use tch::{Device, Kind, Tensor};

/// The largest weight magnitude [`ColorNet::weights_problem`] accepts (trained TCVC and
/// pix2pix generators stay below 10).
pub const MAX_PLAUSIBLE_WEIGHT: f64 = 1e4;

/// A colorization generator of either architecture.
// One per stream, moved rarely: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ColorNet {
    /// The TCVC generator, conditioned on the previous colour frame.
    Tcvc(Generator),
    /// The pix2pix U-Net baseline, frame by frame.
    Pix2pix(UnetGenerator),
}

impl From<Generator> for ColorNet {
    fn from(g: Generator) -> Self {
        ColorNet::Tcvc(g)
    }
}

impl From<UnetGenerator> for ColorNet {
    fn from(u: UnetGenerator) -> Self {
        ColorNet::Pix2pix(u)
    }
}

impl ColorNet {
    /// Inference: `lineart` `N × 1 × H × W`, `prev` `N × 3 × H × W` (ignored by pix2pix), both
    /// in `[0, 1]`; output `N × 3 × H × W` in `[0, 1]` with the weights' device and kind.
    pub fn infer(&self, lineart: &Tensor, prev: &Tensor) -> Result<Tensor> {
        match self {
            ColorNet::Tcvc(g) => g.infer(lineart, prev),
            ColorNet::Pix2pix(u) => u.infer(lineart),
        }
    }

    /// Training forward (autograd on, pix2pix dropout on): sizes as [`ColorNet::infer`]; the
    /// U-Net needs sides that are multiples of `2^downs`.
    pub fn forward_train(&self, lineart: &Tensor, prev: &Tensor) -> Result<Tensor> {
        match self {
            ColorNet::Tcvc(g) => g.forward(lineart, prev),
            ColorNet::Pix2pix(u) => u.forward_t(lineart, true),
        }
    }

    /// Whether the network reads a previous frame (TCVC) or not (pix2pix).
    pub fn uses_previous(&self) -> bool {
        matches!(self, ColorNet::Tcvc(_))
    }

    /// The TCVC generator's size, `None` for pix2pix.
    pub fn tcvc_config(&self) -> Option<GeneratorConfig> {
        match self {
            ColorNet::Tcvc(g) => Some(g.config()),
            ColorNet::Pix2pix(_) => None,
        }
    }

    /// One line: architecture and size, e.g. `TCVC channels=32 res_blocks=6`.
    pub fn describe(&self) -> String {
        match self {
            ColorNet::Tcvc(g) => format!(
                "TCVC channels={} res_blocks={}",
                g.config().channels,
                g.config().res_blocks
            ),
            ColorNet::Pix2pix(u) => format!(
                "pix2pix U-Net channels={} downs={}",
                u.channels(),
                u.downs()
            ),
        }
    }

    /// Device of the weights.
    pub fn device(&self) -> Device {
        match self {
            ColorNet::Tcvc(g) => g.device(),
            ColorNet::Pix2pix(u) => u.device(),
        }
    }

    /// Kind of the weights.
    pub fn kind(&self) -> Kind {
        match self {
            ColorNet::Tcvc(g) => g.kind(),
            ColorNet::Pix2pix(u) => u.kind(),
        }
    }

    /// All weights as `(name, tensor)` (shallow clones).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        match self {
            ColorNet::Tcvc(g) => g.named_tensors(),
            ColorNet::Pix2pix(u) => u.named_tensors(),
        }
    }

    /// Why these weights cannot be a trained network, if they cannot: a non-finite value,
    /// every value zero, or magnitudes above [`MAX_PLAUSIBLE_WEIGHT`]. Such a file loads (its
    /// names and shapes are right) but paints garbage.
    pub fn weights_problem(&self) -> Option<String> {
        let mut max = 0.0f64;
        let mut max_name = String::new();
        for (name, t) in self.named_tensors() {
            let t = t.to_kind(Kind::Float);
            let bad = t.numel() as i64 - t.isfinite().sum(Kind::Int64).int64_value(&[]);
            if bad > 0 {
                return Some(format!(
                    "tensor `{name}` has {bad} non-finite values (NaN or infinity)"
                ));
            }
            let m = if t.numel() == 0 {
                0.0
            } else {
                t.abs().max().double_value(&[])
            };
            if m > max {
                max = m;
                max_name = name;
            }
        }
        if max == 0.0 {
            Some("every weight is zero".into())
        } else if max > MAX_PLAUSIBLE_WEIGHT {
            Some(format!(
                "tensor `{max_name}` has values up to {max:.3e}; no trained network has weights \
                 that large"
            ))
        } else {
            None
        }
    }

    /// A new handle on the same weights (no copy).
    pub fn shallow_clone(&self) -> ColorNet {
        match self {
            ColorNet::Tcvc(g) => ColorNet::Tcvc(g.shallow_clone()),
            ColorNet::Pix2pix(u) => ColorNet::Pix2pix(u.shallow_clone()),
        }
    }
}
