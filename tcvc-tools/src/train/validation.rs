// SPDX-License-Identifier: MIT
//! Validation during training: the validation clips are colorized autoregressively, exactly as
//! at inference: TCVC through [`StreamColorizer`] (each generated frame fed back as the next
//! frame's previous frame, chain reset at scene cuts with the element's threshold), pix2pix frame
//! by frame. Predictions are compared with the ground truth by [`crate::metrics`] on 8-bit RGB:
//! PSNR (FFmpeg definition, all planes), SSIM (Gaussian window, scikit-image definition) and
//! temporal error (`|(Xₜ − Xₜ₋₁) − (Rₜ − Rₜ₋₁)|`, reset at cuts and between clips).
//!
//! A PNG grid (rows: line art | previous frame given to the generator | prediction | ground
//! truth) of a few evenly spaced validation frames is written with OpenCV.
use super::data::PreparedClip;
use super::error::{Result, TrainError};
use super::nets::Nets;
use crate::metrics::{self, TemporalTracker};
use crate::model::InputMode;
use opencv::prelude::*;
use std::path::Path;
use tch::{Kind, Tensor};

/// Highest PSNR counted for one frame (a perfect frame would be +∞).
pub const PSNR_CAP: f64 = 100.0;

/// Figures of one validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValFigures {
    /// Mean PSNR in dB.
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// Mean temporal error (8-bit units); `None` without a frame pair.
    pub temporal_error: Option<f64>,
    /// Frames colorized.
    pub frames: usize,
}

/// `1 × 3 × H × W` in `[0, 1]` → packed 8-bit RGB, as the element writes it
/// ([`crate::model::stream::tensor_to_rgb8`]).
pub fn to_rgb8(t: &Tensor) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    crate::model::stream::tensor_to_rgb8(&t.f_detach()?, &mut v)?;
    Ok(v)
}

/// One row of the sample grid.
struct GridRow {
    input: Vec<u8>,
    prev: Vec<u8>,
    pred: Vec<u8>,
    truth: Vec<u8>,
}

impl GridRow {
    /// The row of a `width × height` frame as the `height × width` frame of its transpose.
    fn transposed(self, width: usize, height: usize) -> GridRow {
        let t = |v: &[u8], c: usize| -> Vec<u8> {
            let mut out = vec![0u8; v.len()];
            for y in 0..height {
                for x in 0..width {
                    let (s, d) = ((y * width + x) * c, (x * height + y) * c);
                    out[d..d + c].copy_from_slice(&v[s..s + c]);
                }
            }
            out
        };
        GridRow {
            input: t(&self.input, 1),
            prev: t(&self.prev, 3),
            pred: t(&self.pred, 3),
            truth: t(&self.truth, 3),
        }
    }
}

/// Colorizes the validation clips (at most `max_frames` frames of each, 0 = all) and measures
/// them; with `grid = Some((path, rows))` also writes the sample grid.
pub fn validate(
    nets: &Nets,
    clips: &[PreparedClip],
    mode: InputMode,
    width: usize,
    height: usize,
    max_frames: usize,
    grid: Option<(&Path, usize)>,
) -> Result<ValFigures> {
    let _guard = tch::no_grad_guard();
    let device = nets.device;
    let counts: Vec<usize> = clips
        .iter()
        .map(|c| {
            if max_frames == 0 {
                c.len()
            } else {
                c.len().min(max_frames)
            }
        })
        .collect();
    let total: usize = counts.iter().sum();
    let wanted: Vec<usize> = match grid {
        Some((_, rows)) if rows > 0 && total > 0 => {
            let rows = rows.min(total);
            (0..rows)
                .map(|i| (2 * i + 1) * total / (2 * rows))
                .collect()
        }
        _ => Vec::new(),
    };
    let (mut psnr_sum, mut ssim_sum, mut te_sum, mut te_n) = (0.0, 0.0, 0.0, 0usize);
    let mut rows = Vec::new();
    let mut k = 0usize;
    for (clip, &n) in clips.iter().zip(&counts) {
        // Each clip at the size it was decoded at: the training size, or turned
        // (`--working-orientation turn`); the grid shows a turned clip's rows transposed.
        let turned = (clip.width, clip.height) != (width, height);
        let (width, height) = (clip.width, clip.height);
        let zeros = Tensor::f_zeros([1, 3, height as i64, width as i64], (Kind::Float, device))?;
        let mut chain = nets.colorizer(mode, width as i64, height as i64)?;
        let mut tracker = TemporalTracker::default();
        let mut last: Option<Tensor> = None;
        for t in 0..n {
            let input = Tensor::f_from_slice(&clip.inputs[t])?
                .f_view([1, 1, height as i64, width as i64])?
                .f_to_device(device)?
                .f_to_kind(Kind::Float)?
                .f_div_scalar(255.0)?;
            let step = chain.step(&input)?;
            if step.reset.is_some() {
                tracker.reset();
            }
            // What the generator was given as the previous frame (for the grid).
            let prev = match (&step.reset, &last) {
                (None, Some(p)) if !chain.blank_previous() => p.shallow_clone(),
                _ => zeros.shallow_clone(),
            };
            let pred = step.prediction;
            let pred8 = to_rgb8(&pred)?;
            let truth = &clip.frames[t];
            let f = metrics::rgb_figures(&pred8, truth, width, height, &mut tracker)
                .map_err(TrainError::runtime("validation metrics"))?;
            psnr_sum += f.psnr.min(PSNR_CAP);
            ssim_sum += f.ssim;
            if let Some(ts) = f.temporal {
                te_sum += ts.temporal_error;
                te_n += 1;
            }
            if wanted.contains(&k) {
                let row = GridRow {
                    input: clip.inputs[t].clone(),
                    prev: to_rgb8(&prev)?,
                    pred: pred8,
                    truth: truth.clone(),
                };
                rows.push(if turned {
                    row.transposed(width, height)
                } else {
                    row
                });
            }
            last = Some(pred);
            k += 1;
        }
    }
    if let Some((path, _)) = grid {
        if !rows.is_empty() {
            write_grid(path, &rows, width, height)?;
        }
    }
    let nf = total.max(1) as f64;
    Ok(ValFigures {
        psnr: psnr_sum / nf,
        ssim: ssim_sum / nf,
        temporal_error: (te_n > 0).then(|| te_sum / te_n as f64),
        frames: total,
    })
}

/// Writes the grid (one row per sample: input | previous | prediction | truth) as PNG; frames
/// smaller than 128 pixels are enlarged (pixel replication) so that the grid stays legible.
fn write_grid(path: &Path, rows: &[GridRow], w: usize, h: usize) -> Result<()> {
    let err = TrainError::runtime(format!("writing the sample grid {}", path.display()));
    let k = (128 / w.min(h)).max(1);
    let (cw, ch) = (w * k, h * k);
    let (gw, gh) = (4 * cw, rows.len() * ch);
    let mut m = Mat::new_rows_cols_with_default(
        gh as i32,
        gw as i32,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(0.0),
    )
    .map_err(TrainError::runtime("allocating the sample grid"))?;
    let bytes = m
        .data_bytes_mut()
        .map_err(TrainError::runtime("allocating the sample grid"))?;
    for (ri, row) in rows.iter().enumerate() {
        for gy in 0..ch {
            for gx in 0..cw {
                let i = (gy / k) * w + gx / k;
                let g = row.input[i];
                let cells = [
                    [g, g, g],
                    [row.prev[3 * i], row.prev[3 * i + 1], row.prev[3 * i + 2]],
                    [row.pred[3 * i], row.pred[3 * i + 1], row.pred[3 * i + 2]],
                    [row.truth[3 * i], row.truth[3 * i + 1], row.truth[3 * i + 2]],
                ];
                for (c, rgb) in cells.iter().enumerate() {
                    let o = ((ri * ch + gy) * gw + c * cw + gx) * 3;
                    // OpenCV stores BGR.
                    bytes[o] = rgb[2];
                    bytes[o + 1] = rgb[1];
                    bytes[o + 2] = rgb[0];
                }
            }
        }
    }
    let name = path
        .to_str()
        .ok_or_else(|| TrainError::Runtime(format!("{} is not valid UTF-8", path.display())))?;
    let ok =
        opencv::imgcodecs::imwrite(name, &m, &opencv::core::Vector::<i32>::new()).map_err(err)?;
    if !ok {
        return Err(TrainError::Runtime(format!(
            "OpenCV could not write the sample grid {}",
            path.display()
        )));
    }
    Ok(())
}
