// SPDX-License-Identifier: MIT
//! Temporal consistency of a frame chain under test against its reference chain.
use super::parallel::for_plane_row_chunks;
use super::plane::{check_frames, gather, MetricsError, Plane, Rows};

/// Default [`TemporalTracker`] / [`temporal_stats`] threshold: a reference sample is static when
/// it changed by at most 2 (8-bit units) from the previous frame.
pub const DEFAULT_STATIC_THRESHOLD: u8 = 2;

/// Samples per `u32` partial sum: 2²⁰ · 510 < 2³².
const ROW_CHUNK: usize = 1 << 20;

/// Temporal figures of frame `t ≥ 1` of a chain `X` (under test) against the reference chain `R`,
/// over every sample of every plane (so a 4:2:0 chroma sample weighs as much as a luma sample),
/// in 8-bit units (0‥255).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemporalStats {
    /// Mean of `|(Xₜ − Xₜ₋₁) − (Rₜ − Rₜ₋₁)|`: change not explained by the reference's change.
    pub temporal_error: f64,
    /// Mean of `|Xₜ − Xₜ₋₁|`.
    pub flicker: f64,
    /// Mean of `|Rₜ − Rₜ₋₁|`.
    pub reference_flicker: f64,
    /// Mean of `|Xₜ − Xₜ₋₁|` over the static samples, those whose reference changed by at most
    /// the static threshold (`|Rₜ − Rₜ₋₁| ≤ threshold`, sample by sample, each plane on its own);
    /// `None` when no sample is static.
    pub static_flicker: Option<f64>,
    /// Number of samples the means are over.
    pub samples: u64,
    /// Number of static samples.
    pub static_samples: u64,
}

/// Sums over some samples: `[Σ|dx − dr|, Σ|dx|, Σ|dr|, Σ_static |dx|, static count]`.
type Sums = [u64; 5];

impl TemporalStats {
    fn from_sums(s: Sums, samples: u64) -> Self {
        let n = samples as f64;
        TemporalStats {
            temporal_error: s[0] as f64 / n,
            flicker: s[1] as f64 / n,
            reference_flicker: s[2] as f64 / n,
            static_flicker: (s[4] > 0).then(|| s[3] as f64 / s[4] as f64),
            samples,
            static_samples: s[4],
        }
    }
}

/// Temporal figures of `x_cur` (after `x_prev`) against `r_cur` (after `r_prev`); all four frames
/// must have the same planes and plane sizes. See [`TemporalStats`].
pub fn temporal_stats(
    x_prev: &[Plane<'_>],
    x_cur: &[Plane<'_>],
    r_prev: &[Plane<'_>],
    r_cur: &[Plane<'_>],
    static_threshold: u8,
) -> Result<TemporalStats, MetricsError> {
    check_frames(&[x_cur, x_prev, r_prev, r_cur], (1, 1))?;
    Ok(compute(
        x_cur.len(),
        |i| [x_prev[i], x_cur[i], r_prev[i], r_cur[i]],
        static_threshold,
        &mut Vec::new(),
    ))
}

/// Figures over `n_planes` planes, `planes(i)` giving plane `i` of `[x_prev, x_cur, r_prev,
/// r_cur]` (checked: same sizes, valid layouts), all planes in one parallel region; `rows` is
/// scratch (one `Vec` of row sums per plane).
fn compute<'p>(
    n_planes: usize,
    planes: impl Fn(usize) -> [Plane<'p>; 4] + Sync,
    threshold: u8,
    rows: &mut Vec<Vec<Sums>>,
) -> TemporalStats {
    rows.resize_with(n_planes, Vec::new);
    let mut work = Vec::with_capacity(n_planes);
    let mut samples = 0u64;
    for (plane, r) in rows.iter_mut().enumerate() {
        let p = planes(plane)[0];
        r.clear();
        r.resize(p.height, [0; 5]);
        // Four frames read, ~4× the work of PSNR per sample.
        work.push(4 * p.width);
        samples += (p.width * p.height) as u64;
    }
    for_plane_row_chunks(
        rows.iter_mut().map(|r| &mut r[..]).collect(),
        &work,
        |plane, first, out| {
            let mut readers = planes(plane).map(|q| Rows::new(q, 1));
            for (y, sums) in (first..).zip(out.iter_mut()) {
                readers.iter_mut().for_each(|r| r.load(y..y + 1));
                let [xp, xc, rp, rc] = &readers;
                *sums = row_sums([xp.row(y), xc.row(y), rp.row(y), rc.row(y)], threshold);
            }
        },
    );
    let mut total: Sums = [0; 5];
    for r in rows.iter().flatten() {
        for (t, v) in total.iter_mut().zip(r) {
            *t += v;
        }
    }
    TemporalStats::from_sums(total, samples)
}

avx2_dispatch! {
    /// Sums of one row from `[x_prev, x_cur, r_prev, r_cur]`.
    fn row_sums(rows: [&[u8]; 4], threshold: u8) -> Sums {
        let threshold = i16::from(threshold);
        let mut sums: Sums = [0; 5];
        let w = rows[0].len();
        for start in (0..w).step_by(ROW_CHUNK) {
            let end = (start + ROW_CHUNK).min(w);
            let [xp, xc, rp, rc] = rows.map(|r| &r[start..end]);
            let mut part = [0u32; 5];
            for j in 0..end - start {
                let dx = i16::from(xc[j]) - i16::from(xp[j]);
                let dr = i16::from(rc[j]) - i16::from(rp[j]);
                let adx = dx.unsigned_abs();
                let is_static = u16::from(dr.abs() <= threshold);
                part[0] += u32::from((dx - dr).unsigned_abs());
                part[1] += u32::from(adx);
                part[2] += u32::from(dr.unsigned_abs());
                part[3] += u32::from(adx * is_static);
                part[4] += u32::from(is_static);
            }
            for (s, p) in sums.iter_mut().zip(part) {
                *s += u64::from(p);
            }
        }
        sums
    }
}

/// A plane copy owned by a [`TemporalTracker`].
#[derive(Debug, Clone, Default)]
struct OwnedPlane {
    data: Vec<u8>,
    width: usize,
    height: usize,
}

impl OwnedPlane {
    fn view(&self) -> Plane<'_> {
        Plane {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.width,
            pixel_stride: 1,
        }
    }

    /// Copies a validated plane, reusing the buffer.
    fn copy_from(&mut self, p: &Plane<'_>) {
        let w = p.width;
        self.width = w;
        self.height = p.height;
        self.data.resize(w * p.height, 0);
        for (y, dst) in self.data.chunks_exact_mut(w).enumerate() {
            gather(dst, &p.data[y * p.stride..], p.pixel_stride);
        }
    }
}

/// Temporal figures of a chain under test against its reference, frame after frame.
///
/// Keeps a copy of the previous frame of each chain (planar, in buffers reused from frame to
/// frame: after the first frame, and as long as the plane sizes stay the same, it allocates no
/// frame-sized memory).
#[derive(Debug, Clone)]
pub struct TemporalTracker {
    static_threshold: u8,
    prev_x: Vec<OwnedPlane>,
    prev_r: Vec<OwnedPlane>,
    has_previous: bool,
    rows: Vec<Vec<Sums>>,
}

impl Default for TemporalTracker {
    fn default() -> Self {
        Self::new(DEFAULT_STATIC_THRESHOLD)
    }
}

impl TemporalTracker {
    /// A tracker with no previous frame; `static_threshold` as in
    /// [`TemporalStats::static_flicker`].
    pub fn new(static_threshold: u8) -> Self {
        TemporalTracker {
            static_threshold,
            prev_x: Vec::new(),
            prev_r: Vec::new(),
            has_previous: false,
            rows: Vec::new(),
        }
    }

    /// The static threshold in use.
    pub fn static_threshold(&self) -> u8 {
        self.static_threshold
    }

    /// Whether a previous frame is held, i.e. whether the next [`TemporalTracker::push`] yields
    /// figures.
    pub fn has_previous(&self) -> bool {
        self.has_previous
    }

    /// Forgets the previous frame (at a discontinuity, a seek or a size change); buffers are kept.
    pub fn reset(&mut self) {
        self.has_previous = false;
    }

    /// Takes frame `t` of the chain under test `x` and of the reference `r` (same planes and plane
    /// sizes); returns the figures of `t` against `t − 1`, `None` for the first frame after
    /// creation or [`TemporalTracker::reset`].
    ///
    /// A frame whose planes differ from the previous frame's is an error and leaves the tracker
    /// unchanged: call [`TemporalTracker::reset`] on a size change.
    pub fn push(
        &mut self,
        x: &[Plane<'_>],
        r: &[Plane<'_>],
    ) -> Result<Option<TemporalStats>, MetricsError> {
        check_frames(&[x, r], (1, 1))?;
        let stats = if self.has_previous {
            if x.len() != self.prev_x.len() {
                return Err(MetricsError::PlaneCountMismatch {
                    expected: self.prev_x.len(),
                    found: x.len(),
                });
            }
            for (i, (p, q)) in self.prev_x.iter().zip(x).enumerate() {
                if (p.width, p.height) != (q.width, q.height) {
                    return Err(MetricsError::SizeMismatch {
                        plane: i,
                        expected: (p.width, p.height),
                        found: (q.width, q.height),
                    });
                }
            }
            let (prev_x, prev_r) = (&self.prev_x, &self.prev_r);
            Some(compute(
                x.len(),
                |i| [prev_x[i].view(), x[i], prev_r[i].view(), r[i]],
                self.static_threshold,
                &mut self.rows,
            ))
        } else {
            None
        };
        for (store, frame) in [(&mut self.prev_x, x), (&mut self.prev_r, r)] {
            store.resize_with(frame.len(), OwnedPlane::default);
            for (owned, plane) in store.iter_mut().zip(frame) {
                owned.copy_from(plane);
            }
        }
        self.has_previous = true;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], w: usize) -> Plane<'_> {
        Plane::contiguous(data, w, data.len() / w).expect("valid")
    }

    #[test]
    fn hand_computed() {
        // 2x2, one plane.
        let xp = [10u8, 10, 200, 0];
        let xc = [12u8, 10, 190, 5];
        let rp = [10u8, 50, 200, 0];
        let rc = [11u8, 60, 200, 0];
        // dx = 2, 0, -10, 5; dr = 1, 10, 0, 0
        // |dx - dr| = 1, 10, 10, 5 → 26 / 4
        // |dx| = 2, 0, 10, 5 → 17 / 4; |dr| = 1, 10, 0, 0 → 11 / 4
        // static (|dr| ≤ 2): samples 0, 2, 3 → |dx| 2 + 10 + 5 = 17 / 3
        let s = temporal_stats(
            &[plane(&xp, 2)],
            &[plane(&xc, 2)],
            &[plane(&rp, 2)],
            &[plane(&rc, 2)],
            DEFAULT_STATIC_THRESHOLD,
        )
        .expect("stats");
        assert_eq!(s.temporal_error, 6.5);
        assert_eq!(s.flicker, 4.25);
        assert_eq!(s.reference_flicker, 2.75);
        assert_eq!(s.static_flicker, Some(17.0 / 3.0));
        assert_eq!((s.samples, s.static_samples), (4, 3));

        // Threshold 0: only samples 2 and 3 are static.
        let s = temporal_stats(
            &[plane(&xp, 2)],
            &[plane(&xc, 2)],
            &[plane(&rp, 2)],
            &[plane(&rc, 2)],
            0,
        )
        .expect("stats");
        assert_eq!(s.static_flicker, Some(7.5));

        // Extremes: 0 → 255 against 255 → 0 gives |255 + 255| = 510; nothing static.
        let s = temporal_stats(
            &[plane(&[0], 1)],
            &[plane(&[255], 1)],
            &[plane(&[255], 1)],
            &[plane(&[0], 1)],
            2,
        )
        .expect("stats");
        assert_eq!(s.temporal_error, 510.0);
        assert_eq!(s.static_flicker, None);
    }

    #[test]
    fn planes_pool_samples() {
        // A 2x2 plane (all dx = 4) and a 1x1 plane (dx = 1), reference static: 17 / 5.
        let (y0, y1) = ([0u8; 4], [4u8; 4]);
        let (u0, u1) = ([9u8], [10u8]);
        let x_prev = [plane(&y0, 2), plane(&u0, 1)];
        let x_cur = [plane(&y1, 2), plane(&u1, 1)];
        let s = temporal_stats(&x_prev, &x_cur, &x_prev, &x_prev, 2).expect("stats");
        assert_eq!(s.flicker, 17.0 / 5.0);
        assert_eq!(s.temporal_error, 17.0 / 5.0);
        assert_eq!(s.reference_flicker, 0.0);
        assert_eq!(s.static_flicker, Some(17.0 / 5.0));
    }

    #[test]
    fn tracker_matches_pure_function() {
        let (w, h) = (7, 5);
        let frames: Vec<Vec<u8>> = (0..4u8)
            .map(|t| (0..w * h).map(|i| (i as u8).wrapping_mul(t + 3)).collect())
            .collect();
        let refs: Vec<Vec<u8>> = (0..4u8)
            .map(|t| (0..w * h).map(|i| (i as u8 / 3).wrapping_add(t)).collect())
            .collect();
        // The chain under test arrives as the B component of padded RGBx.
        let stride = 4 * w + 4;
        let packed: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut p = vec![0u8; stride * h];
                for (i, v) in f.iter().enumerate() {
                    p[(i / w) * stride + 4 * (i % w) + 2] = *v;
                }
                p
            })
            .collect();
        let mut tracker = TemporalTracker::default();
        for t in 0..4 {
            let [_, _, xb] = Plane::packed(&packed[t], w, h, stride, 4, [0, 1, 2]).expect("valid");
            let got = tracker.push(&[xb], &[plane(&refs[t], w)]).expect("push");
            if t == 0 {
                assert_eq!(got, None);
                continue;
            }
            let want = temporal_stats(
                &[plane(&frames[t - 1], w)],
                &[plane(&frames[t], w)],
                &[plane(&refs[t - 1], w)],
                &[plane(&refs[t], w)],
                DEFAULT_STATIC_THRESHOLD,
            )
            .expect("stats");
            assert_eq!(got, Some(want));
        }
        tracker.reset();
        assert!(!tracker.has_previous());
        let small = [0u8; 4];
        assert_eq!(
            tracker.push(&[plane(&small, 2)], &[plane(&small, 2)]),
            Ok(None)
        );
        // A size change without reset is an error and keeps the previous frame.
        let big = [0u8; 9];
        assert!(tracker.push(&[plane(&big, 3)], &[plane(&big, 3)]).is_err());
        assert!(tracker.has_previous());
        assert!(tracker
            .push(&[plane(&small, 2)], &[plane(&small, 2)])
            .is_ok());
    }
}
