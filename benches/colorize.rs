// SPDX-License-Identifier: MIT
//! Benchmark (not a timed test) of the generator and of `tcvccolorize`, same machine, same run:
//! - generator time per 256² frame on the CPU, fp32 and bf16, against the reference PyTorch
//!   forward (tools/reference_generator.py --bench: `torch.inference_mode`, fp32) — same
//!   architecture and size; weights are random in both (speed does not depend on them);
//! - achieved GFLOP/s against a libtorch 4096² matmul (fp32 and bf16);
//! - end-to-end fps of `filesrc ! decodebin ! tcvclineart ! tcvccolorize ! x264enc` on the 720p
//!   sample for the paper size (64/8) and a 32/6 model.
//!
//! `cargo bench --bench colorize` (TCVC_BENCH_REPS, default 5; TCVC_BENCH_FRAMES, default 12).
#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::model::{
    Generator, GeneratorConfig, InputMode, ModelFile, ModelMeta, StorageDtype, TrainSize,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Multiply-adds ×2 of the generator at `h`×`w` (convolutions only).
fn generator_flops(c: i64, r: i64, h: i64, w: i64) -> f64 {
    let conv =
        |cin: i64, cout: i64, k: i64, ho: i64, wo: i64| 2.0 * (cin * cout * k * k * ho * wo) as f64;
    let mut f =
        conv(4, c, 7, h, w) + conv(c, 2 * c, 4, h / 2, w / 2) + conv(2 * c, 4 * c, 4, h / 4, w / 4);
    f += r as f64 * 2.0 * conv(4 * c, 4 * c, 3, h / 4, w / 4);
    f += conv(4 * c, 2 * c, 4, h / 2, w / 2) + conv(2 * c, c, 4, h, w) + conv(c, 3, 7, h, w);
    f
}

fn make_model(dir: &Path, c: i64, r: i64) -> PathBuf {
    tch::manual_seed(1);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let g = Generator::new(
        &vs.root(),
        GeneratorConfig {
            channels: c,
            res_blocks: r,
        },
    )
    .unwrap();
    let p = dir.join(format!("bench-{c}-{r}.safetensors"));
    let meta = ModelMeta {
        input_mode: InputMode::Lineart,
        train_size: TrainSize {
            width: 256,
            height: 256,
        },
        provenance: "random weights for benchmarking".into(),
    };
    ModelFile::save(&p, &g, &meta, StorageDtype::F32).unwrap();
    p
}

fn time_forward(model: &Path, kind: Kind, reps: usize) -> f64 {
    let g = ModelFile::load(model, Device::Cpu, kind).unwrap().generator;
    let x = Tensor::rand([1, 1, 256, 256], (Kind::Float, Device::Cpu));
    let p = Tensor::rand([1, 3, 256, 256], (Kind::Float, Device::Cpu));
    g.infer(&x, &p).unwrap();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                g.infer(&x, &p).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn matmul_gflops(kind: Kind) -> f64 {
    let n = 4096;
    let a = Tensor::rand([n, n], (Kind::Float, Device::Cpu)).to_kind(kind);
    let b = Tensor::rand([n, n], (Kind::Float, Device::Cpu)).to_kind(kind);
    let _ = a.matmul(&b);
    let t = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let _ = a.matmul(&b);
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    2.0 * (n * n * n) as f64 / t / 1e9
}

fn reference_ms(dir: &Path, reps: usize) -> f64 {
    let out = Command::new(python())
        .arg(root().join("tools/reference_generator.py"))
        .arg(dir.join("bench-ref.pth"))
        .args([
            "--height",
            "256",
            "--width",
            "256",
            "--bench",
            &reps.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["median_ms"].as_f64().unwrap()
}

fn pipeline_fps(model: &Path, precision: &str, frames: usize) -> f64 {
    init();
    let p = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! identity eos-after={} ! tcvclineart ! \
         tcvccolorize model-file=\"{}\" precision={precision} ! videoconvert ! \
         x264enc speed-preset=ultrafast ! fakesink sync=false",
        sample(CLIP_720P).display(),
        frames + 1,
        model.display()
    ))
    .unwrap();
    let t = Instant::now();
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    for m in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match m.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => (),
        }
    }
    let dt = t.elapsed().as_secs_f64();
    p.set_state(gst::State::Null).unwrap();
    frames as f64 / dt
}

fn main() {
    let reps = env_usize("TCVC_BENCH_REPS", 5);
    let frames = env_usize("TCVC_BENCH_FRAMES", 12);
    let dir = root().join("target/bench-models");
    std::fs::create_dir_all(&dir).unwrap();
    let paper = make_model(&dir, 64, 8);
    let small = make_model(&dir, 32, 6);
    println!(
        "tcvccolorize benchmark ({} libtorch threads)",
        tch::get_num_threads()
    );

    let reference = reference_ms(&dir, reps) / 1e3;
    let fp32 = time_forward(&paper, Kind::Float, reps);
    let bf16 = time_forward(&paper, Kind::BFloat16, reps);
    let flops = generator_flops(64, 8, 256, 256);
    println!(
        "generator 64/8 at 256x256, {:.1} GFLOP/frame, median of {reps}:",
        flops / 1e9
    );
    println!(
        "  anchor: PyTorch reference fp32   {:8.1} ms  {:.3} fps",
        reference * 1e3,
        1.0 / reference
    );
    println!(
        "  ours fp32                        {:8.1} ms  {:.3} fps  {:.2}x  {:.0} GFLOP/s",
        fp32 * 1e3,
        1.0 / fp32,
        reference / fp32,
        flops / fp32 / 1e9
    );
    println!(
        "  ours bf16                        {:8.1} ms  {:.3} fps  {:.2}x  {:.0} GFLOP/s",
        bf16 * 1e3,
        1.0 / bf16,
        reference / bf16,
        flops / bf16 / 1e9
    );
    let (mm32, mm16) = (matmul_gflops(Kind::Float), matmul_gflops(Kind::BFloat16));
    println!("  anchor: libtorch 4096^2 matmul   fp32 {mm32:.0} GFLOP/s, bf16 {mm16:.0} GFLOP/s");
    println!(
        "  generator / matmul               fp32 {:.2}, bf16 {:.2}",
        flops / fp32 / 1e9 / mm32,
        flops / bf16 / 1e9 / mm16
    );
    let small_fp32 = time_forward(&small, Kind::Float, reps);
    let small_bf16 = time_forward(&small, Kind::BFloat16, reps);
    println!(
        "generator 32/6 at 256x256: fp32 {:.1} ms, bf16 {:.1} ms",
        small_fp32 * 1e3,
        small_bf16 * 1e3
    );

    println!("end to end, 720p sample, decodebin ! tcvclineart ! tcvccolorize ! x264enc, {frames} frames:");
    for (name, m) in [("64/8", &paper), ("32/6", &small)] {
        for precision in ["fp32", "bf16"] {
            println!(
                "  {name} {precision}: {:.2} fps",
                pipeline_fps(m, precision, frames)
            );
        }
    }
}
