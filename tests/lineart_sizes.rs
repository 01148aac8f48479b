// SPDX-License-Identifier: MIT
//! Randomised peer test of `tcvclineart`: frame sizes (1 to 2000 pixels a side) and all 20 input
//! formats (the 10-bit ones included) drawn from a seeded generator, real frames of the 720p sample decoded by GStreamer at
//! that size and format, and the element's line art compared pixel by pixel with OpenCV's
//! Python binding doing what `docs/lineart.md` defines (`tests/peers/lineart_cv_peer.py`).
//!
//! `TCVC_LINEART_CASES=N` draws N cases (default [`DEFAULT_CASES`]), `TCVC_LINEART_SEED=S` seeds
//! the generator, `TCVC_LINEART_CASE="NV21 13x7;RGB 1x1"` replays cases (a failure prints them).
mod common;

use common::peers::write_raw;
use common::*;
use std::process::Command;

const DEFAULT_CASES: usize = 8;
const FRAMES: usize = 2;
const FORMATS: [&str; 20] = [
    "GRAY8",
    "RGB",
    "BGR",
    "RGBx",
    "BGRx",
    "xRGB",
    "xBGR",
    "RGBA",
    "BGRA",
    "ARGB",
    "ABGR",
    "I420",
    "YV12",
    "NV12",
    "NV21",
    "Y42B",
    "Y444",
    "I420_10LE",
    "I422_10LE",
    "P010_10LE",
];

fn cases() -> Vec<(String, u32, u32)> {
    let parse = |s: &str| {
        let (f, size) = s.trim().split_once(' ').expect("case: FORMAT WxH");
        let (w, h) = size.split_once('x').expect("case: FORMAT WxH");
        (f.to_string(), w.parse().unwrap(), h.parse().unwrap())
    };
    if let Ok(list) = std::env::var("TCVC_LINEART_CASE") {
        return list
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .map(parse)
            .collect();
    }
    let env = |k: &str, d: u64| std::env::var(k).map(|v| v.parse().unwrap()).unwrap_or(d);
    let n = env("TCVC_LINEART_CASES", DEFAULT_CASES as u64);
    let seed = env("TCVC_LINEART_SEED", 0);
    eprintln!("drawing {n} cases with TCVC_LINEART_SEED={seed}");
    let mut rng = SplitMix(seed);
    // Sizes where a kernel is wider than the frame, every format once.
    let mut v: Vec<_> = [
        "GRAY8 1x1",
        "NV21 3x2",
        "Y42B 5x9",
        "xBGR 2x17",
        "I420_10LE 64x36",
        "I422_10LE 17x9",
        "P010_10LE 130x71",
    ]
    .iter()
    .map(|s| parse(s))
    .collect();
    for _ in 0..n {
        let f = FORMATS[(rng.next() % FORMATS.len() as u64) as usize];
        let w = rng.side(1, 2000);
        let h = rng.side(1, 1_000_000 / w);
        v.push((f.to_string(), w, h));
    }
    v
}

fn run_case(format: &str, w: u32, h: u32) -> Result<(), String> {
    let caps = format!("video/x-raw,format={format},width={w},height={h}");
    let idx: Vec<usize> = (0..FRAMES).collect();
    let frames = decode_frames(&sample(CLIP_720P), &caps, &idx);
    let inputs: Vec<_> = frames
        .iter()
        .map(|s| (s.buffer().unwrap().copy(), info(s)))
        .collect();
    let lines = run_lineart(&[], &inputs);
    let dir = scratch_dir("lineart-sizes");
    write_raw(&dir.join("in.raw"), &frames);
    std::fs::write(dir.join("out.raw"), lines.concat()).unwrap();
    let out = Command::new(python())
        .arg(root().join("tests/peers/lineart_cv_peer.py"))
        .args(["--format", format, "--size", &format!("{w}x{h}")])
        .arg(dir.join("in.raw"))
        .arg(dir.join("out.raw"))
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    for (k, f) in v["frames"].as_array().unwrap().iter().enumerate() {
        let d = f["differing"].as_u64().unwrap();
        if d != 0 {
            return Err(format!(
                "frame {k}: {d} of {} pixels differ from OpenCV's",
                f["pixels"]
            ));
        }
    }
    Ok(())
}

#[test]
fn random_sizes_and_formats_equal_opencv() {
    init();
    let cases = cases();
    let mut failed = Vec::new();
    for (f, w, h) in &cases {
        let case = format!("{f} {w}x{h}");
        let r = std::panic::catch_unwind(|| run_case(f, *w, *h))
            .unwrap_or_else(|p| Err(format!("panicked: {p:?}")));
        match r {
            Ok(()) => eprintln!("ok   {case}"),
            Err(e) => {
                eprintln!("FAIL {case}: {e}");
                failed.push(case);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ; replay with TCVC_LINEART_CASE=\"{}\"",
        failed.len(),
        cases.len(),
        failed.join(";")
    );
}
