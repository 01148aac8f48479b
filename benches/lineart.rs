// SPDX-License-Identifier: MIT
//! Benchmark (not a timed test): `tcvclineart` cost per 1080p frame against the anchor, bare
//! OpenCV GaussianBlur (9×9, σ 1) + Canny (25.5, 51, L2) on the same frames, in the same run.
//!
//! `cargo bench --bench lineart` (or `make bench`). Prints per-frame medians and the ratio
//! element / anchor (goal ≤ 1.1).
#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use gst::prelude::*;
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
    let mut bare = |f: &[u8]| {
        let t = Instant::now();
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
        t.elapsed().as_secs_f64()
    };

    // The element through a Harness (buffers pushed and pulled, as in a pipeline).
    let harness = |samples: &[gst::Sample], mode: &str| {
        let mut hns = gst_check::Harness::new("tcvclineart");
        hns.element().unwrap().set_property_from_str("mode", mode);
        hns.set_src_caps(samples[0].caps().unwrap().to_owned());
        hns.play();
        // Warm-up (the first frame allocates the working buffers).
        hns.push_and_pull(samples[0].buffer().unwrap().copy())
            .unwrap();
        hns
    };
    let timed = |hns: &mut gst_check::Harness, b: &gst::Buffer| {
        let t = Instant::now();
        hns.push_and_pull(b.clone()).unwrap();
        t.elapsed().as_secs_f64()
    };
    let grey_bufs: Vec<gst::Buffer> = grey.iter().map(|s| s.buffer().unwrap().copy()).collect();
    let rgb_bufs: Vec<gst::Buffer> = rgb.iter().map(|s| s.buffer().unwrap().copy()).collect();
    let mut h_grey = harness(&grey, "lineart");
    let mut h_rgb = harness(&rgb, "lineart");
    let mut h_pass = harness(&grey, "greyscale");

    // The element's processing without GStreamer (shared edges module), to split the costs.
    let mut ex = gsttcvc::edges::Extractor::new();
    ex.resize(w, h).unwrap();
    let mut out = vec![0u8; w * h];
    let params = gsttcvc::edges::Params::default();
    let mut module = |f: &[u8]| {
        let t = Instant::now();
        gsttcvc::edges::copy_plane(f, w, ex.grey_mut(), w, w, h);
        let lines = ex.detect(&params).unwrap();
        gsttcvc::edges::write_lines(lines, true, &mut out, w, w, h);
        t.elapsed().as_secs_f64()
    };

    // Each frame is measured by every contender back to back, so that the machine's load
    // (other processes on 2 cores) hits the anchor and the element alike; the ratio is the
    // median of the per-frame ratios.
    let (mut a, mut m, mut e, mut r, mut gs) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut rm, mut re, mut rr) = (vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        for (i, f) in packed.iter().enumerate() {
            let ta = bare(f);
            let tm = module(f);
            let te = timed(&mut h_grey, &grey_bufs[i]);
            let tr = timed(&mut h_rgb, &rgb_bufs[i % rgb_bufs.len()]);
            let tg = timed(&mut h_pass, &grey_bufs[i]);
            if round > 0 {
                rm.push(tm / ta);
                re.push(te / ta);
                rr.push(tr / ta);
                a.push(ta);
                m.push(tm);
                e.push(te);
                r.push(tr);
                gs.push(tg);
            }
        }
    }
    println!(
        "tcvclineart benchmark, 1920x1080, {FRAMES} frames x {} rounds (medians; ratio = median of per-frame ratios)",
        ROUNDS - 1
    );
    println!(
        "  anchor: bare OpenCV GaussianBlur+Canny          {:7.2} ms/frame",
        median(a) * 1e3
    );
    println!(
        "  edges module alone (copy, blur, Canny, lines)   {:7.2} ms/frame  ratio {:.3}",
        median(m) * 1e3,
        median(rm)
    );
    println!(
        "  tcvclineart, GRAY8 input                        {:7.2} ms/frame  ratio {:.3}",
        median(e) * 1e3,
        median(re)
    );
    println!(
        "  tcvclineart, RGBx input (incl. grey conversion) {:7.2} ms/frame  ratio {:.3}",
        median(r) * 1e3,
        median(rr)
    );
    println!(
        "  tcvclineart mode=greyscale (GStreamer + copies) {:7.2} ms/frame",
        median(gs) * 1e3
    );

    // Cores: OpenCV runs GaussianBlur and Canny on its parallel framework (Debian's build: TBB)
    // over all cores; the same frames with OpenCV limited to one thread, for the ratio.
    let cores = opencv::core::get_number_of_cpus().unwrap_or(1);
    let all = opencv::core::get_num_threads().unwrap_or(1);
    let (mut one, mut many) = (vec![], vec![]);
    for round in 0..ROUNDS {
        for f in &packed {
            opencv::core::set_num_threads(1).unwrap();
            let t1 = module(f);
            opencv::core::set_num_threads(all).unwrap();
            let tn = module(f);
            if round > 0 {
                one.push(t1);
                many.push(tn);
            }
        }
    }
    let (one, many) = (median(one), median(many));
    println!(
        "  edges module, OpenCV on 1 thread                {:7.2} ms/frame; on {all} threads ({cores} cores) {:7.2} ms/frame: {:.2}x",
        one * 1e3,
        many * 1e3,
        one / many
    );
}
