// SPDX-License-Identifier: MIT
//! The generator / discriminator pair of a run, its optimizers, and one training step.
//!
//! One step (as the reference `train.py`, without its "D every 12 iterations" hack):
//!
//! 1. `fake = G(cond)` with `cond = [line art, previous]` (TCVC) or `[line art]` (pix2pix);
//! 2. discriminator: `L_D = (BCE(D([cond, fake.detach()]), 0) + BCE(D([cond, real]), 1)) / 2`
//!    ([`crate::model::loss::discriminator_loss`]), Adam step on D;
//! 3. generator: `L_G` of [`crate::model::loss::generator_loss`] on `D([cond, fake])` (the
//!    updated D; its parameters do not require grad during this pass, as pix2pix's
//!    `set_requires_grad(netD, False)`), Adam step on G.
//!
//! With `--adv-weight 0` step 2 and the D forward of step 3 are skipped: the adversarial term
//! is 0 and the discriminator could not change the generator. The generator's updates are the
//! same as with the discriminator running (its term adds an exact zero to the gradient); D
//! keeps the weights it started with, and `losses.csv` leaves its columns empty.
//!
//! Every D forward runs the spectral-norm power iteration (training mode), as torch does.
//! libtorch's generator is reseeded from `(seed, step)` at the start of each step, so the only
//! torch-side randomness (pix2pix dropout) is a function of the step and a resumed run repeats
//! it without saving libtorch's RNG state.
use super::adam::{Adam, AdamConfig};
use super::config::{Arch, RunConfig};
use super::error::{Result, TrainError};
use super::rng::mix;
use super::sampler::Batch;
use crate::model::loss::{adversarial_loss, discriminator_loss, generator_loss};
use crate::model::stream::{fill_regions_batch, line_mask, DEFAULT_SCENE_THRESHOLD, FILL_GAP};
use crate::model::unet::{downs_for, PIX2PIX_DISCRIMINATOR_CHANNELS};
use crate::model::{
    ColorNet, Discriminator, FeatureNet, Generator, GeneratorConfig, InputMode, LossWeights,
    StreamColorizer, UnetGenerator, DISCRIMINATOR_INPUT_CHANNELS,
};
use std::collections::HashMap;
use tch::{nn, Device, Kind, Tensor};

/// The usage error of a size the pix2pix U-Net cannot train at.
pub fn pix2pix_size_message(size: super::config::Size) -> String {
    format!(
        "--arch pix2pix needs a --size whose sides are multiples of 32 (the U-Net halves the \
         frame at least 5 times), got {size}; use e.g. --size 256, 128 or 160x96"
    )
}

/// Losses of one step (weighted terms, as in the generator objective).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepLosses {
    /// Generator objective.
    pub g_total: f64,
    /// Weighted adversarial term.
    pub g_adv: f64,
    /// Weighted L1 term (10·L1 for TCVC, 100·L1 for pix2pix).
    pub g_l1: f64,
    /// Weighted content term (absent without a VGG).
    pub g_content: Option<f64>,
    /// Weighted style term (absent without a VGG).
    pub g_style: Option<f64>,
    /// Weighted temporal term (absent when `--temporal-weight` is 0 or the batch has no
    /// self-fed sample).
    pub g_temporal: Option<f64>,
    /// Weighted squared-error term `w·mean((fake − target)²)` (absent when `--l2-weight` is 0).
    pub g_l2: Option<f64>,
    /// Weighted squared error of the fill output `w·mean((fill(fake) − target)²)` (absent when
    /// `--fill-weight` is 0).
    pub g_fill: Option<f64>,
    /// Discriminator objective (absent when `--adv-weight` is 0: no discriminator runs).
    pub d_total: Option<f64>,
    /// `BCE(D(real), 1)` (absent as `d_total`).
    pub d_real: Option<f64>,
    /// `BCE(D(fake), 0)` (absent as `d_total`).
    pub d_fake: Option<f64>,
}

/// Mean squared error `mean((fake − target)²)` over every sample, channel and pixel, in `f32`:
/// the term whose minimiser is the conditional mean, i.e. the PSNR-optimal prediction where the
/// colour is uncertain (L1's minimiser is the median).
pub fn l2_loss(fake: &Tensor, target: &Tensor) -> Result<Tensor> {
    let d = fake
        .f_to_kind(Kind::Float)?
        .f_sub(&target.f_to_kind(Kind::Float)?)?;
    Ok(d.f_square()?.f_mean(Kind::Float)?)
}

/// Mean squared error of the `fill` output of `fake` against `target`
/// ([`fill_regions_batch`]): the regions are those of the training-size line art `input`
/// (`B × 1 × H × W`, the lines of [`line_mask`]) with the lines widened by [`FILL_GAP`] as in the
/// full-size output; the band keeps the prediction. Canny at the training size leaves many gaps:
/// on the corpus's validation clips at 160×96 the fill of the reference itself (each region
/// painted with the reference's own mean) is 14.4 dB from the reference without widening, 34.5
/// dB with it (`gap` 1), so without it the loss would mostly measure regions run together.
pub fn fill_loss(
    fake: &Tensor,
    target: &Tensor,
    input: &Tensor,
    input_mode: InputMode,
) -> Result<Tensor> {
    let lines = line_mask(input_mode, input)?;
    l2_loss(&fill_regions_batch(fake, &lines, FILL_GAP)?, target)
}

/// The temporal loss: mean over the samples where `mask` (`B × 1 × 1 × 1`) is 1 of
/// `mean |(fake − prev) − (target − prev_truth)|`, i.e. the temporal-error metric (the output's
/// change from its previous frame against the reference's change) made differentiable; the
/// gradient flows through `fake` only. `None` when no sample is masked in.
pub fn temporal_loss(
    fake: &Tensor,
    prev: &Tensor,
    target: &Tensor,
    prev_truth: &Tensor,
    mask: &Tensor,
) -> Result<Option<Tensor>> {
    let n = mask.f_sum(tch::Kind::Float)?.f_double_value(&[])?;
    if n <= 0.0 {
        return Ok(None);
    }
    let diff = fake
        .f_sub(&prev.f_detach()?)?
        .f_sub(&target.f_sub(prev_truth)?)?
        .f_abs()?;
    let per_sample = diff.f_mean_dim([1i64, 2, 3].as_slice(), true, tch::Kind::Float)?;
    Ok(Some(
        per_sample
            .f_mul(mask)?
            .f_sum(tch::Kind::Float)?
            .f_div_scalar(n)?,
    ))
}

/// Both networks, the perceptual VGG and both optimizers.
#[derive(Debug)]
pub struct Nets {
    /// Which pair.
    pub arch: Arch,
    /// Where they live.
    pub device: Device,
    /// Generator variables.
    pub vs_g: nn::VarStore,
    /// Discriminator variables (with the spectral-norm vectors, not trainable).
    pub vs_d: nn::VarStore,
    /// The generator.
    pub g: ColorNet,
    /// The discriminator.
    pub d: Discriminator,
    /// Frozen VGG19 for content and style (`None`: those terms are off).
    pub vgg: Option<Box<dyn FeatureNet>>,
    /// Loss weights.
    pub weights: LossWeights,
    /// Generator optimizer.
    pub adam_g: Adam,
    /// Discriminator optimizer.
    pub adam_d: Adam,
    seed: u64,
    /// Weight of the temporal loss.
    temporal_weight: f64,
    /// Weight of the squared-error term.
    l2_weight: f64,
    /// Weight of the squared error of the fill output.
    fill_weight: f64,
    /// What the generator's input plane is (the fill loss finds its lines).
    input_mode: InputMode,
    /// Trained without the previous frame (`--prev-prob 0`): run with a blank one.
    blank_previous: bool,
}

fn trainable(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    vs.variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect()
}

impl Nets {
    /// Fresh networks for `config` on `device` (weights from `tch::manual_seed(seed)`).
    pub fn new(
        config: &RunConfig,
        device: Device,
        vgg: Option<Box<dyn FeatureNet>>,
    ) -> Result<Self> {
        tch::manual_seed(config.seed as i64);
        let vs_g = nn::VarStore::new(device);
        let vs_d = nn::VarStore::new(device);
        let (g, d, weights) = match config.arch {
            Arch::Tcvc => {
                let g = Generator::new(
                    &vs_g.root(),
                    GeneratorConfig {
                        channels: config.channels,
                        res_blocks: config.res_blocks,
                    },
                )?;
                let d = Discriminator::new(&vs_d.root(), DISCRIMINATOR_INPUT_CHANNELS)?;
                (ColorNet::Tcvc(g), d, LossWeights::default())
            }
            Arch::Pix2pix => {
                let downs = downs_for(config.size.width, config.size.height)
                    .ok_or_else(|| TrainError::usage(pix2pix_size_message(config.size)))?;
                let g = UnetGenerator::new(&vs_g.root(), downs, config.channels)?;
                let d = Discriminator::new(&vs_d.root(), PIX2PIX_DISCRIMINATOR_CHANNELS)?;
                let w = LossWeights {
                    adversarial: 1.0,
                    l1: 100.0,
                    content: 0.0,
                    style: 0.0,
                    ..LossWeights::default()
                };
                (ColorNet::Pix2pix(g), d, w)
            }
        };
        let mut weights = weights;
        weights.adversarial = config.adv_weight;
        if let Some(l1) = config.l1_weight {
            weights.l1 = l1;
        }
        if let Some(c) = config.content_weight {
            weights.content = c;
        }
        if let Some(st) = config.style_weight {
            weights.style = st;
        }
        let adam_g = Adam::new(trainable(&vs_g), AdamConfig::paper(config.lr_g))?;
        let adam_d = Adam::new(trainable(&vs_d), AdamConfig::paper(config.lr_d))?;
        Ok(Nets {
            arch: config.arch,
            device,
            vs_g,
            vs_d,
            g,
            d,
            vgg,
            weights,
            adam_g,
            adam_d,
            seed: config.seed,
            temporal_weight: config.temporal_weight,
            l2_weight: config.l2_weight,
            fill_weight: config.fill_weight,
            input_mode: config
                .input_mode
                .parse()
                .map_err(|e| TrainError::usage(format!("{e}")))?,
            blank_previous: config.blank_previous(),
        })
    }

    /// The generator objective as trained, every term with its weight as resolved from the
    /// architecture's defaults and the `--…-weight` flags, terms of weight 0 left out:
    /// `adv + 10·L1 + content + 1000·style` for the paper's recipe with a feature network.
    pub fn objective(&self) -> String {
        let w = &self.weights;
        let perceptual = if self.vgg.is_some() { 1.0 } else { 0.0 };
        let terms = [
            (w.adversarial, "adv"),
            (w.l1, "L1"),
            (self.l2_weight, "squared error"),
            (self.fill_weight, "fill squared error"),
            (w.content * perceptual, "content"),
            (w.style * perceptual, "style"),
            (self.temporal_weight, "temporal"),
        ];
        let parts: Vec<String> = terms
            .iter()
            .filter(|(weight, _)| *weight != 0.0)
            .map(|(weight, name)| {
                if *weight == 1.0 {
                    (*name).to_string()
                } else {
                    format!("{weight}·{name}")
                }
            })
            .collect();
        if parts.is_empty() {
            "nothing (every weight is 0)".into()
        } else {
            parts.join(" + ")
        }
    }

    /// Number of trainable scalars of (generator, discriminator).
    pub fn parameter_counts(&self) -> (i64, i64) {
        let count = |vs: &nn::VarStore| {
            trainable(vs)
                .iter()
                .map(|(_, t)| t.numel() as i64)
                .sum::<i64>()
        };
        (count(&self.vs_g), count(&self.vs_d))
    }

    /// The discriminator's condition: `[line art, previous]` (TCVC) or `[line art]`.
    fn condition(&self, b: &Batch) -> Result<Tensor> {
        Ok(match self.arch {
            Arch::Tcvc => Tensor::f_cat(&[&b.input, &b.prev], 1)?,
            Arch::Pix2pix => b.input.shallow_clone(),
        })
    }

    /// One optimisation step (see the module docs); `step` is the 1-based step number.
    ///
    /// Also returns the generator's output for the batch (detached, made before this step's
    /// update): the `--chain-walkers` keep it as their next previous frames.
    pub fn train_step(&mut self, b: &Batch, step: u64) -> Result<(StepLosses, Tensor)> {
        tch::manual_seed((mix(self.seed, step) >> 1) as i64);
        let fake = super::sampler::forward_oriented(&self.g, &b.input, &b.prev, &b.turned)?;
        let cond = self.condition(b)?;

        // Discriminator, unless the adversarial term is off (`--adv-weight 0`): then it would
        // only cost time (three forwards and two backwards a step, a third of a step at 160×96)
        // and never change the generator; it keeps its initial (or resumed) weights. Each half
        // is differentiated right after its forward: the next forward's power iteration
        // updates the spectral-norm vectors in place, which the first graph saved (torch
        // clones them in training mode; `crate::model` does not). The sum is the gradient of
        // `discriminator_loss`, whose value is recorded.
        let adversarial = self.weights.adversarial != 0.0;
        let d_terms = if adversarial {
            let fake_d = Tensor::f_cat(&[&cond, &fake.f_detach()?], 1)?;
            let d_fake = self.d.forward_t(&fake_d, true)?;
            let l_fake = adversarial_loss(&d_fake, false)?;
            let mut grads = self.adam_d.gradients(&l_fake.f_mul_scalar(0.5)?)?;
            let real_d = Tensor::f_cat(&[&cond, &b.target], 1)?;
            let d_real = self.d.forward_t(&real_d, true)?;
            let l_real = adversarial_loss(&d_real, true)?;
            let grads_real = self.adam_d.gradients(&l_real.f_mul_scalar(0.5)?)?;
            for (g, r) in grads.iter_mut().zip(grads_real) {
                if !g.defined() {
                    *g = r;
                } else if r.defined() {
                    let _ = g.f_add_(&r)?;
                }
            }
            self.adam_d.step(&grads)?;
            drop(grads);
            let d_loss = {
                let _g = tch::no_grad_guard();
                discriminator_loss(&d_real.f_detach()?, &d_fake.f_detach()?)?
            };
            Some((
                d_loss.f_double_value(&[])?,
                l_real.f_double_value(&[])?,
                l_fake.f_double_value(&[])?,
            ))
        } else {
            None
        };

        // Generator, through the updated discriminator.
        self.adam_d.set_requires_grad(false);
        let result = (|| -> Result<(StepLosses, Vec<Tensor>)> {
            let logits = if adversarial {
                Some(
                    self.d
                        .forward_t(&Tensor::f_cat(&[&cond, &fake], 1)?, true)?,
                )
            } else {
                None
            };
            let gl = generator_loss(
                logits.as_ref(),
                &fake,
                &b.target,
                self.vgg.as_deref(),
                &self.weights,
            )?;
            let temporal = if self.temporal_weight > 0.0 {
                temporal_loss(&fake, &b.prev, &b.target, &b.prev_truth, &b.self_fed)?
                    .map(|t| t.f_mul_scalar(self.temporal_weight))
                    .transpose()?
            } else {
                None
            };
            let l2 = if self.l2_weight > 0.0 {
                Some(l2_loss(&fake, &b.target)?.f_mul_scalar(self.l2_weight)?)
            } else {
                None
            };
            let fill = if self.fill_weight > 0.0 {
                Some(
                    fill_loss(&fake, &b.target, &b.input, self.input_mode)?
                        .f_mul_scalar(self.fill_weight)?,
                )
            } else {
                None
            };
            let mut total = gl.total.shallow_clone();
            for t in temporal.iter().chain(&l2).chain(&fill) {
                total = total.f_add(t)?;
            }
            let grads = self.adam_g.gradients(&total)?;
            let v = |t: &Tensor| t.f_double_value(&[]);
            let losses = StepLosses {
                g_total: v(&total)?,
                g_temporal: temporal.as_ref().map(v).transpose()?,
                g_l2: l2.as_ref().map(v).transpose()?,
                g_fill: fill.as_ref().map(v).transpose()?,
                g_adv: v(&gl.adversarial)?,
                g_l1: v(&gl.l1)?,
                g_content: gl.content.as_ref().map(v).transpose()?,
                g_style: gl.style.as_ref().map(v).transpose()?,
                d_total: d_terms.map(|d| d.0),
                d_real: d_terms.map(|d| d.1),
                d_fake: d_terms.map(|d| d.2),
            };
            Ok((losses, grads))
        })();
        self.adam_d.set_requires_grad(true);
        let (losses, grads) = result?;
        self.adam_g.step(&grads)?;
        if !losses.g_total.is_finite() || !losses.d_total.is_none_or(f64::is_finite) {
            return Err(TrainError::Runtime(format!(
                "the loss diverged at step {step} (G {}, D {}): lower --lr-g / --lr-d and \
                 --resume from the last checkpoint",
                losses.g_total,
                losses.d_total.unwrap_or(0.0)
            )));
        }
        Ok((losses, fake.f_detach()?))
    }

    /// All tensors a checkpoint needs: `g.*`, `d.*` (with spectral-norm vectors), both
    /// optimizers' moments.
    pub fn checkpoint_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (prefix, vs) in [("g.", &self.vs_g), ("d.", &self.vs_d)] {
            let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            v.extend(vars.into_iter().map(|(n, t)| (format!("{prefix}{n}"), t)));
        }
        v.extend(self.adam_g.state_tensors("adam_g."));
        v.extend(self.adam_d.state_tensors("adam_d."));
        v
    }

    /// Restores networks and optimizer moments from checkpoint tensors.
    pub fn load_tensors(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &super::checkpoint::CheckpointState,
    ) -> Result<()> {
        super::checkpoint::copy_into(&self.vs_g.variables(), tensors, "g.")?;
        super::checkpoint::copy_into(&self.vs_d.variables(), tensors, "d.")?;
        self.adam_g
            .load_state(tensors, "adam_g.", &state.adam_g_steps)?;
        self.adam_d
            .load_state(tensors, "adam_d.", &state.adam_d_steps)?;
        Ok(())
    }

    /// The TCVC generator, if this is a TCVC run.
    pub fn tcvc_generator(&self) -> Option<&Generator> {
        match &self.g {
            ColorNet::Tcvc(g) => Some(g),
            ColorNet::Pix2pix(_) => None,
        }
    }

    /// The element's previous-frame chain on the current generator (no weight copy), at
    /// `width × height`, set up as the export will be run: blank previous frames for pix2pix and
    /// for the `--prev-prob 0` ablation. Used by validation.
    pub fn colorizer(&self, mode: InputMode, width: i64, height: i64) -> Result<StreamColorizer> {
        let mut c = StreamColorizer::new(
            self.g.shallow_clone(),
            mode,
            width,
            height,
            DEFAULT_SCENE_THRESHOLD,
        )?;
        c.set_blank_previous(self.blank_previous);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn nets(extra: &[&str]) -> Nets {
        let mut argv = vec![
            "tcvc-train",
            "--train",
            "clip.mp4",
            "--steps",
            "1",
            "--size",
            "64",
            "--channels",
            "4",
            "--res-blocks",
            "1",
        ];
        argv.extend(extra);
        let args = super::super::config::Args::parse_from(argv);
        Nets::new(&RunConfig::from_args(&args).unwrap(), Device::Cpu, None).unwrap()
    }

    #[test]
    fn validation_runs_the_chain_as_the_export_will_be_run() {
        let chain = |n: Nets| n.colorizer(InputMode::Lineart, 64, 64).unwrap();
        assert!(!chain(nets(&[])).blank_previous());
        assert!(chain(nets(&["--prev-prob", "0"])).blank_previous());
        assert!(chain(nets(&["--arch", "pix2pix"])).blank_previous());
    }

    #[test]
    fn l2_loss_matches_a_hand_computation() {
        // Errors 0.1, −0.2, 0.3, 0 → squares 0.01, 0.04, 0.09, 0 → mean 0.035.
        let fake = Tensor::from_slice(&[0.6f32, 0.3, 0.9, 0.5]).view([1, 1, 2, 2]);
        let target = Tensor::from_slice(&[0.5f32, 0.5, 0.6, 0.5]).view([1, 1, 2, 2]);
        let l = l2_loss(&fake, &target).unwrap().double_value(&[]);
        assert!((l - 0.035).abs() < 1e-7, "{l}");
    }

    #[test]
    fn temporal_loss_matches_a_hand_computation() {
        let t = |v: &[f32]| Tensor::from_slice(v).view([2, 1, 1, 2]);
        // Sample 0: (fake − prev) = [0.2, −0.1], (target − prev_truth) = [0.1, 0.1]
        //   → |0.1| and |−0.2| → mean 0.15. Sample 1 is masked out.
        let fake = t(&[0.6, 0.3, 0.9, 0.9]);
        let prev = t(&[0.4, 0.4, 0.0, 0.0]);
        let target = t(&[0.5, 0.5, 0.0, 0.0]);
        let prev_truth = t(&[0.4, 0.4, 1.0, 1.0]);
        let mask = Tensor::from_slice(&[1.0f32, 0.0]).view([2, 1, 1, 1]);
        let l = temporal_loss(&fake, &prev, &target, &prev_truth, &mask)
            .unwrap()
            .unwrap()
            .double_value(&[]);
        assert!((l - 0.15).abs() < 1e-6, "{l}");
        let both = Tensor::from_slice(&[1.0f32, 1.0]).view([2, 1, 1, 1]);
        // Sample 1: (0.9 − 0) − (0 − 1) = 1.9 both → mean (0.15 + 1.9) / 2.
        let l = temporal_loss(&fake, &prev, &target, &prev_truth, &both)
            .unwrap()
            .unwrap()
            .double_value(&[]);
        assert!((l - 1.025).abs() < 1e-6, "{l}");
        let none = Tensor::zeros([2, 1, 1, 1], (tch::Kind::Float, Device::Cpu));
        assert!(temporal_loss(&fake, &prev, &target, &prev_truth, &none)
            .unwrap()
            .is_none());
    }
}
