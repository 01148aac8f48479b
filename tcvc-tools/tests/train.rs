// SPDX-License-Identifier: MIT
//! `tcvc-train` end to end on real frames of the 720p sample clip: the L1 loss falls, the export
//! runs in `tcvccolorize`, a run killed with SIGKILL resumes to the same losses as an
//! uninterrupted one (with the recipe's draws and the chain walkers' outputs too), Ctrl-C saves
//! a checkpoint and exits 130, the pix2pix baseline and the perceptual losses train, and every
//! input problem is a clear error (exit code 2) before training.
#[path = "../../tests/common/mod.rs"]
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::model::{ModelFile, StreamColorizer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

const SIZE: u32 = 64;

fn tcvc_train() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcvc-train"))
}

/// The flags every run here shares: 16 real frames (the last quarter held out for validation),
/// 64×64, a small generator, batch 2, CPU, one libtorch thread (runs are compared bit for bit).
fn base_args(dir: &Path) -> Vec<String> {
    let clip = sample(CLIP_720P);
    [
        "--train",
        clip.to_str().unwrap(),
        "--max-frames",
        "16",
        "--val-split",
        "0.25",
        "--size",
        "64",
        "--channels",
        "16",
        "--res-blocks",
        "2",
        "--batch-size",
        "2",
        "--seed",
        "7",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--log-every",
        "10",
        "--checkpoint-dir",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(args: &[String]) -> Output {
    let out = tcvc_train().args(args).output().expect("tcvc-train starts");
    eprintln!(
        "tcvc-train {}\n--- stderr ---\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One row of losses.csv: its kind, step and numeric fields by column name.
struct Row {
    kind: String,
    step: u64,
    values: HashMap<String, f64>,
}

fn read_csv(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).expect("losses.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            let values = header
                .iter()
                .zip(&f)
                .filter_map(|(h, v)| v.parse::<f64>().ok().map(|x| (h.to_string(), x)))
                .collect();
            Row {
                kind: f[0].to_string(),
                step: f[1].parse().unwrap(),
                values,
            }
        })
        .collect()
}

fn train_rows(path: &Path) -> Vec<Row> {
    read_csv(path)
        .into_iter()
        .filter(|r| r.kind == "train")
        .collect()
}

/// The reference run: 40 steps, validation every 20, export. Also run A of the resume test.
struct Reference {
    dir: PathBuf,
    model: PathBuf,
    seconds: f64,
}

fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let dir = scratch_dir("train-reference");
        let model = dir.join("model.safetensors");
        let mut args = base_args(&dir);
        args.extend(
            [
                "--steps",
                "40",
                "--val-every",
                "20",
                "--checkpoint-every",
                "20",
                "--export",
                model.to_str().unwrap(),
            ]
            .map(String::from),
        );
        let t = Instant::now();
        let out = run(&args);
        let seconds = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "reference run failed: {:?}",
            out.status
        );
        Reference {
            dir,
            model,
            seconds,
        }
    })
}

#[test]
fn l1_falls_and_the_run_writes_csv_plots_grids_checkpoints_and_metadata() {
    let r = reference();
    eprintln!("reference run: 40 steps in {:.1} s", r.seconds);
    let rows = train_rows(&r.dir.join("losses.csv"));
    assert_eq!(
        rows.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    let l1 = |rs: &[Row]| rs.iter().map(|r| r.values["g_l1"]).sum::<f64>() / rs.len() as f64;
    let (first, last) = (l1(&rows[..5]), l1(&rows[35..]));
    assert!(
        last < 0.8 * first,
        "L1 did not fall: first 5 steps {first:.4}, last 5 {last:.4}"
    );
    for r in &rows {
        for k in ["g_total", "g_adv", "d_total", "d_real", "d_fake"] {
            assert!(r.values[k].is_finite(), "{k} at step {}", r.step);
        }
        assert!(!r.values.contains_key("g_content"), "content is off");
    }
    let val: Vec<Row> = read_csv(&r.dir.join("losses.csv"))
        .into_iter()
        .filter(|r| r.kind == "val")
        .collect();
    assert_eq!(val.iter().map(|r| r.step).collect::<Vec<_>>(), [20, 40]);
    for v in &val {
        assert!((5.0..60.0).contains(&v.values["val_psnr"]), "PSNR");
        assert!((-1.0..=1.0).contains(&v.values["val_ssim"]), "SSIM");
        assert!(v.values["val_temporal_error"] >= 0.0);
        assert_eq!(v.values["val_frames"], 4.0);
    }
    for f in [
        "losses.png",
        "validation.png",
        "samples/step-000000020.png",
        "samples/step-000000040.png",
        "run.json",
        "ckpt-000000020.safetensors",
        "ckpt-000000040.safetensors",
    ] {
        let p = r.dir.join(f);
        assert!(p.is_file() && p.metadata().unwrap().len() > 0, "{f}");
    }
    let grid = opencv::imgcodecs::imread(
        r.dir.join("samples/step-000000040.png").to_str().unwrap(),
        opencv::imgcodecs::IMREAD_COLOR,
    )
    .unwrap();
    use opencv::prelude::*;
    assert_eq!(grid.cols() % 4, 0, "4 columns");
    assert_eq!(grid.rows() % (grid.cols() / 4), 0, "square cells");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["config"]["arch"], "tcvc");
    assert!(info["perceptual"].as_str().unwrap().contains("OFF"));
    assert_eq!(info["train_frames"], 12);
}

/// Real line art: frames of the 720p clip at `SIZE`² through tcvclineart.
fn line_art(indices: &[usize]) -> Vec<Vec<u8>> {
    line_art_frames(CLIP_720P, indices, SIZE, SIZE)
}

/// Packed RGB of a `[0, 1]` `1 × 3 × H × W` tensor, rounded as the element rounds.
fn to_rgb8(t: &Tensor) -> Vec<u8> {
    Vec::<f32>::try_from(
        (t * 255.0)
            .round()
            .clamp(0.0, 255.0)
            .squeeze_dim(0)
            .permute([1, 2, 0])
            .contiguous()
            .view([-1]),
    )
    .unwrap()
    .into_iter()
    .map(|v| v as u8)
    .collect()
}

/// Runs `SIZE`² line-art frames through `tcvccolorize model-file=model output-mode=color`.
fn colorize_frames(model: &Path, art: &[Vec<u8>]) -> Vec<Vec<u8>> {
    init();
    let el = gst::ElementFactory::make("tcvccolorize")
        .property("model-file", model.to_str().unwrap())
        .property("device", "cpu")
        .build()
        .unwrap();
    el.set_property_from_str("output-mode", "color");
    el.set_property_from_str("scene-threshold", "1.0");
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    h.set_src_caps_str(&format!(
        "video/x-raw,format=GRAY8,width={SIZE},height={SIZE},framerate=25/1"
    ));
    h.set_sink_caps_str("video/x-raw,format=RGB");
    h.play();
    art.iter()
        .enumerate()
        .map(|(i, a)| {
            let (mut buf, _) =
                buffer_from_packed(gst_video::VideoFormat::Gray8, SIZE, SIZE, a, SIZE as usize);
            buf.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
            let out = h.push_and_pull(buf).expect("a colorized frame");
            let caps = h.sinkpad().unwrap().current_caps().unwrap();
            let s = gst::Sample::builder().buffer(&out).caps(&caps).build();
            plane_packed(&s, 0).0
        })
        .collect()
}

#[test]
fn the_exported_model_loads_and_runs_in_tcvccolorize() {
    let r = reference();
    let (config, meta) = ModelFile::inspect(&r.model).expect("a valid model file");
    assert_eq!((config.channels, config.res_blocks), (16, 2));
    assert_eq!(meta.input_mode.as_str(), "lineart");
    assert_eq!(meta.train_size.to_string(), "64x64");
    assert!(
        meta.provenance.contains("\"steps\":40"),
        "{}",
        meta.provenance
    );
    assert!(meta.provenance.contains("bigbuckbunny_720p.mp4"));

    let art = line_art(&[12, 13, 14]);
    let rgb = colorize_frames(&r.model, &art);
    // The same chain directly through the model module.
    let g = ModelFile::load(&r.model, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let mut chain = StreamColorizer::new(
        g,
        gsttcvc::model::InputMode::Lineart,
        SIZE as i64,
        SIZE as i64,
        1.0,
    )
    .unwrap();
    for (i, (a, got)) in art.iter().zip(&rgb).enumerate() {
        assert_eq!(got.len(), 3 * (SIZE * SIZE) as usize);
        let x = Tensor::from_slice(a)
            .view([1, 1, SIZE as i64, SIZE as i64])
            .to_kind(Kind::Float)
            / 255.0;
        let want = to_rgb8(&chain.step(&x).unwrap().prediction);
        let max = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(
            max <= Some(1),
            "frame {i}: element vs model differ by {max:?}"
        );
        let spread = got.iter().max().unwrap() - got.iter().min().unwrap();
        assert!(spread > 20, "frame {i} is flat");
    }
}

/// Waits for `path` to exist while `child` runs; false if the child ended first or on timeout.
fn wait_for(path: &Path, child: &mut std::process::Child, timeout: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if path.exists() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_losses_of_an_uninterrupted_run() {
    let a = reference();
    let dir = scratch_dir("train-killed");
    let mut args = base_args(&dir);
    args.extend(["--checkpoint-every", "5", "--val-every", "0", "--no-plots"].map(String::from));
    let mut b = args.clone();
    b.extend(["--steps", "1000"].map(String::from));
    let mut child = tcvc_train()
        .args(&b)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ckpt10 = dir.join("ckpt-000000010.safetensors");
    let appeared = wait_for(&ckpt10, &mut child, Duration::from_secs(120));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(appeared, "no step-10 checkpoint ({status:?})");
    assert!(!status.success(), "the run was killed");
    let killed_at = train_rows(&dir.join("losses.csv")).len();
    eprintln!("killed after {killed_at} logged steps");

    let mut resume = args.clone();
    resume.extend(["--steps", "20", "--resume"].map(String::from));
    let out = run(&resume);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let from: u64 = err
        .split("resuming from ")
        .nth(1)
        .and_then(|s| s.split("(step ").nth(1))
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("the run says where it resumed");
    assert!((10..20).contains(&from), "resumed from step {from}");

    let want = train_rows(&a.dir.join("losses.csv"));
    let got = train_rows(&dir.join("losses.csv"));
    assert_eq!(
        got.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>(),
        "one row per step after the resume"
    );
    for (g, w) in got[10..20].iter().zip(&want[10..20]) {
        for k in ["g_total", "g_adv", "g_l1", "d_total", "d_real", "d_fake"] {
            let (x, y) = (g.values[k], w.values[k]);
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1e-12),
                "step {} {k}: resumed {x} vs uninterrupted {y}",
                g.step
            );
        }
    }
    // --keep 3 (default): only the newest three checkpoints remain.
    let mut ckpts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ckpt-"))
        .collect();
    ckpts.sort();
    assert_eq!(ckpts.len(), 3, "{ckpts:?}");
    assert_eq!(ckpts[2], "ckpt-000000020.safetensors");
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_exits_130() {
    let dir = scratch_dir("train-ctrl-c");
    let mut args = base_args(&dir);
    args.extend(
        [
            "--steps",
            "100000",
            "--checkpoint-every",
            "100000",
            "--val-every",
            "0",
            "--no-plots",
        ]
        .map(String::from),
    );
    let mut child = tcvc_train()
        .args(&args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let csv = dir.join("losses.csv");
    let t = Instant::now();
    while !(csv.exists() && train_rows(&csv).len() >= 3) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no training progress"
        );
        assert!(child.try_wait().unwrap().is_none(), "ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    let last = train_rows(&csv).last().unwrap().step;
    assert!(
        dir.join(format!("ckpt-{last:09}.safetensors")).is_file(),
        "a checkpoint of the last step {last}"
    );
}

#[test]
fn pix2pix_baseline_and_perceptual_losses_train() {
    // pix2pix: U-Net (6 downsamplings at 64²), adv + 100·L1, no previous frame.
    let dir = scratch_dir("train-pix2pix");
    let model = dir.join("unet.safetensors");
    let mut args = base_args(&dir);
    args.extend(
        [
            "--arch",
            "pix2pix",
            "--steps",
            "6",
            "--no-plots",
            "--export",
            model.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let out = run(&args);
    assert!(out.status.success());
    let rows = train_rows(&dir.join("losses.csv"));
    assert_eq!(rows.len(), 6);
    // 100·L1 of a [0, 1] image: far above the 10·L1 of TCVC.
    assert!(rows[0].values["g_l1"] > 5.0, "{}", rows[0].values["g_l1"]);
    let bytes = std::fs::read(&model).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], "tcvc-pix2pix-unet");
    assert_eq!(meta["downs"], "6");
    // The export runs in tcvccolorize (frame by frame) exactly as the model module runs it.
    let net = ModelFile::load_any(&model, Device::Cpu, Kind::Float)
        .unwrap()
        .net;
    assert!(!net.uses_previous());
    let art = line_art(&[12, 13]);
    let rgb = colorize_frames(&model, &art);
    for (a, got) in art.iter().zip(&rgb) {
        let x = Tensor::from_slice(a)
            .view([1, 1, SIZE as i64, SIZE as i64])
            .to_kind(Kind::Float)
            / 255.0;
        let want = to_rgb8(&net.infer(&x, &x.zeros_like()).unwrap());
        let max = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(max <= Some(1), "element vs U-Net differ by {max:?}");
    }

    // The always-blank ablation: its export says so, and the element then ignores the chain
    // (the same line art twice gives the same colours twice).
    let dir = scratch_dir("train-ablation");
    let ablation = dir.join("ablation.safetensors");
    let mut args = base_args(&dir);
    args.extend(
        [
            "--prev-prob",
            "0",
            "--steps",
            "2",
            "--no-plots",
            "--export",
            ablation.to_str().unwrap(),
            "--export-dtype",
            "f16",
        ]
        .map(String::from),
    );
    assert!(run(&args).status.success());
    let (_, meta) = ModelFile::inspect(&ablation).unwrap();
    assert_eq!(meta.previous_frame.as_str(), "blank");
    assert!(
        meta.provenance.contains("\"prev_prob\":0.0"),
        "{}",
        meta.provenance
    );
    let bytes = std::fs::read(&ablation).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("encoder.1.weight").unwrap().dtype(),
        safetensors::Dtype::F16
    );
    let same = colorize_frames(&ablation, &[art[0].clone(), art[0].clone()]);
    assert_eq!(same[0], same[1]);
    let mut args = base_args(&dir);
    args.extend(["--arch", "pix2pix", "--prev-prob", "0.3", "--steps", "1"].map(String::from));
    assert!(usage_error(&args).contains("--prev-prob is for --arch tcvc"));

    // TCVC with content + style through a frozen random VGG19, on greyscale input.
    let dir = scratch_dir("train-perceptual");
    let mut args = base_args(&dir);
    args.extend(
        [
            "--perceptual",
            "random",
            "--input",
            "greyscale",
            "--steps",
            "3",
            "--no-plots",
        ]
        .map(String::from),
    );
    let out = run(&args);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("RANDOM VGG19").count(), 1, "said once");
    for r in train_rows(&dir.join("losses.csv")) {
        assert!(r.values["g_content"] > 0.0 && r.values["g_style"] > 0.0);
        let sum =
            r.values["g_adv"] + r.values["g_l1"] + r.values["g_content"] + r.values["g_style"];
        assert!((sum - r.values["g_total"]).abs() < 1e-4 * sum);
    }
}

#[test]
fn fine_tuning_starts_from_an_export_and_torchvision_vgg19_weights_convert() {
    // --init-from: the generator starts from the reference run's export, so its first L1 is
    // far below a fresh generator's.
    let r = reference();
    let fresh = train_rows(&r.dir.join("losses.csv"))[0].values["g_l1"];
    let dir = scratch_dir("train-finetune");
    let mut args = base_args(&dir);
    args.extend(
        [
            "--init-from",
            r.model.to_str().unwrap(),
            "--steps",
            "2",
            "--lr-g",
            "1e-6",
            "--no-plots",
        ]
        .map(String::from),
    );
    // The file decides the architecture: drop --channels / --res-blocks.
    for flag in ["--channels", "--res-blocks"] {
        let i = args.iter().position(|a| a == flag).unwrap();
        args.drain(i..i + 2);
    }
    let out = run(&args);
    assert!(out.status.success());
    let tuned = train_rows(&dir.join("losses.csv"))[0].values["g_l1"];
    assert!(
        tuned < 0.6 * fresh,
        "fine-tuning L1 {tuned} vs fresh {fresh}"
    );

    // tools/convert_torchvision_vgg19.py on a torchvision-layout state_dict (random weights:
    // no download here), then training with --vgg19.
    let dir = scratch_dir("train-vgg19");
    let pth = dir.join("vgg19-random.pth");
    let st = Command::new(python())
        .arg("-c")
        .arg(
            "import sys, torch\n\
             idx=[0,2,5,7,10,12,14,16,19,21,23,25,28,30,32,34]\n\
             ch=[3,64,64,128,128,256,256,256,256,512,512,512,512,512,512,512,512]\n\
             sd={}\n\
             for k,i in enumerate(idx):\n\
             \x20sd[f'features.{i}.weight']=torch.randn(ch[k+1],ch[k],3,3)*0.05\n\
             \x20sd[f'features.{i}.bias']=torch.zeros(ch[k+1])\n\
             sd['classifier.0.weight']=torch.zeros(4,4)\n\
             torch.save(sd, sys.argv[1])\n",
        )
        .arg(&pth)
        .status()
        .unwrap();
    assert!(st.success());
    let vgg = dir.join("vgg19.safetensors");
    let out = Command::new(python())
        .arg(root().join("tools/convert_torchvision_vgg19.py"))
        .arg(&pth)
        .arg(&vgg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut args = base_args(&dir.join("run"));
    args.extend(
        [
            "--vgg19",
            vgg.to_str().unwrap(),
            "--steps",
            "2",
            "--no-plots",
        ]
        .map(String::from),
    );
    let out = run(&args);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("through VGG19 weights"), "{err}");
    let rows = train_rows(&dir.join("run/losses.csv"));
    assert!(rows.iter().all(|r| r.values["g_style"] > 0.0));
}

/// Runs tcvc-train expecting exit code 2 before any training; returns stderr.
fn usage_error(args: &[String]) -> String {
    let t = Instant::now();
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("training steps"),
        "failed after training started"
    );
    assert!(t.elapsed() < Duration::from_secs(60));
    err
}

fn with(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = base_args(dir);
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["--steps", "5"].map(String::from));
    a
}

/// Arguments of a run with one chain walker and the temporal loss (weight 2), no previous
/// frame otherwise, a checkpoint every `every` steps, no validation and no plots; `extra` after.
fn walker_args(dir: &Path, every: u32, extra: &[&str]) -> Vec<String> {
    let mut v = base_args(dir);
    let every = every.to_string();
    v.extend(
        [
            "--prev-prob",
            "0",
            "--chain-walkers",
            "1",
            "--temporal-weight",
            "2",
            "--checkpoint-every",
            &every,
            "--val-every",
            "0",
            "--no-plots",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string()),
    );
    v
}

/// Replaces the `--train` value of `args`.
fn with_train(mut args: Vec<String>, path: &Path) -> Vec<String> {
    let i = args.iter().position(|a| a == "--train").unwrap();
    args[i + 1] = path.to_str().unwrap().to_string();
    args
}

#[test]
fn input_problems_are_clear_errors_before_training() {
    let dir = scratch_dir("train-errors");
    let ck = dir.join("run");

    // A missing video.
    let missing = dir.join("no-such-episode.mp4");
    let err = usage_error(&with_train(with(&ck, &[]), &missing));
    assert!(
        err.contains("no-such-episode.mp4") && err.contains("does not exist"),
        "{err}"
    );

    // A file that is not a video.
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a video\n".repeat(100)).unwrap();
    let err = usage_error(&with_train(with(&ck, &[]), &text));
    assert!(
        err.contains("notes.txt") && err.contains("not a video"),
        "{err}"
    );

    // An empty image folder.
    let empty = dir.join("empty-frames");
    std::fs::create_dir_all(&empty).unwrap();
    let err = usage_error(&with_train(with(&ck, &[]), &empty));
    assert!(
        err.contains("empty-frames") && err.contains("no images"),
        "{err}"
    );

    // A --vgg19 file with wrong names.
    let vgg = dir.join("vgg19-wrong.safetensors");
    let data = vec![0u8; 4 * 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4], &data).unwrap();
    let bytes = safetensors::serialize(vec![("conv1.weight", view)], None).unwrap();
    std::fs::write(&vgg, bytes).unwrap();
    let err = usage_error(&with(&ck, &["--vgg19", vgg.to_str().unwrap()]));
    assert!(
        err.contains("vgg19-wrong.safetensors") && err.contains("features.0.weight"),
        "{err}"
    );

    // An unwritable checkpoint folder (a regular file is in the way: root ignores permissions).
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = blocker.join("checkpoints");
    let err = usage_error(&with(&bad, &[]));
    assert!(
        err.contains("blocker/checkpoints") && err.contains("not writable"),
        "{err}"
    );

    // --val-split outside (0, 1).
    let mut a = with(&ck, &[]);
    let i = a.iter().position(|x| x == "--val-split").unwrap();
    a[i + 1] = "1.5".into();
    let err = usage_error(&a);
    assert!(
        err.contains("--val-split") && err.contains("(0, 1)"),
        "{err}"
    );

    // Sizes the PatchGAN cannot take (it needs 24 per side): refused before libtorch sees them.
    for size in ["16", "23", "64x23"] {
        let mut a = with(&ck, &[]);
        let i = a.iter().position(|x| x == "--size").unwrap();
        a[i + 1] = size.into();
        let err = usage_error(&a);
        assert!(
            err.contains("24..=4096") && err.contains("PatchGAN"),
            "--size {size}: {err}"
        );
    }

    // Too few frames.
    let mut a = with(&ck, &[]);
    let i = a.iter().position(|x| x == "--max-frames").unwrap();
    a[i + 1] = "2".into();
    let err = usage_error(&a);
    assert!(
        err.contains("too few training frames") && err.contains("--max-frames"),
        "{err}"
    );

    // Nothing was trained: no checkpoint anywhere.
    assert!(!ck.join("losses.csv").exists());
}

/// The rows of a resumed run against an uninterrupted one's: each of `keys` present in both or
/// in neither at every step, and equal to 1e-5 where present.
/// A run in `dir` stopped at step `half` and resumed (`--resume`) to step `want.len()` gives the
/// losses `want` of an uninterrupted run (the draws, walkers and mirrors included); `args(extra)`
/// builds a run's arguments in `dir`, `flags` go to both runs.
fn assert_resumes_exactly(
    dir: &Path,
    args: impl Fn(&[&str]) -> Vec<String>,
    flags: &[&str],
    half: usize,
    want: &[Row],
) {
    let (half, full) = (half.to_string(), want.len().to_string());
    let with_steps = |steps: &str, resume: bool| {
        let mut v: Vec<&str> = flags.to_vec();
        v.extend(["--steps", steps]);
        if resume {
            v.push("--resume");
        }
        args(&v)
    };
    assert!(run(&with_steps(&half, false)).status.success());
    assert!(run(&with_steps(&full, true)).status.success());
    let got = train_rows(&dir.join("losses.csv"));
    assert_eq!(got.len(), want.len());
    assert_same_losses(&got, want, &["g_total", "g_l1", "g_temporal"]);
}

fn assert_same_losses(got: &[Row], want: &[Row], keys: &[&str]) {
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.step, w.step);
        for &k in keys {
            let (x, y) = (g.values.get(k), w.values.get(k));
            assert_eq!(x.is_some(), y.is_some(), "step {} {k}", g.step);
            if let (Some(x), Some(y)) = (x, y) {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1e-12),
                    "step {} {k}: resumed {x} vs uninterrupted {y}",
                    g.step
                );
            }
        }
    }
}

#[test]
fn the_recipe_self_feeds_weighs_the_temporal_loss_and_resumes_exactly() {
    let recipe = [
        "--prev-prob",
        "1",
        "--self-feed",
        "0.7",
        "--unroll",
        "2",
        "--degrade-prev",
        "0.5",
        "--temporal-weight",
        "2",
        "--checkpoint-every",
        "5",
        "--val-every",
        "0",
        "--no-plots",
    ];
    // Uninterrupted: 10 steps.
    let a = scratch_dir("train-recipe-a");
    let recipe_run = |dir: &Path, extra: &[&str]| {
        let mut v = base_args(dir);
        v.extend(recipe.iter().chain(extra).map(|s| s.to_string()));
        v
    };
    let out = run(&recipe_run(&a, &["--steps", "10"]));
    assert!(out.status.success());
    let rows = train_rows(&a.join("losses.csv"));
    assert_eq!(rows.len(), 10);
    // Every sample has a previous frame (bar the clip's first frame), 70 % of them self-fed:
    // most steps of 2 samples carry the temporal term, and it is part of the objective.
    let with_temporal: Vec<&Row> = rows
        .iter()
        .filter(|r| r.values.contains_key("g_temporal"))
        .collect();
    assert!(with_temporal.len() >= 6, "{} of 10", with_temporal.len());
    for r in &with_temporal {
        let v = &r.values;
        let parts = v["g_adv"] + v["g_l1"] + v["g_temporal"];
        assert!(v["g_temporal"] > 0.0);
        assert!(
            (v["g_total"] - parts).abs() < 1e-4 * parts,
            "step {}: {} vs {parts}",
            r.step,
            v["g_total"]
        );
    }
    // 5 steps, then a resumed run to 10: the same losses (the recipe's draws are restored).
    let b = scratch_dir("train-recipe-b");
    assert!(run(&recipe_run(&b, &["--steps", "5"])).status.success());
    assert!(run(&recipe_run(&b, &["--steps", "10", "--resume"]))
        .status
        .success());
    let got = train_rows(&b.join("losses.csv"));
    assert_eq!(got.len(), 10);
    for k in ["g_total", "g_l1", "d_total"] {
        assert!(rows.iter().all(|r| r.values.contains_key(k)), "{k}");
    }
    assert_same_losses(&got, &rows, &["g_total", "g_l1", "d_total", "g_temporal"]);
    // Flags that cannot work are usage errors.
    let d = scratch_dir("train-recipe-errors");
    let e = usage_error(&with(&d, &["--temporal-weight", "1"]));
    assert!(e.contains("--self-feed"), "{e}");
    let e = usage_error(&with(&d, &["--arch", "pix2pix", "--self-feed", "0.5"]));
    assert!(e.contains("--arch tcvc"), "{e}");
    let e = usage_error(&with(&d, &["--prev-prob", "0", "--degrade-prev", "0.5"]));
    assert!(e.contains("--prev-prob 0"), "{e}");
    let e = usage_error(&with(&d, &["--lines-at", "source", "--fit", "pad"]));
    assert!(e.contains("--fit stretch or crop"), "{e}");
}

/// `--chain-walkers`: one sample of every batch continues the model's own chain along a shot,
/// with the temporal loss on it; a checkpoint keeps the walker's last output, so a run resumed
/// halfway gives the losses of an uninterrupted one; the export runs with its chain.
#[test]
fn chain_walkers_carry_the_models_own_output_and_resume_exactly() {
    let walk_run = |dir: &Path, extra: &[&str]| walker_args(dir, 5, extra);
    let a = scratch_dir("train-walk-a");
    let model = a.join("walk.safetensors");
    let out = run(&walk_run(
        &a,
        &["--steps", "10", "--export", model.to_str().unwrap()],
    ));
    assert!(out.status.success());
    let rows = train_rows(&a.join("losses.csv"));
    assert_eq!(rows.len(), 10);
    // 12 training frames in one shot: the walker starts it at step 1 with a blank previous
    // frame and continues it every step after, each with the temporal term.
    assert!(!rows[0].values.contains_key("g_temporal"));
    for r in &rows[1..] {
        assert!(r.values["g_temporal"] > 0.0, "step {}", r.step);
    }
    // The checkpoint holds the walker's output; the export is a chain model.
    let ckpt = std::fs::read(a.join("ckpt-000000010.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&ckpt).unwrap();
    assert_eq!(st.tensor("walk.0").unwrap().shape(), [1, 3, 64, 64]);
    let (_, meta) = ModelFile::inspect(&model).unwrap();
    assert_eq!(meta.previous_frame.as_str(), "chain");
    let provenance: serde_json::Value = serde_json::from_str(&meta.provenance).unwrap();
    assert_eq!(provenance["objective"], "adv + 10·L1 + 2·temporal");
    // 5 steps, then resumed to 10: the same losses to the last digits.
    let b = scratch_dir("train-walk-b");
    assert_resumes_exactly(&b, |e| walk_run(&b, e), &[], 5, &rows);
    let d = scratch_dir("train-walk-errors");
    let e = usage_error(&with(&d, &["--chain-walkers", "3"]));
    assert!(e.contains("--batch-size 2"), "{e}");
    let e = usage_error(&with(&d, &["--arch", "pix2pix", "--chain-walkers", "1"]));
    assert!(e.contains("--arch tcvc"), "{e}");
}

/// `--flip`: mirrored samples train a model whose first step differs from the unmirrored
/// run's (same seed, same batch), a run resumed halfway mirrors the same samples (the same
/// losses as an uninterrupted one, walker included), and a resume with another `--flip` is
/// refused.
#[test]
fn flipped_samples_follow_the_seed_and_resume_exactly() {
    let flip_run = |dir: &Path, extra: &[&str]| walker_args(dir, 3, extra);
    let a = scratch_dir("train-flip-a");
    assert!(run(&flip_run(&a, &["--steps", "6", "--flip", "0.5"]))
        .status
        .success());
    let rows = train_rows(&a.join("losses.csv"));
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["config"]["flip"], 0.5);
    let plain = scratch_dir("train-flip-off");
    assert!(run(&flip_run(&plain, &["--steps", "6"])).status.success());
    let off = train_rows(&plain.join("losses.csv"));
    assert!(
        rows.iter()
            .zip(&off)
            .any(|(r, o)| r.values["g_total"] != o.values["g_total"]),
        "mirroring changed no step's loss"
    );
    let b = scratch_dir("train-flip-b");
    assert_resumes_exactly(&b, |e| flip_run(&b, e), &["--flip", "0.5"], 3, &rows);
    let e = usage_error(&flip_run(&b, &["--steps", "8", "--resume"]));
    assert!(e.contains("--flip"), "{e}");
    let e = usage_error(&with(&scratch_dir("train-flip-bad"), &["--flip", "1.5"]));
    assert!(e.contains("--flip"), "{e}");
}

/// `--adv-weight` and `--l1-weight` set the terms' weights: the weighted L1 term of the first
/// step scales with the weight (same seed, same first batch), the adversarial term vanishes at
/// 0 (and the discriminator with it), and a resume with other weights is refused.
#[test]
fn loss_weights_scale_their_terms_and_are_checked_on_resume() {
    let first = |extra: &[&str], name: &str| {
        let d = scratch_dir(name);
        let mut a = base_args(&d);
        a.extend(
            ["--steps", "1", "--val-every", "0", "--no-plots"]
                .iter()
                .chain(extra)
                .map(|s| s.to_string()),
        );
        assert!(run(&a).status.success());
        (train_rows(&d.join("losses.csv"))[0].values.clone(), a, d)
    };
    let (paper, _, paper_dir) = first(&[], "weights-paper");
    let (custom, args, _) = first(&["--adv-weight", "0", "--l1-weight", "5"], "weights-custom");
    assert!(paper["g_adv"] > 0.0);
    assert_eq!(custom["g_adv"], 0.0);
    // Without the adversarial term no discriminator runs: its columns are empty.
    for k in ["d_total", "d_real", "d_fake"] {
        assert!(paper[k].is_finite(), "{k} with the paper's weights");
        assert!(!custom.contains_key(k), "{k} logged at --adv-weight 0");
    }
    let ratio = custom["g_l1"] / paper["g_l1"];
    assert!(
        (ratio - 0.5).abs() < 1e-4,
        "L1 term 5/10 of the paper's: {ratio}"
    );
    assert!((custom["g_total"] - custom["g_l1"]).abs() < 1e-6 * custom["g_l1"]);
    assert!(!paper.contains_key("g_l2") && !custom.contains_key("g_l2"));
    // A squared-error term: logged, part of the objective, and its weight scales it. The first
    // step's output is the same at L1 weight 0 (the same init and batch), so the L2 term is the
    // same mean squared error times 50 and 100.
    let (l2a, _, l2a_dir) = first(
        &["--adv-weight", "0", "--l1-weight", "0", "--l2-weight", "50"],
        "weights-l2a",
    );
    // run.json (and the log) name the objective as trained, with the weights as resolved.
    let objective = |d: &std::path::Path| {
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
        let text = info["perceptual"].as_str().unwrap().to_string();
        text.split_once("generator objective: ")
            .map(|(_, o)| o.to_string())
            .unwrap_or(text)
    };
    assert_eq!(objective(&paper_dir), "adv + 10·L1");
    assert_eq!(objective(&l2a_dir), "50·squared error");
    let (l2b, _, _) = first(
        &[
            "--adv-weight",
            "0",
            "--l1-weight",
            "0",
            "--l2-weight",
            "100",
        ],
        "weights-l2b",
    );
    assert!(l2a["g_l2"] > 0.0 && l2a["g_l1"] == 0.0);
    assert!((l2a["g_total"] - l2a["g_l2"]).abs() < 1e-6 * l2a["g_l2"]);
    let ratio = l2b["g_l2"] / l2a["g_l2"];
    assert!((ratio - 2.0).abs() < 1e-4, "L2 term 100/50: {ratio}");
    assert!(!l2a.contains_key("g_fill"));
    // The squared error of the fill output: logged as g_fill, the whole objective here.
    let (fill, _, _) = first(
        &[
            "--adv-weight",
            "0",
            "--l1-weight",
            "0",
            "--fill-weight",
            "50",
        ],
        "weights-fill",
    );
    assert!(fill["g_fill"] > 0.0 && !fill.contains_key("g_l2"));
    assert!((fill["g_total"] - fill["g_fill"]).abs() < 1e-6 * fill["g_fill"]);
    let e = usage_error(&with(
        &scratch_dir("weights-bad-fill"),
        &["--fill-weight=-1"],
    ));
    assert!(
        e.contains("--fill-weight must be a finite number >= 0"),
        "{e}"
    );
    let e = usage_error(&with(&scratch_dir("weights-bad-l2"), &["--l2-weight=nan"]));
    assert!(
        e.contains("--l2-weight must be a finite number >= 0"),
        "{e}"
    );
    // Resuming that run with the paper's weights is refused.
    let k = args.iter().position(|a| a == "--adv-weight").unwrap();
    let mut resume: Vec<String> = args[..k].iter().chain(&args[k + 4..]).cloned().collect();
    let i = resume.iter().position(|a| a == "--steps").unwrap();
    resume[i + 1] = "2".into();
    resume.push("--resume".into());
    let e = usage_error(&resume);
    assert!(e.contains("--adv-weight"), "{e}");
    let d = scratch_dir("weights-bad");
    let e = usage_error(&with(&d, &["--l1-weight=-1"]));
    assert!(
        e.contains("--l1-weight must be a finite number >= 0"),
        "{e}"
    );
}

/// `--perceptual efficientnet-lite0`: the Rust feature extractor equals a torch.nn.functional
/// forward of the same file (random weights of the real layout, made by the converter), and a
/// run trains with content and style terms from it.
#[test]
fn efficientnet_lite0_features_match_pytorch_and_train() {
    let dir = scratch_dir("effnet");
    let weights = dir.join("random.safetensors");
    let st = Command::new(python())
        .arg(root().join("tools/convert_efficientnet_lite0.py"))
        .args(["-", weights.to_str().unwrap(), "--random", "3"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let net =
        gsttcvc::model::EfficientNetLite0::from_safetensors(&weights, tch::Device::Cpu).unwrap();
    let (n, h, w) = (2i64, 64i64, 96i64);
    let x = Tensor::arange(n * 3 * h * w, (tch::Kind::Float, tch::Device::Cpu))
        .view([n, 3, h, w])
        .f_mul_scalar(0.618_034)
        .unwrap()
        .frac();
    let feats = net.features(&x).unwrap();
    let input: Vec<f32> = Vec::try_from(x.flatten(0, -1)).unwrap();
    let raw: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("x.raw"), raw).unwrap();
    let st = Command::new(python())
        .arg(root().join("tests/peers/effnet_peer.py"))
        .arg(&weights)
        .arg(dir.join("x.raw"))
        .args([n.to_string(), h.to_string(), w.to_string()])
        .arg(dir.join("y.raw"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let theirs: Vec<f32> = std::fs::read(dir.join("y.raw"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let mut at = 0;
    for (k, f) in feats.content.iter().enumerate() {
        let ours: Vec<f32> = Vec::try_from(f.flatten(0, -1)).unwrap();
        let t = &theirs[at..at + ours.len()];
        at += ours.len();
        let scale = t.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let err = ours
            .iter()
            .zip(t)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        assert!(err < 1e-4, "stage {k}: max relative error {err}");
        let stride = 2i64 << k;
        assert_eq!(f.size(), vec![n, f.size()[1], h / stride, w / stride]);
    }
    assert_eq!(at, theirs.len(), "five stages, all compared");
    // Not a multiple of 32: a clear error.
    let odd = Tensor::zeros([1, 3, 48, 64], (tch::Kind::Float, tch::Device::Cpu));
    assert!(net
        .features(&odd)
        .unwrap_err()
        .to_string()
        .contains("multiples of 32"));

    // A run with it: content and style terms in the log.
    let run_dir = dir.join("run");
    let mut a = base_args(&run_dir);
    a.extend(
        [
            "--steps",
            "2",
            "--val-every",
            "0",
            "--no-plots",
            "--perceptual",
            "efficientnet-lite0",
            "--perceptual-weights",
            weights.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let out = run(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = train_rows(&run_dir.join("losses.csv"));
    assert!(rows
        .iter()
        .all(|r| r.values["g_content"] > 0.0 && r.values["g_style"] > 0.0));
    // A training size that is not a multiple of 32 is refused up front.
    let i = a.iter().position(|x| x == "--size").unwrap();
    a[i + 1] = "48".into();
    let i = a.iter().position(|x| x == "--checkpoint-dir").unwrap();
    a[i + 1] = dir.join("run48").display().to_string();
    let e = usage_error(&a);
    assert!(e.contains("multiples of") && e.contains("32"), "{e}");
}

/// `--export-average N`: the exported generator is the mean of the newest N checkpoints'
/// generator weights (checked against the two single exports), the run's own weights are put
/// back afterwards (a later plain export equals the last checkpoint's), the output mode
/// recommendation lands in the file, and asking for more checkpoints than `--keep` keeps is a
/// usage error.
#[test]
fn export_average_is_the_mean_of_the_newest_checkpoints() {
    let d = scratch_dir("export-average");
    let steps = |n: &str, extra: &[&str]| {
        let mut a = base_args(&d);
        a.extend(
            [
                "--steps",
                n,
                "--checkpoint-every",
                "2",
                "--keep",
                "3",
                "--val-every",
                "0",
                "--no-plots",
            ]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
        );
        let out = run(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let (m2, m4, avg, last) = (
        d.join("m2.st"),
        d.join("m4.st"),
        d.join("avg.st"),
        d.join("last.st"),
    );
    let p = |m: &Path| m.to_str().unwrap().to_string();
    steps("2", &["--export", &p(&m2)]);
    steps("4", &["--resume", "--export", &p(&m4)]);
    let err = steps(
        "4",
        &[
            "--resume",
            "--export",
            &p(&avg),
            "--export-average",
            "2",
            "--output-mode",
            "color",
        ],
    );
    assert!(
        err.contains("mean of the generator weights at steps 4, 2"),
        "{err}"
    );
    steps("4", &["--resume", "--export", &p(&last)]);
    let load = |m: &Path| ModelFile::load(m, Device::Cpu, Kind::Float).unwrap();
    let (a, b, c, l) = (load(&m2), load(&m4), load(&avg), load(&last));
    assert_eq!(c.meta.output, Some(gsttcvc::model::OutputMode::Color));
    assert!(c
        .meta
        .provenance
        .contains("mean of the newest 2 checkpoints"));
    let named = |m: &gsttcvc::model::LoadedModel| m.generator.named_tensors();
    let mut moved = 0.0f64;
    for (((n, x), (_, y)), ((_, z), (_, w))) in named(&a)
        .into_iter()
        .zip(named(&b))
        .zip(named(&c).into_iter().zip(named(&l)))
    {
        let mean = (&x + &y) / 2.0;
        let diff = (&z - &mean).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{n}: {diff}");
        assert_eq!((&w - &y).abs().max().double_value(&[]), 0.0, "{n}");
        moved += (&x - &y).abs().max().double_value(&[]);
    }
    assert!(moved > 0.0, "the two checkpoints differ");
    let mut a = base_args(&d);
    a.extend(["--steps", "4", "--keep", "2", "--export-average", "3"].map(String::from));
    let e = usage_error(&a);
    assert!(
        e.contains("--export-average 3") && e.contains("--keep"),
        "{e}"
    );
}

/// `--lines-at source` on a video file: frames decoded one at a time at the clip's own size and
/// their line art averaged down equal the line art of the same frames decoded whole at that size
/// (`video::load_clip`) averaged over blocks by hand (1280×720 → 64×36: 20×20 blocks).
#[test]
fn source_inputs_of_a_video_are_its_own_size_line_art_averaged_down() {
    use tcvc_tools::edges::ModelInput;
    use tcvc_tools::model::InputMode;
    use tcvc_tools::video::{self, Fit};
    let clip = sample(CLIP_720P);
    let (sw, sh) = video::source_size(&clip).unwrap();
    assert_eq!((sw, sh), (1280, 720));
    let (w, h, k) = (64usize, 36usize, 20usize);
    let got = tcvc_tools::train::data::source_inputs(
        &clip,
        w as u32,
        h as u32,
        Fit::Stretch,
        Some(3),
        InputMode::Lineart,
        3,
    )
    .unwrap();
    let whole = video::load_clip(&clip, sw, sh, Fit::Stretch, Some(3)).unwrap();
    assert_eq!(got.len(), 3);
    let mut edges = ModelInput::new();
    for (g, rgb) in got.iter().zip(&whole.frames) {
        let plane = edges.of_rgb(rgb, sw as usize, sh as usize, true).unwrap();
        let want = block_mean(plane, sw as usize, sh as usize, 0, k);
        assert_eq!(want.len(), w * h);
        let worst = g.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(worst <= Some(1), "largest difference {worst:?}");
        assert!(g.iter().any(|&v| v < 250), "the frame has lines");
    }
}

/// Mean of each `k × k` block of a `w × h` plane, rounded (a hand area average).
fn block_mean(plane: &[u8], w: usize, h: usize, x0: usize, k: usize) -> Vec<u8> {
    let (ow, oh) = ((w - 2 * x0) / k, h / k);
    let mut out = Vec::with_capacity(ow * oh);
    for y in 0..oh {
        for x in 0..ow {
            let mut s = 0u32;
            for dy in 0..k {
                for dx in 0..k {
                    s += plane[(y * k + dy) * w + x0 + x * k + dx] as u32;
                }
            }
            out.push((s as f64 / (k * k) as f64).round() as u8);
        }
    }
    out
}

/// `--lines-at source` on a folder of images: the line art at the frames' own size averaged down
/// (stretch: 2×2 blocks; crop: the centre square, then 2×2 blocks), by hand.
#[test]
fn source_inputs_of_a_folder_are_its_own_size_line_art_averaged_down() {
    use tcvc_tools::edges;
    use tcvc_tools::model::InputMode;
    use tcvc_tools::train::data::source_inputs;
    use tcvc_tools::video::Fit;
    let dir = scratch_dir("source-inputs-folder");
    let (w, h) = (64usize, 48usize);
    let mut frames = Vec::new();
    for f in 0..3usize {
        // Flat shapes on a light ground: a rectangle moving right, a dark disc.
        let mut rgb = vec![230u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let p = (y * w + x) * 3;
                if (10 + 4 * f..30 + 4 * f).contains(&x) && (8..30).contains(&y) {
                    rgb[p..p + 3].copy_from_slice(&[200, 40, 40]);
                }
                let (dx, dy) = (x as i64 - 44, y as i64 - 30);
                if dx * dx + dy * dy < 90 {
                    rgb[p..p + 3].copy_from_slice(&[20, 60, 160]);
                }
            }
        }
        write_png(&dir.join(format!("{f:05}.png")), &rgb, h, 3);
        frames.push(rgb);
    }
    let mut edges = edges::ModelInput::new();
    let full: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| edges.of_rgb(f, w, h, true).unwrap().to_vec())
        .collect();
    assert!(full[0].contains(&0), "the frames have lines");
    // Stretch to half size: 2×2 block means of the source-size line art.
    let got = source_inputs(&dir, 32, 24, Fit::Stretch, None, InputMode::Lineart, 3).unwrap();
    for (g, f) in got.iter().zip(&full) {
        let want = block_mean(f, w, h, 0, 2);
        assert!(g.iter().zip(&want).all(|(a, b)| a.abs_diff(*b) <= 1));
        assert!(g.iter().any(|&v| v > 0 && v < 255), "grey, averaged lines");
    }
    // Crop to a square: the centre 48×48, then 2×2 block means.
    let got = source_inputs(&dir, 24, 24, Fit::Crop, None, InputMode::Lineart, 3).unwrap();
    for (g, f) in got.iter().zip(&full) {
        let want = block_mean(f, w, h, 8, 2);
        assert!(g.iter().zip(&want).all(|(a, b)| a.abs_diff(*b) <= 1));
    }
    // A frame count that does not match the training-size decode is an error.
    let e = source_inputs(&dir, 32, 24, Fit::Stretch, None, InputMode::Lineart, 4).unwrap_err();
    assert!(e.to_string().contains("3 frames at its own size"), "{e}");

    // A run keeps these planes in its clip cache, and a second run with the same cache takes
    // them from there: the same first step.
    let cache = dir.join("cache");
    let first_step = |name: &str| {
        let d = scratch_dir(name);
        let a: Vec<String> = [
            "--train",
            dir.to_str().unwrap(),
            "--size",
            "32x24",
            "--lines-at",
            "source",
            "--channels",
            "8",
            "--res-blocks",
            "1",
            "--batch-size",
            "2",
            "--steps",
            "1",
            "--val-every",
            "0",
            "--no-plots",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--checkpoint-dir",
            d.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = run(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        train_rows(&d.join("losses.csv"))[0].values["g_total"]
    };
    let cold = first_step("source-inputs-cache-a");
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "json")
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains("\"kind\": \"lines-at-source")
        })
        .expect("a cache entry of the source-size input planes");
    let want = source_inputs(&dir, 32, 24, Fit::Stretch, None, InputMode::Lineart, 3).unwrap();
    assert_eq!(
        std::fs::read(entry.with_extension("rgb")).unwrap(),
        want.concat()
    );
    assert_eq!(first_step("source-inputs-cache-b"), cold);
}

/// `--working-orientation turn`: a portrait clip (a 9:16 centre crop of the 720p sample, as
/// PNGs) under a landscape training size trains at that size turned — its checkpointed walker
/// output and validation are the turned size's — beside a landscape clip at the training size;
/// run.json, the export's metadata (what `working-orientation=auto` follows) and its provenance
/// record it; a resumed run gives the losses of an
/// uninterrupted one (mirrors and walker included), and a resume with the other orientation is
/// refused. Under `model` the same clips train at the training size.
#[test]
fn working_orientation_turn_trains_portrait_clips_turned_and_resumes_exactly() {
    let d = scratch_dir("train-orient");
    let portrait = d.join("portrait");
    std::fs::create_dir_all(&portrait).unwrap();
    let clip = gsttcvc::video::load_clip(
        &sample(CLIP_720P),
        90,
        160,
        gsttcvc::video::Fit::Crop,
        Some(16),
    )
    .unwrap();
    for (i, f) in clip.frames.iter().enumerate() {
        write_png(&portrait.join(format!("{i:05}.png")), f, 160, 3);
    }
    // The landscape 720p clip and the portrait folder at 64x48, the portrait clip's tail held
    // out; one walker on the portrait clip's shot or the other's, mirrors on.
    let args = |dir: &Path, extra: &[&str]| {
        let mut v = walker_args(dir, 3, &["--flip", "0.5", "--train"]);
        v.push(portrait.to_str().unwrap().to_string());
        let i = v.iter().position(|a| a == "--size").unwrap();
        v[i + 1] = "64x48".into();
        let i = v.iter().position(|a| a == "--val-every").unwrap();
        v[i + 1] = "3".into();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let a = d.join("a");
    let model = d.join("turned.safetensors");
    let out = run(&args(
        &a,
        &[
            "--working-orientation",
            "turn",
            "--steps",
            "6",
            "--export",
            model.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--working-orientation turn: 1 of 2 training clips at 48x64"),
        "{stderr}"
    );
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["config"]["working_orientation"], "turn");
    let (_, meta) = ModelFile::inspect(&model).unwrap();
    assert_eq!(
        meta.working_orientation,
        gsttcvc::model::WorkingOrientation::Turn
    );
    let provenance: serde_json::Value = serde_json::from_str(&meta.provenance).unwrap();
    assert_eq!(provenance["working_orientation"], "turn");
    // The walker's output is kept the way the batch stores it: at the training size.
    let ckpt = std::fs::read(a.join("ckpt-000000006.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&ckpt).unwrap();
    assert_eq!(st.tensor("walk.0").unwrap().shape(), [1, 3, 48, 64]);
    // Both held-out tails were measured (the portrait one at 48x64) and drawn in the grid.
    let val: Vec<Row> = read_csv(&a.join("losses.csv"))
        .into_iter()
        .filter(|r| r.kind == "val")
        .collect();
    assert_eq!(val.len(), 2);
    assert!(val
        .iter()
        .all(|r| r.values["val_psnr"] > 5.0 && r.values["val_frames"] == 8.0));
    assert!(a.join("samples/step-000000006.png").exists());
    let rows = train_rows(&a.join("losses.csv"));

    // Resumed halfway: the same losses.
    let b = d.join("b");
    assert_resumes_exactly(
        &b,
        |e| args(&b, e),
        &["--working-orientation", "turn"],
        3,
        &rows,
    );
    let e = usage_error(&args(&b, &["--steps", "8", "--resume"]));
    assert!(e.contains("--working-orientation"), "{e}");

    // `model` (the default): every clip at the training size, and other losses.
    let c = d.join("c");
    let out = run(&args(&c, &["--steps", "6"]));
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--working-orientation turn"));
    let squeezed = train_rows(&c.join("losses.csv"));
    assert!(
        rows.iter()
            .zip(&squeezed)
            .any(|(r, s)| r.values["g_total"] != s.values["g_total"]),
        "turning the portrait clip changed no step's loss"
    );
    let e = usage_error(&args(&c, &["--working-orientation", "auto"]));
    assert!(e.contains("use turn"), "{e}");
}
