// SPDX-License-Identifier: MIT
//! Keyframe carry: an artist keyframe's pixels and colours kept in the `fill` output of the
//! frames that follow it.
//!
//! With an artist keyframe the network gets the artist's frame as its previous frame, and its
//! output drifts away from the artist's colours within a few frames (the chain is the network's
//! guess, not a copy). Cel animation does not repaint what did not move: the carry keeps the
//! artist's work, in four ways; the fourth, the last output moved along the optical flow, is
//! [`super::flow`]'s and goes over the three here. [`ShiftedHold`]: a pixel shows the keyframe moved with the
//! camera (a whole-frame shift since the keyframe) where the line art around it matches the
//! moved keyframe's and its region follows the moved keyframe region it lies in. [`Hold`]: a
//! pixel keeps the keyframe's value while the line art within [`HOLD_REACH`] of it has not
//! changed since the keyframe and its region follows the region it was in. [`Carried`]:
//! elsewhere, the keyframe's regions (the `fill` regions of its own line art,
//! [`super::stream::fill_labels`]) take the keyframe's mean colour over each of them; in each
//! later frame, a region whose best-overlapping region of the frame before (the one it shares
//! most pixels with) carries a keyframe colour and overlaps it by an intersection over union of
//! at least [`CARRY_IOU`] takes that colour and carries it on. Every other region gets the
//! network's fill, as without the carry. Regions that split keep the colour on both parts; a
//! region that moves further than its own size in one frame, or appears, is the network's. A
//! reset of the chain (cut, flush, new stream) ends the carry; the next keyframe starts a new one.
//!
//! Only the `fill` output has regions: in the other output modes nothing is carried. While some
//! step carries something (with the flow, until the next reset),
//! [`super::stream::StreamColorizer::compose`] makes the output
//! (at working size, [`super::stream::carried_previous`]) the network's next previous frame, so
//! that the network sees the artist's colours rather than its own drift.

use super::stream::Run;
use opencv::core::{Mat, Scalar, Size};
use opencv::prelude::*;
use std::sync::Arc;

/// Intersection over union a region needs with a carrying region of the frame before to take
/// its colour. The corpus's validation and 100-frame clips of two renderings, keyframes every
/// 24 frames: 0.1, 0.2 and 0.3 measured 19.02 / 18.96 / 18.79 dB (seed 0) and 18.33 / 18.50 /
/// 18.41 (seed 7), without the carry 16.52 and 16.75 (docs/model-card.md, stage 14).
pub const CARRY_IOU: f64 = 0.2;

/// The regions of the last `fill` output and the colours they carry.
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    width: usize,
    height: usize,
    /// Runs of regions `1..n` in row-major order (as [`super::stream::fill_runs`] makes them).
    runs: Vec<Run>,
    /// Pixels per label (index 0: the band, unused).
    size: Vec<u64>,
    /// Colour per label, RGB in `[0, 1]`; meaningful where `carried`.
    colour: Vec<[f64; 3]>,
    /// Whether the label carries a keyframe colour.
    carried: Vec<bool>,
}

impl Carried {
    /// The regions `runs` (labels `1..n`, `size` pixels each) of a keyframe of `width × height`
    /// with their mean colours `colour`: every region carries its colour.
    pub(crate) fn keyframe(
        width: usize,
        height: usize,
        runs: Vec<Run>,
        size: Vec<u64>,
        colour: Vec<[f64; 3]>,
    ) -> Option<Self> {
        let mut carried: Vec<bool> = size.iter().map(|&k| k > 0).collect();
        if let Some(band) = carried.first_mut() {
            *band = false;
        }
        carried.iter().any(|&c| c).then_some(Carried {
            width,
            height,
            runs,
            size,
            colour,
            carried,
        })
    }
}

/// How far a change of the line art reaches: a pixel stops holding the keyframe's value once the
/// line art within this many pixels of it (a square of side `2 · HOLD_REACH + 1`) differs from the
/// frame before's. Seed 0's validation and 100-frame clips, keys every 24 frames (the Python
/// prototype, before the region condition and the feedback): 1, 2 and 4 measured 22.35, 22.36
/// and 22.24 dB (docs/model-card.md, stage 14).
pub const HOLD_REACH: usize = 2;

/// The pixels that still show the keyframe: every pixel at the keyframe; a pixel keeps the
/// keyframe's value (its lines and their anti-aliased edges included, which no flat fill
/// reproduces) for as long as the line art around it has not changed since the keyframe.
#[derive(Debug, Clone)]
pub(crate) struct Hold {
    width: usize,
    height: usize,
    /// The keyframe at the frame size, planar `3 × H × W`, `[0, 1]` (shared with the other hold).
    key: Arc<[f32]>,
    /// Whether each pixel still holds the keyframe's value.
    held: Vec<bool>,
    /// The last frame's line mask (nonzero on a line).
    lines: Vec<u8>,
    /// The last frame's `fill` regions: runs and labels per pixel (0: the band).
    runs: Vec<Run>,
    labels: Vec<u32>,
}

/// Labels per pixel (0 where no run is) of regions given as runs.
fn labels_of(runs: &[Run], width: usize, height: usize) -> Vec<u32> {
    let mut labels = vec![0u32; width * height];
    for r in runs {
        let row = r.y as usize * width;
        labels[row + r.x0 as usize..row + r.x1 as usize].fill(r.label);
    }
    labels
}

impl Hold {
    /// Every pixel of a keyframe `key` (planar `3 × H × W`) whose frame's line mask is `lines`
    /// and `fill` regions `runs`.
    pub(crate) fn keyframe(
        width: usize,
        height: usize,
        key: Arc<[f32]>,
        lines: Vec<u8>,
        runs: Vec<Run>,
    ) -> Self {
        assert_eq!(key.len(), 3 * width * height);
        assert_eq!(lines.len(), width * height);
        Hold {
            width,
            height,
            key,
            held: vec![true; width * height],
            lines,
            labels: labels_of(&runs, width, height),
            runs,
        }
    }

    /// Follows the hold into a frame of `width × height` whose line mask is `lines` and `fill`
    /// regions `runs` (labels `1..n`): a pixel stops holding when a line within
    /// [`HOLD_REACH`] of it changed since the frame before, or when the region it lies in does
    /// not follow the region it lay in (an outline that jumped over it: something moved off or
    /// onto it); the others are painted with the keyframe's value in `px` (the output, planar
    /// `3 × H × W`). `None` when no pixel holds any more (or the frame has another size).
    pub(crate) fn follow(
        mut self,
        lines: &[u8],
        runs: &[Run],
        n: usize,
        width: usize,
        height: usize,
        px: &mut [f32],
    ) -> Option<Self> {
        if (width, height) != (self.width, self.height) || lines.len() != width * height {
            return None;
        }
        let best = best_overlaps(runs, n, &self.runs);
        let labels = labels_of(runs, width, height);
        let changed: Vec<u8> = lines
            .iter()
            .zip(&self.lines)
            .map(|(&a, &b)| u8::from((a != 0) != (b != 0)))
            .collect();
        let near = dilate(&changed, width, height, HOLD_REACH);
        let plane = width * height;
        let mut any = false;
        for (i, held) in self.held.iter_mut().enumerate() {
            let (a, b) = (labels[i], self.labels[i]);
            let followed = a == 0 || b == 0 || best[a as usize].0 == b;
            *held &= near[i] == 0 && followed;
            if *held {
                any = true;
                for c in 0..3 {
                    px[c * plane + i] = self.key[c * plane + i];
                }
            }
        }
        self.lines.copy_from_slice(lines);
        self.labels = labels;
        self.runs = runs.to_vec();
        any.then_some(self)
    }
}

/// How far a line may lie from where the keyframe's line (moved with the camera) is and still
/// count as the same line in [`ShiftedHold`]: a pan or a zoom by a fraction of a pixel moves
/// Canny's lines by one pixel here and there. Seed 0's validation and 100-frame clips, keys
/// every 24 frames (the Python prototype): 0 and 1 measured 20.63 and 21.73 dB, the hold of
/// the frame before alone 20.55 (docs/model-card.md, stage 15).
pub const SHIFT_TOLERANCE: usize = 1;

/// Standard deviation of the Gaussian that softens line masks before the phase correlation
/// that finds the camera's move ([`ShiftedHold`]).
const SHIFT_BLUR: f64 = 1.5;

/// The keyframe moved with the camera: while a shot pans, no line stays where it was, so
/// [`Hold`] lets go of every pixel near a line within a frame or two. This one compares each
/// frame with the keyframe itself, moved by the camera's shift since the keyframe (a whole-frame
/// translation found by phase correlation of the two frames' line art, kept only when it
/// matches the lines better than no shift): a pixel shows the moved keyframe's value (bilinear)
/// where every line within [`HOLD_REACH`] of it lies within [`SHIFT_TOLERANCE`] of a moved
/// keyframe line and the other way round, and its `fill` region overlaps the moved keyframe
/// region it lies in more than any other and by an intersection over union of [`CARRY_IOU`] or
/// more. It looks at the keyframe afresh each frame: a
/// background that a character crossed shows the keyframe again once the character has passed.
/// Painted over [`Hold`]'s pixels, where the two agree when the camera did not move.
pub(crate) struct ShiftedHold {
    width: usize,
    height: usize,
    /// The keyframe at the frame size, planar `3 × H × W`, `[0, 1]` (shared with the other hold).
    key: Arc<[f32]>,
    /// The keyframe's line mask, 0 or 1, and that dilated by [`SHIFT_TOLERANCE`].
    lines: Vec<u8>,
    lines_near: Vec<u8>,
    /// The keyframe's `fill` regions: labels per pixel (0: the band).
    labels: Vec<u32>,
    /// The phase correlation's scale: 1 / `scale` of the frame size ([`SHIFT_SEARCH_SIZE`]).
    scale: usize,
    /// The keyframe's line mask at that scale softened by [`SHIFT_BLUR`] (`f32`), and the
    /// Hanning window of the phase correlation.
    ink: Mat,
    window: Mat,
}

impl std::fmt::Debug for ShiftedHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShiftedHold")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// The largest side of the images the camera's shift is searched in: a larger frame is
/// averaged down by a whole factor first (1280×720 by 2), which keeps the search's cost near
/// that of a 640×360 frame; the shift found is scaled back up.
const SHIFT_SEARCH_SIZE: usize = 640;

/// A line mask (nonzero on a line) as an `f32` image, averaged down by `scale` (a whole
/// factor, [`SHIFT_SEARCH_SIZE`]) and softened by [`SHIFT_BLUR`].
fn soft_ink(lines: &[u8], width: usize, height: usize, scale: usize) -> opencv::Result<Mat> {
    let mut m = Mat::new_rows_cols_with_default(
        height as i32,
        width as i32,
        opencv::core::CV_32F,
        Scalar::all(0.0),
    )?;
    for (d, &v) in m.data_typed_mut::<f32>()?.iter_mut().zip(lines) {
        *d = f32::from(u8::from(v != 0));
    }
    shrink_and_soften(&m, width, height, scale, SHIFT_BLUR)
}

/// A `width × height` image `m` averaged down by the whole factor `scale` (each side divided,
/// at least 1), then softened by a Gaussian of σ `sigma` (the searches for the camera's shift
/// and for the optical flow, [`super::flow`]).
pub(crate) fn shrink_and_soften(
    m: &Mat,
    width: usize,
    height: usize,
    scale: usize,
    sigma: f64,
) -> opencv::Result<Mat> {
    let mut small = Mat::default();
    let m = if scale > 1 {
        opencv::imgproc::resize(
            m,
            &mut small,
            Size::new(
                (width / scale).max(1) as i32,
                (height / scale).max(1) as i32,
            ),
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )?;
        &small
    } else {
        m
    };
    let mut out = Mat::default();
    opencv::imgproc::gaussian_blur(
        m,
        &mut out,
        Size::new(0, 0),
        sigma,
        sigma,
        opencv::core::BORDER_REFLECT_101,
    )?;
    Ok(out)
}

/// A whole-frame move by `d = (dx, dy)` of a `width × height` frame: the pixel `(x, y)` shows
/// the point `(x − dx, y − dy)` of the frame before the move, bilinear, when that lies inside
/// the frame. The fractional weights are the same at every pixel.
#[derive(Debug, Clone)]
struct Move {
    width: usize,
    height: usize,
    /// `x − dx = x + kx + fx` with `kx` whole and `0 ≤ fx < 1`; the same in y.
    kx: isize,
    ky: isize,
    fx: f32,
    fy: f32,
    /// The pixels whose source point lies inside the frame: `xa..xb`, `ya..yb`.
    xs: std::ops::Range<usize>,
    ys: std::ops::Range<usize>,
}

impl Move {
    fn new(width: usize, height: usize, d: (f64, f64)) -> Self {
        let axis = |d: f64, n: usize| {
            let k = (-d).floor();
            let f = (-d - k) as f32;
            // x − d ∈ [0, n − 1]  ⇔  x ∈ [d, n − 1 + d]
            let a = d.ceil().max(0.0);
            let b = (n as f64 - 1.0 + d).floor().min(n as f64 - 1.0);
            let range = if b >= a {
                a as usize..b as usize + 1
            } else {
                0..0
            };
            (k as isize, f, range)
        };
        let (kx, fx, xs) = axis(d.0, width);
        let (ky, fy, ys) = axis(d.1, height);
        Move {
            width,
            height,
            kx,
            ky,
            fx,
            fy,
            xs,
            ys,
        }
    }

    /// The bilinear value of a plane `p` at the source point of `(x, y)`, which lies inside the
    /// frame.
    #[cfg(test)]
    fn at(&self, p: &[f32], x: usize, y: usize) -> f32 {
        let [a, b, c, d] = self.sources(x, y);
        self.mix(p[a], p[b], p[c], p[d])
    }

    /// The indices of the four pixels around the source point of `(x, y)` (inside the frame),
    /// in [`Move::mix`]'s order.
    #[inline(always)]
    fn sources(&self, x: usize, y: usize) -> [usize; 4] {
        let w = self.width;
        let x0 = (x as isize + self.kx) as usize;
        let y0 = (y as isize + self.ky) as usize;
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(self.height - 1));
        [y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1]
    }

    /// The bilinear mix of the four pixels around a source point: `a`, `b` on its row (left,
    /// right), `c`, `d` on the row below.
    #[inline(always)]
    fn mix(&self, a: f32, b: f32, c: f32, d: f32) -> f32 {
        let top = a * (1.0 - self.fx) + b * self.fx;
        let bot = c * (1.0 - self.fx) + d * self.fx;
        top * (1.0 - self.fy) + bot * self.fy
    }

    /// A mask (nonzero set) moved: 1 where [`Move::mix`] of its 0/1 values exceeds one half, 0
    /// there and where the source point lies outside the frame. The weights are the same at
    /// every pixel, so each of the 16 patterns of the four neighbours is mixed once.
    fn mask(&self, m: &[u8]) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let table: [u8; 16] = std::array::from_fn(|k| {
            let bit = |b: usize| f32::from(u8::from(k >> b & 1 != 0));
            u8::from(self.mix(bit(0), bit(1), bit(2), bit(3)) > 0.5)
        });
        let mut out = vec![0u8; w * h];
        for y in self.ys.clone() {
            for x in self.xs.clone() {
                let [a, b, c, d] = self.sources(x, y);
                let k = usize::from(m[a] != 0)
                    | usize::from(m[b] != 0) << 1
                    | usize::from(m[c] != 0) << 2
                    | usize::from(m[d] != 0) << 3;
                out[y * w + x] = table[k];
            }
        }
        out
    }

    /// A plane moved ([`Move::at`]); 0 where the source point lies outside the frame.
    #[cfg(test)]
    fn plane(&self, p: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.width * self.height];
        for y in self.ys.clone() {
            let row = &mut out[y * self.width..(y + 1) * self.width];
            for x in self.xs.clone() {
                row[x] = self.at(p, x, y);
            }
        }
        out
    }

    /// Labels moved, nearest neighbour (the source point rounded, halves up); 0 where the
    /// source point lies outside the frame.
    fn labels(&self, labels: &[u32]) -> Vec<u32> {
        let w = self.width as isize;
        let dx = self.kx + isize::from(self.fx >= 0.5);
        let dy = self.ky + isize::from(self.fy >= 0.5);
        let mut out = vec![0u32; self.width * self.height];
        for y in 0..self.height as isize {
            let sy = y + dy;
            if sy < 0 || sy >= self.height as isize {
                continue;
            }
            // x + dx ∈ [0, w)
            let (xa, xb) = ((-dx).max(0), (w - dx).min(w));
            if xa >= xb {
                continue;
            }
            let dst = (y * w + xa) as usize..(y * w + xb) as usize;
            let src = (sy * w + xa + dx) as usize..(sy * w + xb + dx) as usize;
            out[dst].copy_from_slice(&labels[src]);
        }
        out
    }
}

/// Runs of equal nonzero labels along each row, row-major (as [`best_overlaps`] takes them).
fn runs_of(labels: &[u32], width: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    for (y, row) in labels.chunks_exact(width).enumerate() {
        let mut x = 0;
        while x < width {
            let label = row[x];
            let x0 = x;
            while x < width && row[x] == label {
                x += 1;
            }
            if label != 0 {
                runs.push(Run {
                    y: y as u32,
                    x0: x0 as u32,
                    x1: x as u32,
                    label,
                });
            }
        }
    }
    runs
}

/// Pixels per label of `runs` (labels below `n`; index 0, the band, has no runs and stays 0).
fn region_sizes(runs: &[Run], n: usize) -> Vec<u64> {
    let mut size = vec![0u64; n];
    for r in runs {
        size[r.label as usize] += u64::from(r.x1 - r.x0);
    }
    size
}

/// For each region `1..n` of a frame (`runs`), the region of an earlier frame brought onto it
/// (`moved`: that frame's labels per pixel, moved as the frame's content moved) that it follows:
/// the one it overlaps most, when the two overlap by an intersection over union of
/// [`CARRY_IOU`] or more (a character's face that moved onto the wall overlaps the wall, but is
/// a small part of it); else 0.
fn region_follows(runs: &[Run], n: usize, moved: &[u32], width: usize) -> Vec<u32> {
    let key_runs = runs_of(moved, width);
    let best = best_overlaps(runs, n, &key_runs);
    let cur_size = region_sizes(runs, n);
    let key_n = key_runs
        .iter()
        .map(|r| r.label as usize + 1)
        .max()
        .unwrap_or(1);
    let key_size = region_sizes(&key_runs, key_n);
    best.iter()
        .zip(&cur_size)
        .map(|(&(b, ov), &k)| {
            let union = k + key_size[b as usize] - ov;
            if ov > 0 && ov as f64 >= CARRY_IOU * union as f64 {
                b
            } else {
                0
            }
        })
        .collect()
}

/// Pixels where a line of `a` has no line of `b` within [`SHIFT_TOLERANCE`] (`b_near`: `b`
/// dilated by it), or the other way round.
fn mismatch(a: &[u8], a_near: &[u8], b: &[u8], b_near: &[u8]) -> Vec<u8> {
    a.iter()
        .zip(a_near)
        .zip(b.iter().zip(b_near))
        .map(|((&a, &an), (&b, &bn))| u8::from((a != 0 && bn == 0) || (b != 0 && an == 0)))
        .collect()
}

impl ShiftedHold {
    /// A keyframe `key` (planar `3 × H × W`) whose frame's line mask is `lines` and `fill`
    /// regions `runs`.
    pub(crate) fn keyframe(
        width: usize,
        height: usize,
        key: Arc<[f32]>,
        lines: &[u8],
        runs: &[Run],
    ) -> opencv::Result<Self> {
        assert_eq!(key.len(), 3 * width * height);
        assert_eq!(lines.len(), width * height);
        let scale = width.max(height).div_ceil(SHIFT_SEARCH_SIZE).max(1);
        let ink = soft_ink(lines, width, height, scale)?;
        let mut window = Mat::default();
        // A frame (at the search's scale) one pixel high or wide has no window: its camera is
        // never searched for, the keyframe is compared with it unmoved.
        let size = ink.size()?;
        if size.width > 1 && size.height > 1 {
            opencv::imgproc::create_hanning_window(&mut window, size, opencv::core::CV_32F)?;
        }
        let lines: Vec<u8> = lines.iter().map(|&v| u8::from(v != 0)).collect();
        Ok(ShiftedHold {
            width,
            height,
            key,
            lines_near: dilate(&lines, width, height, SHIFT_TOLERANCE),
            lines,
            labels: labels_of(runs, width, height),
            scale,
            ink,
            window,
        })
    }

    /// The keyframe's line mask moved by `m` (bilinear, a line where more than half covers; none
    /// where the source point lies outside the frame) and that dilated by [`SHIFT_TOLERANCE`].
    fn moved_lines(&self, m: &Move) -> (Vec<u8>, Vec<u8>) {
        let moved = m.mask(&self.lines);
        let near = dilate(&moved, self.width, self.height, SHIFT_TOLERANCE);
        (moved, near)
    }

    /// The camera's move since the keyframe, to a frame whose line mask is `lines`
    /// (`lines_near`: dilated by [`SHIFT_TOLERANCE`]), with the keyframe's lines moved by it
    /// ([`Self::moved_lines`]): the phase correlation's shift when the moved keyframe lines
    /// mismatch a smaller share of the pixels they cover than the unmoved ones, else `None`
    /// (no move).
    #[allow(clippy::type_complexity)]
    fn shift(
        &self,
        lines: &[u8],
        lines_near: &[u8],
    ) -> opencv::Result<Option<(Move, Vec<u8>, Vec<u8>)>> {
        let (w, h) = (self.width, self.height);
        if self.window.empty() {
            return Ok(None);
        }
        // OpenCV multiplies its inputs by the window in place when their size needs no padding
        // for the DFT: the keyframe's ink goes in as a copy.
        let p = opencv::imgproc::phase_correlate(
            &self.ink.try_clone()?,
            &soft_ink(lines, w, h, self.scale)?,
            &self.window,
            None,
        )?;
        let d = (p.x * self.scale as f64, p.y * self.scale as f64);
        if !(d.0.is_finite() && d.1.is_finite()) || d == (0.0, 0.0) {
            return Ok(None);
        }
        // Share of the covered pixels (`m`: those whose source point is inside) where the lines
        // mismatch.
        let share = |moved: &[u8], near: &[u8], m: Option<&Move>| {
            let (xs, ys) = m.map_or((0..w, 0..h), |m| (m.xs.clone(), m.ys.clone()));
            let mut k = 0u64;
            for y in ys.clone() {
                let row = y * w + xs.start..y * w + xs.end;
                let bad = lines[row.clone()]
                    .iter()
                    .zip(&lines_near[row.clone()])
                    .zip(moved[row.clone()].iter().zip(&near[row]))
                    .filter(|((&a, &an), (&b, &bn))| (a != 0 && bn == 0) || (b != 0 && an == 0))
                    .count();
                k += bad as u64;
            }
            k as f64 / (xs.len() * ys.len()).max(1) as f64
        };
        let m = Move::new(w, h, d);
        let (moved, near) = self.moved_lines(&m);
        Ok(
            (share(&moved, &near, Some(&m)) < share(&self.lines, &self.lines_near, None))
                .then_some((m, moved, near)),
        )
    }

    /// [`Self::paint`], then the hold for the next frame: `None` when no pixel showed the
    /// keyframe (or the frame has another size).
    #[cfg(test)]
    pub(crate) fn follow(
        self,
        lines: &[u8],
        runs: &[Run],
        n: usize,
        width: usize,
        height: usize,
        px: &mut [f32],
    ) -> opencv::Result<Option<Self>> {
        Ok(self
            .paint(lines, runs, n, width, height, px)?
            .then_some(self))
    }

    /// Paints into `px` (the output, planar `3 × H × W`) the keyframe moved with the camera
    /// where a frame of `width × height`, whose line mask is `lines` and `fill` regions `runs`
    /// (labels `1..n`), still shows it ([`Self::plan`], then [`Self::apply`]): whether some
    /// pixel was painted. The keyframe is compared with each frame afresh, so it may be painted
    /// into frames before it too (the next keyframe moved back, offline: `tcvc-episode colorize
    /// --keyframe-backward`).
    pub(crate) fn paint(
        &self,
        lines: &[u8],
        runs: &[Run],
        n: usize,
        width: usize,
        height: usize,
        px: &mut [f32],
    ) -> opencv::Result<bool> {
        Ok(match self.plan(lines, runs, n, width, height)? {
            Some(shown) => {
                self.apply(&shown, px);
                true
            }
            None => false,
        })
    }

    /// The pixels of [`Self::paint`], found without touching the output (so that it can run
    /// beside [`Hold::follow`]); `None` when no pixel shows the keyframe.
    pub(crate) fn plan(
        &self,
        lines: &[u8],
        runs: &[Run],
        n: usize,
        width: usize,
        height: usize,
    ) -> opencv::Result<Option<Shown>> {
        if (width, height) != (self.width, self.height) || lines.len() != width * height {
            return Ok(None);
        }
        if lines
            .iter()
            .zip(&self.lines)
            .all(|(&a, &b)| (a != 0) == (b != 0))
        {
            // The keyframe's own line art: its regions too, every pixel shows the keyframe.
            return Ok(Some(Shown {
                all: true,
                m: None,
                show: Vec::new(),
            }));
        }
        let lines_near = dilate(lines, width, height, SHIFT_TOLERANCE);
        let moved = self.shift(lines, &lines_near)?;
        let near = match &moved {
            Some((_, moved, moved_near)) => mismatch(lines, &lines_near, moved, moved_near),
            None => mismatch(lines, &lines_near, &self.lines, &self.lines_near),
        };
        let near = dilate(&near, width, height, HOLD_REACH);
        let m = moved.map(|(m, _, _)| m);
        let moved_labels = m.as_ref().map(|m| m.labels(&self.labels));
        let key_labels = moved_labels.as_deref().unwrap_or(&self.labels);
        let follows = region_follows(runs, n, key_labels, width);
        let labels = labels_of(runs, width, height);
        let (xs, ys) = m
            .as_ref()
            .map_or((0..width, 0..height), |m| (m.xs.clone(), m.ys.clone()));
        let mut show = vec![0u8; width * height];
        let mut any = false;
        for y in ys {
            for x in xs.clone() {
                let i = y * width + x;
                let (a, b) = (labels[i], key_labels[i]);
                if near[i] == 0 && (a == 0 || b == 0 || follows[a as usize] == b) {
                    show[i] = 1;
                    any = true;
                }
            }
        }
        Ok(any.then_some(Shown {
            all: false,
            m,
            show,
        }))
    }

    /// Paints the pixels `shown` ([`Self::plan`]) with the keyframe, moved, into `px`.
    pub(crate) fn apply(&self, shown: &Shown, px: &mut [f32]) {
        if shown.all {
            px.copy_from_slice(&self.key);
            return;
        }
        let (w, plane) = (self.width, self.width * self.height);
        let key: [&[f32]; 3] = std::array::from_fn(|c| &self.key[c * plane..(c + 1) * plane]);
        for (y, row) in shown.show.chunks_exact(w).enumerate() {
            for (x, _) in row.iter().enumerate().filter(|(_, &v)| v != 0) {
                let i = y * w + x;
                match &shown.m {
                    Some(m) => {
                        let [a, b, c, d] = m.sources(x, y);
                        for (k, p) in key.iter().enumerate() {
                            px[k * plane + i] = m.mix(p[a], p[b], p[c], p[d]);
                        }
                    }
                    None => {
                        for (k, p) in key.iter().enumerate() {
                            px[k * plane + i] = p[i];
                        }
                    }
                }
            }
        }
    }
}

/// The pixels of a frame that show the moved keyframe ([`ShiftedHold::plan`]).
pub(crate) struct Shown {
    /// Every pixel, unmoved (the frame's line art is the keyframe's).
    all: bool,
    /// The camera's move (`None`: the keyframe unmoved) and the pixels shown (nonzero).
    m: Option<Move>,
    show: Vec<u8>,
}

/// `mask` (nonzero set) dilated by a square of side `2r + 1`, as 0/1: separable, each row ORed
/// with itself shifted by `1..=r` pixels either way, then the same with whole rows (ORs of
/// shifted slices, which the compiler vectorises: twice as fast as a running count at 720p).
pub(crate) fn dilate(mask: &[u8], width: usize, height: usize, r: usize) -> Vec<u8> {
    let bin: Vec<u8> = mask.iter().map(|&v| u8::from(v != 0)).collect();
    let mut horiz = bin.clone();
    for (src, dst) in bin.chunks_exact(width).zip(horiz.chunks_exact_mut(width)) {
        for s in 1..=r.min(width.saturating_sub(1)) {
            for (d, &v) in dst[..width - s].iter_mut().zip(&src[s..]) {
                *d |= v;
            }
            for (d, &v) in dst[s..].iter_mut().zip(&src[..width - s]) {
                *d |= v;
            }
        }
    }
    let mut out = horiz.clone();
    for s in 1..=r.min(height.saturating_sub(1)) {
        let n = (height - s) * width;
        for (d, &v) in out[..n].iter_mut().zip(&horiz[s * width..]) {
            *d |= v;
        }
        for (d, &v) in out[s * width..].iter_mut().zip(&horiz[..n]) {
            *d |= v;
        }
    }
    out
}

/// For each label `1..n` of `cur`, the label of `prev` it shares most pixels with (ties: the
/// smaller label) and how many, `(0, 0)` when it touches none. Both run lists in row-major order.
pub(crate) fn best_overlaps(cur: &[Run], n: usize, prev: &[Run]) -> Vec<(u32, u64)> {
    let mut pairs: Vec<(u32, u32, u64)> = Vec::new();
    let mut j = 0;
    let mut i = 0;
    while i < cur.len() {
        let y = cur[i].y;
        let row_end = i + cur[i..].iter().take_while(|r| r.y == y).count();
        while j < prev.len() && prev[j].y < y {
            j += 1;
        }
        let prow_end = j + prev[j..].iter().take_while(|r| r.y == y).count();
        let mut p = j;
        for a in &cur[i..row_end] {
            while p < prow_end && prev[p].x1 <= a.x0 {
                p += 1;
            }
            let mut q = p;
            while q < prow_end && prev[q].x0 < a.x1 {
                let b = &prev[q];
                let ov = a.x1.min(b.x1) - a.x0.max(b.x0);
                pairs.push((a.label, b.label, u64::from(ov)));
                q += 1;
            }
        }
        i = row_end;
        j = prow_end;
    }
    pairs.sort_unstable_by_key(|&(a, b, _)| (a, b));
    let mut best = vec![(0u32, 0u64); n];
    let mut k = 0;
    while k < pairs.len() {
        let (a, b, _) = pairs[k];
        let mut ov = 0;
        while k < pairs.len() && pairs[k].0 == a && pairs[k].1 == b {
            ov += pairs[k].2;
            k += 1;
        }
        let slot = &mut best[a as usize];
        if ov > slot.1 {
            *slot = (b, ov);
        }
    }
    best
}

/// Follows the carry into a new `fill` output of `width × height`: `runs` and `size` are its
/// regions (labels `1..n`, as for [`Carried`]), `colour` the network's fill per label, changed
/// in place where a region takes a carried colour. Returns the carry for the next frame (`None`
/// when no region carries a colour any more).
pub(crate) fn follow(
    last: Option<Carried>,
    width: usize,
    height: usize,
    runs: &[Run],
    size: &[u64],
    colour: &mut [[f64; 3]],
) -> Option<Carried> {
    let last = last.filter(|c| (c.width, c.height) == (width, height))?;
    let n = size.len();
    let best = best_overlaps(runs, n, &last.runs);
    let mut carried = vec![false; n];
    for a in 1..n {
        let (b, ov) = best[a];
        let b = b as usize;
        if ov == 0 || !last.carried[b] {
            continue;
        }
        let union = size[a] + last.size[b] - ov;
        if ov as f64 >= CARRY_IOU * union as f64 {
            colour[a] = last.colour[b];
            carried[a] = true;
        }
    }
    carried.iter().any(|&c| c).then(|| Carried {
        width,
        height,
        runs: runs.to_vec(),
        size: size.to_vec(),
        colour: colour.to_vec(),
        carried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stream::fill_runs_of;

    /// Labels (row-major, 0 = band) → runs, sizes.
    fn regions(labels: &[u32], w: usize) -> (Vec<Run>, Vec<u64>) {
        let runs = runs_of(labels, w);
        let n = labels.iter().copied().max().unwrap_or(0) as usize + 1;
        let size = region_sizes(&runs, n);
        (runs, size)
    }

    #[test]
    fn dilate_equals_a_brute_force_square() {
        let mut seed = 99u64;
        let sizes = [(23usize, 17usize), (1, 1), (1, 7), (7, 1), (2, 3), (40, 2)];
        for (w, h) in sizes {
            for (density, r) in [(2u64, 1usize), (5, 2), (10, 3), (1, 0), (30, 5)] {
                let mask: Vec<u8> = (0..w * h)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        // Any nonzero value is set.
                        if seed % 100 < density {
                            [1, 255, 7][(seed >> 40) as usize % 3]
                        } else {
                            0
                        }
                    })
                    .collect();
                let got = dilate(&mask, w, h, r);
                for y in 0..h {
                    for x in 0..w {
                        let want = (y.saturating_sub(r)..=(y + r).min(h - 1)).any(|yy| {
                            (x.saturating_sub(r)..=(x + r).min(w - 1))
                                .any(|xx| mask[yy * w + xx] != 0)
                        });
                        assert_eq!(got[y * w + x], u8::from(want), "{w}x{h} r {r} ({x}, {y})");
                    }
                }
            }
        }
    }

    #[test]
    fn hold_keeps_the_key_where_the_lines_did_not_change_and_lets_go_for_good() {
        let (w, h) = (12usize, 8usize);
        let plane = w * h;
        let key: Vec<f32> = (0..3 * plane).map(|i| (i % 7) as f32 / 7.0).collect();
        let mut lines = vec![0u8; plane];
        lines[3 * w + 2] = 1;
        // One region covering everything (the test is about the lines).
        let all_runs: Vec<Run> = (0..h as u32)
            .map(|y| Run {
                y,
                x0: 0,
                x1: w as u32,
                label: 1,
            })
            .collect();
        let hold = Hold::keyframe(w, h, key.clone().into(), lines.clone(), all_runs.clone());
        // Same lines: every pixel shows the key.
        let mut px = vec![0.5f32; 3 * plane];
        let hold = hold
            .follow(&lines, &all_runs, 2, w, h, &mut px)
            .expect("holding");
        assert_eq!(px, key);
        // The line moves from (2, 3) to (9, 3): pixels within 2 of either position let go.
        lines[3 * w + 2] = 0;
        lines[3 * w + 9] = 1;
        let mut px = vec![0.5f32; 3 * plane];
        let hold = hold
            .follow(&lines, &all_runs, 2, w, h, &mut px)
            .expect("still holding");
        let near = |x: usize, y: usize, cx: usize| x.abs_diff(cx) <= 2 && y.abs_diff(3) <= 2;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let let_go = near(x, y, 2) || near(x, y, 9);
                for c in 0..3 {
                    let want = if let_go { 0.5 } else { key[c * plane + i] };
                    assert_eq!(px[c * plane + i], want, "({x}, {y})");
                }
            }
        }
        // The line moves back: the pixels that let go do not hold again.
        lines[3 * w + 9] = 0;
        lines[3 * w + 2] = 1;
        let mut px = vec![0.5f32; 3 * plane];
        let hold = hold
            .follow(&lines, &all_runs, 2, w, h, &mut px)
            .expect("still holding");
        assert_eq!(px[3 * w + 2], 0.5);
        assert_eq!(px[0], key[0]);
        // Another size ends it; so does a frame whose every pixel is near a change.
        assert!(hold
            .clone()
            .follow(
                &lines,
                &all_runs,
                2,
                w,
                h + 1,
                &mut vec![0.0; 3 * w * (h + 1)]
            )
            .is_none());
        let all = vec![1u8; plane];
        assert!(hold.follow(&all, &all_runs, 2, w, h, &mut px).is_none());
    }

    #[test]
    fn a_move_samples_as_bilinear_interpolation_and_labels_as_the_nearest_pixel() {
        let (w, h) = (13usize, 9usize);
        let p: Vec<f32> = (0..w * h)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let labels: Vec<u32> = (0..w * h).map(|i| (i % 17) as u32).collect();
        for d in [
            (0.0, 0.0),
            (2.0, -3.0),
            (0.3, 0.7),
            (-1.25, 2.5),
            (-4.9, -0.01),
            (12.5, 0.0),
            (20.0, 1.0),
        ] {
            let m = Move::new(w, h, d);
            let plane = m.plane(&p);
            let moved = m.labels(&labels);
            // A mask moves as the plane of its 0/1 values, thresholded at one half.
            let mask: Vec<u8> = p.iter().map(|&v| u8::from(v > 0.4) * 255).collect();
            let bits: Vec<f32> = mask.iter().map(|&v| f32::from(u8::from(v != 0))).collect();
            let want_mask: Vec<u8> = m.plane(&bits).iter().map(|&v| u8::from(v > 0.5)).collect();
            assert_eq!(m.mask(&mask), want_mask, "{d:?}");
            for y in 0..h {
                for x in 0..w {
                    let (sx, sy) = (x as f64 - d.0, y as f64 - d.1);
                    let inside =
                        sx >= 0.0 && sy >= 0.0 && sx <= (w - 1) as f64 && sy <= (h - 1) as f64;
                    let want = if inside {
                        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
                        let v = |x: usize, y: usize| f64::from(p[y * w + x]);
                        (v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx) * (1.0 - fy)
                            + (v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx) * fy
                    } else {
                        0.0
                    };
                    let got = f64::from(plane[y * w + x]);
                    assert!(
                        (got - want).abs() < 1e-5,
                        "{d:?} ({x}, {y}): {got} against {want}"
                    );
                    assert_eq!(
                        m.xs.contains(&x) && m.ys.contains(&y),
                        inside,
                        "{d:?} ({x}, {y})"
                    );
                    let (rx, ry) = ((sx + 0.5).floor(), (sy + 0.5).floor());
                    let want =
                        if rx >= 0.0 && ry >= 0.0 && rx <= (w - 1) as f64 && ry <= (h - 1) as f64 {
                            labels[ry as usize * w + rx as usize]
                        } else {
                            0
                        };
                    assert_eq!(moved[y * w + x], want, "{d:?} ({x}, {y}) label");
                }
            }
        }
    }

    /// A drawn world of flat colours and 2-pixel outlines (boxes and a ring on a wall) and its
    /// line mask, `ww × wh`.
    fn drawn_world(ww: usize, wh: usize) -> (Vec<[f32; 3]>, Vec<u8>) {
        let mut rgb = vec![[0.85f32, 0.8, 0.7]; ww * wh];
        let mut lines = vec![0u8; ww * wh];
        let boxes = [
            (10, 12, 50, 40, [0.2, 0.5, 0.9]),
            (70, 30, 120, 70, [0.9, 0.3, 0.2]),
            (25, 60, 60, 95, [0.3, 0.8, 0.3]),
            (100, 85, 150, 110, [0.8, 0.8, 0.1]),
        ];
        for (x0, y0, x1, y1, c) in boxes {
            for y in y0..y1 {
                for x in x0..x1 {
                    let edge = x < x0 + 2 || x >= x1 - 2 || y < y0 + 2 || y >= y1 - 2;
                    rgb[y * ww + x] = if edge { [0.05; 3] } else { c };
                    lines[y * ww + x] = u8::from(edge);
                }
            }
        }
        for y in 0..wh {
            for x in 0..ww {
                let r = ((x as f64 - 140.0).powi(2) + (y as f64 - 35.0).powi(2)).sqrt();
                if (r - 14.0).abs() < 1.0 {
                    rgb[y * ww + x] = [0.05; 3];
                    lines[y * ww + x] = 1;
                } else if r < 13.0 {
                    rgb[y * ww + x] = [0.6, 0.2, 0.7];
                }
            }
        }
        (rgb, lines)
    }

    /// The `w × h` window of a world at `(ox, oy)`: planar RGB and its line mask.
    fn window(
        world: &(Vec<[f32; 3]>, Vec<u8>),
        ww: usize,
        (ox, oy): (usize, usize),
        w: usize,
        h: usize,
    ) -> (Vec<f32>, Vec<u8>) {
        let mut px = vec![0f32; 3 * w * h];
        let mut lines = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let s = (y + oy) * ww + x + ox;
                for c in 0..3 {
                    px[c * w * h + y * w + x] = world.0[s][c];
                }
                lines[y * w + x] = world.1[s];
            }
        }
        (px, lines)
    }

    #[test]
    fn the_moved_keyframe_follows_a_pan_and_not_a_region_that_moved_onto_the_wall() {
        let (ww, wh, w, h) = (170usize, 130usize, 140usize, 100usize);
        let world = drawn_world(ww, wh);
        let plane = w * h;
        let (key, key_lines) = window(&world, ww, (10, 12), w, h);
        let (key_runs, _, _) = fill_runs_of(&key_lines, w, h);
        let hold = ShiftedHold::keyframe(w, h, key.clone().into(), &key_lines, &key_runs).unwrap();
        // The keyframe's own line art: every pixel shows it.
        let mut px = vec![-1f32; 3 * plane];
        let (runs, n, _) = fill_runs_of(&key_lines, w, h);
        let hold = hold
            .follow(&key_lines, &runs, n, w, h, &mut px)
            .unwrap()
            .expect("holding");
        assert_eq!(px, key);
        // The camera pans by (−6, +4): the frame shows the world at (16, 8), the keyframe's
        // point (x, y) at (x − 6, y + 4). A drawn box (a character) stands on the wall at the
        // same place of the frame, where the keyframe showed the wall.
        let (mut frame, mut lines) = window(&world, ww, (16, 8), w, h);
        let character = (20..36, 60..80);
        for y in character.1.clone() {
            for x in character.0.clone() {
                let i = y * w + x;
                let edge = !(22..34).contains(&x) || !(62..78).contains(&y);
                lines[i] = u8::from(edge);
                for (c, v) in [0.1f32, 0.1, 0.4].iter().enumerate() {
                    frame[c * plane + i] = if edge { 0.05 } else { *v };
                }
            }
        }
        let (runs, n, _) = fill_runs_of(&lines, w, h);
        let near = dilate(&lines, w, h, SHIFT_TOLERANCE);
        let (m, _, _) = hold.shift(&lines, &near).unwrap().expect("a move");
        let d = (
            -m.kx as f64 - f64::from(m.fx),
            -m.ky as f64 - f64::from(m.fy),
        );
        assert!((d.0 + 6.0).abs() < 0.1 && (d.1 - 4.0).abs() < 0.1, "{d:?}");
        let mut px = vec![-1f32; 3 * plane];
        let _ = hold
            .follow(&lines, &runs, n, w, h, &mut px)
            .unwrap()
            .expect("holding");
        let (mut shown, mut inside, mut err) = (0, 0, 0.0);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let in_character = character.0.contains(&x) && character.1.contains(&y);
                if px[i] < 0.0 {
                    continue;
                }
                // A painted pixel shows what the frame shows there, the keyframe moved (by a
                // move found to a tenth of a pixel: a pixel beside another colour may blend a
                // little).
                for c in 0..3 {
                    let (got, want) = (px[c * plane + i], frame[c * plane + i]);
                    assert!(
                        (got - want).abs() < 0.1,
                        "({x}, {y}) {c}: {got} against {want}"
                    );
                    err += f64::from((got - want).abs());
                }
                assert!(!in_character, "({x}, {y}): the character is not the wall");
                shown += 1;
                // Away from the frame's edges by more than the move and from the character.
                if (8..w - 8).contains(&x) && (8..h - 8).contains(&y) {
                    inside += 1;
                }
            }
        }
        let away = (w - 16) * (h - 16) - 16 * 20;
        assert!(
            inside * 10 > away * 8,
            "{inside} of {away} pixels show the moved keyframe"
        );
        let mean = err / (3 * shown) as f64;
        assert!(mean < 0.005, "mean error {mean}");
    }

    #[test]
    fn a_frame_one_pixel_high_or_wide_is_compared_unmoved() {
        for (w, h) in [(9usize, 1usize), (1, 9), (1, 1), (1300, 1)] {
            let plane = w * h;
            let key: Vec<f32> = (0..3 * plane).map(|i| (i % 5) as f32 / 5.0).collect();
            let mut lines = vec![0u8; plane];
            lines[plane / 2] = 1;
            let (runs, n, _) = fill_runs_of(&lines, w, h);
            let hold = ShiftedHold::keyframe(w, h, key.clone().into(), &lines, &runs).unwrap();
            let mut px = vec![-1f32; 3 * plane];
            let hold = hold
                .follow(&lines, &runs, n, w, h, &mut px)
                .unwrap()
                .expect("its own line art");
            assert_eq!(px, key);
            // Another line: no move is searched for, the pixels far from both lines hold.
            let mut moved = vec![0u8; plane];
            moved[0] = 1;
            let (runs, n, _) = fill_runs_of(&moved, w, h);
            let mut px = vec![-1f32; 3 * plane];
            let _ = hold.follow(&moved, &runs, n, w, h, &mut px).unwrap();
        }
    }

    #[test]
    fn best_overlaps_count_shared_pixels_and_break_ties_by_the_smaller_label() {
        let w = 6;
        #[rustfmt::skip]
        let prev = [
            1, 1, 1, 2, 2, 2,
            1, 1, 1, 2, 2, 2,
            3, 3, 3, 3, 3, 3,
        ];
        #[rustfmt::skip]
        let cur = [
            1, 1, 1, 1, 0, 2,
            1, 1, 0, 2, 2, 2,
            1, 1, 1, 0, 3, 3,
        ];
        let (pr, _) = regions(&prev, w);
        let (cr, cs) = regions(&cur, w);
        let best = best_overlaps(&cr, cs.len(), &pr);
        // Brute force over pixels.
        for a in 1..cs.len() as u32 {
            let mut counts = [0u64; 4];
            for (i, &l) in cur.iter().enumerate() {
                if l == a && prev[i] != 0 {
                    counts[prev[i] as usize] += 1;
                }
            }
            let max = *counts.iter().max().unwrap();
            let b = counts.iter().position(|&c| c == max).unwrap() as u32;
            assert_eq!(best[a as usize], (b, max), "region {a}");
        }
        // Region 1 shares 5 pixels with 1, 3 with 3 and 1 with 2; region 2 all 4 with 2.
        assert_eq!(best[1], (1, 5));
        assert_eq!(best[2], (2, 4));
        assert_eq!(best[3], (3, 2));
    }

    #[test]
    fn follow_carries_colours_over_matching_regions_only() {
        let w = 8;
        // Frame 0: left block (1) and right block (2) of a keyframe.
        #[rustfmt::skip]
        let key = [
            1, 1, 1, 0, 2, 2, 2, 2,
            1, 1, 1, 0, 2, 2, 2, 2,
            1, 1, 1, 0, 2, 2, 2, 2,
        ];
        let (kr, ks) = regions(&key, w);
        let red = [1.0, 0.0, 0.0];
        let blue = [0.0, 0.0, 1.0];
        let c = Carried::keyframe(w, 3, kr, ks, vec![[0.0; 3], red, blue]).unwrap();
        // Frame 1: the left block moved one pixel right (IoU 6/12 = 0.5: carried), the right
        // block split into two slivers (IoU 3/12 = 0.25 each: both carried).
        #[rustfmt::skip]
        let next = [
            0, 1, 1, 1, 0, 3, 2, 0,
            0, 1, 1, 1, 0, 3, 2, 0,
            0, 1, 1, 1, 0, 3, 2, 0,
        ];
        let (nr, ns) = regions(&next, w);
        let net = [0.5, 0.5, 0.5];
        let mut colour = vec![[0.0; 3], net, net, net];
        let c = follow(Some(c), w, 3, &nr, &ns, &mut colour).expect("still carrying");
        assert_eq!(colour[1], red, "moved block");
        assert_eq!(colour[2], blue, "sliver of the right block: IoU 3 / 12");
        assert_eq!(colour[3], blue, "other sliver: IoU 3 / 12");
        // Frame 2: one region covering everything: IoU with region 1 is 9 / 24 ≥ 0.2.
        let all = [1u32; 24];
        let (ar, asz) = regions(&all, w);
        let mut colour = vec![[0.0; 3], net];
        let c = follow(Some(c), w, 3, &ar, &asz, &mut colour);
        assert!(c.is_some());
        assert_eq!(colour[1], red);
        // Below the threshold: a region of 24 pixels sharing 3 with a carried 3-pixel region.
        let tiny = [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0,
        ];
        let (tr, ts) = regions(&tiny, w);
        let t = Carried::keyframe(w, 3, tr, ts, vec![[0.0; 3], red]).unwrap();
        let mut colour = vec![[0.0; 3], net];
        assert!(follow(Some(t), w, 3, &ar, &asz, &mut colour).is_none());
        assert_eq!(colour[1], net, "IoU 3 / 24 < 0.2: the network's colour");
        // Another size: nothing is carried.
        let c = Carried::keyframe(
            w,
            3,
            regions(&key, w).0,
            regions(&key, w).1,
            vec![[0.0; 3], red, blue],
        );
        let mut colour = vec![[0.0; 3], net];
        assert!(follow(c, w, 4, &ar, &asz, &mut colour).is_none());
        assert_eq!(colour[1], net);
    }

    #[test]
    fn best_overlaps_agree_with_pixel_counts_on_real_line_masks() {
        // Two random line drawings' regions: the run sweep against a count over pixels.
        let (w, h) = (53usize, 37usize);
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut mask = |density: u64| -> Vec<u8> {
            (0..w * h)
                .map(|_| u8::from(rnd() % 100 < density))
                .collect()
        };
        for density in [3, 8, 15] {
            let (a_runs, na, a_labels) = fill_runs_of(&mask(density), w, h);
            let (b_runs, _, b_labels) = fill_runs_of(&mask(density), w, h);
            let best = best_overlaps(&a_runs, na, &b_runs);
            for a in 1..na as u32 {
                let mut counts = std::collections::BTreeMap::new();
                for i in 0..w * h {
                    if a_labels[i] == a && b_labels[i] != 0 {
                        *counts.entry(b_labels[i]).or_insert(0u64) += 1;
                    }
                }
                let want = counts
                    .iter()
                    .fold((0u32, 0u64), |m, (&b, &c)| if c > m.1 { (b, c) } else { m });
                assert_eq!(best[a as usize], want, "density {density}, region {a}");
            }
        }
    }
}
