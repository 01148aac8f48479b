//! Single-thread timing of the Gaussian SSIM window on a 1080p luma plane (best of rounds).
use std::time::Instant;
use tcvc_core::metrics::{self, Plane, SsimWindow};

fn main() {
    metrics::set_max_threads(1);
    let (w, h) = (1920, 1080);
    let mut s = 12345u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let a: Vec<u8> = (0..w * h)
        .map(|i| ((i % w) as u64 / 8 + (i / w) as u64 / 5 + next() % 24) as u8)
        .collect();
    let b: Vec<u8> = a
        .iter()
        .map(|&x| x.wrapping_add((next() % 9) as u8))
        .collect();
    let pa = Plane::contiguous(&a, w, h).unwrap();
    let pb = Plane::contiguous(&b, w, h).unwrap();
    let mut best = f64::MAX;
    let mut v = 0.0;
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..20 {
            v = metrics::ssim_plane(&pa, &pb, SsimWindow::Gaussian).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() / 20.0);
    }
    println!(
        "gaussian 1080p luma, 1 thread: {:.3} ms  (ssim {v:.9})",
        best * 1e3
    );
    // I420: the luma plane and two 960x540 planes cut from it.
    let (cw, ch) = (960, 540);
    let ua: Vec<u8> = (0..ch)
        .flat_map(|y| a[y * w..y * w + cw].to_vec())
        .collect();
    let ub: Vec<u8> = (0..ch)
        .flat_map(|y| b[y * w..y * w + cw].to_vec())
        .collect();
    let pu = Plane::contiguous(&ua, cw, ch).unwrap();
    let qu = Plane::contiguous(&ub, cw, ch).unwrap();
    for threads in [1, 2] {
        metrics::set_max_threads(threads);
        let mut best = f64::MAX;
        for _ in 0..15 {
            let t = Instant::now();
            for _ in 0..20 {
                v = metrics::ssim(&[pa, pu, pu], &[pb, qu, qu], SsimWindow::Gaussian)
                    .unwrap()
                    .all;
            }
            best = best.min(t.elapsed().as_secs_f64() / 20.0);
        }
        println!(
            "gaussian 1080p I420, {threads} thread(s): {:.3} ms  (ssim {v:.9})",
            best * 1e3
        );
    }
}
