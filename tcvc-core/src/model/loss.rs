//! Training losses of the paper (EdgeConnect `loss.py` + TCVC `train.py`).
//!
//! Generator objective:
//! `L_G = w_adv * L_adv + w_l1 * L1 + w_content * L_content + w_style * L_style`
//! with defaults `1, 10, 1, 1000` (TCVC `train.py`: `--L1lamb 10`,
//! `--Contentlamb 1`, `--Stylelamb 1000`; its `--Adversariallamb 0.1` is
//! parsed but never applied, so the effective adversarial weight is 1).
//!
//! Discriminator objective: `L_D = (BCE(D(real), 1) + BCE(D(fake), 0)) / 2`.
//!
//! Adversarial terms take discriminator **logits** and use
//! `binary_cross_entropy_with_logits`, equivalent to the reference's
//! `sigmoid` + `nn.BCELoss` (see [`crate::model::discriminator`]).

use tch::{Kind, Reduction, Tensor};

use super::error::{ModelError, Result};
use super::vgg::{Vgg19, VggFeatures};

/// A frozen network whose feature maps feed the content and style losses: VGG19 (the paper's)
/// or EfficientNet-Lite0 ([`super::effnet::EfficientNetLite0`]).
pub trait FeatureNet: std::fmt::Debug + Send {
    /// Content (5) and style (4) feature maps of an RGB batch in `[0, 1]`.
    fn features(&self, x: &Tensor) -> Result<VggFeatures>;
}

impl FeatureNet for Vgg19 {
    fn features(&self, x: &Tensor) -> Result<VggFeatures> {
        Vgg19::features(self, x)
    }
}

impl FeatureNet for super::effnet::EfficientNetLite0 {
    fn features(&self, x: &Tensor) -> Result<VggFeatures> {
        super::effnet::EfficientNetLite0::features(self, x)
    }
}

/// Weights of the generator loss terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Adversarial term (default 1).
    pub adversarial: f64,
    /// L1 reconstruction term (default 10).
    pub l1: f64,
    /// VGG content (perceptual) term (default 1).
    pub content: f64,
    /// VGG style (Gram) term (default 1000).
    pub style: f64,
    /// Per-layer weights of the content term for relu1_1..relu5_1
    /// (EdgeConnect `PerceptualLoss` default `[1, 1, 1, 1, 1]`).
    pub content_layers: [f64; 5],
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            adversarial: 1.0,
            l1: 10.0,
            content: 1.0,
            style: 1000.0,
            content_layers: [1.0; 5],
        }
    }
}

/// The terms of one generator-loss evaluation. `adversarial`, `l1`,
/// `content`, `style` are the *weighted* terms; `total` is their sum.
#[derive(Debug)]
pub struct GeneratorLosses {
    /// Sum of all weighted terms (call `backward` on this).
    pub total: Tensor,
    /// `w_adv * BCE(D(fake), 1)`.
    pub adversarial: Tensor,
    /// `w_l1 * mean|fake - real|`.
    pub l1: Tensor,
    /// `w_content * content`, `None` when no VGG was given.
    pub content: Option<Tensor>,
    /// `w_style * style`, `None` when no VGG was given.
    pub style: Option<Tensor>,
}

fn err(ctx: &'static str) -> impl FnOnce(tch::TchError) -> ModelError {
    ModelError::torch(ctx)
}

/// Mean binary cross-entropy of `logits` against an all-ones (`is_real`) or
/// all-zeros target, computed in Float.
pub fn adversarial_loss(logits: &Tensor, is_real: bool) -> Result<Tensor> {
    let z = logits
        .f_to_kind(Kind::Float)
        .map_err(err("adversarial loss"))?;
    let target = if is_real {
        z.f_ones_like()
    } else {
        z.f_zeros_like()
    }
    .map_err(err("adversarial loss"))?;
    z.f_binary_cross_entropy_with_logits::<&Tensor>(&target, None, None, Reduction::Mean)
        .map_err(err("adversarial loss"))
}

/// Discriminator loss `(BCE(real_logits, 1) + BCE(fake_logits, 0)) / 2`.
/// Pass `fake_logits` computed from a *detached* generator output.
pub fn discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let real = adversarial_loss(real_logits, true)?;
    let fake = adversarial_loss(fake_logits, false)?;
    real.f_add(&fake)
        .and_then(|s| s.f_mul_scalar(0.5))
        .map_err(err("discriminator loss"))
}

/// Mean absolute error (`nn.L1Loss()`).
pub fn l1_loss(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let a = a.f_to_kind(Kind::Float).map_err(err("L1 loss"))?;
    let b = b.f_to_kind(Kind::Float).map_err(err("L1 loss"))?;
    a.f_l1_loss(&b, Reduction::Mean).map_err(err("L1 loss"))
}

/// Gram matrix `F F^T / (c h w)` of `N x c x h x w` features (EdgeConnect
/// `StyleLoss.compute_gram`).
pub fn gram_matrix(x: &Tensor) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 4 {
        return Err(ModelError::InvalidInput(format!(
            "Gram matrix needs N x C x H x W features, got {size:?}"
        )));
    }
    let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
    let f = x.f_reshape([b, c, h * w]).map_err(err("Gram matrix"))?;
    f.f_transpose(1, 2)
        .and_then(|ft| f.f_bmm(&ft))
        .and_then(|g| g.f_div_scalar((c * h * w) as f64))
        .map_err(err("Gram matrix"))
}

/// Content loss `sum_i w_i * L1(phi_i(fake), phi_i(real))` over
/// relu1_1..relu5_1.
pub fn content_loss(fake: &VggFeatures, real: &VggFeatures, weights: &[f64; 5]) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for ((f, r), w) in fake.content.iter().zip(&real.content).zip(weights) {
        let term = l1_loss(f, r)?
            .f_mul_scalar(*w)
            .map_err(err("content loss"))?;
        total = Some(match total {
            None => term,
            Some(t) => t.f_add(&term).map_err(err("content loss"))?,
        });
    }
    total.ok_or_else(|| ModelError::InvalidInput("no content layers".into()))
}

/// Style loss `sum_l L1(Gram(phi_l(fake)), Gram(phi_l(real)))` over
/// relu2_2, relu3_4, relu4_4, relu5_2.
pub fn style_loss(fake: &VggFeatures, real: &VggFeatures) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for (f, r) in fake.style.iter().zip(&real.style) {
        let term = l1_loss(&gram_matrix(f)?, &gram_matrix(r)?)?;
        total = Some(match total {
            None => term,
            Some(t) => t.f_add(&term).map_err(err("style loss"))?,
        });
    }
    total.ok_or_else(|| ModelError::InvalidInput("no style layers".into()))
}

/// The full generator objective.
///
/// * `d_fake_logits`: discriminator logits on `cat[lineart, prev, fake]`
///   (not detached: gradients flow into the generator), or `None` without an adversarial term
///   (its weight 0: `tcvc-train --adv-weight 0` runs no discriminator; the term is then 0);
/// * `fake`: generator output, `real`: ground-truth frame (`N x 3 x H x W`);
/// * `vgg`: the feature network of the content and style terms; `None` switches them off.
///
/// Features of `real` are computed without gradient (they are targets).
pub fn generator_loss(
    d_fake_logits: Option<&Tensor>,
    fake: &Tensor,
    real: &Tensor,
    vgg: Option<&dyn FeatureNet>,
    weights: &LossWeights,
) -> Result<GeneratorLosses> {
    let scale = |t: Tensor, w: f64, ctx: &'static str| t.f_mul_scalar(w).map_err(err(ctx));
    let adversarial = match d_fake_logits {
        Some(logits) => scale(
            adversarial_loss(logits, true)?,
            weights.adversarial,
            "adversarial loss",
        )?,
        None => {
            Tensor::f_zeros([], (Kind::Float, fake.device())).map_err(err("adversarial loss"))?
        }
    };
    let l1 = scale(l1_loss(fake, real)?, weights.l1, "L1 loss")?;
    let mut total = adversarial.f_add(&l1).map_err(err("generator loss"))?;
    let (mut content, mut style) = (None, None);
    if let Some(vgg) = vgg {
        let fake_f = vgg.features(fake)?;
        let real_f = {
            let _guard = tch::no_grad_guard();
            vgg.features(real)?
        };
        let c = scale(
            content_loss(&fake_f, &real_f, &weights.content_layers)?,
            weights.content,
            "content loss",
        )?;
        let s = scale(style_loss(&fake_f, &real_f)?, weights.style, "style loss")?;
        total = total
            .f_add(&c)
            .and_then(|t| t.f_add(&s))
            .map_err(err("generator loss"))?;
        content = Some(c);
        style = Some(s);
    }
    Ok(GeneratorLosses {
        total,
        adversarial,
        l1,
        content,
        style,
    })
}
