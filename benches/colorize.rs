// SPDX-License-Identifier: MIT
//! Benchmark (not a timed test) of the generator and of `tcvccolorize`, same machine, same run:
//! - generator time per 256² frame on the CPU, fp32 and bf16, against the reference PyTorch
//!   forward (tools/reference_generator.py --serve: `torch.inference_mode`, fp32) with the same
//!   weights (written by the reference code, converted), each repetition run back to back;
//! - achieved GFLOP/s against a libtorch 4096² matmul (fp32 and bf16);
//! - end-to-end fps of `filesrc ! decodebin ! tcvclineart ! tcvccolorize ! x264enc` on the 720p
//!   sample for the paper size (64/8) and a 32/6 model.
//!
//! `cargo bench --bench colorize` (TCVC_BENCH_REPS, default 5; TCVC_BENCH_FRAMES, default 12).
#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::model::ModelFile;
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
    // Transposed convolutions: one k×k multiply-add per input pixel and channel pair.
    f +=
        conv(4 * c, 2 * c, 4, h / 4, w / 4) + conv(2 * c, c, 4, h / 2, w / 2) + conv(c, 3, 7, h, w);
    f
}

/// Random weights written by the reference PyTorch code (`--seed 0`) and converted to our model
/// file, so that both sides run the same weights.
fn make_model(dir: &Path, c: i64, r: i64) -> (PathBuf, PathBuf) {
    let pth = dir.join(format!("bench-{c}-{r}.pth"));
    let out = dir.join(format!("bench-{c}-{r}.safetensors"));
    let run = |args: Vec<String>| {
        let o = Command::new(python()).args(&args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let tools = root().join("tools");
    run(vec![
        tools.join("reference_generator.py").display().to_string(),
        pth.display().to_string(),
        format!("--channels={c}"),
        format!("--res-blocks={r}"),
        "--seed=0".into(),
    ]);
    run(vec![
        tools.join("convert_reference.py").display().to_string(),
        pth.display().to_string(),
        out.display().to_string(),
        "--input-mode=lineart".into(),
    ]);
    (pth, out)
}

/// The reference forward in a persistent PyTorch process, one timed forward per request, so
/// that its runs interleave with ours and share the machine's load.
struct Reference {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Reference {
    fn start(c: i64, r: i64, dir: &Path) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(python())
            .arg(root().join("tools/reference_generator.py"))
            .arg(dir.join(format!("bench-{c}-{r}-serve.pth")))
            .args([
                "--channels",
                &c.to_string(),
                "--res-blocks",
                &r.to_string(),
                "--seed",
                "0",
            ])
            .args(["--height", "256", "--width", "256", "--serve"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Reference { child, out }
    }

    /// Seconds of one forward.
    fn forward(&mut self) -> f64 {
        use std::io::{BufRead, Write};
        writeln!(self.child.stdin.as_mut().unwrap(), "fwd").unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().parse::<f64>().unwrap() / 1e3
    }
}

/// One timed forward of ours at 256² (input fixed, weights from `model`).
fn forward_timer(model: &Path, kind: Kind) -> impl FnMut() -> f64 {
    let g = ModelFile::load(model, Device::Cpu, kind).unwrap().generator;
    let x = Tensor::rand([1, 1, 256, 256], (Kind::Float, Device::Cpu));
    let p = Tensor::rand([1, 3, 256, 256], (Kind::Float, Device::Cpu));
    let _ = g.infer(&x, &p).unwrap();
    move || {
        let t = Instant::now();
        let _ = g.infer(&x, &p).unwrap();
        t.elapsed().as_secs_f64()
    }
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
    let (_, paper) = make_model(&dir, 64, 8);
    let (_, small) = make_model(&dir, 32, 6);
    println!(
        "tcvccolorize benchmark ({} libtorch threads)",
        tch::get_num_threads()
    );

    // Reference, ours fp32, ours bf16 back to back for each repetition; ratios are medians of
    // the per-repetition ratios (robust to the machine's changing load).
    let mut reference = Reference::start(64, 8, &dir);
    let mut fp32 = forward_timer(&paper, Kind::Float);
    let mut bf16 = forward_timer(&paper, Kind::BFloat16);
    let (mut tr, mut t32, mut t16, mut r32, mut r16) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let (a, b, c) = (reference.forward(), fp32(), bf16());
        tr.push(a);
        t32.push(b);
        t16.push(c);
        r32.push(a / b);
        r16.push(a / c);
    }
    let (reference, fp32, bf16) = (median(tr), median(t32), median(t16));
    let flops = generator_flops(64, 8, 256, 256);
    println!(
        "generator 64/8 at 256x256 (same weights), {:.1} GFLOP/frame, median of {reps}:",
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
        median(r32),
        flops / fp32 / 1e9
    );
    println!(
        "  ours bf16                        {:8.1} ms  {:.3} fps  {:.2}x  {:.0} GFLOP/s",
        bf16 * 1e3,
        1.0 / bf16,
        median(r16),
        flops / bf16 / 1e9
    );
    let (mm32, mm16) = (matmul_gflops(Kind::Float), matmul_gflops(Kind::BFloat16));
    println!("  anchor: libtorch 4096^2 matmul   fp32 {mm32:.0} GFLOP/s, bf16 {mm16:.0} GFLOP/s");
    println!(
        "  generator / matmul               fp32 {:.2}, bf16 {:.2}",
        flops / fp32 / 1e9 / mm32,
        flops / bf16 / 1e9 / mm16
    );
    let mut s32 = forward_timer(&small, Kind::Float);
    let mut s16 = forward_timer(&small, Kind::BFloat16);
    let small_fp32 = median((0..reps).map(|_| s32()).collect());
    let small_bf16 = median((0..reps).map(|_| s16()).collect());
    println!(
        "generator 32/6 at 256x256: fp32 {:.1} ms, bf16 {:.1} ms ({:.1} GFLOP/frame)",
        small_fp32 * 1e3,
        small_bf16 * 1e3,
        generator_flops(32, 6, 256, 256) / 1e9
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
