//! 70x70 PatchGAN discriminator with spectral normalisation (EdgeConnect /
//! TCVC reference `Discriminator(in_channels=7, use_spectral_norm=True)`).
//!
//! ```text
//! conv1 = Sequential(SN(Conv2d(7,   64, 4, s2, p1, bias=False)), LeakyReLU(0.2))
//! conv2 = Sequential(SN(Conv2d(64, 128, 4, s2, p1, bias=False)), LeakyReLU(0.2))
//! conv3 = Sequential(SN(Conv2d(128,256, 4, s2, p1, bias=False)), LeakyReLU(0.2))
//! conv4 = Sequential(SN(Conv2d(256,512, 4, s1, p1, bias=False)), LeakyReLU(0.2))
//! conv5 = Sequential(SN(Conv2d(512,  1, 4, s1, p1, bias=False)))
//! ```
//!
//! The reference applies `torch.sigmoid` and uses `nn.BCELoss`; this
//! implementation returns the **logits** of `conv5` and the losses use
//! `binary_cross_entropy_with_logits`, which is mathematically identical
//! (`BCE(sigmoid(z), y) = BCEWithLogits(z, y)`) but numerically stable: the
//! sigmoid+BCE path saturates (torch clamps `log` at -100, gradients vanish)
//! for large `|z|`. Use [`Discriminator::forward_sigmoid`] for probabilities.
//!
//! Parameter names equal the reference `state_dict` keys:
//! `conv{i}.0.weight_orig` (trainable) and the spectral-norm buffers
//! `conv{i}.0.weight_u`, `conv{i}.0.weight_v` (not trainable).

use tch::{nn, Tensor};

use super::error::{ModelError, Result};
use super::layers::{leaky_relu, INIT_STD};

/// Number of input channels: line art (1) + previous frame (3) + image (3).
pub const DISCRIMINATOR_INPUT_CHANNELS: i64 = 7;

/// `eps` of `torch.nn.utils.spectral_norm`'s `normalize` calls.
const SN_EPS: f64 = 1e-12;

/// A bias-free `Conv2d` wrapped in spectral normalisation, as
/// `torch.nn.utils.spectral_norm(conv, n_power_iterations=1, dim=0)`.
#[derive(Debug)]
pub struct SpectralNormConv2d {
    weight_orig: Tensor,
    weight_u: Tensor,
    weight_v: Tensor,
    stride: i64,
    padding: i64,
}

fn normalize(x: &Tensor) -> std::result::Result<Tensor, tch::TchError> {
    // F.normalize(x, dim=0, eps): x / max(||x||_2, eps)
    x.f_div(&x.f_norm()?.f_clamp_min(SN_EPS)?)
}

impl SpectralNormConv2d {
    /// Creates the layer under `path`: `weight_orig` ~ N(0, 0.02) (the
    /// reference `init_weights`), `weight_u` / `weight_v` = normalised
    /// standard-normal vectors of length `cout` / `cin*k*k`, as torch does.
    pub fn new(
        path: &nn::Path,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        padding: i64,
    ) -> Result<Self> {
        let err = ModelError::torch("creating a spectral-norm conv");
        let weight_orig = path
            .f_var(
                "weight_orig",
                &[cout, cin, k, k],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: INIT_STD,
                },
            )
            .map_err(err)?;
        let mk = |name: &str, n: i64| -> Result<Tensor> {
            let ctx = ModelError::torch("initialising spectral-norm vectors");
            let mut buf = path.f_zeros_no_train(name, &[n]).map_err(ctx)?;
            let _guard = tch::no_grad_guard();
            let init = Tensor::f_randn([n], (tch::Kind::Float, path.device()))
                .and_then(|r| normalize(&r))
                .map_err(ModelError::torch("initialising spectral-norm vectors"))?;
            buf.f_copy_(&init)
                .map_err(ModelError::torch("initialising spectral-norm vectors"))?;
            Ok(buf)
        };
        let weight_u = mk("weight_u", cout)?;
        let weight_v = mk("weight_v", cin * k * k)?;
        Ok(SpectralNormConv2d {
            weight_orig,
            weight_u,
            weight_v,
            stride,
            padding,
        })
    }

    /// The normalised weight `weight_orig / sigma`. With `train`, one power
    /// iteration first updates the `u`/`v` buffers in place (without
    /// gradient), exactly as torch's `SpectralNorm.compute_weight` in
    /// training mode; in eval mode the stored vectors are used.
    pub fn weight(&self, train: bool) -> Result<Tensor> {
        let ctx = || ModelError::torch("computing the spectral norm");
        let out = self.weight_orig.size()[0];
        let w_mat = self.weight_orig.f_reshape([out, -1]).map_err(ctx())?;
        if train {
            let _guard = tch::no_grad_guard();
            let wd = w_mat.f_detach().map_err(ctx())?;
            let v = wd
                .f_transpose(0, 1)
                .and_then(|wt| wt.f_mv(&self.weight_u))
                .and_then(|x| normalize(&x))
                .map_err(ctx())?;
            let u = wd.f_mv(&v).and_then(|x| normalize(&x)).map_err(ctx())?;
            self.weight_u.shallow_clone().f_copy_(&u).map_err(ctx())?;
            self.weight_v.shallow_clone().f_copy_(&v).map_err(ctx())?;
        }
        // As torch.nn.utils.spectral_norm: in training, sigma uses copies of the freshly updated
        // u and v, so that a later update (a second forward before backward) does not modify a
        // tensor the autograd graph still needs.
        let (u, v) = if train {
            (self.weight_u.copy(), self.weight_v.copy())
        } else {
            (self.weight_u.shallow_clone(), self.weight_v.shallow_clone())
        };
        let sigma = w_mat.f_mv(&v).and_then(|wv| u.f_dot(&wv)).map_err(ctx())?;
        self.weight_orig.f_div(&sigma).map_err(ctx())
    }

    /// Convolution with the spectrally normalised weight.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let w = self.weight(train)?;
        x.f_conv2d::<&Tensor>(
            &w,
            None,
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
        .map_err(ModelError::torch("running the discriminator conv"))
    }
}

/// The smallest input side the PatchGAN takes: its three stride-2 4×4 convolutions (padding 1)
/// map a side `s` to `⌊s/8⌋`, and its two stride-1 4×4 convolutions (padding 1) take 1 each, so
/// the output has `⌊s/8⌋ − 2 ≥ 1` cells only when `s ≥ 24`. (The generator needs 12.)
pub const MIN_INPUT_SIDE: u32 = 24;

/// The PatchGAN discriminator; `forward_t` returns logits `N x 1 x h x w`
/// (30x30 for a 256x256 input, each with a 70x70 receptive field).
#[derive(Debug)]
pub struct Discriminator {
    convs: Vec<SpectralNormConv2d>,
}

impl Discriminator {
    /// Creates a discriminator with `in_channels` inputs (7 for TCVC) whose
    /// variables live under `path` (names `conv1.0.weight_orig`, ...).
    pub fn new(path: &nn::Path, in_channels: i64) -> Result<Self> {
        if in_channels < 1 {
            return Err(ModelError::InvalidConfig(format!(
                "discriminator in_channels = {in_channels} must be >= 1"
            )));
        }
        let layout = [
            (in_channels, 64, 2),
            (64, 128, 2),
            (128, 256, 2),
            (256, 512, 1),
            (512, 1, 1),
        ];
        let mut convs = Vec::with_capacity(layout.len());
        for (i, (cin, cout, stride)) in layout.into_iter().enumerate() {
            let p = path / format!("conv{}", i + 1) / 0;
            convs.push(SpectralNormConv2d::new(&p, cin, cout, 4, stride, 1)?);
        }
        Ok(Discriminator { convs })
    }

    /// Logits for `x = cat([lineart, prev, image], 1)` (`N x 7 x H x W`).
    /// `train` runs the spectral-norm power iteration (training forward).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.shallow_clone();
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            h = conv.forward_t(&h, train)?;
            if i != last {
                h = leaky_relu(&h, 0.2)?;
            }
        }
        Ok(h)
    }

    /// Logits for separate inputs (concatenated along channels).
    pub fn forward_parts(
        &self,
        lineart: &Tensor,
        prev: &Tensor,
        image: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let x = Tensor::f_cat(&[lineart, prev, image], 1)
            .map_err(ModelError::torch("concatenating the discriminator inputs"))?;
        self.forward_t(&x, train)
    }

    /// `sigmoid(logits)`: the reference (`use_sigmoid=True`) output.
    pub fn forward_sigmoid(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_t(x, train)?
            .f_sigmoid()
            .map_err(ModelError::torch("running sigmoid"))
    }
}

#[cfg(test)]
mod min_size_tests {
    use super::*;
    use tch::{nn, Device, Kind, Tensor};

    #[test]
    fn min_input_side_is_the_real_minimum() {
        let vs = nn::VarStore::new(Device::Cpu);
        let d = Discriminator::new(&vs.root(), 7).unwrap();
        let run = |h: i64, w: i64| {
            d.forward_t(
                &Tensor::zeros([1, 7, h, w], (Kind::Float, Device::Cpu)),
                false,
            )
        };
        let m = i64::from(MIN_INPUT_SIDE);
        assert_eq!(run(m, m).unwrap().size(), vec![1, 1, 1, 1]);
        assert!(run(m - 1, m).is_err());
        assert!(run(m, m - 1).is_err());
    }
}
