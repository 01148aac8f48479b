// SPDX-License-Identifier: MIT
//! `tcvccolorize` on real line art: the chain, every reset cause, shared models, keyframes,
//! scene cuts, odd sizes, bad model files, and agreement with the reference PyTorch generator.
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::colorize::messages::{Reason, Reset};
use gsttcvc::model::{self, ModelFile, StreamColorizer};
use opencv::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

const W: u32 = 64;
const H: u32 = 48;

/// A reference-code checkpoint (random weights, seed) made by tools/reference_generator.py and
/// converted by tools/convert_reference.py: the same path a user's weights take.
fn make_model(
    dir: &Path,
    channels: u32,
    res_blocks: u32,
    seed: u32,
    chain: Option<&Path>,
) -> PathBuf {
    let pth = dir.join(format!("ref-{channels}-{res_blocks}-{seed}.pth"));
    let out = dir.join(format!("model-{channels}-{res_blocks}-{seed}.safetensors"));
    let mut cmd = Command::new(python());
    cmd.arg(root().join("tools/reference_generator.py"))
        .arg(&pth)
        .args([
            "--channels",
            &channels.to_string(),
            "--res-blocks",
            &res_blocks.to_string(),
        ])
        .args(["--seed", &seed.to_string()]);
    if let Some(c) = chain {
        cmd.arg("--chain").arg(c);
    }
    let st = cmd.output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st = Command::new(python())
        .arg(root().join("tools/convert_reference.py"))
        .arg(&pth)
        .arg(&out)
        .args(["--input-mode", "lineart", "--train-size", "64x48"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

/// One small model shared by the tests of this process.
fn model() -> PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| make_model(&scratch_dir("colorize-model"), 8, 1, 3, None))
        .clone()
}

fn gray_buffer(data: &[u8], w: u32, h: u32, i: u64) -> gst::Buffer {
    let (mut b, _) = buffer_from_packed(gst_video::VideoFormat::Gray8, w, h, data, w as usize);
    let m = b.get_mut().unwrap();
    m.set_pts(gst::ClockTime::from_mseconds(40 * i));
    m.set_duration(gst::ClockTime::from_mseconds(40));
    b
}

/// [`gray_buffer`] flagged DISCONT.
fn discont_buffer(data: &[u8], w: u32, h: u32, i: u64) -> gst::Buffer {
    let mut b = gray_buffer(data, w, h, i);
    b.get_mut().unwrap().set_flags(gst::BufferFlags::DISCONT);
    b
}

fn caps(w: u32, h: u32, fps: i32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "GRAY8")
        .field("width", w as i32)
        .field("height", h as i32)
        .field("framerate", gst::Fraction::new(fps, 1))
        .build()
}

struct Colorizer {
    h: gst_check::Harness,
    bus: gst::Bus,
    w: u32,
    hgt: u32,
}

impl Colorizer {
    fn new(model: &Path, w: u32, h: u32, props: &[(&str, &str)]) -> Self {
        init();
        let el = gst::ElementFactory::make("tcvccolorize")
            .property("model-file", model.to_str().unwrap())
            .property("working-width", w)
            .property("working-height", h)
            .build()
            .unwrap();
        el.set_property_from_str("output-mode", "color");
        for (k, v) in props {
            el.set_property_from_str(k, v);
        }
        let bus = gst::Bus::new();
        el.set_bus(Some(&bus));
        let mut harness = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
        harness.set_src_caps(caps(w, h, 25));
        harness.set_sink_caps_str("video/x-raw,format=RGB");
        harness.play();
        Colorizer {
            h: harness,
            bus,
            w,
            hgt: h,
        }
    }

    /// Colorizes one frame; returns packed RGB.
    fn push(&mut self, data: &[u8], i: u64) -> Vec<u8> {
        self.push_buf(gray_buffer(data, self.w, self.hgt, i))
    }

    fn push_buf(&mut self, b: gst::Buffer) -> Vec<u8> {
        let out = self.h.push_and_pull(b).expect("an output frame");
        let caps = self.h.sinkpad().unwrap().current_caps().unwrap();
        let s = gst::Sample::builder().buffer(&out).caps(&caps).build();
        plane_packed(&s, 0).0
    }

    fn resets(&self) -> Vec<Reset> {
        std::iter::from_fn(|| self.bus.pop())
            .filter_map(|m| match m.view() {
                gst::MessageView::Element(e) => Reset::try_from(e.structure()?).ok(),
                _ => None,
            })
            .collect()
    }
}

/// Direct calls of the model module: the generator on `x` with previous frame `prev`.
fn direct(g: &model::Generator, x: &[u8], prev: Option<&Tensor>, w: u32, h: u32) -> Tensor {
    let x = Tensor::from_slice(x)
        .view([1, 1, h as i64, w as i64])
        .to_kind(Kind::Float)
        / 255.0;
    let zeros = Tensor::zeros([1, 3, h as i64, w as i64], (Kind::Float, Device::Cpu));
    g.infer(&x, prev.unwrap_or(&zeros)).unwrap()
}

fn to_rgb8(t: &Tensor) -> Vec<u8> {
    let b = (t * 255.0)
        .round()
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
        .squeeze_dim(0)
        .permute([1, 2, 0])
        .contiguous();
    let mut v = vec![0u8; b.numel()];
    let n = v.len();
    b.copy_data_u8(&mut v, n);
    v
}

fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap()
}

#[test]
fn frames_chain_through_the_generator_and_every_reset_cause_blanks_the_previous_frame() {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let art = line_art_frames(CLIP_720P, &[20, 21, 22], W, H);
    let d1 = direct(&g, &art[0], None, W, H);
    let d2 = direct(&g, &art[1], Some(&d1), W, H);
    let first_of_2 = to_rgb8(&direct(&g, &art[1], None, W, H));
    assert!(
        max_diff(&to_rgb8(&d2), &first_of_2) > 5,
        "the previous frame must matter"
    );

    let mut c = Colorizer::new(&m, W, H, &[("scene-threshold", "1.0")]);
    assert!(
        max_diff(&c.push(&art[0], 0), &to_rgb8(&d1)) <= 1,
        "frame 1 = G(line art, zeros)"
    );
    assert!(
        max_diff(&c.push(&art[1], 1), &to_rgb8(&d2)) <= 1,
        "frame 2 = G(line art, frame 1)"
    );
    assert!(c.resets().is_empty());

    type Cause = Box<dyn Fn(&mut Colorizer)>;
    let causes: Vec<(Reason, Cause)> = vec![
        (
            Reason::Flush,
            Box::new(|c: &mut Colorizer| {
                assert!(c.h.push_event(gst::event::FlushStart::new()));
                assert!(c.h.push_event(gst::event::FlushStop::new(true)));
                let seg = gst::FormattedSegment::<gst::ClockTime>::new();
                assert!(c.h.push_event(gst::event::Segment::new(&seg)));
            }),
        ),
        (
            Reason::StreamStart,
            Box::new(|c: &mut Colorizer| {
                assert!(c.h.push_event(gst::event::StreamStart::new("second")));
                assert!(c.h.push_event(gst::event::Caps::new(&caps(W, H, 25))));
                let seg = gst::FormattedSegment::<gst::ClockTime>::new();
                assert!(c.h.push_event(gst::event::Segment::new(&seg)));
            }),
        ),
        (
            Reason::Caps,
            Box::new(|c: &mut Colorizer| c.h.set_src_caps(caps(W, H, 30))),
        ),
        (
            Reason::Gap,
            Box::new(|c: &mut Colorizer| {
                assert!(c
                    .h
                    .push_event(gst::event::Gap::builder(gst::ClockTime::from_seconds(9)).build()));
            }),
        ),
    ];
    for (reason, cause) in causes {
        c.push(&art[0], 2);
        cause(&mut c);
        let _ = c.resets();
        let out = c.push(&art[1], 3);
        assert!(
            max_diff(&out, &first_of_2) <= 1,
            "{reason:?}: output after the reset is not a first frame"
        );
        let r = c.resets();
        assert_eq!(r.len(), 1, "{reason:?}: {r:?}");
        assert_eq!(r[0].reason, reason);
    }
    // DISCONT buffers: one 2 s after the last frame resets; frame number = PTS × framerate,
    // 2.12 s at 30 fps (the caps cause switched to 30/1).
    let discont = |k: usize, i: u64| discont_buffer(&art[k], W, H, i);
    assert!(max_diff(&c.push_buf(discont(0, 53)), &to_rgb8(&d1)) <= 1);
    let r = c.resets();
    assert_eq!((r.len(), r[0].reason, r[0].frame), (1, Reason::Discont, 64));
    // One that continues the last frame within a second only skips frames (a filter before
    // this one dropped them for QoS, a packet was lost): the chain goes on.
    assert!(
        max_diff(&c.push_buf(discont(1, 55)), &to_rgb8(&d2)) <= 1,
        "a frame skipped: G(line art, the last frame coloured)"
    );
    assert!(c.resets().is_empty(), "a skip is no reset");
    // So is a GAP event that ends within a second of the last frame (an RTP depayloader sends
    // one for each lost packet); one further on resets (the GAP cause above, at 9 s).
    let gap = |at: u64| {
        gst::event::Gap::builder(gst::ClockTime::from_mseconds(40 * at))
            .duration(gst::ClockTime::from_mseconds(40))
            .build()
    };
    assert!(c.h.push_event(gap(56)));
    let d3 = direct(&g, &art[0], Some(&d2), W, H);
    assert!(
        max_diff(&to_rgb8(&d3), &to_rgb8(&d1)) > 5,
        "the previous frame must matter"
    );
    assert!(
        max_diff(&c.push(&art[0], 57), &to_rgb8(&d3)) <= 1,
        "after a short gap: G(line art, the last frame coloured)"
    );
    assert!(c.resets().is_empty(), "a short gap is no reset");
    // One before the last frame, or without a PTS, resets.
    let mut no_pts = discont(1, 0);
    no_pts.get_mut().unwrap().set_pts(gst::ClockTime::NONE);
    for b in [discont(1, 3), no_pts] {
        c.push(&art[0], 56);
        let _ = c.resets();
        assert!(max_diff(&c.push_buf(b), &first_of_2) <= 1);
        let r = c.resets();
        assert_eq!((r.len(), r[0].reason), (1, Reason::Discont));
    }
}

/// `previous-frame=blank`: every frame is G(line art, zeros), whatever came before; switched to
/// `chain` while playing, the next frame's previous frame is the output just made; and back.
#[test]
fn previous_frame_blank_colours_each_frame_on_its_own_and_switches_while_playing() {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let art = line_art_frames(CLIP_720P, &[20, 21, 22], W, H);
    let alone = |k: usize| direct(&g, &art[k], None, W, H);
    let mut c = Colorizer::new(
        &m,
        W,
        H,
        &[("scene-threshold", "1.0"), ("previous-frame", "blank")],
    );
    assert!(max_diff(&c.push(&art[0], 0), &to_rgb8(&alone(0))) <= 1);
    assert!(
        max_diff(&c.push(&art[1], 1), &to_rgb8(&alone(1))) <= 1,
        "frame 2 = G(line art, zeros) with previous-frame=blank"
    );
    let el = c.h.element().unwrap();
    el.set_property_from_str("previous-frame", "chain");
    let chained = direct(&g, &art[2], Some(&alone(1)), W, H);
    assert!(
        max_diff(&to_rgb8(&chained), &to_rgb8(&alone(2))) > 5,
        "the previous frame must matter"
    );
    assert!(
        max_diff(&c.push(&art[2], 2), &to_rgb8(&chained)) <= 1,
        "chain again: frame 3 = G(line art, frame 2)"
    );
    el.set_property_from_str("previous-frame", "blank");
    assert!(max_diff(&c.push(&art[2], 3), &to_rgb8(&alone(2))) <= 1);
    assert!(c.resets().is_empty(), "switching is no reset");
}

#[test]
fn flip_average_is_the_mean_of_the_frame_and_its_mirror_and_switches_while_playing() {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let art = line_art_frames(CLIP_720P, &[20, 21, 22], W, H);
    let mirror = |t: &Tensor| t.flip([3]);
    // The flip average by hand: G on the frame and on its mirror (line art and previous frame
    // mirrored), the second mirrored back, the mean; the chain carries the mean.
    let flip_avg = |k: usize, prev: Option<&Tensor>| {
        let a = direct(&g, &art[k], prev, W, H);
        let x = Tensor::from_slice(&art[k])
            .view([1, 1, H as i64, W as i64])
            .to_kind(Kind::Float)
            / 255.0;
        let zeros = Tensor::zeros([1, 3, H as i64, W as i64], (Kind::Float, Device::Cpu));
        let p = mirror(prev.unwrap_or(&zeros));
        let b = mirror(&g.infer(&mirror(&x), &p).unwrap());
        (a + b) * 0.5
    };
    let mut c = Colorizer::new(
        &m,
        W,
        H,
        &[("scene-threshold", "1.0"), ("flip-average", "true")],
    );
    let f0 = flip_avg(0, None);
    let plain0 = direct(&g, &art[0], None, W, H);
    assert!(
        max_diff(&to_rgb8(&f0), &to_rgb8(&plain0)) > 5,
        "the network is not mirror-symmetric: the average must differ from one pass"
    );
    assert!(max_diff(&c.push(&art[0], 0), &to_rgb8(&f0)) <= 1);
    let f1 = flip_avg(1, Some(&f0));
    assert!(
        max_diff(&c.push(&art[1], 1), &to_rgb8(&f1)) <= 1,
        "frame 2 = flip average of (line art, the previous flip average)"
    );
    let el = c.h.element().unwrap();
    el.set_property_from_str("flip-average", "false");
    assert!(
        max_diff(
            &c.push(&art[2], 2),
            &to_rgb8(&direct(&g, &art[2], Some(&f1), W, H))
        ) <= 1,
        "off while playing: one pass, the chain kept"
    );
    assert!(c.resets().is_empty(), "switching is no reset");
}

#[test]
fn temporal_smoothing_steadies_the_output_keeps_the_chain_and_switches_while_playing() {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let art = line_art_frames(CLIP_720P, &[20, 21, 22], W, H);
    let input = |k: usize| {
        Tensor::from_slice(&art[k])
            .view([1, 1, H as i64, W as i64])
            .to_kind(Kind::Float)
            / 255.0
    };
    let mut c = Colorizer::new(
        &m,
        W,
        H,
        &[("scene-threshold", "1.0"), ("temporal-smoothing", "0.8")],
    );
    // The chain by hand: the network's own predictions; the output smoothed towards the last
    // output (the core's smooth_step, checked against a hand computation in tcvc-core).
    let p0 = direct(&g, &art[0], None, W, H);
    assert!(max_diff(&c.push(&art[0], 0), &to_rgb8(&p0)) <= 1);
    let p1 = direct(&g, &art[1], Some(&p0), W, H);
    let o1 = model::stream::smooth_step(&p1, &p0, &input(1), &input(0), 0.8).unwrap();
    assert!(
        max_diff(&to_rgb8(&o1), &to_rgb8(&p1)) > 5,
        "smoothing changes the output of a real frame"
    );
    assert!(
        max_diff(&c.push(&art[1], 1), &to_rgb8(&o1)) <= 1,
        "frame 2 = the prediction smoothed towards frame 1's output"
    );
    let el = c.h.element().unwrap();
    assert_eq!(el.property::<f64>("temporal-smoothing"), 0.8);
    el.set_property("temporal-smoothing", 0.0f64);
    assert!(
        max_diff(
            &c.push(&art[2], 2),
            &to_rgb8(&direct(&g, &art[2], Some(&p1), W, H))
        ) <= 1,
        "off while playing: the plain chain, fed the network's prediction, not the output"
    );
    assert!(c.resets().is_empty(), "switching is no reset");
}

#[test]
fn two_instances_in_two_pipelines_share_one_model_and_keep_their_own_chains() {
    let dir = scratch_dir("shared-model");
    let m = dir.join("shared.safetensors");
    std::fs::copy(model(), &m).unwrap();
    let a = line_art_frames(CLIP_720P, &[10, 11, 12, 13], W, H);
    let b = line_art_frames(CLIP_1080P, &[300, 301, 302, 303], W, H);
    let single = |frames: &[Vec<u8>]| {
        let mut c = Colorizer::new(&m, W, H, &[]);
        frames
            .iter()
            .enumerate()
            .map(|(i, f)| c.push(f, i as u64))
            .collect::<Vec<_>>()
    };
    let alone_a = single(&a);
    let alone_b = single(&b);
    let before = model::cache::load_count_of(&m);
    // Two streaming threads, one per instance, interleaved frame by frame.
    let (ta, tb) = (a.clone(), b.clone());
    let (m1, m2) = (m.clone(), m.clone());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (b1, b2) = (barrier.clone(), barrier.clone());
    let ja = std::thread::spawn(move || {
        let mut c = Colorizer::new(&m1, W, H, &[]);
        b1.wait();
        ta.iter()
            .enumerate()
            .map(|(i, f)| c.push(f, i as u64))
            .collect::<Vec<_>>()
    });
    let jb = std::thread::spawn(move || {
        let mut c = Colorizer::new(&m2, W, H, &[]);
        b2.wait();
        tb.iter()
            .enumerate()
            .map(|(i, f)| c.push(f, i as u64))
            .collect::<Vec<_>>()
    });
    let (ra, rb) = (ja.join().unwrap(), jb.join().unwrap());
    assert_eq!(ra, alone_a);
    assert_eq!(rb, alone_b);
    assert!(
        model::cache::load_count_of(&m) - before == 1,
        "two live instances loaded the model twice"
    );
}

#[test]
fn an_artist_keyframe_is_the_output_and_the_next_previous_frame() {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let dir = scratch_dir("keyframes");
    let art = line_art_frames(CLIP_720P, &[30, 31, 32], W, H);
    let key = decode_frames(
        &sample(CLIP_720P),
        &format!("video/x-raw,format=RGB,width={W},height={H}"),
        &[31],
    );
    let (key_rgb, _, _) = plane_packed(&key[0], 0);
    // OpenCV writes BGR.
    let mut bgr = key_rgb.clone();
    for p in bgr.chunks_exact_mut(3) {
        p.swap(0, 2);
    }
    let mat = opencv::core::Mat::from_slice(&bgr)
        .unwrap()
        .reshape(3, H as i32)
        .unwrap()
        .try_clone()
        .unwrap();
    assert!(opencv::imgcodecs::imwrite(
        dir.join("key_001.png").to_str().unwrap(),
        &mat,
        &opencv::core::Vector::new()
    )
    .unwrap());
    let pattern = dir.join("key_%03d.png");
    let mut c = Colorizer::new(
        &m,
        W,
        H,
        &[("keyframe-location", pattern.to_str().unwrap())],
    );
    c.push(&art[0], 0);
    assert_eq!(c.push(&art[1], 1), key_rgb, "frame 1 is the keyframe");
    let key_t = Tensor::from_slice(&key_rgb)
        .view([H as i64, W as i64, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0;
    let want = to_rgb8(&direct(&g, &art[2], Some(&key_t), W, H));
    assert!(
        max_diff(&c.push(&art[2], 2), &want) <= 1,
        "frame 2 is conditioned on the keyframe"
    );
}

#[test]
fn keyframe_colours_stay_on_the_fill_regions_that_follow_the_keyframe() {
    // Real line art of four consecutive frames, an artist keyframe (the original) at frame 1.
    let (w, h) = (160u32, 96u32);
    let (wu, hu) = (w as usize, h as usize);
    let dir = scratch_dir("keyframe-carry");
    let art = line_art_frames(CLIP_720P, &[30, 31, 32, 33], w, h);
    let key = decode_frames(
        &sample(CLIP_720P),
        &format!("video/x-raw,format=RGB,width={w},height={h}"),
        &[31],
    );
    let (key_rgb, _, _) = plane_packed(&key[0], 0);
    write_png(&dir.join("key_001.png"), &key_rgb, hu, 3);
    let pattern = dir.join("key_%03d.png");
    // The carry's first three steps (`keyframe-flow=false`), restated below; the fourth, the
    // optical flow, is tested in tcvc-core's flow.rs and its wiring at the end.
    let run = |carry: &str, flow: &str| -> Vec<Vec<u8>> {
        let mut c = Colorizer::new(
            &model(),
            w,
            h,
            &[
                ("keyframe-location", pattern.to_str().unwrap()),
                ("output-mode", "fill"),
                ("keyframe-carry", carry),
                ("keyframe-flow", flow),
            ],
        );
        (0..4).map(|i| c.push(&art[i], i as u64)).collect()
    };
    let (on, off) = (run("true", "false"), run("false", "false"));
    assert_eq!(on[1], key_rgb, "frame 1 is the keyframe");
    assert_eq!(on[0], off[0], "before the keyframe nothing is carried");
    // With the flow (the default): the same keyframe and frame 0, and at frame 2 (whose network
    // saw the keyframe either way) the flow moves pixels off the band only; its band pixels are
    // the three steps'.
    let flowed = run("true", "true");
    assert_eq!(flowed[1], key_rgb);
    assert_eq!(flowed[0], on[0]);
    let mask2: Vec<u8> = art[2].iter().map(|&v| u8::from(v <= 127)).collect();
    let band2 = (0..wu * hu)
        .filter(|&i| {
            let (x, y) = (i % wu, i / wu);
            (y.saturating_sub(1)..=(y + 1).min(hu - 1)).any(|yy| {
                (x.saturating_sub(1)..=(x + 1).min(wu - 1)).any(|xx| mask2[yy * wu + xx] != 0)
            })
        })
        .collect::<Vec<_>>();
    for &i in &band2 {
        assert_eq!(
            flowed[2][3 * i..3 * i + 3],
            on[2][3 * i..3 * i + 3],
            "band pixel {i} of frame 2"
        );
    }
    let moved = (0..wu * hu)
        .filter(|&i| flowed[2][3 * i..3 * i + 3] != on[2][3 * i..3 * i + 3])
        .count();
    assert!(moved > 0, "the flow moved no pixel of frame 2");
    // Brute force over pixels, independent of the element's run sweep: the fill regions of each
    // frame (lines at most 127, dilated by one pixel, 4-connected), each region of frame t
    // matched to the region of frame t-1 it shares most pixels with.
    let labels = |plane: &[u8]| {
        let mask: Vec<u8> = plane.iter().map(|&v| u8::from(v <= 127)).collect();
        model::stream::fill_labels(&mask, wu, hu)
    };
    // Colour carried by each region of the frame before (None: the network's).
    let (l1, n1) = labels(&art[1]);
    let mut carried: Vec<Option<[f64; 3]>> = vec![None; n1];
    let mut sums = vec![[0f64; 4]; n1];
    for (i, &l) in l1.iter().enumerate() {
        for c in 0..3 {
            sums[l as usize][c] += f64::from(key_rgb[3 * i + c]);
        }
        sums[l as usize][3] += 1.0;
    }
    for l in 1..n1 {
        let s = sums[l];
        carried[l] = Some([s[0] / s[3], s[1] / s[3], s[2] / s[3]]);
    }
    let key_labels = l1.clone();
    let mut prev = (l1, n1);
    // Pixels still showing the keyframe: those with no line change within 2 pixels (a 5x5
    // square) in any frame since the key.
    let mut held = vec![true; wu * hu];
    let line = |t: usize, x: usize, y: usize| art[t][y * wu + x] <= 127;
    let mut moving = true;
    for t in 2..4 {
        let (lt, nt) = labels(&art[t]);
        // The keyframe moved with the camera: the pixels that show it, and its values there.
        let moved = if moving {
            common::camera_hold(&art[1], &art[t], &key_labels, &lt, nt, &key_rgb, wu, hu)
        } else {
            vec![None; wu * hu]
        };
        moving = moved.iter().any(|v| v.is_some());
        let mut overlap = std::collections::BTreeMap::new();
        let mut size = vec![0u64; nt];
        let mut psize = vec![0u64; prev.1];
        for i in 0..wu * hu {
            size[lt[i] as usize] += 1;
            psize[prev.0[i] as usize] += 1;
            if lt[i] != 0 && prev.0[i] != 0 {
                *overlap.entry((lt[i], prev.0[i])).or_insert(0u64) += 1;
            }
        }
        let mut best = vec![(0u32, 0u64); nt];
        for (&(a, b), &c) in &overlap {
            if c > best[a as usize].1 {
                best[a as usize] = (b, c);
            }
        }
        // A pixel lets go of the key when a line within 2 pixels changed, or when its region
        // does not follow the region it was in (something moved over it).
        for y in 0..hu {
            for x in 0..wu {
                let changed = (y.saturating_sub(2)..=(y + 2).min(hu - 1)).any(|yy| {
                    (x.saturating_sub(2)..=(x + 2).min(wu - 1))
                        .any(|xx| line(t, xx, yy) != line(t - 1, xx, yy))
                });
                let i = y * wu + x;
                let (a, b) = (lt[i], prev.0[i]);
                let followed = a == 0 || b == 0 || best[a as usize].0 == b;
                held[i] &= !changed && followed;
            }
        }
        let mut next: Vec<Option<[f64; 3]>> = vec![None; nt];
        for a in 1..nt {
            let (b, ov) = best[a];
            let union = size[a] + psize[b as usize] - ov;
            if ov > 0 && ov as f64 >= 0.2 * union as f64 {
                next[a] = carried[b as usize];
            }
        }
        let (mut carried_px, mut held_px, mut moved_px) = (0, 0, 0);
        let region_px = lt.iter().filter(|&&l| l != 0).count();
        for i in 0..wu * hu {
            let px = &on[t][3 * i..3 * i + 3];
            if let Some(v) = moved[i] {
                moved_px += 1;
                for k in 0..3 {
                    assert!(
                        (f64::from(px[k]) - v[k]).abs() <= 1.0,
                        "frame {t} pixel {i}: {px:?} against the moved keyframe's {v:?}"
                    );
                }
                continue;
            }
            if held[i] {
                held_px += 1;
                assert_eq!(
                    px,
                    &key_rgb[3 * i..3 * i + 3],
                    "frame {t} pixel {i} holds the key"
                );
                continue;
            }
            match next[lt[i] as usize] {
                Some(c) => {
                    carried_px += 1;
                    for k in 0..3 {
                        assert!(
                            (f64::from(px[k]) - c[k]).abs() <= 0.51,
                            "frame {t} pixel {i}: {px:?} against the keyframe's {c:?}"
                        );
                    }
                }
                // Frame 2's network saw the keyframe either way; from frame 3 on it sees the
                // carried output with the carry and its own prediction without.
                None if t == 2 => {
                    assert_eq!(px, &off[t][3 * i..3 * i + 3], "frame {t} pixel {i}")
                }
                None => {}
            }
        }
        // Consecutive frames of one shot (of a 3-D film whose textured line art flickers): a
        // third of the picture or more still shows the key or is followed.
        eprintln!(
            "frame {t}: {moved_px} pixels show the moved key, {held_px} more hold the key, \
             {carried_px} more of {region_px} region pixels carried"
        );
        assert!(
            (carried_px + held_px + moved_px) * 3 > wu * hu,
            "frame {t}: only {moved_px} moved, {held_px} held and {carried_px} carried of {}",
            wu * hu
        );
        assert!(
            moved_px > 0 && carried_px > 0,
            "both the moved keyframe and the regions act"
        );
        assert_ne!(on[t], off[t], "frame {t}: the carry changes the output");
        carried = next;
        prev = (lt, nt);
    }
}

/// The packed RGB rows of the frames the harness got so far, with their timestamps.
fn pulled(c: &mut Colorizer) -> Vec<(Option<gst::ClockTime>, Vec<u8>)> {
    let caps = c.h.sinkpad().unwrap().current_caps();
    std::iter::from_fn(|| c.h.try_pull())
        .map(|b| {
            let s = gst::Sample::builder()
                .buffer(&b)
                .caps(caps.as_ref().unwrap())
                .build();
            (b.pts(), plane_packed(&s, 0).0)
        })
        .collect()
}

/// A colorizer (test model, `fill`) with keyframes from `pattern` and a lookahead of `look`.
fn lookahead_colorizer(pattern: &Path, w: u32, h: u32, look: &str) -> Colorizer {
    Colorizer::new(
        &model(),
        w,
        h,
        &[
            ("keyframe-location", pattern.to_str().unwrap()),
            ("output-mode", "fill"),
            ("keyframe-lookahead", look),
        ],
    )
}

/// Line art of eight consecutive frames and the originals of frames 1 and 6 as keyframes.
fn lookahead_clip(dir: &Path, w: u32, h: u32, keys: &[usize]) -> (Vec<Vec<u8>>, PathBuf) {
    let art = line_art_frames(CLIP_720P, &[30, 31, 32, 33, 34, 35, 36, 37], w, h);
    let originals = decode_frames(
        &sample(CLIP_720P),
        &format!("video/x-raw,format=RGB,width={w},height={h}"),
        &keys.iter().map(|k| 30 + k).collect::<Vec<_>>(),
    );
    for (k, o) in keys.iter().zip(&originals) {
        let (rgb, _, _) = plane_packed(o, 0);
        write_png(&dir.join(format!("key_{k:03}.png")), &rgb, h as usize, 3);
    }
    (art, dir.join("key_%03d.png"))
}

#[test]
fn keyframe_lookahead_moves_the_next_keyframe_back_into_the_frames_that_wait_for_it() {
    let (w, h) = (160u32, 96u32);
    let dir = scratch_dir("keyframe-lookahead");
    let (art, pattern) = lookahead_clip(&dir, w, h, &[2, 6]);
    let new = |look: &str| lookahead_colorizer(&pattern, w, h, look);
    // Without the lookahead every frame comes out as it goes in.
    let mut c = new("0");
    let plain: Vec<Vec<u8>> = (0..8).map(|i| c.push(&art[i], i as u64)).collect();

    // With a lookahead of 4: frame 0, the first of the stream, goes out at once (the sinks
    // preroll on it); frame 1 (its shot has no keyframe before it) waits for the key at 2; of
    // frames 3-5 only 5 is nearer to the key at 6 than to the key at 2; frame 7 has no key in
    // the next 4 frames. Every frame after the first goes out 4 frames later, the rest at the
    // end of the stream. A tag after frame 4 keeps its place among the held frames.
    let mut c = new("4");
    let mut got = Vec::new();
    for (i, a) in art.iter().enumerate() {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
        if i == 4 {
            let tags = gst::TagList::new();
            assert!(c.h.push_event(gst::event::Tag::new(tags)));
        }
        let out = pulled(&mut c);
        let want: &[u64] = match i {
            0 => &[0],
            1..=4 => &[],
            _ => &[i as u64 - 4],
        };
        let pts: Vec<_> = out
            .iter()
            .map(|(p, _)| p.unwrap().mseconds() / 40)
            .collect();
        assert_eq!(pts, want, "frames out after frame {i} went in");
        got.extend(out.into_iter().map(|(_, rgb)| rgb));
    }
    assert!(c.h.push_event(gst::event::Eos::new()));
    let rest = pulled(&mut c);
    let pts: Vec<_> = rest
        .iter()
        .map(|(p, _)| p.unwrap().mseconds() / 40)
        .collect();
    assert_eq!(
        pts,
        [4, 5, 6, 7],
        "the end of the stream lets the held frames go"
    );
    got.extend(rest.into_iter().map(|(_, rgb)| rgb));

    // The held frames: the output without the lookahead, the key moved back into it nearest
    // first (tcvc-core's KeyframeBack, as tcvc-episode --keyframe-backward), the flow on.
    let tensor = |plane: &[u8]| {
        Tensor::from_slice(plane)
            .view([1, 1, h as i64, w as i64])
            .to_kind(Kind::Float)
            / 255.0
    };
    let key = |k: usize| {
        model::stream::read_rgb(dir.join(format!("key_{k:03}.png")).to_str().unwrap()).unwrap()
    };
    let mut want = plain.clone();
    for (k, waiting) in [(2usize, vec![1usize]), (6, vec![5])] {
        let mut back = model::stream::KeyframeBack::new(
            &key(k),
            &tensor(&art[k]),
            model::InputMode::Lineart,
            true,
        )
        .unwrap();
        for t in waiting {
            assert!(back.paint(&mut want[t], &tensor(&art[t])).unwrap());
        }
    }
    for t in 0..8 {
        assert_eq!(got[t], want[t], "frame {t}");
    }
    for t in [1, 5] {
        let moved = (0..(w * h) as usize)
            .filter(|&i| got[t][3 * i..3 * i + 3] != plain[t][3 * i..3 * i + 3])
            .count();
        eprintln!("frame {t}: {moved} pixels take the keyframe moved back");
        assert!(
            moved * 20 > (w * h) as usize,
            "frame {t}: {moved} pixels moved back"
        );
    }
    assert!(
        std::iter::from_fn(|| c.h.try_pull_event()).any(|e| e.type_() == gst::EventType::Tag),
        "the tag went out"
    );
}

#[test]
fn keyframe_lookahead_stops_at_resets_and_flushes_ends_with_the_stream_and_adds_latency() {
    let (w, h) = (160u32, 96u32);
    let dir = scratch_dir("keyframe-lookahead-ends");
    let (art, pattern) = lookahead_clip(&dir, w, h, &[6]);
    let new = |look: &str| lookahead_colorizer(&pattern, w, h, look);
    // A discontinuity (without a PTS: one that only skips frames is no reset).
    let discont = |i: usize| {
        let mut b = discont_buffer(&art[i], w, h, i as u64);
        b.get_mut().unwrap().set_pts(gst::ClockTime::NONE);
        b
    };
    let mut plain = new("0");
    let mut want: Vec<Vec<u8>> = (0..4).map(|i| plain.push(&art[i], i as u64)).collect();
    want.push(plain.push_buf(discont(4)));
    want.extend((5..7).map(|i| plain.push(&art[i], i as u64)));

    let mut c = new("8");
    assert_eq!(
        c.h.query_latency().unwrap() - new("0").h.query_latency().unwrap(),
        gst::ClockTime::from_mseconds(8 * 40),
        "eight frames at 25 frames/s"
    );
    // Frame 0 goes out at once; 1-3 wait for the key at 6, but a discontinuity at 4 starts
    // another shot: they stay as they are, while 4 and 5 take the key moved back. All go out at
    // the end of the stream (fewer than 8 newer frames came).
    for (i, a) in art.iter().enumerate().take(4) {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
    }
    assert_eq!(pulled(&mut c).len(), 1, "frame 0 goes out, 1-3 wait");
    c.h.push(discont(4)).unwrap();
    for (i, a) in art.iter().enumerate().skip(5).take(2) {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
    }
    assert!(pulled(&mut c).is_empty());
    assert!(c.h.push_event(gst::event::Eos::new()));
    let out = pulled(&mut c);
    assert_eq!(out.len(), 6, "the end of the stream lets frames 1-6 go");
    for (t, (pts, rgb)) in (1..).zip(&out) {
        let want_pts = (t != 4).then(|| gst::ClockTime::from_mseconds(40 * t as u64));
        assert_eq!(*pts, want_pts);
        if t == 4 || t == 5 {
            assert!(rgb != &want[t], "frame {t} took nothing of the key");
        } else {
            assert_eq!(rgb, &want[t], "frame {t} goes out as without the lookahead");
        }
    }

    // A keyframe file that goes away while frames wait for it: they wait until its frame,
    // which is the network's, and go out as they are (the lookahead looked for each file once).
    let mut c = new("8");
    for (i, a) in art.iter().enumerate().take(4) {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
    }
    assert_eq!(pulled(&mut c).len(), 1, "frame 0 goes out, 1-3 wait");
    let key = dir.join("key_006.png");
    let kept = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    for (i, a) in art.iter().enumerate().skip(4).take(3) {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
    }
    assert!(c.h.push_event(gst::event::Eos::new()));
    let out = pulled(&mut c);
    let mut gone = new("0");
    let alone: Vec<Vec<u8>> = (0..7).map(|t| gone.push(&art[t], t as u64)).collect();
    std::fs::write(&key, kept).unwrap();
    assert_eq!(out.len(), 6, "frames 1-6 (frame 0 went out at once)");
    for (t, (_, rgb)) in (1..).zip(&out) {
        assert_eq!(
            rgb, &alone[t],
            "frame {t} goes out as without the key and the lookahead"
        );
    }
    assert!(out[5].1 != want[6], "frame 6 is the network's, not the key");

    // A flush drops what waits.
    let mut c = new("8");
    for (i, a) in art.iter().enumerate().take(3) {
        c.h.push(gray_buffer(a, w, h, i as u64)).unwrap();
    }
    assert_eq!(pulled(&mut c).len(), 1);
    assert!(c.h.push_event(gst::event::FlushStart::new()));
    assert!(c.h.push_event(gst::event::FlushStop::new(true)));
    assert!(c.h.push_event(gst::event::Eos::new()));
    assert!(pulled(&mut c).is_empty(), "flushed frames never go out");
}

#[test]
fn keyframe_lookahead_holds_a_gap_that_only_skips_frames_in_its_place() {
    // Frames 1-3 wait for the key at 6; frame 4 is lost (an RTP depayloader sends a GAP for
    // it). The gap only skips a frame: the chain goes on and the frames go on waiting, so 1-3
    // take the key moved back, as 5 does; the GAP goes out after 3 and before 5.
    let (w, h) = (160u32, 96u32);
    let dir = scratch_dir("keyframe-lookahead-gap");
    let (art, pattern) = lookahead_clip(&dir, w, h, &[6]);
    let new = |look: &str| lookahead_colorizer(&pattern, w, h, look);
    let gap = || {
        gst::event::Gap::builder(gst::ClockTime::from_mseconds(40 * 4))
            .duration(gst::ClockTime::from_mseconds(40))
            .build()
    };
    let frames = [0usize, 1, 2, 3, 5, 6];
    let mut plain = new("0");
    let mut want = Vec::new();
    for &i in &frames {
        if i == 5 {
            assert!(plain.h.push_event(gap()));
        }
        want.push(plain.push(&art[i], i as u64));
    }
    assert!(plain.resets().is_empty());

    let mut c = new("8");
    for &i in &frames[..4] {
        c.h.push(gray_buffer(&art[i], w, h, i as u64)).unwrap();
    }
    assert_eq!(pulled(&mut c).len(), 1, "frame 0 goes out, 1-3 wait");
    assert!(c.h.push_event(gap()));
    assert!(pulled(&mut c).is_empty(), "the gap does not end the wait");
    let gap_out = |c: &mut Colorizer| {
        std::iter::from_fn(|| c.h.try_pull_event()).any(|e| e.type_() == gst::EventType::Gap)
    };
    assert!(!gap_out(&mut c), "the gap waits with the frames");
    for &i in &frames[4..] {
        c.h.push(gray_buffer(&art[i], w, h, i as u64)).unwrap();
    }
    assert!(c.h.push_event(gst::event::Eos::new()));
    let out = pulled(&mut c);
    assert!(gap_out(&mut c), "the gap went out with the frames");
    assert!(
        c.resets().is_empty(),
        "a gap that skips a frame is no reset"
    );
    let pts: Vec<_> = out
        .iter()
        .map(|(p, _)| p.unwrap().mseconds() / 40)
        .collect();
    assert_eq!(pts, [1, 2, 3, 5, 6]);
    for (k, (_, rgb)) in out.iter().enumerate() {
        let t = frames[k + 1];
        if t == 6 {
            assert_eq!(
                rgb,
                &want[k + 1],
                "frame 6 is the key, with or without the wait"
            );
        } else {
            assert!(rgb != &want[k + 1], "frame {t} took nothing of the key");
        }
    }
}

#[test]
fn keyframe_lookahead_survives_a_flushing_seek_in_a_playing_pipeline() {
    // A real pipeline over the clip with cuts (default model, fill), keys every 6 frames from
    // the originals, a lookahead of 6: a flushing seek back to the start while frames are held
    // drops them, and the stream then makes the whole clip again, frame for frame as a run
    // without the seek (the first frame after the flush goes out at once, as at the start).
    init();
    let dir = scratch_dir("keyframe-lookahead-seek");
    let clip = clip_with_cuts(&dir);
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for (i, f) in decoded_rgb(&clip).iter().enumerate().step_by(6) {
        write_png(&keys.join(format!("{i:05}.png")), f, 180, 3);
    }
    let description = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! tcvclineart ! tcvccolorize \
         output-mode=fill keyframe-lookahead=6 keyframe-location=\"{}\" ! \
         video/x-raw,format=RGB ! appsink name=sink sync=false",
        clip.display(),
        keys.join("%05d.png").display()
    );
    let reference = pull_all(&description);
    let n = CUTS_CLIP_FRAMES;
    assert_eq!(reference.len(), n);
    let (pipeline, sink) = launch_with_sink(&description);
    pipeline.set_state(gst::State::Playing).unwrap();
    for _ in 0..20 {
        sink.pull_sample().unwrap();
    }
    pipeline
        .seek_simple(
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::ClockTime::ZERO,
        )
        .unwrap();
    let mut after = Vec::new();
    while let Ok(x) = sink.pull_sample() {
        after.push(plane_packed(&x, 0).0);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    // The seek flushed the sink and the element: no frame from before it comes out after it.
    eprintln!("{} frames after the seek", after.len());
    assert_eq!(after.len(), n, "frames after the seek");
    for (t, (got, want)) in after.iter().zip(&reference).enumerate() {
        assert!(got == want, "frame {t} after the seek differs");
    }
}

/// The skip-rule tests' start: the test model's generator, the line art of frames 20 and 21 of
/// the 720p clip, and a colorizer (scene cuts off) that has received a 0–10 s segment at `rate`
/// and `applied_rate`.
fn segment_colorizer(rate: f64, applied_rate: f64) -> (model::Generator, Vec<Vec<u8>>, Colorizer) {
    let m = model();
    let g = ModelFile::load(&m, Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let art = line_art_frames(CLIP_720P, &[20, 21], W, H);
    let mut c = Colorizer::new(&m, W, H, &[("scene-threshold", "1.0")]);
    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
    seg.set_rate(rate);
    seg.set_applied_rate(applied_rate);
    seg.set_start(gst::ClockTime::ZERO);
    seg.set_stop(gst::ClockTime::from_seconds(10));
    assert!(c.h.push_event(gst::event::Segment::new(&seg)));
    (g, art, c)
}

#[test]
fn played_backwards_skips_and_short_gaps_before_the_last_frame_keep_the_chain() {
    let (g, art, mut c) = segment_colorizer(-1.0, 1.0);
    let d1 = direct(&g, &art[0], None, W, H);
    let d2 = direct(&g, &art[1], Some(&d1), W, H);
    let d3 = direct(&g, &art[0], Some(&d2), W, H);
    let d4 = direct(&g, &art[1], Some(&d3), W, H);
    let discont = |k: usize, i: u64| discont_buffer(&art[k], W, H, i);
    assert!(max_diff(&c.push(&art[0], 50), &to_rgb8(&d1)) <= 1);
    // A chunk's first frame, DISCONT, one frame back in time: the chain goes on.
    assert!(
        max_diff(&c.push_buf(discont(1, 48)), &to_rgb8(&d2)) <= 1,
        "backwards, a DISCONT just before the last frame: G(line art, the last output)"
    );
    // A 40 ms gap before it too (played backwards, a gap ends before the last frame).
    let gap = gst::event::Gap::builder(gst::ClockTime::from_mseconds(40 * 46))
        .duration(gst::ClockTime::from_mseconds(40))
        .build();
    assert!(c.h.push_event(gap));
    assert!(max_diff(&c.push(&art[0], 45), &to_rgb8(&d3)) <= 1);
    assert!(max_diff(&c.push(&art[1], 44), &to_rgb8(&d4)) <= 1);
    assert!(c.resets().is_empty(), "backwards skips are no resets");
    // A DISCONT *after* the last frame, or more than a second before it, is a jump: it resets.
    let first_of_2 = to_rgb8(&direct(&g, &art[1], None, W, H));
    for at in [47, 10] {
        c.push(&art[0], 43);
        let _ = c.resets();
        assert!(
            max_diff(&c.push_buf(discont(1, at)), &first_of_2) <= 1,
            "{at}"
        );
        let r = c.resets();
        assert_eq!((r.len(), r[0].reason), (1, Reason::Discont), "{at}");
    }
}

/// Data reversed upstream (a segment with rate 1 and applied rate −1: the frames already run
/// backwards in their content, their timestamps still rise) follows the forward rule: the
/// direction of the skip rule is the segment's rate, not its applied rate.
#[test]
fn an_applied_rate_below_zero_keeps_the_forward_skip_rule() {
    let (g, art, mut c) = segment_colorizer(1.0, -1.0);
    let d1 = direct(&g, &art[0], None, W, H);
    let d2 = direct(&g, &art[1], Some(&d1), W, H);
    assert!(max_diff(&c.push(&art[0], 50), &to_rgb8(&d1)) <= 1);
    assert!(
        max_diff(
            &c.push_buf(discont_buffer(&art[1], W, H, 52)),
            &to_rgb8(&d2)
        ) <= 1,
        "a DISCONT two frames after the last (one lost): a skip, the chain goes on"
    );
    assert!(c.resets().is_empty());
    c.push(&art[0], 53);
    let blank = to_rgb8(&direct(&g, &art[1], None, W, H));
    assert!(
        max_diff(&c.push_buf(discont_buffer(&art[1], W, H, 51)), &blank) <= 1,
        "a DISCONT before the last frame resets, as forwards"
    );
    let r = c.resets();
    assert_eq!((r.len(), r[0].reason), (1, Reason::Discont));
}

/// The reset messages of a playing `pipeline` until EOS (an error fails the test).
fn resets_until_eos(pipeline: &gst::Pipeline) -> Vec<Reset> {
    let bus = pipeline.bus().unwrap();
    let mut out = Vec::new();
    for m in bus.iter_timed(gst::ClockTime::from_seconds(300)) {
        match m.view() {
            gst::MessageView::Element(e) => {
                if let Some(r) = e.structure().and_then(|s| Reset::try_from(s).ok()) {
                    out.push(r);
                }
            }
            gst::MessageView::Eos(_) => return out,
            gst::MessageView::Error(e) => panic!("{e:?}"),
            _ => (),
        }
    }
    panic!("no EOS in 300 s");
}

/// Plays `clip` (`decodebin`, line art, the default model) from start to end at `rate` after a
/// flushing seek in PAUSED; returns the frames into the colorizer, how many were flagged
/// DISCONT and the resets posted while playing.
fn play_at_rate(clip: &Path, rate: f64) -> (usize, usize, Vec<Reset>) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let description = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! identity name=probe ! \
         tcvclineart ! tcvccolorize ! fakesink sync=false",
        clip.display()
    );
    let pipeline = gst::parse::launch(&description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let (frames, discont) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (f, d) = (frames.clone(), discont.clone());
    let probe = pipeline
        .by_name("probe")
        .unwrap()
        .static_pad("src")
        .unwrap();
    probe.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(b) = info.buffer() {
            f.fetch_add(1, SeqCst);
            if b.flags().contains(gst::BufferFlags::DISCONT) {
                d.fetch_add(1, SeqCst);
            }
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Paused).unwrap();
    assert!(pipeline.state(gst::ClockTime::from_seconds(60)).0.is_ok());
    let end = pipeline.query_duration::<gst::ClockTime>().unwrap();
    pipeline
        .seek(
            rate,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::ZERO,
            gst::SeekType::Set,
            end,
        )
        .unwrap();
    assert!(pipeline.state(gst::ClockTime::from_seconds(60)).0.is_ok());
    // What the prerolls and the seek's flush posted, and the frames they counted.
    let bus = pipeline.bus().unwrap();
    while bus.pop().is_some() {}
    let (f0, d0) = (frames.load(SeqCst), discont.load(SeqCst));
    pipeline.set_state(gst::State::Playing).unwrap();
    let resets = resets_until_eos(&pipeline);
    pipeline.set_state(gst::State::Null).unwrap();
    let (n, d) = (frames.load(SeqCst) - f0, discont.load(SeqCst) - d0);
    eprintln!(
        "{}, rate {rate}: {n} frames, {d} DISCONT, resets {resets:?}",
        clip.display()
    );
    (n, d, resets)
}

#[test]
fn played_backwards_the_chain_goes_on_across_the_decoders_chunks() {
    // At a negative rate the demuxer and decoder send the frames in reversed chunks, the first
    // of each flagged DISCONT. Those only skip frames backwards: the chain goes on, and resets
    // at the cuts alone, as it does played forwards. Two clips: the clip with cuts (FFV1 in
    // Matroska) and one shot of it in H.264 with a keyframe every 12 frames (MP4).
    init();
    let dir = scratch_dir("backwards");
    let cuts_clip = clip_with_cuts(&dir);
    let shot = dir.join("shot.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&cuts_clip)
        .args(["-frames:v", "12", "-c:v", "libx264", "-g", "4", "-bf", "0"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&shot)
        .status()
        .expect("ffmpeg runs (make setup installs it)");
    assert!(st.success());
    let scene_cuts = |r: &[Reset]| -> Vec<u64> {
        r.iter()
            .filter(|r| matches!(r.reason, Reason::SceneCut(_)))
            .map(|r| r.frame)
            .collect()
    };
    for (clip, frames, cuts) in [
        (&cuts_clip, CUTS_CLIP_FRAMES, CUTS_CLIP_PIECES.len() - 1),
        (&shot, 12, 0),
    ] {
        let (n_fwd, _, fwd) = play_at_rate(clip, 1.0);
        let (n_back, discont, back) = play_at_rate(clip, -1.0);
        assert!(
            n_fwd >= frames - 1 && n_back >= frames - 1,
            "{n_fwd} {n_back}"
        );
        assert!(
            discont >= 2,
            "{clip:?} backwards: {discont} DISCONT buffers"
        );
        assert!(
            back.iter().all(|r| matches!(r.reason, Reason::SceneCut(_))),
            "{clip:?}: played backwards, only cuts reset: {back:?}"
        );
        assert!(
            fwd.iter().all(|r| matches!(r.reason, Reason::SceneCut(_))),
            "{clip:?}: played forwards, only cuts reset: {fwd:?}"
        );
        assert_eq!(scene_cuts(&fwd).len(), cuts, "{clip:?}: {fwd:?}");
        assert_eq!(scene_cuts(&back).len(), cuts, "{clip:?}: {back:?}");
    }
}

#[test]
fn a_real_scene_cut_resets_the_chain() {
    let (w, h) = (256u32, 144u32);
    // Eight frames of one shot (past the young-shot frames of the rule), then another shot.
    let mut art = line_art_frames(CLIP_720P, &[40, 41, 42, 43, 44, 45, 46, 47], w, h);
    art.extend(line_art_frames(CLIP_1080P, &[400, 401, 402], w, h));
    let mut c = Colorizer::new(&model(), w, h, &[]);
    for (i, f) in art.iter().enumerate() {
        c.push(f, i as u64);
    }
    let r = c.resets();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].frame, 8);
    match r[0].reason {
        Reason::SceneCut(score) => assert!(
            score > gsttcvc::model::scene::DEFAULT_SCENE_THRESHOLD,
            "{score}"
        ),
        other => panic!("{other:?}"),
    }
}

/// A harness on `tcvccolorize` with the small model, `output-mode=color`, no cuts and `props`
/// (the working size left to the element unless `props` sets it).
fn harness(props: &[(&str, &str)], w: u32, h: u32) -> gst_check::Harness {
    init();
    let el = gst::ElementFactory::make("tcvccolorize")
        .property("model-file", model().to_str().unwrap())
        .build()
        .unwrap();
    el.set_property_from_str("output-mode", "color");
    el.set_property_from_str("scene-threshold", "1.0");
    for (k, v) in props {
        el.set_property_from_str(k, v);
    }
    let mut hs = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    hs.set_src_caps(caps(w, h, 25));
    hs.set_sink_caps_str("video/x-raw,format=RGB");
    hs.play();
    hs
}

fn pull_rgb(hs: &mut gst_check::Harness, b: gst::Buffer) -> Vec<u8> {
    let out = hs.push_and_pull(b).expect("an output frame");
    let caps = hs.sinkpad().unwrap().current_caps().unwrap();
    plane_packed(&gst::Sample::builder().buffer(&out).caps(&caps).build(), 0).0
}

/// The small model with `working_orientation = turn` in its metadata (a model `tcvc-train
/// --working-orientation turn` trained), the same weights.
fn turned_model() -> PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| {
        let loaded = ModelFile::load(model(), Device::Cpu, Kind::Float).unwrap();
        let meta = model::ModelMeta {
            working_orientation: model::WorkingOrientation::Turn,
            ..loaded.meta
        };
        let path = scratch_dir("colorize-turned-model").join("turned.safetensors");
        ModelFile::save(&path, &loaded.generator, &meta, model::StorageDtype::F32).unwrap();
        path
    })
    .clone()
}

/// `working-orientation`: under a model trained with portrait frames turned, `auto` (the
/// default) runs a portrait frame at the training size turned — the generator's own output on
/// the frame, chain included — and a landscape frame after a caps change at the training size;
/// `turn` does the same under any model; `model`, and `auto` under a model trained squeezed, run
/// the training size as is, as an explicit working size does (never turned).
#[test]
fn portrait_frames_run_turned_under_a_model_trained_so_or_with_working_orientation_turn() {
    // The models trained at 64x48 (landscape); a 48x64 portrait frame runs at 48x64, so that the
    // output is exactly the generator's output on the frame itself.
    let turned = turned_model();
    let turned = turned.to_str().unwrap();
    let g = ModelFile::load(model(), Device::Cpu, Kind::Float)
        .unwrap()
        .generator;
    let portrait = line_art_frames(CLIP_720P, &[30, 31], H, W);
    let landscape = line_art_frames(CLIP_720P, &[30], W, H);
    let mut auto = harness(&[("model-file", turned)], H, W);
    let first = direct(&g, &portrait[0], None, H, W);
    let a0 = pull_rgb(&mut auto, gray_buffer(&portrait[0], H, W, 0));
    assert!(max_diff(&a0, &to_rgb8(&first)) <= 1, "frame 1 = G at 48x64");
    let a1 = pull_rgb(&mut auto, gray_buffer(&portrait[1], H, W, 1));
    let second = direct(&g, &portrait[1], Some(&first), H, W);
    assert!(max_diff(&a1, &to_rgb8(&second)) <= 1, "the chain at 48x64");
    // A caps change to landscape frames: the training size as is (and a fresh chain).
    auto.set_src_caps(caps(W, H, 25));
    let l0 = pull_rgb(&mut auto, gray_buffer(&landscape[0], W, H, 2));
    assert!(max_diff(&l0, &to_rgb8(&direct(&g, &landscape[0], None, W, H))) <= 1);

    let b = || gray_buffer(&portrait[0], H, W, 0);
    // `turn` under the model trained squeezed; an explicit turned size.
    let mut turn = harness(&[("working-orientation", "turn")], H, W);
    assert_eq!(a0, pull_rgb(&mut turn, b()));
    let mut turned_explicitly = harness(&[("working-width", "48"), ("working-height", "64")], H, W);
    assert_eq!(a0, pull_rgb(&mut turned_explicitly, b()));
    // Squeezed into 64x48, exactly as an explicit working-width=64 working-height=48: `auto`
    // under the model trained squeezed, `model` under the one trained turned.
    let mut explicit = harness(&[("working-width", "64"), ("working-height", "48")], H, W);
    let e0 = pull_rgb(&mut explicit, b());
    let mut squeezed_auto = harness(&[], H, W);
    assert_eq!(e0, pull_rgb(&mut squeezed_auto, b()));
    let mut model_way = harness(
        &[("model-file", turned), ("working-orientation", "model")],
        H,
        W,
    );
    assert_eq!(e0, pull_rgb(&mut model_way, b()));
    assert!(
        max_diff(&e0, &a0) > 5,
        "squeezed and turned working sizes must give different frames"
    );
}

#[test]
fn odd_sizes_and_one_pixel_frames_work_at_the_default_working_size() {
    init();
    let m = model();
    for (w, h) in [(1u32, 1u32), (3, 5), (1921, 1081)] {
        let art = line_art_frames(CLIP_720P, &[50], w, h);
        let el = gst::ElementFactory::make("tcvccolorize")
            .property("model-file", m.to_str().unwrap())
            .build()
            .unwrap();
        let mut hs = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
        hs.set_src_caps(caps(w, h, 25));
        hs.play();
        let out = hs.push_and_pull(gray_buffer(&art[0], w, h, 0)).unwrap();
        let oc = hs.sinkpad().unwrap().current_caps().unwrap();
        let oi = gst_video::VideoInfo::from_caps(&oc).unwrap();
        assert_eq!((oi.width(), oi.height()), (w, h));
        assert!(out.size() >= (w * h * 3) as usize);
    }
}

#[test]
fn fill_paints_each_region_of_the_line_art_with_the_mean_of_the_color_output() {
    // Two elements, the same model and frames: their chains are the same (the chain feeds back
    // the prediction, not the composed output), so `fill` must be `color` averaged over each
    // region of the line art, and `color` itself on the lines and the band next to them.
    let (w, h) = (320u32, 180u32);
    let art = line_art_frames(CLIP_720P, &[60, 61, 62], w, h);
    let small = [("working-width", "80"), ("working-height", "48")];
    let mut color = Colorizer::new(&model(), w, h, &small);
    let mut fill = Colorizer::new(
        &model(),
        w,
        h,
        &[small[0], small[1], ("output-mode", "fill")],
    );
    for (i, a) in art.iter().enumerate() {
        let c = color.push(a, i as u64);
        let f = fill.push(a, i as u64);
        let lines: Vec<u8> = a.iter().map(|&v| u8::from(v <= 191)).collect();
        let (labels, n) = model::stream::fill_labels(&lines, w as usize, h as usize);
        assert!(n > 20, "frame {i}: only {n} regions in real line art");
        let mut sums = vec![[0f64; 3]; n];
        let mut counts = vec![0f64; n];
        for (p, &l) in labels.iter().enumerate() {
            for k in 0..3 {
                sums[l as usize][k] += f64::from(c[3 * p + k]);
            }
            counts[l as usize] += 1.0;
        }
        let (mut band, mut worst) = (0usize, 0f64);
        for (p, &l) in labels.iter().enumerate() {
            for k in 0..3 {
                let (fv, cv) = (f64::from(f[3 * p + k]), f64::from(c[3 * p + k]));
                if l == 0 {
                    assert_eq!(
                        fv, cv,
                        "frame {i} pixel {p}: the band must keep the prediction"
                    );
                } else {
                    // Both outputs are rounded to 8 bits: the mean of rounded values is within
                    // half a code value of the rounded mean.
                    worst = worst.max((fv - sums[l as usize][k] / counts[l as usize]).abs());
                }
            }
            band += usize::from(l == 0);
        }
        assert!(
            worst <= 1.0,
            "frame {i}: a region's fill is {worst} from its mean"
        );
        assert!(
            band > 0 && band < labels.len(),
            "frame {i}: band of {band} pixels"
        );
        assert_ne!(c, f, "frame {i}: fill changed nothing");
    }
}

/// Starts `tcvccolorize` with `props` in a pipeline; returns the error text.
fn start_error(props: &str) -> String {
    init();
    let p = gst::parse::launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=32,height=32 ! tcvccolorize {props} ! fakesink")).unwrap();
    let res = p.set_state(gst::State::Playing);
    let bus = p.bus().unwrap();
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(20),
        &[gst::MessageType::Error, gst::MessageType::Eos],
    );
    p.set_state(gst::State::Null).unwrap();
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => {
            assert!(res.is_err(), "the state change itself must fail");
            format!("{} {}", e.error(), e.debug().unwrap_or_default())
        }
        _ => panic!("'{props}' started without an error"),
    }
}

#[test]
fn bad_model_files_and_unavailable_devices_are_clear_errors_at_the_state_change() {
    let dir = scratch_dir("bad-models");
    let good = std::fs::read(model()).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let patch = |from: &str, to: &str| {
        assert_eq!(from.len(), to.len());
        let mut b = good.clone();
        let pos = b
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .expect("in header");
        b[pos..pos + to.len()].copy_from_slice(to.as_bytes());
        b
    };
    let random: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases = [
        (
            dir.join("missing.safetensors").display().to_string(),
            "missing.safetensors",
        ),
        (write("empty.safetensors", &[]), "empty"),
        (
            write("truncated.safetensors", &good[..good.len() / 2]),
            "truncated",
        ),
        (write("random.safetensors", &random), "safetensors"),
        (
            write(
                "names.safetensors",
                &patch("encoder.1.weight", "encoder.1.wEight"),
            ),
            "encoder.1.weight",
        ),
        (
            write(
                "shapes.safetensors",
                &patch("\"channels\":\"8\"", "\"channels\":\"9\""),
            ),
            "shape",
        ),
    ];
    for (path, expect) in cases {
        let err = start_error(&format!("model-file=\"{path}\""));
        assert!(
            err.contains("model-file") && err.to_lowercase().contains(&expect.to_lowercase()),
            "{path}: {err}"
        );
    }
    if !tch::Cuda::is_available() {
        let err = start_error(&format!("model-file=\"{}\" device=cuda", model().display()));
        assert!(
            err.contains("CUDA is not available") && err.contains("device=cpu"),
            "{err}"
        );
        let err = start_error(&format!(
            "model-file=\"{}\" precision=fp16",
            model().display()
        ));
        assert!(err.contains("fp16 needs CUDA"), "{err}");
    }
}

#[test]
fn weights_from_the_reference_code_run_here_unchanged() {
    let dir = scratch_dir("cross");
    let chain = dir.join("chain");
    std::fs::create_dir_all(&chain).unwrap();
    let art = line_art_frames(CLIP_720P, &[60, 61, 62], W, H);
    for (i, a) in art.iter().enumerate() {
        write_pgm(&chain.join(format!("f{i}.pgm")), a, W as usize, H as usize);
    }
    let m = make_model(&dir, 16, 2, 11, Some(&chain));
    let reference: Vec<Vec<f32>> = (0..art.len())
        .map(|i| {
            std::fs::read(chain.join(format!("f{i}.ref.f32")))
                .unwrap()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect();
    // The element's own code path (model::stream), in fp32: max |Δ| ≤ 1e-4.
    let loaded = ModelFile::load(&m, Device::Cpu, Kind::Float).unwrap();
    let mut s = StreamColorizer::new(
        loaded.generator,
        loaded.meta.input_mode,
        W as i64,
        H as i64,
        1.0,
    )
    .unwrap();
    let mut worst = 0.0f32;
    for (a, r) in art.iter().zip(&reference) {
        let x = Tensor::from_slice(a)
            .view([1, 1, H as i64, W as i64])
            .to_kind(Kind::Float)
            / 255.0;
        let p = s.step(&x).unwrap().prediction.contiguous();
        let mut v = vec![0f32; p.numel()];
        let n = v.len();
        p.copy_data(&mut v, n);
        worst = v
            .iter()
            .zip(r)
            .map(|(x, y)| (x - y).abs())
            .fold(worst, f32::max);
    }
    eprintln!("reference vs ours (fp32, 3 chained frames): max |d| = {worst:e}");
    assert!(worst <= 1e-4, "max |d| {worst}");
    // The element itself (8-bit output): within one code value of the reference.
    let mut c = Colorizer::new(&m, W, H, &[("scene-threshold", "1.0")]);
    for (i, (a, r)) in art.iter().zip(&reference).enumerate() {
        let out = c.push(a, i as u64);
        let hw = (W * H) as usize;
        for (k, px) in out.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                let want = r[ch * hw + k] * 255.0;
                assert!(
                    (px[ch] as f32 - want).abs() <= 0.5 + 1e-3,
                    "frame {i} px {k} ch {ch}: {} vs {want}",
                    px[ch]
                );
            }
        }
    }
}

/// Runs `videotestsrc pattern=ball` (a moving ball: the chain sees motion) through
/// `tcvclineart ! tcvccolorize` with the built-in model and `props`; returns the RGB frames.
fn colorize_test_pattern(props: &str, frames: u32) -> Vec<Vec<u8>> {
    let (pipeline, sink) = launch_with_sink(&format!(
        "videotestsrc pattern=ball num-buffers={frames} ! video/x-raw,width=320,height=192,framerate=25/1 \
         ! tcvclineart ! tcvccolorize output-mode=color scene-threshold=1.0 {props} \
         ! video/x-raw,format=RGB ! appsink name=sink sync=false"
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(plane_packed(&s, 0).0);
    }
    let bus = pipeline.bus().unwrap();
    if let Some(m) = bus.pop_filtered(&[gst::MessageType::Error]) {
        panic!("{props}: {m:?}");
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(out.len(), frames as usize, "{props}");
    out
}

fn mean_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

/// `frames` frames of line art of `videotestsrc pattern=ball` at 320×192 (GRAY8, packed).
fn test_pattern_line_art(frames: u32) -> Vec<Vec<u8>> {
    let (pipeline, sink) = launch_with_sink(&format!(
        "videotestsrc pattern=ball num-buffers={frames} ! video/x-raw,width=320,height=192,framerate=25/1 \
         ! tcvclineart ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false"
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(plane_packed(&s, 0).0);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(out.len(), frames as usize);
    out
}

/// The built-in model's chain on `device` in `kind`, step by step against the CPU in fp32 given
/// the same previous frame (the tested chain's own previous prediction): per step, (max, mean)
/// |Δ| of the predictions in code values (0..255). Teacher forcing keeps each step's difference
/// from being carried into the next, so this measures the device and the precision, not how much
/// the model amplifies a perturbation of its previous frame.
fn chain_steps_against_cpu_fp32(device: Device, kind: Kind) -> Vec<(f64, f64)> {
    init();
    let art = test_pattern_line_art(12);
    let reference = model::cache::load_default(Device::Cpu, Kind::Float).unwrap();
    let tested = model::cache::load_default(device, kind).unwrap();
    let (mut r, mut t) = (
        reference.colorizer(160, 96, 1.0).unwrap(),
        tested.colorizer(160, 96, 1.0).unwrap(),
    );
    let mut prev: Option<(Tensor, Tensor)> = None;
    art.iter()
        .map(|a| {
            let x = Tensor::from_slice(a)
                .view([1, 1, 192, 320])
                .to_kind(Kind::Float)
                / 255.0;
            if let Some((p, xp)) = &prev {
                r.set_previous(p, xp).unwrap();
            }
            let pt = t
                .step(&x.to_device(device))
                .unwrap()
                .prediction
                .to_device(Device::Cpu)
                .to_kind(Kind::Float);
            let pr = r.step(&x).unwrap().prediction;
            let d = (&pt - &pr).abs() * 255.0;
            let stats = (
                d.max().double_value(&[]),
                d.mean(Kind::Float).double_value(&[]),
            );
            prev = Some((pt, x));
            stats
        })
        .collect()
}

/// Formats per-step (max, mean) pairs.
fn steps_str(d: &[(f64, f64)]) -> String {
    let v: Vec<String> = d.iter().map(|(m, a)| format!("{m:.2}/{a:.4}")).collect();
    v.join(" ")
}

/// bf16 on the CPU (the CPU speed lever): every step of the chain stays close to fp32 given the
/// same previous frame. Measured here with the default model of stage 10 (224×128, model card):
/// mean |Δ| 1.1–3.7 code values per step, max 14–54 (a few pixels at line edges; the 160×96
/// default before it: 0.7–3.4, 7–41); the limits are about 1.5× that.
#[test]
fn on_the_cpu_bf16_chain_steps_stay_close_to_fp32() {
    let d = chain_steps_against_cpu_fp32(Device::Cpu, Kind::BFloat16);
    eprintln!(
        "cpu bf16 vs cpu fp32, per step max/mean |d|: {}",
        steps_str(&d)
    );
    for (k, (max, mean)) in d.iter().enumerate() {
        assert!(
            *mean < 6.0 && *max < 80.0,
            "step {k}: max {max} mean {mean}"
        );
    }
}

/// The CUDA path gives the CPU's frames. On CUDA, fp32 convolutions run in TF32 (PyTorch's
/// default on Ampere and later), so frames are close, not equal, and along a free-running chain
/// the differences grow as fast as the model amplifies a change of its previous frame (with the
/// built-in model, on this pattern, from 0.01 to ~10 mean |Δ| in 12 frames). So the element is
/// checked on the first frame (blank previous: upload, model, download, conversions), and the
/// chain step by step with the CPU given the same previous frame. Measured on an H100: element,
/// first frame, mean |Δ| 0.010 (fp32), 0.048 (fp16), 0.27 (bf16); chain steps 0.011–0.025,
/// 0.056–0.26, 0.34–3.1 (docs/gpu.md); the limits are 2–5× that.
/// Runs where CUDA is available (a GPU machine, docs/gpu.md); without CUDA the errors for
/// `device=cuda` and `precision=fp16` are checked by
/// `bad_model_files_and_unavailable_devices_are_clear_errors_at_the_state_change`.
#[test]
fn on_cuda_the_frames_match_the_cpu_frames() {
    if !tch::Cuda::is_available() {
        eprintln!("CUDA is not available in this process: the CUDA path is not checked here");
        return;
    }
    let mut failures = Vec::new();
    // The element, first frame, against the CPU element in fp32: (precision, limit on mean |Δ|).
    let cpu = colorize_test_pattern("device=cpu", 1);
    for (p, limit) in [("fp32", 0.05), ("fp16", 0.25), ("bf16", 1.0)] {
        let cuda = colorize_test_pattern(&format!("device=cuda precision={p}"), 1);
        let (max, mean) = (max_diff(&cpu[0], &cuda[0]), mean_diff(&cpu[0], &cuda[0]));
        eprintln!("element, first frame, cuda {p} vs cpu fp32: max |d| {max}, mean |d| {mean:.4}");
        if mean >= limit {
            failures.push(format!("element {p}: mean {mean} (limit {limit})"));
        }
    }
    // The element's chain runs on CUDA.
    assert_eq!(colorize_test_pattern("device=cuda", 12).len(), 12);
    // The chain, step by step: (kind, limit on each step's mean |Δ|).
    for (kind, limit) in [(Kind::Float, 0.1), (Kind::Half, 0.6), (Kind::BFloat16, 6.0)] {
        let d = chain_steps_against_cpu_fp32(Device::Cuda(0), kind);
        eprintln!(
            "chain, cuda {kind:?} vs cpu fp32, per step max/mean |d|: {}",
            steps_str(&d)
        );
        if let Some((k, (_, mean))) = d.iter().enumerate().find(|(_, (_, m))| *m >= limit) {
            failures.push(format!(
                "chain {kind:?} step {k}: mean {mean} (limit {limit})"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
    // An index past the GPUs there are is an error naming the ones that exist.
    let count = tch::Cuda::device_count();
    let err = start_error(&format!("device=cuda:{count}"));
    assert!(err.contains(&format!("cuda:{count}")), "{err}");
}

#[test]
fn keyframe_patterns_that_would_blow_up_or_never_match_are_errors_at_start() {
    let m = model().display().to_string();
    for (pattern, want) in [
        ("keys/k%065536d.png", "field width of 065536"),
        ("keys/k%d_%d.png", "more than one frame-number conversion"),
        ("keys/k.png", "no frame-number conversion"),
        ("keys/k%s.png", "%s conversion"),
    ] {
        let err = start_error(&format!(
            "model-file=\"{m}\" keyframe-location=\"{pattern}\""
        ));
        assert!(
            err.contains("keyframe-location") && err.contains(want) && err.contains("%05d"),
            "{pattern}: {err}"
        );
    }
}

/// Runs `description` until an error or EOS; returns the error text (`None`: EOS) and the
/// warnings seen.
fn run_collect(description: &str) -> (Option<String>, Vec<String>) {
    init();
    let p = gst::parse::launch(description).unwrap();
    let _ = p.set_state(gst::State::Playing);
    let bus = p.bus().unwrap();
    let mut warnings = Vec::new();
    let mut error = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Error(e) => {
                error = Some(format!("{} {}", e.error(), e.debug().unwrap_or_default()));
                break;
            }
            gst::MessageView::Warning(w) => {
                warnings.push(format!("{} {}", w.error(), w.debug().unwrap_or_default()))
            }
            gst::MessageView::Eos(..) => break,
            _ => (),
        }
    }
    p.set_state(gst::State::Null).unwrap();
    (error, warnings)
}

#[test]
fn hostile_model_files_are_refused_from_their_size_and_header_alone() {
    let dir = scratch_dir("hostile-models");
    // A device: reading it would never end.
    let err = start_error("model-file=/dev/zero");
    assert!(err.contains("not a regular file"), "{err}");
    // A 3 GB (sparse) file: refused from its size, nothing read.
    let big = dir.join("big.safetensors");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let t = std::time::Instant::now();
    let err = start_error(&format!("model-file=\"{}\"", big.display()));
    assert!(err.contains("more than the 1073741824 bytes"), "{err}");
    assert!(t.elapsed().as_secs() < 10, "refused without reading it");
    let _ = std::fs::remove_file(&big);
    // A header length larger than the file, and bytes after the declared tensors.
    let good = std::fs::read(model()).unwrap();
    let mut huge_header = good.clone();
    huge_header[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    for (name, bytes, want) in [
        ("header.safetensors", huge_header, "header length field"),
        ("trailing.safetensors", trailing, "7 unexpected bytes"),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = start_error(&format!("model-file=\"{}\"", p.display()));
        assert!(err.contains(want), "{name}: {err}");
    }
    // A training size no machine could run: refused when the file is read.
    let loaded = ModelFile::load(model(), Device::Cpu, Kind::Float).unwrap();
    let mut meta = loaded.meta.clone();
    meta.train_size = model::TrainSize {
        width: 100_000,
        height: 100_000,
    };
    let p = dir.join("train-size.safetensors");
    ModelFile::save(&p, &loaded.generator, &meta, model::StorageDtype::F32).unwrap();
    let err = start_error(&format!("model-file=\"{}\"", p.display()));
    assert!(
        err.contains("train_size") && err.contains("12..=4096"),
        "{err}"
    );
}

#[test]
fn untrained_or_broken_weights_load_with_a_warning() {
    let dir = scratch_dir("degenerate-models");
    for (name, value, want) in [
        ("zero", 0.0, "every weight is zero"),
        ("huge", 1e30, "values up to 1.000e30"),
    ] {
        let loaded = ModelFile::load(model(), Device::Cpu, Kind::Float).unwrap();
        tch::no_grad(|| {
            for (_, mut t) in loaded.generator.named_tensors() {
                let _ = t.fill_(value);
            }
        });
        let p = dir.join(format!("{name}.safetensors"));
        ModelFile::save(
            &p,
            &loaded.generator,
            &loaded.meta,
            model::StorageDtype::F32,
        )
        .unwrap();
        let (err, warnings) = run_collect(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=32,height=32 ! \
             tcvccolorize model-file=\"{}\" ! fakesink",
            p.display()
        ));
        assert_eq!(err, None, "{name}: the model still runs");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("looks untrained or broken") && w.contains(want)),
            "{name}: {warnings:?}"
        );
    }
    // Non-finite weights were already refused by the loader.
    let loaded = ModelFile::load(model(), Device::Cpu, Kind::Float).unwrap();
    tch::no_grad(|| {
        for (_, mut t) in loaded.generator.named_tensors() {
            let _ = t.fill_(f64::NAN);
        }
    });
    let p = dir.join("nan.safetensors");
    ModelFile::save(
        &p,
        &loaded.generator,
        &loaded.meta,
        model::StorageDtype::F32,
    )
    .unwrap();
    let err = start_error(&format!("model-file=\"{}\"", p.display()));
    assert!(err.contains("NaN or infinite"), "{err}");
    // The test model (random but plausible weights) gets no warning.
    let (err, warnings) = run_collect(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=32,height=32 ! \
         tcvccolorize model-file=\"{}\" ! fakesink",
        model().display()
    ));
    assert_eq!((err, warnings), (None, vec![]));
}

#[test]
fn a_working_size_below_the_generators_minimum_is_an_error_naming_the_property() {
    let m = model().display().to_string();
    for props in ["working-width=8 working-height=8", "working-height=11"] {
        let err = start_error(&format!("model-file=\"{m}\" {props}"));
        assert!(
            err.contains("is too small") && err.contains("at least 12"),
            "{props}: {err}"
        );
    }
}

#[test]
fn interlaced_video_is_refused_with_the_fix() {
    let m = model().display().to_string();
    for element in [
        format!("tcvccolorize model-file=\"{m}\""),
        "tcvclineart".into(),
    ] {
        let (err, _) = run_collect(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=32,height=32 ! \
             capssetter caps=\"video/x-raw,interlace-mode=interleaved\" ! {element} ! fakesink"
        ));
        let err = err.expect("interlaced input must fail");
        assert!(
            err.contains("Interlaced video (interleaved)") && err.contains("deinterlace"),
            "{element}: {err}"
        );
    }
}

/// Pull mode: a downstream pad pulls `tcvccolorize`'s source pad, which pulls its upstream (a
/// pad serving line-art frames by offset). Each pull gives the next frame coloured exactly as in
/// push mode, one for one: `keyframe-lookahead` is set but off in pull mode, and a keyframe and
/// its carry work as in push mode.
#[test]
fn pull_mode_colours_frame_for_frame_with_the_lookahead_off() {
    let dir = scratch_dir("pull-mode");
    let (art, pattern) = lookahead_clip(&dir, W, H, &[2]);
    let props = [
        ("keyframe-location", pattern.to_str().unwrap()),
        ("output-mode", "fill"),
    ];
    let mut push = Colorizer::new(&model(), W, H, &props);
    let want: Vec<Vec<u8>> = (0..art.len())
        .map(|i| push.push(&art[i], i as u64))
        .collect();

    let el = gst::ElementFactory::make("tcvccolorize")
        .property("model-file", model().to_str().unwrap())
        .property("working-width", W)
        .property("working-height", H)
        .property("keyframe-lookahead", 4u32)
        .build()
        .unwrap();
    for (k, v) in props {
        el.set_property_from_str(k, v);
    }
    let frames = art.clone();
    let in_caps = caps(W, H, 25);
    let offered = in_caps.clone();
    let up = gst::Pad::builder(gst::PadDirection::Src)
        .getrange_function(
            move |_, _, offset, _, _| match frames.get(offset as usize) {
                Some(f) => Ok(gst::PadGetRangeSuccess::NewBuffer(gray_buffer(
                    f, W, H, offset,
                ))),
                None => Err(gst::FlowError::Eos),
            },
        )
        .activatemode_function(|_, _, _, _| Ok(()))
        .query_function(move |pad, parent, q| match q.view_mut() {
            gst::QueryViewMut::Scheduling(s) => {
                s.set(gst::SchedulingFlags::SEEKABLE, 1, -1, 0);
                s.add_scheduling_modes([gst::PadMode::Pull]);
                true
            }
            gst::QueryViewMut::Caps(c) => {
                c.set_result(&offered);
                true
            }
            _ => gst::Pad::query_default(pad, parent, q),
        })
        .build();
    let down = gst::Pad::builder(gst::PadDirection::Sink)
        .activatemode_function(|_, _, _, _| Ok(()))
        .build();
    let sink = el.static_pad("sink").unwrap();
    let src = el.static_pad("src").unwrap();
    up.link(&sink).unwrap();
    src.link(&down).unwrap();
    el.set_state(gst::State::Ready).unwrap();
    // As a pulling element does: its sink pad in pull mode activates the chain upstream.
    down.activate_mode(gst::PadMode::Pull, true).unwrap();
    assert_eq!(sink.mode(), gst::PadMode::Pull);
    el.set_state(gst::State::Paused).unwrap();
    assert!(sink.send_event(gst::event::StreamStart::new("pull")));
    assert!(sink.send_event(gst::event::Caps::new(&in_caps)));
    let seg = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(sink.send_event(gst::event::Segment::new(&seg)));
    for (i, want) in want.iter().enumerate() {
        let b = down.pull_range(i as u64, W * H).expect("one frame a pull");
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(40 * i as u64)));
        let caps = src.current_caps().unwrap();
        let s = gst::Sample::builder().buffer(&b).caps(&caps).build();
        assert_eq!(&plane_packed(&s, 0).0, want, "frame {i} as in push mode");
    }
    assert_eq!(
        down.pull_range(art.len() as u64, W * H).unwrap_err(),
        gst::FlowError::Eos
    );
    el.set_state(gst::State::Null).unwrap();
}
