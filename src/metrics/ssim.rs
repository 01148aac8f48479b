// SPDX-License-Identifier: MIT
//! SSIM with the Gaussian window of Wang et al. 2004 (scikit-image's numbers) or with FFmpeg's
//! overlapping 8×8 block sums (`libavfilter/vf_ssim.c`).
use super::parallel::{for_row_chunks, sum_f64};
use super::plane::{check_frames, MetricsError, Plane, Rows};

/// How the local statistics of SSIM are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SsimWindow {
    /// 11×11 Gaussian window, σ = 1.5, population covariances, mean over the pixels whose window
    /// lies inside the plane: `skimage.metrics.structural_similarity(a, b, gaussian_weights=True,
    /// sigma=1.5, use_sample_covariance=False, data_range=255)`. Planes of at least 11×11.
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
    let planes: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(p, q)| plane_ssim(p, q, window))
        .collect();
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
    match window {
        SsimWindow::Gaussian => gaussian_plane(a, b),
        SsimWindow::Ffmpeg => ffmpeg_plane(a, b),
    }
}

// ---------------------------------------------------------------------------------------------
// Gaussian window (scikit-image)

/// Filter radius: scipy.ndimage's `int(truncate · σ + 0.5)` with truncate 3.5, σ 1.5.
const RADIUS: usize = 5;
/// Filter taps, also scikit-image's `win_size` and thus the cropped border is `RADIUS`.
const TAPS: usize = 2 * RADIUS + 1;
const SIGMA: f64 = 1.5;

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

/// Vertically filtered statistics of one output row, one entry per column.
struct Columns {
    a: Vec<f64>,
    b: Vec<f64>,
    aa: Vec<f64>,
    bb: Vec<f64>,
    ab: Vec<f64>,
}

fn gaussian_plane(a: &Plane<'_>, b: &Plane<'_>) -> f64 {
    let (w, h) = (a.width, a.height);
    let (out_w, out_h) = (w - 2 * RADIUS, h - 2 * RADIUS);
    let g = gaussian_kernel();
    let mut rows = vec![0.0f64; out_h];
    // ~60× the work of PSNR per sample.
    for_row_chunks(&mut rows, 64 * w, |first, out| {
        let (mut ra, mut rb) = (Rows::new(*a, TAPS), Rows::new(*b, TAPS));
        let mut cols = Columns {
            a: vec![0.0; w],
            b: vec![0.0; w],
            aa: vec![0.0; w],
            bb: vec![0.0; w],
            ab: vec![0.0; w],
        };
        let mut map = vec![0.0f64; out_w];
        for (i, sum) in (first..).zip(out.iter_mut()) {
            ra.load(i..i + TAPS);
            rb.load(i..i + TAPS);
            let xa: [&[u8]; TAPS] = std::array::from_fn(|k| ra.row(i + k));
            let xb: [&[u8]; TAPS] = std::array::from_fn(|k| rb.row(i + k));
            *sum = gaussian_row(&xa, &xb, &g, &mut cols, &mut map);
        }
    });
    sum_f64(&rows) / (out_w * out_h) as f64
}

avx2_dispatch! {
    /// Sum of the SSIM map over one output row, from the `TAPS` input rows around it.
    fn gaussian_row(
        xa: &[&[u8]; TAPS],
        xb: &[&[u8]; TAPS],
        g: &[f64; TAPS],
        cols: &mut Columns,
        map: &mut [f64],
    ) -> f64 {
        vertical_pass(xa, xb, g, cols);
        horizontal_ssim(cols, g, map);
        sum_f64(map)
    }
}

/// Filters the `TAPS` rows `xa`, `xb` (and their products) down the columns.
#[inline(always)]
fn vertical_pass(xa: &[&[u8]; TAPS], xb: &[&[u8]; TAPS], g: &[f64; TAPS], c: &mut Columns) {
    let w = c.a.len();
    let xa: [&[u8]; TAPS] = xa.map(|r| &r[..w]);
    let xb: [&[u8]; TAPS] = xb.map(|r| &r[..w]);
    let (ca, cb, caa, cbb, cab) = (
        &mut c.a[..w],
        &mut c.b[..w],
        &mut c.aa[..w],
        &mut c.bb[..w],
        &mut c.ab[..w],
    );
    for j in 0..w {
        let (x, y) = (i32::from(xa[RADIUS][j]), i32::from(xb[RADIUS][j]));
        let gm = g[RADIUS];
        let mut sa = gm * f64::from(x);
        let mut sb = gm * f64::from(y);
        let mut saa = gm * f64::from(x * x);
        let mut sbb = gm * f64::from(y * y);
        let mut sab = gm * f64::from(x * y);
        // The kernel is symmetric: add rows k and TAPS-1-k (exactly, in integers) before weighting.
        for k in 0..RADIUS {
            let (p0, p1) = (i32::from(xa[k][j]), i32::from(xa[TAPS - 1 - k][j]));
            let (q0, q1) = (i32::from(xb[k][j]), i32::from(xb[TAPS - 1 - k][j]));
            let gk = g[k];
            sa += gk * f64::from(p0 + p1);
            sb += gk * f64::from(q0 + q1);
            saa += gk * f64::from(p0 * p0 + p1 * p1);
            sbb += gk * f64::from(q0 * q0 + q1 * q1);
            sab += gk * f64::from(p0 * q0 + p1 * q1);
        }
        ca[j] = sa;
        cb[j] = sb;
        caa[j] = saa;
        cbb[j] = sbb;
        cab[j] = sab;
    }
}

/// Filters the column statistics along the row and writes the SSIM of each valid pixel.
#[inline(always)]
fn horizontal_ssim(c: &Columns, g: &[f64; TAPS], map: &mut [f64]) {
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let n = map.len();
    let w = n + 2 * RADIUS;
    let (ca, cb, caa, cbb, cab) = (&c.a[..w], &c.b[..w], &c.aa[..w], &c.bb[..w], &c.ab[..w]);
    let filter = |v: &[f64], j: usize| {
        let mut s = g[RADIUS] * v[j + RADIUS];
        for k in 0..RADIUS {
            s += g[k] * (v[j + k] + v[j + TAPS - 1 - k]);
        }
        s
    };
    for (j, out) in map.iter_mut().enumerate() {
        let (ux, uy) = (filter(ca, j), filter(cb, j));
        let (uxx, uyy, uxy) = (filter(caa, j), filter(cbb, j), filter(cab, j));
        let vx = uxx - ux * ux;
        let vy = uyy - uy * uy;
        let vxy = uxy - ux * uy;
        let a1 = 2.0 * ux * uy + C1;
        let a2 = 2.0 * vxy + C2;
        let b1 = ux * ux + uy * uy + C1;
        let b2 = vx + vy + C2;
        *out = (a1 * a2) / (b1 * b2);
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

/// Per-column sums over the 4 rows of a block row (scratch of [`block_row`]).
struct ColumnSums {
    s1: Vec<i32>,
    s2: Vec<i32>,
    ss: Vec<i32>,
    s12: Vec<i32>,
}

avx2_dispatch! {
    /// FFmpeg's `ssim_4x4xn_8bit`: the sums of the 4×4 blocks of the 4 rows `xa`, `xb`.
    fn block_row(xa: &[&[u8]; 4], xb: &[&[u8]; 4], cols: &mut ColumnSums, out: &mut BlockSums) {
        let w = cols.s1.len();
        let xa = xa.map(|r| &r[..w]);
        let xb = xb.map(|r| &r[..w]);
        let (c1, c2, css, c12) = (
            &mut cols.s1[..w],
            &mut cols.s2[..w],
            &mut cols.ss[..w],
            &mut cols.s12[..w],
        );
        // Products of two samples fit 16 bits; their sums do not.
        let mul = |x: u8, y: u8| i32::from(u16::from(x) * u16::from(y));
        for j in 0..w {
            let a = [xa[0][j], xa[1][j], xa[2][j], xa[3][j]];
            let b = [xb[0][j], xb[1][j], xb[2][j], xb[3][j]];
            c1[j] = a.iter().map(|&v| i32::from(v)).sum();
            c2[j] = b.iter().map(|&v| i32::from(v)).sum();
            css[j] = a.iter().chain(&b).map(|&v| mul(v, v)).sum();
            c12[j] = a.iter().zip(&b).map(|(&v, &u)| mul(v, u)).sum();
        }
        let fold = |dst: &mut [i32], src: &[i32]| {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = s[0] + s[1] + s[2] + s[3];
            }
        };
        fold(&mut out.s1, c1);
        fold(&mut out.s2, c2);
        fold(&mut out.ss, css);
        fold(&mut out.s12, c12);
    }
}

/// FFmpeg's `ssim_end1` (8-bit): SSIM of one 8×8 window from its sums, in `f32` like FFmpeg.
fn ssim_end1(s1: i32, s2: i32, ss: i32, s12: i32) -> f32 {
    let vars = ss * 64 - s1 * s1 - s2 * s2;
    let covar = s12 * 64 - s1 * s2;
    (2 * s1 * s2 + FF_C1) as f32 * (2 * covar + FF_C2) as f32
        / ((s1 * s1 + s2 * s2 + FF_C1) as f32 * (vars + FF_C2) as f32)
}

avx2_dispatch! {
    /// FFmpeg's `ssim_endn_8bit`: the sum of the windows made of block rows `p` and `c`
    /// (`vals` is scratch, one entry per window).
    fn end_line(p: &BlockSums, c: &BlockSums, vals: &mut [f64]) -> f64 {
        let n = vals.len();
        let add = |u: &[i32], v: &[i32], i: usize| u[i] + u[i + 1] + v[i] + v[i + 1];
        let (ps1, ps2, pss, ps12) = (&p.s1[..=n], &p.s2[..=n], &p.ss[..=n], &p.s12[..=n]);
        let (cs1, cs2, css, cs12) = (&c.s1[..=n], &c.s2[..=n], &c.ss[..=n], &c.s12[..=n]);
        for (i, v) in vals.iter_mut().enumerate() {
            *v = f64::from(ssim_end1(
                add(ps1, cs1, i),
                add(ps2, cs2, i),
                add(pss, css, i),
                add(ps12, cs12, i),
            ));
        }
        sum_f64(vals)
    }
}

fn ffmpeg_plane(a: &Plane<'_>, b: &Plane<'_>) -> f64 {
    let (bw, bh) = (a.width / 4, a.height / 4);
    let mut rows = vec![0.0f64; bh - 1];
    // A row of windows covers 4 rows of samples, ~4× the work of PSNR each.
    for_row_chunks(&mut rows, 16 * a.width, |first, out| {
        let (mut ra, mut rb) = (Rows::new(*a, 4), Rows::new(*b, 4));
        let mut cols = ColumnSums {
            s1: vec![0; 4 * bw],
            s2: vec![0; 4 * bw],
            ss: vec![0; 4 * bw],
            s12: vec![0; 4 * bw],
        };
        let (mut prev, mut cur) = (BlockSums::new(bw), BlockSums::new(bw));
        let mut vals = vec![0.0f64; bw - 1];
        let mut sums_of = |z: usize, cols: &mut ColumnSums, out: &mut BlockSums| {
            ra.load(4 * z..4 * z + 4);
            rb.load(4 * z..4 * z + 4);
            let xa: [&[u8]; 4] = std::array::from_fn(|k| ra.row(4 * z + k));
            let xb: [&[u8]; 4] = std::array::from_fn(|k| rb.row(4 * z + k));
            block_row(&xa, &xb, cols, out);
        };
        // Output row `first + k` combines block rows `first + k` and `first + k + 1`.
        sums_of(first, &mut cols, &mut prev);
        for (z, sum) in (first + 1..).zip(out.iter_mut()) {
            sums_of(z, &mut cols, &mut cur);
            *sum = end_line(&prev, &cur, &mut vals);
            std::mem::swap(&mut prev, &mut cur);
        }
    });
    sum_f64(&rows) / ((bw - 1) * (bh - 1)) as f64
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
        assert!((got - want).abs() < 1e-12, "{got} {want}");
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
        let (c1, c2) = (6.5025, 58.5225);
        let mut total = 0.0;
        for y in RADIUS..h - RADIUS {
            for x in RADIUS..w - RADIUS {
                let (mut ux, mut uy, mut uxx, mut uyy, mut uxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (dy, gy) in g.iter().enumerate() {
                    for (dx, gx) in g.iter().enumerate() {
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
        let want = gaussian_reference(&a, &b, w, h);
        assert!((got - want).abs() < 1e-12, "{got} {want}");
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
}
