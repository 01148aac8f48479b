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
//!   `f32` (within 1e-8 of the `f64` result, see [`SsimWindow::Gaussian`]), mean of the SSIM map over the pixels whose window lies inside the plane (a 5-pixel
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
//! AVX2 (picked at run time, same results). The SSIM loops are explicit AVX2 (`std::arch`, picked
//! at run time, portable Rust otherwise): the FFmpeg window gives the same bits either way, the
//! Gaussian window computes in `f32` with fused multiply-adds under AVX2 + FMA and without them in
//! the portable build (the two differ by ~1e-9; both are within 1e-8 of the `f64` definition, see
//! `ssim.rs`). Planar data is read in place; packed components are gathered row by row, which
//! costs about as much as FFmpeg's own `rgb24` → `gbrp` conversion. Measured on 1920×1080 8-bit
//! frames with `cargo bench --bench metrics` (release build, a 2-core AMD EPYC (Zen 4) VM shared
//! with other work, load average ~3 during the runs, so the second core hardly helped and figures
//! vary by ±30 %), ms per frame on one thread, two threads in brackets; FFmpeg 5.1 is the CPU time
//! of its filter (`-lavfi ssim` / `psnr` minus reading the input), same run:
//!
//! | input | PSNR | SSIM, FFmpeg window | SSIM, Gaussian | [`TemporalTracker`] |
//! |---|---|---|---|---|
//! | I420 | 0.26 (0.23) | 0.90 (0.87) | 8.9 (9.4) | 1.3 |
//! | FFmpeg, I420 | 0.46 (0.41) | 1.26 (1.22–1.27) | – | – |
//! | packed RGB24 (before the SSIM rewrite) | 4–6 | 7–8 (5) | 61 (32) | 8–16 |
//! | FFmpeg, `rgb24` (with its `gbrp` conversion) | 5 | 7 | – | – |
//!
//! Ratios to FFmpeg's `ssim` in the same runs: FFmpeg window 0.68–0.71 (goal ≤ 1), Gaussian
//! window 7.1–7.7 (goal ≤ 2, not met; it was 15.5 with the former `f64` code).

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

/// Held by the unit tests that change the process-wide metric settings ([`set_max_threads`],
/// the forced builds) or compare the bits of two calls: `cargo test` runs tests on parallel
/// threads, and the portable build's Gaussian SSIM differs from the AVX2 one in the last bits, so
/// a test forcing it beside a test comparing two calls failed one CI run in many. Dropping it
/// restores the defaults, also when the test panics.
#[cfg(test)]
pub(crate) struct TestSettings(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

#[cfg(test)]
impl TestSettings {
    pub(crate) fn lock() -> Self {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        TestSettings(
            LOCK.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
impl Drop for TestSettings {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        set_max_threads(0);
        FORCE_BASELINE.store(false, Relaxed);
        ssim::FORCE_AVX2.store(false, Relaxed);
    }
}

mod deep;
mod parallel;
mod plane;
mod psnr;
mod ssim;
mod temporal;

pub use deep::{psnr_deep, ssim_deep, DeepPlane, DeepTemporalTracker};

/// The figures `tcvc-eval` and the trainer's validation report for one output frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RgbFigures {
    /// FFmpeg's `psnr_avg`.
    pub psnr: f64,
    /// The Gaussian-window SSIM's `all`.
    pub ssim: f64,
    /// Against the previous frame pushed into the tracker; `None` for a chain's first frame.
    pub temporal: Option<TemporalStats>,
}

/// PSNR, SSIM (Gaussian) and the temporal figures of `out` against `reference`, both packed RGB
/// rows of `width × height` (the tools' one way of measuring a colorized frame).
pub fn rgb_figures(
    out: &[u8],
    reference: &[u8],
    width: usize,
    height: usize,
    tracker: &mut TemporalTracker,
) -> Result<RgbFigures, MetricsError> {
    let x = Plane::packed(out, width, height, width * 3, 3, [0, 1, 2])?;
    let r = Plane::packed(reference, width, height, width * 3, 3, [0, 1, 2])?;
    Ok(RgbFigures {
        psnr: psnr(&x, &r)?.psnr_avg,
        ssim: ssim(&x, &r, SsimWindow::Gaussian)?.all,
        temporal: tracker.push(&x, &r)?,
    })
}
pub use parallel::{max_threads, set_max_threads};
pub use plane::{MetricsError, Plane};
pub use psnr::{psnr, psnr_from_mse, psnr_plane, PlanePsnr, PsnrResult};
pub use ssim::{ssim, ssim_db, ssim_plane, SsimResult, SsimWindow};
pub use temporal::{temporal_stats, TemporalStats, TemporalTracker, DEFAULT_STATIC_THRESHOLD};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// Every figure of a pair of frames: the Gaussian SSIM, and the others as bits.
    fn all_figures(
        x: &[Plane<'_>],
        r: &[Plane<'_>],
        xp: &[Plane<'_>],
        rp: &[Plane<'_>],
    ) -> (f64, Vec<u64>) {
        let gaussian = ssim(x, r, SsimWindow::Gaussian).expect("ssim").all;
        let mut v = Vec::new();
        let s = ssim(x, r, SsimWindow::Ffmpeg).expect("ssim");
        v.extend(s.planes.iter().chain([&s.all]).map(|f| f.to_bits()));
        let p = psnr(x, r).expect("psnr");
        v.extend(p.planes.iter().map(|q| q.sse));
        let t = temporal_stats(xp, x, rp, r, DEFAULT_STATIC_THRESHOLD).expect("temporal");
        v.extend([t.temporal_error, t.flicker, t.reference_flicker].map(f64::to_bits));
        (gaussian, v)
    }

    #[test]
    fn baseline_and_avx2_builds_agree() {
        let _settings = TestSettings::lock();
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
        assert_eq!(fast.1, baseline.1);
        // The Gaussian SSIM's AVX2 build fuses multiplies and adds (`f32`), the baseline does not.
        assert!((fast.0 - baseline.0).abs() < 1e-7, "{fast:?} {baseline:?}");
    }
}
