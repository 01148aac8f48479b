// SPDX-License-Identifier: MIT
//! The `fill` output (`tcvccolorize output-mode=fill`) against SciPy (`tests/peers/fill_peer.py`:
//! `ndimage.binary_dilation` + `ndimage.label` + `ndimage.mean`) on drawn line masks of random
//! sizes (random strokes, rings with gaps, noise; seeded) and on real line art of the sample clip:
//! the same regions, and the same painted values to float precision.
mod common;

use common::*;
use gsttcvc::model::stream::{fill_labels, fill_regions};
use std::io::Write;
use tch::{Device, Kind, Tensor};

fn write_f32(path: &std::path::Path, v: &[f32]) {
    let mut f = std::fs::File::create(path).unwrap();
    for x in v {
        f.write_all(&x.to_le_bytes()).unwrap();
    }
}

/// Writes one case: the mask, the prediction, and our labels and output.
fn write_case(dir: &std::path::Path, name: &str, lines: &[u8], w: usize, h: usize, seed: i64) {
    let mask: Vec<u8> = lines
        .iter()
        .map(|&v| if v != 0 { 255 } else { 0 })
        .collect();
    write_pgm(&dir.join(format!("{name}.lines.pgm")), &mask, w, h);
    tch::manual_seed(seed);
    // Flat patches plus noise, like a prediction: a coarse random field upsampled.
    let coarse = Tensor::rand([1, 3, 4, 5], (Kind::Float, Device::Cpu));
    let up = coarse.upsample_bilinear2d([h as i64, w as i64], false, None, None)
        + Tensor::rand([1, 3, h as i64, w as i64], (Kind::Float, Device::Cpu)) * 0.2;
    let mask_t = Tensor::from_slice(lines)
        .view([1, 1, h as i64, w as i64])
        .gt(0);
    let out = fill_regions(&up, &mask_t).unwrap();
    let flat = |t: &Tensor| -> Vec<f32> { t.contiguous().view([-1]).try_into().unwrap() };
    write_f32(&dir.join(format!("{name}.up.f32")), &flat(&up));
    write_f32(&dir.join(format!("{name}.out.f32")), &flat(&out));
    let (labels, _) = fill_labels(lines, w, h);
    let mut f = std::fs::File::create(dir.join(format!("{name}.labels.u32"))).unwrap();
    for l in labels {
        f.write_all(&l.to_le_bytes()).unwrap();
    }
}

/// A drawn mask: strokes, rings (some with gaps of 1-4 pixels) and sparse noise.
fn drawn_mask(rng: &mut SplitMix, w: usize, h: usize) -> Vec<u8> {
    let mut m = vec![0u8; w * h];
    let put = |m: &mut Vec<u8>, x: i64, y: i64| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            m[y as usize * w + x as usize] = 1;
        }
    };
    for _ in 0..rng.range(0, 6) {
        // A ring, with an optional gap.
        let (cx, cy) = (rng.range(0, w as u32) as f64, rng.range(0, h as u32) as f64);
        let r = rng.range(2, (w.max(h) / 2).max(3) as u32) as f64;
        let gap = rng.range(0, 4) as f64;
        let steps = (r * 8.0) as usize + 8;
        for k in 0..steps {
            let a = k as f64 / steps as f64 * std::f64::consts::TAU;
            if a * r < gap {
                continue;
            }
            put(
                &mut m,
                (cx + r * a.cos()).round() as i64,
                (cy + r * a.sin()).round() as i64,
            );
        }
    }
    for _ in 0..rng.range(0, 6) {
        // A straight stroke.
        let (x0, y0) = (rng.range(0, w as u32) as f64, rng.range(0, h as u32) as f64);
        let (x1, y1) = (rng.range(0, w as u32) as f64, rng.range(0, h as u32) as f64);
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            put(
                &mut m,
                (x0 + t * (x1 - x0)).round() as i64,
                (y0 + t * (y1 - y0)).round() as i64,
            );
        }
    }
    let noise = rng.range(0, 3);
    for v in m.iter_mut() {
        if rng.next() % 1000 < u64::from(noise) {
            *v = 1;
        }
    }
    m
}

fn run_peer(dir: &std::path::Path, cases: usize) {
    let text = run_peer_script("fill_peer.py", &[dir]);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), cases, "peer output:\n{text}");
    let mut worst = 0.0f64;
    for r in &rows {
        assert_eq!(
            r[4], "1",
            "{} ({}x{}): regions differ from SciPy's\n{text}",
            r[0], r[1], r[2]
        );
        let d: f64 = r[5].parse().unwrap();
        assert!(
            d < 1e-5,
            "{} ({}x{}): painted values differ by {d}\n{text}",
            r[0],
            r[1],
            r[2]
        );
        worst = worst.max(d);
    }
    eprintln!("{cases} cases agree with SciPy; largest value gap {worst:.2e}");
}

#[test]
fn fill_agrees_with_scipy_on_drawn_masks_of_random_sizes() {
    let dir = scratch_dir("fill-peer-drawn");
    let mut rng = SplitMix(11);
    let cases = 40;
    for k in 0..cases {
        let (w, h) = (rng.side(1, 400) as usize, rng.side(1, 300) as usize);
        let m = drawn_mask(&mut rng, w, h);
        write_case(&dir, &format!("case{k:02}"), &m, w, h, k as i64);
    }
    run_peer(&dir, cases);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fill_agrees_with_scipy_on_real_line_art() {
    init();
    let dir = scratch_dir("fill-peer-real");
    let sizes = [(320u32, 180u32), (1280, 720)];
    let mut cases = 0;
    for (w, h) in sizes {
        for (k, art) in line_art_frames(CLIP_720P, &[40, 120], w, h)
            .iter()
            .enumerate()
        {
            // Line art: 0 on a line, 255 elsewhere, as `tcvclineart` makes it.
            let lines: Vec<u8> = art.iter().map(|&v| (v <= 191) as u8).collect();
            write_case(
                &dir,
                &format!("real{w}x{h}-{k}"),
                &lines,
                w as usize,
                h as usize,
                k as i64,
            );
            cases += 1;
        }
    }
    run_peer(&dir, cases);
    let _ = std::fs::remove_dir_all(&dir);
}
