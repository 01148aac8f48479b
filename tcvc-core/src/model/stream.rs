// SPDX-License-Identifier: MIT
//! Streaming colorization: one stream's chain of frames through the generator, each output fed
//! back as the next frame's previous frame (the paper's inference). Shared by the
//! `tcvccolorize` element and `tcvc-eval` so that both run exactly the same code.
//!
//! Tensors here are `1 × C × H × W`, values in `[0, 1]`, on the generator's device.
use super::{ColorNet, InputMode, ModelError};
use tch::{Device, Kind, Tensor};

type Result<T> = std::result::Result<T, ModelError>;

use super::scene::SceneDetector;
pub use super::scene::DEFAULT_SCENE_THRESHOLD;

/// A pixel of area-downsampled line art is a line pixel when at most this bright.
const LINE_LEVEL: f64 = 0.75;

/// How the full-resolution output is made from the working-size prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Prediction upsampled and multiplied by the full-resolution line art: crisp lines.
    Ink,
    /// The input's full-resolution luma with the prediction's chroma.
    Luma,
    /// The upsampled prediction as is.
    Color,
}

impl OutputMode {
    /// Every mode, in documentation order.
    pub const ALL: [OutputMode; 3] = [OutputMode::Ink, OutputMode::Luma, OutputMode::Color];

    /// The name: `ink`, `luma`, `color` (also the model file's `output_mode` value).
    pub fn as_str(self) -> &'static str {
        match self {
            OutputMode::Ink => "ink",
            OutputMode::Luma => "luma",
            OutputMode::Color => "color",
        }
    }

    /// The natural output for a model's input mode: ink for line art, luma for greyscale.
    pub fn default_for(mode: InputMode) -> Self {
        match mode {
            InputMode::Lineart => OutputMode::Ink,
            InputMode::Greyscale => OutputMode::Luma,
        }
    }
}

impl std::fmt::Display for OutputMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutputMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        OutputMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not an output mode: use ink, luma or color"))
    }
}

/// Why a stream's chain was reset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResetReason {
    /// Scene cut: the cut score (see [`super::scene`]).
    SceneCut(f64),
}

/// One step's result.
pub struct Step {
    /// Prediction at working size (also kept as the next previous frame).
    pub prediction: Tensor,
    /// Set when the chain was reset before this frame.
    pub reset: Option<ResetReason>,
}

/// The previous-frame chain of one stream.
pub struct StreamColorizer {
    generator: ColorNet,
    blank_previous: bool,
    input_mode: InputMode,
    work: (i64, i64),
    scene: SceneDetector,
    prev: Option<Tensor>,
}

/// Resizes `x` (`1 × C × h × w`) to `(height, width)`: area averaging when shrinking (thin lines
/// keep their weight), bilinear when enlarging.
pub fn resize(x: &Tensor, height: i64, width: i64) -> Result<Tensor> {
    let s = x.size();
    if s[2] == height && s[3] == width {
        return Ok(x.shallow_clone());
    }
    let r = if height <= s[2] && width <= s[3] {
        x.f_adaptive_avg_pool2d([height, width])
    } else {
        x.f_upsample_bilinear2d([height, width], false, None, None)
    };
    r.map_err(ModelError::torch("resizing a frame"))
}

impl StreamColorizer {
    /// A chain for one stream at working size `width × height` (≥ 12 each). A pix2pix
    /// baseline has no chain (its frames are independent).
    pub fn new(
        generator: impl Into<ColorNet>,
        input_mode: InputMode,
        width: i64,
        height: i64,
        scene_threshold: f64,
    ) -> Result<Self> {
        if width < 12 || height < 12 {
            return Err(ModelError::InvalidInput(format!(
                "working size {width}x{height} is too small: the generator needs at least 12x12"
            )));
        }
        let generator = generator.into();
        Ok(StreamColorizer {
            blank_previous: !generator.uses_previous(),
            generator,
            input_mode,
            work: (width, height),
            scene: SceneDetector::new(scene_threshold),
            prev: None,
        })
    }

    /// Working size `(width, height)`.
    pub fn working_size(&self) -> (i64, i64) {
        self.work
    }

    /// The generator's device.
    pub fn device(&self) -> Device {
        self.generator.device()
    }

    /// Feeds a blank previous frame to every step (a model trained without the previous frame,
    /// metadata `previous_frame = blank`), or the chain (the default for TCVC models).
    pub fn set_blank_previous(&mut self, blank: bool) {
        self.blank_previous = blank || !self.generator.uses_previous();
    }

    /// Whether every step gets a blank previous frame (see [`StreamColorizer::set_blank_previous`]).
    pub fn blank_previous(&self) -> bool {
        self.blank_previous
    }

    /// Sets the scene-cut threshold (1.0 disables cut detection).
    pub fn set_scene_threshold(&mut self, v: f64) {
        self.scene.set_threshold(v);
    }

    /// Forgets the previous frame (the next frame is conditioned on a blank (zeros) frame) and
    /// the scene detector's shot.
    pub fn reset(&mut self) {
        self.prev = None;
        self.scene.reset();
    }

    /// Whether a previous frame is held.
    pub fn has_previous(&self) -> bool {
        self.prev.is_some()
    }

    /// Makes `rgb` (`1 × 3 × H × W`, any size) the previous frame of the next step, e.g. an
    /// artist's keyframe.
    pub fn set_previous(&mut self, rgb: &Tensor, input: &Tensor) -> Result<()> {
        let (w, h) = self.work;
        let p = rgb
            .f_to_device(self.device())
            .map_err(ModelError::torch("moving the keyframe"))?;
        self.prev = Some(
            resize(&p, h, w)?
                .f_to_kind(Kind::Float)
                .map_err(ModelError::torch("keyframe"))?,
        );
        // The keyframe's frame is measured like any other, so that the cut rule sees every
        // frame (as `tcvc-episode plan` does); a cut there changes nothing (the keyframe is
        // the new previous frame either way).
        let small = resize(input, h, w)?;
        self.scene.observe(&line_mask(self.input_mode, &small)?)?;
        Ok(())
    }

    /// Colorizes the next frame: `input` is the full-resolution line art (or grey),
    /// `1 × 1 × H × W` in `[0, 1]` on the generator's device.
    pub fn step(&mut self, input: &Tensor) -> Result<Step> {
        self.step_with(input, &mut |g, x, p| g.infer(x, p))
    }

    /// [`StreamColorizer::step`] with the generator's forward pass done by `run(generator,
    /// working-size input, previous frame)`: a cross-stream batcher
    /// ([`super::batch::Batcher`]) runs it together with other streams' frames.
    pub fn step_with(
        &mut self,
        input: &Tensor,
        run: &mut dyn FnMut(&ColorNet, &Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Step> {
        let (w, h) = self.work;
        let small = resize(input, h, w)?;
        let lines = line_mask(self.input_mode, &small)?;
        let mut reset = None;
        let scene = self.scene.observe(&lines)?;
        if scene.cut {
            reset = Some(ResetReason::SceneCut(scene.score));
            self.prev = None;
        }
        let prev = match &self.prev {
            Some(p) if !self.blank_previous => p.shallow_clone(),
            _ => Tensor::f_zeros([1, 3, h, w], (Kind::Float, self.device()))
                .map_err(ModelError::torch("making the blank previous frame"))?,
        };
        let pred = run(&self.generator, &small, &prev)?
            .f_to_kind(Kind::Float)
            .map_err(ModelError::torch("widening the prediction"))?;
        self.prev = Some(pred.shallow_clone());
        Ok(Step {
            prediction: pred,
            reset,
        })
    }
}

/// Reads an image file (an artist keyframe) as a `1 × 3 × H × W` RGB tensor in [0, 1] on the
/// CPU: `tcvccolorize`'s `keyframe-location` and `tcvc-episode --keyframe-location`.
pub fn read_rgb(path: &str) -> std::result::Result<Tensor, String> {
    use opencv::prelude::*;
    let bgr = opencv::imgcodecs::imread(path, opencv::imgcodecs::IMREAD_COLOR)
        .map_err(|e| format!("cannot read keyframe '{path}': {e}"))?;
    if bgr.empty() {
        return Err(format!(
            "cannot read keyframe '{path}': not an image OpenCV can decode"
        ));
    }
    let (h, w) = (bgr.rows() as i64, bgr.cols() as i64);
    let bytes = bgr
        .data_bytes()
        .map_err(|e| format!("keyframe '{path}': {e}"))?;
    let t = Tensor::from_slice(bytes)
        .view([h, w, 3])
        .flip([2])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0;
    Ok(t)
}

/// Line pixels (`Bool`) of a working-size input `1 × 1 × h × w`: pixels of line art at most 0.75
/// bright, or grey pixels whose horizontal + vertical gradient is at least 0.1. Used by the
/// scene-cut rule of [`StreamColorizer`] and by the trainer (no previous frame across a cut).
pub fn line_mask(input_mode: InputMode, small: &Tensor) -> Result<Tensor> {
    let m = match input_mode {
        InputMode::Lineart => small.f_le(LINE_LEVEL),
        InputMode::Greyscale => {
            let dx = small
                .f_narrow(3, 1, small.size()[3] - 1)
                .and_then(|a| a.f_sub(&small.narrow(3, 0, small.size()[3] - 1)))
                .and_then(|d| d.f_abs())
                .and_then(|d| d.f_constant_pad_nd([0, 1, 0, 0]));
            let dy = small
                .f_narrow(2, 1, small.size()[2] - 1)
                .and_then(|a| a.f_sub(&small.narrow(2, 0, small.size()[2] - 1)))
                .and_then(|d| d.f_abs())
                .and_then(|d| d.f_constant_pad_nd([0, 0, 0, 1]));
            dx.and_then(|dx| dx.f_add(&dy?)).and_then(|g| g.f_ge(0.1))
        }
    };
    m.map_err(ModelError::torch("finding line pixels"))
}

/// The generator-side view of an 8-bit plane (packed rows, `width * height` bytes): a
/// `1 × 1 × H × W` float tensor in `[0, 1]` on `device`. The element and `tcvc-eval` both use it.
pub fn plane_to_tensor(
    plane: &[u8],
    width: usize,
    height: usize,
    device: Device,
) -> Result<Tensor> {
    Tensor::f_from_slice(&plane[..width * height])
        .and_then(|t| t.f_view([1, 1, height as i64, width as i64]))
        .and_then(|t| t.f_to_device(device))
        .and_then(|t| t.f_to_kind(Kind::Float))
        .and_then(|t| t.f_div_scalar(255.0))
        .map_err(ModelError::torch("preparing the input"))
}

/// Packed 8-bit RGB rows (`H · W · 3` bytes, into `out`, resized) of a `1 × 3 × H × W` tensor in
/// `[0, 1]`: scaled by 255, rounded, clamped.
pub fn tensor_to_rgb8(rgb: &Tensor, out: &mut Vec<u8>) -> Result<()> {
    let bytes = rgb
        .f_mul_scalar(255.0)
        .and_then(|t| t.f_round())
        .and_then(|t| t.f_clamp(0.0, 255.0))
        .and_then(|t| t.f_to_kind(Kind::Uint8))
        .and_then(|t| t.f_squeeze_dim(0))
        .and_then(|t| t.f_permute([1, 2, 0]))
        .and_then(|t| t.f_contiguous())
        .and_then(|t| t.f_to_device(Device::Cpu))
        .map_err(ModelError::torch("reading the output"))?;
    let n = bytes.numel();
    out.resize(n, 0);
    bytes
        .f_copy_data_u8(out, n)
        .map_err(ModelError::torch("reading the output"))
}

/// The full-resolution RGB output (`1 × 3 × H × W`, `[0, 1]`) of a working-size prediction for
/// the full-resolution `input` (`1 × 1 × H × W`).
pub fn compose(prediction: &Tensor, input: &Tensor, mode: OutputMode) -> Result<Tensor> {
    let s = input.size();
    let up = resize(prediction, s[2], s[3])?;
    let r = match mode {
        OutputMode::Color => Ok(up),
        OutputMode::Ink => up.f_mul(input),
        // Add the luma difference to every channel: keeps the prediction's chroma (R−Y, B−Y)
        // and gives the input's luma (BT.601 weights).
        OutputMode::Luma => {
            let w = Tensor::from_slice(&[0.299f32, 0.587, 0.114])
                .to_device(up.device())
                .view([1, 3, 1, 1]);
            up.f_mul(&w)
                .and_then(|y| y.f_sum_dim_intlist(1, true, Kind::Float))
                .and_then(|y| up.f_add(&input.f_sub(&y)?))
        }
    };
    r.and_then(|x| x.f_clamp(0.0, 1.0))
        .map_err(ModelError::torch("composing the output"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Generator, GeneratorConfig};

    fn generator() -> Generator {
        tch::manual_seed(7);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        Generator::new(
            &vs.root(),
            GeneratorConfig {
                channels: 8,
                res_blocks: 1,
            },
        )
        .unwrap()
    }

    #[test]
    fn chain_feeds_each_output_back_and_reset_blanks_it() {
        let g = generator();
        let mut s =
            StreamColorizer::new(g.shallow_clone(), InputMode::Lineart, 32, 24, 1.0).unwrap();
        let x1 = Tensor::rand([1, 1, 48, 64], (Kind::Float, Device::Cpu));
        let x2 = Tensor::rand([1, 1, 48, 64], (Kind::Float, Device::Cpu));
        let p1 = s.step(&x1).unwrap().prediction;
        let p2 = s.step(&x2).unwrap().prediction;
        let zeros = Tensor::zeros([1, 3, 24, 32], (Kind::Float, Device::Cpu));
        let d1 = g.infer(&resize(&x1, 24, 32).unwrap(), &zeros).unwrap();
        let d2 = g.infer(&resize(&x2, 24, 32).unwrap(), &d1).unwrap();
        assert!(p1.allclose(&d1, 0.0, 0.0, false));
        assert!(p2.allclose(&d2, 0.0, 0.0, false));
        s.reset();
        let p3 = s.step(&x2).unwrap().prediction;
        let d3 = g.infer(&resize(&x2, 24, 32).unwrap(), &zeros).unwrap();
        assert!(p3.allclose(&d3, 0.0, 0.0, false));
    }

    #[test]
    fn compose_modes() {
        let pred = Tensor::full([1, 3, 2, 2], 0.5, (Kind::Float, Device::Cpu));
        let input = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.2]).view([1, 1, 2, 2]);
        let ink = compose(&pred, &input, OutputMode::Ink).unwrap();
        assert_eq!(ink.double_value(&[0, 0, 0, 0]), 0.0);
        assert_eq!(ink.double_value(&[0, 1, 0, 1]), 0.5);
        let luma = compose(&pred, &input, OutputMode::Luma).unwrap();
        // Grey prediction + luma of the input = the input in every channel.
        assert!((luma.double_value(&[0, 2, 1, 1]) - 0.2).abs() < 1e-6);
        let color = compose(&pred, &input, OutputMode::Color).unwrap();
        assert!(color.allclose(&pred, 0.0, 0.0, false));
    }
}
