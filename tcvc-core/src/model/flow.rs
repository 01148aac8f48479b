// SPDX-License-Identifier: MIT
//! The keyframe carry's fourth step ([`super::carry`]): inside a shot, from an artist keyframe
//! on, each frame shows the frame before it moved along the optical flow between the two
//! frames' line art, where that flow is trustworthy.
//!
//! The carry's other steps follow the keyframe as a whole (held pixels, the camera's shift) or
//! region by region (colours of the regions that follow the keyframe's). A character who walks
//! across a still background is none of these: its regions move further than their own size or
//! change shape, and the network paints them. Here every pixel of the frame takes the value of
//! the point of the frame before that the flow says it came from: OpenCV's DIS optical flow
//! ([`FLOW_PRESET`]) from this frame's softened line mask to the last one's, searched at most
//! [`FLOW_SEARCH_SIZE`] pixels wide or high. Pixels on the `fill` band (the lines and the pixel
//! around them) keep the other steps' value, and so do pixels whose flow does not come back:
//! the flow from the last frame to this one, read where this pixel's flow lands, misses the
//! pixel by [`FLOW_MISS`] or more (occlusions, things that appear), lands outside the frame
//! (what a pan brings into view: the edge would smear inwards) or reads a line pixel of the
//! frame before (the network's values there would leave dark trails along the lines). The moved
//! frame is the next frame's "frame before", so that a colour travels with its line art along
//! the shot.
//!
//! Built into the carry (its output is also the network's next previous frame), the originals
//! as keys every 24 frames: the corpus's validation and 100-frame clips of two renderings
//! +0.47 and +0.89 dB over the carry's other three steps, its test clips +0.27, every clip
//! higher; with the first frame as the only key, 12 of 14 clips higher (docs/colorize.md,
//! docs/model-card.md stage 16).

use super::carry::{dilate, shrink_and_soften};
use opencv::core::{Mat, Scalar, Vec2f, CV_32F, CV_8U};
use opencv::prelude::*;
use opencv::video::DISOpticalFlow;

/// The forward–backward miss, in pixels of the full-size frame, at and beyond which a pixel is
/// not moved along the flow (the prototype's `tools/experiments/flow-carry.py --fb`).
pub const FLOW_MISS: f32 = 3.0;

/// The largest side of the images the flow is searched in: a larger frame is averaged down by a
/// whole factor first (1280×720 by 3); the flow found is scaled back up. DIS's cost grows with
/// the pixel count (MEDIUM, one thread: 13.8 ms at 384×216, 45 at 640×360, 176 at 1280×720).
pub const FLOW_SEARCH_SIZE: usize = 480;

/// DIS's preset: MEDIUM (in the prototype FAST was four times cheaper and kept less than half
/// of the gain on the corpus's seed 0 clips: +0.15 against +0.35 dB).
pub const FLOW_PRESET: i32 = opencv::video::DISOpticalFlow_PRESET_MEDIUM;

/// The smallest side of a search image the flow runs on (OpenCV's DIS needs 12 pixels on one
/// side; its patches are 8 wide): a smaller frame has no flow step.
pub const FLOW_MIN_SIDE: usize = 16;

/// The Gaussian σ (search pixels) that softens the line mask before the search: thin lines
/// give the search's gradients a reach of a few pixels.
const FLOW_BLUR: f64 = 1.5;

/// The last output of a carrying shot and what its flow is searched from.
pub(crate) struct FlowHold {
    width: usize,
    height: usize,
    /// The whole factor the search images are averaged down by.
    scale: usize,
    /// The last frame's search image (`CV_8U`, averaged down by `scale`).
    image: Mat,
    /// The last frame's line mask (nonzero on a line).
    lines: Vec<u8>,
    /// The last frame's output, planar `3 × H × W` in `[0, 1]`.
    out: Vec<f32>,
    /// The buffers of the last frame's [`Flowed`], for the next one.
    spare: Option<(Vec<f32>, Vec<bool>, Vec<u8>)>,
}

impl std::fmt::Debug for FlowHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowHold")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}

/// What [`FlowHold::plan`] found for a frame: each pixel's value moved from the last output and
/// whether it takes it; this frame's search image and line mask, for the next frame.
pub(crate) struct Flowed {
    moved: Vec<f32>,
    take: Vec<bool>,
    image: Mat,
    lines: Vec<u8>,
}

impl Flowed {
    /// Whether pixel `i` takes the moved value.
    pub(crate) fn takes(&self, i: usize) -> bool {
        self.take[i]
    }
}

/// The whole factor a `width × height` frame is averaged down by for the search.
fn search_scale(width: usize, height: usize) -> usize {
    width.max(height).div_ceil(FLOW_SEARCH_SIZE).max(1)
}

/// A `rows × cols` image of type `typ`, zero.
fn zeros(rows: usize, cols: usize, typ: i32) -> opencv::Result<Mat> {
    Mat::new_rows_cols_with_default(rows as i32, cols as i32, typ, Scalar::all(0.0))
}

/// The search image of a line mask (nonzero on a line): black lines on white (as `tcvclineart`
/// draws them), averaged down by `scale`, softened by [`FLOW_BLUR`].
fn search_image(mask: &[u8], width: usize, height: usize, scale: usize) -> opencv::Result<Mat> {
    let mut m = zeros(height, width, CV_8U)?;
    for (d, &v) in m.data_typed_mut::<u8>()?.iter_mut().zip(mask) {
        *d = if v != 0 { 0 } else { 255 };
    }
    shrink_and_soften(&m, width, height, scale, FLOW_BLUR)
}

/// The sampling maps `(x + sx · f_x, y + sy · f_y)` of a flow `f` (`CV_32FC2`, in its own
/// pixels), as two `CV_32F` images.
fn maps(flow: &Mat, sx: f32, sy: f32) -> opencv::Result<(Mat, Mat)> {
    let (rows, cols) = (flow.rows() as usize, flow.cols() as usize);
    let mut mx = zeros(rows, cols, CV_32F)?;
    let mut my = zeros(rows, cols, CV_32F)?;
    let f = flow.data_typed::<Vec2f>()?;
    for (i, (x, v)) in mx.data_typed_mut::<f32>()?.iter_mut().zip(f).enumerate() {
        *x = (i % cols) as f32 + v[0] * sx;
    }
    for (i, (y, v)) in my.data_typed_mut::<f32>()?.iter_mut().zip(f).enumerate() {
        *y = (i / cols) as f32 + v[1] * sy;
    }
    Ok((mx, my))
}

/// `src` sampled at `(mx, my)`, bilinear, the border replicated.
fn remap(src: &impl opencv::core::ToInputArray, mx: &Mat, my: &Mat) -> opencv::Result<Mat> {
    let mut out = Mat::default();
    opencv::imgproc::remap(
        src,
        &mut out,
        mx,
        my,
        opencv::imgproc::INTER_LINEAR,
        opencv::core::BORDER_REPLICATE,
        Scalar::default(),
    )?;
    Ok(out)
}

/// For each of `n` output pixels along one axis, the two source pixels of `m` and the weight
/// of the second in OpenCV's bilinear `resize` from `m` to `n` pixels (centres aligned, the
/// edge replicated).
fn resize_taps(n: usize, m: usize) -> Vec<(usize, usize, f32)> {
    let scale = m as f64 / n as f64;
    (0..n)
        .map(|d| {
            let f = (d as f64 + 0.5) * scale - 0.5;
            let s = f.floor();
            let a = (f - s) as f32;
            if s < 0.0 {
                (0, 0, 0.0)
            } else if s as usize >= m - 1 {
                (m - 1, m - 1, 0.0)
            } else {
                (s as usize, s as usize + 1, a)
            }
        })
        .collect()
}

impl FlowHold {
    /// The carry of an artist keyframe: its pixels `key` (planar `3 × H × W`, `[0, 1]`) on the
    /// frame of line mask `mask`. `None` when the frame's search image would be smaller than
    /// [`FLOW_MIN_SIDE`] on a side.
    pub(crate) fn keyframe(
        width: usize,
        height: usize,
        key: Vec<f32>,
        mask: &[u8],
    ) -> opencv::Result<Option<Self>> {
        assert_eq!(key.len(), 3 * width * height);
        assert_eq!(mask.len(), width * height);
        let scale = search_scale(width, height);
        if (width / scale).min(height / scale) < FLOW_MIN_SIDE {
            return Ok(None);
        }
        Ok(Some(FlowHold {
            width,
            height,
            scale,
            image: search_image(mask, width, height, scale)?,
            lines: mask.to_vec(),
            out: key,
            spare: None,
        }))
    }

    /// The last output moved along the flow from this frame (line mask `mask`, the frame's
    /// size) to the last one, and the pixels that take it: off the band, where the flow comes
    /// back, lands inside the frame and reads no pixel of the last frame's lines (the bilinear
    /// sample's four pixels). Touches no output: [`FlowHold::paint`] paints it. `None` when the
    /// frame has another size. Its buffers are those of the frame before, which
    /// [`FlowHold::remember`] hands back.
    pub(crate) fn plan(&mut self, mask: &[u8]) -> opencv::Result<Option<Flowed>> {
        let (w, h, k) = (self.width, self.height, self.scale);
        if mask.len() != w * h {
            return Ok(None);
        }
        let image = search_image(mask, w, h, k)?;
        let (fw, comes_back) = self.search(&image)?;
        let (mut moved, mut take, mut lines) = self.spare.take().unwrap_or_default();
        self.move_along(&fw, &comes_back, mask, &mut moved, &mut take)?;
        lines.clear();
        lines.extend_from_slice(mask);
        Ok(Some(Flowed {
            moved,
            take,
            image,
            lines,
        }))
    }

    /// The flow from this frame's search image `image` to the last one's (`CV_32FC2`, search
    /// pixels), and whether it comes back at each search pixel: the flow from the last frame,
    /// read where it lands, misses the pixel by less than [`FLOW_MISS`] full-size pixels.
    fn search(&self, image: &Mat) -> opencv::Result<(Mat, Vec<bool>)> {
        let mut dis = DISOpticalFlow::create(FLOW_PRESET)?;
        let (mut fw, mut back) = (Mat::default(), Mat::default());
        dis.calc(image, &self.image, &mut fw)?;
        dis.calc(&self.image, image, &mut back)?;
        let (mx, my) = maps(&fw, 1.0, 1.0)?;
        let back_at = remap(&back, &mx, &my)?;
        let (sx, sy) = (
            self.width as f32 / fw.cols() as f32,
            self.height as f32 / fw.rows() as f32,
        );
        let comes_back = fw
            .data_typed::<Vec2f>()?
            .iter()
            .zip(back_at.data_typed::<Vec2f>()?)
            .map(|(f, b)| ((f[0] + b[0]) * sx).hypot((f[1] + b[1]) * sy) < FLOW_MISS)
            .collect();
        Ok((fw, comes_back))
    }

    /// The last output moved along the search-size flow `fw` into `moved` (planar, the frame's
    /// size) where a pixel takes it (`take`): off the band of line mask `mask`, where the flow
    /// comes back (`comes_back`, at the pixel's nearest search pixel) and [`FlowHold::source`]
    /// allows. One pass: the flow enlarged as OpenCV's bilinear `resize` would (its taps per
    /// column and row), the output sampled as `remap` would (bilinear, without its 1/32-pixel
    /// rounding) only where a pixel takes it; `moved` keeps its old values elsewhere.
    fn move_along(
        &self,
        fw: &Mat,
        comes_back: &[bool],
        mask: &[u8],
        moved: &mut Vec<f32>,
        take: &mut Vec<bool>,
    ) -> opencv::Result<()> {
        let (w, h) = (self.width, self.height);
        let (sw, sh) = (fw.cols() as usize, fw.rows() as usize);
        let flow = fw.data_typed::<Vec2f>()?;
        let (sx, sy) = (w as f32 / sw as f32, h as f32 / sh as f32);
        // Each pixel's search pixel (nearest) for the check, and its bilinear taps for the flow.
        let nearest = |n: usize, s: f32, m: usize| -> Vec<usize> {
            (0..n)
                .map(|x| (((x as f32 + 0.5) / s) as usize).min(m - 1))
                .collect()
        };
        let (near_x, near_y) = (nearest(w, sx, sw), nearest(h, sy, sh));
        let (taps_x, taps_y) = (resize_taps(w, sw), resize_taps(h, sh));
        let band = dilate(mask, w, h, 1);
        let plane = w * h;
        moved.resize(3 * plane, 0.0);
        take.clear();
        take.resize(plane, false);
        let src: Vec<&[f32]> = self.out.chunks_exact(plane).collect();
        let (m0, rest) = moved.split_at_mut(plane);
        let (m1, m2) = rest.split_at_mut(plane);
        // The flow of one row: the two search rows mixed, then each pixel's two columns.
        let mut row_flow = vec![[0f32; 2]; sw];
        for y in 0..h {
            let (r0, r1, b) = taps_y[y];
            for ((f, u), v) in row_flow
                .iter_mut()
                .zip(&flow[r0 * sw..][..sw])
                .zip(&flow[r1 * sw..][..sw])
            {
                *f = [u[0] + (v[0] - u[0]) * b, u[1] + (v[1] - u[1]) * b];
            }
            let back_row = &comes_back[near_y[y] * sw..][..sw];
            let at = y * w;
            let rows = (&band[at..][..w], &mut take[at..][..w]);
            for (x, (&line, t)) in rows.0.iter().zip(rows.1.iter_mut()).enumerate() {
                if line != 0 || !back_row[near_x[x]] {
                    continue;
                }
                let (c0, c1, a) = taps_x[x];
                let (u, v) = (row_flow[c0], row_flow[c1]);
                let px = x as f32 + (u[0] + (v[0] - u[0]) * a) * sx;
                let py = y as f32 + (u[1] + (v[1] - u[1]) * a) * sy;
                let Some(([i00, i01, i10, i11], fx, fy)) = self.source(px, py) else {
                    continue;
                };
                *t = true;
                let sample = |o: &[f32]| {
                    let top = o[i00] + (o[i01] - o[i00]) * fx;
                    let bottom = o[i10] + (o[i11] - o[i10]) * fx;
                    top + (bottom - top) * fy
                };
                m0[at + x] = sample(src[0]);
                m1[at + x] = sample(src[1]);
                m2[at + x] = sample(src[2]);
            }
        }
        Ok(())
    }

    /// The bilinear sample of the last frame at `(x, y)`: its four pixels' indices (top left,
    /// top right, bottom left, bottom right, the border replicated) and the weights towards the
    /// right and the bottom, when the point lies inside the frame and none of the four is a
    /// pixel of the last frame's lines (whose values are the network's, not a fill's: moved
    /// off the band, they leave dark trails along the lines over a long shot).
    fn source(&self, x: f32, y: f32) -> Option<([usize; 4], f32, f32)> {
        let (w, h) = (self.width, self.height);
        if !(x >= 0.0 && y >= 0.0 && x <= (w - 1) as f32 && y <= (h - 1) as f32) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let at = [y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1];
        let l = &self.lines;
        at.iter()
            .all(|&i| l[i] == 0)
            .then_some((at, x - x0 as f32, y - y0 as f32))
    }

    /// Paints `flowed` ([`FlowHold::plan`]) into `px` (planar `3 × H × W`: the output of its
    /// frame) where it takes the moved value.
    pub(crate) fn paint(&self, flowed: &Flowed, px: &mut [f32]) {
        let plane = self.width * self.height;
        for (dst, src) in px
            .chunks_exact_mut(plane)
            .zip(flowed.moved.chunks_exact(plane))
        {
            for ((d, &s), &t) in dst.iter_mut().zip(src).zip(&flowed.take) {
                if t {
                    *d = s;
                }
            }
        }
    }

    /// Keeps the frame's output `px` (clamped to `[0, 1]`, as the output is) and its search
    /// image and line mask ([`FlowHold::plan`]) for the next frame.
    pub(crate) fn remember(&mut self, flowed: Flowed, px: &[f32]) {
        for (o, &p) in self.out.iter_mut().zip(px) {
            *o = p.clamp(0.0, 1.0);
        }
        self.image = flowed.image;
        let lines = std::mem::replace(&mut self.lines, flowed.lines);
        self.spare = Some((flowed.moved, flowed.take, lines));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 96;
    const H: usize = 64;

    /// A line mask with the outline (1 pixel) of the `side × side` square at `(x0, y0)` and
    /// a few fixed lines elsewhere (for the search to hold on to), and the planar RGB picture
    /// that paints the square's inside red and the rest blue.
    fn scene(x0: usize, y0: usize, side: usize) -> (Vec<u8>, Vec<f32>) {
        let mut mask = vec![0u8; W * H];
        let mut px = vec![0f32; 3 * W * H];
        for y in 0..H {
            for x in 0..W {
                let (inside_x, inside_y) = (x >= x0 && x < x0 + side, y >= y0 && y < y0 + side);
                let edge = inside_x
                    && inside_y
                    && (x == x0 || x == x0 + side - 1 || y == y0 || y == y0 + side - 1);
                let i = y * W + x;
                mask[i] = u8::from(edge || (x == 80 && y > 8 && y < 56) || (y == 58 && x > 4));
                let red = inside_x && inside_y;
                px[i] = if red { 0.9 } else { 0.1 };
                px[2 * W * H + i] = if red { 0.1 } else { 0.8 };
                px[W * H + i] = 0.2;
            }
        }
        (mask, px)
    }

    fn pixel(px: &[f32], x: usize, y: usize) -> [f32; 3] {
        std::array::from_fn(|c| px[c * W * H + y * W + x])
    }

    #[test]
    fn a_moving_shape_keeps_the_keyframes_colours_and_the_band_is_left_alone() {
        let (mask0, key) = scene(20, 16, 22);
        let mut hold = FlowHold::keyframe(W, H, key, &mask0).unwrap().unwrap();
        let grey = vec![0.5f32; 3 * W * H];
        // Two moves by (3, 2): the moved output is the next frame's source.
        for (step, (x0, y0)) in [(23, 18), (26, 20)].into_iter().enumerate() {
            let (mask, _) = scene(x0, y0, 22);
            let flowed = hold.plan(&mask).unwrap().expect("same size");
            let mut px = grey.clone();
            hold.paint(&flowed, &mut px);
            let band = dilate(&mask, W, H, 1);
            // Inside the moved square, 3 pixels or more from its outline: the key's red.
            for y in y0 + 3..y0 + 19 {
                for x in x0 + 3..x0 + 19 {
                    let p = pixel(&px, x, y);
                    assert!(
                        (p[0] - 0.9).abs() < 0.05 && (p[2] - 0.1).abs() < 0.05,
                        "step {step}: ({x}, {y}) is {p:?}, not the key's red"
                    );
                }
            }
            // Away from where the square is and was (8 pixels or more): the key's blue, or
            // the other steps' grey where the flow of a blank page is not trusted (or a mix of
            // the two, moved on from the frame before); never the square's red.
            let near = |x: usize, y: usize| {
                x + 8 >= 20 && x < x0 + 22 + 8 && y + 8 >= 16 && y < y0 + 22 + 8
            };
            let mut blue = 0;
            for y in 0..H {
                for x in (0..W).filter(|&x| !near(x, y)) {
                    let p = pixel(&px, x, y);
                    assert!(p[0] <= 0.5 + 1e-6, "step {step}: ({x}, {y}) is {p:?}: red");
                    if (p[0] - 0.1).abs() < 0.05 && (p[2] - 0.8).abs() < 0.05 {
                        blue += 1;
                    }
                }
            }
            assert!(
                blue > W * H / 3,
                "step {step}: only {blue} background pixels moved"
            );
            // The band keeps the other steps' values.
            for i in (0..W * H).filter(|&i| band[i] != 0) {
                assert_eq!(pixel(&px, i % W, i / W), [0.5; 3], "band pixel {i}");
            }
            hold.remember(flowed, &px);
        }
    }

    #[test]
    fn any_frame_size_is_followed_or_left_alone_without_an_error() {
        for (w, h) in [
            (1, 1),
            (2, 3),
            (7, 5),
            (1, 40),
            (40, 1),
            (16, 15),
            (1000, 20),
            (16, 16),
            (33, 17),
            (16, 400),
            (1441, 48),
        ] {
            let mask: Vec<u8> = (0..w * h).map(|i| u8::from(i % 5 == 0)).collect();
            let moved: Vec<u8> = (0..w * h).map(|i| u8::from(i % 5 == 1)).collect();
            let key = vec![0.25f32; 3 * w * h];
            let k = search_scale(w, h);
            let Some(mut hold) = FlowHold::keyframe(w, h, key, &mask).unwrap() else {
                assert!((w / k).min(h / k) < FLOW_MIN_SIDE, "{w}x{h} has no flow");
                continue;
            };
            assert!((w / k).min(h / k) >= FLOW_MIN_SIDE, "{w}x{h}");
            for (step, m) in [&moved, &mask].into_iter().enumerate() {
                let flowed = hold.plan(m).unwrap().expect("same size");
                let mut px = vec![0.75f32; 3 * w * h];
                hold.paint(&flowed, &mut px);
                // The first step moves a flat key: each pixel is the key's or left alone.
                if step == 0 {
                    let near = |v: f32, c: f32| (v - c).abs() < 1e-6;
                    assert!(
                        px.iter().all(|&v| near(v, 0.25) || near(v, 0.75)),
                        "{w}x{h}"
                    );
                }
                hold.remember(flowed, &px);
            }
        }
    }

    #[test]
    fn a_pan_takes_nothing_from_outside_the_frame_or_from_the_lines() {
        // A grid of lines panned 4 pixels right: each pixel comes from 4 pixels to its left.
        let grid = |shift: usize| -> Vec<u8> {
            (0..W * H)
                .map(|i| {
                    let (x, y) = (i % W, i / W);
                    u8::from(
                        (x + 100 - shift).is_multiple_of(13)
                            || y.is_multiple_of(11)
                            || (x + y + 100 - shift).is_multiple_of(29),
                    )
                })
                .collect()
        };
        let (mask0, mask1) = (grid(0), grid(4));
        // The key: a horizontal ramp, so that where a value came from shows.
        let key: Vec<f32> = (0..3 * W * H).map(|i| (i % W) as f32 / W as f32).collect();
        let mut hold = FlowHold::keyframe(W, H, key, &mask0).unwrap().unwrap();
        let flowed = hold.plan(&mask1).unwrap().expect("same size");
        let mut px = vec![-1f32; 3 * W * H];
        hold.paint(&flowed, &mut px);
        let taken: Vec<usize> = (0..W * H).filter(|&i| px[i] >= 0.0).collect();
        assert!(taken.len() > W * H / 3, "only {} pixels moved", taken.len());
        for &i in &taken {
            let (x, y) = (i % W, i / W);
            assert!(x >= 3, "({x}, {y}) took a value from outside the frame");
            // The value of the point 4 pixels to the left (the ramp), within a pixel.
            let want = (x as f32 - 4.0) / W as f32;
            assert!(
                (px[i] - want).abs() <= 1.0 / W as f32 + 1e-4,
                "({x}, {y}): {} not {want}",
                px[i]
            );
        }
        // Sources: inside the frame, and no line pixel among the bilinear sample's four.
        let line = mask0.iter().position(|&v| v != 0).unwrap();
        let (lx, ly) = ((line % W) as f32, (line / W) as f32);
        assert!(hold.source(lx, ly).is_none());
        assert!(hold.source(lx - 0.5, ly).is_none());
        assert!(hold.source(lx + 0.5, ly - 0.5).is_none());
        let off = (0..W * H)
            .find(|&i| {
                let (x, y) = (i % W, i / W);
                x + 1 < W
                    && y + 1 < H
                    && [i, i + 1, i + W, i + W + 1].iter().all(|&j| mask0[j] == 0)
            })
            .unwrap();
        let (ox, oy) = ((off % W) as f32, (off / W) as f32);
        assert!(hold.source(ox + 0.5, oy + 0.5).is_some());
        assert!(hold.source(-0.5, oy).is_none() && hold.source(ox, H as f32 - 0.5).is_none());
        // Another size: no flow.
        assert!(hold.plan(&mask1[..W * (H - 1)]).unwrap().is_none());
    }
    /// The one-pass move against OpenCV doing each part on whole images (the flow enlarged by
    /// `resize`, the output moved by `remap`, the checks read from full-size maps), on frames
    /// of several sizes (searched at full size and averaged down) with shapes that move by
    /// fractions of a pixel: the same pixels take the moved output, bar a few where a source
    /// point lies on the edge of a check, and their values agree within `remap`'s 1/32-pixel
    /// rounding.
    #[test]
    fn the_one_pass_move_matches_opencvs_resize_and_remap() {
        for (w, h, seed) in [(96, 64, 1u64), (500, 300, 2), (1000, 520, 3), (700, 990, 4)] {
            // Rings whose centres move by a fraction of a pixel and a few straight lines; a key
            // of smooth ramps and a blob of noise.
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng >> 11) as f32 / (1u64 << 53) as f32
            };
            let rings: Vec<(f32, f32, f32, f32, f32)> = (0..6)
                .map(|_| {
                    let (cx, cy) = (next() * w as f32, next() * h as f32);
                    let r = 6.0 + next() * (w.min(h) as f32 / 4.0);
                    (cx, cy, r, next() * 6.0 - 3.0, next() * 6.0 - 3.0)
                })
                .collect();
            let frame = |t: f32| -> Vec<u8> {
                (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as f32, (i / w) as f32);
                        let ring = rings.iter().any(|&(cx, cy, r, dx, dy)| {
                            let d = (x - cx - dx * t).hypot(y - cy - dy * t);
                            (d - r).abs() < 1.0
                        });
                        u8::from(ring || (i / w) % 97 == 5 || (i % w) % 131 == 7)
                    })
                    .collect()
            };
            let key: Vec<f32> = (0..3 * w * h)
                .map(|i| {
                    let (c, x, y) = (i / (w * h), i % w, (i / w) % h);
                    let ramp = ((x * (c + 1) + y * (3 - c)) % 256) as f32 / 255.0;
                    ramp * 0.8 + next() * 0.2
                })
                .collect();
            let mask0 = frame(0.0);
            let mask1 = frame(1.0);
            let mut hold = FlowHold::keyframe(w, h, key.clone(), &mask0)
                .unwrap()
                .unwrap();
            let flowed = hold.plan(&mask1).unwrap().expect("same size");

            // The reference, on whole images.
            let image = search_image(&mask1, w, h, hold.scale).unwrap();
            let (fw, comes_back) = hold.search(&image).unwrap();
            let (sw, sh) = (fw.cols() as usize, fw.rows() as usize);
            let (sx, sy) = (w as f32 / sw as f32, h as f32 / sh as f32);
            let mut up = Mat::default();
            opencv::imgproc::resize(
                &fw,
                &mut up,
                opencv::core::Size::new(w as i32, h as i32),
                0.0,
                0.0,
                opencv::imgproc::INTER_LINEAR,
            )
            .unwrap();
            let (fx, fy) = maps(&up, sx, sy).unwrap();
            let (xs, ys) = (
                fx.data_typed::<f32>().unwrap(),
                fy.data_typed::<f32>().unwrap(),
            );
            let band = dilate(&mask1, w, h, 1);
            let plane = w * h;
            let (mut differ, mut taken) = (0usize, 0usize);
            let mut worst = 0f32;
            let reference: Vec<Mat> = (0..3)
                .map(|c| {
                    let src = Mat::new_rows_cols_with_data(
                        h as i32,
                        w as i32,
                        &key[c * plane..][..plane],
                    )
                    .unwrap();
                    remap(&src, &fx, &fy).unwrap()
                })
                .collect();
            for i in 0..plane {
                let (x, y) = (i % w, i / w);
                let near =
                    |v: usize, s: f32, m: usize| (((v as f32 + 0.5) / s) as usize).min(m - 1);
                let want = band[i] == 0
                    && comes_back[near(y, sy, sh) * sw + near(x, sx, sw)]
                    && hold.source(xs[i], ys[i]).is_some();
                if want != flowed.take[i] {
                    differ += 1;
                    continue;
                }
                if want {
                    taken += 1;
                    for (c, r) in reference.iter().enumerate() {
                        let r = r.data_typed::<f32>().unwrap()[i];
                        worst = worst.max((flowed.moved[c * plane + i] - r).abs());
                    }
                }
            }
            assert!(taken > plane / 4, "{w}x{h}: only {taken} pixels moved");
            assert!(
                differ * 1000 <= plane,
                "{w}x{h}: {differ} pixels decided otherwise"
            );
            // `remap` rounds each weight to 1/32: off by up to 1/64 along each axis between
            // neighbours at most 1 apart (where a ramp wraps), 1/32 in all (measured: 0.015 to
            // 0.026).
            assert!(worst <= 1.0 / 32.0 + 1e-4, "{w}x{h}: values {worst} apart");
        }
    }
}
