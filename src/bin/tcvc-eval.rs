// SPDX-License-Identifier: MIT
//! `tcvc-eval`: colorizes test videos with one or more TCVC models, autoregressively and with
//! the `tcvccolorize` element's code path, and measures every frame against the original colour
//! frames: PSNR, SSIM, temporal error and static flicker. Prints a Markdown table shaped like
//! Table I of Thasarathan et al. (2019) and optionally writes JSON and CSV with every frame.
//!
//! See docs/eval.md.
use clap::{Parser, ValueEnum};
use gsttcvc::device::DeviceSpec;
use gsttcvc::edges::{self, Extractor, Params};
use gsttcvc::metrics::{self, Plane, SsimWindow, TemporalTracker, DEFAULT_STATIC_THRESHOLD};
use gsttcvc::model::cache::{self, CachedModel};
use gsttcvc::model::stream::{
    compose, plane_to_tensor, tensor_to_rgb8, OutputMode, ResetReason, DEFAULT_SCENE_THRESHOLD,
};
use gsttcvc::model::{InputMode, ModelError};
use gsttcvc::video::{self, Clip, VideoError};
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

/// Inference precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Precision {
    /// 32-bit float.
    Fp32,
    /// bfloat16.
    Bf16,
}

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

/// How the output frame is composed (as the element's `output-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputChoice {
    /// Ink for line-art models, luma for greyscale models.
    Auto,
    /// The prediction multiplied by the full-resolution line art.
    Ink,
    /// The input's luma with the prediction's chroma.
    Luma,
    /// The upsampled prediction as is.
    Color,
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
    let bad = || format!("'{s}' is not a size: use WIDTHxHEIGHT, e.g. 256x256");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let width: u32 = w.trim().parse().map_err(|_| bad())?;
    let height: u32 = h.trim().parse().map_err(|_| bad())?;
    if width == 0 || height == 0 {
        return Err(bad());
    }
    Ok(Size { width, height })
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
    /// Frame size the videos are decoded to (stretched, pixel aspect 1:1) and measured at
    /// [default: each model's train_size].
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    size: Option<Size>,
    /// Working size of the generator [default: each model's train_size].
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    working: Option<Size>,
    /// auto (cuda:0 if present, else cpu), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Inference precision.
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
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
    /// How the output frame is made from the prediction.
    #[arg(long, value_enum, default_value_t = OutputChoice::Auto)]
    output_mode: OutputChoice,
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
    /// Cache decoded videos in this folder (see gsttcvc::video::load_clip_cached).
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
#[derive(Debug, Clone, Serialize)]
struct FrameFigures {
    /// Index among the evaluated frames of the video (0-based).
    frame: usize,
    /// Index in the decoded video (differs from `frame` with --skip-fraction).
    source_frame: usize,
    /// PSNR (dB) over R, G, B (FFmpeg's `psnr_avg`); JSON `null` when infinite.
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

/// Means over frames.
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
            psnr += f.psnr;
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
    summary: Summary,
    per_frame: Vec<FrameFigures>,
}

/// One model's results.
#[derive(Debug, Serialize)]
struct ModelResult {
    /// Column label.
    label: String,
    path: PathBuf,
    input_mode: String,
    train_size: String,
    size: Size,
    working: Size,
    output_mode: String,
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
    models: Vec<ModelResult>,
}

/// A loaded model and what it runs with.
struct Job {
    label: String,
    model: Arc<CachedModel>,
    size: Size,
    working: Size,
    output: OutputMode,
}

fn output_name(m: OutputMode) -> &'static str {
    match m {
        OutputMode::Ink => "ink",
        OutputMode::Luma => "luma",
        OutputMode::Color => "color",
    }
}

fn model_err(e: ModelError) -> Failure {
    Failure::run(e.to_string())
}

/// Colorizes `frames` (packed RGB, `size`) with `job` as the tcvccolorize element does and
/// measures each output against its frame.
fn run_clip(
    job: &Job,
    frames: &[Vec<u8>],
    first_index: usize,
    args: &Args,
    device: tch::Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<FrameFigures>, Failure> {
    let (w, h) = (job.size.width as usize, job.size.height as usize);
    let input_mode = job.model.meta.input_mode;
    let mut colorizer = job
        .model
        .colorizer(
            i64::from(job.working.width),
            i64::from(job.working.height),
            args.scene_threshold,
        )
        .map_err(|e| Failure::input(format!("--working {}: {e}", job.working)))?;
    let mut extractor = Extractor::new();
    extractor
        .resize(w, h)
        .map_err(|e| Failure::run(e.to_string()))?;
    let params = Params::default();
    let mut grey = vec![0u8; w * h];
    let mut lines = vec![0u8; w * h];
    let mut out = vec![0u8; w * h * 3];
    let mut tracker = TemporalTracker::new(args.static_threshold);
    let mut figures = Vec::with_capacity(frames.len());
    for (k, rgb) in frames.iter().enumerate() {
        // The GRAY8 frame tcvclineart gives the element: grey (scikit-image weights), then
        // Canny line art, black on white, for line-art models.
        edges::rgb_to_grey(rgb, w * 3, 3, [0, 1, 2], &mut grey, w, w, h);
        let plane: &[u8] = match input_mode {
            InputMode::Greyscale => &grey,
            InputMode::Lineart => {
                extractor.grey_mut().copy_from_slice(&grey);
                let e = extractor
                    .detect(&params)
                    .map_err(|e| Failure::run(e.to_string()))?;
                edges::write_lines(e, true, &mut lines, w, w, h);
                &lines
            }
        };
        // As the element: 1x1xHxW float in [0, 1] on the device.
        let input = plane_to_tensor(plane, w, h, device).map_err(model_err)?;
        let step = colorizer.step(&input).map_err(model_err)?;
        let scene_cut = step.reset.map(|r| match r {
            ResetReason::SceneCut(c) => c,
        });
        let composed = compose(&step.prediction, &input, job.output).map_err(model_err)?;
        tensor_to_rgb8(&composed, &mut out).map_err(model_err)?;

        let metric_err = |e: metrics::MetricsError| Failure::run(format!("metrics: {e}"));
        let x = Plane::packed(&out, w, h, w * 3, 3, [0, 1, 2]).map_err(metric_err)?;
        let r = Plane::packed(rgb, w, h, w * 3, 3, [0, 1, 2]).map_err(metric_err)?;
        let psnr = metrics::psnr(&x, &r).map_err(metric_err)?.psnr_avg;
        let ssim = metrics::ssim(&x, &r, SsimWindow::Gaussian)
            .map_err(metric_err)?
            .all;
        let temporal = tracker.push(&x, &r).map_err(metric_err)?;
        figures.push(FrameFigures {
            frame: k,
            source_frame: first_index + k,
            psnr,
            ssim,
            temporal_error: temporal.map(|t| t.temporal_error),
            static_flicker: temporal.and_then(|t| t.static_flicker),
            scene_cut,
        });
        progress.inc(1);
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
        let size = args.size.unwrap_or(train);
        let working = args.working.unwrap_or(train);
        let (min_w, min_h) = SsimWindow::Gaussian.min_size();
        if (size.width as usize) < min_w || (size.height as usize) < min_h {
            return Err(Failure::input(format!(
                "frame size {size} (model {}) is too small: SSIM needs at least {min_w}x{min_h}; \
                 use --size",
                path.display()
            )));
        }
        if working.width < 12 || working.height < 12 {
            return Err(Failure::input(format!(
                "working size {working} (model {}) is too small: the generator needs at least \
                 12x12; use --working",
                path.display()
            )));
        }
        let output = match args.output_mode {
            OutputChoice::Auto => OutputMode::default_for(mode),
            OutputChoice::Ink => OutputMode::Ink,
            OutputChoice::Luma => OutputMode::Luma,
            OutputChoice::Color => OutputMode::Color,
        };
        let stem = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        jobs.push(Job {
            label: format!("{stem} ({mode})"),
            model,
            size,
            working,
            output,
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
    clips: &'a mut HashMap<Size, Vec<(Clip, usize, usize)>>,
    size: Size,
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
            let clip = video::load_clip_cached(
                path,
                size.width,
                size.height,
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
    let _ = writeln!(
        s,
        "\nMeans over all frames of {videos} video(s); device {}, {}:",
        report.device,
        match report.precision {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    );
    for m in models {
        let _ = writeln!(
            s,
            "- {}: {} frames at {}, working size {}, output {}, {} scene cut(s), {:.1} frames/s",
            m.label,
            m.summary.frames,
            m.size,
            m.working,
            m.output_mode,
            m.summary.scene_cuts,
            m.summary.frames as f64 / m.seconds.max(1e-9)
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

/// A CSV field, quoted when needed.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(report: &Report) -> String {
    let mut s = String::from(
        "model,input_mode,video,frame,source_frame,psnr,ssim,temporal_error,static_flicker,scene_cut\n",
    );
    let opt = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{x}"));
    for m in &report.models {
        for v in &m.videos {
            for f in &v.per_frame {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&m.label),
                    m.input_mode,
                    csv_field(&v.name),
                    f.frame,
                    f.source_frame,
                    f.psnr,
                    f.ssim,
                    opt(f.temporal_error),
                    opt(f.static_flicker),
                    opt(f.scene_cut)
                );
            }
        }
    }
    s
}

fn write_file(path: &Path, what: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::run(format!(
            "cannot write the {what} file {}: {e}; check that the folder exists and is writable",
            path.display()
        ))
    })
}

fn run(args: &Args) -> Result<(), Failure> {
    let spec: DeviceSpec = args
        .device
        .parse()
        .map_err(|e: String| Failure::input(format!("--device: {e}")))?;
    let device = spec
        .resolve()
        .map_err(|e| Failure::input(format!("--device: {e}")))?;
    let kind = match args.precision {
        Precision::Fp32 => Kind::Float,
        Precision::Bf16 => Kind::BFloat16,
    };
    // Every video path must exist before anything is loaded.
    for v in &args.videos {
        if !v.exists() {
            return Err(VideoError::NotFound { path: v.clone() }.into());
        }
    }
    let jobs = load_jobs(args, device, kind)?;
    let mut clips: HashMap<Size, Vec<(Clip, usize, usize)>> = HashMap::new();
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
            let per_frame = run_clip(job, &clip.frames, *first, args, device, &progress)?;
            videos.push(VideoResult {
                name: clip.name.clone(),
                path: clip.path.clone(),
                decoded_frames: *decoded,
                summary: Summary::of(&per_frame),
                per_frame,
            });
        }
        let summary = Summary::of(videos.iter().flat_map(|v| &v.per_frame));
        results.push(ModelResult {
            label: job.label.clone(),
            path: job.model.path.clone(),
            input_mode: job.model.meta.input_mode.to_string(),
            train_size: job.model.meta.train_size.to_string(),
            size: job.size,
            working: job.working,
            output_mode: output_name(job.output).into(),
            seconds: t.elapsed().as_secs_f64(),
            summary,
            videos,
        });
    }
    progress.finish_and_clear();
    let report = Report {
        tool: "tcvc-eval",
        version: env!("CARGO_PKG_VERSION"),
        device: format!("{device:?}").to_lowercase(),
        precision: args.precision,
        skip_fraction: args.skip_fraction,
        max_frames: args.frames,
        scene_threshold: args.scene_threshold,
        static_threshold: args.static_threshold,
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
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tcvc-eval: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
