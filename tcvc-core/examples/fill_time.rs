// SPDX-License-Identifier: MIT
//! Time of the `fill` output at 1280×720 (drawn line art: rings and lines), one thread:
//! the region labels alone, then `compose` in `color` and in `fill` (from a 160×96 prediction),
//! and `fill` with a keyframe's carry (`KeyframeCarry`: the line art moving by one pixel and back
//! every frame, so that every other frame the camera's shift is searched for and the keyframe
//! moved by it, and the others show the keyframe's own line art; every frame the last output is
//! moved along the optical flow), on one libtorch thread and on two (the carry then searches for
//! the camera's shift and the flow on other threads beside the hold).
//!   cargo run --release -p tcvc-core --example fill_time
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use tcvc_core::model::stream::{compose, fill_labels, KeyframeCarry, OutputMode};
use tcvc_core::model::InputMode;

fn main() {
    tch::set_num_threads(1);
    let (w, h) = (1280i64, 720i64);
    // Line art: a grid of circles, lines 2 px wide.
    let mut input = vec![1.0f32; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (cx, cy) = ((x % 160) as f32 - 80.0, (y % 120) as f32 - 60.0);
            let r = (cx * cx + cy * cy).sqrt();
            if (r - 40.0).abs() < 1.0 || x % 320 == 0 {
                input[(y * w + x) as usize] = 0.0;
            }
        }
    }
    let input = Tensor::from_slice(&input).view([1, 1, h, w]);
    let pred = Tensor::rand([1, 3, 96, 160], (Kind::Float, Device::Cpu));
    let lines: Vec<u8> = input
        .le(0.75)
        .to_kind(Kind::Uint8)
        .view([-1])
        .try_into()
        .unwrap();
    let reps = 50;
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        println!(
            "{name}: {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    };
    time("labels", &mut || {
        std::hint::black_box(fill_labels(&lines, w as usize, h as usize));
    });
    for mode in [OutputMode::Color, OutputMode::Fill] {
        time(&format!("compose {mode}"), &mut || {
            let _ = std::hint::black_box(compose(&pred, &input, mode, InputMode::Lineart).unwrap());
        });
    }
    let shifted = [input.roll([1], [3]), input.shallow_clone()];
    let key = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
    // One libtorch thread, then two: the moved keyframe's search runs beside the hold then.
    for threads in [1, 2] {
        tch::set_num_threads(threads);
        if threads > 1 {
            time(&format!("compose fill, {threads} threads"), &mut || {
                let out = compose(&pred, &input, OutputMode::Fill, InputMode::Lineart);
                let _ = std::hint::black_box(out.unwrap());
            });
        }
        // The carry's three first steps alone, then with the optical flow (the default).
        for flow in [false, true] {
            let mut carry = KeyframeCarry::new(true);
            carry.set_flow(flow);
            carry.keyframe(&key, &input, InputMode::Lineart).unwrap();
            let mut k = 0;
            let name = if flow { "" } else { " without the flow" };
            time(
                &format!("compose fill, keyframe carry{name}, {threads} thread(s)"),
                &mut || {
                    k += 1;
                    let x = &shifted[k % 2];
                    let out = carry
                        .compose(&pred, x, OutputMode::Fill, InputMode::Lineart)
                        .unwrap();
                    let _ = std::hint::black_box(out);
                },
            );
            assert!(carry.is_carrying(), "the carry was lost");
        }
    }
}
