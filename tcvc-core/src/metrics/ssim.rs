// SPDX-License-Identifier: MIT
//! SSIM with the Gaussian window of Wang et al. 2004 (scikit-image's numbers) or with FFmpeg's
//! overlapping 8×8 block sums (`libavfilter/vf_ssim.c`).
use super::parallel::{for_plane_row_chunks, sum_f64};
use super::plane::{check_frames, MetricsError, Plane, Rows};

/// How the local statistics of SSIM are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SsimWindow {
    /// 11×11 Gaussian window, σ = 1.5, population covariances, mean over the pixels whose window
    /// lies inside the plane: `skimage.metrics.structural_similarity(a, b, gaussian_weights=True,
    /// sigma=1.5, use_sample_covariance=False, data_range=255)`. Planes of at least 11×11.
    /// Computed in `f32` (scikit-image: `f64`); plane values agree to ~1e-8, identical planes
    /// give exactly 1.
    #[default]
    Gaussian,
    /// FFmpeg's `ssim` filter: 8×8 windows on a 4-pixel grid from integer 4×4 block sums.
    /// Planes of at least 8×8.
    Ffmpeg,
}

impl SsimWindow {
    /// Smallest plane `(width, height)` the window works on.
    pub fn min_size(self) -> (usize, usize) {
        match self {
            SsimWindow::Gaussian => (TAPS, TAPS),
            SsimWindow::Ffmpeg => (8, 8),
        }
    }
}

/// SSIM of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SsimResult {
    /// Per plane, in the order given.
    pub planes: Vec<f64>,
    /// Plane values weighted by plane area (`w·h / Σ w·h`), FFmpeg's `All`.
    pub all: f64,
}

impl SsimResult {
    /// [`ssim_db`] of [`SsimResult::all`].
    pub fn all_db(&self) -> f64 {
        ssim_db(self.all)
    }
}

/// FFmpeg's SSIM in decibels, `−10·log10(1 − ssim)`; `+∞` when `ssim` is within 1e-9 of 1.
pub fn ssim_db(ssim: f64) -> f64 {
    let rest = 1.0 - ssim;
    if rest.abs() > 1e-9 {
        -10.0 * rest.log10()
    } else {
        f64::INFINITY
    }
}

/// SSIM of frame `a` against frame `b`, plane by plane (see the [module docs](super)).
///
/// Both frames must have the same number of planes and the same size per plane, every plane at
/// least [`SsimWindow::min_size`].
pub fn ssim(
    a: &[Plane<'_>],
    b: &[Plane<'_>],
    window: SsimWindow,
) -> Result<SsimResult, MetricsError> {
    check_frames(&[a, b], window.min_size())?;
    let planes = planes_ssim(a, b, window);
    // Σ areaᵢ·ssimᵢ / Σ areaᵢ: FFmpeg's weights, and exactly 1 for identical frames.
    let total_area: usize = a.iter().map(Plane::area).sum();
    let weighted: f64 = planes.iter().zip(a).map(|(s, p)| s * p.area() as f64).sum();
    Ok(SsimResult {
        planes,
        all: weighted / total_area as f64,
    })
}

/// SSIM of one plane `a` against `b` of the same size.
pub fn ssim_plane(a: &Plane<'_>, b: &Plane<'_>, window: SsimWindow) -> Result<f64, MetricsError> {
    check_frames(
        &[std::slice::from_ref(a), std::slice::from_ref(b)],
        window.min_size(),
    )?;
    Ok(plane_ssim(a, b, window))
}

fn plane_ssim(a: &Plane<'_>, b: &Plane<'_>, window: SsimWindow) -> f64 {
    planes_ssim(std::slice::from_ref(a), std::slice::from_ref(b), window)[0]
}

/// The SSIM of each plane pair (checked), all planes in one parallel region: each thread takes
/// its share of the output rows of every plane.
fn planes_ssim(a: &[Plane<'_>], b: &[Plane<'_>], window: SsimWindow) -> Vec<f64> {
    // Per plane: output rows (sums of per-window SSIM), their count of windows per row, and the
    // work of one row in units of a PSNR sample.
    let shape = |p: &Plane<'_>| match window {
        // ~5× the work of PSNR per sample (each chunk also filters 10 extra input rows).
        SsimWindow::Gaussian => (p.height - 2 * RADIUS, p.width - 2 * RADIUS, 5 * p.width),
        // A row of windows covers 4 rows of samples, about twice the work of PSNR on them.
        SsimWindow::Ffmpeg => (p.height / 4 - 1, p.width / 4 - 1, 8 * p.width),
    };
    let shapes: Vec<(usize, usize, usize)> = a.iter().map(shape).collect();
    let mut rows: Vec<Vec<f64>> = shapes.iter().map(|s| vec![0.0; s.0]).collect();
    let work: Vec<usize> = shapes.iter().map(|s| s.2).collect();
    let (g, simd, gauss_simd) = (GaussKernels::new(), simd_available(false), gauss_simd());
    for_plane_row_chunks(
        rows.iter_mut().map(|r| &mut r[..]).collect(),
        &work,
        |p, first, out| match window {
            SsimWindow::Gaussian => gaussian_rows(&a[p], &b[p], &g, gauss_simd, first, out),
            SsimWindow::Ffmpeg => ffmpeg_rows(&a[p], &b[p], simd, first, out),
        },
    );
    rows.iter()
        .zip(&shapes)
        .map(|(r, s)| sum_f64(r) / (s.0 * s.1) as f64)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Gaussian window (scikit-image)

/// Filter radius: scipy.ndimage's `int(truncate · σ + 0.5)` with truncate 3.5, σ 1.5.
const RADIUS: usize = 5;
/// Filter taps, also scikit-image's `win_size` and thus the cropped border is `RADIUS`.
const TAPS: usize = 2 * RADIUS + 1;
const SIGMA: f64 = 1.5;
/// Columns per group of the ring's interleaved layout and the padding of the rows of statistics:
/// one AVX-512 vector of `f32` (AVX2 takes half a group at a time).
const LANES: usize = 16;

/// scipy.ndimage's `_gaussian_kernel1d(1.5, 0, 5)`: `exp(−x²/(2σ²))`, normalised to sum 1.
fn gaussian_kernel() -> [f64; TAPS] {
    let mut k = [0.0; TAPS];
    for (i, w) in k.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *w = (-0.5 / (SIGMA * SIGMA) * x * x).exp();
    }
    let sum: f64 = k.iter().sum();
    k.map(|w| w / sum)
}

/// [`gaussian_kernel`] rounded to multiples of 2⁻²⁵ (exact in `f32`, each within 1.5e-8 of the
/// `f64` weight) and summing to exactly 1: the samples are centred on 128 below, and a kernel
/// whose weights did not sum to 1 would turn that offset into a bias of the variances
/// (128²·(1 − Σg), ~1e-3 for plain `f32` rounding, against C2 = 58.5).
fn gaussian_kernel_f32() -> [f32; TAPS] {
    const ONE: i64 = 1 << 25;
    let mut q = gaussian_kernel().map(|w| (w * ONE as f64).round() as i64);
    let excess: i64 = q.iter().sum::<i64>() - ONE;
    q[RADIUS] -= excess;
    q.map(|v| v as f32 / ONE as f32)
}

/// Scale of the horizontal pass's integer weights: the largest power of two that keeps the
/// centre weight (0.266) in `i16`.
const H_ONE: i32 = 1 << 16;

/// The weights of the Gaussian window's two passes.
///
/// The horizontal pass works on 16-bit integers with [`gaussian_kernel`] rounded to multiples
/// of 2⁻¹⁶ (`h`, symmetric, summing to exactly 2¹⁶, each within 1.1e-5 of the `f64` weight):
/// its sums are exact integers (modulo 2³², and below 2³² for every statistic: 2²³ for `x` and
/// `y`, 2³⁰ for `xy`, unsigned for `(x − y)²`), so every build gets them bit for bit, and
/// 16-bit dot products (`vpdpwssd`, `pmaddwd`) do two taps per lane and instruction. The
/// vertical pass is [`gaussian_kernel_f32`] times 2⁻¹⁶ (exact), in `f32`.
#[derive(Clone, Copy)]
struct GaussKernels {
    h: [i16; TAPS],
    v: [f32; TAPS],
}

impl GaussKernels {
    fn new() -> Self {
        // Largest remainders, keeping the kernel symmetric: every weight rounded down; the
        // centre up if the rest must be even; then both weights of the pairs with the largest
        // fractions up until the weights add up to 2¹⁶.
        let scaled = gaussian_kernel().map(|w| w * f64::from(H_ONE));
        let mut q = scaled.map(|v| v.floor() as i32);
        let mut deficit = H_ONE - q.iter().sum::<i32>();
        if deficit % 2 == 1 {
            q[RADIUS] += 1;
            deficit -= 1;
        }
        let frac = |t: usize| scaled[t] - scaled[t].floor();
        let mut pairs: [usize; RADIUS] = std::array::from_fn(|t| t);
        pairs.sort_by(|&i, &j| frac(j).total_cmp(&frac(i)));
        for &t in &pairs[..(deficit / 2) as usize] {
            q[t] += 1;
            q[TAPS - 1 - t] += 1;
        }
        GaussKernels {
            h: q.map(|v| i16::try_from(v).expect("weights below 2^15")),
            v: gaussian_kernel_f32().map(|w| w / H_ONE as f32),
        }
    }

    /// The horizontal weights as six pairs of taps `(2p, 2p + 1)` (the twelfth tap 0), each
    /// pair one 32-bit word: low half tap `2p`, high half tap `2p + 1`.
    fn h_pairs(&self) -> [u32; RADIUS + 1] {
        std::array::from_fn(|p| {
            let hi = if 2 * p + 1 < TAPS {
                self.h[2 * p + 1]
            } else {
                0
            };
            pair_word(i32::from(self.h[2 * p]), i32::from(hi))
        })
    }
}

/// Two 16-bit values in one word: `lo` in the low half (both taken modulo 2¹⁶).
#[inline(always)]
fn pair_word(lo: i32, hi: i32) -> u32 {
    (lo as u32 & 0xffff) | ((hi as u32) << 16)
}

/// The offset of the third statistic: `(x − y)² − 32768` fits `i16`, and its sum under the
/// horizontal weights (which add up to 2¹⁶) is the filtered `(x − y)²` less [`DD_BIAS`].
const DD_OFFSET: i32 = 32768;

/// `DD_OFFSET · H_ONE` = 2³¹: added back (modulo 2³²) to the third statistic's sums, which are
/// then read as unsigned (at most 65025 · 2¹⁶ < 2³²).
const DD_BIAS: u32 = 1 << 31;

/// Per-thread buffers of the Gaussian window.
///
/// Four statistics of the samples centred on 128 (`x = a − 128`, `y = b − 128`): `x`, `y`,
/// `(x − y)²`, `xy` (see [`gauss_ssim`] for the formula). Each input row is filtered
/// horizontally once, in 16-bit integers (see [`GaussKernels`]), into a ring of the last
/// [`SLOTS`] rows; output rows are then filtered vertically in `f32` from the ring (several at a
/// time, sharing their loads) and turned into SSIM values, so that everything stays in the
/// L1/L2 caches.
struct GaussScratch {
    /// Output (valid) columns, `w − 10`.
    out_w: usize,
    /// `out_w` rounded up to [`LANES`].
    ow: usize,
    /// `ow + LANES ≥ w + 10`: the length of one statistic in `chan` (zero past `w`), a multiple
    /// of [`LANES`] so that every statistic starts on a cache line.
    cw: usize,
    /// The four statistics of one input row as 16-bit pairs, one statistic after the other,
    /// `cw` words each: word `k` of statistic `c` holds its values at columns `k` (low half)
    /// and `k + 1` (high half), `x`, `y`, `(x − y)² −` [`DD_OFFSET`] and `xy` (all in `i16`),
    /// zero from column `w` on.
    chan: Aligned<u32>,
    /// `SLOTS` slots (input row `y` in slot `y % SLOTS`) of `4·ow` horizontally filtered
    /// statistics, interleaved by [`LANES`] columns: statistic `c` of column `j` at
    /// [`ring_index`]`(c, j)`, scaled by 2¹⁶ (integers).
    ring: Aligned<f32>,
    /// SSIM of the pixels of [`BLOCK`] output rows (`ow` each, the first `out_w` meaningful).
    map: Aligned<f32>,
}

/// One cache line of 4-byte values (`f32` or `u32`).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line<T>([T; LANES]);

/// A zeroed buffer of `f32` or `u32` that starts on a cache line (64 bytes), so that the vector
/// loads of the Gaussian window at multiples of [`LANES`] never straddle two lines.
struct Aligned<T>(Vec<Line<T>>);

impl<T: Copy + Default> Aligned<T> {
    fn zeros(len: usize) -> Self {
        Aligned(vec![Line([T::default(); LANES]); len.div_ceil(LANES)])
    }
}

impl<T> std::ops::Deref for Aligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `Line` is `repr(C)` around `[T; LANES]` with no padding (align 64 and, for the
        // 4-byte types used, 64 bytes).
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * LANES) }
    }
}

impl<T> std::ops::DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * LANES) }
    }
}

/// Input rows the ring holds: enough for [`BLOCK`] output rows.
const SLOTS: usize = TAPS + BLOCK - 1;

/// Output rows filtered vertically at a time by the AVX-512 build: each ring vector loaded
/// serves up to four output rows (fewer loads from a ring that, for a 1080p row, lives in L2).
const BLOCK: usize = 4;

/// Position of statistic `c` of column `j` in a slot of the ring.
#[inline(always)]
fn ring_index(c: usize, j: usize) -> usize {
    (j / LANES) * 4 * LANES + c * LANES + j % LANES
}

impl GaussScratch {
    fn new(w: usize) -> Self {
        let out_w = w - 2 * RADIUS;
        let ow = out_w.div_ceil(LANES) * LANES;
        let cw = ow + LANES;
        GaussScratch {
            out_w,
            ow,
            cw,
            chan: Aligned::zeros(4 * cw),
            ring: Aligned::zeros(SLOTS * 4 * ow),
            map: Aligned::zeros(BLOCK * ow),
        }
    }

    /// Computes the statistics of input row `y` (`xa`, `xb`) and filters them into its slot.
    fn load_row(&mut self, y: usize, xa: &[u8], xb: &[u8], k: &GaussKernels, simd: GaussSimd) {
        let (cw, ow) = (self.cw, self.ow);
        let slot = y % SLOTS;
        let dst = &mut self.ring[slot * 4 * ow..(slot + 1) * 4 * ow];
        // SAFETY (both): `gauss_simd` only returns a level whose features the CPU has.
        #[cfg(target_arch = "x86_64")]
        match simd {
            GaussSimd::Avx512 => unsafe {
                x86::gauss_statistics512(xa, xb, &mut self.chan, cw);
                x86::gauss_horizontal512(&self.chan, cw, dst, ow, k);
                return;
            },
            GaussSimd::Avx2 => unsafe {
                x86::gauss_statistics(xa, xb, &mut self.chan, cw);
                x86::gauss_horizontal(&self.chan, cw, dst, ow, k);
                return;
            },
            GaussSimd::Portable => {}
        }
        gauss_statistics(xa, xb, &mut self.chan, cw);
        gauss_horizontal(&self.chan, cw, dst, ow, k);
    }

    /// Sums of the SSIM map over output rows `i..i + out.len()` (1 to [`BLOCK`] rows; input rows
    /// `i..i + TAPS − 1 + out.len()` must be loaded). A row gets the same bits however many are
    /// done together.
    fn row_sums(&mut self, i: usize, out: &mut [f64], kern: &GaussKernels, simd: GaussSimd) {
        let (ow, out_w, n) = (self.ow, self.out_w, out.len());
        let g = &kern.v;
        assert!((1..=BLOCK).contains(&n));
        let ring = &self.ring;
        let rows: [&[f32]; SLOTS] = std::array::from_fn(|t| {
            let slot = (i + t) % SLOTS;
            &ring[slot * 4 * ow..(slot + 1) * 4 * ow]
        });
        // No allocation per row: `map` holds exactly BLOCK rows of `ow`.
        let mut rows_of_map = self.map.chunks_exact_mut(ow);
        let mut all: [&mut [f32]; BLOCK] =
            std::array::from_fn(|_| rows_of_map.next().expect("BLOCK rows"));
        let maps = &mut all[..n];
        // SAFETY (all): `gauss_simd` only returns a level whose features the CPU has.
        #[cfg(target_arch = "x86_64")]
        match simd {
            GaussSimd::Avx512 => unsafe {
                match n {
                    4 => x86::gauss_vertical_ssim512::<4>(&rows, ow, g, maps),
                    3 => x86::gauss_vertical_ssim512::<3>(&rows, ow, g, maps),
                    2 => x86::gauss_vertical_ssim512::<2>(&rows, ow, g, maps),
                    _ => x86::gauss_vertical_ssim512::<1>(&rows, ow, g, maps),
                }
            },
            GaussSimd::Avx2 => {
                let mut k = 0;
                while k < n {
                    let r: [&[f32]; TAPS + 1] =
                        std::array::from_fn(|t| rows[(k + t).min(SLOTS - 1)]);
                    if n - k >= 2 {
                        let (m0, m1) = maps[k..k + 2].split_at_mut(1);
                        unsafe { x86::gauss_vertical_ssim2(&r, ow, g, m0[0], m1[0]) };
                        k += 2;
                    } else {
                        unsafe { x86::gauss_vertical_ssim(&r, ow, g, maps[k]) };
                        k += 1;
                    }
                }
            }
            GaussSimd::Portable => {}
        }
        if simd == GaussSimd::Portable {
            for (k, m) in maps.iter_mut().enumerate() {
                let r: [&[f32]; TAPS] = std::array::from_fn(|t| rows[t + k]);
                gauss_vertical_ssim(&r, ow, g, m);
            }
        }
        for (o, m) in out.iter_mut().zip(maps.iter()) {
            *o = sum_f32(&m[..out_w]);
        }
    }
}

/// The four statistics (as `i16`, see [`GaussScratch::chan`]) of the centred samples `x`, `y`.
#[inline(always)]
fn gauss_stat(x: i32, y: i32) -> [i32; 4] {
    [x, y, (x - y) * (x - y) - DD_OFFSET, x * y]
}

/// The four statistics of one input row into `chan` (`cw` words each) as pairs of `i16`.
#[inline(always)]
fn gauss_statistics(xa: &[u8], xb: &[u8], chan: &mut [u32], cw: usize) {
    gauss_statistics_from(xa, xb, chan, cw, 0);
}

/// [`gauss_statistics`] from column `from` on (the SIMD builds' tails).
#[inline(always)]
fn gauss_statistics_from(xa: &[u8], xb: &[u8], chan: &mut [u32], cw: usize, from: usize) {
    let w = xa.len();
    assert!(xb.len() == w && cw >= w && chan.len() >= 4 * cw);
    let stat = |k: usize| {
        if k < w {
            gauss_stat(i32::from(xa[k]) - 128, i32::from(xb[k]) - 128)
        } else {
            [0; 4]
        }
    };
    let mut cur = stat(from);
    for k in from..w {
        let next = stat(k + 1);
        for c in 0..4 {
            chan[c * cw + k] = pair_word(cur[c], next[c]);
        }
        cur = next;
    }
}

/// `(2·0.01·255)²/4` and so on: scikit-image's C1 and C2 for `data_range` 255, in `f32`.
const C1F: f32 = 6.5025;
const C2F: f32 = 58.5225;

/// The two `i16` of a pair word.
#[inline(always)]
fn unpair(word: u32) -> (i32, i32) {
    (
        i32::from(word as u16 as i16),
        i32::from((word >> 16) as u16 as i16),
    )
}

/// Portable horizontal pass: `dst[ring_index(c, j)] = Σₜ h[t]·stat(c, j + t)` (for the third
/// statistic plus [`DD_BIAS`], undoing [`DD_OFFSET`], and unsigned), exact modulo 2³², then
/// rounded once to `f32`: the bits of every build.
fn gauss_horizontal(chan: &[u32], cw: usize, dst: &mut [f32], ow: usize, k: &GaussKernels) {
    let pairs = k.h_pairs().map(unpair);
    for c in 0..4 {
        let v = &chan[c * cw..(c + 1) * cw];
        for j in 0..ow {
            let mut s = 0i32;
            for (p, &(w0, w1)) in pairs.iter().enumerate() {
                let (lo, hi) = unpair(v[j + 2 * p]);
                s = s.wrapping_add(w0 * lo).wrapping_add(w1 * hi);
            }
            dst[ring_index(c, j)] = if c == 2 {
                (s as u32 ^ DD_BIAS) as f32
            } else {
                s as f32
            };
        }
    }
}

/// SSIM of one pixel from the filtered statistics of the centred samples (portable build):
/// `sx`, `sy` the means of `x`, `y`, `sdd` of `(x − y)²`, `sxy` of `xy`.
///
/// `μx² + μy² = 2μxμy + (μx − μy)²` and `σx² + σy² = 2σxy + σ²(x − y)`, so that the
/// denominators are the numerators plus non-negative terms made from the difference of the two
/// planes: those are small (and precise in `f32`) wherever the planes are alike, the rounding of
/// the large statistics cancels to first order between numerator and denominator, and identical
/// planes give exactly 1.
#[inline(always)]
fn gauss_ssim(sx: f32, sy: f32, sdd: f32, sxy: f32) -> f32 {
    let (mx, my) = (sx + 128.0, sy + 128.0);
    let md = sx - sy;
    let a1 = 2.0 * (mx * my) + C1F;
    let b1 = a1 + md * md;
    let a2 = 2.0 * (sxy - sx * sy) + C2F;
    let b2 = a2 + (sdd - md * md);
    (a1 * a2) / (b1 * b2)
}

/// Portable vertical pass and SSIM formula over the `ow` columns of one output row.
fn gauss_vertical_ssim(rows: &[&[f32]; TAPS], ow: usize, g: &[f32; TAPS], map: &mut [f32]) {
    let filter = |c: usize, j: usize| {
        let o = ring_index(c, j);
        let mut s = g[RADIUS] * rows[RADIUS][o];
        for t in 0..RADIUS {
            s += g[t] * (rows[t][o] + rows[TAPS - 1 - t][o]);
        }
        s
    };
    for (j, m) in map[..ow].iter_mut().enumerate() {
        *m = gauss_ssim(filter(0, j), filter(1, j), filter(2, j), filter(3, j));
    }
}

/// Sum of `values` in `f64`, eight interleaved accumulators (fixed order, vectorisable): built
/// for AVX-512 or AVX2 where the CPU has them (the same additions in the same order, so the
/// same bits; the x86-64 baseline converts two values per instruction).
fn sum_f32(values: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        /// [`sum_f32_generic`] with its 32 accumulators in four `f64` vectors (the compiler
        /// alone does not find that layout).
        #[target_feature(enable = "avx512f")]
        fn avx512(values: &[f32]) -> f64 {
            use std::arch::x86_64::*;
            let mut acc = [_mm512_setzero_pd(); 4];
            let mut chunks = values.chunks_exact(32);
            for c in &mut chunks {
                for (k, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `c` holds 32 values, `8k..8k + 8` is inside it.
                    let v = unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * k)) };
                    *a = _mm512_add_pd(*a, _mm512_cvtps_pd(v));
                }
            }
            let mut sums = [0.0f64; 32];
            for (k, a) in acc.iter().enumerate() {
                // SAFETY: `sums` holds 32 values.
                unsafe { _mm512_storeu_pd(sums.as_mut_ptr().add(8 * k), *a) };
            }
            combine(&sums, chunks.remainder())
        }
        #[target_feature(enable = "avx2")]
        fn avx2(values: &[f32]) -> f64 {
            sum_f32_generic(values)
        }
        if !super::force_baseline() {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                return unsafe { avx512(values) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                return unsafe { avx2(values) };
            }
        }
    }
    sum_f32_generic(values)
}

#[inline(always)]
fn sum_f32_generic(values: &[f32]) -> f64 {
    // 32 accumulators: four independent vectors of eight, so that the additions do not wait
    // on each other's latency.
    let mut acc = [0.0f64; 32];
    let mut chunks = values.chunks_exact(32);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f64::from(v);
        }
    }
    combine(&acc, chunks.remainder())
}

/// The fixed-order end of [`sum_f32`]: its 32 accumulators, then the values left over.
#[inline(always)]
fn combine(acc: &[f64; 32], rest: &[f32]) -> f64 {
    let tail: f64 = rest.iter().map(|&v| f64::from(v)).sum();
    let q: [f64; 8] = std::array::from_fn(|k| (acc[k] + acc[k + 16]) + (acc[k + 8] + acc[k + 24]));
    ((q[0] + q[4]) + (q[1] + q[5])) + ((q[2] + q[6]) + (q[3] + q[7])) + tail
}

/// The explicit SIMD code of the Gaussian window. Every build computes the same exact integer
/// sums in the horizontal pass; AVX-512 and AVX2 + FMA then do the same `f32` operations in the
/// same order per column, so they return the same bits; the AVX-512 build takes 16 columns per
/// instruction instead of 8 and two taps per `vpdpwssd` (a measured gain where the CPU has two
/// 512-bit FMA units, docs/ssim.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GaussSimd {
    /// Portable Rust (no fused multiply-adds).
    Portable,
    /// AVX2 + FMA, 8 columns per vector.
    Avx2,
    /// AVX-512 (F, BW, VL, VNNI, VBMI), 16 columns per vector.
    Avx512,
}

/// Tests set it to run the AVX2 build on a CPU with AVX-512 (their bits must agree).
#[cfg(test)]
pub(super) static FORCE_AVX2: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The best [`GaussSimd`] level this CPU runs.
fn gauss_simd() -> GaussSimd {
    if !simd_available(true) {
        return GaussSimd::Portable;
    }
    #[cfg(test)]
    if FORCE_AVX2.load(std::sync::atomic::Ordering::Relaxed) {
        return GaussSimd::Avx2;
    }
    if avx512_gauss() {
        return GaussSimd::Avx512;
    }
    GaussSimd::Avx2
}

/// Whether the CPU has the AVX-512 subsets of [`GaussSimd::Avx512`] (Ice Lake and later Intel
/// cores, AMD Zen 4 and later; not Skylake-X, which runs the AVX2 build).
fn avx512_gauss() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("avx512f")
            && has!("avx512bw")
            && has!("avx512vl")
            && has!("avx512vnni")
            && has!("avx512vbmi")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the CPU runs the explicit AVX2 code (and, with `fma`, the Gaussian window's).
fn simd_available(fma: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !super::force_baseline()
            && std::arch::is_x86_feature_detected!("avx2")
            && (!fma || std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = fma;
        false
    }
}

/// Gaussian window: the sums of the per-window SSIM of output rows `first..first + out.len()`.
fn gaussian_rows(
    a: &Plane<'_>,
    b: &Plane<'_>,
    kern: &GaussKernels,
    simd: GaussSimd,
    first: usize,
    out: &mut [f64],
) {
    let (mut ra, mut rb) = (Rows::new(*a, 1), Rows::new(*b, 1));
    let mut s = GaussScratch::new(a.width);
    let load = |s: &mut GaussScratch, ra: &mut Rows<'_>, rb: &mut Rows<'_>, y: usize| {
        ra.load(y..y + 1);
        rb.load(y..y + 1);
        s.load_row(y, ra.row(y), rb.row(y), kern, simd);
    };
    for y in first..first + TAPS - 1 {
        load(&mut s, &mut ra, &mut rb, y);
    }
    for (k, sums) in out.chunks_mut(BLOCK).enumerate() {
        let i = first + BLOCK * k;
        for y in i + TAPS - 1..i + TAPS - 1 + sums.len() {
            load(&mut s, &mut ra, &mut rb, y);
        }
        s.row_sums(i, sums, kern, simd);
    }
}

// ---------------------------------------------------------------------------------------------
// FFmpeg window

/// `(int)(.01*.01*255*255*64 + .5)`.
const FF_C1: i32 = (0.01 * 0.01 * 255.0 * 255.0 * 64.0 + 0.5) as i32;
/// `(int)(.03*.03*255*255*64*63 + .5)`.
const FF_C2: i32 = (0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0 + 0.5) as i32;

/// Sums over the 4×4 blocks of one block row: Σa, Σb, Σ(a² + b²), Σab.
struct BlockSums {
    s1: Vec<i32>,
    s2: Vec<i32>,
    ss: Vec<i32>,
    s12: Vec<i32>,
}

impl BlockSums {
    fn new(blocks: usize) -> Self {
        BlockSums {
            s1: vec![0; blocks],
            s2: vec![0; blocks],
            ss: vec![0; blocks],
            s12: vec![0; blocks],
        }
    }
}

/// FFmpeg's `ssim_4x4xn_8bit` for blocks `from..` of the 4 rows `xa`, `xb` (portable build).
fn block_row(xa: &[&[u8]; 4], xb: &[&[u8]; 4], from: usize, out: &mut BlockSums) {
    // Products of two samples fit 16 bits; their sums do not.
    let mul = |x: u8, y: u8| i32::from(u16::from(x) * u16::from(y));
    for k in from..out.s1.len() {
        let (mut s1, mut s2, mut ss, mut s12) = (0, 0, 0, 0);
        for r in 0..4 {
            for &(p, q) in &std::array::from_fn::<_, 4, _>(|c| (xa[r][4 * k + c], xb[r][4 * k + c]))
            {
                s1 += i32::from(p);
                s2 += i32::from(q);
                ss += mul(p, p) + mul(q, q);
                s12 += mul(p, q);
            }
        }
        out.s1[k] = s1;
        out.s2[k] = s2;
        out.ss[k] = ss;
        out.s12[k] = s12;
    }
}

/// FFmpeg's `ssim_end1` (8-bit): SSIM of one 8×8 window from its sums, in `f32` like FFmpeg.
fn ssim_end1(s1: i32, s2: i32, ss: i32, s12: i32) -> f32 {
    let vars = ss * 64 - s1 * s1 - s2 * s2;
    let covar = s12 * 64 - s1 * s2;
    (2 * s1 * s2 + FF_C1) as f32 * (2 * covar + FF_C2) as f32
        / ((s1 * s1 + s2 * s2 + FF_C1) as f32 * (vars + FF_C2) as f32)
}

/// FFmpeg's `ssim_endn_8bit` for windows `from..`: the SSIM of the windows made of block rows
/// `p` and `c` (portable build; every build gives the same bits).
fn end_line(p: &BlockSums, c: &BlockSums, from: usize, vals: &mut [f32]) {
    let add = |u: &[i32], v: &[i32], i: usize| u[i] + u[i + 1] + v[i] + v[i + 1];
    for (i, v) in vals.iter_mut().enumerate().skip(from) {
        *v = ssim_end1(
            add(&p.s1, &c.s1, i),
            add(&p.s2, &c.s2, i),
            add(&p.ss, &c.ss, i),
            add(&p.s12, &c.s12, i),
        );
    }
}

/// FFmpeg window: the sums of the per-window SSIM of window rows `first..first + out.len()`.
fn ffmpeg_rows(a: &Plane<'_>, b: &Plane<'_>, simd: bool, first: usize, out: &mut [f64]) {
    let bw = a.width / 4;
    {
        let (mut ra, mut rb) = (Rows::new(*a, 4), Rows::new(*b, 4));
        let (mut prev, mut cur) = (BlockSums::new(bw), BlockSums::new(bw));
        let mut vals = vec![0.0f32; bw - 1];
        let mut sums_of = |z: usize, out: &mut BlockSums| {
            ra.load(4 * z..4 * z + 4);
            rb.load(4 * z..4 * z + 4);
            let xa: [&[u8]; 4] = std::array::from_fn(|k| ra.row(4 * z + k));
            let xb: [&[u8]; 4] = std::array::from_fn(|k| rb.row(4 * z + k));
            #[allow(unused_mut)]
            let mut from = 0;
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: `simd` is only set when the CPU has AVX2.
                from = unsafe { x86::block_row(&xa, &xb, out) };
            }
            block_row(&xa, &xb, from, out);
        };
        // Output row `first + k` combines block rows `first + k` and `first + k + 1`.
        sums_of(first, &mut prev);
        for (z, sum) in (first + 1..).zip(out.iter_mut()) {
            sums_of(z, &mut cur);
            #[allow(unused_mut)]
            let mut from = 0;
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: `simd` is only set when the CPU has AVX2.
                from = unsafe { x86::end_line(&prev, &cur, &mut vals) };
            }
            end_line(&prev, &cur, from, &mut vals);
            *sum = sum_f32(&vals);
            std::mem::swap(&mut prev, &mut cur);
        }
    }
}

/// Explicit AVX2 (+ FMA for the Gaussian window) versions of the hot loops.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)]
mod x86 {
    use super::{BlockSums, GaussKernels, C1F, C2F, DD_BIAS, FF_C1, FF_C2, RADIUS, TAPS};
    use std::arch::x86_64::*;

    /// AVX2 [`super::gauss_horizontal`]: the same exact integer sums, two taps per lane and
    /// `pmaddwd`, 8 columns per vector.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gauss_horizontal(
        chan: &[u32],
        cw: usize,
        dst: &mut [f32],
        ow: usize,
        k: &GaussKernels,
    ) {
        assert!(chan.len() >= 4 * cw && dst.len() >= 4 * ow && cw >= ow + 16);
        assert_eq!(ow % 8, 0);
        let wp: [__m256i; RADIUS + 1] = k.h_pairs().map(|p| _mm256_set1_epi32(p as i32));
        let bias = _mm256_set1_epi32(DD_BIAS as i32);
        let (lo16, two16) = (_mm256_set1_epi32(0xffff), _mm256_set1_ps(65536.0));
        let v = chan.as_ptr();
        let d = dst.as_mut_ptr();
        for j in (0..ow).step_by(8) {
            for c in 0..4 {
                let p = v.add(c * cw + j);
                let ld = |t: usize| _mm256_loadu_si256(p.add(t).cast());
                let mut s = _mm256_madd_epi16(ld(0), wp[0]);
                for q in 1..=RADIUS {
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(ld(2 * q), wp[q]));
                }
                let f = if c == 2 {
                    // Unsigned to `f32` (AVX2 has no instruction for it): both 16-bit halves
                    // exactly, joined with one rounding.
                    let u = _mm256_xor_si256(s, bias);
                    let hi = _mm256_cvtepi32_ps(_mm256_srli_epi32::<16>(u));
                    _mm256_fmadd_ps(hi, two16, _mm256_cvtepi32_ps(_mm256_and_si256(u, lo16)))
                } else {
                    _mm256_cvtepi32_ps(s)
                };
                _mm256_storeu_ps(d.add(super::ring_index(c, j)), f);
            }
        }
    }

    /// AVX2 [`super::gauss_statistics`]: 8 columns at a time, each lane a pair of columns.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn gauss_statistics(xa: &[u8], xb: &[u8], chan: &mut [u32], cw: usize) {
        let w = xa.len();
        assert!(xb.len() == w && cw >= w && chan.len() >= 4 * cw);
        let c = chan.as_mut_ptr();
        let (off, flip) = (_mm256_set1_epi16(128), _mm256_set1_epi16(i16::MIN));
        // Lane i: the samples at columns i and i + 1 less 128, as two `i16`.
        let pairs = |p: *const u8| {
            let v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()));
            let v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(1).cast()));
            _mm256_sub_epi16(_mm256_or_si256(v0, _mm256_slli_epi32::<16>(v1)), off)
        };
        let mut k = 0;
        while k + 9 <= w {
            let (x, y) = (pairs(xa.as_ptr().add(k)), pairs(xb.as_ptr().add(k)));
            let dxy = _mm256_sub_epi16(x, y);
            // (x − y)² modulo 2¹⁶, less 32768 (the top bit flipped): exact in `i16`.
            let dd = _mm256_xor_si256(_mm256_mullo_epi16(dxy, dxy), flip);
            _mm256_storeu_si256(c.add(k).cast(), x);
            _mm256_storeu_si256(c.add(cw + k).cast(), y);
            _mm256_storeu_si256(c.add(2 * cw + k).cast(), dd);
            _mm256_storeu_si256(c.add(3 * cw + k).cast(), _mm256_mullo_epi16(x, y));
            k += 8;
        }
        super::gauss_statistics_from(xa, xb, chan, cw, k);
    }

    /// The SSIM formula of [`super::gauss_ssim`] on 8 pixels, with fused multiply-adds.
    #[inline(always)]
    unsafe fn ssim8(sx: __m256, sy: __m256, sdd: __m256, sxy: __m256) -> __m256 {
        let (c128, two) = (_mm256_set1_ps(128.0), _mm256_set1_ps(2.0));
        let (c1, c2) = (_mm256_set1_ps(C1F), _mm256_set1_ps(C2F));
        let (mx, my) = (_mm256_add_ps(sx, c128), _mm256_add_ps(sy, c128));
        let md = _mm256_sub_ps(sx, sy);
        let a1 = _mm256_fmadd_ps(two, _mm256_mul_ps(mx, my), c1);
        let b1 = _mm256_fmadd_ps(md, md, a1);
        let a2 = _mm256_fmadd_ps(two, _mm256_fnmadd_ps(sx, sy, sxy), c2);
        let b2 = _mm256_add_ps(a2, _mm256_fnmadd_ps(md, md, sdd));
        _mm256_div_ps(_mm256_mul_ps(a1, a2), _mm256_mul_ps(b1, b2))
    }

    /// AVX2 + FMA [`super::gauss_vertical_ssim`] (rows `0..TAPS` of `rows`).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gauss_vertical_ssim(
        rows: &[&[f32]; TAPS + 1],
        ow: usize,
        g: &[f32; TAPS],
        map: &mut [f32],
    ) {
        assert!(rows.iter().all(|r| r.len() >= 4 * ow) && map.len() >= ow);
        assert_eq!(ow % 8, 0);
        let gv: [__m256; RADIUS + 1] = std::array::from_fn(|t| _mm256_set1_ps(g[t]));
        let r: [*const f32; TAPS] = std::array::from_fn(|t| rows[t].as_ptr());
        for j in (0..ow).step_by(8) {
            let f = |c: usize| {
                let o = super::ring_index(c, j);
                let ld = |t: usize| _mm256_loadu_ps(r[t].add(o));
                let mut s = _mm256_mul_ps(gv[RADIUS], ld(RADIUS));
                for t in 0..RADIUS {
                    s = _mm256_fmadd_ps(gv[t], _mm256_add_ps(ld(t), ld(TAPS - 1 - t)), s);
                }
                s
            };
            let v = ssim8(f(0), f(1), f(2), f(3));
            _mm256_storeu_ps(map.as_mut_ptr().add(j), v);
        }
    }

    /// [`gauss_vertical_ssim`] on two consecutive output rows (input rows `0..TAPS` and
    /// `1..=TAPS` of `rows`), loading each input vector once: the same bits as two calls.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gauss_vertical_ssim2(
        rows: &[&[f32]; TAPS + 1],
        ow: usize,
        g: &[f32; TAPS],
        map0: &mut [f32],
        map1: &mut [f32],
    ) {
        assert!(rows.iter().all(|r| r.len() >= 4 * ow) && map0.len() >= ow && map1.len() >= ow);
        assert_eq!(ow % 8, 0);
        let gv: [__m256; RADIUS + 1] = std::array::from_fn(|t| _mm256_set1_ps(g[t]));
        let r: [*const f32; TAPS + 1] = rows.map(|r| r.as_ptr());
        for j in (0..ow).step_by(8) {
            let f = |c: usize| {
                let o = super::ring_index(c, j);
                let v: [__m256; TAPS + 1] = std::array::from_fn(|t| _mm256_loadu_ps(r[t].add(o)));
                let mut s0 = _mm256_mul_ps(gv[RADIUS], v[RADIUS]);
                let mut s1 = _mm256_mul_ps(gv[RADIUS], v[RADIUS + 1]);
                for t in 0..RADIUS {
                    s0 = _mm256_fmadd_ps(gv[t], _mm256_add_ps(v[t], v[TAPS - 1 - t]), s0);
                    s1 = _mm256_fmadd_ps(gv[t], _mm256_add_ps(v[t + 1], v[TAPS - t]), s1);
                }
                (s0, s1)
            };
            let ((x0, x1), (y0, y1)) = (f(0), f(1));
            let ((d0, d1), (p0, p1)) = (f(2), f(3));
            _mm256_storeu_ps(map0.as_mut_ptr().add(j), ssim8(x0, y0, d0, p0));
            _mm256_storeu_ps(map1.as_mut_ptr().add(j), ssim8(x1, y1, d1, p1));
        }
    }

    /// AVX-512 VNNI [`super::gauss_horizontal`]: 16 columns per vector, two taps per lane and
    /// `vpdpwssd`. The six shifted inputs come from two aligned loads (`chan` starts on a cache
    /// line and `cw` is a multiple of 16) and in-register shifts for half of them, unaligned
    /// loads for the others (the two kinds go to different ports).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn gauss_horizontal512(
        chan: &[u32],
        cw: usize,
        dst: &mut [f32],
        ow: usize,
        k: &GaussKernels,
    ) {
        assert!(chan.len() >= 4 * cw && dst.len() >= 4 * ow && cw >= ow + 16);
        assert_eq!((ow % 16, cw % 16, chan.as_ptr() as usize % 64), (0, 0, 0));
        let wp: [__m512i; RADIUS + 1] = k.h_pairs().map(|p| _mm512_set1_epi32(p as i32));
        let bias = _mm512_set1_epi32(DD_BIAS as i32);
        let v = chan.as_ptr();
        let d = dst.as_mut_ptr();
        for j in (0..ow).step_by(16) {
            for c in 0..4 {
                let p = v.add(c * cw + j);
                let (lo, hi) = (
                    _mm512_load_si512(p.cast()),
                    _mm512_load_si512(p.add(16).cast()),
                );
                let mut s = _mm512_madd_epi16(lo, wp[0]);
                s = dpwssd(s, _mm512_alignr_epi32::<2>(hi, lo), wp[1]);
                s = dpwssd(s, _mm512_alignr_epi32::<4>(hi, lo), wp[2]);
                s = dpwssd(s, _mm512_loadu_si512(p.add(6).cast()), wp[3]);
                s = dpwssd(s, _mm512_loadu_si512(p.add(8).cast()), wp[4]);
                s = dpwssd(s, _mm512_alignr_epi32::<10>(hi, lo), wp[5]);
                let f = if c == 2 {
                    _mm512_cvtepu32_ps(_mm512_xor_si512(s, bias))
                } else {
                    _mm512_cvtepi32_ps(s)
                };
                _mm512_store_ps(d.add(super::ring_index(c, j)), f);
            }
        }
    }

    /// `vpdpwssd` (`acc + a₀b₀ + a₁b₁` per 32-bit lane) as one instruction: LLVM splits
    /// `_mm512_dpwssd_epi32` into `vpmaddwd` + `vpaddd` (two operations on the same ports)
    /// unless it tunes for a CPU it knows to be fast at it, which a portable build does not.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn dpwssd(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
        let mut acc = acc;
        // SAFETY: callers are `avx512vnni` functions; registers only, no memory, no flags.
        std::arch::asm!(
            "vpdpwssd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
        acc
    }

    /// `vpermb` indices: byte `4i` ← `i`, byte `4i + 2` ← `i + 1` (the odd bytes zeroed by the
    /// mask [`PAIR_MASK`]): lane `i` pairs the samples of columns `i` and `i + 1` as two `u16`.
    static PAIR_INDEX: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut i = 0;
        while i < 16 {
            t[4 * i] = i as u8;
            t[4 * i + 2] = i as u8 + 1;
            i += 1;
        }
        t
    };
    const PAIR_MASK: __mmask64 = 0x5555_5555_5555_5555;

    /// AVX-512 [`super::gauss_statistics`]: 16 columns at a time, each lane a pair of columns
    /// (masked loads at the end of the row: the words past column `w` are not zero there, but
    /// no output column the plane's SSIM sums reads them).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
    pub(super) unsafe fn gauss_statistics512(xa: &[u8], xb: &[u8], chan: &mut [u32], cw: usize) {
        let w = xa.len();
        assert!(xb.len() == w && cw >= w.div_ceil(16) * 16 && chan.len() >= 4 * cw);
        assert_eq!((cw % 16, chan.as_ptr() as usize % 64), (0, 0));
        let c = chan.as_mut_ptr();
        let idx = _mm512_loadu_si512(PAIR_INDEX.as_ptr().cast());
        let (off, flip) = (_mm512_set1_epi16(128), _mm512_set1_epi16(i16::MIN));
        let idx2 = _mm512_add_epi8(idx, _mm512_set1_epi8(16));
        let store = |k: usize, x: __m512i, y: __m512i| {
            let dxy = _mm512_sub_epi16(x, y);
            // (x − y)² modulo 2¹⁶, less 32768 (the top bit flipped): exact in `i16`.
            let dd = _mm512_xor_si512(_mm512_mullo_epi16(dxy, dxy), flip);
            _mm512_store_si512(c.add(k).cast(), x);
            _mm512_store_si512(c.add(cw + k).cast(), y);
            _mm512_store_si512(c.add(2 * cw + k).cast(), dd);
            _mm512_store_si512(c.add(3 * cw + k).cast(), _mm512_mullo_epi16(x, y));
        };
        let pairs = |v: __m512i, idx: __m512i| {
            _mm512_sub_epi16(_mm512_maskz_permutexvar_epi8(PAIR_MASK, idx, v), off)
        };
        let mut k = 0;
        // 32 columns from one 64-byte load of each row (33 bytes used).
        while k + 64 <= w {
            let va = _mm512_loadu_si512(xa.as_ptr().add(k).cast());
            let vb = _mm512_loadu_si512(xb.as_ptr().add(k).cast());
            store(k, pairs(va, idx), pairs(vb, idx));
            store(k + 16, pairs(va, idx2), pairs(vb, idx2));
            k += 32;
        }
        while k < w {
            // The bytes left in the row, at most 32 (17 are used): masked loads.
            let m: __mmask32 = if w - k >= 32 {
                !0
            } else {
                (1u32 << (w - k)) - 1
            };
            let load = |p: *const u8| _mm512_castsi256_si512(_mm256_maskz_loadu_epi8(m, p.cast()));
            let (va, vb) = (load(xa.as_ptr().add(k)), load(xb.as_ptr().add(k)));
            store(k, pairs(va, idx), pairs(vb, idx));
            k += 16;
        }
    }

    /// [`ssim8`] on 16 pixels.
    #[inline(always)]
    unsafe fn ssim16(sx: __m512, sy: __m512, sdd: __m512, sxy: __m512) -> __m512 {
        let (c128, two) = (_mm512_set1_ps(128.0), _mm512_set1_ps(2.0));
        let (c1, c2) = (_mm512_set1_ps(C1F), _mm512_set1_ps(C2F));
        let (mx, my) = (_mm512_add_ps(sx, c128), _mm512_add_ps(sy, c128));
        let md = _mm512_sub_ps(sx, sy);
        let a1 = _mm512_fmadd_ps(two, _mm512_mul_ps(mx, my), c1);
        let b1 = _mm512_fmadd_ps(md, md, a1);
        let a2 = _mm512_fmadd_ps(two, _mm512_fnmadd_ps(sx, sy, sxy), c2);
        let b2 = _mm512_add_ps(a2, _mm512_fnmadd_ps(md, md, sdd));
        _mm512_div_ps(_mm512_mul_ps(a1, a2), _mm512_mul_ps(b1, b2))
    }

    /// AVX-512 [`gauss_vertical_ssim`] on `N` consecutive output rows (input rows
    /// `k..k + TAPS` of `rows` for output row `k`), loading each input vector once: the same
    /// bits as `N` separate rows.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gauss_vertical_ssim512<const N: usize>(
        rows: &[&[f32]; super::SLOTS],
        ow: usize,
        g: &[f32; TAPS],
        maps: &mut [&mut [f32]],
    ) {
        assert!(N >= 1 && TAPS + N - 1 <= super::SLOTS && maps.len() == N);
        assert!(rows
            .iter()
            .all(|r| r.len() >= 4 * ow && (r.as_ptr() as usize).is_multiple_of(64)));
        assert!(maps
            .iter()
            .all(|m| m.len() >= ow && (m.as_ptr() as usize).is_multiple_of(64)));
        assert_eq!(ow % 16, 0);
        let gv: [__m512; RADIUS + 1] = std::array::from_fn(|t| _mm512_set1_ps(g[t]));
        let r: [*const f32; super::SLOTS] = rows.map(|r| r.as_ptr());
        let m: [*mut f32; N] = std::array::from_fn(|k| maps[k].as_mut_ptr());
        for j in (0..ow).step_by(16) {
            let f = |c: usize| {
                let o = super::ring_index(c, j);
                let ld = |t: usize| _mm512_load_ps(r[t].add(o));
                let v: [__m512; super::SLOTS] = std::array::from_fn(|t| {
                    if t < TAPS + N - 1 {
                        ld(t)
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                let s: [__m512; N] = std::array::from_fn(|k| {
                    let mut s = _mm512_mul_ps(gv[RADIUS], v[k + RADIUS]);
                    for t in 0..RADIUS {
                        s = _mm512_fmadd_ps(gv[t], _mm512_add_ps(v[k + t], v[k + TAPS - 1 - t]), s);
                    }
                    s
                });
                s
            };
            let (x, y, d, p) = (f(0), f(1), f(2), f(3));
            for k in 0..N {
                _mm512_store_ps(m[k].add(j), ssim16(x[k], y[k], d[k], p[k]));
            }
        }
    }

    /// AVX2 [`super::block_row`] for the first blocks, 4 at a time; returns how many it did.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn block_row(xa: &[&[u8]; 4], xb: &[&[u8]; 4], out: &mut BlockSums) -> usize {
        let bw = out.s1.len();
        let groups = bw / 4;
        assert!(xa.iter().chain(xb).all(|r| r.len() >= 16 * groups));
        assert!(out.s2.len() == bw && out.ss.len() == bw && out.s12.len() == bw);
        let ones = _mm256_set1_epi16(1);
        for k in 0..groups {
            let j = 16 * k;
            let (mut sa, mut sb) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let (mut ss, mut sab) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for r in 0..4 {
                let a = _mm256_cvtepu8_epi16(_mm_loadu_si128(xa[r].as_ptr().add(j).cast()));
                let b = _mm256_cvtepu8_epi16(_mm_loadu_si128(xb[r].as_ptr().add(j).cast()));
                sa = _mm256_add_epi16(sa, a);
                sb = _mm256_add_epi16(sb, b);
                let sq = _mm256_add_epi32(_mm256_madd_epi16(a, a), _mm256_madd_epi16(b, b));
                ss = _mm256_add_epi32(ss, sq);
                sab = _mm256_add_epi32(sab, _mm256_madd_epi16(a, b));
            }
            // Pair sums (columns 2m, 2m + 1) → block sums, lanes [b0 b1 | b2 b3] per statistic.
            let s1 = _mm256_madd_epi16(sa, ones);
            let s2 = _mm256_madd_epi16(sb, ones);
            let h1 = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(s1, s2));
            let h2 = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(ss, sab));
            let at = |v: &mut Vec<i32>| v.as_mut_ptr().add(4 * k).cast::<__m128i>();
            _mm_storeu_si128(at(&mut out.s1), _mm256_castsi256_si128(h1));
            _mm_storeu_si128(at(&mut out.s2), _mm256_extracti128_si256::<1>(h1));
            _mm_storeu_si128(at(&mut out.ss), _mm256_castsi256_si128(h2));
            _mm_storeu_si128(at(&mut out.s12), _mm256_extracti128_si256::<1>(h2));
        }
        4 * groups
    }

    /// AVX2 [`super::end_line`] for the first windows, 8 at a time (same bits: integer sums, then
    /// the same `f32` products and division); returns how many it did.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn end_line(p: &BlockSums, c: &BlockSums, vals: &mut [f32]) -> usize {
        let n = vals.len();
        let bw = n + 1;
        for v in [&p.s1, &p.s2, &p.ss, &p.s12, &c.s1, &c.s2, &c.ss, &c.s12] {
            assert!(v.len() >= bw);
        }
        let sum = |u: &[i32], v: &[i32], i: usize| {
            let ld = |s: &[i32], o: usize| _mm256_loadu_si256(s.as_ptr().add(o).cast());
            _mm256_add_epi32(
                _mm256_add_epi32(ld(u, i), ld(u, i + 1)),
                _mm256_add_epi32(ld(v, i), ld(v, i + 1)),
            )
        };
        let (k1, k2) = (_mm256_set1_epi32(FF_C1), _mm256_set1_epi32(FF_C2));
        let mut i = 0;
        while i + 8 <= n {
            let s1 = sum(&p.s1, &c.s1, i);
            let s2 = sum(&p.s2, &c.s2, i);
            let ss = sum(&p.ss, &c.ss, i);
            let s12 = sum(&p.s12, &c.s12, i);
            let s1s2 = _mm256_mullo_epi32(s1, s2);
            let sq = _mm256_add_epi32(_mm256_mullo_epi32(s1, s1), _mm256_mullo_epi32(s2, s2));
            let vars = _mm256_sub_epi32(_mm256_slli_epi32::<6>(ss), sq);
            let covar = _mm256_sub_epi32(_mm256_slli_epi32::<6>(s12), s1s2);
            let f = |v| _mm256_cvtepi32_ps(v);
            let n1 = f(_mm256_add_epi32(_mm256_slli_epi32::<1>(s1s2), k1));
            let n2 = f(_mm256_add_epi32(_mm256_slli_epi32::<1>(covar), k2));
            let d1 = f(_mm256_add_epi32(sq, k1));
            let d2 = f(_mm256_add_epi32(vars, k2));
            let v = _mm256_div_ps(_mm256_mul_ps(n1, n2), _mm256_mul_ps(d1, d2));
            _mm256_storeu_ps(vals.as_mut_ptr().add(i), v);
            i += 8;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn constants() {
        assert_eq!(FF_C1, 416);
        assert_eq!(FF_C2, 235_963);
        let g = gaussian_kernel();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((g[5] - 0.266_011_724_862_318_3).abs() < 1e-12);
    }

    #[test]
    fn identical_is_one() {
        // An I420-like frame: plane weights 2/3, 1/6, 1/6 must still give exactly 1.
        let (y, u, v) = (noise(48 * 30, 1), noise(24 * 15, 2), noise(24 * 15, 3));
        let frame = [
            Plane::contiguous(&y, 48, 30).expect("valid"),
            Plane::contiguous(&u, 24, 15).expect("valid"),
            Plane::contiguous(&v, 24, 15).expect("valid"),
        ];
        for window in [SsimWindow::Gaussian, SsimWindow::Ffmpeg] {
            let r = ssim(&frame, &frame, window).expect("ssim");
            assert_eq!(r.planes, [1.0, 1.0, 1.0]);
            assert_eq!(r.all, 1.0);
            assert_eq!(r.all_db(), f64::INFINITY);
        }
    }

    #[test]
    fn flat_planes() {
        // Constant planes 100 and 110: SSIM = (2·100·110 + C1) / (100² + 110² + C1) everywhere.
        let (a, b) = (vec![100u8; 16 * 16], vec![110u8; 16 * 16]);
        let pa = Plane::contiguous(&a, 16, 16).expect("valid");
        let pb = Plane::contiguous(&b, 16, 16).expect("valid");
        let c1 = 6.5025;
        let want = (2.0 * 100.0 * 110.0 + c1) / (100.0f64 * 100.0 + 110.0 * 110.0 + c1);
        let got = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
        assert!((got - want).abs() < 1e-7, "{got} {want}");
        // FFmpeg: sums over 64 samples, s1 = 6400, s2 = 7040.
        let want = ((2 * 6400 * 7040 + 416) as f32 * 235_963f32
            / ((6400 * 6400 + 7040 * 7040 + 416) as f32 * 235_963f32)) as f64;
        let got = ssim_plane(&pa, &pb, SsimWindow::Ffmpeg).expect("ssim");
        assert_eq!(got, want);
    }

    #[test]
    fn layouts_give_identical_results() {
        let (w, h) = (45, 29);
        let a = noise(w * h, 2);
        let b: Vec<u8> = a
            .iter()
            .zip(noise(w * h, 3))
            .map(|(&x, n)| x.wrapping_add(n >> 5))
            .collect();
        let pa = Plane::contiguous(&a, w, h).expect("valid");
        let pb = Plane::contiguous(&b, w, h).expect("valid");
        let stride = w + 11;
        let mut sb = vec![0u8; stride * h];
        let pstride = 3 * w + 2;
        let mut rgb = vec![0u8; pstride * h];
        for y in 0..h {
            sb[y * stride..y * stride + w].copy_from_slice(&b[y * w..(y + 1) * w]);
            for x in 0..w {
                rgb[y * pstride + 3 * x + 2] = b[y * w + x];
            }
        }
        let qb = Plane::new(&sb, w, h, stride).expect("valid");
        let [_, _, rb] = Plane::packed(&rgb, w, h, pstride, 3, [0, 1, 2]).expect("valid");
        for window in [SsimWindow::Gaussian, SsimWindow::Ffmpeg] {
            let want = ssim_plane(&pa, &pb, window).expect("ssim");
            assert!(want < 0.999 && want > 0.5, "{want}");
            assert_eq!(ssim_plane(&pa, &qb, window).expect("ssim"), want);
            assert_eq!(ssim_plane(&pa, &rb, window).expect("ssim"), want);
            // Symmetric in its arguments.
            assert_eq!(ssim_plane(&pb, &pa, window).expect("ssim"), want);
        }
    }

    /// Straightforward (slow) transcription of scikit-image's computation on the valid region.
    fn gaussian_reference(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
        let g = gaussian_kernel();
        gaussian_reference_with(a, b, w, h, &g, &g)
    }

    /// [`gaussian_reference`] with the weights [`GaussKernels`] rounds to: what the `f32`
    /// computation approximates (in `f64`, to ~1e-8).
    fn rounded_kernel_reference(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
        let k = GaussKernels::new();
        let gx = k.h.map(|v| f64::from(v) / f64::from(H_ONE));
        let gy = gaussian_kernel_f32().map(f64::from);
        gaussian_reference_with(a, b, w, h, &gx, &gy)
    }

    /// [`gaussian_reference`] with horizontal weights `gx` and vertical weights `gy`.
    fn gaussian_reference_with(
        a: &[u8],
        b: &[u8],
        w: usize,
        h: usize,
        gx: &[f64; TAPS],
        gy: &[f64; TAPS],
    ) -> f64 {
        let (c1, c2) = (6.5025, 58.5225);
        let mut total = 0.0;
        for y in RADIUS..h - RADIUS {
            for x in RADIUS..w - RADIUS {
                let (mut ux, mut uy, mut uxx, mut uyy, mut uxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (dy, gy) in gy.iter().enumerate() {
                    for (dx, gx) in gx.iter().enumerate() {
                        let i = (y + dy - RADIUS) * w + x + dx - RADIUS;
                        let (p, q) = (a[i] as f64, b[i] as f64);
                        let wgt = gy * gx;
                        ux += wgt * p;
                        uy += wgt * q;
                        uxx += wgt * p * p;
                        uyy += wgt * q * q;
                        uxy += wgt * p * q;
                    }
                }
                let (vx, vy, vxy) = (uxx - ux * ux, uyy - uy * uy, uxy - ux * uy);
                total += (2.0 * ux * uy + c1) * (2.0 * vxy + c2)
                    / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        }
        total / ((w - 2 * RADIUS) * (h - 2 * RADIUS)) as f64
    }

    /// Straightforward transcription of FFmpeg's per-window loop.
    fn ffmpeg_reference(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
        let (bw, bh) = (w / 4, h / 4);
        let mut total = 0.0f64;
        for by in 0..bh - 1 {
            for bx in 0..bw - 1 {
                let (mut s1, mut s2, mut ss, mut s12) = (0, 0, 0, 0);
                for y in 4 * by..4 * by + 8 {
                    for x in 4 * bx..4 * bx + 8 {
                        let (p, q) = (a[y * w + x] as i32, b[y * w + x] as i32);
                        s1 += p;
                        s2 += q;
                        ss += p * p + q * q;
                        s12 += p * q;
                    }
                }
                total += ssim_end1(s1, s2, ss, s12) as f64;
            }
        }
        total / ((bw - 1) * (bh - 1)) as f64
    }

    #[test]
    fn matches_direct_transcriptions() {
        let (w, h) = (53, 38);
        let a = noise(w * h, 4);
        let b: Vec<u8> = a
            .iter()
            .zip(noise(w * h, 5))
            .map(|(&x, n)| x / 2 + n / 3)
            .collect();
        let pa = Plane::contiguous(&a, w, h).expect("valid");
        let pb = Plane::contiguous(&b, w, h).expect("valid");
        let got = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
        // Computed in `f32` with rounded weights (see `GaussKernels`).
        let want = rounded_kernel_reference(&a, &b, w, h);
        assert!((got - want).abs() < 1e-7, "{got} {want}");
        // scikit-image's weights: 1.5e-7 away here, the weights' rounding.
        let want = gaussian_reference(&a, &b, w, h);
        assert!((got - want).abs() < 1e-6, "{got} {want}");
        let got = ssim_plane(&pa, &pb, SsimWindow::Ffmpeg).expect("ssim");
        let want = ffmpeg_reference(&a, &b, w, h);
        assert!((got - want).abs() < 1e-12, "{got} {want}");
    }

    #[test]
    fn all_is_area_weighted_and_sizes_are_checked() {
        let y = noise(32 * 16, 6);
        let y2 = noise(32 * 16, 7);
        let u = noise(16 * 8, 8);
        let fa = [
            Plane::contiguous(&y, 32, 16).expect("valid"),
            Plane::contiguous(&u, 16, 8).expect("valid"),
        ];
        let fb = [Plane::contiguous(&y2, 32, 16).expect("valid"), fa[1]];
        let r = ssim(&fa, &fb, SsimWindow::Ffmpeg).expect("ssim");
        assert_eq!(r.planes[1], 1.0);
        assert!((r.all - (r.planes[0] * 0.8 + 0.2)).abs() < 1e-12);
        assert!(matches!(
            ssim(&fa, &fb, SsimWindow::Gaussian),
            Err(MetricsError::TooSmall { plane: 1, .. })
        ));
        assert!((ssim_db(0.99) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn gaussian_f32_is_close_to_f64() {
        // A smooth picture with texture (bright, dark and mid-grey areas) and a degraded copy.
        let (w, h) = (157, 91);
        let n = noise(w * h, 9);
        let a: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                let v = 128.0 + 120.0 * (x / 17.0).sin() * (y / 23.0).cos() + f64::from(n[i] % 16);
                v.clamp(0.0, 255.0) as u8
            })
            .collect();
        let b: Vec<u8> = a
            .iter()
            .zip(noise(w * h, 10))
            .map(|(&x, m)| x.saturating_add(m >> 6).saturating_sub(2))
            .collect();
        let pa = Plane::contiguous(&a, w, h).expect("valid");
        let pb = Plane::contiguous(&b, w, h).expect("valid");
        let got = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
        // The `f32` arithmetic against `f64` with the same weights.
        let want = rounded_kernel_reference(&a, &b, w, h);
        assert!((got - want).abs() < 3e-9, "{got} {want} {:e}", got - want);
        // The horizontal weights' rounding to 2⁻¹⁶ (2.5e-7 here).
        let want = gaussian_reference(&a, &b, w, h);
        assert!((got - want).abs() < 1e-6, "{got} {want} {:e}", got - want);
        // Both planes the same but for one sample far from the centre of a flat area.
        let (flat, mut dot) = (vec![250u8; 40 * 40], vec![250u8; 40 * 40]);
        dot[20 * 40 + 20] = 251;
        let pa = Plane::contiguous(&flat, 40, 40).expect("valid");
        let pb = Plane::contiguous(&dot, 40, 40).expect("valid");
        let want = rounded_kernel_reference(&flat, &dot, 40, 40);
        let got = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
        assert!((got - want).abs() < 1e-7, "{got} {want} {:e}", got - want);
    }

    #[test]
    fn avx512_and_avx2_give_the_same_bits() {
        let _settings = crate::metrics::TestSettings::lock();
        // Widths around the 16-column groups (and their AVX2 halves), heights for both the
        // one- and two-row vertical passes.
        for (w, h) in [(11, 11), (26, 12), (27, 13), (33, 40), (61, 23), (211, 37)] {
            let a = noise(w * h, 13);
            let b: Vec<u8> = a
                .iter()
                .zip(noise(w * h, 14))
                .map(|(&x, n)| x.wrapping_add(n >> 3))
                .collect();
            let pa = Plane::contiguous(&a, w, h).expect("valid");
            let pb = Plane::contiguous(&b, w, h).expect("valid");
            let best = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
            FORCE_AVX2.store(true, std::sync::atomic::Ordering::Relaxed);
            let avx2 = ssim_plane(&pa, &pb, SsimWindow::Gaussian).expect("ssim");
            FORCE_AVX2.store(false, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(best.to_bits(), avx2.to_bits(), "{w}x{h}: {best} {avx2}");
            assert!(
                (best - rounded_kernel_reference(&a, &b, w, h)).abs() < 1e-7,
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn horizontal_weights_are_rounded_to_sum_one() {
        let k = GaussKernels::new();
        assert_eq!(k.h.iter().map(|&v| i32::from(v)).sum::<i32>(), H_ONE);
        assert_eq!(
            k.h,
            [67, 498, 2_359, 7_167, 13_960, 17_434, 13_960, 7_167, 2_359, 498, 67]
        );
        for (q, w) in k.h.iter().zip(gaussian_kernel()) {
            assert!(
                (f64::from(*q) / f64::from(H_ONE) - w).abs() < 1.1e-5,
                "{q} {w}"
            );
        }
        assert_eq!(
            k.v.iter().map(|&v| f64::from(v)).sum::<f64>() * f64::from(H_ONE),
            1.0
        );
        assert_eq!(pair_word(-1, 2), 0x0002_ffff);
        assert_eq!(unpair(pair_word(-32768, 32767)), (-32768, 32767));
    }

    /// The levels of the Gaussian window this CPU runs.
    fn gauss_levels() -> Vec<GaussSimd> {
        let mut levels = vec![GaussSimd::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                levels.push(GaussSimd::Avx2);
            }
            if avx512_gauss() {
                levels.push(GaussSimd::Avx512);
            }
        }
        levels
    }

    #[test]
    fn horizontal_pass_is_exact_in_every_build() {
        // The extremes of every statistic (x, y = ±128, (x − y)² = 65025, xy = 16384 and
        // −16256) next to noise, at widths around the vector sizes: every build must give the
        // exact integer sums (no overflow, the offset of (x − y)² undone), rounded once.
        let k = GaussKernels::new();
        let mut levels_seen = 0;
        for w in [
            11, 12, 17, 26, 27, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 97, 211,
        ] {
            let n = noise(w, w as u64);
            let rows: [(Vec<u8>, Vec<u8>); 5] = [
                (vec![0; w], vec![255; w]),
                (vec![0; w], vec![0; w]),
                (
                    (0..w).map(|j| if j % 2 == 0 { 0 } else { 255 }).collect(),
                    vec![255; w],
                ),
                (
                    vec![255; w],
                    (0..w).map(|j| if j % 3 == 0 { 0 } else { 255 }).collect(),
                ),
                (n.clone(), n.iter().map(|v| v.wrapping_mul(7)).collect()),
            ];
            for (xa, xb) in &rows {
                let stat = |j: usize| {
                    let (x, y) = (i64::from(xa[j]) - 128, i64::from(xb[j]) - 128);
                    [x, y, (x - y) * (x - y), x * y]
                };
                let mut want = vec![[0f32; 4]; w - 2 * RADIUS];
                for (j, cell) in want.iter_mut().enumerate() {
                    for (c, v) in cell.iter_mut().enumerate() {
                        let sum: i64 = (0..TAPS).map(|t| i64::from(k.h[t]) * stat(j + t)[c]).sum();
                        *v = sum as f32;
                    }
                }
                for &level in &gauss_levels() {
                    let mut s = GaussScratch::new(w);
                    s.load_row(0, xa, xb, &k, level);
                    let slot = &s.ring[..4 * s.ow];
                    for (j, cell) in want.iter().enumerate() {
                        for (c, v) in cell.iter().enumerate() {
                            let got = slot[ring_index(c, j)];
                            assert_eq!(
                                got.to_bits(),
                                v.to_bits(),
                                "{level:?} w {w} col {j} stat {c}"
                            );
                        }
                    }
                    levels_seen |= 1 << level as u32;
                }
            }
        }
        let all = gauss_levels().iter().fold(0, |m, &l| m | 1 << l as u32);
        assert_eq!(levels_seen, all);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let _settings = crate::metrics::TestSettings::lock();
        // Tall enough for several chunks (odd counts of rows per chunk included).
        let (w, h) = (203, 10_401);
        let a = noise(w * h, 11);
        let b: Vec<u8> = a
            .iter()
            .zip(noise(w * h, 12))
            .map(|(&x, n)| x.wrapping_add(n >> 4))
            .collect();
        let pa = Plane::contiguous(&a, w, h).expect("valid");
        let pb = Plane::contiguous(&b, w, h).expect("valid");
        let run = |threads| {
            crate::metrics::set_max_threads(threads);
            [SsimWindow::Gaussian, SsimWindow::Ffmpeg]
                .map(|win| ssim_plane(&pa, &pb, win).expect("ssim").to_bits())
        };
        let one = run(1);
        for threads in [2, 3, 7] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }
}
