// SPDX-License-Identifier: MIT
//! How far the `fill` of a frame's *own* colours is from the frame, at the training size: each
//! region of the line art (lines widened by `gap` px) painted with the reference's mean over it,
//! the band left as the reference. This bounds what a loss on the fill output can ask of a
//! network at that size: where Canny leaves gaps, regions run together and even the perfect
//! means are far from the frame. Every 4th frame of each clip, the line art as `tcvclineart` makes
//! it at that size.
//!
//! `cargo run --release -p tcvc-core --example fill_oracle -- data/corpus/val/*`
use tch::{Kind, Tensor};
use tcvc_core::edges::ModelInput;
use tcvc_core::model::stream::{fill_regions_batch, line_mask};
use tcvc_core::model::InputMode;
use tcvc_core::video::{load_clip, Fit};

fn main() {
    let clips: Vec<String> = std::env::args().skip(1).collect();
    if clips.is_empty() {
        eprintln!("usage: fill_oracle CLIP...");
        std::process::exit(2);
    }
    let (w, h) = (160usize, 96usize);
    let gaps = [0u32, 1, 2];
    let (mut mse, mut line_share, mut frames) = (vec![0f64; gaps.len()], 0f64, 0usize);
    let mut input_plane = ModelInput::new();
    for c in &clips {
        let clip = load_clip(c.as_ref(), w as u32, h as u32, Fit::Stretch, None)
            .unwrap_or_else(|e| panic!("{c}: {e}"));
        for rgb in clip.frames.iter().step_by(4) {
            let plane = input_plane.of_rgb(rgb, w, h, true).expect("line art");
            let input = Tensor::from_slice(plane)
                .view([1, 1, h as i64, w as i64])
                .to_kind(Kind::Float)
                / 255.0;
            let truth = Tensor::from_slice(rgb)
                .view([h as i64, w as i64, 3])
                .permute([2, 0, 1])
                .unsqueeze(0)
                .to_kind(Kind::Float)
                / 255.0;
            let lines = line_mask(InputMode::Lineart, &input).expect("line mask");
            for (m, &gap) in mse.iter_mut().zip(&gaps) {
                let filled = fill_regions_batch(&truth, &lines, gap).expect("fill");
                *m += (filled - &truth)
                    .square()
                    .mean(Kind::Float)
                    .double_value(&[]);
            }
            line_share += lines
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]);
            frames += 1;
        }
    }
    let n = frames as f64;
    println!(
        "{frames} frames of {} clip(s) at {w}x{h}, line pixels {:.1} %",
        clips.len(),
        100.0 * line_share / n
    );
    for (m, gap) in mse.iter().zip(gaps) {
        let m = m / n;
        println!(
            "gap {gap}: fill of the reference {:.2} dB from it (MSE {m:.5})",
            10.0 * (1.0 / m).log10()
        );
    }
}
