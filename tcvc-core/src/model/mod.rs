//! Neural-network model of TCVC (Thasarathan, Nazeri & Ebrahimi, "Automatic
//! Temporally Coherent Video Colorization", 2019), on `tch` 0.24.
//!
//! Shared by the `tcvccolorize` element (inference) and `tcvc-train`:
//!
//! * [`Generator`]: the reference generator (EdgeConnect `InpaintGenerator`
//!   with a 4-channel input `cat[lineart, previous RGB]`), parameter names
//!   equal to the reference `state_dict` keys;
//! * [`UnetGenerator`]: the pix2pix U-Net baseline (line art only);
//!   [`ColorNet`] holds either;
//! * [`Discriminator`]: 70x70 PatchGAN with spectral normalisation;
//! * [`Vgg19`]: frozen feature extractor for the content and style losses;
//! * [`loss`]: adversarial / L1 / content / style losses;
//! * [`ModelFile`]: the self-describing safetensors model file;
//! * [`SharedGenerator`]: one loaded model shared by many streaming threads.
//!
//! # Inference
//!
//! ```no_run
//! use tcvc_core::model::{ModelFile, SharedGenerator};
//! # fn main() -> Result<(), tcvc_core::model::ModelError> {
//! let loaded = ModelFile::load_any("model.safetensors", tch::Device::Cpu, tch::Kind::Float)?;
//! let shared = SharedGenerator::new(loaded.net); // clone into each element
//! let g = shared.instance(); // per streaming thread, no weight copy
//! let lineart = tch::Tensor::zeros([1, 1, 256, 256], (tch::Kind::Float, tch::Device::Cpu));
//! let prev = tch::Tensor::zeros([1, 3, 256, 256], (tch::Kind::Float, tch::Device::Cpu));
//! let rgb = g.infer(&lineart, &prev)?; // 1 x 3 x 256 x 256 in [0, 1]
//! # Ok(()) }
//! ```
//!
//! # Training
//!
//! Build [`Generator::new`] / [`Discriminator::new`] on `VarStore` roots,
//! optimise `vs.trainable_variables()`, compute [`loss::generator_loss`] and
//! [`loss::discriminator_loss`], and write checkpoints with
//! [`ModelFile::save`].

pub mod batch;
pub mod cache;
pub mod carry;
pub mod choice;
pub mod discriminator;
pub mod effnet;
pub mod error;
pub mod file;
pub mod flow;
pub mod generator;
mod layers;
pub mod lookahead;
pub mod loss;
pub mod net;
pub mod scene;
pub mod stream;
pub mod unet;
pub mod vgg;

pub use choice::{OutputChoice, Precision, PreviousChoice, WorkingOrientation};
pub use discriminator::{Discriminator, SpectralNormConv2d, DISCRIMINATOR_INPUT_CHANNELS};
pub use effnet::EfficientNetLite0;
pub use error::{FileRole, ModelError};
pub use file::{
    InputMode, LoadedModel, ModelFile, ModelMeta, PreviousFrame, StorageDtype, TrainSize,
    FORMAT_NAME, FORMAT_VERSION,
};
pub use generator::{Generator, GeneratorConfig, SharedGenerator, INPUT_CHANNELS};
pub use loss::{FeatureNet, GeneratorLosses, LossWeights};
pub use net::ColorNet;
pub use scene::{SceneDetector, SceneScore};
pub use stream::{OutputMode, StreamColorizer};
pub use unet::{UnetGenerator, UNET_FORMAT_NAME};
pub use vgg::{vgg19_parameter_specs, Vgg19, VggFeatures};

#[cfg(test)]
mod tests;
