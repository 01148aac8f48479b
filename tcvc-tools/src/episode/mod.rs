// SPDX-License-Identifier: MIT
//! `tcvc-episode`: whole episodes, fast. See docs/episode.md and docs/farm.md.
//!
//! - `plan INPUT -o shots.json`: the shots, found with the element's cut rule ([`plan`]);
//! - `colorize INPUT -o OUT [--shots shots.json] [--shard I/N] --batch B`: up to `B` shot
//!   chains advanced in lockstep as one batch ([`colorize`]), frames written in order to a video
//!   or a PNG sequence ([`output`]);
//! - `join SEGMENT.ts… -o OUT`: shard segments put together without re-encoding.
//!
//! Every frame equals what `tcvclineart ! tcvccolorize` makes over the whole file with the same
//! model and threshold.
use crate::device::DeviceSpec;
use crate::model::cache::{self, CachedModel};
use crate::model::stream::{parse_smoothing, DEFAULT_SCENE_THRESHOLD};
use crate::model::{ModelError, OutputChoice, Precision, PreviousChoice, WorkingOrientation};
use crate::pattern::FramePattern;
use crate::video::VideoError;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tch::Kind;

pub mod colorize;
pub mod lines;
pub mod output;
pub mod plan;

/// Why `tcvc-episode` failed.
#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    /// A bad argument or input (exit status 2).
    #[error("{0}")]
    Input(String),
    /// A shots manifest that cannot be used (exit status 2).
    #[error("shots manifest: {0}")]
    Plan(String),
    /// The input video.
    #[error(transparent)]
    Video(#[from] VideoError),
    /// The model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Anything else while running (exit status 1).
    #[error("{0}")]
    Run(String),
    /// A consumer's signal that it needs no more frames (never reaches the user).
    #[doc(hidden)]
    #[error("stopped early")]
    Stopped,
}

impl EpisodeError {
    fn exit_code(&self) -> u8 {
        match self {
            EpisodeError::Run(_) => 1,
            EpisodeError::Model(ModelError::Torch { .. }) => 1,
            _ => 2,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "tcvc-episode",
    version,
    about = "Colorizes whole episodes: shots found with the element's cut rule, shot chains batched, shards for a render farm",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ModelArgs {
    /// Model file (.safetensors from tcvc-train --export); `default` = the built-in model.
    #[arg(long, default_value = "default")]
    model: String,
    /// Working size WxH (default: the model's training size, turned as --working-orientation
    /// says, as the element).
    #[arg(long, value_parser = parse_working)]
    working: Option<(u32, u32)>,
    /// Without --working: `turn` turns the model's training size a quarter for a video of the
    /// other orientation (a portrait episode runs at 128x224 under a 224x128 model), `model`
    /// keeps the training size, `auto` does what the model file says (`turn` for a model
    /// trained so), as the element's working-orientation.
    #[arg(long, value_name = "O", default_value_t = WorkingOrientation::Auto)]
    working_orientation: WorkingOrientation,
    /// Cut threshold (the element's `scene-threshold`; 1.0 = no cuts).
    #[arg(long, default_value_t = DEFAULT_SCENE_THRESHOLD)]
    scene_threshold: f64,
    /// Artist keyframes, as the element's `keyframe-location` (e.g. keys/%05d.png).
    #[arg(long)]
    keyframe_location: Option<String>,
    /// Threads making line art (0 = one per core).
    #[arg(long, default_value_t = 0)]
    line_threads: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Finds the shots (the element's cut rule) and writes them as a JSON manifest.
    Plan {
        /// Video file or folder of images.
        input: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        /// The manifest to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write every frame's cut scores as CSV.
        #[arg(long)]
        scores: Option<PathBuf>,
    },
    /// Colorizes the shots (of one shard) with up to B shot chains per forward pass.
    Colorize {
        /// Video file or folder of images.
        input: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        /// Output: a video (.mkv, .mp4, .mov, .ts) or a PNG sequence (a path with %d, e.g.
        /// out/%05d.png; frames keep their episode numbers).
        #[arg(short, long)]
        output: PathBuf,
        /// Shots manifest from `tcvc-episode plan` (default: planned first, one more decode).
        #[arg(long)]
        shots: Option<PathBuf>,
        /// Colorize only shard I of N (0-based), contiguous shots balanced by frame count.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Shot chains advanced together in one forward pass.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// GStreamer encoder description for video outputs.
        #[arg(long, default_value = output::DEFAULT_ENCODER)]
        encoder: String,
        /// auto (cuda:0 if present, else cpu), cpu, cuda or cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Inference precision: fp32, bf16, fp16 (CUDA only).
        #[arg(long, default_value_t = Precision::Fp32)]
        precision: Precision,
        /// How the output is composed: auto (the model's recommended output_mode, else ink for
        /// line art, luma for greyscale), ink, luma, color, fill.
        #[arg(long, default_value_t = OutputChoice::Auto)]
        output_mode: OutputChoice,
        /// The previous frame: auto (as the model file says), chain (the model's own previous
        /// output, as the element by default), blank (every frame on its own; keyframes are
        /// output but not carried forward), as the element's previous-frame.
        #[arg(long, value_name = "P", default_value_t = PreviousChoice::Auto)]
        previous: PreviousChoice,
        /// Test-time flip averaging, as the element's flip-average: each prediction is the mean
        /// of the model's output for the frame and, mirrored back, for its left-right mirror
        /// (twice the model's work).
        #[arg(long)]
        flip_average: bool,
        /// Temporal smoothing of the output, as the element's temporal-smoothing (0 off, up to
        /// 0.95).
        #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = parse_smoothing)]
        temporal_smoothing: f64,
        /// Keyframes only feed the chain, as the element's keyframe-carry=false: without it, in
        /// the fill output a keyframe's colours stay on its regions in the frames that follow.
        #[arg(long)]
        no_keyframe_carry: bool,
        /// The keyframe carry without its optical-flow step, as the element's
        /// keyframe-flow=false (about a third of the carry's cost at 1280x720); with
        /// --keyframe-backward, the keyframes moved back without it too.
        #[arg(long)]
        no_keyframe_flow: bool,
        /// Also paints each keyframe, moved with the camera and then back along the optical flow
        /// a frame at a time, into the frames of its shot before it that are nearer to it than to
        /// the shot's keyframe before (or have none before): the next keyframe moved back, which
        /// a stream (the element) cannot do. Needs
        /// --keyframe-location, the fill output and the keyframe carry; frames before a keyframe
        /// then wait for it before they are written.
        #[arg(long)]
        keyframe_backward: bool,
        /// libtorch CPU threads (0 = libtorch's default).
        #[arg(long, default_value_t = 0)]
        threads: i32,
    },
    /// Puts shard segments (.ts, in order) together without re-encoding.
    Join {
        /// The segments, in shard order.
        #[arg(required = true)]
        segments: Vec<PathBuf>,
        /// The joined file (.ts bytes as they are; .mkv/.mp4/.mov remuxed).
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn parse_working(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = crate::video::parse_size(s)?;
    if w < 12 || h < 12 || w > 8192 || h > 8192 {
        return Err(format!(
            "working size {w}x{h}: each side must be 12..=8192 (the generator needs 12)"
        ));
    }
    Ok((w, h))
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{s}' is not a shard: use I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The model, as the element loads it.
fn load_model(
    name: &str,
    device: tch::Device,
    kind: Kind,
) -> Result<Arc<CachedModel>, EpisodeError> {
    let m = if name == "default" {
        cache::load_default(device, kind)?
    } else {
        cache::load_shared(Path::new(name), device, kind)?
    };
    if let Some(p) = &m.weights_problem {
        eprintln!("warning: model {}: {p}", m.path.display());
    }
    Ok(m)
}

/// The working size and whether it turns for the video's orientation (`turn` or `model`: `auto`
/// resolved with the model file; never turned when --working sets it).
fn working_of(args: &ModelArgs, model: &CachedModel) -> ((u32, u32), WorkingOrientation) {
    match args.working {
        Some(w) => (w, WorkingOrientation::Model),
        None => (
            (model.meta.train_size.width, model.meta.train_size.height),
            args.working_orientation
                .resolve(model.meta.working_orientation),
        ),
    }
}

fn keyframes(args: &ModelArgs) -> Result<Option<FramePattern>, EpisodeError> {
    args.keyframe_location
        .as_deref()
        .map(|p| {
            FramePattern::parse(p)
                .map_err(|e| EpisodeError::Input(format!("--keyframe-location {e}")))
        })
        .transpose()
}

/// Which shots have an artist keyframe: a line for the log. A shot without one is the
/// network's alone (its chain starts blank), which a studio may want to key.
fn keyframe_coverage(pattern: &FramePattern, shots: &[plan::Shot]) -> String {
    let mut keys = 0;
    let mut bare = Vec::new();
    for shot in shots {
        let n = (shot.start..shot.end)
            .filter(|&i| Path::new(&pattern.format(i)).is_file())
            .count();
        keys += n;
        if n == 0 {
            bare.push(shot.start);
        }
    }
    let keyed = shots.len() - bare.len();
    let mut line = format!("keyframes: {keys} in {keyed} of {} shots", shots.len());
    if !bare.is_empty() {
        let list: Vec<String> = bare.iter().take(20).map(|s| s.to_string()).collect();
        let more = if bare.len() > 20 {
            format!(" and {} more", bare.len() - 20)
        } else {
            String::new()
        };
        line += &format!(
            "; the shots starting at frames {}{more} have none and are the network's alone",
            list.join(", ")
        );
    }
    line
}

fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    let b = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if std::io::stderr().is_terminal() {
        b.set_draw_target(ProgressDrawTarget::stderr());
        let style = if len.is_some() {
            "{msg} [{bar:30}] {pos}/{len} frames, {per_sec}, ETA {eta}"
        } else {
            "{msg} {pos} frames, {per_sec}"
        };
        if let Ok(s) = ProgressStyle::with_template(style) {
            b.set_style(s.progress_chars("=> "));
        }
        b.set_message(what.to_string());
    } else {
        b.set_draw_target(ProgressDrawTarget::hidden());
    }
    b
}

fn run_plan(
    input: &Path,
    args: &ModelArgs,
    model: &CachedModel,
    scores: Option<&Path>,
) -> Result<plan::Plan, EpisodeError> {
    let kf = keyframes(args)?;
    let mut scores_file = scores
        .map(|p| {
            std::fs::File::create(p)
                .map(std::io::BufWriter::new)
                .map_err(|e| EpisodeError::Input(format!("cannot write {}: {e}", p.display())))
        })
        .transpose()?;
    let pb = bar(None, "planning");
    let plan = plan::plan(plan::PlanRequest {
        input,
        input_mode: model.meta.input_mode,
        working: working_of(args, model).0,
        orientation: working_of(args, model).1,
        scene_threshold: args.scene_threshold,
        threads: args.line_threads,
        keyframes: kf.as_ref(),
        scores: scores_file.as_mut().map(|f| f as &mut dyn std::io::Write),
        progress: &mut |_, _| pb.inc(1),
    })?;
    pb.finish_and_clear();
    if let Some(mut f) = scores_file {
        use std::io::Write;
        f.flush()
            .map_err(|e| EpisodeError::Run(format!("cannot write the scores: {e}")))?;
    }
    Ok(plan)
}

fn run(cli: Cli) -> Result<(), EpisodeError> {
    match cli.command {
        Command::Plan {
            input,
            model,
            output,
            scores,
        } => {
            let m = load_model(&model.model, tch::Device::Cpu, Kind::Float)?;
            let t = Instant::now();
            let plan = run_plan(&input, &model, &m, scores.as_deref())?;
            plan.write(&output)?;
            eprintln!(
                "{}: {} frames, {} shots, {:.1} frames/s -> {}",
                input.display(),
                plan.frames,
                plan.shots.len(),
                plan.frames as f64 / t.elapsed().as_secs_f64(),
                output.display()
            );
            Ok(())
        }
        Command::Colorize {
            input,
            model,
            output,
            shots,
            shard,
            batch,
            encoder,
            device,
            precision,
            output_mode,
            previous,
            flip_average,
            temporal_smoothing,
            no_keyframe_carry,
            no_keyframe_flow,
            keyframe_backward,
            threads,
        } => {
            if batch == 0 {
                return Err(EpisodeError::Input("--batch must be at least 1".into()));
            }
            if keyframe_backward && (model.keyframe_location.is_none() || no_keyframe_carry) {
                return Err(EpisodeError::Input(
                    "--keyframe-backward moves keyframes back: it needs --keyframe-location and the keyframe carry (drop --no-keyframe-carry)".into(),
                ));
            }
            let spec: DeviceSpec = device
                .parse()
                .map_err(|e: String| EpisodeError::Input(format!("--device: {e}")))?;
            let dev = spec
                .resolve()
                .map_err(|e| EpisodeError::Input(format!("--device: {e}")))?;
            let kind = precision
                .kind(dev)
                .map_err(|e| EpisodeError::Input(format!("--precision {e}")))?;
            if threads > 0 {
                tch::set_num_threads(threads);
            }
            let kf = keyframes(&model)?;
            let m = load_model(&model.model, dev, kind)?;
            let mode = output_mode.resolve(m.meta.input_mode, m.meta.output);
            if keyframe_backward && mode != crate::model::stream::OutputMode::Fill {
                return Err(EpisodeError::Input(format!(
                    "--keyframe-backward paints keyframes into the fill output; this run's is {mode}: add --output-mode fill"
                )));
            }
            let (base, orientation) = working_of(&model, &m);
            let plan = match &shots {
                Some(p) => {
                    let plan = plan::Plan::read(p)?;
                    let working = orientation.working(base, (plan.width, plan.height));
                    if plan.working != working || plan.scene_threshold != model.scene_threshold {
                        eprintln!(
                            "note: {} was planned at working size {}x{} and threshold {} (this run: {}x{}, {}); its shots are used as they are",
                            p.display(), plan.working.0, plan.working.1, plan.scene_threshold,
                            working.0, working.1, model.scene_threshold
                        );
                    }
                    plan
                }
                None => run_plan(&input, &model, &m, None)?,
            };
            let working = orientation.working(base, (plan.width, plan.height));
            let (si, sn) = shard.unwrap_or((0, 1));
            let range = plan.shard(si, sn);
            let frames: u64 = plan.shots[range.clone()].iter().map(|s| s.len()).sum();
            if let Some(p) = &kf {
                eprintln!("{}", keyframe_coverage(p, &plan.shots[range.clone()]));
            }
            let fps = plan
                .fps
                .split_once('/')
                .and_then(|(n, d)| Some(gst::Fraction::new(n.parse().ok()?, d.parse().ok()?)))
                .unwrap_or(gst::Fraction::new(0, 1));
            let mut writer = output::open(&output, plan.width, plan.height, fps, &encoder)?;
            let pb = bar(Some(frames), "colorizing");
            let t = Instant::now();
            let report = colorize::colorize(
                colorize::ColorizeRequest {
                    input: &input,
                    plan: &plan,
                    shots: range.clone(),
                    model: &m,
                    device: dev,
                    working,
                    batch,
                    output_mode: mode,
                    previous,
                    flip_average,
                    temporal_smoothing,
                    keyframes: kf.as_ref(),
                    keyframe_carry: !no_keyframe_carry,
                    keyframe_flow: !no_keyframe_flow,
                    keyframe_backward,
                    threads: model.line_threads,
                    progress: &mut |n| pb.set_position(n),
                },
                writer.as_mut(),
            )?;
            writer.finish()?;
            pb.finish_and_clear();
            eprintln!(
                "{}: shard {si}/{sn}: {} shots, {} frames, {} forward passes (batch up to {batch}), {:.1} frames/s -> {}",
                input.display(),
                range.len(),
                report.frames,
                report.forwards,
                report.frames as f64 / t.elapsed().as_secs_f64(),
                output.display()
            );
            Ok(())
        }
        Command::Join { segments, output } => {
            output::join(&segments, &output)?;
            eprintln!("joined {} segments -> {}", segments.len(), output.display());
            Ok(())
        }
    }
}

/// The `tcvc-episode` command line.
pub fn main() -> ExitCode {
    crate::malloc::tune();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcvc-episode: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
