// SPDX-License-Identifier: MIT
//! `tcvc-eval`: colorizes test videos with one or more TCVC models, autoregressively and with
//! the `tcvccolorize` element's code path, and measures every frame against the original colour
//! frames: PSNR, SSIM, temporal error and static flicker. Prints a Markdown table shaped like
//! Table I of Thasarathan et al. (2019) and optionally writes JSON and CSV with every frame.
//!
//! See docs/eval.md.
use crate::device::DeviceSpec;
use crate::edges::ModelInput;
use crate::metrics::{self, SsimWindow, TemporalTracker, DEFAULT_STATIC_THRESHOLD};
use crate::model::cache::{self, CachedModel};
use crate::model::lookahead::Lookahead;
use crate::model::stream::{
    parse_smoothing, plane_to_tensor, rgb8_to_tensor, tensor_to_rgb8, KeyframeBack, OutputMode,
    ResetReason, DEFAULT_SCENE_THRESHOLD,
};
use crate::model::{
    InputMode, ModelError, OutputChoice, Precision, PreviousChoice, WorkingOrientation,
};
use crate::video::{self, Clip, Fit, VideoError};
use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tch::Kind;

/// Exit status of a problem with the user's input (arguments, model files, videos).
const EXIT_INPUT: u8 = 2;
/// Exit status of a failure while running (libtorch, metrics, writing outputs).
const EXIT_RUN: u8 = 1;

/// Which input modes to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InputChoice {
    /// Line art only: every model must be a line-art model.
    Lineart,
    /// Greyscale only: every model must be a greyscale model.
    Greyscale,
    /// Every model in its own mode (Table I of the paper: line-art and greyscale columns).
    Both,
}

/// A `WIDTHxHEIGHT` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
struct Size {
    width: u32,
    height: u32,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    let (width, height) = crate::video::parse_size(s)?;
    Ok(Size { width, height })
}

/// `--size`: a fixed size, or each video's own size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
enum SizeArg {
    /// Every video decoded to this size.
    Fixed(Size),
    /// Each video at its own size and aspect (square pixels), as the element sees it.
    Native,
}

impl std::fmt::Display for SizeArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeArg::Fixed(s) => s.fmt(f),
            SizeArg::Native => f.write_str("native"),
        }
    }
}

fn parse_size_arg(s: &str) -> Result<SizeArg, String> {
    if s.trim().eq_ignore_ascii_case("native") {
        Ok(SizeArg::Native)
    } else {
        parse_size(s)
            .map(SizeArg::Fixed)
            .map_err(|e| format!("{e}, or `native` (each video's own size)"))
    }
}

fn parse_fit(s: &str) -> Result<Fit, String> {
    s.parse()
}

/// Which evaluated frames of each video are artist keyframes (`--keyframes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Keyframes {
    /// Frame k (of the evaluated frames of a video) is a keyframe when `k % every == 0`.
    every: usize,
}

impl Keyframes {
    fn at(self, k: usize) -> bool {
        k.is_multiple_of(self.every)
    }
}

impl std::fmt::Display for Keyframes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.every == usize::MAX {
            write!(f, "first")
        } else {
            write!(f, "every {} frames", self.every)
        }
    }
}

impl Serialize for Keyframes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn parse_keyframes(s: &str) -> Result<Keyframes, String> {
    if s == "first" {
        return Ok(Keyframes { every: usize::MAX });
    }
    match s.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(Keyframes { every: n }),
        _ => Err(format!(
            "'{s}' is neither `first` nor a number of frames of at least 2 (every N-th frame is a keyframe)"
        )),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1"))
    }
}

/// Evaluates TCVC models on test videos: autoregressive colorization (each output is the next
/// frame's previous frame, as in the tcvccolorize element) measured against the original colour
/// frames. Prints a Markdown table (rows: metrics, columns: models), values = mean over all
/// frames of all videos.
#[derive(Debug, Parser)]
#[command(name = "tcvc-eval", version, after_help = "See docs/eval.md.")]
struct Args {
    /// A model file (.safetensors: TCVC or the pix2pix baseline), or `default` for the built-in
    /// default model; repeat for several models (one column each).
    #[arg(long = "model", value_name = "FILE", required = true)]
    models: Vec<PathBuf>,
    /// Test videos: video files GStreamer can decode, or folders of images (*.png, *.jpg,
    /// *.jpeg, *.bmp, sorted by name).
    #[arg(value_name = "VIDEO", required = true)]
    videos: Vec<PathBuf>,
    /// Frame size the videos are decoded to (pixel aspect 1:1, fitted as --fit says) and
    /// measured at, or `native`: each video at its own size, as the element colours it
    /// [default: each model's train_size].
    #[arg(long, value_name = "WxH|native", value_parser = parse_size_arg)]
    size: Option<SizeArg>,
    /// How a video of another aspect ratio becomes --size: `stretch`, `crop` (centre crop to the
    /// target aspect) or `pad` (black borders). Ignored with `--size native`.
    #[arg(long, value_parser = parse_fit, default_value = "stretch")]
    fit: Fit,
    /// Leave out the trivial baselines (white and grey pages, the line art itself, the clip's
    /// mean colour) that are otherwise measured beside the models.
    #[arg(long)]
    no_baselines: bool,
    /// Draw mean PSNR against the frame index since the last chain reset (start of the video
    /// or a scene cut) for every column into this PNG: drift shows as a falling line.
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Working size of the generator [default: each model's train_size, turned as
    /// --working-orientation says].
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    working: Option<Size>,
    /// Without --working: `turn` turns a model's training size a quarter for videos of the other
    /// orientation (portrait videos run at 128x224 under a 224x128 model), `model` keeps the
    /// training size for every video, `auto` does what each model file says (`turn` for a model
    /// trained so, else `model`), as the element's working-orientation.
    #[arg(long, value_name = "O", default_value_t = WorkingOrientation::Auto)]
    working_orientation: WorkingOrientation,
    /// auto (cuda:0 if present, else cpu), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Inference precision: fp32, bf16, fp16 (CUDA only).
    #[arg(long, default_value_t = Precision::Fp32)]
    precision: Precision,
    /// At most N frames per video (after --skip-fraction).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// Evaluate only the last F of each video (e.g. the part tcvc-train held out for
    /// validation); 0 = the whole video.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    skip_fraction: f64,
    /// Input modes to evaluate; a model only runs its own mode. Default: each model's own mode
    /// (same as `both`); `lineart` / `greyscale` require every model to have that mode.
    #[arg(long, value_enum)]
    input: Option<InputChoice>,
    /// How the output frame is made from the prediction: auto (the model file's recommended
    /// output_mode, else ink for line-art models and luma for greyscale models), ink, luma,
    /// color (as the element's output-mode).
    #[arg(long, default_value_t = OutputChoice::Auto)]
    output_mode: OutputChoice,
    /// The previous frame of TCVC models: auto (as the model file says, as the element runs
    /// it), chain (the model's own previous output) or blank (every frame on its own: the same
    /// weights without the chain).
    #[arg(long, value_name = "P", default_value_t = PreviousChoice::Auto)]
    previous: PreviousChoice,
    /// Artist keyframes from the originals, as `tcvccolorize keyframe-location` takes them:
    /// `first` (the first evaluated frame of each video) or N (frames 0, N, 2N, …). A keyframe is
    /// the output of its frame and the previous frame of the next one; keyframe frames are shown
    /// in every column (baselines too) but not measured.
    #[arg(long, value_name = "first|N", value_parser = parse_keyframes)]
    keyframes: Option<Keyframes>,
    /// Keyframes only feed the chain (the element's `keyframe-carry=false`): without it, in the
    /// `fill` output a keyframe's colours stay on its regions in the frames that follow, as the
    /// element does by default.
    #[arg(long, requires = "keyframes")]
    no_keyframe_carry: bool,
    /// The keyframe carry without its optical-flow step (the element's `keyframe-flow=false`):
    /// the key's pixels held and moved with the camera and its colours on the regions that
    /// follow, but no frame moved on to the next along the flow.
    #[arg(long, requires = "keyframes")]
    no_keyframe_flow: bool,
    /// Frames to look ahead for the next keyframe, as the element's `keyframe-lookahead`: in
    /// `fill` with the keyframe carry, a frame nearer to a keyframe of the next N frames than to
    /// the last keyframe of its shot gets it moved back (with the camera and, unless
    /// --no-keyframe-flow, along the optical flow), as `tcvc-episode --keyframe-backward`
    /// paints it. 0: off.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "keyframes")]
    keyframe_lookahead: u32,
    /// Test-time flip averaging, as the element's `flip-average`: each prediction is the mean of
    /// the model's output for the frame and, mirrored back, for its left-right mirror (twice the
    /// model's work).
    #[arg(long)]
    flip_average: bool,
    /// Temporal smoothing of the output, as the element's `temporal-smoothing` (0 off, up to
    /// 0.95).
    #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = parse_smoothing)]
    temporal_smoothing: f64,
    /// Scene-cut threshold of the previous-frame chain (1.0 disables cut detection).
    #[arg(long, value_name = "T", default_value_t = DEFAULT_SCENE_THRESHOLD,
          value_parser = parse_fraction)]
    scene_threshold: f64,
    /// A reference sample is static when it changed by at most this from the previous frame
    /// (static flicker).
    #[arg(long, value_name = "V", default_value_t = DEFAULT_STATIC_THRESHOLD)]
    static_threshold: u8,
    /// Write every figure (summaries and every frame) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write one CSV row per model × video × frame.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Cache decoded videos in this folder (see crate::video::load_clip_cached).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// An error with its exit status.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_INPUT,
            message: message.into(),
        }
    }
    fn run(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_RUN,
            message: message.into(),
        }
    }
}

impl From<VideoError> for Failure {
    fn from(e: VideoError) -> Self {
        Failure::input(e.to_string())
    }
}

/// Figures of one frame.
#[derive(Debug, Clone, Default, Serialize)]
struct FrameFigures {
    /// Index among the evaluated frames of the video (0-based).
    frame: usize,
    /// Index in the decoded video (differs from `frame` with --skip-fraction).
    source_frame: usize,
    /// Frames since the last chain reset (the start of the video or a scene cut): 0 on the
    /// first frame of a chain. Baselines have no chain: the first model's index of that frame.
    chain_index: usize,
    /// PSNR (dB) over R, G, B (FFmpeg's `psnr_avg`); JSON `null` when infinite (the frame equals
    /// its original; means count it as [`PSNR_CAP_DB`]).
    psnr: f64,
    /// SSIM, Gaussian window, area-weighted mean over R, G, B.
    ssim: f64,
    /// Mean |ΔX − ΔR| against the previous frame (8-bit units); `None` on frame 0.
    temporal_error: Option<f64>,
    /// Mean |ΔX| over the samples static in the reference; `None` on frame 0 or when none is
    /// static.
    static_flicker: Option<f64>,
    /// Fraction of changed line pixels when the chain was reset at a scene cut before this frame.
    scene_cut: Option<f64>,
}

/// The PSNR a frame equal to its original (infinite PSNR: FFmpeg prints `inf`) counts as in
/// means over frames: libvmaf's cap for 8-bit video (`6 · bits + 12` dB). Without it one such
/// frame makes a clip's mean infinite; artist keyframes held by the keyframe carry make them.
const PSNR_CAP_DB: f64 = 60.0;

/// Means over frames (PSNR capped at [`PSNR_CAP_DB`]).
#[derive(Debug, Clone, Default, Serialize)]
struct Summary {
    frames: usize,
    psnr: f64,
    ssim: f64,
    temporal_error: Option<f64>,
    static_flicker: Option<f64>,
    scene_cuts: usize,
}

impl Summary {
    fn of<'a>(frames: impl IntoIterator<Item = &'a FrameFigures>) -> Summary {
        let mut n = 0usize;
        let (mut psnr, mut ssim) = (0.0, 0.0);
        let (mut te, mut te_n, mut sf, mut sf_n, mut cuts) = (0.0, 0usize, 0.0, 0usize, 0usize);
        for f in frames {
            n += 1;
            psnr += f.psnr.min(PSNR_CAP_DB);
            ssim += f.ssim;
            if let Some(v) = f.temporal_error {
                te += v;
                te_n += 1;
            }
            if let Some(v) = f.static_flicker {
                sf += v;
                sf_n += 1;
            }
            cuts += usize::from(f.scene_cut.is_some());
        }
        let mean = |s: f64, k: usize| (k > 0).then(|| s / k as f64);
        Summary {
            frames: n,
            psnr: mean(psnr, n).unwrap_or(f64::NAN),
            ssim: mean(ssim, n).unwrap_or(f64::NAN),
            temporal_error: mean(te, te_n),
            static_flicker: mean(sf, sf_n),
            scene_cuts: cuts,
        }
    }
}

/// One video's results for one model.
#[derive(Debug, Serialize)]
struct VideoResult {
    name: String,
    path: PathBuf,
    /// Frames of the decoded video before --skip-fraction and --frames.
    decoded_frames: usize,
    /// The generator's working size on this video (models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    working: Option<Size>,
    summary: Summary,
    per_frame: Vec<FrameFigures>,
}

impl VideoResult {
    fn new(
        clip: &Clip,
        decoded_frames: usize,
        working: Option<Size>,
        per_frame: Vec<FrameFigures>,
    ) -> Self {
        VideoResult {
            name: clip.name.clone(),
            path: clip.path.clone(),
            decoded_frames,
            working,
            summary: Summary::of(&per_frame),
            per_frame,
        }
    }
}

/// One model's results.
#[derive(Debug, Serialize)]
struct ModelResult {
    /// Column label.
    label: String,
    /// `model`, or the baseline: `white`, `grey`, `lineart`, `mean-colour`.
    kind: String,
    path: PathBuf,
    input_mode: String,
    train_size: String,
    size: SizeArg,
    fit: String,
    /// The working size: the training size or --working (per video: `videos[].working`).
    working: Size,
    /// `turn` or `model` (--working-orientation, `auto` resolved with the model file; `fixed`
    /// with --working; baselines: empty).
    working_orientation: String,
    output_mode: String,
    /// `chain` or `blank` (what the model got as its previous frame; baselines: empty).
    previous: String,
    seconds: f64,
    summary: Summary,
    videos: Vec<VideoResult>,
}

/// The JSON document.
#[derive(Debug, Serialize)]
struct Report {
    tool: &'static str,
    version: &'static str,
    device: String,
    precision: Precision,
    skip_fraction: f64,
    max_frames: Option<u64>,
    scene_threshold: f64,
    static_threshold: u8,
    /// `first`, `every N frames`, or null (no keyframes).
    keyframes: Option<Keyframes>,
    /// Whether keyframe colours were carried over the `fill` regions that follow them (the
    /// element's `keyframe-carry`; `--no-keyframe-carry` turns it off).
    keyframe_carry: bool,
    /// Whether the carry moved each output on along the optical flow (the element's
    /// `keyframe-flow`; `--no-keyframe-flow` turns it off).
    keyframe_flow: bool,
    /// Frames the element looked ahead for the next keyframe (`--keyframe-lookahead`; 0: off).
    keyframe_lookahead: u32,
    /// Whether model predictions were flip averages (`--flip-average`).
    flip_average: bool,
    /// The outputs' temporal smoothing (`--temporal-smoothing`; 0: off).
    temporal_smoothing: f64,
    models: Vec<ModelResult>,
}

/// A loaded model and what it runs with.
struct Job {
    label: String,
    model: Arc<CachedModel>,
    size: SizeArg,
    /// --working, else the model's training size.
    working: Size,
    /// Whether --working set it (then it is never turned).
    working_fixed: bool,
    output: OutputMode,
    /// Every frame gets a blank previous frame (the file's `previous_frame = blank`, pix2pix,
    /// or `--previous blank`).
    blank_previous: bool,
}

impl Job {
    /// The working size on a `width × height` video: --working as given, else the training
    /// size turned as --working-orientation says (the element's rule).
    fn working_on(&self, width: u32, height: u32, orientation: WorkingOrientation) -> Size {
        if self.working_fixed {
            return self.working;
        }
        let (w, h) = orientation
            .resolve(self.model.meta.working_orientation)
            .working((self.working.width, self.working.height), (width, height));
        Size {
            width: w,
            height: h,
        }
    }
}

fn output_name(m: OutputMode) -> &'static str {
    match m {
        OutputMode::Ink => "ink",
        OutputMode::Luma => "luma",
        OutputMode::Color => "color",
        OutputMode::Fill => "fill",
    }
}

fn model_err(e: ModelError) -> Failure {
    Failure::run(e.to_string())
}

/// Colorizes `frames` (packed RGB, `size`) with `job` as the tcvccolorize element does and
/// measures each output against its frame.
fn run_clip(
    job: &Job,
    clip: &Clip,
    first_index: usize,
    args: &Args,
    device: tch::Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<FrameFigures>, Failure> {
    let (w, h) = (clip.width as usize, clip.height as usize);
    let frames = &clip.frames;
    if let Some(kf) = args.keyframes {
        if (0..frames.len()).all(|k| kf.at(k)) {
            return Err(Failure::input(format!(
                "--keyframes {kf}: every evaluated frame of {} is a keyframe, nothing is left to \
                 measure (evaluate more frames: --frames, --skip-fraction)",
                clip.name
            )));
        }
    }
    let input_mode = job.model.meta.input_mode;
    let working = job.working_on(clip.width, clip.height, args.working_orientation);
    let mut colorizer = job
        .model
        .colorizer(
            i64::from(working.width),
            i64::from(working.height),
            args.scene_threshold,
        )
        .map_err(|e| Failure::input(format!("--working {working}: {e}")))?;
    colorizer.set_blank_previous(job.blank_previous);
    colorizer.set_flip_average(args.flip_average);
    colorizer.set_keyframe_carry(!args.no_keyframe_carry);
    colorizer.set_keyframe_flow(!args.no_keyframe_flow);
    colorizer
        .set_temporal_smoothing(args.temporal_smoothing)
        .map_err(|e| Failure::input(format!("--temporal-smoothing: {e}")))?;
    let mut model_input = ModelInput::new();
    let mut out = vec![0u8; w * h * 3];
    let mut tracker = TemporalTracker::new(args.static_threshold);
    let mut figures = Vec::with_capacity(frames.len());
    let mut chain_start = 0;
    // With the lookahead, outputs wait for the next keyframe before they are measured (the
    // temporal figures need them in order): keyframes as `Err(k)`, the others as
    // `Ok((figures' indices, output))`.
    let lookahead = u64::from(args.keyframe_lookahead);
    let backward = lookahead > 0 && !args.no_keyframe_carry && job.output == OutputMode::Fill;
    let mut look: Lookahead<Result<(FrameFigures, Vec<u8>), usize>> = Lookahead::default();
    let mut measure_in_order = |held: Result<(FrameFigures, Vec<u8>), usize>,
                                figures: &mut Vec<FrameFigures>|
     -> Result<(), Failure> {
        match held {
            Err(k) => {
                measure(&frames[k], &frames[k], (w, h), &mut tracker)?;
            }
            Ok((idx, out)) => {
                let mut f = measure(&out, &frames[idx.frame], (w, h), &mut tracker)?;
                f.frame = idx.frame;
                f.source_frame = idx.source_frame;
                f.chain_index = idx.chain_index;
                f.scene_cut = idx.scene_cut;
                figures.push(f);
            }
        }
        Ok(())
    };
    for (k, rgb) in frames.iter().enumerate() {
        let plane = model_input
            .of_rgb(rgb, w, h, input_mode == InputMode::Lineart)
            .map_err(|e| Failure::run(e.to_string()))?;
        // As the element: 1x1xHxW float in [0, 1] on the device.
        let input = plane_to_tensor(plane, w, h, device).map_err(model_err)?;
        if args.keyframes.is_some_and(|kf| kf.at(k)) {
            // As the element's keyframe-location: the original is the output and the next
            // frame's previous frame; the tracker sees it, the figures leave it out.
            let key = rgb8_to_tensor(rgb, w, h);
            let cut = colorizer.set_previous(&key, &input).map_err(model_err)?;
            // As the element's keyframe-lookahead: the frames that wait take it moved back.
            let mut back = if backward && cut.is_none() && look.waiting() {
                let key = key.to_device(device);
                Some(
                    KeyframeBack::new(&key, &input, input_mode, !args.no_keyframe_flow)
                        .map_err(model_err)?,
                )
            } else {
                None
            };
            look.keyframe(k as u64, back.as_mut(), |held, back, plane| {
                if let Ok((_, out)) = held {
                    let x = plane_to_tensor(plane, w, h, device).map_err(model_err)?;
                    back.paint(out, &x).map_err(model_err)?;
                }
                Ok::<(), Failure>(())
            })?;
            look.push(Err(k), None);
            chain_start = k;
        } else {
            let step = colorizer.step(&input).map_err(model_err)?;
            let scene_cut = step.reset.map(|r| match r {
                ResetReason::SceneCut(c) => c,
            });
            let composed = colorizer
                .compose(&step.prediction, &input, job.output)
                .map_err(model_err)?;
            tensor_to_rgb8(&composed, &mut out).map_err(model_err)?;
            if scene_cut.is_some() {
                chain_start = k;
                look.reset();
            }
            let next = match args.keyframes {
                Some(kf) if backward => (k + 1..frames.len().min(k + 1 + lookahead as usize))
                    .find(|&j| kf.at(j))
                    .map(|j| j as u64),
                _ => None,
            };
            let waits = look.waits(k as u64, next);
            if !waits {
                look.release();
            }
            let idx = FrameFigures {
                frame: k,
                source_frame: first_index + k,
                chain_index: k - chain_start,
                scene_cut,
                ..FrameFigures::default()
            };
            look.push(Ok((idx, out.clone())), waits.then(|| plane.to_vec()));
        }
        while let Some(held) = look.pop_ready(0) {
            measure_in_order(held, &mut figures)?;
        }
        progress.inc(1);
    }
    for held in look.drain() {
        measure_in_order(held, &mut figures)?;
    }
    Ok(figures)
}

/// PSNR, SSIM and the temporal figures of one output frame `out` against its reference `rgb`
/// (both packed RGB); the indices are left 0 for the caller.
fn measure(
    out: &[u8],
    rgb: &[u8],
    (w, h): (usize, usize),
    tracker: &mut TemporalTracker,
) -> Result<FrameFigures, Failure> {
    let f = metrics::rgb_figures(out, rgb, w, h, tracker)
        .map_err(|e| Failure::run(format!("metrics: {e}")))?;
    Ok(FrameFigures {
        frame: 0,
        source_frame: 0,
        chain_index: 0,
        psnr: f.psnr,
        ssim: f.ssim,
        temporal_error: f.temporal.map(|t| t.temporal_error),
        static_flicker: f.temporal.and_then(|t| t.static_flicker),
        scene_cut: None,
    })
}

/// The trivial baselines every model must beat: a blank page (white, mid-grey), the line art
/// itself as the output, and the clip's own mean colour as a flat fill (an oracle: it knows the
/// answer's average).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baseline {
    White,
    Grey,
    Lineart,
    MeanColour,
    /// With `--keyframes`: the last keyframe held until the next (what a viewer of the keys
    /// alone sees): the baseline a keyframe workflow must beat.
    LastKey,
}

impl Baseline {
    const ALL: [Baseline; 4] = [
        Baseline::White,
        Baseline::Grey,
        Baseline::Lineart,
        Baseline::MeanColour,
    ];

    fn name(self) -> &'static str {
        match self {
            Baseline::White => "white",
            Baseline::Grey => "grey",
            Baseline::Lineart => "lineart",
            Baseline::MeanColour => "mean-colour",
            Baseline::LastKey => "last-key",
        }
    }
}

/// Measures `baseline` on one clip: every output frame is made without a model.
fn run_baseline(
    baseline: Baseline,
    clip: &Clip,
    first_index: usize,
    args: &Args,
) -> Result<Vec<FrameFigures>, Failure> {
    let (w, h) = (clip.width as usize, clip.height as usize);
    let n = w * h;
    // The clip's mean colour over the evaluated frames, rounded to 8 bits.
    let mean: [u8; 3] = {
        let mut sum = [0f64; 3];
        for f in &clip.frames {
            for px in f.chunks_exact(3) {
                for c in 0..3 {
                    sum[c] += f64::from(px[c]);
                }
            }
        }
        let count = (n * clip.frames.len()).max(1) as f64;
        sum.map(|v| (v / count).round().clamp(0.0, 255.0) as u8)
    };
    let mut model_input = ModelInput::new();
    let mut out = vec![0u8; n * 3];
    let mut tracker = TemporalTracker::new(args.static_threshold);
    let mut figures = Vec::with_capacity(clip.len());
    let mut last_key: Option<&[u8]> = None;
    for (k, rgb) in clip.frames.iter().enumerate() {
        if args.keyframes.is_some_and(|kf| kf.at(k)) {
            // The artist's frame is shown in every column and not measured (see run_clip).
            measure(rgb, rgb, (w, h), &mut tracker)?;
            last_key = Some(rgb);
            continue;
        }
        match baseline {
            Baseline::White => out.fill(255),
            // Keyframes start every video (frame 0 is one for `first` and for every N).
            Baseline::LastKey => out.copy_from_slice(last_key.unwrap_or(rgb)),
            Baseline::Grey => out.fill(128),
            Baseline::MeanColour => out
                .chunks_exact_mut(3)
                .for_each(|px| px.copy_from_slice(&mean)),
            Baseline::Lineart => {
                let plane = model_input
                    .of_rgb(rgb, w, h, true)
                    .map_err(|e| Failure::run(e.to_string()))?;
                for (px, &v) in out.chunks_exact_mut(3).zip(plane) {
                    px.fill(v);
                }
            }
        }
        let mut f = measure(&out, rgb, (w, h), &mut tracker)?;
        f.frame = k;
        f.source_frame = first_index + k;
        f.chain_index = k;
        figures.push(f);
    }
    Ok(figures)
}

/// Loads every model (errors before any video is decoded).
fn load_jobs(args: &Args, device: tch::Device, kind: Kind) -> Result<Vec<Job>, Failure> {
    let mut jobs = Vec::new();
    for path in &args.models {
        let model = if path.as_os_str() == "default" && !path.exists() {
            cache::load_default(device, kind)
        } else {
            cache::load_shared(path, device, kind)
        }
        .map_err(|e| Failure::input(format!("cannot use model {}: {e}", path.display())))?;
        let mode = model.meta.input_mode;
        match (args.input, mode) {
            (Some(InputChoice::Lineart), InputMode::Greyscale)
            | (Some(InputChoice::Greyscale), InputMode::Lineart) => {
                return Err(Failure::input(format!(
                    "model {} takes {mode} input, but --input asks for {} only; a model can \
                     only run its own input mode: drop --input or use --input both",
                    path.display(),
                    match mode {
                        InputMode::Lineart => "greyscale",
                        InputMode::Greyscale => "lineart",
                    }
                )));
            }
            _ => {}
        }
        let ts = model.meta.train_size;
        let train = Size {
            width: ts.width,
            height: ts.height,
        };
        let size = args.size.unwrap_or(SizeArg::Fixed(train));
        let working = args.working.unwrap_or(train);
        let (min_w, min_h) = SsimWindow::Gaussian.min_size();
        if let SizeArg::Fixed(size) = size {
            if (size.width as usize) < min_w || (size.height as usize) < min_h {
                return Err(Failure::input(format!(
                    "frame size {size} (model {}) is too small: SSIM needs at least \
                     {min_w}x{min_h}; use --size",
                    path.display()
                )));
            }
        }
        if working.width < 12 || working.height < 12 {
            return Err(Failure::input(format!(
                "working size {working} (model {}) is too small: the generator needs at least \
                 12x12; use --working",
                path.display()
            )));
        }
        let output = args.output_mode.resolve(mode, model.meta.output);
        let stem = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        let blank_previous =
            model.shared.config().is_none() || args.previous.blank(model.meta.previous_frame);
        jobs.push(Job {
            label: format!("{stem} ({mode})"),
            model,
            size,
            working,
            working_fixed: args.working.is_some(),
            output,
            blank_previous,
        });
    }
    // Unique column labels.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for j in &mut jobs {
        let n = seen.entry(j.label.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            j.label = format!("{} #{n}", j.label);
        }
    }
    Ok(jobs)
}

/// Decodes (or takes from `clips`) every video at `size`; returns (clip, first frame index,
/// frames decoded).
fn clips_at<'a>(
    clips: &'a mut HashMap<SizeArg, Vec<(Clip, usize, usize)>>,
    size: SizeArg,
    args: &Args,
) -> Result<&'a [(Clip, usize, usize)], Failure> {
    if let Entry::Vacant(slot) = clips.entry(size) {
        let mut v = Vec::new();
        for path in &args.videos {
            // With --skip-fraction the whole video is needed to find its tail.
            let limit = if args.skip_fraction > 0.0 {
                None
            } else {
                args.frames.map(|n| n as usize)
            };
            let (width, height, fit) = match size {
                SizeArg::Fixed(s) => (s.width, s.height, args.fit),
                SizeArg::Native => {
                    let (w, h) = video::source_size(path)?;
                    (w, h, Fit::Stretch)
                }
            };
            let (min_w, min_h) = SsimWindow::Gaussian.min_size();
            if (width as usize) < min_w || (height as usize) < min_h {
                return Err(Failure::input(format!(
                    "{} is {width}x{height}: too small to measure (SSIM needs at least \
                     {min_w}x{min_h}); give --size",
                    path.display()
                )));
            }
            let clip = video::load_clip_cached(
                path,
                width,
                height,
                fit,
                limit,
                args.cache_dir.as_deref(),
            )?;
            let decoded = clip.len();
            let (first, mut tail) = if args.skip_fraction > 0.0 {
                let (head, tail) = clip.split_tail(args.skip_fraction);
                (head.len(), tail)
            } else {
                (0, clip)
            };
            if let Some(n) = args.frames {
                tail.frames.truncate(n as usize);
            }
            if tail.is_empty() {
                return Err(Failure::input(format!(
                    "--skip-fraction {} leaves no frame of {} ({decoded} frames); use a larger \
                     fraction",
                    args.skip_fraction,
                    path.display()
                )));
            }
            v.push((tail, first, decoded));
        }
        slot.insert(v);
    }
    Ok(clips.get(&size).map_or(&[], Vec::as_slice))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

/// The Markdown report: Table I layout, then per-video lines.
fn markdown(report: &Report, videos: usize) -> String {
    let mut s = String::new();
    let models = &report.models;
    let _ = write!(s, "| metric |");
    for m in models {
        let _ = write!(s, " {} |", m.label);
    }
    let _ = write!(s, "\n|---|");
    for _ in models {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    type Getter = fn(&Summary) -> String;
    let rows: [(&str, Getter); 4] = [
        ("PSNR ↑ (dB)", |x| format!("{:.2}", x.psnr)),
        ("SSIM ↑", |x| format!("{:.4}", x.ssim)),
        ("temporal error ↓", |x| fmt_opt(x.temporal_error, 3)),
        ("static flicker ↓", |x| fmt_opt(x.static_flicker, 3)),
    ];
    for (name, get) in rows {
        let _ = write!(s, "| {name} |");
        for m in models {
            let _ = write!(s, " {} |", get(&m.summary));
        }
        s.push('\n');
    }
    // A model that does not beat a blank page and its own input is broken: say so in the table.
    let trivial: Vec<&ModelResult> = models
        .iter()
        .filter(|m| ["white", "grey", "lineart"].contains(&m.kind.as_str()))
        .collect();
    if !trivial.is_empty() {
        let best_psnr = trivial
            .iter()
            .map(|m| m.summary.psnr)
            .fold(f64::MIN, f64::max);
        let best_ssim = trivial
            .iter()
            .map(|m| m.summary.ssim)
            .fold(f64::MIN, f64::max);
        let _ = write!(s, "| beats white, grey and lineart (PSNR dB, SSIM) |");
        for m in models {
            if m.kind == "model" {
                let dp = m.summary.psnr - best_psnr;
                let ok = dp > 0.0 && m.summary.ssim > best_ssim;
                let _ = write!(
                    s,
                    " {} ({dp:+.2}, {:+.4}) |",
                    if ok { "yes" } else { "**NO**" },
                    m.summary.ssim - best_ssim
                );
            } else {
                let _ = write!(s, " – |");
            }
        }
        s.push('\n');
    }
    // With keyframes, the keys alone held are the bar a keyframe workflow must clear.
    if let Some(key) = models.iter().find(|m| m.kind == "last-key") {
        let _ = write!(s, "| beats the last keyframe held (PSNR dB, SSIM) |");
        for m in models {
            if m.kind == "model" {
                let dp = m.summary.psnr - key.summary.psnr;
                let ok = dp > 0.0 && m.summary.ssim > key.summary.ssim;
                let _ = write!(
                    s,
                    " {} ({dp:+.2}, {:+.4}) |",
                    if ok { "yes" } else { "**NO**" },
                    m.summary.ssim - key.summary.ssim
                );
            } else {
                let _ = write!(s, " – |");
            }
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "\nMeans over all frames of {videos} video(s) (a frame equal to its original counts as \
         {PSNR_CAP_DB} dB); device {}, {}:",
        report.device, report.precision
    );
    for m in models.iter().filter(|m| m.kind == "model") {
        let turned: Vec<&str> = m
            .videos
            .iter()
            .filter(|v| v.working.is_some_and(|w| w != m.working))
            .map(|v| v.name.as_str())
            .collect();
        let working = if turned.is_empty() {
            m.working.to_string()
        } else {
            format!(
                "{} ({}x{} on {})",
                m.working,
                m.working.height,
                m.working.width,
                turned.join(", ")
            )
        };
        let _ = writeln!(
            s,
            "- {}: {} frames at {} ({}), working size {}, output {}, previous frame {}, {} scene cut(s), {:.1} frames/s",
            m.label,
            m.summary.frames,
            m.size,
            m.fit,
            working,
            m.output_mode,
            m.previous,
            m.summary.scene_cuts,
            m.summary.frames as f64 / m.seconds.max(1e-9)
        );
    }
    if models.iter().any(|m| m.kind != "model") {
        let _ = writeln!(
            s,
            "- baselines: `white` and `grey` are blank pages (255, 128), `lineart` the input line \
             art as the output, `mean-colour` each video's own mean colour as a flat fill (an \
             oracle){}",
            if models.iter().any(|m| m.kind == "last-key") {
                ", `last-key` the last keyframe held until the next"
            } else {
                ""
            }
        );
    }
    if let Some(kf) = report.keyframes {
        let _ = writeln!(
            s,
            "- keyframes ({kf}): the original frame is the output and the next frame's previous \
             frame, in every column; those frames are not measured; {}",
            if report.keyframe_carry && !report.keyframe_flow {
                "in `fill` its colours stay on the regions that follow it (keyframe carry, \
                 without the optical flow: --no-keyframe-flow)"
            } else if report.keyframe_carry {
                "in `fill` its colours stay on the regions that follow it (keyframe carry)"
            } else {
                "not carried over the regions that follow it (--no-keyframe-carry)"
            }
        );
        if report.keyframe_lookahead > 0 {
            let _ = writeln!(
                s,
                "- keyframe lookahead {n}: in `fill` a frame nearer to a keyframe of the next {n} \
                 frames than to the last one gets it moved back (the element's \
                 keyframe-lookahead)",
                n = report.keyframe_lookahead
            );
        }
    }
    if report.flip_average {
        let _ = writeln!(
            s,
            "- flip-averaged: every model prediction is the mean of the model's output for the \
             frame and, mirrored back, for its left-right mirror"
        );
    }
    if report.temporal_smoothing > 0.0 {
        let _ = writeln!(
            s,
            "- temporal smoothing {}: model outputs keep up to that much of the last output where \
             the input did not change (as the element's temporal-smoothing)",
            report.temporal_smoothing
        );
    }
    if videos > 1 {
        let _ = writeln!(
            s,
            "\n| video | model | frames | PSNR ↑ | SSIM ↑ | temporal error ↓ | static flicker ↓ |\n\
             |---|---|---:|---:|---:|---:|---:|"
        );
        for v in 0..videos {
            for m in models {
                if let Some(r) = m.videos.get(v) {
                    let x = &r.summary;
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {:.2} | {:.4} | {} | {} |",
                        r.name,
                        m.label,
                        x.frames,
                        x.psnr,
                        x.ssim,
                        fmt_opt(x.temporal_error, 3),
                        fmt_opt(x.static_flicker, 3)
                    );
                }
            }
        }
    }
    s
}

/// Every frame of the report as CSV (the `csv` crate quotes labels and names as needed).
fn csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let opt = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{x}"));
    let _ = w.write_record([
        "model",
        "input_mode",
        "video",
        "frame",
        "source_frame",
        "chain_index",
        "psnr",
        "ssim",
        "temporal_error",
        "static_flicker",
        "scene_cut",
    ]);
    for m in &report.models {
        for v in &m.videos {
            for f in &v.per_frame {
                let _ = w.write_record([
                    m.label.clone(),
                    m.input_mode.to_string(),
                    v.name.clone(),
                    f.frame.to_string(),
                    f.source_frame.to_string(),
                    f.chain_index.to_string(),
                    f.psnr.to_string(),
                    f.ssim.to_string(),
                    opt(f.temporal_error),
                    opt(f.static_flicker),
                    opt(f.scene_cut),
                ]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn write_file(path: &Path, what: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::run(format!(
            "cannot write the {what} file {}: {e}; check that the folder exists and is writable",
            path.display()
        ))
    })
}

/// The fit recorded for a column: `native` videos are not fitted.
fn fit_name(size: SizeArg, fit: Fit) -> String {
    match size {
        SizeArg::Native => "native".into(),
        SizeArg::Fixed(_) => fit.to_string(),
    }
}

/// Mean PSNR per frame index since the last chain reset, per column (indices reached by at
/// least one frame).
fn psnr_by_chain_index(report: &Report) -> Vec<(String, Vec<(f64, f64)>)> {
    report
        .models
        .iter()
        .map(|m| {
            let mut sums: Vec<(f64, usize)> = Vec::new();
            for f in m.videos.iter().flat_map(|v| &v.per_frame) {
                if f.chain_index >= sums.len() {
                    sums.resize(f.chain_index + 1, (0.0, 0));
                }
                if !f.psnr.is_nan() {
                    sums[f.chain_index].0 += f.psnr.min(PSNR_CAP_DB);
                    sums[f.chain_index].1 += 1;
                }
            }
            let points = sums
                .iter()
                .enumerate()
                .filter(|(_, (_, n))| *n > 0)
                .map(|(i, (s, n))| (i as f64, s / *n as f64))
                .collect();
            (m.label.clone(), points)
        })
        .collect()
}

fn run(args: &Args) -> Result<(), Failure> {
    let spec: DeviceSpec = args
        .device
        .parse()
        .map_err(|e: String| Failure::input(format!("--device: {e}")))?;
    let device = spec
        .resolve()
        .map_err(|e| Failure::input(format!("--device: {e}")))?;
    let kind = args
        .precision
        .kind(device)
        .map_err(|e| Failure::input(format!("--precision {e}")))?;
    // Every video path must exist before anything is loaded.
    for v in &args.videos {
        if !v.exists() {
            return Err(VideoError::NotFound { path: v.clone() }.into());
        }
    }
    let jobs = load_jobs(args, device, kind)?;
    let mut clips: HashMap<SizeArg, Vec<(Clip, usize, usize)>> = HashMap::new();
    // Decode everything first: a bad video fails before any model runs.
    for job in &jobs {
        clips_at(&mut clips, job.size, args)?;
    }
    let total: u64 = jobs
        .iter()
        .map(|j| {
            clips
                .get(&j.size)
                .map_or(0, |v| v.iter().map(|c| c.0.len() as u64).sum::<u64>())
        })
        .sum();
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let mut results = Vec::new();
    for job in &jobs {
        let t = Instant::now();
        let mut videos = Vec::new();
        for (clip, first, decoded) in clips_at(&mut clips, job.size, args)? {
            progress.set_message(format!("{} on {}", job.label, clip.name));
            let per_frame = run_clip(job, clip, *first, args, device, &progress)?;
            let working = job.working_on(clip.width, clip.height, args.working_orientation);
            videos.push(VideoResult::new(clip, *decoded, Some(working), per_frame));
        }
        let summary = Summary::of(videos.iter().flat_map(|v| &v.per_frame));
        results.push(ModelResult {
            label: job.label.clone(),
            kind: "model".into(),
            path: job.model.path.clone(),
            input_mode: job.model.meta.input_mode.to_string(),
            train_size: job.model.meta.train_size.to_string(),
            size: job.size,
            fit: fit_name(job.size, args.fit),
            working: job.working,
            working_orientation: if job.working_fixed {
                "fixed".into()
            } else {
                args.working_orientation
                    .resolve(job.model.meta.working_orientation)
                    .to_string()
            },
            output_mode: output_name(job.output).into(),
            previous: if job.blank_previous { "blank" } else { "chain" }.into(),
            seconds: t.elapsed().as_secs_f64(),
            summary,
            videos,
        });
    }
    progress.finish_and_clear();
    if !args.no_baselines {
        // At every frame size the models were measured at (usually one).
        let mut sizes: Vec<SizeArg> = Vec::new();
        for job in &jobs {
            if !sizes.contains(&job.size) {
                sizes.push(job.size);
            }
        }
        for size in &sizes {
            let last_key = args.keyframes.map(|_| Baseline::LastKey);
            for baseline in Baseline::ALL.into_iter().chain(last_key) {
                let t = Instant::now();
                let mut videos = Vec::new();
                for (clip, first, decoded) in clips_at(&mut clips, *size, args)? {
                    let per_frame = run_baseline(baseline, clip, *first, args)?;
                    videos.push(VideoResult::new(clip, *decoded, None, per_frame));
                }
                // A baseline has no chain: it takes the first model's chain indices (the same
                // frames), so that the by-index plot compares like with like.
                if let Some(model) = results
                    .iter()
                    .find(|m| m.kind == "model" && m.size == *size)
                {
                    for (v, mv) in videos.iter_mut().zip(&model.videos) {
                        for (f, mf) in v.per_frame.iter_mut().zip(&mv.per_frame) {
                            f.chain_index = mf.chain_index;
                        }
                    }
                }
                let label = if sizes.len() > 1 {
                    format!("{} @{size}", baseline.name())
                } else {
                    baseline.name().to_string()
                };
                results.push(ModelResult {
                    label,
                    kind: baseline.name().into(),
                    path: PathBuf::new(),
                    input_mode: "lineart".into(),
                    train_size: String::new(),
                    size: *size,
                    fit: fit_name(*size, args.fit),
                    working: Size {
                        width: 0,
                        height: 0,
                    },
                    working_orientation: String::new(),
                    output_mode: "baseline".into(),
                    previous: String::new(),
                    seconds: t.elapsed().as_secs_f64(),
                    summary: Summary::of(videos.iter().flat_map(|v| &v.per_frame)),
                    videos,
                });
            }
        }
    }
    let report = Report {
        tool: "tcvc-eval",
        version: env!("CARGO_PKG_VERSION"),
        device: format!("{device:?}").to_lowercase(),
        precision: args.precision,
        skip_fraction: args.skip_fraction,
        max_frames: args.frames,
        scene_threshold: args.scene_threshold,
        static_threshold: args.static_threshold,
        keyframes: args.keyframes,
        keyframe_carry: !args.no_keyframe_carry,
        keyframe_flow: !args.no_keyframe_carry && !args.no_keyframe_flow,
        keyframe_lookahead: if args.no_keyframe_carry {
            0
        } else {
            args.keyframe_lookahead
        },
        flip_average: args.flip_average,
        temporal_smoothing: args.temporal_smoothing,
        models: results,
    };
    print!("{}", markdown(&report, args.videos.len()));
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::run(format!("cannot serialise the report: {e}")))?;
        write_file(p, "JSON", &text)?;
    }
    if let Some(p) = &args.csv {
        write_file(p, "CSV", &csv(&report))?;
    }
    if let Some(p) = &args.plot {
        crate::train::plots::plot_lines(
            p,
            "PSNR (dB) by frame index since the last chain reset",
            "frames since the start of the video or the last scene cut",
            &psnr_by_chain_index(&report),
        )
        .map_err(|e| Failure::run(format!("--plot: {e}")))?;
    }
    Ok(())
}

/// The `tcvc-eval` command line.
pub fn main() -> ExitCode {
    crate::malloc::tune();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tcvc-eval: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
