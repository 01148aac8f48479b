// SPDX-License-Identifier: MIT
//! PSNR as FFmpeg's `psnr` filter computes it (`libavfilter/vf_psnr.c`, 8-bit).
use super::parallel::for_plane_row_chunks;
use super::plane::{check_frames, MetricsError, Plane, Rows};

/// Peak sample value of 8-bit data.
const MAX: f64 = 255.0;

/// Samples per `u32` partial sum: 16384 · 255² < 2³².
const SSE_CHUNK: usize = 16 * 1024;

/// PSNR figures of one plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanePsnr {
    /// Sum of squared differences.
    pub sse: u64,
    /// Mean squared error, `sse / (width · height)`.
    pub mse: f64,
    /// `10·log10(255² / mse)`, `+∞` when `mse` is 0.
    pub psnr: f64,
}

/// PSNR figures of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PsnrResult {
    /// Per plane, in the order given.
    pub planes: Vec<PlanePsnr>,
    /// Plane MSEs weighted by plane area (`w·h / Σ w·h`), FFmpeg's `mse_avg`.
    pub mse_avg: f64,
    /// [`psnr_from_mse`]`(mse_avg)`, FFmpeg's `psnr_avg`.
    pub psnr_avg: f64,
}

/// `10·log10(255² / mse)`, `+∞` for `mse == 0`.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (MAX * MAX / mse).log10()
    }
}

/// PSNR of frame `a` against frame `b`, plane by plane (see the [module docs](super)).
///
/// Both frames must have the same number of planes and the same size per plane.
pub fn psnr(a: &[Plane<'_>], b: &[Plane<'_>]) -> Result<PsnrResult, MetricsError> {
    check_frames(&[a, b], (1, 1))?;
    let planes = planes_psnr(a, b);
    // Σ areaᵢ·mseᵢ / Σ areaᵢ = Σ sseᵢ / Σ areaᵢ.
    let total_area: usize = a.iter().map(Plane::area).sum();
    let total_sse: u64 = planes.iter().map(|p| p.sse).sum();
    let mse_avg = total_sse as f64 / total_area as f64;
    Ok(PsnrResult {
        planes,
        mse_avg,
        psnr_avg: psnr_from_mse(mse_avg),
    })
}

/// PSNR of one plane `a` against `b` of the same size.
pub fn psnr_plane(a: &Plane<'_>, b: &Plane<'_>) -> Result<PlanePsnr, MetricsError> {
    check_frames(&[std::slice::from_ref(a), std::slice::from_ref(b)], (1, 1))?;
    Ok(plane_psnr(a, b))
}

fn plane_psnr(a: &Plane<'_>, b: &Plane<'_>) -> PlanePsnr {
    planes_psnr(std::slice::from_ref(a), std::slice::from_ref(b)).remove(0)
}

/// Each plane pair's PSNR (checked), all planes in one parallel region.
fn planes_psnr(a: &[Plane<'_>], b: &[Plane<'_>]) -> Vec<PlanePsnr> {
    let mut rows: Vec<Vec<u64>> = a.iter().map(|p| vec![0u64; p.height]).collect();
    let work: Vec<usize> = a.iter().map(|p| p.width).collect();
    for_plane_row_chunks(
        rows.iter_mut().map(|r| &mut r[..]).collect(),
        &work,
        |p, first, out| {
            let (mut ra, mut rb) = (Rows::new(a[p], 1), Rows::new(b[p], 1));
            for (y, sse) in (first..).zip(out.iter_mut()) {
                ra.load(y..y + 1);
                rb.load(y..y + 1);
                *sse = sse_row(ra.row(y), rb.row(y));
            }
        },
    );
    rows.iter()
        .zip(a)
        .map(|(r, p)| {
            let sse: u64 = r.iter().sum();
            let mse = sse as f64 / p.area() as f64;
            PlanePsnr {
                sse,
                mse,
                psnr: psnr_from_mse(mse),
            }
        })
        .collect()
}

avx2_dispatch! {
    /// Σ (a − b)² over a row.
    fn sse_row(a: &[u8], b: &[u8]) -> u64 {
        a.chunks(SSE_CHUNK)
            .zip(b.chunks(SSE_CHUNK))
            .map(|(ca, cb)| {
                let s: u32 = ca
                    .iter()
                    .zip(cb)
                    .map(|(&x, &y)| {
                        let d = i32::from(x) - i32::from(y);
                        (d * d) as u32
                    })
                    .sum();
                u64::from(s)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_infinite() {
        let data: Vec<u8> = (0..=255).collect();
        let p = Plane::contiguous(&data, 16, 16).expect("valid");
        let r = psnr(&[p], &[p]).expect("psnr");
        assert_eq!(r.planes[0].mse, 0.0);
        assert_eq!(r.planes[0].psnr, f64::INFINITY);
        assert_eq!(r.psnr_avg, f64::INFINITY);
    }

    #[test]
    fn hand_computed() {
        // 2x2 planes, differences 0, 1, 2, 3: SSE 14, MSE 3.5.
        let a = [10u8, 20, 30, 40];
        let b = [10u8, 21, 28, 43];
        let pa = Plane::contiguous(&a, 2, 2).expect("valid");
        let pb = Plane::contiguous(&b, 2, 2).expect("valid");
        let r = psnr_plane(&pa, &pb).expect("psnr");
        assert_eq!(r.sse, 14);
        assert_eq!(r.mse, 3.5);
        assert!((r.psnr - 10.0 * (65025.0f64 / 3.5).log10()).abs() < 1e-12);
        // MSE 1 gives 20·log10(255) = 48.1308...
        assert!((psnr_from_mse(1.0) - 48.130_803_608_679_1).abs() < 1e-9);

        // A 4x2 luma (MSE 2) and two 2x1 chroma planes (MSE 0 and 8): weights 8/12, 2/12, 2/12.
        let (y0, y1) = ([0u8; 8], [1u8, 1, 1, 1, 2, 2, 0, 0]); // squares 1,1,1,1,4,4,0,0 = 12 → 1.5
        let (u0, u1) = ([5u8, 5], [5u8, 5]);
        let (v0, v1) = ([0u8, 0], [4u8, 0]); // 16 / 2 = 8
        let f0 = [
            Plane::contiguous(&y0, 4, 2).expect("valid"),
            Plane::contiguous(&u0, 2, 1).expect("valid"),
            Plane::contiguous(&v0, 2, 1).expect("valid"),
        ];
        let f1 = [
            Plane::contiguous(&y1, 4, 2).expect("valid"),
            Plane::contiguous(&u1, 2, 1).expect("valid"),
            Plane::contiguous(&v1, 2, 1).expect("valid"),
        ];
        let r = psnr(&f0, &f1).expect("psnr");
        let mses: Vec<f64> = r.planes.iter().map(|p| p.mse).collect();
        assert_eq!(mses, [1.5, 0.0, 8.0]);
        assert!((r.mse_avg - (1.5 * 8.0 + 8.0 * 2.0) / 12.0).abs() < 1e-12);
        assert_eq!(r.planes[1].psnr, f64::INFINITY);
    }

    #[test]
    fn stride_and_packed_match_contiguous() {
        let (w, h) = (37, 23);
        let a: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
        let b: Vec<u8> = (0..w * h).map(|i| (i * 13 % 241) as u8).collect();
        let pa = Plane::contiguous(&a, w, h).expect("valid");
        let pb = Plane::contiguous(&b, w, h).expect("valid");
        let want = psnr_plane(&pa, &pb).expect("psnr");

        let stride = w + 9;
        let mut sa = vec![0xAAu8; stride * h];
        for y in 0..h {
            sa[y * stride..y * stride + w].copy_from_slice(&a[y * w..(y + 1) * w]);
        }
        let qa = Plane::new(&sa, w, h, stride).expect("valid");
        assert_eq!(psnr_plane(&qa, &pb).expect("psnr"), want);

        // b as the G component of RGBx with padded rows.
        let pstride = 4 * w + 3;
        let mut rgbx = vec![0x55u8; pstride * h];
        for y in 0..h {
            for x in 0..w {
                rgbx[y * pstride + 4 * x + 1] = b[y * w + x];
            }
        }
        let [_, g, _] = Plane::packed(&rgbx, w, h, pstride, 4, [0, 1, 2]).expect("valid");
        assert_eq!(psnr_plane(&pa, &g).expect("psnr"), want);
    }

    #[test]
    fn mismatches_are_errors() {
        let d = [0u8; 16];
        let p4 = Plane::contiguous(&d, 4, 4).expect("valid");
        let p2 = Plane::contiguous(&d, 2, 2).expect("valid");
        assert!(matches!(
            psnr(&[p4], &[p2]),
            Err(MetricsError::SizeMismatch { plane: 0, .. })
        ));
        assert!(matches!(
            psnr(&[p4, p2], &[p4]),
            Err(MetricsError::PlaneCountMismatch { .. })
        ));
        assert_eq!(psnr(&[], &[]), Err(MetricsError::NoPlanes));
        let bad = Plane {
            data: &d[..15],
            width: 4,
            height: 4,
            stride: 4,
            pixel_stride: 1,
        };
        assert!(matches!(
            psnr(&[p4], &[bad]),
            Err(MetricsError::BufferTooSmall { .. })
        ));
    }
}
