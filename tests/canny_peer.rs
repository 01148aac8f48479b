// SPDX-License-Identifier: MIT
//! `tcvclineart` against scikit-image's `feature.canny(gray, sigma=1)` on real frames of both
//! sample clips (the Python side runs in the project's venv).
mod common;

use common::*;

fn check_clip(clip: &str, caps: &str, indices: &[usize]) {
    let frames = decode_frames(&sample(clip), caps, indices);
    let dir = scratch_dir(&format!("canny-peer-{clip}"));
    let inputs: Vec<_> = frames
        .iter()
        .map(|s| {
            let i = info(s);
            (s.buffer().unwrap().copy(), i)
        })
        .collect();
    let lines = run_lineart(&[], &inputs);
    let greys = run_lineart(&[("mode", "greyscale")], &inputs);
    let (w, h) = (inputs[0].1.width() as usize, inputs[0].1.height() as usize);
    for (k, (l, g)) in lines.iter().zip(&greys).enumerate() {
        let name = format!("f{:04}", indices[k]);
        write_pgm(&dir.join(format!("{name}.grey.pgm")), g, w, h);
        write_pgm(&dir.join(format!("{name}.lines.pgm")), l, w, h);
    }
    let text = run_peer_script("canny_peer.py", &[&dir]);
    let rows: Vec<(String, f64, u64, u64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), indices.len(), "peer output:\n{text}");
    eprintln!("{clip} ({w}x{h}): frame F1 ours skimage\n{text}");
    for (name, f1, ours, theirs) in &rows {
        assert!(
            *theirs > 1000,
            "{clip} {name}: too few skimage lines ({theirs}) to compare"
        );
        assert!(
            *f1 >= 0.95,
            "{clip} {name}: F1 {f1:.4} < 0.95 vs scikit-image ({ours} vs {theirs} line pixels)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agrees_with_scikit_image_on_the_720p_clip() {
    let idx: Vec<usize> = (0..12).map(|i| 5 + i * 10).collect();
    check_clip(CLIP_720P, "video/x-raw,format=RGB", &idx);
}

#[test]
fn agrees_with_scikit_image_on_the_1080p_clip() {
    // Skip the fade-in from black (frames < 80) where there is almost nothing to compare.
    let idx: Vec<usize> = (0..10).map(|i| 100 + i * 60).collect();
    check_clip(CLIP_1080P, "video/x-raw,format=I420", &idx);
}
