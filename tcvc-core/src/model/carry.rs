// SPDX-License-Identifier: MIT
//! Keyframe carry: an artist keyframe's pixels and colours kept in the `fill` output of the
//! frames that follow it.
//!
//! With an artist keyframe the network gets the artist's frame as its previous frame, and its
//! output drifts away from the artist's colours within a few frames (the chain is the network's
//! guess, not a copy). Cel animation does not repaint what did not move: the carry keeps the
//! artist's work exactly, in two ways. [`Hold`]: a pixel keeps the keyframe's value while the
//! line art within [`HOLD_REACH`] of it has not changed since the keyframe and its region follows
//! the region it was in. [`Carried`]: elsewhere, the keyframe's regions (the `fill` regions of its own line art,
//! [`super::stream::fill_labels`]) take the keyframe's mean colour over each of them; in each
//! later frame, a region whose best-overlapping region of the frame before (the one it shares
//! most pixels with) carries a keyframe colour and overlaps it by an intersection over union of
//! at least [`CARRY_IOU`] takes that colour and carries it on. Every other region gets the
//! network's fill, as without the carry. Regions that split keep the colour on both parts; a
//! region that moves further than its own size in one frame, or appears, is the network's. A
//! reset of the chain (cut, flush, new stream) ends the carry; the next keyframe starts a new one.
//!
//! Only the `fill` output has regions: in the other output modes nothing is carried. While some
//! region carries a keyframe colour, [`super::stream::StreamColorizer::compose`] makes the output
//! (at working size, [`super::stream::carried_previous`]) the network's next previous frame, so
//! that the network sees the artist's colours rather than its own drift.

use super::stream::Run;

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
    /// The keyframe at the frame size, planar `3 × H × W`, `[0, 1]`.
    key: Vec<f32>,
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
        key: Vec<f32>,
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

/// `mask` (nonzero set) dilated by a square of side `2r + 1`: separable, a running count along
/// each row, then the OR of `2r + 1` rows.
pub(crate) fn dilate(mask: &[u8], width: usize, height: usize, r: usize) -> Vec<u8> {
    let mut horiz = vec![0u8; width * height];
    for (row, dst) in mask.chunks_exact(width).zip(horiz.chunks_exact_mut(width)) {
        // Set values in [x - r, x + r] as x moves along the row.
        let mut count = row[..r.min(width)].iter().filter(|&&v| v != 0).count();
        for x in 0..width {
            if x + r < width {
                count += usize::from(row[x + r] != 0);
            }
            dst[x] = u8::from(count > 0);
            if x >= r {
                count -= usize::from(row[x - r] != 0);
            }
        }
    }
    let mut out = vec![0u8; width * height];
    for y in 0..height {
        let dst = &mut out[y * width..(y + 1) * width];
        for yy in y.saturating_sub(r)..=(y + r).min(height - 1) {
            for (d, &v) in dst.iter_mut().zip(&horiz[yy * width..(yy + 1) * width]) {
                *d |= v;
            }
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
        let mut runs = Vec::new();
        let n = labels.iter().copied().max().unwrap_or(0) as usize + 1;
        let mut size = vec![0u64; n];
        for (y, row) in labels.chunks_exact(w).enumerate() {
            let mut x = 0;
            while x < w {
                let l = row[x];
                let x0 = x;
                while x < w && row[x] == l {
                    x += 1;
                }
                size[l as usize] += (x - x0) as u64;
                if l != 0 {
                    runs.push(Run {
                        y: y as u32,
                        x0: x0 as u32,
                        x1: x as u32,
                        label: l,
                    });
                }
            }
        }
        (runs, size)
    }

    #[test]
    fn dilate_equals_a_brute_force_square() {
        let (w, h) = (23usize, 17usize);
        let mut seed = 99u64;
        for (density, r) in [(2u64, 1usize), (5, 2), (10, 3), (1, 0)] {
            let mask: Vec<u8> = (0..w * h)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    u8::from(seed % 100 < density)
                })
                .collect();
            let got = dilate(&mask, w, h, r);
            for y in 0..h {
                for x in 0..w {
                    let want = (y.saturating_sub(r)..=(y + r).min(h - 1)).any(|yy| {
                        (x.saturating_sub(r)..=(x + r).min(w - 1)).any(|xx| mask[yy * w + xx] != 0)
                    });
                    assert_eq!(got[y * w + x] != 0, want, "r {r} ({x}, {y})");
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
        let hold = Hold::keyframe(w, h, key.clone(), lines.clone(), all_runs.clone());
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
