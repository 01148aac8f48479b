// SPDX-License-Identifier: MIT
//! `tcvc-episode` against the element: on a real clip with several cuts (pieces of the four
//! shots of Big Buck Bunny's opening, put together with FFmpeg, lossless), every frame that
//! `plan` + `colorize` writes (batch 1, 3 and 8; 3 shards; with an artist keyframe) equals the
//! frame `tcvclineart ! tcvccolorize` makes over the whole file with the same model; shard
//! segments joined without re-encoding decode to the single run's frames.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

const FRAMES: usize = common::CUTS_CLIP_FRAMES;

fn episode() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tcvc-episode"));
    c.env("OMP_WAIT_POLICY", "passive");
    c
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tcvc-episode runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {err}");
    err
}

/// Every frame of the element pipeline over `clip` (packed RGB).
fn element_frames(clip: &Path, keyframes: Option<&str>) -> Vec<Vec<u8>> {
    let key = keyframes
        .map(|k| format!(" keyframe-location=\"{k}\""))
        .unwrap_or_default();
    element_frames_with(clip, &key)
}

/// [`element_frames`] with `props` (` name=value …`) on tcvccolorize.
fn element_frames_with(clip: &Path, props: &str) -> Vec<Vec<u8>> {
    common::pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! tcvclineart ! tcvccolorize{props} ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        clip.display()
    ))
}

/// The PNG frames `0..n` of a `%05d.png` folder, packed RGB.
fn png_frames(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("{i:05}.png"));
            assert!(p.is_file(), "{} was not written", p.display());
            gsttcvc::video::read_image_native(&p).unwrap().0
        })
        .collect()
}

use common::{assert_frames_match, FrameMatch};

/// Frames of passes of other batch sizes than the element's (1): see [`FrameMatch`].
const BATCHED: FrameMatch = FrameMatch::BatchRounding { max: 1 };

#[test]
fn batched_shot_chains_and_shards_equal_the_element_frame_for_frame() {
    common::init();
    let dir = common::scratch_dir("episode");
    let clip = common::clip_with_cuts(&dir);
    let shots = dir.join("shots.json");
    run(episode()
        .args(["plan", "--line-threads", "2"])
        .arg(&clip)
        .arg("-o")
        .arg(&shots));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shots).unwrap()).unwrap();
    let starts: Vec<u64> = plan["shots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_u64().unwrap())
        .collect();
    assert_eq!(plan["frames"], FRAMES as u64);
    // The four joins are found (the rule is the element's, measured in docs/colorize.md).
    assert_eq!(starts, [0, 12, 24, 36, 48], "shots {starts:?}");

    let reference = element_frames(&clip, None);
    assert_eq!(reference.len(), FRAMES);
    for batch in ["1", "3", "8"] {
        let out = dir.join(format!("b{batch}"));
        std::fs::create_dir_all(&out).unwrap();
        let log = run(episode()
            .args(["colorize", "--device", "cpu", "--batch", batch, "--shots"])
            .arg(&shots)
            .arg(&clip)
            .arg("-o")
            .arg(out.join("%05d.png")));
        assert!(log.contains("5 shots, 60 frames"), "{log}");
        // Batch 1 is the element's computation exactly; larger batches as [`BATCHED`].
        assert_frames_match(
            &png_frames(&out, FRAMES),
            &reference,
            if batch == "1" {
                FrameMatch::Exact
            } else {
                BATCHED
            },
            &format!("batch {batch}"),
        );
    }

    // Three shards into one PNG folder (frames keep their episode numbers), planning inside.
    let out = dir.join("shards");
    std::fs::create_dir_all(&out).unwrap();
    for i in 0..3 {
        run(episode()
            .args(["colorize", "--device", "cpu", "--batch", "2"])
            .args(["--shard", &format!("{i}/3")])
            .arg(&clip)
            .arg("-o")
            .arg(out.join("%05d.png")));
    }
    assert_frames_match(&png_frames(&out, FRAMES), &reference, BATCHED, "3 shards");

    // Shards as lossless H.264 transport-stream segments, joined without re-encoding, decode to
    // the frames of the single run written the same way.
    let enc = "x264enc pass=quant quantizer=0 speed-preset=ultrafast";
    let whole = dir.join("whole.ts");
    run(episode()
        .args(["colorize", "--device", "cpu", "--encoder", enc, "--shots"])
        .arg(&shots)
        .arg(&clip)
        .arg("-o")
        .arg(&whole));
    let mut segments = Vec::new();
    for i in 0..3 {
        let seg = dir.join(format!("part-{i}.ts"));
        run(episode()
            .args(["colorize", "--device", "cpu", "--encoder", enc, "--shots"])
            .arg(&shots)
            .args(["--shard", &format!("{i}/3")])
            .arg(&clip)
            .arg("-o")
            .arg(&seg));
        segments.push(seg);
    }
    let joined = dir.join("joined.mkv");
    run(episode().arg("join").args(&segments).arg("-o").arg(&joined));
    let a = common::decoded_rgb(&whole);
    assert_eq!(a.len(), FRAMES);
    // Other shards batch other shots together; through I420 (4:2:0 chroma, coefficients up to
    // 1.772) a 1 in RGB can come back as up to 3.
    assert_frames_match(
        &common::decoded_rgb(&joined),
        &a,
        FrameMatch::BatchRounding { max: 3 },
        "joined shards",
    );

    // An artist keyframe in the middle of a shot seeds its chain in both.
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = &reference[30];
    common::write_png(&keys.join("00030.png"), key, 180, 3);
    let pattern = keys.join("%05d.png");
    let reference = element_frames(&clip, Some(pattern.to_str().unwrap()));
    let out = dir.join("keyed");
    std::fs::create_dir_all(&out).unwrap();
    let log = run(episode()
        .args(["colorize", "--device", "cpu", "--batch", "3", "--shots"])
        .arg(&shots)
        .arg("--keyframe-location")
        .arg(&pattern)
        .arg(&clip)
        .arg("-o")
        .arg(out.join("%05d.png")));
    // The log names the shots that have no keyframe (the one key is in the shot 24..36).
    assert!(
        log.contains(
            "keyframes: 1 in 1 of 5 shots; the shots starting at frames 0, 12, 36, 48 have none"
        ),
        "{log}"
    );
    assert_frames_match(&png_frames(&out, FRAMES), &reference, BATCHED, "keyframe");

    // In the fill output the keyframe's colours stay on the regions that follow it (the one
    // shared `KeyframeCarry`, reset with each shot), and `--no-keyframe-carry` is the element's
    // `keyframe-carry=false`.
    let keyed = |extra: &str| {
        element_frames_with(
            &clip,
            &format!(
                " keyframe-location=\"{}\" output-mode=fill{extra}",
                pattern.display()
            ),
        )
    };
    let (carried, plain) = (keyed(""), keyed(" keyframe-carry=false"));
    assert!(
        carried[31..36] != plain[31..36],
        "the carry changed nothing after the keyframe"
    );
    assert_eq!(
        carried[..30],
        plain[..30],
        "the carry acted before the keyframe"
    );
    assert_eq!(carried[36..], plain[36..], "the carry outlived its shot");
    for (flag, want) in [(None, &carried), (Some("--no-keyframe-carry"), &plain)] {
        let out = dir.join(format!("keyed-fill-{}", flag.is_some()));
        std::fs::create_dir_all(&out).unwrap();
        let mut cmd = episode();
        cmd.args(["colorize", "--device", "cpu", "--batch", "3"])
            .args(["--output-mode", "fill", "--shots"])
            .arg(&shots)
            .arg("--keyframe-location")
            .arg(&pattern)
            .args(flag)
            .arg(&clip)
            .arg("-o")
            .arg(out.join("%05d.png"));
        run(&mut cmd);
        assert_frames_match(
            &png_frames(&out, FRAMES),
            want,
            BATCHED,
            &format!("keyframe, fill, {flag:?}"),
        );
    }

    // `--keyframe-backward` without the flow (`--no-keyframe-flow`): the keyframe (frame 30 of
    // the shot 24..36, no keyframe before it in the shot) moved with the camera is painted into
    // frames 24..29 where they still show it; every other frame and pixel is the carry's output
    // without the flow (checked pixel by pixel against a brute-force statement of the rule,
    // `common::camera_hold`).
    let out = dir.join("keyed-backward");
    std::fs::create_dir_all(&out).unwrap();
    let keyed_run = |out: &Path, batch: &str, mode: &str, extra: &[&str]| {
        let mut cmd = episode();
        cmd.args(["colorize", "--device", "cpu", "--batch", batch])
            .args(["--output-mode", mode, "--shots"])
            .arg(&shots)
            .arg("--keyframe-location")
            .arg(&pattern)
            .args(extra)
            .arg(&clip)
            .arg("-o")
            .arg(out.join("%05d.png"));
        cmd
    };
    let backward_run = |out: &Path, mode: &str, extra: &[&str]| keyed_run(out, "3", mode, extra);
    let no_flow = ["--keyframe-backward", "--no-keyframe-flow"];
    run(&mut backward_run(&out, "fill", &no_flow));
    let back = png_frames(&out, FRAMES);
    let forward_out = dir.join("keyed-fill-no-flow");
    std::fs::create_dir_all(&forward_out).unwrap();
    run(&mut backward_run(
        &forward_out,
        "fill",
        &["--no-keyframe-flow"],
    ));
    let forward = png_frames(&forward_out, FRAMES);
    for t in (0..24).chain(30..FRAMES) {
        assert_eq!(back[t], forward[t], "frame {t} is the carry's");
    }
    let (w, h) = (320usize, 180usize);
    let lines = common::pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! tcvclineart ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false",
        clip.display()
    ));
    let labels = |plane: &[u8]| {
        let mask: Vec<u8> = plane.iter().map(|&v| u8::from(v <= 127)).collect();
        gsttcvc::model::stream::fill_labels(&mask, w, h)
    };
    let (key_labels, _) = labels(&lines[30]);
    let mut painted = 0;
    for t in 24..30 {
        let (lt, nt) = labels(&lines[t]);
        let want = common::camera_hold(&lines[30], &lines[t], &key_labels, &lt, nt, key, w, h);
        for i in 0..w * h {
            let got = &back[t][3 * i..3 * i + 3];
            match want[i] {
                Some(v) => {
                    painted += 1;
                    for c in 0..3 {
                        assert!(
                            (f64::from(got[c]) - v[c]).abs() <= 1.0,
                            "frame {t} pixel {i}: {got:?} against the moved keyframe's {v:?}"
                        );
                    }
                }
                None => assert_eq!(got, &forward[t][3 * i..3 * i + 3], "frame {t} pixel {i}"),
            }
        }
    }
    assert!(
        painted > 0,
        "the keyframe was painted into no frame before it"
    );
    // With the flow (the default), the last output painted moved back along it, a frame at a
    // time from the keyframe, goes over that, off the band (the lines and the pixel around
    // them); every other frame is the carry's output with the flow.
    let out = dir.join("keyed-backward-flow");
    std::fs::create_dir_all(&out).unwrap();
    run(&mut backward_run(&out, "fill", &["--keyframe-backward"]));
    let back_flow = png_frames(&out, FRAMES);
    let forward_flow = png_frames(&dir.join("keyed-fill-false"), FRAMES);
    for t in (0..24).chain(30..FRAMES) {
        assert_eq!(
            back_flow[t], forward_flow[t],
            "frame {t} is the carry's (flow)"
        );
    }
    let mut moved = 0;
    for t in 24..30 {
        let mask: Vec<u8> = lines[t].iter().map(|&v| u8::from(v <= 127)).collect();
        for i in 0..w * h {
            let (x, y) = (i % w, i / w);
            let on_band = (y.saturating_sub(1)..(y + 2).min(h))
                .any(|yy| (x.saturating_sub(1)..(x + 2).min(w)).any(|xx| mask[yy * w + xx] != 0));
            let (got, was) = (&back_flow[t][3 * i..][..3], &back[t][3 * i..][..3]);
            if on_band {
                assert_eq!(got, was, "frame {t} band pixel {i}: the flow painted it");
            } else {
                moved += usize::from(got != was);
            }
        }
    }
    assert!(moved > 0, "the flow moved nothing back");
    // A stream that looks ahead (`tcvccolorize keyframe-lookahead`, here 12 frames: the key is 6
    // after its shot's start) writes the same frames as `--keyframe-backward` at batch 1.
    let out = dir.join("keyed-backward-batch1");
    std::fs::create_dir_all(&out).unwrap();
    run(&mut keyed_run(&out, "1", "fill", &["--keyframe-backward"]));
    let looked = element_frames_with(
        &clip,
        &format!(
            " keyframe-location=\"{}\" output-mode=fill keyframe-lookahead=12",
            pattern.display()
        ),
    );
    assert_eq!(looked.len(), FRAMES);
    for (t, (got, want)) in looked.iter().zip(&png_frames(&out, FRAMES)).enumerate() {
        assert!(got == want, "frame {t}: the element looking ahead differs");
    }
    // Against the same element without the lookahead: only the frames before the key differ.
    assert_eq!(looked[..24], carried[..24]);
    assert_eq!(looked[30..], carried[30..]);
    assert!(
        looked[24..30] != carried[24..30],
        "the element moved nothing back"
    );
    // It needs the keyframes, their carry and the fill output: clear errors otherwise.
    for (mode, extra, says) in [
        (
            "fill",
            &["--keyframe-backward", "--no-keyframe-carry"][..],
            "keyframe carry",
        ),
        (
            "color",
            &["--keyframe-backward"][..],
            "add --output-mode fill",
        ),
    ] {
        let o = backward_run(&dir.join("bad"), mode, extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{extra:?}: {err}");
    }

    // Frame by frame: `--previous blank` is the element's `previous-frame=blank` (up to a
    // rounding step: measured 1 value of 172,800 in one frame at batch 1), and not the chained
    // frames.
    let blank = element_frames_with(&clip, " previous-frame=blank");
    let out = dir.join("blank");
    std::fs::create_dir_all(&out).unwrap();
    run(episode()
        .args([
            "colorize",
            "--device",
            "cpu",
            "--previous",
            "blank",
            "--shots",
        ])
        .arg(&shots)
        .arg(&clip)
        .arg("-o")
        .arg(out.join("%05d.png")));
    let got = png_frames(&out, FRAMES);
    assert_frames_match(&got, &blank, BATCHED, "previous blank");
    assert!(
        got.iter()
            .zip(element_frames(&clip, None).iter())
            .skip(1)
            .any(|(a, b)| a != b),
        "frame by frame equals the chain"
    );

    // Flip averaging in the batched chains is the element's `flip-average` (the one shared
    // `flip_averaged`), and not the plain chain.
    let flipped = element_frames_with(&clip, " flip-average=true");
    let out = dir.join("flip");
    std::fs::create_dir_all(&out).unwrap();
    run(episode()
        .args(["colorize", "--device", "cpu", "--flip-average", "--shots"])
        .arg(&shots)
        .arg(&clip)
        .arg("-o")
        .arg(out.join("%05d.png")));
    let got = png_frames(&out, FRAMES);
    assert_frames_match(&got, &flipped, BATCHED, "flip average");
    assert!(
        got.iter()
            .zip(element_frames(&clip, None).iter())
            .any(|(a, b)| a != b),
        "the flip average equals the plain chain"
    );

    // Temporal smoothing in the batched chains is the element's `temporal-smoothing` (the one
    // shared `smooth_step`), and not the plain chain.
    let smoothed = element_frames_with(&clip, " temporal-smoothing=0.8");
    let out = dir.join("smooth");
    std::fs::create_dir_all(&out).unwrap();
    run(episode()
        .args([
            "colorize",
            "--device",
            "cpu",
            "--batch",
            "3",
            "--temporal-smoothing",
            "0.8",
            "--shots",
        ])
        .arg(&shots)
        .arg(&clip)
        .arg("-o")
        .arg(out.join("%05d.png")));
    let got = png_frames(&out, FRAMES);
    assert_frames_match(&got, &smoothed, BATCHED, "temporal smoothing");
    assert!(
        got.iter()
            .zip(element_frames(&clip, None).iter())
            .any(|(a, b)| a != b),
        "the smoothed chain equals the plain chain"
    );
}

/// A portrait episode under the default (landscape) model: planned and coloured at the training
/// size turned with `--working-orientation turn`, as the element's `working-orientation=turn`, and
/// at the training size as is with `model`, as the element's `model`; the two differ. (`auto`
/// follows the model file, as in the element: tests/colorize.rs.)
#[test]
fn a_portrait_episode_runs_at_the_working_size_the_element_uses() {
    common::init();
    let dir = common::scratch_dir("episode-portrait");
    let cuts = common::clip_with_cuts(&dir);
    let clip = dir.join("portrait.mkv");
    // Frames 6..30 of the cuts clip (two shots), turned a quarter: 180x320.
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&cuts)
        .args([
            "-vf",
            "trim=start_frame=6:end_frame=30,setpts=PTS-STARTPTS,transpose=1",
            "-c:v",
            "ffv1",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(st.success());
    let shots = dir.join("shots.json");
    run(episode()
        .args(["plan", "--working-orientation", "turn"])
        .arg(&clip)
        .arg("-o")
        .arg(&shots));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shots).unwrap()).unwrap();
    assert_eq!(
        (plan["width"].as_u64(), plan["height"].as_u64()),
        (Some(180), Some(320))
    );
    assert_eq!(plan["working"], serde_json::json!([128, 224]));
    let mut got = Vec::new();
    for (name, extra, props) in [
        (
            "turn",
            vec!["--working-orientation", "turn"],
            " working-orientation=turn",
        ),
        (
            "model",
            vec!["--working-orientation", "model"],
            " working-orientation=model",
        ),
    ] {
        let out = dir.join(name);
        std::fs::create_dir_all(&out).unwrap();
        run(episode()
            .args(["colorize", "--device", "cpu", "--batch", "3", "--shots"])
            .arg(&shots)
            .args(&extra)
            .arg(&clip)
            .arg("-o")
            .arg(out.join("%05d.png")));
        let frames = png_frames(&out, 24);
        let reference = element_frames_with(&clip, props);
        assert_eq!(reference.len(), 24);
        assert_frames_match(&frames, &reference, BATCHED, name);
        got.push(frames);
    }
    assert!(
        got[0].iter().zip(&got[1]).all(|(a, b)| a != b),
        "the turned and the squeezed working sizes gave equal frames"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = common::scratch_dir("episode-bad");
    for (args, expect) in [
        (
            vec!["colorize", "x.mkv", "-o", "o.mkv", "--shard", "3/3"],
            "not a shard",
        ),
        (
            vec!["colorize", "x.mkv", "-o", "o.mkv", "--batch", "0"],
            "at least 1",
        ),
        (
            vec![
                "colorize",
                "x.mkv",
                "-o",
                "o.mkv",
                "--temporal-smoothing",
                "1.5",
            ],
            "0 (off) to 0.95",
        ),
        (
            vec!["plan", "/nonexistent.mkv", "-o", "p.json"],
            "does not exist",
        ),
    ] {
        let out = episode().args(&args).current_dir(&dir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"not\": \"a plan\"}").unwrap();
    let out = episode()
        .args(["colorize", "x.mkv", "-o", "o.mkv", "--shots"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a shots manifest"));
}
