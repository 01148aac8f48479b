// SPDX-License-Identifier: MIT
use super::messages::{Reason, Reset};
use super::pattern::FramePattern;
use crate::device::DeviceSpec;
use crate::formatcaps::{self, MAX_SIDE};
use crate::model::batch::{self, BatchKey, Batcher};
use crate::model::cache::{self, CachedModel};
use crate::model::lookahead::{Lookahead, NextKeyframe};
use crate::model::stream::{
    plane_to_tensor, tensor_to_rgb8, KeyframeBack, OutputMode, StreamColorizer,
    DEFAULT_SCENE_THRESHOLD, MAX_SMOOTHING,
};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::base_transform::{BaseTransformImplExt, GenerateOutputSuccess};
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::VideoFormat;
use once_cell::sync::Lazy;
use std::path::Path;
use std::sync::{Arc, Mutex};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "tcvccolorize",
        gst::DebugColorFlags::empty(),
        Some("TCVC colorization"),
    )
});

const SRC_FORMATS: &[VideoFormat] = &[
    VideoFormat::Rgb,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Rgba,
];

#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcColorizePrecision")]
pub enum Precision {
    #[default]
    #[enum_value(name = "32-bit float", nick = "fp32")]
    Fp32 = 0,
    #[enum_value(
        name = "bfloat16 (fast on CPUs with AVX-512 BF16 / AMX, and on GPUs)",
        nick = "bf16"
    )]
    Bf16 = 1,
    #[enum_value(name = "float16 (CUDA only)", nick = "fp16")]
    Fp16 = 2,
}

#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcColorizeOutputMode")]
pub enum Output {
    #[default]
    #[enum_value(
        name = "what the model file recommends (its output_mode metadata), else ink for line-art models and luma for greyscale models",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "prediction upsampled, multiplied by the full-resolution line art",
        nick = "ink"
    )]
    Ink = 1,
    #[enum_value(
        name = "full-resolution input luma, chroma from the prediction",
        nick = "luma"
    )]
    Luma = 2,
    #[enum_value(name = "upsampled prediction as is", nick = "color")]
    Color = 3,
    #[enum_value(
        name = "flat fills: each region the line art encloses painted with the prediction's mean over it",
        nick = "fill"
    )]
    Fill = 4,
}

#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcColorizePreviousFrame")]
pub enum Previous {
    #[default]
    #[enum_value(
        name = "what the model file says (its previous_frame metadata): the chain for TCVC models, blank for the ablation trained without one",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "the model's own previous output (reset at cuts, flushes and caps changes; an artist keyframe replaces it)",
        nick = "chain"
    )]
    Chain = 1,
    #[enum_value(
        name = "a blank previous frame on every frame: each frame coloured on its own (keyframes are output but not propagated)",
        nick = "blank"
    )]
    Blank = 2,
}

#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcColorizeWorkingOrientation")]
pub enum Orientation {
    #[default]
    #[enum_value(
        name = "what the model file says: turn for a model trained with frames of the other orientation turned (its working_orientation metadata), else model",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "the working size's orientation follows the frame's: portrait frames under a landscape training size run at it turned a quarter (224x128 -> 128x224), and the other way round",
        nick = "turn"
    )]
    Turn = 1,
    #[enum_value(
        name = "the model's training size as is for every frame (portrait frames squeezed into a landscape size)",
        nick = "model"
    )]
    Model = 2,
}

impl From<Orientation> for crate::model::WorkingOrientation {
    fn from(o: Orientation) -> Self {
        match o {
            Orientation::Auto => crate::model::WorkingOrientation::Auto,
            Orientation::Turn => crate::model::WorkingOrientation::Turn,
            Orientation::Model => crate::model::WorkingOrientation::Model,
        }
    }
}

impl From<Previous> for crate::model::PreviousChoice {
    fn from(p: Previous) -> Self {
        match p {
            Previous::Auto => crate::model::PreviousChoice::Auto,
            Previous::Chain => crate::model::PreviousChoice::Chain,
            Previous::Blank => crate::model::PreviousChoice::Blank,
        }
    }
}

impl From<Precision> for crate::model::Precision {
    fn from(p: Precision) -> Self {
        match p {
            Precision::Fp32 => crate::model::Precision::Fp32,
            Precision::Bf16 => crate::model::Precision::Bf16,
            Precision::Fp16 => crate::model::Precision::Fp16,
        }
    }
}

impl From<Output> for crate::model::OutputChoice {
    fn from(o: Output) -> Self {
        match o {
            Output::Auto => crate::model::OutputChoice::Auto,
            Output::Ink => crate::model::OutputChoice::Ink,
            Output::Luma => crate::model::OutputChoice::Luma,
            Output::Color => crate::model::OutputChoice::Color,
            Output::Fill => crate::model::OutputChoice::Fill,
        }
    }
}

/// Working size property default: 0 × 0 = the model's training size.
const DEFAULT_WORKING: u32 = 0;

#[derive(Debug, Clone)]
struct Settings {
    model_file: Option<String>,
    device: String,
    precision: Precision,
    threads: u32,
    working_width: u32,
    working_height: u32,
    working_orientation: Orientation,
    scene_threshold: f64,
    output_mode: Output,
    previous_frame: Previous,
    flip_average: bool,
    temporal_smoothing: f64,
    keyframe_location: Option<String>,
    keyframe_carry: bool,
    keyframe_flow: bool,
    keyframe_lookahead: u32,
    model_instance_id: Option<String>,
    batch_size: u32,
    batched_push_timeout: i64,
}

/// `keyframe-lookahead`'s largest value (frames): ten seconds at 25 frames/s.
const MAX_LOOKAHEAD: u32 = 250;

/// `batched-push-timeout` default (µs): one frame at 25 frames/s.
const DEFAULT_BATCHED_PUSH_TIMEOUT: i64 = 40_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model_file: None,
            device: "auto".into(),
            precision: Precision::Fp32,
            threads: 0,
            working_width: DEFAULT_WORKING,
            working_height: DEFAULT_WORKING,
            working_orientation: Orientation::Auto,
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            output_mode: Output::Auto,
            previous_frame: Previous::Auto,
            flip_average: false,
            temporal_smoothing: 0.0,
            keyframe_location: None,
            keyframe_carry: true,
            keyframe_flow: true,
            keyframe_lookahead: 0,
            model_instance_id: None,
            batch_size: 1,
            batched_push_timeout: DEFAULT_BATCHED_PUSH_TIMEOUT,
        }
    }
}

struct Stream {
    colorizer: StreamColorizer,
    /// The cross-stream batch group (`model-instance-id`), if any.
    batcher: Option<Arc<Batcher>>,
    grey: Vec<u8>,
    rgb: Vec<u8>,
    /// The negotiated input and output.
    in_info: gst_video::VideoInfo,
    out_info: gst_video::VideoInfo,
}

/// An output held back by `keyframe-lookahead` ([`Lookahead`]).
enum Held {
    Frame(gst::Buffer),
    /// A serialized event that came after a held frame (tags, custom events).
    Event(gst::Event),
}

struct State {
    model: Arc<CachedModel>,
    device: tch::Device,
    stream: Option<Stream>,
    /// Frames seen since the stream started (used when there is no PTS or framerate).
    counter: u64,
    /// The PTS of the last frame coloured (a DISCONT that continues it is no reset).
    last_pts: Option<gst::ClockTime>,
    /// Reset reason to report on the next frame.
    pending: Option<Reason>,
    /// Outputs held for the next keyframe (`keyframe-lookahead`).
    look: Lookahead<Held>,
    /// The keyframe files found ahead (`keyframe-lookahead`: one check a frame).
    next_key: NextKeyframe,
    /// Set by `transform_frame` when the frame it made is held (`keyframe-lookahead`): with its
    /// input plane when it waits for a keyframe; taken by `generate_output` with its buffer.
    hold_next: Option<Option<Vec<u8>>>,
    /// No frame went out since the stream started or was flushed: the next one never waits,
    /// so that the sinks preroll on it (a pipeline that also plays audio would otherwise stop
    /// with its audio queue full while the first frames wait).
    fresh: bool,
}

#[derive(Default)]
pub struct Colorize {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

/// The generator's smallest input side.
const MIN_WORKING_SIDE: i64 = 12;

/// The working size for a `w × h` input: both properties 0 (the default) = the model's training
/// size `train`, turned for a frame of the other orientation as `working-orientation` says (its
/// `auto` following the model file's `file`); one 0 = from the other and the input's aspect
/// ratio; else as set.
fn working_size(
    s: &Settings,
    w: u32,
    h: u32,
    train: (u32, u32),
    file: crate::model::WorkingOrientation,
) -> (i64, i64) {
    let round4 = |v: f64| ((v / 4.0).round() as i64 * 4).max(MIN_WORKING_SIDE);
    match (s.working_width, s.working_height) {
        (0, 0) => {
            let (ww, wh) = crate::model::WorkingOrientation::from(s.working_orientation)
                .resolve(file)
                .working(train, (w, h));
            (ww as i64, wh as i64)
        }
        (0, wh) => (round4(wh as f64 * w as f64 / h as f64), wh as i64),
        (ww, 0) => (ww as i64, round4(ww as f64 * h as f64 / w as f64)),
        (ww, wh) => (ww as i64, wh as i64),
    }
}

impl Colorize {
    fn post_reset(&self, reason: Reason, frame: u64) {
        gst::info!(
            CAT,
            imp = self,
            "chain reset before frame {frame}: {reason:?}"
        );
        let s = gst::Structure::from(&Reset { reason, frame });
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
    }

    /// Runs `f` on the running stream's colorizer, if a stream runs (a property set while
    /// playing applies from its next frame).
    fn with_colorizer(&self, f: impl FnOnce(&mut StreamColorizer)) {
        if let Some(stream) = self
            .state
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|st| st.stream.as_mut())
        {
            f(&mut stream.colorizer);
        }
    }

    /// Drops the previous frame; reported with the next frame when one was held.
    fn reset_chain(&self, reason: Reason) {
        let mut state = self.state.lock().unwrap();
        if let Some(state) = state.as_mut() {
            if let Some(stream) = state.stream.as_mut() {
                if stream.colorizer.has_previous() {
                    state.pending = Some(reason);
                }
                stream.colorizer.reset();
            }
        }
    }

    fn frame_number(&self, buf: &gst::BufferRef, info: &gst_video::VideoInfo, counter: u64) -> u64 {
        let fps = info.fps();
        let segment = self.obj().segment();
        let stream_time = segment
            .downcast_ref::<gst::ClockTime>()
            .and_then(|s| s.to_stream_time(buf.pts()?));
        match stream_time {
            Some(t) if fps.numer() > 0 => t
                .nseconds()
                .mul_div_round(fps.numer() as u64, fps.denom() as u64 * 1_000_000_000)
                .unwrap_or(counter),
            _ => counter,
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Colorize {
    const NAME: &'static str = "GstTcvcColorize";
    type Type = super::Colorize;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for Colorize {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![
                glib::ParamSpecString::builder("model-file")
                    .nick("Model file")
                    .blurb("Model file (.safetensors from tcvc-train --export: TCVC, or the pix2pix baseline; tools/convert_reference.py converts reference-code checkpoints). Unset or empty: the default model built into the plugin (models/tcvc-default.safetensors of the source tree, see docs/model-card.md)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb("auto (cuda:0 if present, else cpu), cpu, cuda or cuda:N; an explicit CUDA request without CUDA is an error")
                    .default_value(Some("auto"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("precision", Precision::Fp32)
                    .nick("Precision")
                    .blurb("Inference precision: fp32, bf16 (the CPU speed lever), fp16 (CUDA only)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("libtorch intra-op CPU threads for the whole process (0 = libtorch's default, all cores)")
                    .maximum(1024)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("working-width")
                    .nick("Working width")
                    .blurb("Inference width (both 0: the model's training size, e.g. 224x128 for the default model, 256x256 for the paper's; only this one 0: from working-height and the input's aspect ratio, multiple of 4)")
                    .maximum(MAX_SIDE as u32)
                    .default_value(DEFAULT_WORKING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("working-height")
                    .nick("Working height")
                    .blurb("Inference height (both 0: the model's training size; only this one 0: from working-width and the input's aspect ratio, multiple of 4)")
                    .maximum(MAX_SIDE as u32)
                    .default_value(DEFAULT_WORKING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("working-orientation", Orientation::Auto)
                    .nick("Working orientation")
                    .blurb("With working-width and working-height both 0: turn runs frames of the other orientation at the model's training size turned a quarter (a portrait frame at 128x224 under a 224x128 model instead of squeezed into it); model keeps the training size for every frame; auto does what the model file says (turn for a model trained with such frames turned, else model)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("scene-threshold")
                    .nick("Scene threshold")
                    .blurb("Scene cuts reset the chain: a frame is a cut when its line-art cut score (0..1: 0.25 x the share of line pixels with no line within 1 px in the previous frame + 0.75 x how much line density moved between the cells of a 8x6 grid) exceeds this and stands out from the shot's own motion (at least 1.5 x the shot's peak score over its last 8 frames + 0.1; above 0.5 in a shot's first 6 frames). 1.0 disables")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SCENE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("output-mode", Output::Auto)
                    .nick("Output mode")
                    .blurb("How the full-resolution output is made: auto, ink, luma, color, fill")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("previous-frame", Previous::Auto)
                    .nick("Previous frame")
                    .blurb("What the network gets as its previous frame: auto (as the model file says), chain (its own previous output, as the paper), blank (every frame on its own). The default model measured 0.29 dB more on its held-out test clips with its chain, 0.51 dB less on 100-frame shots (docs/model-card.md); keyframes need the chain")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("flip-average")
                    .nick("Flip average")
                    .blurb("Test-time augmentation: each prediction is the mean of the network's output for the frame and, mirrored back, for its left-right mirror (and of the previous frame's). Twice the network's work; with the 160x96 default of 2026-12-05 +0.07 dB and 4-8 % less temporal error frame by frame, -0.12 to +0.04 dB with the chain (docs/model-card.md)")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("temporal-smoothing")
                    .nick("Temporal smoothing")
                    .blurb("Steadies the output's colours: where the line art did not change around a pixel since the last frame and the new prediction is near the last output's colour there, the output keeps that much (0 off, up to 0.95) of the last output; whatever moves or is repainted follows the network. The chain still gets the network's own prediction. With the default model at 0.8: 7-14 % less temporal error, 19-35 % less static flicker, PSNR within 0.03 dB (docs/colorize.md)")
                    .minimum(0.0)
                    .maximum(MAX_SMOOTHING)
                    .default_value(0.0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("model-instance-id")
                    .nick("Model instance id")
                    .blurb("Elements of this process with the same id put their frames into one forward pass (batching across streams, as DL Streamer's model-instance-id); each keeps its own chain, resets and messages. They need the same model, device, precision and working size. Unset: no batching")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("batch-size")
                    .nick("Batch size")
                    .blurb("Frames per forward pass of the model-instance-id group (the group's first element sets it)")
                    .minimum(1)
                    .maximum(256)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecInt64::builder("batched-push-timeout")
                    .nick("Batched push timeout")
                    .blurb("Microseconds a frame waits for the batch to fill before the pass runs with what is there (as DeepStream's nvstreammux); a stream that stalls, seeks or ends never holds the others longer (the group's first element sets it)")
                    .minimum(0)
                    .maximum(10_000_000)
                    .default_value(DEFAULT_BATCHED_PUSH_TIMEOUT)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("keyframe-location")
                    .nick("Keyframe location")
                    .blurb("printf pattern of artist keyframes, e.g. keys/%05d.png: when the file for frame N exists it is output N and the previous frame of N+1")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("keyframe-carry")
                    .nick("Keyframe carry")
                    .blurb("In the fill output, a keyframe's pixels stay where the line art matches the keyframe's moved with the camera (a whole-frame shift found by phase correlation) or has not changed since it, and its colours on the regions that can be followed (a region overlapping a carrying region of the frame before by an intersection over union of 0.2 or more takes its colour), and over these each frame shows the one before moved along the optical flow of the line art where that flow comes back and lands inside the frame off the lines, until the next keyframe or reset; the other regions are the network's, and the network's next previous frame is this output. Off: the keyframe is only the network's previous frame. With the default model and the originals as keyframes every 24 frames: +4.7 to +5.1 dB on the corpus's validation clips, +7.8 to +9.8 dB on its 100-frame shots (docs/colorize.md)")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("keyframe-flow")
                    .nick("Keyframe carry's optical flow")
                    .blurb("With keyframe-carry, also move each frame's output on to the next along the optical flow of the line art (OpenCV DIS, searched at most 480 pixels wide or high) where that flow comes back and lands inside the frame off the lines, from the frame after a keyframe until the next reset. Off: the carry's other steps only, at about a third of its cost at 1280x720. With the default model and the originals as keyframes every 24 frames: +0.47 / +0.89 dB on two renderings of the corpus's validation and 100-frame clips (docs/colorize.md)")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("keyframe-lookahead")
                    .nick("Keyframe lookahead")
                    .blurb("Frames (0 = off) to look ahead for the next artist keyframe: with keyframe-location and keyframe-carry in the fill output, a frame nearer to a keyframe file of the next this-many frames than to the last keyframe waits for it, and the keyframe is moved back into it with the camera and along the optical flow (keyframe-flow), as tcvc-episode colorize --keyframe-backward does, before the frames go out in order. Not across resets or cuts. Every frame but the first after a start or flush (on which the sinks preroll) goes out this many frames late: latency reported to latency queries, and this many output frames held in memory")
                    .maximum(MAX_LOOKAHEAD)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "model-file" => s.model_file = value.get().expect("type checked upstream"),
            "device" => {
                s.device = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| "auto".into())
            }
            "precision" => s.precision = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            "working-width" => s.working_width = value.get().expect("type checked upstream"),
            "working-height" => s.working_height = value.get().expect("type checked upstream"),
            "working-orientation" => {
                s.working_orientation = value.get().expect("type checked upstream")
            }
            "scene-threshold" => {
                s.scene_threshold = value.get().expect("type checked upstream");
                let v = s.scene_threshold;
                drop(s);
                self.with_colorizer(|c| c.set_scene_threshold(v));
            }
            "output-mode" => s.output_mode = value.get().expect("type checked upstream"),
            "previous-frame" => {
                s.previous_frame = value.get().expect("type checked upstream");
                let v = s.previous_frame;
                drop(s);
                if let Some(st) = self.state.lock().unwrap().as_mut() {
                    let blank =
                        crate::model::PreviousChoice::from(v).blank(st.model.meta.previous_frame);
                    if let Some(stream) = st.stream.as_mut() {
                        stream.colorizer.set_blank_previous(blank);
                    }
                }
            }
            "flip-average" => {
                s.flip_average = value.get().expect("type checked upstream");
                let v = s.flip_average;
                drop(s);
                self.with_colorizer(|c| c.set_flip_average(v));
            }
            "temporal-smoothing" => {
                s.temporal_smoothing = value.get().expect("type checked upstream");
                let v = s.temporal_smoothing;
                drop(s);
                self.with_colorizer(|c| {
                    // The ParamSpec's bounds are MAX_SMOOTHING's: this cannot fail.
                    if let Err(e) = c.set_temporal_smoothing(v) {
                        gst::warning!(CAT, imp = self, "{e}");
                    }
                });
            }
            "keyframe-location" => {
                s.keyframe_location = value.get().expect("type checked upstream")
            }
            "keyframe-carry" => {
                s.keyframe_carry = value.get().expect("type checked upstream");
                let v = s.keyframe_carry;
                drop(s);
                self.with_colorizer(|c| c.set_keyframe_carry(v));
            }
            "keyframe-flow" => {
                s.keyframe_flow = value.get().expect("type checked upstream");
                let v = s.keyframe_flow;
                drop(s);
                self.with_colorizer(|c| c.set_keyframe_flow(v));
            }
            "keyframe-lookahead" => {
                s.keyframe_lookahead = value.get().expect("type checked upstream")
            }
            "model-instance-id" => {
                s.model_instance_id = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|v| !v.is_empty())
            }
            "batch-size" => s.batch_size = value.get().expect("type checked upstream"),
            "batched-push-timeout" => {
                s.batched_push_timeout = value.get().expect("type checked upstream")
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model-file" => s.model_file.to_value(),
            "device" => s.device.to_value(),
            "precision" => s.precision.to_value(),
            "threads" => s.threads.to_value(),
            "working-width" => s.working_width.to_value(),
            "working-height" => s.working_height.to_value(),
            "working-orientation" => s.working_orientation.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
            "output-mode" => s.output_mode.to_value(),
            "previous-frame" => s.previous_frame.to_value(),
            "flip-average" => s.flip_average.to_value(),
            "temporal-smoothing" => s.temporal_smoothing.to_value(),
            "keyframe-location" => s.keyframe_location.to_value(),
            "keyframe-carry" => s.keyframe_carry.to_value(),
            "keyframe-flow" => s.keyframe_flow.to_value(),
            "keyframe-lookahead" => s.keyframe_lookahead.to_value(),
            "model-instance-id" => s.model_instance_id.to_value(),
            "batch-size" => s.batch_size.to_value(),
            "batched-push-timeout" => s.batched_push_timeout.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for Colorize {}

impl ElementImpl for Colorize {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "TCVC colorize",
                "Filter/Effect/Video",
                "Colorizes line art (or greyscale) video with the TCVC generator, conditioned on \
                 the previous output frame (Thasarathan, Nazeri & Ebrahimi 2019)",
                "gst-tcvc developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static T: Lazy<Vec<gst::PadTemplate>> =
            Lazy::new(|| formatcaps::pad_templates(&[VideoFormat::Gray8], SRC_FORMATS));
        T.as_ref()
    }
}

impl BaseTransformImpl for Colorize {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let spec: DeviceSpec = s
            .device
            .parse()
            .map_err(|e: String| gst::error_msg!(gst::LibraryError::Settings, ["{e}"]))?;
        let device = spec
            .resolve()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ["{e}"]))?;
        let kind = crate::model::Precision::from(s.precision)
            .kind(device)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ["precision={e}"]))?;
        if let Some(pattern) = &s.keyframe_location {
            if let Err(e) = FramePattern::parse(pattern) {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["keyframe-location {e}"]
                ));
            }
        }
        for (name, v) in [
            ("working-width", s.working_width),
            ("working-height", s.working_height),
        ] {
            if v > 0 && i64::from(v) < MIN_WORKING_SIDE {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["{name}={v} is too small: the generator needs at least {MIN_WORKING_SIDE} pixels; set it to {MIN_WORKING_SIDE} or more, or 0 for the model's training size"]
                ));
            }
        }
        if s.threads > 0 {
            tch::set_num_threads(s.threads as i32);
        }
        let model = match s.model_file.filter(|p| !p.is_empty()) {
            Some(path) => cache::load_shared(Path::new(&path), device, kind).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenRead,
                    ["Cannot use model-file '{path}': {e}"]
                )
            })?,
            None => cache::load_default(device, kind).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenRead,
                    ["Cannot load the built-in default model: {e}; set model-file=PATH to a model file"]
                )
            })?,
        };
        if let Some(problem) = &model.weights_problem {
            gst::warning!(CAT, imp = self, "model {}: {problem}", model.path.display());
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ["The model {} looks untrained or broken: {problem}; its output will be meaningless. Use a model written by tcvc-train or tools/convert_reference.py", model.path.display()]
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "model {} ({}, {}, previous frame {}) on {device:?} as {kind:?}",
            model.path.display(),
            model.shared.describe(),
            model.meta.input_mode,
            model.meta.previous_frame.as_str()
        );
        *self.state.lock().unwrap() = Some(State {
            model,
            device,
            stream: None,
            counter: 0,
            last_pts: None,
            pending: None,
            look: Lookahead::default(),
            next_key: NextKeyframe::default(),
            hold_next: None,
            fresh: true,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        Some(formatcaps::transform_caps(
            direction,
            caps,
            filter,
            &[VideoFormat::Gray8],
            SRC_FORMATS,
        ))
    }

    fn generate_output(&self) -> Result<GenerateOutputSuccess, gst::FlowError> {
        let out = self.parent_generate_output();
        let mut guard = self.state.lock().unwrap();
        let Some(st) = guard.as_mut() else {
            return out;
        };
        let hold = st.hold_next.take();
        match out? {
            GenerateOutputSuccess::Buffer(buffer) if hold.is_none() && st.look.is_empty() => {
                return Ok(GenerateOutputSuccess::Buffer(buffer));
            }
            GenerateOutputSuccess::Buffer(buffer) => {
                // A held frame leaves the output pool's buffer to the next frame.
                let buffer = buffer.copy_deep().map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Failed,
                        ["Cannot hold a frame for keyframe-lookahead: {e}"]
                    );
                    gst::FlowError::Error
                })?;
                st.look.push(Held::Frame(buffer), hold.flatten());
            }
            other if st.look.is_empty() => return Ok(other),
            _ => (),
        }
        drop(guard);
        // Every held frame goes out once `keyframe-lookahead` newer frames came: the same delay
        // for all, so that a synchronised sink sees a steady stream.
        let keep = self.settings.lock().unwrap().keyframe_lookahead as usize;
        // The base class calls this again while it returns buffers: one held output a call.
        loop {
            let next = self
                .state
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|st| st.look.pop_ready(keep));
            match next {
                Some(Held::Frame(buffer)) => return Ok(GenerateOutputSuccess::Buffer(buffer)),
                Some(Held::Event(event)) => {
                    self.obj().src_pad().push_event(event);
                }
                None => return Ok(GenerateOutputSuccess::NoOutput),
            }
        }
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Sink {
            if let gst::QueryViewMut::Drain(_) = query.view_mut() {
                if self.drain_held().is_err() {
                    return false;
                }
            }
            return BaseTransformImplExt::parent_query(self, direction, query);
        }
        if !BaseTransformImplExt::parent_query(self, direction, query) {
            return false;
        }
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let add = self.lookahead_latency();
            if add > gst::ClockTime::ZERO {
                let (live, min, max) = q.result();
                gst::debug!(CAT, imp = self, "keyframe-lookahead adds {add} of latency");
                q.set(live, min + add, max.map(|m| m + add));
            }
        }
        true
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        use gst::EventType as T;
        if event.is_serialized() && event.type_() != T::FlushStop {
            let mut guard = self.state.lock().unwrap();
            if let Some(st) = guard.as_mut().filter(|st| !st.look.is_empty()) {
                let skip = match event.view() {
                    gst::EventView::Gap(gap) => self.gap_skips(gap, st.last_pts),
                    _ => false,
                };
                match event.type_() {
                    // These keep their place among the held frames, and so does a gap that
                    // only skips frames (a lost packet): the chain goes on, the wait too.
                    T::Tag | T::CustomDownstream | T::CustomDownstreamSticky | T::CustomBoth => {
                        st.look.push_other(Held::Event(event));
                        return true;
                    }
                    T::Gap if skip => {
                        gst::debug!(CAT, imp = self, "gap skips frames: held with the frames");
                        st.look.push_other(Held::Event(event));
                        return true;
                    }
                    // The others (EOS, a segment, caps, a gap, a new stream...) end the wait.
                    _ => {
                        drop(guard);
                        if self.drain_held().is_err() {
                            gst::debug!(CAT, imp = self, "held frames not pushed before {event:?}");
                        }
                    }
                }
            }
        }
        match event.view() {
            gst::EventView::FlushStop(_) => {
                self.reset_chain(Reason::Flush);
                if let Some(st) = self.state.lock().unwrap().as_mut() {
                    st.look = Lookahead::default();
                    st.next_key = NextKeyframe::default();
                    st.last_pts = None;
                    st.fresh = true;
                }
            }
            gst::EventView::StreamStart(_) => {
                self.reset_chain(Reason::StreamStart);
                if let Some(st) = self.state.lock().unwrap().as_mut() {
                    st.counter = 0;
                    st.last_pts = None;
                    st.fresh = true;
                }
            }
            gst::EventView::Gap(gap) => {
                let last = self
                    .state
                    .lock()
                    .unwrap()
                    .as_ref()
                    .and_then(|st| st.last_pts);
                if self.gap_skips(gap, last) {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "gap at {}: frames skipped, chain kept",
                        gap.get().0
                    );
                } else {
                    self.reset_chain(Reason::Gap);
                }
            }
            _ => (),
        }
        self.parent_sink_event(event)
    }
}

impl Colorize {
    /// Whether the segment plays forwards (a rate of 0 or more).
    fn plays_forward(&self) -> bool {
        self.obj().segment().rate() >= 0.0
    }

    /// Whether `gap` only skips frames after the last one coloured, at `last` ([`gap_is_skip`]
    /// in the segment's direction).
    fn gap_skips(&self, gap: &gst::event::Gap, last: Option<gst::ClockTime>) -> bool {
        let (start, duration) = gap.get();
        gap_is_skip(last, start, duration, self.plays_forward())
    }

    /// Pushes every held frame and event out, as they are, in order (`keyframe-lookahead`: no
    /// keyframe will come for them).
    fn drain_held(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        let held: Vec<Held> = match self.state.lock().unwrap().as_mut() {
            Some(st) => st.look.drain().collect(),
            None => return Ok(gst::FlowSuccess::Ok),
        };
        for h in held {
            match h {
                Held::Event(e) => {
                    self.obj().src_pad().push_event(e);
                }
                // Downstream takes no more: what is left is dropped with it.
                Held::Frame(buffer) => {
                    self.obj().src_pad().push(buffer)?;
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// The latency `keyframe-lookahead` adds: that many frames of the negotiated frame rate
    /// (none when the rate is unknown or variable).
    fn lookahead_latency(&self) -> gst::ClockTime {
        let frames = u64::from(self.settings.lock().unwrap().keyframe_lookahead);
        let guard = self.state.lock().unwrap();
        let fps = guard
            .as_ref()
            .and_then(|st| st.stream.as_ref())
            .map(|s| s.in_info.fps());
        match fps {
            Some(f) if frames > 0 && f.numer() > 0 => gst::ClockTime::SECOND
                .mul_div_ceil(frames * f.denom() as u64, f.numer() as u64)
                .unwrap_or(gst::ClockTime::ZERO),
            _ => gst::ClockTime::ZERO,
        }
    }
}

impl VideoFilterImpl for Colorize {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if in_info.is_interlaced() {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ["Interlaced video ({}) is not supported: the generator sees whole progressive frames; put deinterlace in front", in_info.interlace_mode().to_str()]
            );
            return Err(gst::loggable_error!(CAT, "interlaced input"));
        }
        let settings = self.settings.lock().unwrap().clone();
        let mut state = self.state.lock().unwrap();
        let Some(st) = state.as_mut() else {
            return Err(gst::loggable_error!(CAT, "caps before start"));
        };
        let ts = st.model.meta.train_size;
        let (ww, wh) = working_size(
            &settings,
            in_info.width(),
            in_info.height(),
            (ts.width, ts.height),
            st.model.meta.working_orientation,
        );
        if st
            .stream
            .as_ref()
            .is_some_and(|s| s.colorizer.has_previous())
        {
            st.pending = Some(Reason::Caps);
        }
        let colorizer = match st.model.colorizer(ww, wh, settings.scene_threshold) {
            Ok(mut c) => {
                c.set_blank_previous(
                    crate::model::PreviousChoice::from(settings.previous_frame)
                        .blank(st.model.meta.previous_frame),
                );
                c.set_flip_average(settings.flip_average);
                c.set_keyframe_carry(settings.keyframe_carry);
                c.set_keyframe_flow(settings.keyframe_flow);
                // The ParamSpec's bounds are MAX_SMOOTHING's: this cannot fail.
                if let Err(e) = c.set_temporal_smoothing(settings.temporal_smoothing) {
                    gst::warning!(CAT, imp = self, "{e}");
                }
                c
            }
            Err(e) => {
                drop(state);
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Settings,
                    [
                        "Cannot colorize {}x{} video: {e}",
                        in_info.width(),
                        in_info.height()
                    ]
                );
                return Err(gst::loggable_error!(CAT, "{e}"));
            }
        };
        gst::debug!(
            CAT,
            imp = self,
            "working size {ww}x{wh} for {}x{}",
            in_info.width(),
            in_info.height()
        );
        let batcher = match &settings.model_instance_id {
            None => None,
            Some(id) => {
                let key = BatchKey {
                    model: Arc::as_ptr(&st.model) as usize,
                    working: (ww, wh),
                };
                let make = || {
                    Batcher::new(
                        st.model.shared.instance(),
                        key.clone(),
                        settings.batch_size as usize,
                        std::time::Duration::from_micros(settings.batched_push_timeout as u64),
                    )
                };
                match batch::group(id, key.clone(), make) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        drop(state);
                        gst::element_imp_error!(
                            self,
                            gst::LibraryError::Settings,
                            ("{}", e),
                            ["{e}"]
                        );
                        return Err(gst::loggable_error!(CAT, "{e}"));
                    }
                }
            }
        };
        st.stream = Some(Stream {
            batcher,
            colorizer,
            grey: Vec::new(),
            rgb: Vec::new(),
            in_info: in_info.clone(),
            out_info: out_info.clone(),
        });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Only what applies per frame (no copy of the whole settings per frame).
        let (output_mode, keyframe_location, mut lookahead) = {
            let s = self.settings.lock().unwrap();
            (
                s.output_mode,
                s.keyframe_location.clone(),
                u64::from(s.keyframe_lookahead),
            )
        };
        // Pulled frames must come out one for one: no lookahead then.
        if self.obj().sink_pad().mode() == gst::PadMode::Pull {
            lookahead = 0;
        }
        let forward = self.plays_forward();
        let mut guard = self.state.lock().unwrap();
        let Some(st) = guard.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let info = inframe.info().clone();
        let n = self.frame_number(inframe.buffer(), &info, st.counter);
        st.counter += 1;
        let device = st.device;
        let (input_mode, recommended) = (st.model.meta.input_mode, st.model.meta.output);
        let Some(stream) = st.stream.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let pts = inframe.buffer().pts();
        let skip = is_skip(st.last_pts, pts, forward);
        st.last_pts = pts;
        if inframe.buffer().flags().contains(gst::BufferFlags::DISCONT)
            && stream.colorizer.has_previous()
            && !skip
        {
            stream.colorizer.reset();
            st.pending = Some(Reason::Discont);
        }
        let mut resets: Vec<Reason> = st.pending.take().into_iter().collect();
        let look = &mut st.look;
        if !resets.is_empty() {
            look.reset();
        }
        let (w, h) = (info.width() as usize, info.height() as usize);
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["{what}: {e}"]);
            gst::FlowError::Error
        };

        // Input plane -> 1x1xHxW float on the device.
        stream.grey.resize(w * h, 0);
        crate::edges::copy_plane(
            inframe.plane_data(0).map_err(|_| gst::FlowError::Error)?,
            inframe.plane_stride()[0] as usize,
            &mut stream.grey,
            w,
            w,
            h,
        );
        let input = plane_to_tensor(&stream.grey, w, h, device)
            .map_err(|e| fail("Colorization failed", &e))?;

        // Parsed per frame: the property may change while playing (checked at start too).
        let pattern = match keyframe_location.as_deref().map(FramePattern::parse) {
            None => None,
            Some(Err(e)) => return Err(fail("keyframe-location", &e)),
            Some(Ok(p)) => Some(p),
        };
        let keyframe = pattern
            .as_ref()
            .map(|p| p.format(n))
            .filter(|p| Path::new(p).is_file());
        let mode = crate::model::OutputChoice::from(output_mode).resolve(input_mode, recommended);
        let rgb = if let Some(path) = keyframe {
            gst::debug!(CAT, imp = self, "frame {n}: artist keyframe {path}");
            let key = crate::model::stream::read_rgb(&path).map_err(|e| fail("Keyframe", &e))?;
            let cut = stream
                .colorizer
                .set_previous(&key, &input)
                .map_err(|e| fail("Keyframe", &e))?;
            // The held frames take the keyframe moved back, unless it starts another shot.
            let backward = stream.colorizer.keyframe_carry() && mode == OutputMode::Fill;
            if backward && cut.is_none() && look.waiting() {
                let flow = stream.colorizer.keyframe_flow();
                let key = key.to_device(device);
                let mut back = KeyframeBack::new(&key, &input, input_mode, flow)
                    .map_err(|e| fail("Moving the keyframe back", &e))?;
                let info = &stream.out_info;
                look.keyframe(n, Some(&mut back), |held, back, plane| {
                    paint_back(held, back, plane, info, device)
                })
                .map_err(|e| fail("Moving the keyframe back", &e))?;
            } else {
                look.keyframe(n, None, |_, _, _| Ok::<(), String>(()))
                    .map_err(|e| fail("Moving the keyframe back", &e))?;
            }
            if lookahead > 0 && !st.fresh {
                st.hold_next = Some(None);
            }
            crate::model::stream::resize(&key.to_device(device), h as i64, w as i64)
                .map_err(|e| fail("Keyframe", &e))?
        } else {
            let step = match &stream.batcher {
                None => stream.colorizer.step(&input),
                Some(b) => stream
                    .colorizer
                    .step_with(&input, &mut |_, x, p| b.infer(x, p)),
            }
            .map_err(|e| fail("Colorization failed", &e))?;
            if let Some(crate::model::stream::ResetReason::SceneCut(c)) = step.reset {
                resets.push(Reason::SceneCut(c));
                look.reset();
            }
            // With the lookahead, a frame nearer to the next keyframe than to the last one
            // waits for it (as `tcvc-episode --keyframe-backward`'s frames do).
            let next_key = match (&pattern, keyframe_location.as_deref()) {
                (Some(p), Some(location)) if lookahead > 0 && mode == OutputMode::Fill => {
                    st.next_key.find(location, n, lookahead, |k| {
                        Path::new(&p.format(k)).is_file()
                    })
                }
                _ => None,
            };
            let waits = stream.colorizer.keyframe_carry() && look.waits(n, next_key);
            if !waits || st.fresh {
                look.release();
            }
            if lookahead > 0 && !st.fresh {
                st.hold_next = Some(waits.then(|| stream.grey.clone()));
            }
            stream
                .colorizer
                .compose(&step.prediction, &input, mode)
                .map_err(|e| fail("Colorization failed", &e))?
        };

        // 1x3xHxW [0,1] -> HxWx3 u8 on the CPU -> output rows.
        st.fresh = false;
        tensor_to_rgb8(&rgb, &mut stream.rgb).map_err(|e| fail("Colorization failed", &e))?;
        pack_rgb(&stream.rgb, w, outframe)?;
        drop(guard);
        for r in resets {
            self.post_reset(r, n);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// The longest time a DISCONT buffer (or the end of a GAP event) may follow the last frame and
/// still be a skip: frames dropped upstream (`qos` of a filter before this one, a lost packet),
/// after which the chain goes on from the last frame coloured and the scene-cut rule decides, as
/// for any frame.
const MAX_SKIP: gst::ClockTime = gst::ClockTime::SECOND;

/// Whether a DISCONT buffer at `pts` only skips frames after the last one at `last`: both
/// timestamped, `pts` after `last` by at most [`MAX_SKIP`] — *before* it when the segment plays
/// backwards (`forward` false: a negative rate, where a decoder sends each chunk of frames
/// reversed and flags the first of each DISCONT).
fn is_skip(last: Option<gst::ClockTime>, pts: Option<gst::ClockTime>, forward: bool) -> bool {
    match (last, pts) {
        (Some(l), Some(p)) if forward => p > l && p - l <= MAX_SKIP,
        (Some(l), Some(p)) => p < l && l - p <= MAX_SKIP,
        _ => false,
    }
}

/// Whether a GAP event from `start` for `duration` only skips frames after the last one at
/// `last` (an RTP depayloader sends one for each lost packet): it starts after `last` and ends
/// at most [`MAX_SKIP`] after it; played backwards, it ends before `last` and starts at most
/// [`MAX_SKIP`] before it.
fn gap_is_skip(
    last: Option<gst::ClockTime>,
    start: gst::ClockTime,
    duration: Option<gst::ClockTime>,
    forward: bool,
) -> bool {
    let end = start.saturating_add(duration.unwrap_or(gst::ClockTime::ZERO));
    if forward {
        last.is_some_and(|l| start > l) && is_skip(last, Some(end), true)
    } else {
        last.is_some_and(|l| end < l) && is_skip(last, Some(start), false)
    }
}

/// Bytes per pixel and the places of R, G and B in one of `SRC_FORMATS`.
fn layout(format: VideoFormat) -> (usize, [usize; 3]) {
    match format {
        VideoFormat::Rgb => (3, [0, 1, 2]),
        VideoFormat::Bgrx => (4, [2, 1, 0]),
        _ => (4, [0, 1, 2]),
    }
}

/// Writes packed 8-bit RGB rows (`w` pixels wide) into an output frame (alpha or padding 255).
fn pack_rgb(
    rgb: &[u8],
    w: usize,
    frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
) -> Result<(), gst::FlowError> {
    let (ps, order) = layout(frame.format());
    let stride = frame.plane_stride()[0] as usize;
    let dst = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
    for (src, row) in rgb.chunks_exact(w * 3).zip(dst.chunks_mut(stride)) {
        for (px, out) in src.chunks_exact(3).zip(row.chunks_exact_mut(ps)) {
            out[order[0]] = px[0];
            out[order[1]] = px[1];
            out[order[2]] = px[2];
            if ps == 4 {
                out[3] = 255;
            }
        }
    }
    Ok(())
}

/// Packed 8-bit RGB rows of an output frame, [`pack_rgb`]'s inverse.
fn unpack_rgb(frame: &gst_video::VideoFrameRef<&mut gst::BufferRef>) -> Result<Vec<u8>, String> {
    let (ps, order) = layout(frame.format());
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let src = frame
        .plane_data(0)
        .map_err(|e| format!("reading a held frame: {e}"))?;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in src.chunks(stride).take(h) {
        for px in row.chunks_exact(ps).take(w) {
            rgb.extend(order.iter().map(|&c| px[c]));
        }
    }
    Ok(rgb)
}

/// Paints the keyframe moved back (`back`) into a held frame whose input plane is `plane`.
fn paint_back(
    held: &mut Held,
    back: &mut KeyframeBack,
    plane: &[u8],
    out_info: &gst_video::VideoInfo,
    device: tch::Device,
) -> Result<(), String> {
    let Held::Frame(buffer) = held else {
        return Ok(());
    };
    let (w, h) = (out_info.width() as usize, out_info.height() as usize);
    let x = plane_to_tensor(plane, w, h, device).map_err(|e| e.to_string())?;
    let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), out_info)
        .map_err(|e| format!("mapping a held frame: {e}"))?;
    let mut rgb = unpack_rgb(&frame)?;
    back.paint(&mut rgb, &x).map_err(|e| e.to_string())?;
    pack_rgb(&rgb, w, &mut frame).map_err(|e| format!("writing a held frame: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_size_keeps_the_aspect_ratio_when_asked() {
        use crate::model::WorkingOrientation as File;
        let mut s = Settings::default();
        let train = (160, 96);
        let working_size = |s: &Settings, w, h, train| working_size(s, w, h, train, File::Turn);
        assert_eq!(working_size(&s, 1920, 1080, train), (160, 96));
        // A portrait frame gets the training size turned under a model trained so, unless the
        // orientation is the model's; `turn` turns it under any model.
        assert_eq!(working_size(&s, 1080, 1920, train), (96, 160));
        assert_eq!(working_size(&s, 720, 720, train), (160, 96));
        assert_eq!(
            super::working_size(&s, 1080, 1920, train, File::Model),
            (160, 96)
        );
        s.working_orientation = Orientation::Model;
        assert_eq!(working_size(&s, 1080, 1920, train), (160, 96));
        s.working_orientation = Orientation::Turn;
        assert_eq!(
            super::working_size(&s, 1080, 1920, train, File::Model),
            (96, 160)
        );
        s.working_height = 256;
        assert_eq!(working_size(&s, 1920, 1080, train), (456, 256));
        s.working_width = 320;
        s.working_height = 0;
        assert_eq!(working_size(&s, 1280, 720, train), (320, 180));
        s.working_width = 12;
        assert_eq!(working_size(&s, 3, 5, train), (12, 20));
        s.working_width = 256;
        s.working_height = 256;
        assert_eq!(working_size(&s, 3, 5, train), (256, 256));
    }
}
