//! The TCVC generator (EdgeConnect `InpaintGenerator` with a 4-channel input).
//!
//! Architecture (reference `src/models.py`, `C = channels`, `R = res_blocks`):
//!
//! ```text
//! encoder = Sequential(ReflectionPad2d(3), Conv2d(4, C, 7),                    # .1
//!                      IN, ReLU, Conv2d(C, 2C, 4, s2, p1),                     # .4
//!                      IN, ReLU, Conv2d(2C, 4C, 4, s2, p1), IN, ReLU)          # .7
//! middle  = Sequential(R x ResnetBlock(4C, dilation 2))
//!   conv_block = Sequential(ReflectionPad2d(2), Conv2d(4C, 4C, 3, dil 2),      # .1
//!                           IN, ReLU, ReflectionPad2d(1), Conv2d(4C, 4C, 3),   # .5
//!                           IN);  out = x + conv_block(x)
//! decoder = Sequential(ConvTranspose2d(4C, 2C, 4, s2, p1), IN, ReLU,           # .0
//!                      ConvTranspose2d(2C, C, 4, s2, p1), IN, ReLU,            # .3
//!                      ReflectionPad2d(3), Conv2d(C, 3, 7))                    # .7
//! output  = (tanh(x) + 1) / 2
//! ```
//!
//! `IN` is `InstanceNorm2d(affine=False, track_running_stats=False)`, so the
//! generator has no buffers and exactly `2 * (3 + 2R + 3)` parameter tensors,
//! named as the reference `state_dict` keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tch::{nn, Device, Kind, Tensor};

use super::error::{FileRole, ModelError, Result};
use super::layers::{
    check_compute_kind, instance_norm, is_float_kind, reflection_pad, relu, Conv2d, ConvSpec,
    ConvTranspose2d,
};
use super::net::ColorNet;

/// Number of input channels: line art / grey (1) + previous RGB frame (3).
pub const INPUT_CHANNELS: i64 = 4;
/// Largest accepted `channels` value (sanity bound for untrusted metadata).
pub const MAX_CHANNELS: i64 = 1024;
/// Largest accepted `res_blocks` value (sanity bound for untrusted metadata).
pub const MAX_RES_BLOCKS: i64 = 64;

/// Size hyper-parameters of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneratorConfig {
    /// Base width `C` (first encoder layer); the bottleneck has `4C` channels.
    pub channels: i64,
    /// Number of residual blocks `R` in `middle`.
    pub res_blocks: i64,
}

impl Default for GeneratorConfig {
    /// The paper's configuration: `C = 64`, `R = 8`.
    fn default() -> Self {
        GeneratorConfig {
            channels: 64,
            res_blocks: 8,
        }
    }
}

impl GeneratorConfig {
    /// Checks that both values are in range (`1..=1024` channels,
    /// `0..=64` residual blocks).
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return Err(ModelError::InvalidConfig(format!(
                "channels = {} is out of range 1..={MAX_CHANNELS}",
                self.channels
            )));
        }
        if !(0..=MAX_RES_BLOCKS).contains(&self.res_blocks) {
            return Err(ModelError::InvalidConfig(format!(
                "res_blocks = {} is out of range 0..={MAX_RES_BLOCKS}",
                self.res_blocks
            )));
        }
        Ok(())
    }

    /// Names and shapes of all parameters, in the reference `state_dict`
    /// order (`encoder.1.weight`, `encoder.1.bias`, ..., `decoder.7.bias`).
    pub fn parameter_specs(&self) -> Vec<(String, Vec<i64>)> {
        let c = self.channels;
        let mut v = Vec::with_capacity(self.parameter_count());
        let mut push = |name: String, w: Vec<i64>, b: i64| {
            v.push((format!("{name}.weight"), w));
            v.push((format!("{name}.bias"), vec![b]));
        };
        push("encoder.1".into(), vec![c, INPUT_CHANNELS, 7, 7], c);
        push("encoder.4".into(), vec![2 * c, c, 4, 4], 2 * c);
        push("encoder.7".into(), vec![4 * c, 2 * c, 4, 4], 4 * c);
        for i in 0..self.res_blocks {
            push(
                format!("middle.{i}.conv_block.1"),
                vec![4 * c, 4 * c, 3, 3],
                4 * c,
            );
            push(
                format!("middle.{i}.conv_block.5"),
                vec![4 * c, 4 * c, 3, 3],
                4 * c,
            );
        }
        push("decoder.0".into(), vec![4 * c, 2 * c, 4, 4], 2 * c);
        push("decoder.3".into(), vec![2 * c, c, 4, 4], c);
        push("decoder.7".into(), vec![3, c, 7, 7], 3);
        v
    }

    /// Number of parameter tensors: `2 * (3 + 2R + 3)`.
    pub fn parameter_count(&self) -> usize {
        let r = usize::try_from(self.res_blocks).unwrap_or(0);
        2 * (3 + 2 * r + 3)
    }
}

const ENC1: ConvSpec = ConvSpec::new(1, 0, 1);
const DOWN: ConvSpec = ConvSpec::new(2, 1, 1);
const RES1: ConvSpec = ConvSpec::new(1, 0, 2);
const RES5: ConvSpec = ConvSpec::new(1, 0, 1);
const DEC7: ConvSpec = ConvSpec::new(1, 0, 1);

#[derive(Debug)]
struct ResBlock {
    conv1: Conv2d,
    conv5: Conv2d,
}

/// The TCVC generator: `G(cat[lineart, prev]) -> RGB` in `[0, 1]`.
///
/// The struct holds plain tensors. Build it with [`Generator::new`] for
/// training (trainable variables in a `VarStore`, so a `tch::nn::Optimizer`
/// on that store updates this generator in place) or get it from
/// [`crate::model::ModelFile::load`] for inference.
///
/// `Generator` is `Send` but not `Sync` (tch 0.24's `Tensor` is `Send` only).
/// To share one loaded model between streaming threads use
/// [`SharedGenerator`]: each thread takes its own cheap
/// [`Generator::shallow_clone`] (same weight storage, no copy) and runs
/// [`Generator::infer`] on it without any lock.
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    enc1: Conv2d,
    enc4: Conv2d,
    enc7: Conv2d,
    middle: Vec<ResBlock>,
    dec0: ConvTranspose2d,
    dec3: ConvTranspose2d,
    dec7: Conv2d,
}

impl Generator {
    /// Creates a freshly initialised, trainable generator whose variables
    /// live under `path` (use `vs.root()` so the variable names equal the
    /// reference `state_dict` keys). Weights are N(0, 0.02), biases 0, as
    /// the reference `init_weights()`. Use `tch::manual_seed` for
    /// reproducibility.
    pub fn new(path: &nn::Path, config: GeneratorConfig) -> Result<Self> {
        config.validate()?;
        let c = config.channels;
        let enc = path / "encoder";
        let enc1 = Conv2d::new(&(&enc / 1), INPUT_CHANNELS, c, 7, ENC1)?;
        let enc4 = Conv2d::new(&(&enc / 4), c, 2 * c, 4, DOWN)?;
        let enc7 = Conv2d::new(&(&enc / 7), 2 * c, 4 * c, 4, DOWN)?;
        let mid = path / "middle";
        let mut middle = Vec::new();
        for i in 0..config.res_blocks {
            let blk = &mid / i / "conv_block";
            middle.push(ResBlock {
                conv1: Conv2d::new(&(&blk / 1), 4 * c, 4 * c, 3, RES1)?,
                conv5: Conv2d::new(&(&blk / 5), 4 * c, 4 * c, 3, RES5)?,
            });
        }
        let dec = path / "decoder";
        let dec0 = ConvTranspose2d::new(&(&dec / 0), 4 * c, 2 * c, 4, 2, 1)?;
        let dec3 = ConvTranspose2d::new(&(&dec / 3), 2 * c, c, 4, 2, 1)?;
        let dec7 = Conv2d::new(&(&dec / 7), c, 3, 7, DEC7)?;
        Ok(Generator {
            config,
            enc1,
            enc4,
            enc7,
            middle,
            dec0,
            dec3,
            dec7,
        })
    }

    /// Builds a generator from named tensors (reference `state_dict` keys).
    ///
    /// Every parameter of `config` must be present with the right shape and
    /// a floating-point kind, and no other name may appear. The tensors are
    /// used as given (no copy); they should all share one device and kind.
    pub fn from_named_tensors(
        config: GeneratorConfig,
        mut tensors: HashMap<String, Tensor>,
    ) -> Result<Self> {
        config.validate()?;
        let specs = config.parameter_specs();
        for (name, shape) in &specs {
            let t = tensors.get(name).ok_or_else(|| ModelError::MissingTensor {
                role: FileRole::Generator,
                name: name.clone(),
            })?;
            let found = t.size();
            if &found != shape {
                return Err(ModelError::ShapeMismatch {
                    role: FileRole::Generator,
                    name: name.clone(),
                    expected: shape.clone(),
                    found,
                });
            }
            if !t.f_kind().map(is_float_kind).unwrap_or(false) {
                return Err(ModelError::UnsupportedDtype {
                    role: FileRole::Generator,
                    name: name.clone(),
                    dtype: format!("{:?}", t.f_kind().ok()),
                });
            }
        }
        if tensors.len() != specs.len() {
            let mut extra: Vec<&String> = tensors
                .keys()
                .filter(|k| !specs.iter().any(|(n, _)| n == *k))
                .collect();
            extra.sort();
            if let Some(name) = extra.first() {
                return Err(ModelError::UnexpectedTensor {
                    role: FileRole::Generator,
                    name: (*name).clone(),
                });
            }
        }
        let mut take = |name: String| {
            tensors.remove(&name).ok_or(ModelError::MissingTensor {
                role: FileRole::Generator,
                name,
            })
        };
        let mut conv = |prefix: &str, spec: ConvSpec| -> Result<Conv2d> {
            let w = take(format!("{prefix}.weight"))?;
            let b = take(format!("{prefix}.bias"))?;
            Ok(Conv2d::from_tensors(w, Some(b), spec))
        };
        let enc1 = conv("encoder.1", ENC1)?;
        let enc4 = conv("encoder.4", DOWN)?;
        let enc7 = conv("encoder.7", DOWN)?;
        let mut middle = Vec::new();
        for i in 0..config.res_blocks {
            middle.push(ResBlock {
                conv1: conv(&format!("middle.{i}.conv_block.1"), RES1)?,
                conv5: conv(&format!("middle.{i}.conv_block.5"), RES5)?,
            });
        }
        let dec7 = conv("decoder.7", DEC7)?;
        let mut convt = |prefix: &str| -> Result<ConvTranspose2d> {
            Ok(ConvTranspose2d {
                weight: take(format!("{prefix}.weight"))?,
                bias: take(format!("{prefix}.bias"))?,
                stride: 2,
                padding: 1,
            })
        };
        let dec0 = convt("decoder.0")?;
        let dec3 = convt("decoder.3")?;
        Ok(Generator {
            config,
            enc1,
            enc4,
            enc7,
            middle,
            dec0,
            dec3,
            dec7,
        })
    }

    /// The size hyper-parameters.
    pub fn config(&self) -> GeneratorConfig {
        self.config
    }

    /// Device holding the weights.
    pub fn device(&self) -> Device {
        self.enc1.weight.device()
    }

    /// Kind (dtype) of the weights, which is also the compute kind.
    pub fn kind(&self) -> Kind {
        self.enc1.weight.kind()
    }

    /// All parameters as `(reference name, tensor)` in `state_dict` order.
    /// The tensors are shallow clones (they share storage with the model).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::with_capacity(self.config.parameter_count());
        let mut conv = |name: String, c: &Conv2d| {
            v.push((format!("{name}.weight"), c.weight.shallow_clone()));
            if let Some(b) = &c.bias {
                v.push((format!("{name}.bias"), b.shallow_clone()));
            }
        };
        conv("encoder.1".into(), &self.enc1);
        conv("encoder.4".into(), &self.enc4);
        conv("encoder.7".into(), &self.enc7);
        for (i, blk) in self.middle.iter().enumerate() {
            conv(format!("middle.{i}.conv_block.1"), &blk.conv1);
            conv(format!("middle.{i}.conv_block.5"), &blk.conv5);
        }
        let dec7 = &self.dec7;
        for (name, t) in [("decoder.0", &self.dec0), ("decoder.3", &self.dec3)] {
            v.push((format!("{name}.weight"), t.weight.shallow_clone()));
            v.push((format!("{name}.bias"), t.bias.shallow_clone()));
        }
        v.push(("decoder.7.weight".into(), dec7.weight.shallow_clone()));
        if let Some(b) = &dec7.bias {
            v.push(("decoder.7.bias".into(), b.shallow_clone()));
        }
        v
    }

    /// A new handle on the same weight storage (no copy). Cheap; this is how
    /// each streaming thread gets its own `Generator` (see [`SharedGenerator`]).
    pub fn shallow_clone(&self) -> Generator {
        Generator {
            config: self.config,
            enc1: self.enc1.shallow_clone(),
            enc4: self.enc4.shallow_clone(),
            enc7: self.enc7.shallow_clone(),
            middle: self
                .middle
                .iter()
                .map(|b| ResBlock {
                    conv1: b.conv1.shallow_clone(),
                    conv5: b.conv5.shallow_clone(),
                })
                .collect(),
            dec0: self.dec0.shallow_clone(),
            dec3: self.dec3.shallow_clone(),
            dec7: self.dec7.shallow_clone(),
        }
    }

    /// Returns a detached copy of the weights on `device` with `kind`
    /// (Float, BFloat16 or Half), without gradient tracking. Used to make an
    /// inference copy of a generator that is being trained.
    pub fn to_device_kind(&self, device: Device, kind: Kind) -> Result<Generator> {
        check_compute_kind(kind)?;
        let _guard = tch::no_grad_guard();
        let mut map = HashMap::new();
        for (name, t) in self.named_tensors() {
            let moved = t
                .f_detach()
                .and_then(|t| t.f_to_device(device))
                .and_then(|t| t.f_to_kind(kind))
                .and_then(|t| t.f_contiguous())
                .map_err(ModelError::torch(format!(
                    "moving `{name}` to {device:?}/{kind:?}"
                )))?;
            // `to_*` may return the very same tensor; make it independent.
            let moved = if moved.data_ptr() == t.data_ptr() {
                let mut copy = moved
                    .f_zeros_like()
                    .map_err(ModelError::torch(format!("allocating `{name}`")))?;
                copy.f_copy_(&moved)
                    .map_err(ModelError::torch(format!("copying `{name}`")))?;
                copy
            } else {
                moved
            };
            map.insert(name, moved.set_requires_grad(false));
        }
        Generator::from_named_tensors(self.config, map)
    }

    /// Copies all weights of `src` (same config) into this generator's
    /// tensors in place, converting device and kind. Used by the trainer to
    /// resume from a model file into `VarStore` variables.
    pub fn copy_weights_from(&self, src: &Generator) -> Result<()> {
        if src.config != self.config {
            return Err(ModelError::InvalidConfig(format!(
                "cannot copy weights of a {:?} generator into a {:?} generator",
                src.config, self.config
            )));
        }
        let _guard = tch::no_grad_guard();
        for ((name, mut dst), (_, s)) in self.named_tensors().into_iter().zip(src.named_tensors()) {
            let s = s
                .f_to_device(dst.device())
                .and_then(|s| s.f_to_kind(dst.kind()))
                .map_err(ModelError::torch(format!("converting `{name}`")))?;
            dst.f_copy_(&s)
                .map_err(ModelError::torch(format!("copying `{name}`")))?;
        }
        Ok(())
    }

    /// Forward pass on the concatenated 4-channel input `N x 4 x H x W`
    /// (channel 0 = line art / grey, 1..4 = previous RGB frame, all in
    /// `[0, 1]`). Records autograd if grad mode is on (training). The input
    /// is moved to the weights' device and kind; the output is `N x 3 x H x W`
    /// in `[0, 1]` with the weights' device and kind.
    ///
    /// When `H` and `W` are multiples of 4 this is exactly the reference
    /// network. Other sizes are edge-padded (replicate) up to the next
    /// multiple of 4 and the output is cropped back, so the output always has
    /// the input's size. `H` and `W` must be at least 12 (minimum for the
    /// reflection paddings at 1/4 resolution).
    pub fn forward_input(&self, input: &Tensor) -> Result<Tensor> {
        let size = input.size();
        if size.len() != 4 || size[1] != INPUT_CHANNELS {
            return Err(ModelError::InvalidInput(format!(
                "generator input must be N x 4 x H x W, got {size:?}"
            )));
        }
        let (h, w) = (size[2], size[3]);
        if size[0] < 1 || h < 12 || w < 12 {
            return Err(ModelError::InvalidInput(format!(
                "generator input must have N >= 1 and H, W >= 12, got {size:?}"
            )));
        }
        let x = input
            .f_to_device(self.device())
            .and_then(|x| x.f_to_kind(self.kind()))
            .map_err(ModelError::torch("converting the generator input"))?;
        let (ph, pw) = ((4 - h % 4) % 4, (4 - w % 4) % 4);
        let x = if ph != 0 || pw != 0 {
            x.f_replication_pad2d([0, pw, 0, ph])
                .map_err(ModelError::torch("padding the input to a multiple of 4"))?
        } else {
            x
        };
        let y = self.forward_raw(&x)?;
        if ph != 0 || pw != 0 {
            y.f_narrow(2, 0, h)
                .and_then(|y| y.f_narrow(3, 0, w))
                .map_err(ModelError::torch("cropping the output"))
        } else {
            Ok(y)
        }
    }

    /// Forward pass on separate inputs: `lineart` `N x 1 x H x W` and
    /// `prev` (previous colour frame) `N x 3 x H x W`, both in `[0, 1]`.
    /// See [`Generator::forward_input`] for kinds, sizes and autograd.
    pub fn forward(&self, lineart: &Tensor, prev: &Tensor) -> Result<Tensor> {
        let (ls, ps) = (lineart.size(), prev.size());
        if ls.len() != 4 || ls[1] != 1 {
            return Err(ModelError::InvalidInput(format!(
                "line-art tensor must be N x 1 x H x W, got {ls:?}"
            )));
        }
        if ps.len() != 4 || ps[1] != 3 || ps[0] != ls[0] || ps[2..] != ls[2..] {
            return Err(ModelError::InvalidInput(format!(
                "previous-frame tensor must be N x 3 x H x W matching the line art {ls:?}, \
                 got {ps:?}"
            )));
        }
        let kind = self.kind();
        let device = self.device();
        let conv = |t: &Tensor| t.f_to_device(device).and_then(|t| t.f_to_kind(kind));
        let x = conv(lineart)
            .and_then(|l| Ok((l, conv(prev)?)))
            .and_then(|(l, p)| Tensor::f_cat(&[l, p], 1))
            .map_err(ModelError::torch("concatenating the generator inputs"))?;
        self.forward_input(&x)
    }

    /// Inference: [`Generator::forward`] with gradient tracking disabled on
    /// this thread (`tch::no_grad_guard`). tch 0.24 exposes no
    /// `InferenceMode`; with no-grad and weights that do not require grad no
    /// autograd state is created or shared between threads.
    pub fn infer(&self, lineart: &Tensor, prev: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        self.forward(lineart, prev)
    }

    /// The network itself on an input whose size is a multiple of 4.
    fn forward_raw(&self, x: &Tensor) -> Result<Tensor> {
        // encoder
        let x = reflection_pad(x, 3)?;
        let x = relu(&instance_norm(&self.enc1.forward(&x)?)?)?;
        let x = relu(&instance_norm(&self.enc4.forward(&x)?)?)?;
        let mut x = relu(&instance_norm(&self.enc7.forward(&x)?)?)?;
        // middle
        for blk in &self.middle {
            let y = reflection_pad(&x, 2)?;
            let y = relu(&instance_norm(&blk.conv1.forward(&y)?)?)?;
            let y = reflection_pad(&y, 1)?;
            let y = instance_norm(&blk.conv5.forward(&y)?)?;
            x = x
                .f_add(&y)
                .map_err(ModelError::torch("adding the residual"))?;
        }
        // decoder
        let x = relu(&instance_norm(&self.dec0.forward(&x)?)?)?;
        let x = relu(&instance_norm(&self.dec3.forward(&x)?)?)?;
        let x = reflection_pad(&x, 3)?;
        let x = self.dec7.forward(&x)?;
        x.f_tanh()
            .and_then(|t| t.f_add_scalar(1.0))
            .and_then(|t| t.f_mul_scalar(0.5))
            .map_err(ModelError::torch("running the output activation"))
    }
}

/// A thread-safe, cloneable handle on one loaded generator (either architecture).
///
/// tch 0.24's `Tensor` is `Send` but not `Sync`, so neither is
/// [`ColorNet`], and `Arc<ColorNet>` cannot cross threads. This handle
/// keeps the network behind a `Mutex` that is held only for
/// [`SharedGenerator::instance`], which returns a shallow clone: a new set of
/// tensor handles on the same weight storage (one refcount increment per
/// tensor, no data copy). Each streaming thread (e.g. each `tcvccolorize`
/// instance) keeps its own instance and calls [`ColorNet::infer`] on it
/// concurrently without locking. This is sound because inference only reads
/// the weights (no in-place op, weights do not require grad, and grad mode is
/// thread-local), and libtorch allows concurrent reads of a tensor.
#[derive(Debug, Clone)]
pub struct SharedGenerator {
    inner: Arc<Mutex<ColorNet>>,
}

impl SharedGenerator {
    /// Wraps a generator (typically from [`crate::model::ModelFile::load_any`]).
    pub fn new(net: impl Into<ColorNet>) -> Self {
        SharedGenerator {
            inner: Arc::new(Mutex::new(net.into())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ColorNet> {
        // A poisoned lock cannot leave the network half-modified: nothing
        // mutates it under the lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A per-thread handle on the shared weights (cheap, no copy).
    pub fn instance(&self) -> ColorNet {
        self.lock().shallow_clone()
    }

    /// Size hyper-parameters of a shared TCVC generator (`None` for pix2pix).
    pub fn config(&self) -> Option<GeneratorConfig> {
        self.lock().tcvc_config()
    }

    /// Architecture and size in words (see [`ColorNet::describe`]).
    pub fn describe(&self) -> String {
        self.lock().describe()
    }

    /// True when both handles share the same generator.
    pub fn ptr_eq(&self, other: &SharedGenerator) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl From<Generator> for SharedGenerator {
    fn from(g: Generator) -> Self {
        SharedGenerator::new(g)
    }
}
