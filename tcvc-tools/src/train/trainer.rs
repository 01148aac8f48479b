// SPDX-License-Identifier: MIT
//! The training run: checks everything that can be checked before training (exit code 2 with a
//! message naming the file or flag and the fix), then trains with checkpoints, validation,
//! CSV, plots, Ctrl-C handling and the final export.
use super::checkpoint::{self, CheckpointState, Loaded};
use super::config::{Arch, Args, ExportDtype, Perceptual, RunConfig};
use super::csvlog::{LossLog, TrainRow, ValRow};
use super::data::{self, Dataset};
use super::error::{Result, TrainError};
use super::nets::{Nets, StepLosses};
use super::plots;
use super::progress::{describe, Progress};
use super::sampler::{flip_rows, flip_samples, flips, gather, self_feed, Sampler, Walks};
use super::validation::{validate, ValFigures};
use crate::model::{
    ColorNet, EfficientNetLite0, FeatureNet, ModelFile, ModelMeta, PreviousFrame, StorageDtype,
    TrainSize, Vgg19,
};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Tensor};

/// How a run ended (errors aside).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Trained up to `step` (also when nothing was left to train).
    Finished {
        /// Last step.
        step: u64,
    },
    /// Stopped by Ctrl-C after `step`; a checkpoint of that step was written.
    Interrupted {
        /// Last step.
        step: u64,
    },
    /// `--bench-steps` run.
    Benchmarked {
        /// Training samples per second.
        samples_per_s: f64,
    },
}

/// Creates `dir` and checks that files can be written in it (creates and removes a probe).
pub fn check_writable_dir(dir: &Path, what: &str, flag: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        TrainError::usage(format!(
            "the {what} {} is not writable: {e}; choose a folder you can write with {flag} \
             (or fix its permissions / free space)",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".tcvc-train-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(b"probe").and_then(|_| f.sync_all()))
        .map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// The newest checkpoint of `dir` that loads and verifies (damaged ones are reported and
/// skipped).
fn newest_valid_checkpoint(dir: &Path, device: Device) -> Option<Loaded> {
    for (_, path) in checkpoint::list(dir) {
        match checkpoint::load(&path, device) {
            Ok(l) => {
                eprintln!("resuming from {} (step {})", path.display(), l.state.step);
                return Some(l);
            }
            Err(e) => eprintln!("warning: skipping checkpoint {}: {e}", path.display()),
        }
    }
    None
}

/// Removes temporary files left by a run killed while writing.
fn remove_stale_temporaries(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".ckpt-") && name.contains(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `run.json`: the run's metadata.
#[derive(Debug, Serialize)]
struct RunInfo<'a> {
    tool: String,
    command: Vec<String>,
    config: &'a RunConfig,
    device: String,
    perceptual: String,
    total_steps: u64,
    train_frames: usize,
    val_frames: usize,
    train_clips: Vec<String>,
    val_clips: Vec<String>,
    generator_parameters: i64,
    discriminator_parameters: i64,
    resumed_from_step: Option<u64>,
}

/// What the content and style terms run through; the objective itself, with the weights as
/// resolved, is [`Nets::objective`].
fn perceptual_text(arch: Arch, p: &Perceptual, seed: u64) -> String {
    match p {
        Perceptual::Off if arch == Arch::Pix2pix => {
            "pix2pix baseline: no content or style losses (as pix2pix)".into()
        }
        Perceptual::Off => "content and style losses OFF (no --vgg19 or --perceptual)".into(),
        Perceptual::Random => format!(
            "content and style losses ON through a frozen RANDOM VGG19 (seed {seed}): a \
             stand-in when no ImageNet weights are at hand; pass --vgg19 for the paper's losses"
        ),
        Perceptual::File { path } => format!(
            "content and style losses ON through VGG19 weights {}",
            path.display()
        ),
        Perceptual::EfficientNet { path } => format!(
            "content and style losses ON through ImageNet EfficientNet-Lite0 {} (content on its \
             5 stage outputs, style on the last 4)",
            path.display()
        ),
    }
}

/// Everything set up before the first step.
struct Setup {
    config: RunConfig,
    device: Device,
    data: Dataset,
    frames: tch::Tensor,
    /// Per training frame: stored transposed ([`data::turned_frames`]).
    turned: Vec<bool>,
    nets: Nets,
    sampler: Sampler,
    walks: Walks,
    start_step: u64,
    elapsed0: f64,
    total_steps: u64,
    perceptual: String,
    resumed: bool,
}

fn setup(args: &Args) -> Result<Setup> {
    let mut config = RunConfig::from_args(args)?;
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let device = args.device.resolve().map_err(TrainError::usage)?;
    let bench = args.bench_steps.is_some();
    let dir = &args.checkpoint_dir;
    check_writable_dir(dir, "checkpoint folder", "--checkpoint-dir")?;
    remove_stale_temporaries(dir);
    if !bench && !args.no_plots {
        plots::init_font().map_err(TrainError::usage)?;
    }
    if let Some(e) = &args.export {
        let parent = match e.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if e.is_dir() {
            return Err(TrainError::usage(format!(
                "--export {} is a folder; give a file name such as model.safetensors",
                e.display()
            )));
        }
        check_writable_dir(&parent, "export folder", "--export")?;
    }

    // Resume.
    let existing = checkpoint::list(dir);
    let resume = if args.resume && !bench {
        let l = newest_valid_checkpoint(dir, device);
        if l.is_none() {
            eprintln!(
                "no usable checkpoint in {}: starting a new run (--resume)",
                dir.display()
            );
        }
        l
    } else {
        if !bench && !existing.is_empty() {
            return Err(TrainError::usage(format!(
                "{} already holds checkpoints of a run (newest: step {}); pass --resume to \
                 continue it, or choose another --checkpoint-dir for a new run",
                dir.display(),
                existing[0].0
            )));
        }
        None
    };

    // Fine-tuning start.
    let init = match &args.init_from {
        Some(path) => {
            let m = ModelFile::load(path, device, tch::Kind::Float)
                .map_err(|e| TrainError::usage(format!("--init-from: {e}")))?;
            let gc = m.generator.config();
            if args.channels.is_none() && args.res_blocks.is_none() {
                config.channels = gc.channels;
                config.res_blocks = gc.res_blocks;
            } else if (config.channels, config.res_blocks) != (gc.channels, gc.res_blocks) {
                return Err(TrainError::usage(format!(
                    "--init-from {} has {} channels and {} residual blocks but --channels / \
                     --res-blocks ask for {} and {}; drop those flags to use the file's",
                    path.display(),
                    gc.channels,
                    gc.res_blocks,
                    config.channels,
                    config.res_blocks
                )));
            }
            if m.meta.input_mode != config.input() {
                return Err(TrainError::usage(format!(
                    "--init-from {} was trained on {} input; pass --input {}",
                    path.display(),
                    m.meta.input_mode,
                    m.meta.input_mode
                )));
            }
            Some(m)
        }
        None => None,
    };

    if let Some(l) = &resume {
        let saved = &l.state.config;
        // A resumed fine-tuning run keeps its sizes; take them from the checkpoint.
        if saved.init_from.is_some() && args.channels.is_none() && args.res_blocks.is_none() {
            config.channels = saved.channels;
            config.res_blocks = saved.res_blocks;
            config.init_from = saved.init_from.clone();
        }
        if let Some(msg) = saved.incompatibility(&config) {
            return Err(TrainError::usage(format!(
                "cannot --resume from {}: {msg}; use the same value or another \
                 --checkpoint-dir",
                dir.display()
            )));
        }
        if (saved.lr_g, saved.lr_d) != (config.lr_g, config.lr_d) {
            eprintln!(
                "note: learning rates change from {}/{} to {}/{} (G/D)",
                saved.lr_g, saved.lr_d, config.lr_g, config.lr_d
            );
        }
        if (&saved.train, &saved.val, saved.val_split, saved.max_frames)
            != (
                &config.train,
                &config.val,
                config.val_split,
                config.max_frames,
            )
        {
            eprintln!("note: the training data differ from the checkpoint's run");
        }
    }

    // Perceptual network.
    let vgg: Option<Box<dyn FeatureNet>> = match &config.perceptual {
        Perceptual::Off => None,
        Perceptual::Random => Some(Box::new(Vgg19::random(config.seed, device)?)),
        Perceptual::File { path } => Some(Box::new(
            Vgg19::from_safetensors(path, device).map_err(|e| {
                TrainError::usage(format!(
                    "--vgg19 {}: {e}; tools/convert_torchvision_vgg19.py makes such a file",
                    path.display()
                ))
            })?,
        )),
        Perceptual::EfficientNet { path } => {
            if config.size.width % 32 != 0 || config.size.height % 32 != 0 {
                return Err(TrainError::usage(format!(
                    "--perceptual efficientnet-lite0 needs a --size whose sides are multiples of \
                     32 (its padding is exact only there), not {}",
                    config.size
                )));
            }
            Some(Box::new(
                EfficientNetLite0::from_safetensors(path, device).map_err(|e| {
                    TrainError::usage(format!("--perceptual-weights {}: {e}", path.display()))
                })?,
            ))
        }
    };
    let perceptual = perceptual_text(config.arch, &config.perceptual, config.seed);

    // Data.
    let cache = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| dir.join("frame-cache"));
    let mut data = data::load(&config, Some(&cache))?;
    let (w, h) = (config.size.width as usize, config.size.height as usize);
    let flags: Vec<Vec<bool>> = data.train.iter().map(|c| c.prev_ok.clone()).collect();
    let mut sampler =
        Sampler::new(&flags, config.seed, config.prev_prob).with_recipe(config.recipe);
    let frames = data::stack(&data.train, w, h)?;
    let turned = data::turned_frames(&data.train, w, h)?;
    let n_turned = data.train.iter().filter(|c| c.width != w).count();
    if n_turned > 0 {
        eprintln!(
            "--working-orientation turn: {n_turned} of {} training clips at {h}x{w}",
            data.train.len()
        );
    }
    for c in &mut data.train {
        // Stacked; keep the names and counts only.
        c.frames = Vec::new();
        c.inputs = Vec::new();
    }
    let per_epoch = sampler.samples_per_epoch() as u64;
    let batches_per_epoch = per_epoch.div_ceil(config.batch_size as u64);
    let total_steps = match (args.steps, args.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * batches_per_epoch,
        (None, None) => 0,
    };

    // Networks.
    let mut nets = Nets::new(&config, device, vgg)?;
    let perceptual = format!("{perceptual}; generator objective: {}", nets.objective());
    if let Some(m) = &init {
        if let Some(g) = nets.tcvc_generator() {
            g.copy_weights_from(&m.generator)?;
        }
    }
    let (mut start_step, mut elapsed0, mut resumed) = (0, 0.0, false);
    let mut walks = Walks::new(config.recipe.walkers);
    if let Some(l) = resume {
        nets.load_tensors(&l.tensors, &l.state)?;
        walks.load(&l.tensors);
        nets.adam_g.set_lr(config.lr_g);
        nets.adam_d.set_lr(config.lr_d);
        if !sampler.restore(&l.state.sampler) {
            eprintln!(
                "note: the number of training frames changed ({} → {}): the sampling order \
                 restarts at epoch {}",
                l.state.sampler.samples, per_epoch, l.state.sampler.epoch
            );
        }
        start_step = l.state.step;
        elapsed0 = l.state.elapsed_s;
        resumed = true;
    }
    Ok(Setup {
        config,
        device,
        data,
        frames,
        turned,
        nets,
        sampler,
        walks,
        start_step,
        elapsed0,
        total_steps,
        perceptual,
        resumed,
    })
}

/// CPU seconds used so far by all threads of this process (`/proc/self/task/*/schedstat`,
/// nanoseconds), `None` where that is not available.
fn process_cpu_seconds() -> Option<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// One training step: draws a batch, gathers it (degrading previous frames as drawn), runs the
/// self-fed unrolls, gives the walkers their own previous outputs, optimises both networks and
/// keeps the walkers' outputs.
fn train_one(s: &mut Setup, b: usize, step: u64) -> Result<StepLosses> {
    let draws = s.sampler.batch(b, step);
    let mut batch = gather(&s.frames, &draws, s.device)?;
    batch.turned = draws.iter().map(|d| s.turned[d.frame]).collect();
    self_feed(&mut batch, &s.frames, &draws, &s.nets.g, s.device)?;
    s.walks.apply(&mut batch, &draws)?;
    let flip = flips(&s.sampler, &draws, step, s.config.seed, s.config.flip);
    flip_rows(&mut batch, &flip)?;
    let (losses, output) = s.nets.train_step(&batch, step)?;
    s.walks
        .record(&draws, &flip_samples(&output, &flip, &batch.turned)?)?;
    Ok(losses)
}

/// `--bench-steps`: times `n` steps after 2 warm-up steps and prints one `bench:` line with
/// wall-clock samples/s and the CPU seconds per sample (all threads; steadier than wall time on
/// a shared machine).
fn bench(s: &mut Setup, n: u64, threads: i32) -> Result<Outcome> {
    let b = s.config.batch_size;
    for step in 1..=2 {
        train_one(s, b, step)?;
    }
    let t = Instant::now();
    let cpu0 = process_cpu_seconds();
    for step in 3..3 + n {
        train_one(s, b, step)?;
    }
    if let tch::Device::Cuda(i) = s.device {
        // Kernels still queued count too.
        tch::Cuda::synchronize(i as i64);
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(z)) => format!("{:.4}", (z - a) / (n as usize * b) as f64),
        _ => "nan".into(),
    };
    let sps = (n as usize * b) as f64 / secs;
    println!(
        "bench: arch={} size={} batch={} channels={} res_blocks={} perceptual={} device={:?} \
         threads={} steps={n} seconds={secs:.3} steps_per_s={:.4} samples_per_s={sps:.4} \
         cpu_s_per_sample={cpu}",
        s.config.arch.as_str(),
        s.config.size,
        b,
        s.config.channels,
        s.config.res_blocks,
        match s.config.perceptual {
            Perceptual::Off => "off",
            Perceptual::Random => "random",
            Perceptual::File { .. } => "file",
            Perceptual::EfficientNet { .. } => "efficientnet-lite0",
        },
        s.device,
        if threads > 0 {
            threads
        } else {
            tch::get_num_threads()
        },
        n as f64 / secs
    );
    Ok(Outcome::Benchmarked { samples_per_s: sps })
}

fn provenance(s: &Setup, step: u64) -> String {
    let v = serde_json::json!({
        "tool": format!("tcvc-train {}", env!("CARGO_PKG_VERSION")),
        "arch": s.config.arch.as_str(),
        "train": s.config.train,
        "val": s.config.val,
        "val_split": s.config.val_split,
        "train_frames": s.sampler.samples_per_epoch(),
        "steps": step,
        "batch_size": s.config.batch_size,
        "seed": s.config.seed,
        "prev_prob": s.config.prev_prob,
        "fit": s.config.fit,
        "working_orientation": s.config.working_orientation,
        "lines_at": s.config.lines_at,
        "recipe": s.config.recipe,
        "temporal_weight": s.config.temporal_weight,
        "adv_weight": s.config.adv_weight,
        "l1_weight": s.config.l1_weight,
        "l2_weight": s.config.l2_weight,
        "fill_weight": s.config.fill_weight,
        "content_weight": s.config.content_weight,
        "style_weight": s.config.style_weight,
        "perceptual": s.config.perceptual,
        "objective": s.nets.objective(),
        "init_from": s.config.init_from,
        "flags": std::env::args().skip(1).collect::<Vec<_>>(),
    });
    v.to_string()
}

/// Writes `--export`: the model file (TCVC or pix2pix U-Net) tcvccolorize and tcvc-eval load.
fn export(args: &Args, s: &Setup, step: u64) -> Result<()> {
    let Some(path) = &args.export else {
        return Ok(());
    };
    let (dtype, output, n) = (
        args.export_dtype,
        args.output_mode,
        args.export_average as usize,
    );
    // Checkpoint averaging: the generator's variables become the mean of the newest `n`
    // checkpoints up to `step` for the export, and are put back afterwards.
    let kept = if n > 1 {
        let ckpts: Vec<(u64, PathBuf)> = checkpoint::list(&args.checkpoint_dir)
            .into_iter()
            .filter(|(k, _)| *k <= step)
            .take(n)
            .collect();
        if ckpts.len() < n {
            return Err(TrainError::Runtime(format!(
                "--export-average {n}: {} holds {} checkpoint(s) up to step {step}; raise --keep or \
                 export with fewer",
                args.checkpoint_dir.display(),
                ckpts.len()
            )));
        }
        let vars = s.nets.vs_g.variables();
        let _guard = tch::no_grad_guard();
        let kept: HashMap<String, Tensor> =
            vars.iter().map(|(k, v)| (k.clone(), v.copy())).collect();
        let mut sum: HashMap<String, Tensor> = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.zeros_like()))
            .collect();
        for (k, p) in &ckpts {
            let c = checkpoint::load(p, s.nets.device).map_err(|e| {
                TrainError::Runtime(format!(
                    "--export-average: checkpoint {k} ({}): {e}",
                    p.display()
                ))
            })?;
            for (name, acc) in &mut sum {
                let t = c.tensors.get(&format!("g.{name}")).ok_or_else(|| {
                    TrainError::Runtime(format!(
                        "--export-average: checkpoint {k} has no `g.{name}`"
                    ))
                })?;
                *acc = acc.f_add(t)?;
            }
        }
        for (name, var) in &vars {
            var.shallow_clone()
                .f_copy_(&sum[name].f_div_scalar(n as f64)?)?;
        }
        eprintln!(
            "exporting the mean of the generator weights at steps {}",
            ckpts
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Some(kept)
    } else {
        None
    };
    let storage = match dtype {
        ExportDtype::F32 => StorageDtype::F32,
        ExportDtype::F16 => StorageDtype::F16,
    };
    let mut provenance = provenance(s, step);
    if n > 1 {
        provenance = format!("{provenance} (weights: mean of the newest {n} checkpoints)");
    }
    let meta = ModelMeta {
        input_mode: s.config.input(),
        train_size: TrainSize {
            width: s.config.size.width,
            height: s.config.size.height,
        },
        provenance,
        previous_frame: if s.config.blank_previous() {
            PreviousFrame::Blank
        } else {
            PreviousFrame::Chain
        },
        output,
        working_orientation: s.config.orientation(),
    };
    let saved = match &s.nets.g {
        ColorNet::Tcvc(g) => ModelFile::save(path, g, &meta, storage),
        ColorNet::Pix2pix(u) => ModelFile::save_unet(path, u, &meta, storage),
    };
    if let Some(kept) = kept {
        let _guard = tch::no_grad_guard();
        for (name, var) in s.nets.vs_g.variables() {
            var.shallow_clone().f_copy_(&kept[&name])?;
        }
    }
    saved?;
    eprintln!("exported {}", path.display());
    Ok(())
}

struct Loop<'a> {
    args: &'a Args,
    s: Setup,
    log: LossLog,
    progress: Progress,
    started: Instant,
}

impl Loop<'_> {
    fn elapsed(&self) -> f64 {
        self.s.elapsed0 + self.started.elapsed().as_secs_f64()
    }

    fn save_checkpoint(&mut self, step: u64) -> Result<()> {
        let state = CheckpointState {
            step,
            sampler: self.s.sampler.state(),
            adam_g_steps: self.s.nets.adam_g.steps(),
            adam_d_steps: self.s.nets.adam_d.steps(),
            config: self.s.config.clone(),
            elapsed_s: self.elapsed(),
            checksum: String::new(),
        };
        let mut tensors = self.s.nets.checkpoint_tensors();
        tensors.extend(self.s.walks.tensors());
        let path = checkpoint::save(&self.args.checkpoint_dir, &tensors, state, self.args.keep)?;
        self.progress
            .println(&format!("checkpoint {} (step {step})", path.display()));
        Ok(())
    }

    fn validate(&mut self, step: u64) -> Result<()> {
        if self.s.data.val.is_empty() {
            return Ok(());
        }
        let dir = self.args.checkpoint_dir.join("samples");
        std::fs::create_dir_all(&dir)
            .map_err(TrainError::runtime(format!("creating {}", dir.display())))?;
        let grid = dir.join(format!("step-{step:09}.png"));
        let t = Instant::now();
        let ValFigures {
            psnr,
            ssim,
            temporal_error,
            frames,
        } = validate(
            &self.s.nets,
            &self.s.data.val,
            self.s.config.input(),
            self.s.config.size.width as usize,
            self.s.config.size.height as usize,
            self.args.val_frames,
            Some((&grid, self.args.grid_rows)),
        )?;
        self.log.push_val(ValRow {
            step,
            psnr,
            ssim,
            temporal_error,
            frames,
        })?;
        self.progress.println(&format!(
            "validation at step {step}: PSNR {psnr:.2} dB  SSIM {ssim:.4}  temporal error {}  \
             ({frames} frames, {:.1} s; grid {})",
            temporal_error.map_or("-".into(), |v| format!("{v:.3}")),
            t.elapsed().as_secs_f64(),
            grid.display()
        ));
        self.plot();
        Ok(())
    }

    fn plot(&self) {
        if self.args.no_plots {
            return;
        }
        let dir = &self.args.checkpoint_dir;
        if let Err(e) = plots::plot_losses(&dir.join("losses.png"), &self.log.train) {
            self.progress.println(&format!("warning: loss plot: {e}"));
        }
        if !self.log.val.is_empty() {
            if let Err(e) = plots::plot_validation(&dir.join("validation.png"), &self.log.val) {
                self.progress
                    .println(&format!("warning: validation plot: {e}"));
            }
        }
    }
}

/// Runs `tcvc-train` with parsed arguments.
pub fn run(args: &Args) -> Result<Outcome> {
    let mut s = setup(args)?;
    if let Some(n) = args.bench_steps {
        return bench(&mut s, n.max(1), args.threads);
    }
    let dir = args.checkpoint_dir.clone();
    let (gp, dp) = s.nets.parameter_counts();
    eprintln!(
        "tcvc-train: {} on {:?}, {} input at {}, batch {}, G {} / D {} parameters",
        s.config.arch.as_str(),
        s.device,
        s.config.input_mode,
        s.config.size,
        s.config.batch_size,
        gp,
        dp
    );
    eprintln!("{}", s.perceptual);
    eprintln!(
        "data: {} training frames in {} clip(s), {} validation frames in {} clip(s){}",
        s.data.train_frames_count(),
        s.data.train.len(),
        s.data.val_frames(),
        s.data.val.len(),
        if s.data.val.is_empty() {
            " (no validation: pass --val or --val-split)"
        } else {
            ""
        }
    );
    let info = RunInfo {
        tool: format!("tcvc-train {}", env!("CARGO_PKG_VERSION")),
        command: std::env::args().collect(),
        config: &s.config,
        device: format!("{:?}", s.device),
        perceptual: s.perceptual.clone(),
        total_steps: s.total_steps,
        train_frames: s.sampler.samples_per_epoch(),
        val_frames: s.data.val_frames(),
        train_clips: s.data.train.iter().map(|c| c.name.clone()).collect(),
        val_clips: s.data.val.iter().map(|c| c.name.clone()).collect(),
        generator_parameters: gp,
        discriminator_parameters: dp,
        resumed_from_step: s.resumed.then_some(s.start_step),
    };
    let json = serde_json::to_string_pretty(&info).map_err(TrainError::runtime("run.json"))?;
    checkpoint::write_atomic(&dir.join("run.json"), json.as_bytes()).map_err(
        TrainError::runtime(format!("writing {}", dir.join("run.json").display())),
    )?;

    let log = LossLog::open(&dir, s.resumed.then_some(s.start_step))?;
    let (start, total) = (s.start_step, s.total_steps);
    if start >= total {
        eprintln!("the checkpoint is at step {start}, --steps/--epochs ask for {total}: nothing left to train");
        export(args, &s, start)?;
        return Ok(Outcome::Finished { step: start });
    }
    eprintln!(
        "training steps {}..={total} ({} per epoch), checkpoints every {} in {}",
        start + 1,
        s.sampler.samples_per_epoch().div_ceil(s.config.batch_size),
        args.checkpoint_every,
        dir.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let handler = move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond Ctrl-C: quitting without a checkpoint");
                std::process::exit(i32::from(super::error::EXIT_INTERRUPTED));
            }
            eprintln!(
                "\nCtrl-C: finishing this step, then writing a checkpoint (Ctrl-C again to quit \
                 at once)"
            );
        };
        if let Err(e) = ctrlc::set_handler(handler) {
            eprintln!("warning: Ctrl-C will not save a checkpoint: {e}");
        }
    }
    let progress = Progress::new(start, total, args.log_every);
    let mut lp = Loop {
        args,
        s,
        log,
        progress,
        started: Instant::now(),
    };
    let (mut last_ckpt, mut last_val) = (start, None);
    let b = lp.s.config.batch_size;
    for step in start + 1..=total {
        let losses = train_one(&mut lp.s, b, step)?;
        let epoch = lp.s.sampler.epoch();
        let row = TrainRow {
            step,
            epoch,
            elapsed_s: lp.elapsed(),
            losses,
        };
        lp.log.push_train(row)?;
        lp.progress.update(step, &losses);
        if step.is_multiple_of(args.checkpoint_every) {
            lp.save_checkpoint(step)?;
            last_ckpt = step;
        }
        if args.val_every > 0 && step.is_multiple_of(args.val_every) {
            lp.validate(step)?;
            last_val = Some(step);
        }
        if stop.load(Ordering::SeqCst) {
            if last_ckpt != step {
                lp.save_checkpoint(step)?;
            }
            lp.plot();
            lp.progress.finish();
            eprintln!(
                "interrupted at step {step} ({}): checkpoint saved; run again with --resume to \
                 continue",
                describe(&losses)
            );
            return Ok(Outcome::Interrupted { step });
        }
    }
    if last_ckpt != total {
        lp.save_checkpoint(total)?;
    }
    if last_val != Some(total) {
        lp.validate(total)?;
    }
    lp.plot();
    lp.progress.finish();
    export(args, &lp.s, total)?;
    eprintln!(
        "done: {total} steps, {:.1} s; losses in {}",
        lp.elapsed(),
        lp.log.path().display()
    );
    Ok(Outcome::Finished { step: total })
}

impl Dataset {
    /// Training frames (the clips' frames may already have been moved into the stacked tensor).
    fn train_frames_count(&self) -> usize {
        self.train.iter().map(|c| c.prev_ok.len()).sum()
    }
}
