// SPDX-License-Identifier: MIT
//! `tcvclineart` behaviour on real frames decoded by GStreamer from the sample clips.
mod common;

use common::*;
use gst::prelude::*;
use gst_video::VideoFormat;

/// A few real RGB frames at an odd size (641×361: RGB rows are padded, so stride ≠ width × 3).
fn rgb_frames(n: usize) -> Vec<gst::Sample> {
    let idx: Vec<usize> = (0..n).map(|i| 20 + i * 37).collect();
    decode_frames(
        &sample(CLIP_720P),
        "video/x-raw,format=RGB,width=641,height=361",
        &idx,
    )
}

fn gray8(grey: &[u8], w: u32, h: u32) -> (gst::Buffer, gst_video::VideoInfo) {
    buffer_from_packed(VideoFormat::Gray8, w, h, grey, w as usize)
}

#[test]
fn lines_are_black_on_white_and_deterministic() {
    let frames = rgb_frames(3);
    let inputs: Vec<_> = frames
        .iter()
        .map(|s| {
            let (rgb, _, _) = plane_packed(s, 0);
            buffer_from_packed(VideoFormat::Rgb, 641, 361, &rgb, 641 * 3)
        })
        .collect();
    let a = run_lineart(&[], &inputs);
    let b = run_lineart(&[], &inputs);
    assert_eq!(a, b, "two runs over the same frames differ");
    for (i, out) in a.iter().enumerate() {
        assert!(
            out.iter().all(|&v| v == 0 || v == 255),
            "frame {i}: not binary"
        );
        let black = out.iter().filter(|&&v| v == 0).count() as f64 / out.len() as f64;
        assert!(
            (0.005..0.30).contains(&black),
            "frame {i}: {:.1}% black pixels: expected thin black lines on white",
            black * 100.0
        );
    }
    // invert=false gives the exact complement.
    let white = run_lineart(&[("invert", "false")], &inputs);
    for (x, y) in a.iter().zip(&white) {
        assert!(x.iter().zip(y).all(|(p, q)| p ^ q == 0xff));
    }
}

#[test]
fn every_rgb_format_equals_gray8_of_the_same_grey() {
    let frames = rgb_frames(2);
    // Byte order of each packed format: index of R, G, B and bytes per pixel.
    let layouts: &[(VideoFormat, [usize; 3], usize)] = &[
        (VideoFormat::Rgb, [0, 1, 2], 3),
        (VideoFormat::Bgr, [2, 1, 0], 3),
        (VideoFormat::Rgbx, [0, 1, 2], 4),
        (VideoFormat::Bgrx, [2, 1, 0], 4),
        (VideoFormat::Xrgb, [1, 2, 3], 4),
        (VideoFormat::Xbgr, [3, 2, 1], 4),
        (VideoFormat::Rgba, [0, 1, 2], 4),
        (VideoFormat::Bgra, [2, 1, 0], 4),
        (VideoFormat::Argb, [1, 2, 3], 4),
        (VideoFormat::Abgr, [3, 2, 1], 4),
    ];
    for mode in ["lineart", "greyscale"] {
        let props = [("mode", mode)];
        let reference: Vec<_> = frames
            .iter()
            .map(|s| gray8(&grey_of_rgb(&plane_packed(s, 0).0), 641, 361))
            .collect();
        let want = run_lineart(&props, &reference);
        if mode == "greyscale" {
            // The grey output is the rgb2gray image itself.
            for (s, w) in frames.iter().zip(&want) {
                assert_eq!(&grey_of_rgb(&plane_packed(s, 0).0), w);
            }
        }
        for &(format, offsets, bpp) in layouts {
            let inputs: Vec<_> = frames
                .iter()
                .map(|s| {
                    let (rgb, _, _) = plane_packed(s, 0);
                    let mut packed = vec![0x5au8; 641 * 361 * bpp];
                    for (src, dst) in rgb.chunks_exact(3).zip(packed.chunks_exact_mut(bpp)) {
                        for c in 0..3 {
                            dst[offsets[c]] = src[c];
                        }
                    }
                    buffer_from_packed(format, 641, 361, &packed, 641 * bpp)
                })
                .collect();
            assert_eq!(
                run_lineart(&props, &inputs),
                want,
                "{format:?} ({mode}) differs from GRAY8 of the same grey image"
            );
        }
    }
}

#[test]
fn every_yuv_format_uses_its_y_plane() {
    let formats = [
        VideoFormat::I420,
        VideoFormat::Yv12,
        VideoFormat::Nv12,
        VideoFormat::Nv21,
        VideoFormat::Y42b,
        VideoFormat::Y444,
    ];
    for format in formats {
        let frames = decode_frames(
            &sample(CLIP_720P),
            &format!(
                "video/x-raw,format={},width=641,height=361",
                format.to_str()
            ),
            &[30, 90],
        );
        let inputs: Vec<_> = frames
            .iter()
            .map(|s| {
                let info = info(s);
                (s.buffer().unwrap().copy(), info)
            })
            .collect();
        let luma: Vec<_> = frames
            .iter()
            .map(|s| gray8(&plane_packed(s, 0).0, 641, 361))
            .collect();
        for mode in ["lineart", "greyscale"] {
            let props = [("mode", mode)];
            assert_eq!(
                run_lineart(&props, &inputs),
                run_lineart(&props, &luma),
                "{format:?} ({mode}) differs from GRAY8 of its Y plane"
            );
        }
    }
}

#[test]
fn odd_sizes_and_a_mid_stream_size_change() {
    // Real content scaled to odd sizes, pushed through one element in sequence: every caps
    // change re-sizes the element, and each output equals a fresh element's output.
    let mut inputs = Vec::new();
    for (w, h) in [(1u32, 1u32), (3, 5), (1921, 1081), (2, 1), (641, 361)] {
        let s = decode_frames(
            &sample(CLIP_720P),
            &format!("video/x-raw,format=RGBA,width={w},height={h}"),
            &[60],
        );
        let (rgba, _, _) = plane_packed(&s[0], 0);
        inputs.push(buffer_from_packed(
            VideoFormat::Rgba,
            w,
            h,
            &rgba,
            w as usize * 4,
        ));
    }
    let together = run_lineart(&[], &inputs);
    for (i, input) in inputs.iter().enumerate() {
        let alone = run_lineart(&[], std::slice::from_ref(input));
        assert_eq!(
            together[i],
            alone[0],
            "size {}x{}",
            input.1.width(),
            input.1.height()
        );
        assert_eq!(
            together[i].len(),
            (input.1.width() * input.1.height()) as usize
        );
    }
    // The 1921×1081 frame has real lines; the 1×1 one has none.
    assert!(together[2].iter().filter(|&&v| v == 0).count() > 1000);
    assert_eq!(together[0], vec![255]);
}

#[test]
fn properties_change_while_playing() {
    let frames = rgb_frames(1);
    let (rgb, _, _) = plane_packed(&frames[0], 0);
    let input = buffer_from_packed(VideoFormat::Rgb, 641, 361, &rgb, 641 * 3);
    init();
    let mut h = gst_check::Harness::new("tcvclineart");
    h.set_src_caps(input.1.to_caps().unwrap());
    h.play();
    let outcaps = gst::Caps::builder("video/x-raw")
        .field("format", "GRAY8")
        .field("width", 641)
        .field("height", 361)
        .build();
    // Count line pixels inside the picture only (rows are padded to 644 bytes).
    let count_black = |b: gst::Buffer| {
        let s = gst::Sample::builder().buffer(&b).caps(&outcaps).build();
        plane_packed(&s, 0).0.iter().filter(|&&v| v == 0).count()
    };
    let sharp = count_black(h.push_and_pull(input.0.clone()).unwrap());
    h.element().unwrap().set_property("sigma", 3.0f64);
    let smooth = count_black(h.push_and_pull(input.0.clone()).unwrap());
    h.element()
        .unwrap()
        .set_property("high-threshold", 2000.0f64);
    h.element()
        .unwrap()
        .set_property("low-threshold", 2000.0f64);
    let none = count_black(h.push_and_pull(input.0.clone()).unwrap());
    assert!(smooth < sharp * 8 / 10, "sigma 3 ({smooth}) vs 1 ({sharp})");
    assert_eq!(none, 0);
}

#[test]
fn out_of_range_properties_are_refused_by_their_paramspec() {
    init();
    let el = gst::ElementFactory::make("tcvclineart").build().unwrap();
    for (name, bad) in [
        ("sigma", -1.0f64),
        ("sigma", 100.0),
        ("low-threshold", -0.5),
        ("high-threshold", 5000.0),
    ] {
        let before = el.property::<f64>(name);
        // GObject validates against the ParamSpec range: glib-rs refuses with a panic (C
        // callers such as gst-launch-1.0 get a warning), and the value stays unchanged.
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            el.set_property(name, bad);
        }))
        .is_err();
        assert!(refused, "{name}={bad} was accepted");
        assert_eq!(el.property::<f64>(name), before, "{name} changed");
    }
    let defaults = [
        ("sigma", 1.0f64),
        ("low-threshold", 25.5),
        ("high-threshold", 51.0),
    ];
    for (name, v) in defaults {
        assert_eq!(el.property::<f64>(name), v, "{name} default");
    }
    assert!(el.property::<bool>("invert"));
    let mode = el.property_value("mode");
    let (_, mode) = gst::glib::EnumValue::from_value(&mode).unwrap();
    assert_eq!(mode.nick(), "lineart");
}

#[test]
fn unsupported_caps_are_refused_at_negotiation() {
    init();
    // Through the element's sink pad, as upstream would negotiate.
    let el = gst::ElementFactory::make("tcvclineart").build().unwrap();
    let sinkpad = el.static_pad("sink").unwrap();
    for format in ["UYVY", "GRAY16_LE", "RGB16", "v210"] {
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", format)
            .field("width", 64)
            .field("height", 48)
            .field("framerate", gst::Fraction::new(25, 1))
            .build();
        assert!(!sinkpad.query_accept_caps(&caps), "{format} accepted");
    }
    // In a running stream: the caps event is refused and the push is not-negotiated.
    let mut h = gst_check::Harness::new("tcvclineart");
    h.play();
    h.set_src_caps_str("video/x-raw,format=UYVY,width=64,height=48,framerate=25/1");
    let buf = gst::Buffer::with_size(64 * 48 * 2).unwrap();
    assert_eq!(h.push(buf), Err(gst::FlowError::NotNegotiated));
}
