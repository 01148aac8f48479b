// SPDX-License-Identifier: MIT
//! Command line of `tcvc-train` and the run configuration recorded in checkpoints.
use super::error::{Result, TrainError};
use crate::device::DeviceSpec;
use crate::model::OutputMode;
use crate::model::{InputMode, WorkingOrientation};
use crate::video::Fit;
use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which network pair to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// The paper's model: TCVC generator on [line art, previous frame] + spectral-norm PatchGAN
    /// on [line art, previous, image]; loss adv + 10·L1 + content + 1000·style.
    Tcvc,
    /// The paper's baseline: pix2pix U-Net on the line art only + PatchGAN on [line art, image];
    /// loss adv + 100·L1.
    Pix2pix,
}

impl Arch {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Tcvc => "tcvc",
            Arch::Pix2pix => "pix2pix",
        }
    }
}

/// Where the generator's input plane is made (`--lines-at`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinesAt {
    /// From the frame scaled to the training size.
    #[default]
    Train,
    /// From the frame at the clip's own size, then averaged down to the training size (as the
    /// element gives the network the line art of a source-size stream).
    Source,
}

impl LinesAt {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinesAt::Train => "train",
            LinesAt::Source => "source",
        }
    }
}

/// What channel 0 of the generator input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputArg {
    /// Canny line art of each frame (`tcvc_core::edges`, as the `tcvclineart` element).
    Lineart,
    /// The grey frame.
    Greyscale,
}

impl From<InputArg> for InputMode {
    fn from(a: InputArg) -> Self {
        match a {
            InputArg::Lineart => InputMode::Lineart,
            InputArg::Greyscale => InputMode::Greyscale,
        }
    }
}

/// The `--perceptual` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PerceptualArg {
    /// A frozen VGG19 with deterministic random weights (`Vgg19::random(seed)`).
    Random,
    /// Frozen ImageNet EfficientNet-Lite0 (`--perceptual-weights`, made by `make efficientnet`):
    /// content on its five stage outputs, style (Gram) on the last four.
    #[value(name = "efficientnet-lite0")]
    EfficientnetLite0,
}

/// A training size `W` (square) or `WxH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

fn parse_size(s: &str) -> std::result::Result<Size, String> {
    let (width, height) = crate::video::parse_size(s)?;
    let min = crate::model::discriminator::MIN_INPUT_SIDE;
    if width < min || height < min || width > 4096 || height > 4096 {
        return Err(format!(
            "size {width}x{height} is out of range: each side must be {min}..=4096 pixels \
             (the 70x70 PatchGAN's five 4x4 convolutions need at least {min})"
        ));
    }
    Ok(Size { width, height })
}

fn parse_fit(s: &str) -> std::result::Result<Fit, String> {
    s.parse()
}

fn one() -> f64 {
    1.0
}

fn parse_orientation(s: &str) -> std::result::Result<WorkingOrientation, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "turn" => Ok(WorkingOrientation::Turn),
        "model" => Ok(WorkingOrientation::Model),
        _ => Err(format!(
            "'{s}' is not a training orientation: use turn (clips of the other orientation at \
             the training size turned) or model (every clip at the training size)"
        )),
    }
}

fn default_orientation() -> String {
    WorkingOrientation::Model.as_str().to_string()
}

fn default_fit() -> String {
    Fit::Stretch.as_str().to_string()
}

fn parse_fraction(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number: give a fraction such as 0.1"))?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not inside (0, 1): give the fraction of each clip to hold out, e.g. 0.1"
        ))
    }
}

fn parse_device(s: &str) -> std::result::Result<DeviceSpec, String> {
    s.parse()
}

fn parse_probability(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a probability: give a number from 0 to 1 (the paper: 0.5)"
        )),
    }
}

fn default_prev_prob() -> f64 {
    super::sampler::PREVIOUS_FRAME_PROBABILITY
}

fn parse_positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

/// `tcvc-train`: trains the TCVC colorization model (or the pix2pix baseline) on videos.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tcvc-train",
    version,
    about = "Train the TCVC line-art video colorization model (Thasarathan et al. 2019) on your videos",
    long_about = "Train the TCVC line-art video colorization model (Thasarathan, Nazeri & Ebrahimi \
2019) on video files or image-sequence folders, with checkpoints, resume, validation, loss plots \
and an export that the tcvccolorize element loads. See docs/training.md.\n\nExit codes: 0 done, \
1 failure while training, 2 bad input found before training, 130 interrupted by Ctrl-C (a \
checkpoint was saved; --resume continues)."
)]
pub struct Args {
    /// Training clip: a video file or a folder of images (*.png, *.jpg, *.bmp, sorted by
    /// name). Repeat for several clips.
    #[arg(long = "train", value_name = "PATH", required = true)]
    pub train: Vec<PathBuf>,
    /// Validation clip (video file or image folder). Repeatable.
    #[arg(long = "val", value_name = "PATH", conflicts_with = "val_split")]
    pub val: Vec<PathBuf>,
    /// Hold out the last fraction F (0 < F < 1) of each training clip for validation, as the
    /// paper does.
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    pub val_split: Option<f64>,
    /// Generator input: line art (Canny, as tcvclineart) or greyscale.
    #[arg(long, value_enum, default_value = "lineart")]
    pub input: InputArg,
    /// Network pair: the paper's TCVC model or the pix2pix U-Net baseline.
    #[arg(long, value_enum, default_value = "tcvc")]
    pub arch: Arch,
    /// Generator base width (TCVC `C`, pix2pix `ngf`); default 64.
    #[arg(long, value_name = "C")]
    pub channels: Option<i64>,
    /// Residual blocks of the TCVC generator; default 8.
    #[arg(long, value_name = "R")]
    pub res_blocks: Option<i64>,
    /// Training size: W (square) or WxH. Frames are fitted to it as --fit says.
    #[arg(long, value_parser = parse_size, default_value = "256")]
    pub size: Size,
    /// How a frame of another aspect ratio becomes the training size: `stretch` (the paper
    /// resizes to 256²), `crop` (centre crop to the target aspect, then scale) or `pad` (black
    /// borders, letterbox/pillarbox).
    #[arg(long, value_parser = parse_fit, default_value = "stretch")]
    pub fit: Fit,
    /// Which way round a clip is trained: `model` (every clip at --size, a portrait clip
    /// squeezed into a landscape size) or `turn` (a clip of the other orientation than --size —
    /// a portrait clip under a landscape size — at --size turned a quarter, 128x224 under
    /// 224x128; batches mix both, each sample through the generator the way round it was
    /// decoded). The export records it (`working_orientation`), and `tcvccolorize
    /// working-orientation=auto` then runs such frames turned too.
    #[arg(long, value_parser = parse_orientation, default_value = "model")]
    pub working_orientation: WorkingOrientation,
    /// Where the generator's input is made: `source` (the line art of the frame at the clip's
    /// own size, then averaged down to --size, as `tcvclineart ! tcvccolorize` give it to the
    /// network when the elements run at the source size; --fit stretch or crop) or `train` (the
    /// line art of the frame scaled to --size, the only way before; --fit pad needs it).
    #[arg(long, value_enum, default_value = "source")]
    pub lines_at: LinesAt,
    /// Samples per step (the reference train.py uses 16).
    #[arg(long, value_name = "B", default_value_t = 16)]
    pub batch_size: usize,
    /// Train until this many steps in total (counting the steps of a resumed run).
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Train for this many passes over the training frames (converted to steps).
    #[arg(long, value_name = "N")]
    pub epochs: Option<u64>,
    /// Seed of weight init, sampling order, previous-frame coin and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Probability that a training sample gets its ground-truth previous frame (else a blank
    /// one). The paper: 0.5; 0 trains the always-blank ablation (the exported model is then
    /// run without its previous-frame chain). TCVC only.
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0.5")]
    pub prev_prob: f64,
    /// Probability (after the ramp) that a sample given a previous frame gets the generator's
    /// own output for frame t−1 instead of the ground truth (no gradient through it), so the
    /// model learns to continue its own chain as at inference. 0 = the paper. TCVC only.
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    pub self_feed: f64,
    /// Steps over which --self-feed ramps up linearly from 0 (0: from the first step).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub self_feed_ramp: u64,
    /// Frames of the self-fed unroll: the generator runs over frames t−K..t−1 (within the shot),
    /// starting from the ground truth before them.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub unroll: u32,
    /// Probability that a ground-truth previous frame is degraded (colour jitter, blur, a shift
    /// of up to 2 pixels), as a generated frame would differ from the truth. TCVC only.
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    pub degrade_prev: f64,
    /// Samples of each batch that walk along a shot as the element's chain does: each of N
    /// walkers takes the next frame of its shot every step, with the generator's own output for
    /// the frame before (made at the previous step, no gradient through it) as its previous
    /// frame, a blank one at the shot's start, and a new shot after the last; the other samples
    /// of the batch are drawn as --prev-prob and the recipe say. Unlike --self-feed's short
    /// unroll from the ground truth, the chain is as long as the shot. 0 = off. TCVC only.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub chain_walkers: usize,
    /// Weight of the temporal loss: L1 between G_t − G_{t−1} and F_t − F_{t−1} on self-fed and
    /// walking samples (where G_{t−1} is the generator's own previous output); needs
    /// --self-feed or --chain-walkers.
    #[arg(long, value_name = "W", default_value_t = 0.0)]
    pub temporal_weight: f64,
    /// Probability that a sample is mirrored left to right (its line art, previous frame and
    /// targets together); a walker's whole shot is mirrored or not, so that its chain runs one
    /// way round as the element's does. Chosen from the seed: a resumed run mirrors the same
    /// samples. 0 = off.
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    pub flip: f64,
    /// Weight of the adversarial term of the generator's loss (the paper: 1; 0 trains the
    /// generator on the other terms alone, the discriminator still trains).
    #[arg(long, value_name = "W", default_value_t = 1.0)]
    pub adv_weight: f64,
    /// Weight of the L1 term (default: the paper's 10 for TCVC, pix2pix's 100).
    #[arg(long, value_name = "W")]
    pub l1_weight: Option<f64>,
    /// Weight of a squared-error term `W·mean((G_t − F_t)²)` (not in the paper; 0 = off). Its
    /// minimiser is the conditional mean, the PSNR-optimal colour where the line art leaves it
    /// uncertain (L1's is the median).
    #[arg(long, value_name = "W", default_value_t = 0.0)]
    pub l2_weight: f64,
    /// Weight of a squared-error term on the `fill` output, `W·mean((fill(G_t) − F_t)²)` (0 =
    /// off): each region between the lines of the training-size line art (widened by 1 px)
    /// painted with the prediction's mean over it, as `--output-mode fill` paints the full-size
    /// output. Its gradient moves each region's mean towards the reference's and leaves the
    /// variation inside a region, which the fill discards, alone.
    #[arg(long, value_name = "W", default_value_t = 0.0)]
    pub fill_weight: f64,
    /// Weight of the content term (default: the paper's 1, tuned for VGG19's features).
    #[arg(long, value_name = "W")]
    pub content_weight: Option<f64>,
    /// Weight of the style term (default: the paper's 1000, tuned for VGG19's features).
    #[arg(long, value_name = "W")]
    pub style_weight: Option<f64>,
    /// Compute device: auto, cpu, cuda or cuda:N.
    #[arg(long, value_parser = parse_device, default_value = "auto")]
    pub device: DeviceSpec,
    /// libtorch CPU threads (0 = libtorch's default, all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
    /// Generator learning rate (Adam, betas (0, 0.999)).
    #[arg(long, value_parser = parse_positive_f64, default_value = "1e-4")]
    pub lr_g: f64,
    /// Discriminator learning rate.
    #[arg(long, value_parser = parse_positive_f64, default_value = "1e-5")]
    pub lr_d: f64,
    /// VGG19 weights (safetensors, torchvision names features.N.weight/bias; make it with
    /// tools/convert_torchvision_vgg19.py) for the content and style losses.
    #[arg(long, value_name = "FILE", conflicts_with = "perceptual")]
    pub vgg19: Option<PathBuf>,
    /// `random`: content and style losses through a frozen random VGG19 (no download needed);
    /// `efficientnet-lite0`: through ImageNet EfficientNet-Lite0 (`make efficientnet` fetches and
    /// converts it). Without --vgg19 or --perceptual the content and style terms are off.
    #[arg(long, value_enum)]
    pub perceptual: Option<PerceptualArg>,
    /// The EfficientNet-Lite0 file of `--perceptual efficientnet-lite0`.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "data/efficientnet-lite0.safetensors"
    )]
    pub perceptual_weights: PathBuf,
    /// Folder of checkpoints, losses.csv, plots, sample grids and run.json.
    #[arg(long, value_name = "DIR", default_value = "tcvc-run")]
    pub checkpoint_dir: PathBuf,
    /// Write a checkpoint every N steps (and always at the end and on Ctrl-C).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Keep the newest K checkpoints.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub keep: usize,
    /// Continue from the newest valid checkpoint of --checkpoint-dir (a new run when there is
    /// none).
    #[arg(long)]
    pub resume: bool,
    /// Start the generator from a model file (an earlier --export or a converted reference
    /// checkpoint) to fine-tune it; the discriminator and optimizers start fresh.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Write the trained generator here at the end, in the model-file format tcvccolorize
    /// loads.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// The output the exported model recommends (`ink`, `luma`, `color` or `fill`; its `output_mode`
    /// metadata): what `tcvccolorize output-mode=auto`, `tcvc-eval` and `tcvc-episode` then
    /// use. Set it to the mode that measured best on your validation clips (`tcvc-eval
    /// --output-mode`); unset, `auto` is ink for line art and luma for greyscale.
    #[arg(long, value_name = "MODE")]
    pub output_mode: Option<OutputMode>,
    /// Export the mean of the generator weights of the newest N checkpoints of
    /// --checkpoint-dir (the last one included; checkpoint averaging, which evens out the
    /// step-to-step swings of the colours) instead of the last weights. 1 = the last weights.
    /// Needs --keep ≥ N.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub export_average: u32,
    /// Storage of the exported weights: f32 (exact) or f16 (half the size; loading widens it).
    #[arg(long, value_enum, default_value = "f32")]
    pub export_dtype: ExportDtype,
    /// Validate every N steps (0: only at the end).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub val_every: u64,
    /// Validate on at most N frames of each validation clip (0: all).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub val_frames: usize,
    /// Rows of the validation sample grid.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub grid_rows: usize,
    /// Cache of decoded frames (default: DIR/frame-cache).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Decode at most N frames of each clip.
    #[arg(long, value_name = "N")]
    pub max_frames: Option<usize>,
    /// When stderr is not a terminal, print a progress line every N steps.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub log_every: u64,
    /// Do not draw the PNG plots (no font needed).
    #[arg(long)]
    pub no_plots: bool,
    /// Benchmark: time N training steps (after 2 warm-up steps), print samples/s and exit
    /// without writing checkpoints, CSV or plots.
    #[arg(long, value_name = "N")]
    pub bench_steps: Option<u64>,
}

/// `--export-dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportDtype {
    /// 32-bit float weights (exact).
    F32,
    /// 16-bit half weights: half the file; within ~1e-3 relative of the f32 weights.
    F16,
}

/// The perceptual (content + style) setting of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Perceptual {
    /// Content and style losses off.
    Off,
    /// Frozen random VGG19 from the run seed.
    Random,
    /// VGG19 weights from a file.
    File {
        /// The weights file as given.
        path: PathBuf,
    },
    /// EfficientNet-Lite0 features from the converter's file.
    EfficientNet {
        /// The weights file as given.
        path: PathBuf,
    },
}

/// The run's configuration as recorded in every checkpoint and in `DIR/run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Network pair.
    pub arch: Arch,
    /// `lineart` or `greyscale`.
    pub input_mode: String,
    /// Generator base width.
    pub channels: i64,
    /// TCVC residual blocks (0 for pix2pix).
    pub res_blocks: i64,
    /// Training size.
    pub size: Size,
    /// How frames were fitted to the training size (`stretch`, `crop`, `pad`).
    #[serde(default = "default_fit")]
    pub fit: String,
    /// `--working-orientation` (runs from before it, whose run.json lacks the field, trained
    /// every clip at the training size: `model`).
    #[serde(default = "default_orientation")]
    pub working_orientation: String,
    /// Where the inputs were made (`--lines-at`; runs from before it, whose run.json lacks the
    /// field, made them at the training size: `train`).
    #[serde(default)]
    pub lines_at: LinesAt,
    /// Samples per step.
    pub batch_size: usize,
    /// Run seed.
    pub seed: u64,
    /// Probability of the ground-truth previous frame (`--prev-prob`).
    #[serde(default = "default_prev_prob")]
    pub prev_prob: f64,
    /// Previous-frame recipe (`--self-feed`, `--self-feed-ramp`, `--unroll`, `--degrade-prev`).
    #[serde(default)]
    pub recipe: super::sampler::Recipe,
    /// Weight of the temporal loss (`--temporal-weight`).
    #[serde(default)]
    pub temporal_weight: f64,
    /// Probability of a left-right mirrored sample (`--flip`; absent in runs from before it: 0).
    #[serde(default)]
    pub flip: f64,
    /// Weight of the adversarial term (`--adv-weight`).
    #[serde(default = "one")]
    pub adv_weight: f64,
    /// Weight of the L1 term (`--l1-weight`; `None`: the architecture's default).
    #[serde(default)]
    pub l1_weight: Option<f64>,
    /// Weight of the squared-error term (`--l2-weight`).
    #[serde(default)]
    pub l2_weight: f64,
    /// Weight of the squared error on the fill output (`--fill-weight`).
    #[serde(default)]
    pub fill_weight: f64,
    /// Weight of the content term (`--content-weight`; `None`: the paper's).
    #[serde(default)]
    pub content_weight: Option<f64>,
    /// Weight of the style term (`--style-weight`; `None`: the paper's).
    #[serde(default)]
    pub style_weight: Option<f64>,
    /// Generator learning rate.
    pub lr_g: f64,
    /// Discriminator learning rate.
    pub lr_d: f64,
    /// Content/style setting.
    pub perceptual: Perceptual,
    /// Training clips as given.
    pub train: Vec<PathBuf>,
    /// Validation clips as given.
    pub val: Vec<PathBuf>,
    /// `--val-split`.
    pub val_split: Option<f64>,
    /// `--max-frames`.
    pub max_frames: Option<usize>,
    /// Generator weights the run started from (`--init-from`).
    pub init_from: Option<PathBuf>,
}

impl RunConfig {
    /// Whether the model never sees a previous frame in training (`--prev-prob 0` without
    /// `--chain-walkers`): it is then exported and validated to run with a blank one.
    pub fn blank_previous(&self) -> bool {
        self.prev_prob == 0.0 && self.recipe.walkers == 0
    }

    /// The configuration of `args` (validated: channels, res blocks, batch size, flag
    /// combinations).
    pub fn from_args(args: &Args) -> Result<Self> {
        let channels = args.channels.unwrap_or(64);
        if !(1..=1024).contains(&channels) {
            return Err(TrainError::usage(format!(
                "--channels {channels} is out of range: use 1..=1024 (the paper: 64)"
            )));
        }
        let res_blocks = args.res_blocks.unwrap_or(8);
        if !(0..=64).contains(&res_blocks) {
            return Err(TrainError::usage(format!(
                "--res-blocks {res_blocks} is out of range: use 0..=64 (the paper: 8)"
            )));
        }
        if args.export_average as usize > args.keep.max(1) {
            return Err(TrainError::usage(format!(
                "--export-average {} averages the newest {} checkpoints, but --keep {} keeps only \
                 {}: raise --keep",
                args.export_average,
                args.export_average,
                args.keep,
                args.keep.max(1)
            )));
        }
        if args.batch_size == 0 {
            return Err(TrainError::usage("--batch-size must be at least 1"));
        }
        if args.lines_at == LinesAt::Source && args.fit == Fit::Pad {
            return Err(TrainError::usage(
                "--lines-at source (the default) makes the line art at the clip's own size, \
                 which has no borders: use --fit stretch or crop with it, or --lines-at train \
                 with --fit pad",
            ));
        }
        if args.checkpoint_every == 0 {
            return Err(TrainError::usage(
                "--checkpoint-every must be at least 1 (checkpoints are also written at the end)",
            ));
        }
        if args.arch == Arch::Pix2pix && (args.vgg19.is_some() || args.perceptual.is_some()) {
            return Err(TrainError::usage(
                "--arch pix2pix trains with adv + 100·L1 only (as pix2pix): drop --vgg19 / \
                 --perceptual",
            ));
        }
        if args.arch == Arch::Pix2pix && args.init_from.is_some() {
            return Err(TrainError::usage(
                "--init-from loads a TCVC model file; it cannot start a pix2pix U-Net",
            ));
        }
        if args.arch == Arch::Pix2pix && args.prev_prob != default_prev_prob() {
            return Err(TrainError::usage(
                "--prev-prob is for --arch tcvc: the pix2pix U-Net has no previous-frame input",
            ));
        }
        let recipe_flags = args.self_feed > 0.0
            || args.chain_walkers > 0
            || args.degrade_prev > 0.0
            || args.temporal_weight != 0.0
            || args.self_feed_ramp > 0
            || args.unroll != 1;
        if args.arch == Arch::Pix2pix && recipe_flags {
            return Err(TrainError::usage(
                "--self-feed, --self-feed-ramp, --unroll, --chain-walkers, --degrade-prev and \
                 --temporal-weight are for --arch tcvc: the pix2pix U-Net has no previous-frame input",
            ));
        }
        if !(args.temporal_weight >= 0.0 && args.temporal_weight.is_finite()) {
            return Err(TrainError::usage(
                "--temporal-weight must be a finite number >= 0",
            ));
        }
        for (flag, w) in [
            ("--adv-weight", Some(args.adv_weight)),
            ("--l1-weight", args.l1_weight),
            ("--l2-weight", Some(args.l2_weight)),
            ("--fill-weight", Some(args.fill_weight)),
        ] {
            if let Some(w) = w {
                if !(w >= 0.0 && w.is_finite()) {
                    return Err(TrainError::usage(format!(
                        "{flag} must be a finite number >= 0"
                    )));
                }
            }
        }
        if args.temporal_weight > 0.0 && args.self_feed == 0.0 && args.chain_walkers == 0 {
            return Err(TrainError::usage(
                "--temporal-weight compares the output with the generator's own previous output, \
                 which only self-fed and walking samples have: add --self-feed P (e.g. 0.5) or \
                 --chain-walkers N",
            ));
        }
        if args.chain_walkers > args.batch_size {
            return Err(TrainError::usage(format!(
                "--chain-walkers {} is more than --batch-size {}: each walker is one sample of \
                 every batch",
                args.chain_walkers, args.batch_size
            )));
        }
        if args.prev_prob == 0.0 && (args.self_feed > 0.0 || args.degrade_prev > 0.0) {
            return Err(TrainError::usage(
                "--prev-prob 0 never gives a previous frame, so --self-feed / --degrade-prev \
                 would do nothing: drop them or raise --prev-prob",
            ));
        }
        if args.steps == Some(0) || args.epochs == Some(0) {
            return Err(TrainError::usage("--steps / --epochs must be at least 1"));
        }
        if args.steps.is_none() && args.epochs.is_none() && args.bench_steps.is_none() {
            return Err(TrainError::usage(
                "say how long to train: --steps N (total optimisation steps) or --epochs N",
            ));
        }
        if args.arch == Arch::Pix2pix
            && crate::model::unet::downs_for(args.size.width, args.size.height).is_none()
        {
            return Err(TrainError::usage(super::nets::pix2pix_size_message(
                args.size,
            )));
        }
        let perceptual = match (&args.vgg19, args.perceptual) {
            (Some(p), _) => Perceptual::File { path: p.clone() },
            (None, Some(PerceptualArg::Random)) => Perceptual::Random,
            (None, Some(PerceptualArg::EfficientnetLite0)) => Perceptual::EfficientNet {
                path: args.perceptual_weights.clone(),
            },
            (None, None) => Perceptual::Off,
        };
        Ok(RunConfig {
            arch: args.arch,
            input_mode: InputMode::from(args.input).as_str().to_string(),
            channels,
            res_blocks: if args.arch == Arch::Tcvc {
                res_blocks
            } else {
                0
            },
            size: args.size,
            fit: args.fit.as_str().to_string(),
            working_orientation: args.working_orientation.as_str().to_string(),
            lines_at: args.lines_at,
            batch_size: args.batch_size,
            seed: args.seed,
            prev_prob: args.prev_prob,
            recipe: super::sampler::Recipe {
                self_feed: args.self_feed,
                self_feed_ramp: args.self_feed_ramp,
                unroll: args.unroll as usize,
                degrade: args.degrade_prev,
                walkers: args.chain_walkers,
            },
            temporal_weight: args.temporal_weight,
            flip: args.flip,
            adv_weight: args.adv_weight,
            l1_weight: args.l1_weight,
            l2_weight: args.l2_weight,
            fill_weight: args.fill_weight,
            content_weight: args.content_weight,
            style_weight: args.style_weight,
            lr_g: args.lr_g,
            lr_d: args.lr_d,
            perceptual,
            train: args.train.clone(),
            val: args.val.clone(),
            val_split: args.val_split,
            max_frames: args.max_frames,
            init_from: args.init_from.clone(),
        })
    }

    /// The input mode.
    pub fn input(&self) -> InputMode {
        if self.input_mode == "greyscale" {
            InputMode::Greyscale
        } else {
            InputMode::Lineart
        }
    }

    /// The fit (an unknown name, from a hand-edited run.json, reads as stretch).
    pub fn fit(&self) -> Fit {
        self.fit.parse().unwrap_or_default()
    }

    /// The training orientation, `Turn` or `Model` (another name, from a hand-edited run.json,
    /// reads as `model`).
    pub fn orientation(&self) -> WorkingOrientation {
        parse_orientation(&self.working_orientation).unwrap_or(WorkingOrientation::Model)
    }

    /// The first setting that makes a checkpoint written with `self` unusable for a run asking
    /// for `other` (architecture, sizes, seed, batch, perceptual networks), as a message.
    pub fn incompatibility(&self, other: &RunConfig) -> Option<String> {
        let pairs = [
            (
                "--arch",
                self.arch.as_str().to_string(),
                other.arch.as_str().to_string(),
            ),
            ("--input", self.input_mode.clone(), other.input_mode.clone()),
            (
                "--channels",
                self.channels.to_string(),
                other.channels.to_string(),
            ),
            (
                "--res-blocks",
                self.res_blocks.to_string(),
                other.res_blocks.to_string(),
            ),
            ("--size", self.size.to_string(), other.size.to_string()),
            ("--fit", self.fit.clone(), other.fit.clone()),
            (
                "--working-orientation",
                self.working_orientation.clone(),
                other.working_orientation.clone(),
            ),
            (
                "--lines-at",
                self.lines_at.as_str().to_string(),
                other.lines_at.as_str().to_string(),
            ),
            (
                "--batch-size",
                self.batch_size.to_string(),
                other.batch_size.to_string(),
            ),
            ("--seed", self.seed.to_string(), other.seed.to_string()),
            (
                "--prev-prob",
                self.prev_prob.to_string(),
                other.prev_prob.to_string(),
            ),
            (
                "--self-feed/--self-feed-ramp/--unroll/--degrade-prev/--chain-walkers",
                format!("{:?}", self.recipe),
                format!("{:?}", other.recipe),
            ),
            (
                "--temporal-weight",
                self.temporal_weight.to_string(),
                other.temporal_weight.to_string(),
            ),
            ("--flip", self.flip.to_string(), other.flip.to_string()),
            (
                "--adv-weight",
                self.adv_weight.to_string(),
                other.adv_weight.to_string(),
            ),
            (
                "--l1-weight",
                format!("{:?}", self.l1_weight),
                format!("{:?}", other.l1_weight),
            ),
            (
                "--l2-weight",
                self.l2_weight.to_string(),
                other.l2_weight.to_string(),
            ),
            (
                "--fill-weight",
                self.fill_weight.to_string(),
                other.fill_weight.to_string(),
            ),
            (
                "--content-weight/--style-weight",
                format!("{:?}/{:?}", self.content_weight, self.style_weight),
                format!("{:?}/{:?}", other.content_weight, other.style_weight),
            ),
            (
                "--vgg19/--perceptual",
                format!("{:?}", self.perceptual),
                format!("{:?}", other.perceptual),
            ),
        ];
        pairs
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(flag, a, b)| {
                format!("the checkpoint was trained with {flag} {a}, this run asks for {b}")
            })
    }
}
