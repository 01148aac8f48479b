// SPDX-License-Identifier: MIT
//! Streaming colorization: one stream's chain of frames through the generator, each output fed
//! back as the next frame's previous frame (the paper's inference). Shared by the
//! `tcvccolorize` element and `tcvc-eval` so that both run exactly the same code.
//!
//! Tensors here are `1 × C × H × W`, values in `[0, 1]`, on the generator's device.
use super::{ColorNet, InputMode, ModelError};
use tch::{Device, Kind, Tensor};

type Result<T> = std::result::Result<T, ModelError>;

use super::carry::{self, Carried, Hold, ShiftedHold};
use super::flow::FlowHold;
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
    /// Flat fills: every region that the full-resolution line art encloses painted with the
    /// mean of the upsampled prediction over it; the lines and the pixels next to them keep the
    /// prediction ([`fill_regions`]).
    Fill,
}

impl OutputMode {
    /// Every mode, in documentation order.
    pub const ALL: [OutputMode; 4] = [
        OutputMode::Ink,
        OutputMode::Luma,
        OutputMode::Color,
        OutputMode::Fill,
    ];

    /// The name: `ink`, `luma`, `color`, `fill` (also the model file's `output_mode` value).
    pub fn as_str(self) -> &'static str {
        match self {
            OutputMode::Ink => "ink",
            OutputMode::Luma => "luma",
            OutputMode::Color => "color",
            OutputMode::Fill => "fill",
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
            .ok_or_else(|| format!("'{s}' is not an output mode: use ink, luma, color or fill"))
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
    /// Prediction at working size, what the output is composed from: the generator's output
    /// (kept as the next previous frame), smoothed towards the last one when temporal smoothing
    /// is on ([`StreamColorizer::set_temporal_smoothing`]; the chain keeps the unsmoothed one).
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
    flip_average: bool,
    smoothing: f64,
    /// The last smoothed prediction and the working-size input it was made for.
    smoothed: Option<(Tensor, Tensor)>,
    /// Artist keyframes' colours carried over the `fill` regions that follow them.
    carry: KeyframeCarry,
}

/// The keyframe carry of one stream ([`super::carry`]): the regions of its last `fill` output
/// that carry an artist keyframe's colours. [`StreamColorizer`] holds one; a scheduler that
/// composes a stream's frames itself (`tcvc-episode`) keeps one per shot.
#[derive(Debug)]
pub struct KeyframeCarry {
    on: bool,
    /// Whether the fourth step, the last output moved along the optical flow, runs.
    flow: bool,
    carried: Option<Carried>,
    held: Option<Hold>,
    shifted: Option<ShiftedHold>,
    flowed: Option<FlowHold>,
}

impl Default for KeyframeCarry {
    fn default() -> Self {
        KeyframeCarry::new(true)
    }
}

impl KeyframeCarry {
    /// A carry that is on or off ([`KeyframeCarry::set_enabled`]).
    pub fn new(on: bool) -> Self {
        KeyframeCarry {
            on,
            flow: true,
            carried: None,
            held: None,
            shifted: None,
            flowed: None,
        }
    }

    /// Turns the carry on or off (off forgets what is carried).
    pub fn set_enabled(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.reset();
        }
    }

    /// Whether the carry is on.
    pub fn enabled(&self) -> bool {
        self.on
    }

    /// Turns the carry's fourth step on or off ([`super::flow`]: each frame the last output
    /// moved along the optical flow of the line art; on by default): off, the carry is its
    /// other three steps, at a third of the cost at 1280×720. Off forgets the flow's state;
    /// turned on it starts at the next keyframe.
    pub fn set_flow(&mut self, on: bool) {
        self.flow = on;
        if !on {
            self.flowed = None;
        }
    }

    /// Whether the carry's fourth step runs (see [`KeyframeCarry::set_flow`]).
    pub fn flow(&self) -> bool {
        self.flow
    }

    /// Whether some region carries a keyframe colour, or some pixel the keyframe's, now.
    pub fn is_carrying(&self) -> bool {
        self.carried.is_some()
            || self.held.is_some()
            || self.shifted.is_some()
            || self.flowed.is_some()
    }

    /// Forgets what is carried (a reset of the chain: cut, flush, new stream).
    pub fn reset(&mut self) {
        self.carried = None;
        self.held = None;
        self.shifted = None;
        self.flowed = None;
    }

    /// An artist keyframe `key` (`1 × 3 × h × w`, any size, `[0, 1]`) for the frame whose
    /// full-resolution input is `input` (`1 × 1 × H × W`): when on, its colours over the `fill`
    /// regions of `input` are carried from now on (the keyframe resized to `H × W` first).
    pub fn keyframe(&mut self, key: &Tensor, input: &Tensor, input_mode: InputMode) -> Result<()> {
        (self.carried, self.held, self.shifted, self.flowed) = if self.on {
            key_regions(key, &line_mask(input_mode, input)?, self.flow)?
        } else {
            (None, None, None, None)
        };
        Ok(())
    }

    /// The full-resolution output of a working-size `prediction` for the full-resolution `input`,
    /// as [`compose`], and in `fill` with the carried colours on the regions that follow the
    /// keyframe's. Call it once per frame after the keyframe, in order: the carry moves from frame
    /// to frame. Another output mode ends the carry.
    pub fn compose(
        &mut self,
        prediction: &Tensor,
        input: &Tensor,
        mode: OutputMode,
        input_mode: InputMode,
    ) -> Result<Tensor> {
        if mode != OutputMode::Fill {
            self.reset();
        }
        if !self.is_carrying() {
            return compose(prediction, input, mode, input_mode);
        }
        let s = input.size();
        let up = resize(prediction, s[2], s[3])?;
        let lines = line_mask(input_mode, input)?;
        // The moved keyframe's search runs beside the hold when libtorch may use more than one
        // thread (`threads=1` keeps a stream on one core).
        let parallel = tch::get_num_threads() > 1;
        fill_owned(up, prediction, &lines, Some((self, parallel)))
    }
}

/// The previous frame of the next step while a keyframe's colours are carried: the output
/// (`1 × 3 × H × W`) at the working size `(width, height)`, so that the network sees the artist's
/// colours where they were carried, not its own drift (the corpus's validation clips of two
/// renderings with keys every 24 frames: +0.31 / +0.18 dB over the network's own prediction,
/// docs/model-card.md stage 14).
pub fn carried_previous(out: &Tensor, (width, height): (i64, i64)) -> Result<Tensor> {
    resize(out, height, width)?
        .f_to_kind(Kind::Float)
        .map_err(ModelError::torch("the carried previous frame"))
}

/// An artist keyframe moved back to frames before it, offline (`tcvc-episode colorize
/// --keyframe-backward`): the keyframe moved with the camera as [`KeyframeCarry`] paints it into
/// the frames after it ([`super::carry`]'s `ShiftedHold`), compared with a frame before it, and,
/// with `flow`, the keyframe moved on from frame to frame backwards along the optical flow as the
/// carry's fourth step moves it forwards ([`super::flow`]), painted over it. A stream does not
/// know its next keyframe; a tool that has the whole shot does.
#[derive(Debug)]
pub struct KeyframeBack {
    hold: ShiftedHold,
    flow: Option<FlowHold>,
    input_mode: InputMode,
}

impl KeyframeBack {
    /// An artist keyframe `key` (`1 × 3 × h × w`, any size, `[0, 1]`) for the frame whose
    /// full-resolution input is `input` (`1 × 1 × H × W`) of a model of `input_mode`; `flow`:
    /// whether it also moves along the optical flow ([`KeyframeBack::paint`]).
    pub fn new(key: &Tensor, input: &Tensor, input_mode: InputMode, flow: bool) -> Result<Self> {
        let lines = line_mask(input_mode, input)?;
        let s = lines.size();
        let (h, w) = (s[2], s[3]);
        let (runs, _, mask) = mask_runs(&lines, w as usize, h as usize)?;
        let px = key_pixels(key, h, w)?;
        let flow = if flow {
            FlowHold::keyframe(w as usize, h as usize, px.clone(), &mask)
                .map_err(ModelError::opencv("preparing the keyframe's optical flow"))?
        } else {
            None
        };
        let hold = ShiftedHold::keyframe(w as usize, h as usize, px.into(), &mask, &runs).map_err(
            ModelError::opencv("preparing the keyframe's camera-shift search"),
        )?;
        Ok(KeyframeBack {
            hold,
            flow,
            input_mode,
        })
    }

    /// Paints the moved keyframe into `rgb8` (packed 8-bit RGB rows, `H · W · 3` bytes: the
    /// output of the frame whose full-resolution input is `input`) where the frame still shows
    /// it; the other pixels are left as they are. With the flow, the output painted last (the
    /// keyframe's, at first) moved along the optical flow goes over it where the flow can be
    /// trusted, and the result is the next call's output painted last: call it for the frames
    /// before the keyframe nearest first (the frame just before it, then the one before that).
    /// Whether some pixel was painted.
    pub fn paint(&mut self, rgb8: &mut [u8], input: &Tensor) -> Result<bool> {
        let lines = line_mask(self.input_mode, input)?;
        let s = lines.size();
        let (h, w) = (s[2] as usize, s[3] as usize);
        let plane = h * w;
        if rgb8.len() != 3 * plane {
            return Err(ModelError::InvalidInput(format!(
                "an output of {} bytes for a {w}x{h} frame",
                rgb8.len()
            )));
        }
        let (runs, n, mask) = mask_runs(&lines, w, h)?;
        let mut px = vec![-1f32; 3 * plane];
        let mut painted = self
            .hold
            .paint(&mask, &runs, n, w, h, &mut px)
            .map_err(ModelError::opencv("following the camera's shift"))?;
        // As `tensor_to_rgb8`: scaled by 255, rounded, clamped.
        let byte = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
        for i in 0..plane {
            if px[i] >= 0.0 {
                for c in 0..3 {
                    rgb8[3 * i + c] = byte(px[c * plane + i]);
                }
            }
        }
        let Some(mut flow) = self.flow.take() else {
            return Ok(painted);
        };
        let Some(flowed) = flow
            .plan(&mask)
            .map_err(ModelError::opencv("following the optical flow"))?
        else {
            return Ok(painted);
        };
        // The frame's output as it is now, planar, for the flow to paint over and remember.
        for i in 0..plane {
            for c in 0..3 {
                px[c * plane + i] = f32::from(rgb8[3 * i + c]) / 255.0;
            }
        }
        flow.paint(&flowed, &mut px);
        for i in (0..plane).filter(|&i| flowed.takes(i)) {
            painted = true;
            for c in 0..3 {
                rgb8[3 * i + c] = byte(px[c * plane + i]);
            }
        }
        flow.remember(flowed, &px);
        self.flow = Some(flow);
        Ok(painted)
    }
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
        // Each channel as an image of its own (`N·C × 1 × h × w`): the same bilinear values, but
        // on one thread libtorch's CPU kernel for three channels is its channels-last one, 2.4–3.8×
        // slower at 720p and different in the last bits from the kernel it runs on more threads,
        // which this shape gets on any number (`tcvc-core/examples/fill_time.rs`).
        x.f_reshape([s[0] * s[1], 1, s[2], s[3]])
            .and_then(|p| p.f_upsample_bilinear2d([height, width], false, None, None))
            .and_then(|u| u.f_view([s[0], s[1], height, width]))
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
            flip_average: false,
            smoothing: 0.0,
            smoothed: None,
            carry: KeyframeCarry::default(),
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

    /// Test-time flip averaging: every prediction becomes the mean of the generator's output
    /// for the frame and, mirrored back, its output for the left-right mirror of the frame and
    /// of the previous frame (two forward passes a frame).
    pub fn set_flip_average(&mut self, on: bool) {
        self.flip_average = on;
    }

    /// Whether predictions are flip averages (see [`StreamColorizer::set_flip_average`]).
    pub fn flip_average(&self) -> bool {
        self.flip_average
    }

    /// Temporal smoothing of the output (`0` off, up to `0.95`): see [`smooth_step`]. The chain
    /// keeps the generator's own prediction as the previous frame; only [`Step::prediction`]
    /// (what the output is made of) is smoothed.
    pub fn set_temporal_smoothing(&mut self, strength: f64) -> Result<()> {
        check_smoothing(strength).map_err(ModelError::InvalidInput)?;
        self.smoothing = strength;
        if strength == 0.0 {
            self.smoothed = None;
        }
        Ok(())
    }

    /// The temporal smoothing strength (see [`StreamColorizer::set_temporal_smoothing`]).
    pub fn temporal_smoothing(&self) -> f64 {
        self.smoothing
    }

    /// Whether an artist keyframe's colours are carried over the `fill` regions of the frames
    /// that follow it (on by default; see [`super::carry`]). Off: a keyframe is only the
    /// network's previous frame.
    pub fn set_keyframe_carry(&mut self, on: bool) {
        self.carry.set_enabled(on);
    }

    /// Whether keyframe colours are carried (see [`StreamColorizer::set_keyframe_carry`]).
    pub fn keyframe_carry(&self) -> bool {
        self.carry.enabled()
    }

    /// Whether the keyframe carry moves the last output along the optical flow
    /// ([`KeyframeCarry::set_flow`]; on by default).
    pub fn set_keyframe_flow(&mut self, on: bool) {
        self.carry.set_flow(on);
    }

    /// Whether the keyframe carry's flow step runs (see [`StreamColorizer::set_keyframe_flow`]).
    pub fn keyframe_flow(&self) -> bool {
        self.carry.flow()
    }

    /// Sets the scene-cut threshold (1.0 disables cut detection).
    pub fn set_scene_threshold(&mut self, v: f64) {
        self.scene.set_threshold(v);
    }

    /// Forgets the previous frame (the next frame is conditioned on a blank (zeros) frame) and
    /// the scene detector's shot.
    pub fn reset(&mut self) {
        self.prev = None;
        self.smoothed = None;
        self.carry.reset();
        self.scene.reset();
    }

    /// Whether a previous frame is held.
    pub fn has_previous(&self) -> bool {
        self.prev.is_some()
    }

    /// Makes `rgb` (`1 × 3 × H × W`, any size) the previous frame of the next step, e.g. an
    /// artist's keyframe; `input` is its frame's full-resolution line art (or grey). With the
    /// keyframe carry on, `rgb`'s colours over the `fill` regions of `input` are carried on
    /// ([`StreamColorizer::compose`]). Returns the cut score when the scene detector finds a cut
    /// at the keyframe's frame: nothing changes for the frames after it, but the frames before
    /// it are another shot (`tcvccolorize keyframe-lookahead` does not move the key back then).
    pub fn set_previous(&mut self, rgb: &Tensor, input: &Tensor) -> Result<Option<f64>> {
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
        // frame (as `tcvc-episode plan` does); a cut there changes nothing after it (the
        // keyframe is the new previous frame either way).
        let small = resize(input, h, w)?;
        let scene = self.scene.observe(&line_mask(self.input_mode, &small)?)?;
        self.smoothed = self
            .prev
            .as_ref()
            .filter(|_| self.smoothing > 0.0)
            .map(|p| (p.shallow_clone(), small));
        self.carry.keyframe(&p, input, self.input_mode)?;
        Ok(scene.cut.then_some(scene.score))
    }

    /// The full-resolution output of a [`Step::prediction`] of this stream for its
    /// full-resolution `input`, as [`compose`], and in `fill` carrying a keyframe's colours over
    /// the regions that follow it ([`StreamColorizer::set_keyframe_carry`]). Call it once per
    /// step, in order: the carry moves from frame to frame. Another output mode ends the carry.
    /// While some region carries a keyframe colour, the output (at working size) is the next
    /// step's previous frame instead of the network's prediction ([`carried_previous`]).
    pub fn compose(
        &mut self,
        prediction: &Tensor,
        input: &Tensor,
        mode: OutputMode,
    ) -> Result<Tensor> {
        let out = self
            .carry
            .compose(prediction, input, mode, self.input_mode)?;
        if self.carry.is_carrying() {
            self.prev = Some(carried_previous(&out, self.work)?);
        }
        Ok(out)
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
            self.smoothed = None;
            self.carry.reset();
        }
        let prev = match &self.prev {
            Some(p) if !self.blank_previous => p.shallow_clone(),
            _ => Tensor::f_zeros([1, 3, h, w], (Kind::Float, self.device()))
                .map_err(ModelError::torch("making the blank previous frame"))?,
        };
        let g = &self.generator;
        let pred = if self.flip_average {
            flip_averaged(&mut |x, p| run(g, x, p), &small, &prev)?
        } else {
            run(g, &small, &prev)?
                .f_to_kind(Kind::Float)
                .map_err(ModelError::torch("widening the prediction"))?
        };
        self.prev = Some(pred.shallow_clone());
        let prediction = if self.smoothing > 0.0 {
            let out = match &self.smoothed {
                Some((before, small_before)) => {
                    smooth_step(&pred, before, &small, small_before, self.smoothing)?
                }
                None => pred,
            };
            self.smoothed = Some((out.shallow_clone(), small));
            out
        } else {
            pred
        };
        Ok(Step { prediction, reset })
    }
}

/// The largest temporal smoothing strength ([`StreamColorizer::set_temporal_smoothing`]).
pub const MAX_SMOOTHING: f64 = 0.95;

fn check_smoothing(v: f64) -> std::result::Result<f64, String> {
    if (0.0..=MAX_SMOOTHING).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "temporal smoothing {v} is out of range: use 0 (off) to {MAX_SMOOTHING}"
        ))
    }
}

/// A temporal smoothing strength from the command line (`tcvc-eval`, `tcvc-episode
/// --temporal-smoothing`): a number from 0 (off) to [`MAX_SMOOTHING`].
pub fn parse_smoothing(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    check_smoothing(v)
}

/// Temporal smoothing leaves a pixel alone when the working-size input changed by more than
/// [`SMOOTH_LINE_CHANGE`] within this many pixels of it (a square of side `2 · r + 1`).
pub const SMOOTH_RADIUS: i64 = 2;

/// See [`SMOOTH_RADIUS`]: the largest change of the working-size input (`[0, 1]`) still taken
/// as no change.
pub const SMOOTH_LINE_CHANGE: f64 = 0.1;

/// The colour distance (Euclidean over R, G, B in `[0, 1]`) at which temporal smoothing's
/// weight has fallen to `1/e` of its strength.
pub const SMOOTH_COLOUR: f64 = 0.3;

/// One step of the output's temporal smoothing (`1 × 3 × h × w` working-size predictions,
/// `1 × 1 × h × w` working-size inputs): `pred + w · (before − pred)` per pixel, `before` being
/// the last smoothed prediction, made for the input `small_before`. The weight `w` is
/// `strength · exp(−d² / SMOOTH_COLOUR²)`, `d` the colour distance of `pred` and `before`, where
/// the input changed by at most [`SMOOTH_LINE_CHANGE`] within [`SMOOTH_RADIUS`] pixels since
/// `small_before`, and 0 elsewhere: fills that stay put keep a steady colour (a running mean of
/// the network's predictions), whatever moves or the network repaints follows the prediction.
pub fn smooth_step(
    pred: &Tensor,
    before: &Tensor,
    small: &Tensor,
    small_before: &Tensor,
    strength: f64,
) -> Result<Tensor> {
    (|| -> std::result::Result<Tensor, tch::TchError> {
        let k = 2 * SMOOTH_RADIUS + 1;
        let still = small
            .f_sub(small_before)?
            .f_abs()?
            .f_max_pool2d(
                [k, k],
                [1, 1],
                [SMOOTH_RADIUS, SMOOTH_RADIUS],
                [1, 1],
                false,
            )?
            .f_le(SMOOTH_LINE_CHANGE)?
            .f_to_kind(Kind::Float)?;
        let d2 = pred
            .f_sub(before)?
            .f_square()?
            .f_sum_dim_intlist(1, true, Kind::Float)?;
        let w = d2
            .f_div_scalar(-(SMOOTH_COLOUR * SMOOTH_COLOUR))?
            .f_exp()?
            .f_mul(&still)?
            .f_mul_scalar(strength)?;
        pred.f_add(&before.f_sub(pred)?.f_mul(&w)?)
    })()
    .map_err(ModelError::torch("smoothing the output"))
}

/// Test-time flip averaging of one forward pass `run(input, previous)` (`N × C × H × W` each):
/// the mean of its output and, mirrored back, its output for the left-right mirrors of both, in
/// fp32. Used by [`StreamColorizer::set_flip_average`] and by `tcvc-episode --flip-average`.
pub fn flip_averaged(
    run: &mut dyn FnMut(&Tensor, &Tensor) -> Result<Tensor>,
    input: &Tensor,
    prev: &Tensor,
) -> Result<Tensor> {
    let mirror = |t: &Tensor| {
        t.f_flip([3])
            .map_err(ModelError::torch("mirroring a frame"))
    };
    let direct = run(input, prev)?;
    let mirrored = mirror(&run(&mirror(input)?, &mirror(prev)?)?)?;
    direct
        .f_to_kind(Kind::Float)
        .and_then(|d| d.f_add(&mirrored.f_to_kind(Kind::Float)?))
        .and_then(|s| s.f_mul_scalar(0.5))
        .map_err(ModelError::torch("averaging the two predictions"))
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
    // OpenCV's bytes are BGR: swap the channels to RGB.
    Ok(rgb8_to_tensor(bytes, w as usize, h as usize).flip([1]))
}

/// Packed 8-bit RGB rows (`width × height × 3`, no padding) as a `1 × 3 × H × W` tensor in
/// [0, 1] on the CPU: the inverse of [`tensor_to_rgb8`] (an artist keyframe, `tcvc-eval
/// --keyframes`).
pub fn rgb8_to_tensor(packed: &[u8], width: usize, height: usize) -> Tensor {
    Tensor::from_slice(packed)
        .view([height as i64, width as i64, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0
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
        .and_then(|mut t| t.f_div_scalar_(255.0))
        .map_err(ModelError::torch("preparing the input"))
}

/// Packed 8-bit RGB rows (`H · W · 3` bytes, into `out`, resized) of a `1 × 3 × H × W` tensor in
/// `[0, 1]`: scaled by 255, rounded, clamped.
pub fn tensor_to_rgb8(rgb: &Tensor, out: &mut Vec<u8>) -> Result<()> {
    // One frame-sized float temporary, rounded and clamped in place, then one pass into packed
    // bytes (the same values as the chain of out-of-place operations, fewer frame-sized
    // temporaries).
    let bytes = (|| {
        let t = rgb
            .f_mul_scalar(255.0)?
            .f_round_()?
            .f_clamp_(0.0, 255.0)?
            .f_squeeze_dim(0)?
            .f_permute([1, 2, 0])?;
        let t = if t.device() == Device::Cpu {
            t
        } else {
            // Bytes over the bus, not floats.
            t.f_to_kind(Kind::Uint8)?.f_to_device(Device::Cpu)?
        };
        let mut bytes = Tensor::f_empty(t.size(), (Kind::Uint8, Device::Cpu))?;
        bytes.f_copy_(&t)?;
        Ok::<_, tch::TchError>(bytes)
    })()
    .map_err(ModelError::torch("reading the output"))?;
    let n = bytes.numel();
    out.resize(n, 0);
    bytes
        .f_copy_data_u8(out, n)
        .map_err(ModelError::torch("reading the output"))
}

/// The full-resolution RGB output (`1 × 3 × H × W`, `[0, 1]`) of a working-size prediction for
/// the full-resolution `input` (`1 × 1 × H × W`) of a model of `input_mode`.
pub fn compose(
    prediction: &Tensor,
    input: &Tensor,
    mode: OutputMode,
    input_mode: InputMode,
) -> Result<Tensor> {
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
        OutputMode::Fill => {
            let lines = line_mask(input_mode, input)?;
            return fill_owned(up, prediction, &lines, None);
        }
    };
    r.and_then(|x| x.f_clamp(0.0, 1.0))
        .map_err(ModelError::torch("composing the output"))
}

/// The `fill` output's line band: the line mask is dilated by a square of side `2 · FILL_GAP + 1`
/// before the regions are found, which closes gaps of up to `2 · FILL_GAP` pixels in a line
/// (Canny lines have gaps, and one gap would let the sky's colour run into a character). On the
/// corpus's validation clips 0, 1 and 2 measured 13.20, 14.37 and 14.21 dB with the default model
/// (its `color` output: 13.93; docs/model-card.md, stage 4).
pub const FILL_GAP: u32 = 1;

/// A run of one region's pixels in one row: `[x0, x1)` of row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) y: u32,
    pub(crate) x0: u32,
    pub(crate) x1: u32,
    pub(crate) label: u32,
}

/// The regions of the `fill` output as runs (row-major order) with their final labels `1..n`,
/// and `n` (counting label 0, the band). See [`fill_labels`].
fn fill_runs(lines: &[u8], width: usize, height: usize, gap: u32) -> (Vec<Run>, usize) {
    assert_eq!(lines.len(), width * height, "line mask of {width}x{height}");
    if width == 0 || height == 0 {
        return (Vec::new(), 1);
    }
    let r = gap as usize;
    // The band: the line mask dilated by a (2r+1)² square, separable (rows of ORs).
    let mut horiz = vec![0u8; width * height];
    for (src, dst) in lines.chunks_exact(width).zip(horiz.chunks_exact_mut(width)) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = (v != 0) as u8;
        }
        for k in 1..=r.min(width.saturating_sub(1)) {
            for x in 0..width - k {
                dst[x] |= (src[x + k] != 0) as u8;
            }
            for x in k..width {
                dst[x] |= (src[x - k] != 0) as u8;
            }
        }
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            let p = parent[parent[a as usize] as usize];
            parent[a as usize] = p;
            a = p;
        }
        a
    }
    let mut band = vec![0u8; width];
    let mut prev_start = 0;
    for y in 0..height {
        band.copy_from_slice(&horiz[y * width..(y + 1) * width]);
        for yy in y.saturating_sub(r)..=(y + r).min(height - 1) {
            if yy != y {
                for (b, &v) in band.iter_mut().zip(&horiz[yy * width..(yy + 1) * width]) {
                    *b |= v;
                }
            }
        }
        let row_start = runs.len();
        let mut x = 0;
        let mut p = prev_start;
        while x < width {
            if band[x] != 0 {
                x += 1;
                continue;
            }
            let x0 = x;
            while x < width && band[x] == 0 {
                x += 1;
            }
            // Provisional label; joined with every run of the row above that it touches
            // (4-connected: the column ranges overlap).
            let mut label = 0u32;
            while p < row_start && runs[p].x1 as usize <= x0 {
                p += 1;
            }
            let mut q = p;
            while q < row_start && (runs[q].x0 as usize) < x {
                let other = find(&mut parent, runs[q].label);
                label = if label == 0 {
                    other
                } else {
                    let (a, b) = (find(&mut parent, label), other);
                    let (lo, hi) = (a.min(b), a.max(b));
                    parent[hi as usize] = lo;
                    lo
                };
                q += 1;
            }
            if label == 0 {
                label = parent.len() as u32;
                parent.push(label);
            }
            runs.push(Run {
                y: y as u32,
                x0: x0 as u32,
                x1: x as u32,
                label,
            });
        }
        prev_start = row_start;
    }
    // Final labels: roots numbered in row-major order of first appearance.
    let mut final_of = vec![0u32; parent.len()];
    let mut n = 1u32;
    for run in runs.iter_mut() {
        let root = find(&mut parent, run.label) as usize;
        if final_of[root] == 0 {
            final_of[root] = n;
            n += 1;
        }
        run.label = final_of[root];
    }
    (runs, n as usize)
}

/// [`fill_runs`] with [`FILL_GAP`], and the labels per pixel (tests).
#[cfg(test)]
pub(crate) fn fill_runs_of(
    lines: &[u8],
    width: usize,
    height: usize,
) -> (Vec<Run>, usize, Vec<u32>) {
    let (runs, n) = fill_runs(lines, width, height, FILL_GAP);
    let (labels, _) = fill_labels(lines, width, height);
    (runs, n, labels)
}

/// Labels of the `fill` output's regions for a line mask (`lines[y · width + x]` nonzero on a
/// line), packed rows: 0 on the lines dilated by [`FILL_GAP`] (the band), `1..n` on the
/// 4-connected regions of the other pixels (row-major order of first appearance). Returns
/// `(labels, n)`, `n` counting label 0.
pub fn fill_labels(lines: &[u8], width: usize, height: usize) -> (Vec<u32>, usize) {
    fill_labels_with_gap(lines, width, height, FILL_GAP)
}

/// [`fill_labels`] with the lines dilated by a square of side `2 · gap + 1` (0: not dilated).
pub fn fill_labels_with_gap(
    lines: &[u8],
    width: usize,
    height: usize,
    gap: u32,
) -> (Vec<u32>, usize) {
    let (runs, n) = fill_runs(lines, width, height, gap);
    let mut labels = vec![0u32; width * height];
    for run in &runs {
        let row = run.y as usize * width;
        labels[row + run.x0 as usize..row + run.x1 as usize].fill(run.label);
    }
    (labels, n)
}

/// Sum of one run's values in f64, through eight f32 lanes of partial sums (a lane holds at
/// most a run's width / 8 values of `[0, 1]`: ~1e-7 relative).
fn sum_f32(xs: &[f32]) -> f64 {
    let mut lanes = [0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    lanes.iter().map(|&l| l as f64).sum::<f64>()
        + chunks.remainder().iter().map(|&v| v as f64).sum::<f64>()
}

/// The `fill` output of an upsampled prediction `up` (`1 × 3 × H × W`) for a full-resolution
/// line mask (`Bool`, `1 × 1 × H × W`): each region of [`fill_labels`] painted with the mean of
/// `up` over it, the dilated lines (label 0) left as `up`, clamped to `[0, 1]`. Cel animation
/// paints flat fills between ink lines; the network's prediction varies inside a fill, and the
/// mean of that variation is a better estimate of the fill than any one pixel of it.
pub fn fill_regions(up: &Tensor, lines: &Tensor) -> Result<Tensor> {
    fill_owned(up.shallow_clone(), up, lines, None)
}

/// The `fill` regions ([`fill_runs`] with [`FILL_GAP`]) of a line mask (`Bool`, `1 × 1 × H ×
/// W`, any device).
fn mask_runs(lines: &Tensor, width: usize, height: usize) -> Result<(Vec<Run>, usize, Vec<u8>)> {
    let err = ModelError::torch;
    let mask = lines
        .f_to_kind(Kind::Uint8)
        .and_then(|m| m.f_to_device(Device::Cpu))
        .and_then(|m| m.f_contiguous())
        .map_err(err("reading the line mask"))?;
    let plane = width * height;
    if mask.numel() != plane {
        return Err(ModelError::InvalidInput(format!(
            "fill: a line mask of shape {:?} for a {width}x{height} frame",
            lines.size()
        )));
    }
    let mut bytes = vec![0u8; plane];
    mask.f_copy_data_u8(&mut bytes, plane)
        .map_err(err("reading the line mask"))?;
    let (runs, n) = fill_runs(&bytes, width, height, FILL_GAP);
    Ok((runs, n, bytes))
}

/// An artist keyframe `key` (`1 × 3 × h × w`, any size, `[0, 1]`) resized to `height × width`,
/// planar `3 × H × W` on the host.
fn key_pixels(key: &Tensor, height: i64, width: i64) -> Result<Vec<f32>> {
    let host = resize(key, height, width)?
        .f_to_kind(Kind::Float)
        .and_then(|k| k.f_to_device(Device::Cpu))
        .and_then(|k| k.f_contiguous())
        .map_err(ModelError::torch("reading the keyframe"))?;
    let n = 3 * (height * width) as usize;
    let mut px = vec![0f32; n];
    host.f_copy_data(&mut px, n)
        .map_err(ModelError::torch("reading the keyframe"))?;
    Ok(px)
}

/// The carry of an artist keyframe `key` (`1 × 3 × h × w`, any size, `[0, 1]`) for the frame
/// whose full-resolution line mask is `lines` (`1 × 1 × H × W`): the `fill` regions of that
/// mask, each with the keyframe's mean colour over it (the keyframe resized to `H × W` first).
#[allow(clippy::type_complexity)]
fn key_regions(
    key: &Tensor,
    lines: &Tensor,
    flow: bool,
) -> Result<(
    Option<Carried>,
    Option<Hold>,
    Option<ShiftedHold>,
    Option<FlowHold>,
)> {
    let s = lines.size();
    let (h, w) = (s[2], s[3]);
    let (runs, n, mask) = mask_runs(lines, w as usize, h as usize)?;
    let px = key_pixels(key, h, w)?;
    let plane = (h * w) as usize;
    let mut colour = vec![[0f64; 3]; n];
    let mut size = vec![0u64; n];
    for run in &runs {
        let row = run.y as usize * w as usize;
        for (c, v) in colour[run.label as usize].iter_mut().enumerate() {
            let at = c * plane + row;
            *v += sum_f32(&px[at + run.x0 as usize..at + run.x1 as usize]);
        }
        size[run.label as usize] += u64::from(run.x1 - run.x0);
    }
    for (c, &k) in colour.iter_mut().zip(&size) {
        for v in c.iter_mut() {
            *v /= k.max(1) as f64;
        }
    }
    let flowed = if flow {
        FlowHold::keyframe(w as usize, h as usize, px.clone(), &mask)
            .map_err(ModelError::opencv("preparing the keyframe's optical flow"))?
    } else {
        None
    };
    let px: std::sync::Arc<[f32]> = px.into();
    let shifted = ShiftedHold::keyframe(w as usize, h as usize, px.clone(), &mask, &runs).map_err(
        ModelError::opencv("preparing the keyframe's camera-shift search"),
    )?;
    let hold = Hold::keyframe(w as usize, h as usize, px, mask, runs.clone());
    Ok((
        Carried::keyframe(w as usize, h as usize, runs, size, colour),
        Some(hold),
        Some(shifted),
        flowed,
    ))
}

/// [`fill_regions`] of `up`, painted in place when its CPU `f32` form is a tensor of its own
/// (not sharing `keep`'s storage: at the working size the upsampled prediction *is* the
/// prediction, which the chain keeps as the next previous frame). A 1280×720 frame is 11 MB:
/// a copy more per frame costs more than the fill itself. With `carry`, regions that follow a
/// keyframe's take its colours and the carry moves on to this frame ([`super::carry`]).
fn fill_owned(
    up: Tensor,
    keep: &Tensor,
    lines: &Tensor,
    carry: Option<(&mut KeyframeCarry, bool)>,
) -> Result<Tensor> {
    let s = up.size();
    let (h, w) = (s[2], s[3]);
    let device = up.device();
    let err = ModelError::torch;
    let plane = (h * w) as usize;
    let (runs, n, mask) = mask_runs(lines, w as usize, h as usize)?;

    let mut host = up
        .f_to_kind(Kind::Float)
        .and_then(|u| u.f_to_device(Device::Cpu))
        .and_then(|u| u.f_contiguous())
        .map_err(err("filling regions"))?;
    if host.data_ptr() == keep.data_ptr() {
        let mut copy = host.f_empty_like().map_err(err("filling regions"))?;
        copy.f_copy_(&host).map_err(err("filling regions"))?;
        host = copy;
    }
    assert_eq!(host.numel(), 3 * plane);
    // SAFETY: `host` is a contiguous CPU f32 tensor of 3·H·W elements whose storage nobody
    // else holds (a fresh result of upsampling or conversion, or the copy above); the slice
    // lives only while `host` does and no tensor operation runs on it meanwhile.
    let px = unsafe { std::slice::from_raw_parts_mut(host.data_ptr() as *mut f32, 3 * plane) };
    let span = |run: &Run, c: usize| {
        let at = c * plane + run.y as usize * w as usize;
        at + run.x0 as usize..at + run.x1 as usize
    };
    let mut sums = vec![[0f64; 3]; n];
    let mut counts = vec![0u64; n];
    for run in &runs {
        for (c, s) in sums[run.label as usize].iter_mut().enumerate() {
            *s += sum_f32(&px[span(run, c)]);
        }
        counts[run.label as usize] += u64::from(run.x1 - run.x0);
    }
    for (s, &k) in sums.iter_mut().zip(&counts) {
        for v in s.iter_mut() {
            *v /= k.max(1) as f64;
        }
    }
    let mut hold = None;
    if let Some((c, parallel)) = carry {
        let KeyframeCarry {
            carried: carry,
            held,
            shifted,
            flowed,
            ..
        } = c;
        *carry = carry::follow(
            carry.take(),
            w as usize,
            h as usize,
            &runs,
            &counts,
            &mut sums,
        );
        hold = Some((held, shifted, flowed, parallel));
    }
    for run in &runs {
        for (c, &v) in sums[run.label as usize].iter().enumerate() {
            px[span(run, c)].fill(v as f32);
        }
    }
    if let Some((held, shifted, flowed, parallel)) = hold {
        let (w, h) = (w as usize, h as usize);
        let follow_held =
            |k: Option<Hold>, px: &mut [f32]| k.and_then(|k| k.follow(&mask, &runs, n, w, h, px));
        let plan = |k: ShiftedHold| {
            let shown = k.plan(&mask, &runs, n, w, h);
            (k, shown)
        };
        let flow_plan = |mut k: FlowHold| {
            let moved = k.plan(&mask);
            (k, moved)
        };
        // The moved keyframe's search (most of the carry's time on a frame whose camera moved)
        // and the optical flow on other threads beside the hold, when `parallel`.
        let (planned, moved) = if parallel {
            std::thread::scope(|scope| {
                let shifted_job = shifted.take().map(|k| scope.spawn(move || plan(k)));
                let flow_job = flowed.take().map(|k| scope.spawn(move || flow_plan(k)));
                *held = follow_held(held.take(), px);
                (shifted_job.map(joined), flow_job.map(joined))
            })
        } else {
            *held = follow_held(held.take(), px);
            (shifted.take().map(plan), flowed.take().map(flow_plan))
        };
        *shifted = match planned {
            Some((k, shown)) => {
                match shown.map_err(ModelError::opencv("following the camera's shift"))? {
                    Some(shown) => {
                        k.apply(&shown, px);
                        Some(k)
                    }
                    None => None,
                }
            }
            None => None,
        };
        // The moved last output goes over the other steps' (measured against under them:
        // docs/model-card.md, stage 16); it lasts until the chain resets.
        *flowed = match moved {
            Some((mut k, moved)) => {
                match moved.map_err(ModelError::opencv("following the optical flow"))? {
                    Some(moved) => {
                        k.paint(&moved, px);
                        k.remember(moved, px);
                        Some(k)
                    }
                    None => None,
                }
            }
            None => None,
        };
    }
    host.f_clamp_(0.0, 1.0)
        .and_then(|_| host.f_to_device(device))
        .map_err(err("filling regions"))
}

/// A scoped thread's result; its panic goes on in the caller.
fn joined<T>(job: std::thread::ScopedJoinHandle<'_, T>) -> T {
    job.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The `fill` output of a batch `pred` (`B × C × H × W`) for line masks `lines` (`Bool`,
/// `B × 1 × H × W`), each sample's regions found by [`fill_labels_with_gap`] with `gap`, as
/// tensor operations through which the gradient flows: every pixel of a region gets the mean of
/// `pred` over the region, band pixels (label 0) keep `pred`. With `gap` = [`FILL_GAP`] and one
/// sample it equals [`fill_regions`] (up to the order of the sums). The trainer's fill loss
/// (`tcvc-train --fill-weight`) is the squared error of this against the target: its gradient
/// moves each region's mean towards the target's mean and leaves the variation inside a
/// region, which the `fill` output discards, alone.
pub fn fill_regions_batch(pred: &Tensor, lines: &Tensor, gap: u32) -> Result<Tensor> {
    let err = ModelError::torch;
    let s = pred.size();
    let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
    let plane = (h * w) as usize;
    let n_px = b as usize * plane;
    let mask = lines
        .f_to_kind(Kind::Uint8)
        .and_then(|m| m.f_to_device(Device::Cpu))
        .and_then(|m| m.f_contiguous())
        .map_err(err("reading the line masks"))?;
    if mask.numel() != n_px {
        return Err(ModelError::InvalidInput(format!(
            "fill: line masks of shape {:?} for predictions of shape {s:?}",
            lines.size()
        )));
    }
    let mut bytes = vec![0u8; n_px];
    mask.f_copy_data_u8(&mut bytes, n_px)
        .map_err(err("reading the line masks"))?;
    // Slot 0: every band pixel of the batch (discarded); regions of sample i after those of
    // the samples before it.
    let mut index = Vec::with_capacity(n_px);
    let mut counts = vec![0f32];
    for m in bytes.chunks_exact(plane.max(1)).take(b as usize) {
        let (labels, n) = fill_labels_with_gap(m, w as usize, h as usize, gap);
        let offset = counts.len() as i64 - 1;
        counts.resize(counts.len() + n - 1, 0.0);
        for l in labels {
            let slot = if l == 0 { 0 } else { offset + i64::from(l) };
            counts[slot as usize] += 1.0;
            index.push(slot);
        }
    }
    let device = pred.device();
    let slots = counts.len() as i64;
    (|| -> std::result::Result<Tensor, tch::TchError> {
        let index = Tensor::f_from_slice(&index)?.f_to_device(device)?;
        let counts = Tensor::f_from_slice(&counts)?
            .f_to_device(device)?
            .f_clamp_min(1.0)?
            .f_unsqueeze(1)?;
        let flat = pred
            .f_to_kind(Kind::Float)?
            .f_permute([0, 2, 3, 1])?
            .f_reshape([-1, c])?;
        let means = Tensor::f_zeros([slots, c], (Kind::Float, device))?
            .f_index_add(0, &index, &flat)?
            .f_div(&counts)?;
        let band = index.f_eq(0)?.f_unsqueeze(1)?;
        flat.f_where_self(&band, &means.f_index_select(0, &index)?)?
            .f_reshape([b, h, w, c])?
            .f_permute([0, 3, 1, 2])
    })()
    .map_err(err("filling regions"))
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
    fn enlarging_is_bilinear_per_channel_and_the_same_on_one_thread_and_two() {
        // Sizes whose ratios are not whole; a direct statement of libtorch's bilinear rule
        // (align_corners false): the source of output pixel `o` is (o + ½)·in/out − ½, at
        // least 0, between the two nearest input pixels (the last repeated).
        for (h, w, oh, ow) in [
            (17i64, 23i64, 61i64, 97i64),
            (5, 4, 9, 30),
            (96, 160, 720, 1280),
        ] {
            let x = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
            let before = tch::get_num_threads();
            let outs: Vec<Tensor> = [1, 2]
                .map(|t| {
                    tch::set_num_threads(t);
                    resize(&x, oh, ow).unwrap()
                })
                .into();
            tch::set_num_threads(before);
            assert!(outs[0].equal(&outs[1]), "{h}x{w}: 1 and 2 threads");
            assert_eq!(outs[0].size(), [1, 3, oh, ow]);
            let v: Vec<f32> = x.view([-1]).try_into().unwrap();
            let got: Vec<f32> = outs[0].view([-1]).try_into().unwrap();
            let src = |o: i64, n: i64, out: i64| {
                let s = ((o as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0);
                let i0 = (s.floor() as i64).min(n - 1);
                (i0, (i0 + 1).min(n - 1), s - i0 as f64)
            };
            let step = if oh > 100 { 7 } else { 1 };
            for c in 0..3 {
                for y in (0..oh).step_by(step) {
                    let (y0, y1, fy) = src(y, h, oh);
                    for xo in (0..ow).step_by(step) {
                        let (x0, x1, fx) = src(xo, w, ow);
                        let p = |yy: i64, xx: i64| f64::from(v[((c * h + yy) * w + xx) as usize]);
                        let want = (p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx) * (1.0 - fy)
                            + (p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx) * fy;
                        let g = f64::from(got[((c * oh + y) * ow + xo) as usize]);
                        assert!(
                            (g - want).abs() < 1e-5,
                            "{h}x{w} c{c} ({xo}, {y}): {g} {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_moved_keyframe_beside_the_hold_gives_the_serial_frames() {
        // A drawn world (rings, one line) under a camera that pans, holds and returns to the
        // keyframe's position; the carry with its search on a second thread and on one.
        let (w, h) = (96i64, 64i64);
        let art = |dx: i64, dy: i64| {
            let mut v = vec![1.0f32; (w * h) as usize];
            for y in 0..h {
                for x in 0..w {
                    let (u, t) = (x - dx + 400, y - dy + 400);
                    let (cx, cy) = ((u % 32) as f32 - 16.0, (t % 28) as f32 - 14.0);
                    let r = (cx * cx + cy * cy).sqrt();
                    if (r - 9.0).abs() < 1.0 || u % 61 == 0 {
                        v[(y * w + x) as usize] = 0.0;
                    }
                }
            }
            Tensor::from_slice(&v).view([1, 1, h, w])
        };
        let key = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
        let moves = [(0, 0), (-2, 1), (-4, 2), (-4, 2), (-7, 3), (0, 0), (5, -6)];
        let run = |parallel: bool| {
            let mut c = KeyframeCarry::new(true);
            c.keyframe(&key, &art(0, 0), InputMode::Lineart).unwrap();
            let mut outs = Vec::new();
            let mut moved = 0;
            for (t, &(dx, dy)) in moves.iter().enumerate() {
                let input = art(dx, dy);
                // A flat prediction per frame: the pixels not of this value show the keyframe.
                let pred = Tensor::full(
                    [1, 3, 16, 24],
                    (t as f64 + 1.0) / 10.0,
                    (Kind::Float, Device::Cpu),
                );
                let lines = line_mask(InputMode::Lineart, &input).unwrap();
                let up = resize(&pred, h, w).unwrap();
                outs.push(fill_owned(up, &pred, &lines, Some((&mut c, parallel))).unwrap());
                moved += usize::from(c.shifted.is_some() && (dx, dy) != (0, 0));
            }
            (outs, moved, c.is_carrying())
        };
        let (serial, moved, carrying) = run(false);
        assert!(
            moved >= 3,
            "the moved keyframe was followed ({moved} frames)"
        );
        assert!(carrying);
        let (parallel, ..) = run(true);
        for (t, (a, b)) in serial.iter().zip(&parallel).enumerate() {
            assert!(a.equal(b), "frame {t}");
        }
        // The frames whose camera moved show the keyframe moved, not only the network's fill.
        let keyish = |o: &Tensor| {
            let d = (o - (3.0 / 10.0)).abs().gt(1e-3);
            d.to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
        };
        assert!(keyish(&serial[2]) > 0.5, "{}", keyish(&serial[2]));
    }

    #[test]
    fn keyframe_colours_are_held_until_a_reset() {
        let g = generator();
        let (w, h) = (64i64, 48i64);
        // Line art: one vertical line at x = 31, two regions (x ≤ 29 and x ≥ 33 after the band).
        let mut v = vec![1.0f32; (w * h) as usize];
        for y in 0..h {
            v[(y * w + 31) as usize] = 0.0;
        }
        let input = Tensor::from_slice(&v).view([1, 1, h, w]);
        let (red, blue) = ([0.9f32, 0.1, 0.2], [0.1f32, 0.3, 0.8]);
        let mut k = vec![0f32; (3 * w * h) as usize];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    k[((c * h + y) * w + x) as usize] = if x < 31 {
                        red[c as usize]
                    } else {
                        blue[c as usize]
                    };
                }
            }
        }
        let key = Tensor::from_slice(&k).view([1, 3, h, w]);
        let plain = |p: &Tensor| compose(p, &input, OutputMode::Fill, InputMode::Lineart).unwrap();
        let at = |t: &Tensor, x: i64, y: i64| -> [f32; 3] {
            [0, 1, 2].map(|c| t.double_value(&[0, c, y, x]) as f32)
        };
        let mut s =
            StreamColorizer::new(g.shallow_clone(), InputMode::Lineart, 32, 24, 1.0).unwrap();
        assert!(s.keyframe_carry(), "on by default");
        s.set_previous(&key, &input).unwrap();
        let mut carried_out: Option<Tensor> = None;
        for _ in 0..3 {
            let p = s.step(&input).unwrap().prediction;
            // The previous frame was the keyframe, then the carried output, at working size.
            let prev = match &carried_out {
                None => resize(&key, 24, 32).unwrap(),
                Some(o) => carried_previous(o, (32, 24)).unwrap(),
            };
            let want = g.infer(&resize(&input, 24, 32).unwrap(), &prev).unwrap();
            assert!(
                p.allclose(&want, 0.0, 0.0, false),
                "the network's previous frame"
            );
            let out = s.compose(&p, &input, OutputMode::Fill).unwrap();
            carried_out = Some(out.copy());
            // The line art does not change: every pixel holds the keyframe's value, the lines
            // and the band around them included (the regions' carried means equal it here).
            assert!(out.allclose(&key, 0.0, 1e-6, false), "the keyframe held");
            let base = plain(&p);
            let d = (0..3)
                .map(|c| (at(&base, 15, 20)[c] - red[c]).abs())
                .fold(0f32, f32::max);
            assert!(
                d > 0.05,
                "the network alone does not paint the key's colour"
            );
        }
        // Off, after a reset, after another output mode: the plain fill.
        let check_plain = |s: &mut StreamColorizer, what: &str| {
            let p = s.step(&input).unwrap().prediction;
            let out = s.compose(&p, &input, OutputMode::Fill).unwrap();
            assert!(out.equal(&plain(&p)), "{what}");
        };
        s.set_keyframe_carry(false);
        check_plain(&mut s, "carry off");
        s.set_keyframe_carry(true);
        s.set_previous(&key, &input).unwrap();
        s.set_keyframe_carry(false);
        check_plain(&mut s, "carry turned off after the keyframe");
        s.set_keyframe_carry(true);
        s.set_previous(&key, &input).unwrap();
        s.reset();
        check_plain(&mut s, "after a reset");
        s.set_previous(&key, &input).unwrap();
        let p = s.step(&input).unwrap().prediction;
        let c = s.compose(&p, &input, OutputMode::Color).unwrap();
        assert!(c.equal(&compose(&p, &input, OutputMode::Color, InputMode::Lineart).unwrap()));
        check_plain(&mut s, "after a frame in another output mode");
        // A keyframe set with the carry off carries nothing when it is turned on later.
        s.set_keyframe_carry(false);
        s.set_previous(&key, &input).unwrap();
        s.set_keyframe_carry(true);
        check_plain(&mut s, "keyframe taken while off");
    }

    #[test]
    fn compose_modes() {
        let pred = Tensor::full([1, 3, 2, 2], 0.5, (Kind::Float, Device::Cpu));
        let input = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.2]).view([1, 1, 2, 2]);
        let ink = compose(&pred, &input, OutputMode::Ink, InputMode::Lineart).unwrap();
        assert_eq!(ink.double_value(&[0, 0, 0, 0]), 0.0);
        assert_eq!(ink.double_value(&[0, 1, 0, 1]), 0.5);
        let luma = compose(&pred, &input, OutputMode::Luma, InputMode::Lineart).unwrap();
        // Grey prediction + luma of the input = the input in every channel.
        assert!((luma.double_value(&[0, 2, 1, 1]) - 0.2).abs() < 1e-6);
        let color = compose(&pred, &input, OutputMode::Color, InputMode::Lineart).unwrap();
        assert!(color.allclose(&pred, 0.0, 0.0, false));
    }

    #[test]
    fn fill_labels_close_small_gaps_and_number_regions() {
        // 9x7: a vertical line at x = 4 with a 1-pixel gap at y = 3 (closed by the band), so
        // two regions: x 0..=2 and x 6..=8; the band is x 3..=5.
        let (w, h) = (9, 7);
        let mut lines = vec![0u8; w * h];
        for y in 0..h {
            if y != 3 {
                lines[y * w + 4] = 1;
            }
        }
        let (labels, n) = fill_labels(&lines, w, h);
        assert_eq!(n, 3);
        for y in 0..h {
            for x in 0..w {
                let want = match x {
                    0..=2 => 1,
                    3..=5 => 0,
                    _ => 2,
                };
                assert_eq!(labels[y * w + x], want, "({x}, {y})");
            }
        }
        // A 3-pixel gap stays open: one region around the line's ends.
        let mut lines = vec![0u8; w * h];
        for y in [0, 1, 5, 6] {
            lines[y * w + 4] = 1;
        }
        let (labels, n) = fill_labels(&lines, w, h);
        assert_eq!(n, 2);
        assert_eq!(labels[3 * w + 4], 1);
        assert_eq!(labels[0], labels[w - 1]);
        // An empty frame has the band's label only.
        assert_eq!(fill_labels(&[], 0, 5), (Vec::new(), 1));
        // A U-shaped region merges its arms through the bottom: union-find, one label.
        let (w, h) = (7, 6);
        let mut lines = vec![0u8; w * h];
        for y in 0..2 {
            lines[y * w + 3] = 1;
        }
        let (labels, n) = fill_labels(&lines, w, h);
        assert_eq!(n, 2);
        assert!(labels.iter().enumerate().all(|(i, &l)| {
            let (x, y) = (i % w, i / w);
            (l == 0) == ((2..=4).contains(&x) && y <= 2)
        }));
    }

    #[test]
    fn fill_paints_each_region_with_its_mean_and_keeps_the_band() {
        let (w, h) = (9usize, 7usize);
        let mut input = vec![1.0f32; w * h];
        for y in 0..h {
            input[y * w + 4] = 0.0;
        }
        let input_t = Tensor::from_slice(&input).view([1, 1, h as i64, w as i64]);
        tch::manual_seed(3);
        let pred = Tensor::rand([1, 3, h as i64, w as i64], (Kind::Float, Device::Cpu));
        let before = pred.copy();
        // Same size: the "upsampled" prediction is the prediction itself, which the chain keeps
        // as its previous frame: the fill must paint a copy.
        let out = compose(&pred, &input_t, OutputMode::Fill, InputMode::Lineart).unwrap();
        assert!(
            pred.equal(&before),
            "the fill painted the prediction itself"
        );
        for c in 0..3i64 {
            let mean = |xs: std::ops::RangeInclusive<usize>| {
                let mut s = 0.0;
                let mut k = 0.0;
                for y in 0..h {
                    for x in xs.clone() {
                        s += pred.double_value(&[0, c, y as i64, x as i64]);
                        k += 1.0;
                    }
                }
                s / k
            };
            let (left, right) = (mean(0..=2), mean(6..=8));
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let got = out.double_value(&[0, c, y, x]);
                    let want = match x {
                        0..=2 => left,
                        3..=5 => pred.double_value(&[0, c, y, x]),
                        _ => right,
                    };
                    assert!(
                        (got - want).abs() < 1e-6,
                        "c {c} ({x}, {y}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn fill_labels_with_gap_0_keeps_the_lines_alone_and_4_connected_regions_do_not_cross_diagonals()
    {
        // The 9x7 line with a 1-pixel gap: without dilation the gap joins both sides.
        let (w, h) = (9, 7);
        let mut lines = vec![0u8; w * h];
        for y in 0..h {
            if y != 3 {
                lines[y * w + 4] = 1;
            }
        }
        let (labels, n) = fill_labels_with_gap(&lines, w, h, 0);
        assert_eq!(n, 2);
        assert!(labels
            .iter()
            .zip(&lines)
            .all(|(&l, &m)| (l == 0) == (m != 0)));
        // A diagonal (8-connected) line from corner to corner separates two regions.
        let (w, h) = (6, 6);
        let mut lines = vec![0u8; w * h];
        for i in 0..w {
            lines[i * w + i] = 1;
        }
        let (labels, n) = fill_labels_with_gap(&lines, w, h, 0);
        assert_eq!(n, 3);
        assert_ne!(labels[1], labels[w]);
        assert_eq!(
            fill_labels_with_gap(&lines, w, h, FILL_GAP),
            fill_labels(&lines, w, h)
        );
    }

    fn random_lines(b: i64, h: i64, w: i64, seed: i64) -> Tensor {
        // Random specks and a cross through the frame: four regions at least.
        tch::manual_seed(seed);
        let m = Tensor::rand([b, 1, h, w], (Kind::Float, Device::Cpu)).lt(0.08);
        let _ = m.narrow(2, h / 2, 1).fill_(1);
        let _ = m.narrow(3, w / 3, 1).fill_(1);
        m
    }

    #[test]
    fn fill_regions_batch_equals_the_fill_output_per_sample() {
        let (b, h, w) = (3i64, 23i64, 31i64);
        let lines = random_lines(b, h, w, 11);
        let pred = Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu));
        let batch = fill_regions_batch(&pred, &lines, FILL_GAP).unwrap();
        for i in 0..b {
            let one = fill_regions(&pred.get(i).unsqueeze(0), &lines.get(i).unsqueeze(0)).unwrap();
            let d = (&batch.get(i) - one.squeeze_dim(0))
                .abs()
                .max()
                .double_value(&[]);
            assert!(d < 1e-6, "sample {i}: max difference {d}");
        }
        assert!(fill_regions_batch(&pred, &lines.narrow(0, 0, 2), 0).is_err());
    }

    #[test]
    fn fill_regions_batch_gradient_is_the_region_mean_of_the_upstream_gradient() {
        // d/dpred sum(fill(pred) · t) = mean of t over the pixel's region, or t on the band.
        let (b, h, w) = (2i64, 13i64, 17i64);
        let lines = random_lines(b, h, w, 5);
        let pred = Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let t = Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu));
        let filled = fill_regions_batch(&pred, &lines, 0).unwrap();
        (&filled * &t).sum(Kind::Float).backward();
        let grad = pred.grad();
        for i in 0..b {
            let m: Vec<u8> =
                Vec::try_from(lines.get(i).flatten(0, -1).to_kind(Kind::Uint8)).unwrap();
            let (labels, n) = fill_labels_with_gap(&m, w as usize, h as usize, 0);
            assert!(n > 3, "the random mask has regions");
            for c in 0..3 {
                let tc: Vec<f32> = Vec::try_from(t.get(i).get(c).flatten(0, -1)).unwrap();
                let mut sum = vec![0f64; n];
                let mut count = vec![0f64; n];
                for (&l, &v) in labels.iter().zip(&tc) {
                    sum[l as usize] += v as f64;
                    count[l as usize] += 1.0;
                }
                for (p, &l) in labels.iter().enumerate() {
                    let want = if l == 0 {
                        tc[p] as f64
                    } else {
                        sum[l as usize] / count[l as usize]
                    };
                    let (y, x) = ((p / w as usize) as i64, (p % w as usize) as i64);
                    let got = grad.double_value(&[i, c, y, x]);
                    assert!(
                        (got - want).abs() < 1e-5,
                        "({i}, {c}, {y}, {x}): {got} vs {want}"
                    );
                }
            }
        }
    }

    /// `KeyframeBack` with the flow carries a keyframe's colours back onto a shape that moved
    /// towards the keyframe's position over the frames before it, nearest first; the camera's
    /// move alone paints the keyframe as it was where the shape has not yet arrived.
    #[test]
    fn keyframe_back_moves_the_key_back_along_the_flow() {
        let (w, h, side) = (96usize, 64usize, 22usize);
        // Line art (black on white) with the outline of a square at (x0, y0) and fixed lines;
        // the key paints the square red on blue.
        let frame = |x0: usize, y0: usize| {
            let mut input = vec![1f32; w * h];
            let mut key = vec![0f32; 3 * w * h];
            for y in 0..h {
                for x in 0..w {
                    let inside = (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y);
                    let edge =
                        inside && (x == x0 || x == x0 + side - 1 || y == y0 || y == y0 + side - 1);
                    let i = y * w + x;
                    if edge || (x == 80 && y > 8 && y < 56) || (y == 58 && x > 4) {
                        input[i] = 0.0;
                    }
                    key[i] = if inside { 0.9 } else { 0.1 };
                    key[w * h + i] = 0.2;
                    key[2 * w * h + i] = if inside { 0.1 } else { 0.8 };
                }
            }
            let t = |v: Vec<f32>, c: i64| Tensor::from_slice(&v).view([1, c, h as i64, w as i64]);
            (t(input, 1), t(key, 3))
        };
        // The key at (26, 20); the two frames before it, nearest first, at (23, 18), (20, 16).
        let (key_input, key) = frame(26, 20);
        let red_inside = |rgb8: &[u8], x0: usize, y0: usize| {
            let mut red = 0;
            for y in y0 + 3..y0 + side - 3 {
                for x in x0 + 3..x0 + side - 3 {
                    let p = &rgb8[3 * (y * w + x)..][..3];
                    red += usize::from(p[0] > 200 && p[2] < 60);
                }
            }
            (red, (side - 6) * (side - 6))
        };
        let mut outputs = Vec::new();
        for flow in [false, true] {
            let mut back = KeyframeBack::new(&key, &key_input, InputMode::Lineart, flow).unwrap();
            for (step, (x0, y0)) in [(23, 18), (20, 16)].into_iter().enumerate() {
                let (input, _) = frame(x0, y0);
                let mut rgb8 = vec![128u8; 3 * w * h];
                assert!(
                    back.paint(&mut rgb8, &input).unwrap(),
                    "step {step}: nothing"
                );
                let (red, all) = red_inside(&rgb8, x0, y0);
                if flow {
                    assert_eq!(
                        red, all,
                        "step {step}: the flow left the square partly unpainted"
                    );
                } else {
                    assert!(
                        red < all,
                        "step {step}: the camera's move alone painted the square"
                    );
                }
                outputs.push((input, rgb8));
            }
        }
        // The band (the lines and the pixel around them) keeps what the camera's move painted.
        for step in 0..2 {
            let (input, without) = &outputs[step];
            let with = &outputs[2 + step].1;
            let lines: Vec<u8> = Vec::<f32>::try_from(input.view([-1]))
                .unwrap()
                .iter()
                .map(|&v| u8::from(v <= 0.5))
                .collect();
            let band = super::super::carry::dilate(&lines, w, h, 1);
            for i in (0..w * h).filter(|&i| band[i] != 0) {
                assert_eq!(
                    with[3 * i..][..3],
                    without[3 * i..][..3],
                    "step {step}: band pixel {i}"
                );
            }
        }
    }
}
