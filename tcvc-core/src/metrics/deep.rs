// SPDX-License-Identifier: MIT
//! The metrics on planes of more than 8 bits per sample (10-bit broadcast video: `I420_10LE`,
//! `I422_10LE`, `P010_10LE`), with FFmpeg's and scikit-image's definitions at that depth:
//!
//! - [`ssim_deep`] with [`SsimWindow::Ffmpeg`]: `vf_ssim.c`'s high-depth path — 64-bit 4×4 block
//!   sums, constants `round(0.01²·max²·64)` and `round(0.03²·max²·64·63)` for `max = 2^depth − 1`,
//!   each window's value in `f32`, each row's windows summed in `f32`, rows in `f64`;
//! - [`ssim_deep`] with [`SsimWindow::Gaussian`]: `structural_similarity(…, data_range=max)` on
//!   each plane, in `f64`;
//! - [`psnr_deep`]: `vf_psnr.c` with peak `max` (`10·log10(max² / mse)`);
//! - [`DeepTemporalTracker`]: [`super::TemporalStats`] in 8-bit units, each difference scaled by
//!   `255 / max`, so figures of a 10-bit stream read like those of its 8-bit version.
//!
//! Samples are plain values `0..=max` (a caller unpacks MSB-aligned formats like P010 first). The
//! code is scalar and single-threaded: 10-bit comparison is rarer than 8-bit, and exactness first.
use super::plane::MetricsError;
use super::ssim::{SsimResult, SsimWindow};
use super::{PlanePsnr, PsnrResult, TemporalStats};

/// One plane of samples of `depth` bits, rows packed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeepPlane {
    /// `width × height` samples, row by row.
    pub data: Vec<u16>,
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl DeepPlane {
    /// A plane from `width × height` samples.
    pub fn new(data: Vec<u16>, width: usize, height: usize) -> Result<Self, MetricsError> {
        if data.len() < width * height {
            return Err(MetricsError::BufferTooSmall {
                plane: 0,
                needed: width * height,
                len: data.len(),
            });
        }
        Ok(DeepPlane {
            data,
            width,
            height,
        })
    }

    fn at(&self, x: usize, y: usize) -> u16 {
        self.data[y * self.width + x]
    }
}

fn check(a: &[DeepPlane], b: &[DeepPlane], min: (usize, usize)) -> Result<(), MetricsError> {
    let sizes = |f: &[DeepPlane]| f.iter().map(|p| (p.width, p.height)).collect();
    super::plane::check_sizes(&[sizes(a), sizes(b)], min)
}

fn area_weighted(values: &[f64], planes: &[DeepPlane]) -> f64 {
    let total: usize = planes.iter().map(|p| p.width * p.height).sum();
    values
        .iter()
        .zip(planes)
        .map(|(v, p)| v * (p.width * p.height) as f64)
        .sum::<f64>()
        / total as f64
}

/// SSIM of two frames of `depth`-bit planes (see the module docs).
pub fn ssim_deep(
    a: &[DeepPlane],
    b: &[DeepPlane],
    window: SsimWindow,
    depth: u32,
) -> Result<SsimResult, MetricsError> {
    check(a, b, window.min_size())?;
    let max = (1u64 << depth) - 1;
    let planes: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(p, q)| match window {
            SsimWindow::Ffmpeg => ffmpeg_plane(p, q, max),
            SsimWindow::Gaussian => gaussian_plane(p, q, max as f64),
        })
        .collect();
    let all = area_weighted(&planes, a);
    Ok(SsimResult { planes, all })
}

/// `vf_ssim.c` `ssim_plane_16bit` on one plane.
fn ffmpeg_plane(a: &DeepPlane, b: &DeepPlane, max: u64) -> f64 {
    let (bw, bh) = (a.width / 4, a.height / 4);
    let block = |bx: usize, by: usize| {
        let mut s = [0i64; 4];
        for y in 0..4 {
            for x in 0..4 {
                let p = i64::from(a.at(4 * bx + x, 4 * by + y));
                let q = i64::from(b.at(4 * bx + x, 4 * by + y));
                s[0] += p;
                s[1] += q;
                s[2] += p * p + q * q;
                s[3] += p * q;
            }
        }
        s
    };
    let c1 = (0.01 * 0.01 * (max * max) as f64 * 64.0 + 0.5) as i64;
    let c2 = (0.03 * 0.03 * (max * max) as f64 * 64.0 * 63.0 + 0.5) as i64;
    let end1 = |s1: i64, s2: i64, ss: i64, s12: i64| -> f32 {
        let vars = ss * 64 - s1 * s1 - s2 * s2;
        let covar = s12 * 64 - s1 * s2;
        (2 * s1 * s2 + c1) as f32 * (2 * covar + c2) as f32
            / ((s1 * s1 + s2 * s2 + c1) as f32 * (vars + c2) as f32)
    };
    let mut prev: Vec<[i64; 4]> = (0..bw).map(|x| block(x, 0)).collect();
    let mut total = 0.0f64;
    for by in 1..bh {
        let cur: Vec<[i64; 4]> = (0..bw).map(|x| block(x, by)).collect();
        let mut row = 0.0f32;
        for i in 0..bw - 1 {
            let s = |k: usize| prev[i][k] + prev[i + 1][k] + cur[i][k] + cur[i + 1][k];
            row += end1(s(0), s(1), s(2), s(3));
        }
        total += f64::from(row);
        prev = cur;
    }
    total / ((bw - 1) * (bh - 1)) as f64
}

/// scikit-image's Gaussian SSIM (σ 1.5, 11 taps, population statistics) on one plane, mean over
/// the pixels whose window lies inside it.
fn gaussian_plane(a: &DeepPlane, b: &DeepPlane, range: f64) -> f64 {
    const R: usize = 5;
    let mut g = [0.0f64; 2 * R + 1];
    for (i, v) in g.iter_mut().enumerate() {
        let d = i as f64 - R as f64;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= sum);
    let (w, h) = (a.width, a.height);
    let ow = w - 2 * R;
    // Horizontal pass of x, y, x², y², xy over every row, then the vertical pass per pixel.
    let mut hor = vec![[0.0f64; 5]; ow * h];
    for y in 0..h {
        for x in 0..ow {
            let mut s = [0.0f64; 5];
            for (k, gk) in g.iter().enumerate() {
                let p = f64::from(a.at(x + k, y));
                let q = f64::from(b.at(x + k, y));
                s[0] += gk * p;
                s[1] += gk * q;
                s[2] += gk * p * p;
                s[3] += gk * q * q;
                s[4] += gk * p * q;
            }
            hor[y * ow + x] = s;
        }
    }
    let c1 = (0.01 * range).powi(2);
    let c2 = (0.03 * range).powi(2);
    let mut total = 0.0f64;
    for y in R..h - R {
        for x in 0..ow {
            let mut s = [0.0f64; 5];
            for (k, gk) in g.iter().enumerate() {
                let r = &hor[(y + k - R) * ow + x];
                for j in 0..5 {
                    s[j] += gk * r[j];
                }
            }
            let (mx, my) = (s[0], s[1]);
            let vx = s[2] - mx * mx;
            let vy = s[3] - my * my;
            let cxy = s[4] - mx * my;
            total += (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    }
    total / (ow * (h - 2 * R)) as f64
}

/// PSNR of two frames of `depth`-bit planes, FFmpeg's definitions with peak `2^depth − 1`.
pub fn psnr_deep(a: &[DeepPlane], b: &[DeepPlane], depth: u32) -> Result<PsnrResult, MetricsError> {
    check(a, b, (1, 1))?;
    let max = ((1u64 << depth) - 1) as f64;
    let psnr = |mse: f64| {
        if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (max * max / mse).log10()
        }
    };
    let planes: Vec<PlanePsnr> = a
        .iter()
        .zip(b)
        .map(|(p, q)| {
            let n = p.width * p.height;
            let sse: u64 = p.data[..n]
                .iter()
                .zip(&q.data[..n])
                .map(|(&x, &y)| {
                    let d = i64::from(x) - i64::from(y);
                    (d * d) as u64
                })
                .sum();
            let mse = sse as f64 / n as f64;
            PlanePsnr {
                sse,
                mse,
                psnr: psnr(mse),
            }
        })
        .collect();
    let mses: Vec<f64> = planes.iter().map(|p| p.mse).collect();
    let mse_avg = area_weighted(&mses, a);
    Ok(PsnrResult {
        planes,
        mse_avg,
        psnr_avg: psnr(mse_avg),
    })
}

/// [`super::TemporalTracker`] for `depth`-bit planes; figures in 8-bit units (see the module
/// docs): every difference is multiplied by `255 / (2^depth − 1)`, and a reference sample is
/// static when its scaled change is at most the threshold.
#[derive(Debug, Clone, Default)]
pub struct DeepTemporalTracker {
    prev: Option<(Vec<DeepPlane>, Vec<DeepPlane>)>,
}

impl DeepTemporalTracker {
    /// Forgets the previous frame.
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// Takes frame `t` of `x` (under test) and `r` (reference); the figures of `t` against
    /// `t − 1`, or `None` for the first frame since creation or [`DeepTemporalTracker::reset`].
    pub fn push(
        &mut self,
        x: &[DeepPlane],
        r: &[DeepPlane],
        depth: u32,
        static_threshold: u8,
    ) -> Result<Option<TemporalStats>, MetricsError> {
        check(x, r, (1, 1))?;
        let scale = 255.0 / ((1u64 << depth) - 1) as f64;
        let out = match &self.prev {
            Some((px, pr)) => {
                check(px, x, (1, 1))?;
                let mut s = [0.0f64; 4];
                let (mut samples, mut statics) = (0u64, 0u64);
                for i in 0..x.len() {
                    let n = x[i].width * x[i].height;
                    for k in 0..n {
                        let dx = (f64::from(x[i].data[k]) - f64::from(px[i].data[k])) * scale;
                        let dr = (f64::from(r[i].data[k]) - f64::from(pr[i].data[k])) * scale;
                        s[0] += (dx - dr).abs();
                        s[1] += dx.abs();
                        s[2] += dr.abs();
                        if dr.abs() <= f64::from(static_threshold) {
                            s[3] += dx.abs();
                            statics += 1;
                        }
                    }
                    samples += n as u64;
                }
                let n = samples as f64;
                Some(TemporalStats {
                    temporal_error: s[0] / n,
                    flicker: s[1] / n,
                    reference_flicker: s[2] / n,
                    static_flicker: (statics > 0).then(|| s[3] / statics as f64),
                    samples,
                    static_samples: statics,
                })
            }
            None => None,
        };
        self.prev = Some((x.to_vec(), r.to_vec()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{psnr, ssim, Plane};

    fn noise(n: usize, seed: u64, max: u16) -> Vec<u16> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % (u64::from(max) + 1)) as u16
            })
            .collect()
    }

    /// At depth 8 the deep path computes what the 8-bit path computes.
    #[test]
    fn at_eight_bits_it_agrees_with_the_eight_bit_metrics() {
        let (w, h) = (37, 29);
        let a16 = noise(w * h, 1, 255);
        let b16: Vec<u16> = a16
            .iter()
            .zip(noise(w * h, 2, 40))
            .map(|(&v, n)| (v + n).min(255))
            .collect();
        let a8: Vec<u8> = a16.iter().map(|&v| v as u8).collect();
        let b8: Vec<u8> = b16.iter().map(|&v| v as u8).collect();
        let (pa, pb) = (
            [Plane::contiguous(&a8, w, h).unwrap()],
            [Plane::contiguous(&b8, w, h).unwrap()],
        );
        let (da, db) = (
            [DeepPlane::new(a16, w, h).unwrap()],
            [DeepPlane::new(b16, w, h).unwrap()],
        );
        let f8 = ssim(&pa, &pb, SsimWindow::Ffmpeg).unwrap().all;
        let f16 = ssim_deep(&da, &db, SsimWindow::Ffmpeg, 8).unwrap().all;
        assert!((f8 - f16).abs() < 1e-6, "{f8} {f16}");
        let g8 = ssim(&pa, &pb, SsimWindow::Gaussian).unwrap().all;
        let g16 = ssim_deep(&da, &db, SsimWindow::Gaussian, 8).unwrap().all;
        assert!((g8 - g16).abs() < 1e-6, "{g8} {g16}");
        let p8 = psnr(&pa, &pb).unwrap();
        let p16 = psnr_deep(&da, &db, 8).unwrap();
        assert_eq!(p8.planes[0].sse, p16.planes[0].sse);
        assert!((p8.psnr_avg - p16.psnr_avg).abs() < 1e-12);
    }

    #[test]
    fn identical_frames_are_one_and_infinite() {
        let p = [DeepPlane::new(noise(64 * 48, 3, 1023), 64, 48).unwrap()];
        for w in [SsimWindow::Ffmpeg, SsimWindow::Gaussian] {
            assert!((ssim_deep(&p, &p, w, 10).unwrap().all - 1.0).abs() < 1e-12);
        }
        assert!(psnr_deep(&p, &p, 10).unwrap().psnr_avg.is_infinite());
        let mut t = DeepTemporalTracker::default();
        assert!(t.push(&p, &p, 10, 2).unwrap().is_none());
        let s = t.push(&p, &p, 10, 2).unwrap().unwrap();
        assert_eq!(
            (s.temporal_error, s.flicker, s.static_samples),
            (0.0, 0.0, 64 * 48)
        );
    }

    #[test]
    fn sizes_are_checked() {
        let a = [DeepPlane::new(vec![0; 100], 10, 10).unwrap()];
        let b = [DeepPlane::new(vec![0; 120], 12, 10).unwrap()];
        assert!(matches!(
            psnr_deep(&a, &b, 10),
            Err(MetricsError::SizeMismatch { .. })
        ));
        assert!(matches!(
            ssim_deep(&a, &a, SsimWindow::Gaussian, 10),
            Err(MetricsError::TooSmall { .. })
        ));
        assert!(DeepPlane::new(vec![0; 10], 4, 4).is_err());
    }
}
