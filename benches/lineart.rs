// SPDX-License-Identifier: MIT
//! Benchmark (not a timed test): `tcvclineart` cost per 1080p frame against the anchor, bare
//! OpenCV GaussianBlur (9×9, σ 1) + Canny (25.5, 51, L2) on the same frames, in the same run.
//!
//! `cargo bench --bench lineart` (or `make bench`). Prints per-frame medians and the ratio
//! element / anchor (goal ≤ 1.1).
#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use opencv::core::{self, Mat, Scalar, Size};
use opencv::prelude::*;
use std::time::Instant;

const FRAMES: usize = 24;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let idx: Vec<usize> = (0..FRAMES).map(|i| 120 + i * 20).collect();
    let clip = sample(CLIP_1080P);
    let grey = decode_frames(&clip, "video/x-raw,format=GRAY8", &idx);
    let rgb = decode_frames(&clip, "video/x-raw,format=RGBx", &idx[..8]);
    let (w, h) = (1920usize, 1080usize);
    let packed: Vec<Vec<u8>> = grey.iter().map(|s| plane_packed(s, 0).0).collect();

    // Anchor: bare OpenCV on preallocated Mats.
    let mut src =
        Mat::new_rows_cols_with_default(h as i32, w as i32, core::CV_8UC1, Scalar::all(0.0))
            .unwrap();
    let mut blurred = src.clone();
    let mut edges = src.clone();
    let mut bare = || {
        let t = Instant::now();
        for f in &packed {
            src.data_bytes_mut().unwrap().copy_from_slice(f);
            opencv::imgproc::gaussian_blur(
                &src,
                &mut blurred,
                Size::new(9, 9),
                1.0,
                1.0,
                core::BORDER_REFLECT_101,
            )
            .unwrap();
            opencv::imgproc::canny(&blurred, &mut edges, 25.5, 51.0, 3, true).unwrap();
        }
        t.elapsed().as_secs_f64() / packed.len() as f64
    };

    // The element through a Harness (buffers pushed and pulled, as in a pipeline).
    let element_run = |samples: &[gst::Sample]| {
        let mut hns = gst_check::Harness::new("tcvclineart");
        hns.set_src_caps(samples[0].caps().unwrap().to_owned());
        hns.play();
        let bufs: Vec<gst::Buffer> = samples.iter().map(|s| s.buffer().unwrap().copy()).collect();
        // Warm-up (first frame allocates the working buffers).
        hns.push_and_pull(bufs[0].clone()).unwrap();
        let t = Instant::now();
        for b in &bufs {
            hns.push_and_pull(b.clone()).unwrap();
        }
        t.elapsed().as_secs_f64() / bufs.len() as f64
    };

    bare();
    let (mut a, mut e, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(bare());
        e.push(element_run(&grey));
        r.push(element_run(&rgb));
    }
    let (a, e, r) = (median(a), median(e), median(r));
    println!("tcvclineart benchmark, 1920x1080, {FRAMES} frames x {ROUNDS} rounds (median)");
    println!(
        "  anchor: bare OpenCV GaussianBlur+Canny   {:7.2} ms/frame",
        a * 1e3
    );
    println!(
        "  tcvclineart, GRAY8 input                 {:7.2} ms/frame  ratio {:.3}",
        e * 1e3,
        e / a
    );
    println!(
        "  tcvclineart, RGBx input (grey conversion) {:6.2} ms/frame  ratio {:.3}",
        r * 1e3,
        r / a
    );
}
