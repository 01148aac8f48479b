// SPDX-License-Identifier: MIT
//! `tcvc-eval` end to end: the table, the JSON and CSV outputs, agreement of the per-frame PSNR
//! with an independent computation (the video module, StreamColorizer and compose run here), the
//! held-out tail, several videos, the errors (exit code 2, clear messages), and
//! `tools/release-check.py`'s summary over several renderings.
#[path = "../../tests/common/mod.rs"]
mod common;

use common::*;
use gsttcvc::metrics::{self, Plane};
use gsttcvc::model::stream::{compose, OutputMode, StreamColorizer, DEFAULT_SCENE_THRESHOLD};
use gsttcvc::model::{InputMode, ModelFile};
use opencv::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

const FRAMES: usize = 6;

/// Runs the commands at once (the tools spend most of their time importing torch) and checks
/// that each succeeded.
fn run_all(cmds: Vec<Command>) {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().expect("the venv's python runs")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Small line-art models (channels 8, one residual block, random weights of `seeds`) made as a
/// user's weights are: a reference-code checkpoint from tools/reference_generator.py converted by
/// tools/convert_reference.py (as in tests/colorize.rs).
fn make_models(dir: &Path, seeds: [u32; 2]) -> [PathBuf; 2] {
    let pth = seeds.map(|s| dir.join(format!("ref-{s}.pth")));
    let out = seeds.map(|s| dir.join(format!("tiny{s}-lineart.safetensors")));
    run_all(
        seeds
            .iter()
            .zip(&pth)
            .map(|(seed, pth)| {
                let mut c = Command::new(python());
                c.arg(root().join("tools/reference_generator.py"))
                    .arg(pth)
                    .args(["--channels", "8", "--res-blocks", "1"])
                    .args(["--seed", &seed.to_string()]);
                c
            })
            .collect(),
    );
    run_all(
        pth.iter()
            .zip(&out)
            .map(|(pth, out)| {
                let mut c = Command::new(python());
                c.arg(root().join("tools/convert_reference.py"))
                    .arg(pth)
                    .arg(out)
                    .args(["--input-mode", "lineart", "--train-size", "64x48"]);
                c
            })
            .collect(),
    );
    out
}

/// Two small line-art models shared by the tests of this process.
fn models() -> &'static [PathBuf; 2] {
    static M: OnceLock<[PathBuf; 2]> = OnceLock::new();
    M.get_or_init(|| make_models(&scratch_dir("eval-models"), [3, 5]))
}

fn eval(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcvc-eval"))
        .args(args)
        .output()
        .expect("tcvc-eval runs")
}

/// `tcvc-eval` with `model` on the first 6 frames at 64×48 (working size too) on the CPU, as
/// [`independent_psnr`] computes them, then `rest`.
fn eval_tiny(model: &Path, rest: &[&std::ffi::OsStr]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--model".as_ref(), model.as_os_str()];
    args.extend(
        [
            "--frames",
            "6",
            "--size",
            "64x48",
            "--working",
            "64x48",
            "--device",
            "cpu",
        ]
        .map(std::ffi::OsStr::new),
    );
    args.extend_from_slice(rest);
    eval(&args)
}

/// Asserts that `out` is a usage error (exit status 2) whose message names each of `says`.
fn assert_refused(out: &Output, says: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for s in says {
        assert!(err.contains(s), "no '{s}' in: {err}");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// [`eval_tiny`] with `model`, `flags` and `--json json` on `clip`; asserts that it succeeded
/// and returns its standard output and the JSON report.
fn tiny_report(
    model: &Path,
    flags: &[&str],
    json: &Path,
    clip: &Path,
) -> (String, serde_json::Value) {
    let mut rest: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
    rest.extend(["--json".as_ref(), json.as_os_str(), clip.as_os_str()]);
    let out = eval_tiny(model, &rest);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (stdout, report)
}

/// How far a model's PSNR from `tcvc-eval` may be from [`independent_psnr`]'s. Both run the
/// same network on the same input, but in two processes, and libtorch's CPU kernels do not
/// promise bitwise-equal sums from one process to the next (the order can change with the
/// threads they get): one output value rounding the other way moves a frame's PSNR by ~1e-5 dB
/// at these sizes (seen once in CI under load: 4.6e-6 dB). Any difference in the formula is far
/// larger (a peak of 254 instead of 255: 0.034 dB; another mean: whole dB).
const MODEL_PSNR_TOLERANCE_DB: f64 = 1e-3;

/// `key` of every frame of a report column's first video.
fn per_frame(model: &serde_json::Value, key: &str) -> Vec<f64> {
    model["videos"][0]["per_frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[key].as_f64().unwrap())
        .collect()
}

/// `got` (tcvc-eval's per-frame PSNR) is `want` (an independent computation), frame by frame,
/// within [`MODEL_PSNR_TOLERANCE_DB`].
fn assert_psnr_matches(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), FRAMES);
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < MODEL_PSNR_TOLERANCE_DB,
            "frame {k}: {g} vs {w}"
        );
    }
}

/// PSNR of each frame computed here: the same frames decoded by the video module, line art by
/// `edges::line_art` on the grey of `common::grey_of_rgb`, the chain and compose as the element.
fn independent_psnr(model: &Path) -> Vec<f64> {
    independent_psnr_with(model, false)
}

/// [`independent_psnr`] with a blank previous frame on every frame when `blank`.
fn independent_psnr_with(model: &Path, blank: bool) -> Vec<f64> {
    independent_psnr_keyed(model, blank, None, false, 0.0)
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

/// [`independent_psnr_with`] with the original of frames 0, `every`, 2·`every`, … as artist
/// keyframes (`StreamColorizer::set_previous`, as the element's keyframe-location): `None` for
/// those frames; predictions flip-averaged (`StreamColorizer::set_flip_average`) when `flip`;
/// outputs smoothed (`StreamColorizer::set_temporal_smoothing`) by `smooth`.
fn independent_psnr_keyed(
    model: &Path,
    blank: bool,
    every: Option<usize>,
    flip: bool,
    smooth: f64,
) -> Vec<Option<f64>> {
    let clip = gsttcvc::video::load_clip(
        &sample(CLIP_720P),
        64,
        48,
        gsttcvc::video::Fit::Stretch,
        Some(FRAMES),
    )
    .unwrap();
    assert_eq!(clip.len(), FRAMES);
    let loaded = ModelFile::load(model, Device::Cpu, Kind::Float).unwrap();
    assert_eq!(loaded.meta.input_mode, InputMode::Lineart);
    let mut chain = StreamColorizer::new(
        loaded.generator,
        InputMode::Lineart,
        64,
        48,
        DEFAULT_SCENE_THRESHOLD,
    )
    .unwrap();
    chain.set_blank_previous(blank);
    chain.set_flip_average(flip);
    chain.set_temporal_smoothing(smooth).unwrap();
    clip.frames
        .iter()
        .enumerate()
        .map(|(k, rgb)| {
            let grey = grey_of_rgb(rgb);
            let art = gsttcvc::edges::line_art(&grey, 64, 48, &gsttcvc::edges::Params::default())
                .unwrap();
            let input = Tensor::from_slice(&art)
                .view([1, 1, 48, 64])
                .to_kind(Kind::Float)
                / 255.0;
            if every.is_some_and(|n| k.is_multiple_of(n)) {
                let key = Tensor::from_slice(rgb)
                    .view([48, 64, 3])
                    .permute([2, 0, 1])
                    .unsqueeze(0)
                    .to_kind(Kind::Float)
                    / 255.0;
                chain.set_previous(&key, &input).unwrap();
                return None;
            }
            let step = chain.step(&input).unwrap();
            let out = compose(
                &step.prediction,
                &input,
                OutputMode::Ink,
                InputMode::Lineart,
            )
            .unwrap();
            let bytes = (out * 255.0)
                .round()
                .clamp(0.0, 255.0)
                .to_kind(Kind::Uint8)
                .squeeze_dim(0)
                .permute([1, 2, 0])
                .contiguous();
            let mut x = vec![0u8; 64 * 48 * 3];
            bytes.copy_data_u8(&mut x, 64 * 48 * 3);
            let xp = Plane::packed(&x, 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
            let rp = Plane::packed(rgb, 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
            Some(metrics::psnr(&xp, &rp).unwrap().psnr_avg)
        })
        .collect()
}

#[test]
fn two_models_give_the_table_json_and_csv_and_match_an_independent_psnr() {
    let [a, b] = models();
    let d = scratch_dir("eval-run");
    let (json, csv) = (d.join("out.json"), d.join("out.csv"));
    let clip = sample(CLIP_720P);
    let out = eval_tiny(
        a,
        &[
            "--model".as_ref(),
            b.as_os_str(),
            "--json".as_ref(),
            json.as_os_str(),
            "--csv".as_ref(),
            csv.as_os_str(),
            clip.as_os_str(),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));

    // The Markdown table: a header with both model columns and the four baselines, 4 metric
    // rows and the verdict against the trivial baselines.
    let table: Vec<&str> = stdout.lines().take_while(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 7, "{stdout}");
    assert!(
        table[0].contains("tiny3-lineart (lineart)")
            && table[0].contains("tiny5-lineart (lineart)"),
        "{stdout}"
    );
    for b in ["white", "grey", "lineart", "mean-colour"] {
        assert!(table[0].contains(&format!(" {b} |")), "{stdout}");
    }
    for (row, name) in table[2..6]
        .iter()
        .zip(["PSNR", "SSIM", "temporal error", "static flicker"])
    {
        assert!(row.contains(name), "{row}");
        let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
        assert_eq!(cells.len(), 7, "{row}");
        for c in &cells[1..] {
            let v: f64 = c.trim().parse().unwrap_or_else(|_| panic!("{row}"));
            assert!(v.is_finite(), "{row}");
        }
    }
    // Two untrained models: neither beats a blank page.
    assert!(
        table[6].contains("beats white, grey and lineart"),
        "{stdout}"
    );
    assert_eq!(table[6].matches("**NO**").count(), 2, "{stdout}");
    // One video: no per-video table.
    assert!(!stdout.contains("| video |"), "{stdout}");

    // JSON: every frame, PSNR as computed independently here.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let all = report["models"].as_array().unwrap();
    assert_eq!(all.len(), 6);
    let models_json: Vec<&serde_json::Value> =
        all.iter().filter(|m| m["kind"] == "model").collect();
    assert_eq!(models_json.len(), 2);
    for (m, path) in models_json.iter().zip([a, b]) {
        assert_eq!(m["input_mode"], "lineart");
        assert_eq!(m["output_mode"], "ink");
        let frames = m["videos"][0]["per_frame"].as_array().unwrap();
        assert_eq!(frames.len(), FRAMES);
        let want = independent_psnr(path);
        for (k, (f, w)) in frames.iter().zip(&want).enumerate() {
            assert_eq!(f["frame"], k);
            let got = f["psnr"].as_f64().unwrap();
            assert!(
                (got - w).abs() < MODEL_PSNR_TOLERANCE_DB,
                "frame {k}: {got} vs {w}"
            );
            let ssim = f["ssim"].as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&ssim));
            assert_eq!(f["temporal_error"].is_null(), k == 0);
        }
        // The summary is the mean of the per-frame values it reports.
        let got: Vec<f64> = frames.iter().map(|f| f["psnr"].as_f64().unwrap()).collect();
        let mean = got.iter().sum::<f64>() / got.len() as f64;
        let summary = m["summary"]["psnr"].as_f64().unwrap();
        assert!((summary - mean).abs() < 1e-9, "{summary} vs {mean}");
        assert_eq!(m["summary"]["frames"], FRAMES);
    }

    // CSV: a header and one row per model × frame.
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = csv_text.lines().collect();
    assert!(
        rows[0].starts_with("model,input_mode,video,frame"),
        "{}",
        rows[0]
    );
    assert_eq!(rows.len(), 1 + 6 * FRAMES, "{csv_text}");
    assert!(
        rows[1..].iter().all(|r| r.split(',').count() == 11),
        "{csv_text}"
    );
}

/// `--previous blank` colours every frame on its own (the same weights without the chain), as
/// computed independently here; `--previous chain` is what a TCVC file runs by default; the two
/// differ after the first frame, and the report says which ran.
#[test]
fn previous_blank_runs_the_weights_frame_by_frame() {
    let [a, _] = models();
    let d = scratch_dir("eval-previous");
    let clip = sample(CLIP_720P);
    let run = |previous: &str| {
        let json = d.join(format!("{previous}.json"));
        let flags = ["--no-baselines", "--previous", previous];
        let (stdout, report) = tiny_report(a, &flags, &json, &clip);
        assert!(
            stdout.contains(&format!("previous frame {previous}")),
            "{stdout}"
        );
        let m = &report["models"][0];
        assert_eq!(m["previous"], previous);
        per_frame(m, "psnr")
    };
    let (blank, chain) = (run("blank"), run("chain"));
    assert_psnr_matches(&blank, &independent_psnr_with(a, true));
    assert_psnr_matches(&chain, &independent_psnr(a));
    assert_eq!(
        blank[0], chain[0],
        "frame 0 has no previous frame either way"
    );
    // By more than the tolerance, or the comparisons above could not tell the two apart.
    assert!(
        blank[1..]
            .iter()
            .zip(&chain[1..])
            .any(|(b, c)| (b - c).abs() > 10.0 * MODEL_PSNR_TOLERANCE_DB),
        "the chain changed nothing: {blank:?} {chain:?}"
    );
    let e = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        "--previous".as_ref(),
        "none".as_ref(),
        clip.as_os_str(),
    ]);
    assert_refused(&e, &["--previous"]);
}

/// `--flip-average` runs the element's flip averaging (the chain of an independent
/// `StreamColorizer` with `set_flip_average`), differs from the plain chain, and says so.
#[test]
fn flip_average_runs_the_flip_averaged_chain() {
    let [a, _] = models();
    let d = scratch_dir("eval-flip");
    let clip = sample(CLIP_720P);
    let json = d.join("flip.json");
    let flags = ["--no-baselines", "--flip-average"];
    let (stdout, report) = tiny_report(a, &flags, &json, &clip);
    assert!(stdout.contains("- flip-averaged"), "{stdout}");
    assert_eq!(report["flip_average"], true);
    let got = per_frame(&report["models"][0], "psnr");
    let want: Vec<f64> = independent_psnr_keyed(a, false, None, true, 0.0)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_psnr_matches(&got, &want);
    let plain = independent_psnr(a);
    assert!(
        got.iter()
            .zip(&plain)
            .any(|(g, p)| (g - p).abs() > 10.0 * MODEL_PSNR_TOLERANCE_DB),
        "flip averaging changed nothing: {got:?} {plain:?}"
    );
}

/// A portrait video under a landscape model: `--working-orientation turn` runs it at the
/// training size turned (as the element's `working-orientation=turn`): the same frames as an
/// explicit `--working` of the turned size, said per video in the JSON and in the table's note;
/// `model`, and `auto` (the default) under a model file that does not say `turn`, keep the
/// training size, as an explicit `--working` of it; a bad value is a usage error.
#[test]
fn portrait_videos_run_at_the_training_size_turned() {
    let [a, _] = models();
    let d = scratch_dir("eval-orientation");
    let clip = sample(CLIP_720P);
    let run = |name: &str, extra: &[&str]| -> (serde_json::Value, String) {
        let json = d.join(format!("{name}.json"));
        let mut args: Vec<&std::ffi::OsStr> = vec!["--model".as_ref(), a.as_os_str()];
        args.extend(
            [
                "--frames",
                "6",
                "--size",
                "48x64",
                "--device",
                "cpu",
                "--no-baselines",
            ]
            .map(std::ffi::OsStr::new),
        );
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        args.extend(["--json".as_ref(), json.as_os_str(), clip.as_os_str()]);
        let out = eval(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (report, text(&out.stdout))
    };
    let (turn, table) = run("turn", &["--working-orientation", "turn"]);
    let model = &turn["models"][0];
    assert_eq!(
        model["working"],
        serde_json::json!({"width": 64, "height": 48})
    );
    assert_eq!(model["working_orientation"], "turn");
    assert_eq!(
        model["videos"][0]["working"],
        serde_json::json!({"width": 48, "height": 64})
    );
    assert!(table.contains("working size 64x48 (48x64 on "), "{table}");
    let (turned, _) = run("turned", &["--working", "48x64"]);
    assert_eq!(turned["models"][0]["working_orientation"], "fixed");
    let turn_psnr = per_frame(model, "psnr");
    assert_eq!(turn_psnr, per_frame(&turned["models"][0], "psnr"));
    let (squeezed, _) = run("squeezed", &["--working", "64x48"]);
    let squeezed_psnr = per_frame(&squeezed["models"][0], "psnr");
    for (name, extra) in [
        ("model", &["--working-orientation", "model"][..]),
        ("auto", &[][..]),
    ] {
        let (kept, _) = run(name, extra);
        assert_eq!(kept["models"][0]["working_orientation"], "model", "{name}");
        assert_eq!(
            per_frame(&kept["models"][0], "psnr"),
            squeezed_psnr,
            "{name}"
        );
        assert_eq!(
            kept["models"][0]["videos"][0]["working"],
            serde_json::json!({"width": 64, "height": 48}),
            "{name}"
        );
    }
    assert!(
        turn_psnr
            .iter()
            .zip(&squeezed_psnr)
            .any(|(x, y)| (x - y).abs() > 10.0 * MODEL_PSNR_TOLERANCE_DB),
        "turning the working size changed nothing: {turn_psnr:?} {squeezed_psnr:?}"
    );
    let bad = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        "--working-orientation".as_ref(),
        "sideways".as_ref(),
        clip.as_os_str(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("not a working orientation: use auto, turn or model"),
        "{}",
        text(&bad.stderr)
    );
}

/// `--temporal-smoothing` runs the element's temporal smoothing (the chain of an independent
/// `StreamColorizer` with `set_temporal_smoothing`), differs from the plain chain, says so, and
/// an out-of-range strength is a usage error.
#[test]
fn temporal_smoothing_runs_the_smoothed_chain() {
    let [a, _] = models();
    let d = scratch_dir("eval-smooth");
    let clip = sample(CLIP_720P);
    let json = d.join("smooth.json");
    let flags = ["--no-baselines", "--temporal-smoothing", "0.8"];
    let (stdout, report) = tiny_report(a, &flags, &json, &clip);
    assert!(stdout.contains("- temporal smoothing 0.8"), "{stdout}");
    assert_eq!(report["temporal_smoothing"], 0.8);
    let got = per_frame(&report["models"][0], "psnr");
    let want: Vec<f64> = independent_psnr_keyed(a, false, None, false, 0.8)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_psnr_matches(&got, &want);
    let plain = independent_psnr(a);
    assert!(
        got.iter()
            .zip(&plain)
            .any(|(g, p)| (g - p).abs() > 10.0 * MODEL_PSNR_TOLERANCE_DB),
        "temporal smoothing changed nothing: {got:?} {plain:?}"
    );
    let bad = eval_tiny(
        a,
        &[
            "--temporal-smoothing".as_ref(),
            "1".as_ref(),
            clip.as_os_str(),
        ],
    );
    assert_refused(&bad, &["0 (off) to 0.95"]);
}

#[test]
fn keyframes_are_the_originals_and_the_next_previous_frame_and_are_not_measured() {
    let [a, _] = models();
    let d = scratch_dir("eval-keyframes");
    let clip = sample(CLIP_720P);
    let run = |previous: &str, keyframes: &str| {
        let json = d.join(format!("{previous}-{keyframes}.json"));
        let out = eval_tiny(
            a,
            &[
                "--previous".as_ref(),
                previous.as_ref(),
                "--keyframes".as_ref(),
                keyframes.as_ref(),
                "--json".as_ref(),
                json.as_os_str(),
                clip.as_os_str(),
            ],
        );
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        assert!(stdout.contains("keyframes ("), "{stdout}");
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    for previous in ["chain", "blank"] {
        let report = run(previous, "3");
        assert_eq!(report["keyframes"], "every 3 frames");
        let want: Vec<(usize, f64)> =
            independent_psnr_keyed(a, previous == "blank", Some(3), false, 0.0)
                .into_iter()
                .enumerate()
                .filter_map(|(k, p)| p.map(|p| (k, p)))
                .collect();
        // Every column leaves out the keyframes 0 and 3; the chain restarts at each of them.
        for m in report["models"].as_array().unwrap() {
            assert_eq!(
                per_frame(m, "frame"),
                [1.0, 2.0, 4.0, 5.0],
                "{}",
                m["label"]
            );
            assert_eq!(
                per_frame(m, "chain_index"),
                [1.0, 2.0, 1.0, 2.0],
                "{}",
                m["label"]
            );
            // Frame 1's temporal error is against the keyframe the viewer saw before it.
            assert!(m["videos"][0]["per_frame"][0]["temporal_error"].is_f64());
        }
        let got = per_frame(&report["models"][0], "psnr");
        for ((k, w), g) in want.iter().zip(&got) {
            assert!(
                (g - w).abs() < MODEL_PSNR_TOLERANCE_DB,
                "{previous}, frame {k}: {g} vs {w}"
            );
        }
        if previous == "blank" {
            // Frame by frame a keyframe colours only its own frame.
            let plain = independent_psnr_with(a, true);
            for (k, w) in &want {
                assert_eq!(*w, plain[*k], "frame {k}");
            }
        } else {
            // The keyed chain differs from the plain chain, or the checks above prove nothing.
            let plain = independent_psnr(a);
            assert!(
                want.iter()
                    .any(|(k, w)| (w - plain[*k]).abs() > 10.0 * MODEL_PSNR_TOLERANCE_DB),
                "the keyframes changed nothing: {want:?} {plain:?}"
            );
        }
    }
    assert_eq!(run("chain", "first")["keyframes"], "first");
    for (keyframes, frames, want) in [
        ("first", "1", "nothing is left to measure"),
        ("1", "6", "at least 2"),
        ("every", "6", "neither `first`"),
    ] {
        let e = eval(&[
            "--model".as_ref(),
            a.as_os_str(),
            "--frames".as_ref(),
            frames.as_ref(),
            "--keyframes".as_ref(),
            keyframes.as_ref(),
            clip.as_os_str(),
        ]);
        assert_refused(&e, &["--keyframes", want]);
    }
}

#[test]
fn the_keyframe_carry_is_on_in_fill_and_off_with_its_flag() {
    let [a, _] = models();
    let d = scratch_dir("eval-keyframe-carry");
    let clip = sample(CLIP_720P);
    let run = |mode: &str, flag: Option<&str>| {
        let json = d.join(format!("{mode}-{}.json", flag.unwrap_or("default")));
        let mut flags = vec!["--output-mode", mode, "--keyframes", "3"];
        flags.extend(flag);
        let (stdout, report) = tiny_report(a, &flags, &json, &clip);
        let carry = flag != Some("--no-keyframe-carry");
        let flow = flag.is_none();
        assert!(
            stdout.contains(match flag {
                None => "(keyframe carry)",
                Some(f) => f,
            }),
            "{stdout}"
        );
        assert_eq!(report["keyframe_carry"], carry);
        assert_eq!(report["keyframe_flow"], flow);
        per_frame(&report["models"][0], "psnr")
    };
    let (on, off) = (run("fill", None), run("fill", Some("--no-keyframe-carry")));
    assert_eq!(on.len(), 4);
    assert!(
        on.iter().zip(&off).all(|(x, y)| x != y),
        "the carry changed no frame after a key: {on:?} {off:?}"
    );
    // The carry's optical-flow step moves some frame's pixels (a pan: the clip's camera moves).
    let no_flow = run("fill", Some("--no-keyframe-flow"));
    assert!(
        on.iter().zip(&no_flow).any(|(x, y)| x != y),
        "the flow changed no frame: {on:?} {no_flow:?}"
    );
    assert!(
        no_flow.iter().zip(&off).all(|(x, y)| x != y),
        "without the flow the carry changed no frame after a key: {no_flow:?} {off:?}"
    );
    // Regions only exist in `fill`: in `ink` the flag changes nothing.
    assert_eq!(run("ink", None), run("ink", Some("--no-keyframe-carry")));
    // With keyframes the baselines include the last key held: frames 1, 2, 4, 5 show frames 0,
    // 0, 3, 3 (against an independent PSNR), and the table says whether the model beats it.
    let json = d.join("last-key.json");
    let flags = ["--output-mode", "fill", "--keyframes", "3"];
    let (stdout, report) = tiny_report(a, &flags, &json, &clip);
    assert!(
        stdout.contains("| beats the last keyframe held (PSNR dB, SSIM) |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`last-key` the last keyframe held"),
        "{stdout}"
    );
    let held = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "last-key")
        .expect("a last-key column");
    let frames = gsttcvc::video::load_clip(&clip, 64, 48, gsttcvc::video::Fit::Stretch, Some(6))
        .unwrap()
        .frames;
    let got = per_frame(held, "psnr");
    for ((k, key), g) in [(1, 0), (2, 0), (4, 3), (5, 3)].iter().zip(&got) {
        let xp = Plane::packed(&frames[*key], 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
        let rp = Plane::packed(&frames[*k], 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
        let want = metrics::psnr(&xp, &rp).unwrap().psnr_avg;
        assert!((g - want).abs() < 1e-9, "frame {k}: {g} against {want}");
    }
    // Without keyframes there is no such column.
    let (_, plain) = tiny_report(a, &[], &d.join("plain.json"), &clip);
    assert!(plain["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["kind"] != "last-key"));

    // A held drawing (four equal frames, the first one the key) is the key on every frame: each
    // frame's PSNR is infinite (JSON null), and the means count such frames as 60 dB.
    let still = d.join("still");
    std::fs::create_dir_all(&still).unwrap();
    let frame = gsttcvc::video::load_clip(&clip, 64, 48, gsttcvc::video::Fit::Stretch, Some(1))
        .unwrap()
        .frames
        .remove(0);
    for i in 0..4 {
        write_png(&still.join(format!("{i:05}.png")), &frame, 48, 3);
    }
    let flags = [
        "--output-mode",
        "fill",
        "--keyframes",
        "first",
        "--no-baselines",
    ];
    let (stdout, report) = tiny_report(a, &flags, &d.join("still.json"), &still);
    let m = &report["models"][0];
    let frames = m["videos"][0]["per_frame"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f["psnr"].is_null()), "{frames:?}");
    assert_eq!(m["summary"]["psnr"], 60.0);
    assert!(stdout.contains("counts as 60 dB"));

    // Without keyframes the flag is refused.
    let e = eval_tiny(a, &["--no-keyframe-carry".as_ref(), clip.as_os_str()]);
    assert_refused(&e, &["--keyframes"]);
}

#[test]
fn keyframe_lookahead_moves_the_next_keyframe_back_as_the_element_does() {
    let [a, _] = models();
    let d = scratch_dir("eval-keyframe-lookahead");
    let clip = sample(CLIP_720P);
    let run = |look: &str| {
        let json = d.join(format!("look-{look}.json"));
        let flags = [
            "--output-mode",
            "fill",
            "--keyframes",
            "3",
            "--keyframe-lookahead",
            look,
            "--no-baselines",
        ];
        let (stdout, report) = tiny_report(a, &flags, &json, &clip);
        assert_eq!(report["keyframe_lookahead"], look.parse::<u32>().unwrap());
        assert_eq!(
            stdout.contains("keyframe lookahead 3"),
            look == "3",
            "{stdout}"
        );
        per_frame(&report["models"][0], "psnr")
    };
    // Keys at 0 and 3; frames 1, 2, 4 and 5 are measured. Only frame 2 is nearer to the next
    // key (3) than to the last one (0); 4 and 5 have no key in the next three frames.
    let (plain, looked) = (run("0"), run("3"));
    assert_eq!(looked.len(), 4);
    assert_eq!(looked[0], plain[0]);
    assert_eq!(looked[2..], plain[2..]);
    assert!(looked[1] != plain[1], "frame 2 took nothing of key 3");

    // Independently: the chain in `fill` with the keyframe carry from key 0, then key 3 moved
    // back into frame 2 (tcvc-core's KeyframeBack, the flow on), measured against frame 2.
    let frames = gsttcvc::video::load_clip(&clip, 64, 48, gsttcvc::video::Fit::Stretch, Some(6))
        .unwrap()
        .frames;
    let art = |rgb: &[u8]| {
        let lines = gsttcvc::edges::line_art(
            &grey_of_rgb(rgb),
            64,
            48,
            &gsttcvc::edges::Params::default(),
        )
        .unwrap();
        Tensor::from_slice(&lines)
            .view([1, 1, 48, 64])
            .to_kind(Kind::Float)
            / 255.0
    };
    let key = |rgb: &[u8]| gsttcvc::model::stream::rgb8_to_tensor(rgb, 64, 48);
    let loaded = ModelFile::load(a, Device::Cpu, Kind::Float).unwrap();
    let mut chain = StreamColorizer::new(
        loaded.generator,
        InputMode::Lineart,
        64,
        48,
        DEFAULT_SCENE_THRESHOLD,
    )
    .unwrap();
    chain
        .set_previous(&key(&frames[0]), &art(&frames[0]))
        .unwrap();
    let mut out = Vec::new();
    for f in &frames[1..3] {
        let x = art(f);
        let step = chain.step(&x).unwrap();
        let composed = chain
            .compose(&step.prediction, &x, OutputMode::Fill)
            .unwrap();
        gsttcvc::model::stream::tensor_to_rgb8(&composed, &mut out).unwrap();
    }
    assert!(chain
        .set_previous(&key(&frames[3]), &art(&frames[3]))
        .unwrap()
        .is_none());
    let mut back = gsttcvc::model::stream::KeyframeBack::new(
        &key(&frames[3]),
        &art(&frames[3]),
        InputMode::Lineart,
        true,
    )
    .unwrap();
    assert!(back.paint(&mut out, &art(&frames[2])).unwrap());
    let xp = Plane::packed(&out, 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
    let rp = Plane::packed(&frames[2], 64, 48, 64 * 3, 3, [0, 1, 2]).unwrap();
    let want = metrics::psnr(&xp, &rp).unwrap().psnr_avg;
    assert!(
        (looked[1] - want).abs() < 1e-9,
        "{} against {want}",
        looked[1]
    );

    // Without keyframes the flag is refused.
    let e = eval_tiny(
        a,
        &[
            "--keyframe-lookahead".as_ref(),
            "3".as_ref(),
            clip.as_os_str(),
        ],
    );
    assert_refused(&e, &["--keyframes"]);
}

#[test]
fn the_tail_of_several_videos_is_evaluated_and_reported_per_video() {
    let [a, _] = models();
    let clip = sample(CLIP_720P);
    // A short image sequence as the second video.
    let seq = scratch_dir("eval-seq");
    let frames =
        gsttcvc::video::load_clip(&clip, 64, 48, gsttcvc::video::Fit::Stretch, Some(4)).unwrap();
    for (i, f) in frames.frames.iter().enumerate() {
        let bgr: Vec<u8> = f.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
        let flat = opencv::core::Mat::from_slice(&bgr).unwrap();
        let m = flat.reshape(3, 48).unwrap().try_clone().unwrap();
        let v = opencv::core::Vector::<i32>::new();
        let p = seq.join(format!("{i:04}.png"));
        assert!(opencv::imgcodecs::imwrite(p.to_str().unwrap(), &m, &v).unwrap());
    }
    let json = scratch_dir("eval-tail").join("tail.json");
    let out = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        "--skip-fraction".as_ref(),
        "0.5".as_ref(),
        "--frames".as_ref(),
        "3".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
        clip.as_os_str(),
        seq.as_os_str(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("| video | model |"), "{stdout}");
    assert!(stdout.contains("| bigbuckbunny_720p |"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let videos = report["models"][0]["videos"].as_array().unwrap();
    // 132 frames, the last half: 66..132, the first 3 of them.
    assert_eq!(videos[0]["decoded_frames"], 132);
    let first: Vec<u64> = videos[0]["per_frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(first, [66, 67, 68]);
    // 4 images, the last half: 2, 3.
    let second: Vec<u64> = videos[1]["per_frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(second, [2, 3]);
    assert_eq!(report["models"][0]["summary"]["frames"], 5);
}

#[test]
fn a_bad_model_file_exits_2_with_a_clear_message() {
    let d = scratch_dir("eval-bad-model");
    let bad = d.join("broken.safetensors");
    std::fs::write(&bad, b"\x80\x02this is a pickle, not safetensors").unwrap();
    let out = eval(&[
        "--model".as_ref(),
        bad.as_os_str(),
        sample(CLIP_720P).as_os_str(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("broken.safetensors") && err.contains("not a valid safetensors file"),
        "{err}"
    );
    let missing = d.join("missing.safetensors");
    let out = eval(&[
        "--model".as_ref(),
        missing.as_os_str(),
        sample(CLIP_720P).as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.safetensors"));
}

#[test]
fn a_non_video_input_exits_2_with_a_clear_message() {
    let [a, _] = models();
    let d = scratch_dir("eval-bad-video");
    let fake = d.join("holiday.mp4");
    std::fs::write(&fake, "just some text, renamed\n".repeat(40)).unwrap();
    let out = eval(&["--model".as_ref(), a.as_os_str(), fake.as_os_str()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holiday.mp4") && err.contains("is not a video GStreamer can decode"),
        "{err}"
    );
    let out = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        d.join("nowhere.mp4").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nowhere.mp4 does not exist"));
    // A line-art model cannot run greyscale input.
    let out = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        "--input".as_ref(),
        "greyscale".as_ref(),
        sample(CLIP_720P).as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("only run its own input mode"));
}

#[test]
fn baselines_match_numpy_and_scikit_image_and_the_plot_is_drawn() {
    let [a, _] = models();
    // A 4-frame image sequence at an odd size, measured at its own size (`--size native`).
    let (w, h) = (61usize, 45usize);
    let seq = scratch_dir("eval-baselines-ref");
    let lines_dir = scratch_dir("eval-baselines-lines");
    let clip = gsttcvc::video::load_clip(
        &sample(CLIP_720P),
        w as u32,
        h as u32,
        gsttcvc::video::Fit::Stretch,
        Some(4),
    )
    .unwrap();
    for (i, f) in clip.frames.iter().enumerate() {
        write_png(&seq.join(format!("{i:04}.png")), f, h, 3);
        // The line art tcvclineart would make of it.
        let art =
            gsttcvc::edges::line_art(&grey_of_rgb(f), w, h, &gsttcvc::edges::Params::default())
                .unwrap();
        write_png(&lines_dir.join(format!("{i:04}.png")), &art, h, 1);
    }
    let d = scratch_dir("eval-baselines");
    let (json, plot) = (d.join("out.json"), d.join("by-index.png"));
    let out = eval(&[
        "--model".as_ref(),
        a.as_os_str(),
        "--size".as_ref(),
        "native".as_ref(),
        "--working".as_ref(),
        "64x48".as_ref(),
        "--device".as_ref(),
        "cpu".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
        "--plot".as_ref(),
        plot.as_os_str(),
        seq.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let peer = Command::new(python())
        .arg(root().join("tests/peers/baselines_peer.py"))
        .arg(&seq)
        .arg(&lines_dir)
        .output()
        .unwrap();
    assert!(peer.status.success(), "{}", text(&peer.stderr));
    let want: serde_json::Value = serde_json::from_slice(&peer.stdout).unwrap();
    for name in ["white", "grey", "lineart", "mean-colour"] {
        let m = report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == name)
            .unwrap_or_else(|| panic!("no {name} column"));
        assert_eq!(m["size"], "native");
        let frames = m["videos"][0]["per_frame"].as_array().unwrap();
        assert_eq!(frames.len(), 4);
        for (k, f) in frames.iter().enumerate() {
            let (p, wp) = (&f["psnr"], &want[name]["psnr"][k]);
            assert_eq!(p.is_null(), wp.is_null(), "{name} frame {k}");
            if let (Some(p), Some(wp)) = (p.as_f64(), wp.as_f64()) {
                assert!((p - wp).abs() < 1e-6, "{name} frame {k}: PSNR {p} vs {wp}");
            }
            let (s, ws) = (
                f["ssim"].as_f64().unwrap(),
                want[name]["ssim"][k].as_f64().unwrap(),
            );
            assert!((s - ws).abs() < 1e-4, "{name} frame {k}: SSIM {s} vs {ws}");
        }
    }
    // The model was measured at the clip's own size too, and a chain index restarts at 0.
    let model = &report["models"][0];
    assert_eq!(model["kind"], "model");
    let frames = model["videos"][0]["per_frame"].as_array().unwrap();
    assert_eq!(frames[0]["chain_index"], 0);
    assert_eq!(frames[3]["chain_index"], 3);
    let png = std::fs::read(&plot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the plot is a PNG");
}

/// `tools/release-check.py` over two renderings (seeds 1 and 2 of the small corpus): each gets
/// its own folder of tcvc-eval JSON files, and the closing summary counts every test clip and
/// long shot of both, with the chain's mean difference to frame by frame per shot and its 95 %
/// interval as scipy computes them from those JSON files.
#[test]
fn release_check_summarises_several_renderings() {
    let d = scratch_dir("release-check");
    let cache = root().join("target").join("corpus-test-cache");
    let corpora: Vec<PathBuf> = [1u32, 2]
        .iter()
        .map(|seed| {
            let out = d.join(format!("seed{seed}"));
            let r = Command::new(python())
                .arg(root().join("tools/corpus.py"))
                .args(["build", "--size", "small", "--quiet", "--seed"])
                .arg(seed.to_string())
                .arg("--out")
                .arg(&out)
                .arg("--cache")
                .arg(&cache)
                .current_dir(root())
                .output()
                .expect("runs tools/corpus.py");
            assert!(r.status.success(), "{}", text(&r.stderr));
            out
        })
        .collect();
    let out = d.join("out");
    let mut cmd = Command::new(python());
    cmd.arg(root().join("tools/release-check.py"))
        .arg("default")
        .arg("--eval")
        .arg(env!("CARGO_BIN_EXE_tcvc-eval"))
        .arg("--out")
        .arg(&out)
        .args(["--frames", "4"]);
    for c in &corpora {
        cmd.arg("--corpus").arg(c);
    }
    let r = cmd.output().expect("runs tools/release-check.py");
    let so = text(&r.stdout);
    // 0: every required check passed, 1: one failed (a verdict on the model, not on the tool).
    assert!(
        matches!(r.status.code(), Some(0 | 1)),
        "{so}\n{}",
        text(&r.stderr)
    );
    assert!(so.contains("# Over 2 renderings"), "{so}");
    let (mut tests, mut gaps) = (0, Vec::new());
    for (i, c) in corpora.iter().enumerate() {
        let dir = out.join(format!("{i}-{}", c.file_name().unwrap().to_str().unwrap()));
        let psnr = |file: &str| -> Vec<f64> {
            let j: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
            let m = j["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["kind"] == "model")
                .unwrap()
                .clone();
            m["videos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["summary"]["psnr"].as_f64().unwrap())
                .collect()
        };
        let clips = std::fs::read_dir(c.join("test")).unwrap().count();
        assert_eq!(
            psnr("test.json").len(),
            clips,
            "every test clip of {}",
            c.display()
        );
        tests += clips;
        let (chain, fbf) = (psnr("chain.json"), psnr("chain-blank.json"));
        assert_eq!(
            chain.len(),
            std::fs::read_dir(c.join("chain")).unwrap().count()
        );
        gaps.extend(chain.iter().zip(&fbf).map(|(a, b)| a - b));
    }
    assert!(so.contains(&format!("Test clips: {tests}.")), "{so}");
    assert!(so.contains(&format!("Long shots: {}.", gaps.len())), "{so}");
    let script = format!(
        "import numpy as n, scipy.stats as s\n\
         g = n.array({gaps:?})\n\
         h = s.t.ppf(0.975, len(g) - 1) * g.std(ddof=1) / len(g) ** 0.5\n\
         print(f'per shot: mean {{g.mean():+.2f}} ± {{h:.2f}} dB (95 %)', end='')"
    );
    let want = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(want.status.success(), "{}", text(&want.stderr));
    let want = text(&want.stdout);
    assert!(so.contains(&want), "want `{want}` in:\n{so}");
}
