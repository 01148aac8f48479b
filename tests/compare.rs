// SPDX-License-Identifier: MIT
//! `tcvcssim`, `tcvcpsnr`, `tcvcflicker` against their peers (ffmpeg's `ssim` / `psnr` filters,
//! scikit-image, NumPy) on real frames, and their behaviour in pipelines.
mod common;

use common::peers::*;
use common::*;
use gst::prelude::*;
use gsttcvc::compare::messages::{FlickerFrame, PsnrFrame, SsimFrame, Summary};
use std::collections::HashMap;
use std::process::Command;

const FRAMES: usize = 24;

/// The 720p sample and a low-bitrate re-encode of it (by ffmpeg), both decoded once by
/// GStreamer into `caps`: the same raw frames go to our elements and to the peers.
fn clip_pair(caps: &str) -> (Vec<gst::Sample>, Vec<gst::Sample>) {
    let dir = scratch_dir("reencode");
    let low = dir.join("low.mp4");
    let st = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(sample(CLIP_720P))
        .args(["-frames:v", "30", "-an", "-c:v", "libx264", "-b:v", "150k"])
        .arg(&low)
        .status()
        .expect("ffmpeg is installed");
    assert!(st.success());
    let idx: Vec<usize> = (0..FRAMES).collect();
    let a = decode_frames(&low, caps, &idx);
    let b = decode_frames(&sample(CLIP_720P), caps, &idx);
    (a, b)
}

/// The `<element>-summary` message among `msgs`.
fn summary(msgs: &Msgs) -> Summary {
    msgs.iter()
        .find(|(_, s)| s.name().ends_with("-summary"))
        .map(|(_, s)| Summary::try_from(s.as_ref()).unwrap())
        .expect("a summary at EOS")
}

fn check_against_peers(caps: &str, pix_fmt: &str, peer_fmt: &str) {
    let (test, reference) = clip_pair(caps);
    let i = info(&test[0]);
    let (msgs, dir) = run_all(&test, &reference, &format!("peers-{pix_fmt}"));
    write_raw(&dir.join("test.raw"), &test);
    write_raw(&dir.join("ref.raw"), &reference);

    // ffmpeg-window SSIM and PSNR: messages and our stats files against ffmpeg's stats files.
    for (filter, ours_log, tol) in [
        ("ssim", "ssim_ffmpeg.log", 1e-4),
        ("psnr", "psnr.log", 0.01),
    ] {
        let theirs = ffmpeg_stats(
            &dir,
            pix_fmt,
            i.width(),
            i.height(),
            filter,
            FfmpegPath::Default,
        );
        let ours = read_stats(&dir.join(ours_log));
        assert_eq!(ours.len(), FRAMES);
        assert_eq!(theirs.len(), FRAMES);
        for (o, t) in ours.iter().zip(&theirs) {
            let keys =
                |v: &Vec<(String, f64)>| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
            assert_eq!(
                keys(o),
                keys(t),
                "{filter}: stats line layout differs from ffmpeg's"
            );
            for ((k, a), (_, b)) in o.iter().zip(t) {
                assert!(
                    (a - b).abs() <= tol + 1e-9,
                    "{filter} {pix_fmt} {k}: ours {a}, ffmpeg {b}"
                );
            }
        }
        eprintln!("{filter} {pix_fmt}: first frame ours {:?}", ours[0]);
    }
    let ssim_f: Vec<SsimFrame> = of(&msgs, "sf");
    let ssim_g: Vec<SsimFrame> = of(&msgs, "sg");
    let psnr: Vec<PsnrFrame> = of(&msgs, "p");
    let ssim_theirs = ffmpeg_stats(
        &dir,
        pix_fmt,
        i.width(),
        i.height(),
        "ssim",
        FfmpegPath::Default,
    );
    assert_eq!(ssim_f.len(), FRAMES);
    for (m, t) in ssim_f.iter().zip(&ssim_theirs) {
        let t: HashMap<_, _> = t.iter().cloned().collect();
        assert!(
            (m.all - t["All"]).abs() <= 1e-4,
            "message all {} vs ffmpeg {}",
            m.all,
            t["All"]
        );
        for (c, v) in &m.components {
            let k = c.to_ascii_uppercase().to_string();
            assert!(
                (v - t[&k]).abs() <= 1e-4,
                "message {c} {v} vs ffmpeg {}",
                t[&k]
            );
        }
    }
    let theirs = ffmpeg_stats(
        &dir,
        pix_fmt,
        i.width(),
        i.height(),
        "psnr",
        FfmpegPath::Default,
    );
    for (m, t) in psnr.iter().zip(&theirs) {
        let t: HashMap<_, _> = t.iter().cloned().collect();
        assert!(
            (m.psnr_avg - t["psnr_avg"]).abs() <= 0.005 + 1e-9,
            "message psnr-avg {} vs ffmpeg {}",
            m.psnr_avg,
            t["psnr_avg"]
        );
        assert!((m.mse_avg - t["mse_avg"]).abs() <= 0.005 + 1e-9);
    }

    // Gaussian SSIM against scikit-image, temporal figures against NumPy.
    let peer = metrics_peer(&dir, peer_fmt, i.width(), i.height());
    let frames = peer["frames"].as_array().unwrap();
    assert_eq!(frames.len(), FRAMES);
    assert_eq!(ssim_g.len(), FRAMES);
    let gauss_log = read_stats(&dir.join("ssim_gaussian.log"));
    let mut max_d = 0.0f64;
    for (k, f) in frames.iter().enumerate() {
        let sk = f["ssim_gaussian"]["all"].as_f64().unwrap();
        let ours = gauss_log[k].iter().find(|(n, _)| n == "All").unwrap().1;
        assert!(
            (ssim_g[k].all - ours).abs() <= 1e-6,
            "message and stats file disagree"
        );
        let ours = ssim_g[k].all;
        max_d = max_d.max((sk - ours).abs());
        assert!(
            (sk - ours).abs() <= 1e-4,
            "frame {k}: gaussian SSIM {ours} vs scikit-image {sk}"
        );
        for (p, v) in f["ssim_gaussian"]["planes"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let ours = gauss_log[k][p + 1].1;
            assert!(
                (v.as_f64().unwrap() - ours).abs() <= 1e-4,
                "frame {k} plane {p}"
            );
        }
    }
    eprintln!("gaussian SSIM {pix_fmt}: max |ours - skimage| = {max_d:.2e} over {FRAMES} frames");

    let flicker: Vec<FlickerFrame> = of(&msgs, "f");
    assert_eq!(
        flicker.len(),
        FRAMES - 1,
        "no temporal figure for the first frame"
    );
    for m in &flicker {
        let t = &frames[(m.n - 1) as usize]["temporal"];
        for (ours, key) in [
            (m.temporal_error, "temporal_error"),
            (m.flicker, "flicker"),
            (m.reference_flicker, "reference_flicker"),
            (m.static_flicker.unwrap(), "static_flicker"),
        ] {
            let np = t[key].as_f64().unwrap();
            assert!(
                (ours - np).abs() <= 1e-6,
                "frame {}: {key} {ours} vs NumPy {np}",
                m.n
            );
        }
    }
    let csv = std::fs::read_to_string(dir.join("flicker.csv")).unwrap();
    assert!(csv.starts_with(
        "n,running_time_ns,pts_ns,temporal_error,flicker,reference_flicker,static_flicker\n"
    ));
    assert_eq!(csv.lines().count(), FRAMES);

    // One summary per element, with every frame paired.
    let sums: Vec<Summary> = msgs
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name().ends_with("-summary"))
        .map(|s| Summary::try_from(s.as_ref()).unwrap())
        .collect();
    assert_eq!(sums.len(), 4);
    for s in &sums {
        assert_eq!((s.unpaired_sink, s.unpaired_reference), (0, 0), "{s:?}");
        let want = if s.name == "tcvcflicker" {
            FRAMES - 1
        } else {
            FRAMES
        } as u64;
        assert_eq!(s.frames, want, "{s:?}");
        assert!(s.min <= s.mean && s.mean <= s.max);
    }
    let p = sums.iter().find(|s| s.name == "tcvcpsnr").unwrap();
    let mean = psnr.iter().map(|m| m.psnr_avg).sum::<f64>() / FRAMES as f64;
    assert!((p.mean - mean).abs() < 1e-9);
    assert!(
        p.mean > 20.0 && p.mean < 50.0,
        "a 150 kb/s re-encode: {}",
        p.mean
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn yuv_frames_agree_with_ffmpeg_scikit_image_and_numpy() {
    check_against_peers("video/x-raw,format=I420", "yuv420p", "yuv420p");
}

#[test]
fn rgb_frames_agree_with_ffmpeg_scikit_image_and_numpy() {
    check_against_peers(
        "video/x-raw,format=RGB,width=640,height=360",
        "rgb24",
        "rgb24",
    );
}

/// Pushes `a` (under test) and `b` (reference) through `element` into an appsink; returns the
/// element messages and the number of buffers that came out, or the error message.
fn run_pair(element: &str, a: &[gst::Sample], b: &[gst::Sample]) -> Result<(Msgs, usize), String> {
    init();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=a format=time ! {element} name=m ! appsink name=out sync=false \
         appsrc name=b format=time ! m.reference"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    feed(&pipeline, &[("a", a), ("b", b)]);
    let out = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    out.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_to_eos(pipeline.upcast_ref(), 120)
    }));
    pipeline.set_state(gst::State::Null).unwrap();
    match result {
        Ok(msgs) => Ok((msgs, count.load(std::sync::atomic::Ordering::SeqCst))),
        Err(e) => Err(e
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "panic".into())),
    }
}

fn frames(caps: &str, n: usize) -> Vec<gst::Sample> {
    decode_frames(&sample(CLIP_720P), caps, &(10..10 + n).collect::<Vec<_>>())
}

#[test]
fn identical_streams_give_ssim_1_and_psnr_inf() {
    let f = frames("video/x-raw,format=I420,width=320,height=180", 5);
    let (msgs, dir) = run_all(&f, &f, "identical");
    for m in of::<SsimFrame>(&msgs, "sf")
        .iter()
        .chain(&of::<SsimFrame>(&msgs, "sg"))
    {
        assert!((m.all - 1.0).abs() < 1e-12, "{m:?}");
        assert!(m.db.is_infinite());
    }
    for m in of::<PsnrFrame>(&msgs, "p") {
        assert!(m.psnr_avg.is_infinite() && m.mse_avg == 0.0, "{m:?}");
    }
    for m in of::<FlickerFrame>(&msgs, "f") {
        assert_eq!(m.temporal_error, 0.0);
        assert_eq!(m.flicker, m.reference_flicker);
    }
    let psnr_log = std::fs::read_to_string(dir.join("psnr.log")).unwrap();
    assert!(
        psnr_log
            .lines()
            .next()
            .unwrap()
            .contains("psnr_avg:inf psnr_y:inf"),
        "{psnr_log}"
    );
    let ssim_log = std::fs::read_to_string(dir.join("ssim_ffmpeg.log")).unwrap();
    assert!(
        ssim_log
            .lines()
            .next()
            .unwrap()
            .ends_with("All:1.000000 (inf)"),
        "{ssim_log}"
    );
}

/// Both pads switch size at the same frame (`tee` in front): every pair is compared at its own
/// size, and the temporal chain of `tcvcflicker` starts again at the new size.
#[test]
fn a_size_change_on_both_pads_at_once_is_compared_per_pair() {
    init();
    let big = frames("video/x-raw,format=I420,width=160,height=96", 3);
    let small = frames("video/x-raw,format=I420,width=128,height=64", 3);
    for element in ["tcvcssim", "tcvcpsnr", "tcvcflicker"] {
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=a format=time ! tee name=t ! queue ! {element} name=m ! fakesink sync=false \
             t. ! queue ! m.reference"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let src = pipeline
            .by_name("a")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        for (i, s) in big.iter().chain(&small).enumerate() {
            let buf = timed(&s.buffer_owned().unwrap(), i);
            let sample = gst::Sample::builder()
                .buffer(&buf)
                .caps(&s.caps_owned().unwrap())
                .build();
            src.push_sample(&sample).unwrap();
        }
        src.end_of_stream().unwrap();
        let msgs = run_to_eos(pipeline.upcast_ref(), 60);
        let s = summary(&msgs);
        let want = if element == "tcvcflicker" { 4 } else { 6 };
        assert_eq!(s.frames, want, "{element}: {s:?}");
        assert_eq!((s.unpaired_sink, s.unpaired_reference), (0, 0));
        if element == "tcvcssim" {
            assert!((s.min - 1.0).abs() < 1e-12, "identical frames: {s:?}");
        }
    }
}

#[test]
fn streams_of_different_sizes_are_an_error_naming_both() {
    let a = frames("video/x-raw,format=RGB,width=320,height=180", 2);
    let b = frames("video/x-raw,format=RGB,width=160,height=90", 2);
    for element in ["tcvcssim", "tcvcpsnr", "tcvcflicker"] {
        let err = run_pair(element, &a, &b).expect_err("different sizes must fail");
        assert!(
            err.contains("320x180") && err.contains("160x90"),
            "{element}: {err}"
        );
    }
}

#[test]
fn streams_of_different_formats_are_an_error_naming_both() {
    let a = frames("video/x-raw,format=I420,width=320,height=180", 2);
    let b = frames("video/x-raw,format=RGB,width=320,height=180", 2);
    let err = run_pair("tcvcpsnr", &a, &b).expect_err("different formats must fail");
    assert!(
        err.contains("I420") && err.contains("RGB") && err.contains("videoconvert"),
        "{err}"
    );
}

#[test]
fn one_pad_ending_early_counts_unpaired_frames_and_reaches_eos() {
    let long = frames("video/x-raw,format=NV12,width=320,height=180", 10);
    let short = &long[..6];
    for (element, a, b, unpaired) in [
        ("tcvcssim", &long[..], short, (4, 0)),
        ("tcvcpsnr", short, &long[..], (0, 4)),
        ("tcvcflicker", &long[..], short, (4, 0)),
    ] {
        let (msgs, out) = run_pair(element, a, b).unwrap();
        let sum = summary(&msgs);
        assert_eq!(
            (sum.unpaired_sink, sum.unpaired_reference),
            unpaired,
            "{element}"
        );
        let paired = if element == "tcvcflicker" { 5 } else { 6 };
        assert_eq!(sum.frames, paired, "{element}");
        assert_eq!(
            out,
            a.len(),
            "{element}: every frame under test passes through"
        );
    }
}

#[test]
fn a_flush_on_both_pads_resets_the_temporal_chain() {
    init();
    let f = frames("video/x-raw,format=GRAY8,width=160,height=90", 6);
    let el = gst::ElementFactory::make("tcvcflicker").build().unwrap();
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut h_sink = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    let mut h_ref = gst_check::Harness::with_element(&el, Some("reference"), None);
    h_sink.set_src_caps(f[0].caps_owned().unwrap());
    h_ref.set_src_caps(f[0].caps_owned().unwrap());
    h_sink.play();
    let push_pair = |hs: &mut gst_check::Harness, hr: &mut gst_check::Harness, i: usize| {
        let b = f[i].buffer_owned().unwrap();
        hs.push(timed(&b, i)).unwrap();
        hr.push(timed(&b, i)).unwrap();
        hs.pull().expect("the frame under test passes through");
    };
    for i in 0..3 {
        push_pair(&mut h_sink, &mut h_ref, i);
    }
    for h in [&mut h_sink, &mut h_ref] {
        assert!(h.push_event(gst::event::FlushStart::new()));
        assert!(h.push_event(gst::event::FlushStop::new(true)));
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        assert!(h.push_event(gst::event::Segment::new(&segment)));
    }
    for i in 3..6 {
        push_pair(&mut h_sink, &mut h_ref, i);
    }
    let ns: Vec<u64> = std::iter::from_fn(|| bus.pop())
        .filter_map(|m| match m.view() {
            gst::MessageView::Element(e) => FlickerFrame::try_from(e.structure()?).ok(),
            _ => None,
        })
        .map(|m| m.n)
        .collect();
    // Frames 2, 3 of the first chain, then 5, 6: frame 4 starts a new chain.
    assert_eq!(ns, vec![2, 3, 5, 6]);
}

#[test]
fn a_gap_on_one_pad_is_skipped_not_an_error() {
    // A GAP event (which GstAggregator turns into an empty GAP buffer) stands for the reference
    // frame at 120 ms: that frame under test is unpaired, the others are compared.
    init();
    let f = frames("video/x-raw,format=RGB,width=160,height=90", 6);
    for element in ["tcvcssim", "tcvcpsnr", "tcvcflicker"] {
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=a format=time ! {element} name=m ! fakesink sync=false \
             appsrc name=b format=time ! m.reference"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let b = pipeline.by_name("b").unwrap();
        b.static_pad("src")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, |pad, info| {
                let pts = info.buffer().and_then(|b| b.pts());
                if pts == Some(gst::ClockTime::from_mseconds(120)) {
                    let gap = gst::event::Gap::builder(gst::ClockTime::from_mseconds(120))
                        .duration(gst::ClockTime::from_mseconds(40))
                        .build();
                    assert!(pad.push_event(gap));
                    return gst::PadProbeReturn::Drop;
                }
                gst::PadProbeReturn::Ok
            });
        feed(&pipeline, &[("a", &f), ("b", &f)]);
        let msgs = run_to_eos(pipeline.upcast_ref(), 120);
        let sum = summary(&msgs);
        assert_eq!(
            (sum.unpaired_sink, sum.unpaired_reference),
            (1, 0),
            "{element}"
        );
        let paired = if element == "tcvcflicker" { 4 } else { 5 };
        assert_eq!(sum.frames, paired, "{element}");
    }
}
