// SPDX-License-Identifier: MIT
//! Full-reference video quality metrics on 8-bit planes: PSNR and SSIM as FFmpeg computes them,
//! SSIM as Wang et al. (2004) / scikit-image compute it, and temporal-consistency figures.
//!
//! Shared by the `tcvcssim`, `tcvcpsnr` and `tcvcflicker` elements, the trainer and the evaluation
//! tool. Pure Rust, no dependency beyond `std`; the work of one call is split by rows over up to
//! [`max_threads`] threads with [`std::thread::scope`], and every result is independent of the
//! number of threads (partial results are kept per row and reduced in row order).
//!
//! # Frames and planes
//!
//! A frame is a slice of [`Plane`]s, compared plane by plane with the same slice from the other
//! frame: Y, U, V of I420 (each with its own size), R, G, B of planar RGB, or the components of
//! packed RGB / RGBx / BGRx, addressed in place through [`Plane::pixel_stride`] (see
//! [`Plane::packed`]). Sample `(x, y)` of a plane is `data[y * stride + x * pixel_stride]`.
//!
//! # Definitions
//!
//! - [`psnr`]: `libavfilter/vf_psnr.c`. Per plane `mse = Σ(a − b)² / (w·h)`; `mse_avg` is the
//!   plane-area-weighted mean of the plane MSEs; `psnr = 10·log10(255² / mse)`, `+∞` when the MSE
//!   is 0.
//! - [`ssim`] with [`SsimWindow::Gaussian`]: Wang et al. 2004, as
//!   `skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False, data_range=255)` on each plane: 11×11 Gaussian window (σ = 1.5,
//!   truncated at 3.5 σ), K1 = 0.01, K2 = 0.03, L = 255, population covariances, computed in
//!   `f64`, mean of the SSIM map over the pixels whose window lies inside the plane (a 5-pixel
//!   border is left out, as scikit-image crops it). Planes must be at least 11×11.
//! - [`ssim`] with [`SsimWindow::Ffmpeg`]: `libavfilter/vf_ssim.c` (8-bit path): integer sums over
//!   4×4 blocks, 8×8 windows (2×2 blocks) every 4 pixels, FFmpeg's integer constants and `f32`
//!   formula; per plane the mean over `(w/4 − 1)·(h/4 − 1)` windows (pixels beyond the last whole
//!   4×4 block are ignored). Planes must be at least 8×8.
//! - For both windows, [`SsimResult::all`] is the plane-area-weighted mean of the plane values
//!   (FFmpeg's `All`), and [`ssim_db`] is FFmpeg's `−10·log10(1 − SSIM)`.
//! - [`temporal_stats`] / [`TemporalTracker`]: frame-to-frame differences of the chain under test
//!   against those of the reference, see [`TemporalStats`].
//!
//! # Matching FFmpeg on RGB
//!
//! FFmpeg's `ssim` and `psnr` filters only take planar formats: `rgb24` input is converted
//! (losslessly) to `gbrp`, whose planes are G, B, R. The stats files label values through the
//! format's RGBA map, so their `R`/`G`/`B` (`r`/`g`/`b` for PSNR) are the real red, green and blue
//! components; `All` / `mse_avg` do not depend on the order since all three planes have the same
//! size. Passing `[R, G, B]` planes here gives the same numbers under the same labels.
//!
//! # Speed
//!
//! Hot loops are written for auto-vectorisation and built twice, for the x86-64 baseline and for
//! AVX2 (picked at run time, same results). Planar data is read in place; packed components are
//! gathered row by row, which costs about as much as FFmpeg's own `rgb24` → `gbrp` conversion.
//! Measured on 1920×1080 8-bit frames (release build, a 2-core AMD EPYC VM shared with other
//! work, so ±30 %), ms per frame on one thread, two threads in brackets; FFmpeg 5.1 is the CPU
//! time of its filter (`-lavfi ssim` / `psnr` minus reading the input):
//!
//! | input | PSNR | SSIM, FFmpeg window | SSIM, Gaussian | [`TemporalTracker`] |
//! |---|---|---|---|---|
//! | I420 | 0.3 | 1.6 (1.4) | 26 (16) | 1.4 |
//! | FFmpeg, I420 | 0.7 | 1.2–1.9 | – | – |
//! | packed RGB24 | 4–6 | 7–8 (5) | 61 (32) | 8–16 |
//! | FFmpeg, `rgb24` (with its `gbrp` conversion) | 5 | 7 | – | – |

/// Defines `fn $name` running `$body` compiled with AVX2 enabled when the CPU has it, without
/// otherwise. Rust never fuses multiplies and adds on its own, so both builds do the same
/// floating-point operations in the same order and return the same bits; AVX2 only gives the
/// auto-vectorised loops twice the lanes of the x86-64 baseline (SSE2).
macro_rules! avx2_dispatch {
    (
        $(#[$meta:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    generic($($arg),*)
                }
                if !super::force_baseline() && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}

/// Tests set it to check that the baseline and AVX2 builds agree.
#[cfg(test)]
static FORCE_BASELINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`avx2_dispatch!`] functions must run their baseline build (only ever in tests).
#[inline(always)]
fn force_baseline() -> bool {
    #[cfg(test)]
    return FORCE_BASELINE.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    false
}

mod parallel;
mod plane;
mod psnr;
mod ssim;
mod temporal;

pub use parallel::{max_threads, set_max_threads};
pub use plane::{MetricsError, Plane};
pub use psnr::{psnr, psnr_from_mse, psnr_plane, PlanePsnr, PsnrResult};
pub use ssim::{ssim, ssim_db, ssim_plane, SsimResult, SsimWindow};
pub use temporal::{temporal_stats, TemporalStats, TemporalTracker, DEFAULT_STATIC_THRESHOLD};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// Every figure of a pair of frames, as bits.
    fn all_figures(
        x: &[Plane<'_>],
        r: &[Plane<'_>],
        xp: &[Plane<'_>],
        rp: &[Plane<'_>],
    ) -> Vec<u64> {
        let mut v = Vec::new();
        for window in [SsimWindow::Gaussian, SsimWindow::Ffmpeg] {
            let s = ssim(x, r, window).expect("ssim");
            v.extend(s.planes.iter().chain([&s.all]).map(|f| f.to_bits()));
        }
        let p = psnr(x, r).expect("psnr");
        v.extend(p.planes.iter().map(|q| q.sse));
        let t = temporal_stats(xp, x, rp, r, DEFAULT_STATIC_THRESHOLD).expect("temporal");
        v.extend([t.temporal_error, t.flicker, t.reference_flicker].map(f64::to_bits));
        v
    }

    #[test]
    fn baseline_and_avx2_builds_agree() {
        let (w, h) = (67, 41);
        let frames: Vec<Vec<u8>> = (0..4u32)
            .map(|t| {
                (0..w * h)
                    .map(|i| {
                        ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(t * 97) >> 13) as u8
                    })
                    .collect()
            })
            .collect();
        let planes: Vec<Plane<'_>> = frames
            .iter()
            .map(|f| Plane::contiguous(f, w, h).expect("valid"))
            .collect();
        let [x, r, xp, rp] = [0, 1, 2, 3].map(|i| &planes[i..=i]);
        let fast = all_figures(x, r, xp, rp);
        FORCE_BASELINE.store(true, Ordering::Relaxed);
        let baseline = all_figures(x, r, xp, rp);
        FORCE_BASELINE.store(false, Ordering::Relaxed);
        assert_eq!(fast, baseline);
    }
}
