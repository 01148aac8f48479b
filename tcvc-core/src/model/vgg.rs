//! Frozen VGG19 feature extractor for the content (perceptual) and style
//! losses, with torchvision parameter names (`features.{0,2,5,...,34}.weight`
//! and `.bias`).
//!
//! Layer map (torchvision `vgg19().features`): convs at indices
//! 0,2 | 5,7 | 10,12,14,16 | 19,21,23,25 | 28,30,32,34, each followed by a
//! ReLU, with 2x2 max-pools at 4, 9, 18, 27 (and 36). The extracted
//! activations are `relu1_1` (after index 1), `relu2_1` (6), `relu3_1` (11),
//! `relu4_1` (20), `relu5_1` (29) for the content loss and `relu2_2` (8),
//! `relu3_4` (17), `relu4_4` (26), `relu5_2` (31) for the style loss, as
//! EdgeConnect's `PerceptualLoss` / `StyleLoss`. Convs 32 and 34 are loaded
//! (the file must be a complete torchvision `features` dump) but never run.
//!
//! Inputs are RGB in `[0, 1]` and are normalised with the ImageNet mean/std
//! before the first conv (what torchvision's weights expect). Note that the
//! EdgeConnect / TCVC reference feeds `[0, 1]` images to VGG without this
//! normalisation; [`Vgg19::set_normalize_input`] switches it off for an
//! exact match with the reference.

use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::error::{FileRole, ModelError, Result};
use super::file::{parse, read_file, tensors_of, validate_against};
use super::layers::{relu, Conv2d, ConvSpec};

/// torchvision indices of the 16 conv layers of `vgg19().features`.
pub const VGG19_CONV_INDICES: [usize; 16] =
    [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
const VGG19_CHANNELS: [(i64, i64); 16] = [
    (3, 64),
    (64, 64),
    (64, 128),
    (128, 128),
    (128, 256),
    (256, 256),
    (256, 256),
    (256, 256),
    (256, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
];
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// VGG19 activations used by the losses.
#[derive(Debug)]
pub struct VggFeatures {
    /// Content layers `relu1_1, relu2_1, relu3_1, relu4_1, relu5_1`.
    pub content: [Tensor; 5],
    /// Style layers `relu2_2, relu3_4, relu4_4, relu5_2`.
    pub style: [Tensor; 4],
}

/// Frozen VGG19 `features` (weights never require grad; gradients still
/// flow to the input).
#[derive(Debug)]
pub struct Vgg19 {
    convs: Vec<Conv2d>,
    mean: Tensor,
    std: Tensor,
    normalize_input: bool,
}

/// Expected `(name, shape)` list of a torchvision VGG19 `features` dump.
pub fn vgg19_parameter_specs() -> Vec<(String, Vec<i64>)> {
    let mut v = Vec::with_capacity(32);
    for (idx, (cin, cout)) in VGG19_CONV_INDICES.iter().zip(VGG19_CHANNELS) {
        v.push((format!("features.{idx}.weight"), vec![cout, cin, 3, 3]));
        v.push((format!("features.{idx}.bias"), vec![cout]));
    }
    v
}

/// SplitMix64: a tiny deterministic PRNG, so [`Vgg19::random`] does not
/// touch (or depend on) libtorch's global generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

impl Vgg19 {
    fn build(convs: Vec<Conv2d>, device: Device) -> Result<Self> {
        let ctx = ModelError::torch("creating the ImageNet normalisation constants");
        let mean = Tensor::f_from_slice(&IMAGENET_MEAN)
            .and_then(|t| t.f_reshape([1, 3, 1, 1]))
            .and_then(|t| t.f_to_device(device))
            .map_err(ctx)?;
        let std = Tensor::f_from_slice(&IMAGENET_STD)
            .and_then(|t| t.f_reshape([1, 3, 1, 1]))
            .and_then(|t| t.f_to_device(device))
            .map_err(ModelError::torch(
                "creating the ImageNet normalisation constants",
            ))?;
        Ok(Vgg19 {
            convs,
            mean,
            std,
            normalize_input: true,
        })
    }

    /// Loads torchvision VGG19 weights from a safetensors file holding (at
    /// least) all `features.N.weight` / `features.N.bias` tensors; other keys
    /// (e.g. `classifier.*`) are ignored. Errors name the missing or
    /// wrongly shaped key.
    pub fn from_safetensors(path: impl AsRef<Path>, device: Device) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        let st = parse(&bytes, path)?;
        let specs = vgg19_parameter_specs();
        validate_against(&st.tensors, &specs, FileRole::Vgg19, true)?;
        let map = tensors_of(&st.tensors, &specs, FileRole::Vgg19, device, Kind::Float)?;
        Self::from_named_tensors(map, device)
    }

    /// Builds the extractor from torchvision-named tensors (validated).
    pub fn from_named_tensors(
        mut tensors: HashMap<String, Tensor>,
        device: Device,
    ) -> Result<Self> {
        let mut convs = Vec::with_capacity(16);
        for (name, shape) in vgg19_parameter_specs() {
            let t = tensors
                .get(&name)
                .ok_or_else(|| ModelError::MissingTensor {
                    role: FileRole::Vgg19,
                    name: name.clone(),
                })?;
            if t.size() != shape {
                return Err(ModelError::ShapeMismatch {
                    role: FileRole::Vgg19,
                    name,
                    expected: shape,
                    found: t.size(),
                });
            }
        }
        for idx in VGG19_CONV_INDICES {
            let take = |tensors: &mut HashMap<String, Tensor>, n: String| {
                tensors
                    .remove(&n)
                    .ok_or(ModelError::MissingTensor {
                        role: FileRole::Vgg19,
                        name: n,
                    })
                    .and_then(|t| {
                        t.f_detach()
                            .and_then(|t| t.f_to_device(device))
                            .and_then(|t| t.f_to_kind(Kind::Float))
                            .map(|t| t.set_requires_grad(false))
                            .map_err(ModelError::torch("preparing VGG19 weights"))
                    })
            };
            let w = take(&mut tensors, format!("features.{idx}.weight"))?;
            let b = take(&mut tensors, format!("features.{idx}.bias"))?;
            convs.push(Conv2d::from_tensors(w, Some(b), ConvSpec::new(1, 1, 1)));
        }
        Self::build(convs, device)
    }

    /// A frozen VGG19 with deterministic random weights (Kaiming-normal,
    /// fan-in, ReLU gain; zero biases) from `seed`, for ablations when no
    /// ImageNet weights are available. Independent of `tch::manual_seed`.
    pub fn random(seed: u64, device: Device) -> Result<Self> {
        let mut rng = SplitMix64(seed);
        let mut convs = Vec::with_capacity(16);
        for (cin, cout) in VGG19_CHANNELS {
            let fan_in = (cin * 9) as f64;
            let std = (2.0 / fan_in).sqrt();
            let n = (cout * cin * 9) as usize;
            let data: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
            let ctx = ModelError::torch("creating random VGG19 weights");
            let w = Tensor::f_from_slice(&data)
                .and_then(|t| t.f_reshape([cout, cin, 3, 3]))
                .and_then(|t| t.f_to_device(device))
                .map_err(ctx)?;
            let b = Tensor::f_zeros([cout], (Kind::Float, device))
                .map_err(ModelError::torch("creating random VGG19 biases"))?;
            convs.push(Conv2d::from_tensors(w, Some(b), ConvSpec::new(1, 1, 1)));
        }
        Self::build(convs, device)
    }

    /// Enables (default) or disables ImageNet mean/std input normalisation.
    pub fn set_normalize_input(&mut self, on: bool) {
        self.normalize_input = on;
    }

    /// Whether inputs are ImageNet-normalised.
    pub fn normalize_input(&self) -> bool {
        self.normalize_input
    }

    /// Runs VGG19 up to `relu5_2` on an RGB batch `N x 3 x H x W` in
    /// `[0, 1]` (converted to Float on the extractor's device).
    pub fn features(&self, x: &Tensor) -> Result<VggFeatures> {
        let size = x.size();
        if size.len() != 4 || size[1] != 3 {
            return Err(ModelError::InvalidInput(format!(
                "VGG19 input must be N x 3 x H x W, got {size:?}"
            )));
        }
        let ctx = || ModelError::torch("running VGG19");
        let mut h = x
            .f_to_device(self.mean.device())
            .and_then(|t| t.f_to_kind(Kind::Float))
            .map_err(ctx())?;
        if self.normalize_input {
            h = h
                .f_sub(&self.mean)
                .and_then(|t| t.f_div(&self.std))
                .map_err(ctx())?;
        }
        let pool = |t: &Tensor| {
            t.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
                .map_err(ModelError::torch("running VGG19 max-pool"))
        };
        let conv_relu = |h: &Tensor, i: usize| relu(&self.convs[i].forward(h)?);
        // block 1
        let r1_1 = conv_relu(&h, 0)?;
        let r1_2 = conv_relu(&r1_1, 1)?;
        // block 2
        let r2_1 = conv_relu(&pool(&r1_2)?, 2)?;
        let r2_2 = conv_relu(&r2_1, 3)?;
        // block 3
        let r3_1 = conv_relu(&pool(&r2_2)?, 4)?;
        let r3_2 = conv_relu(&r3_1, 5)?;
        let r3_3 = conv_relu(&r3_2, 6)?;
        let r3_4 = conv_relu(&r3_3, 7)?;
        // block 4
        let r4_1 = conv_relu(&pool(&r3_4)?, 8)?;
        let r4_2 = conv_relu(&r4_1, 9)?;
        let r4_3 = conv_relu(&r4_2, 10)?;
        let r4_4 = conv_relu(&r4_3, 11)?;
        // block 5
        let r5_1 = conv_relu(&pool(&r4_4)?, 12)?;
        let r5_2 = conv_relu(&r5_1, 13)?;
        Ok(VggFeatures {
            content: [r1_1, r2_1, r3_1, r4_1, r5_1],
            style: [r2_2, r3_4, r4_4, r5_2],
        })
    }
}
