//! Minimal functional layers built on plain [`tch::Tensor`]s.
//!
//! The layers hold their weights as tensors (no `tch::nn` module objects),
//! so the same structs serve training (weights created in a
//! [`tch::nn::VarStore`], shallow-cloned into the layer) and inference
//! (weights built from a validated model file, no `VarStore` at all).

use tch::{nn, Kind, Tensor};

use super::error::{ModelError, Result};

/// Standard deviation of the reference `init_weights('normal', 0.02)`.
pub(crate) const INIT_STD: f64 = 0.02;

/// A 2-D convolution `y = conv2d(x, weight, bias)`.
#[derive(Debug)]
pub(crate) struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: i64,
    pub padding: i64,
    pub dilation: i64,
}

impl Conv2d {
    /// Creates trainable `weight` (N(0, 0.02)) and `bias` (zeros) under `path`,
    /// as the reference `init_weights` does.
    pub fn new(path: &nn::Path, cin: i64, cout: i64, k: i64, spec: ConvSpec) -> Result<Self> {
        let weight = path
            .f_var(
                "weight",
                &[cout, cin, k, k],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: INIT_STD,
                },
            )
            .map_err(ModelError::torch("creating a conv weight"))?;
        let bias = path
            .f_var("bias", &[cout], nn::Init::Const(0.0))
            .map_err(ModelError::torch("creating a conv bias"))?;
        Ok(Self::from_tensors(weight, Some(bias), spec))
    }

    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, spec: ConvSpec) -> Self {
        Conv2d {
            weight,
            bias,
            stride: spec.stride,
            padding: spec.padding,
            dilation: spec.dilation,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.f_conv2d(
            &self.weight,
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [self.dilation, self.dilation],
            1,
        )
        .map_err(ModelError::torch("running conv2d"))
    }

    pub fn shallow_clone(&self) -> Self {
        Conv2d {
            weight: self.weight.shallow_clone(),
            bias: self.bias.as_ref().map(Tensor::shallow_clone),
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }
}

/// Stride / padding / dilation of a convolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvSpec {
    pub stride: i64,
    pub padding: i64,
    pub dilation: i64,
}

impl ConvSpec {
    pub const fn new(stride: i64, padding: i64, dilation: i64) -> Self {
        ConvSpec {
            stride,
            padding,
            dilation,
        }
    }
}

/// A 2-D transposed convolution (weight layout `[in, out, k, k]`).
#[derive(Debug)]
pub(crate) struct ConvTranspose2d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub stride: i64,
    pub padding: i64,
}

impl ConvTranspose2d {
    pub fn new(
        path: &nn::Path,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        padding: i64,
    ) -> Result<Self> {
        let weight = path
            .f_var(
                "weight",
                &[cin, cout, k, k],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: INIT_STD,
                },
            )
            .map_err(ModelError::torch("creating a transposed-conv weight"))?;
        let bias = path
            .f_var("bias", &[cout], nn::Init::Const(0.0))
            .map_err(ModelError::torch("creating a transposed-conv bias"))?;
        Ok(ConvTranspose2d {
            weight,
            bias,
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.f_conv_transpose2d(
            &self.weight,
            Some(&self.bias),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [0, 0],
            1,
            [1, 1],
        )
        .map_err(ModelError::torch("running conv_transpose2d"))
    }

    pub fn shallow_clone(&self) -> Self {
        ConvTranspose2d {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
            stride: self.stride,
            padding: self.padding,
        }
    }
}

/// `nn.InstanceNorm2d(C, affine=False, track_running_stats=False)`:
/// per-sample, per-channel normalisation with biased variance, eps 1e-5.
pub(crate) fn instance_norm(x: &Tensor) -> Result<Tensor> {
    x.f_instance_norm::<&Tensor>(None, None, None, None, true, 0.1, 1e-5, true)
        .map_err(ModelError::torch("running instance_norm"))
}

/// `nn.ReflectionPad2d(p)`.
pub(crate) fn reflection_pad(x: &Tensor, p: i64) -> Result<Tensor> {
    x.f_reflection_pad2d([p, p, p, p])
        .map_err(ModelError::torch("running reflection_pad2d"))
}

/// `nn.ReLU`.
pub(crate) fn relu(x: &Tensor) -> Result<Tensor> {
    x.f_relu().map_err(ModelError::torch("running relu"))
}

/// `nn.LeakyReLU(slope)` for `0 <= slope < 1`, as `max(x, slope * x)`.
pub(crate) fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.f_mul_scalar(slope)
        .and_then(|s| x.f_maximum(&s))
        .map_err(ModelError::torch("running leaky_relu"))
}

/// Returns `Err` unless `t` is a float tensor of kind Float, Half or BFloat16.
pub(crate) fn check_compute_kind(kind: Kind) -> Result<()> {
    match kind {
        Kind::Float | Kind::Half | Kind::BFloat16 => Ok(()),
        other => Err(ModelError::InvalidConfig(format!(
            "compute kind {other:?} is not supported; use Float, BFloat16 or Half"
        ))),
    }
}

/// True for the floating-point kinds weights may have.
pub(crate) fn is_float_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    )
}
