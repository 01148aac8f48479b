// SPDX-License-Identifier: MIT
//! Helpers shared by the integration tests: plugin registration, the sample clips, decoding real
//! frames with GStreamer, and building/reading raw frames.
#![allow(dead_code)]

use gst::prelude::*;
use gst_video::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub mod peers;

/// Initialises GStreamer and registers the plugin statically (once per test process).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gsttcvc::plugin_register_static().expect("tcvc plugin registers");
    });
}

/// The repository root (the workspace's: these helpers serve the plugin's tests and, through
/// `#[path]`, those of tcvc-tools).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if here.join("Cargo.lock").exists() {
        here
    } else {
        here.parent()
            .expect("a workspace member has a parent")
            .to_path_buf()
    }
}

/// A sample clip from the data folder (`TCVC_DATA_DIR`, default `./data`), fetched by
/// `make setup`. Missing data is a test failure with instructions, never a silent skip.
pub fn sample(name: &str) -> PathBuf {
    let dir = std::env::var_os("TCVC_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("data"));
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "sample clip {} is missing: run `make setup` (or tools/fetch-data.sh) first",
        p.display()
    );
    p
}

pub const CLIP_720P: &str = "bigbuckbunny_720p.mp4";
pub const CLIP_1080P: &str = "bigbuckbunny_1080p.mp4";

/// The venv's Python with the reference tools (`TCVC_PYTHON`, default `./.venv/bin/python`).
pub fn python() -> PathBuf {
    let p = std::env::var_os("TCVC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "Python venv {} is missing: run `make setup` first",
        p.display()
    );
    p
}

/// Runs the peer script `tests/peers/SCRIPT` in the venv with `args`; its standard output
/// (a failed run fails the test with the script's standard error).
pub fn run_peer_script<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> String {
    let out = std::process::Command::new(python())
        .arg(root().join("tests/peers").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run the Python peer {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("peer output is UTF-8")
}

/// Parses a pipeline description that has an `appsink name=sink`; returns the pipeline and it.
pub fn launch_with_sink(description: &str) -> (gst::Pipeline, gst_app::AppSink) {
    init();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .expect("an element named sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

/// Every frame a pipeline description with an `appsink name=sink` delivers, run to the end:
/// plane 0 of each, packed (RGB outputs: packed RGB).
pub fn pull_all(description: &str) -> Vec<Vec<u8>> {
    let (pipeline, sink) = launch_with_sink(description);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        frames.push(plane_packed(&s, 0).0);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    frames
}

/// Every frame of a video file, decoded by GStreamer to packed RGB at its own size.
pub fn decoded_rgb(path: &Path) -> Vec<Vec<u8>> {
    pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        path.display()
    ))
}

/// Decodes `path` with GStreamer (`decodebin ! videoconvert ! videoscale`) into `caps` (e.g.
/// `video/x-raw,format=RGB,width=641,height=361`) and returns the frames whose 0-based index is
/// in `indices` (sorted), as buffers with their caps.
pub fn decode_frames(path: &Path, caps: &str, indices: &[usize]) -> Vec<gst::Sample> {
    let (pipeline, sink) = launch_with_sink(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! capsfilter caps=\"{caps}\" ! appsink name=sink sync=false",
        path.display()
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let last = *indices.iter().max().expect("at least one index");
    let mut out = Vec::new();
    let mut n = 0usize;
    while n <= last {
        let Ok(sample) = sink.pull_sample() else {
            break;
        };
        if indices.contains(&n) {
            out.push(sample);
        }
        n += 1;
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(
        out.len(),
        indices.len(),
        "{} has only {n} frames",
        path.display()
    );
    out
}

/// Video info of a sample.
pub fn info(sample: &gst::Sample) -> gst_video::VideoInfo {
    gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap()
}

/// Packed copy (rows without padding) of plane `plane` of a frame, with its width in bytes and
/// height.
pub fn plane_packed(sample: &gst::Sample, plane: u32) -> (Vec<u8>, usize, usize) {
    let info = info(sample);
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    let finfo = info.format_info();
    let comp = plane as u8;
    let w = finfo.scale_width(comp, info.width()) as usize
        * finfo.pixel_stride()[plane as usize] as usize;
    let h = finfo.scale_height(comp, info.height()) as usize;
    let stride = frame.plane_stride()[plane as usize] as usize;
    let data = frame.plane_data(plane).unwrap();
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        out.extend_from_slice(&data[y * stride..y * stride + w]);
    }
    (out, w, h)
}

/// Builds a buffer of `format` at `width` × `height` (with GStreamer's default strides), filling
/// plane 0 row by row from packed `rows` (`row_bytes` bytes per row).
pub fn buffer_from_packed(
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    rows: &[u8],
    row_bytes: usize,
) -> (gst::Buffer, gst_video::VideoInfo) {
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .unwrap();
    let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
    {
        let buf = buffer.get_mut().unwrap();
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).unwrap();
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data_mut(0).unwrap();
        for y in 0..height as usize {
            data[y * stride..y * stride + row_bytes]
                .copy_from_slice(&rows[y * row_bytes..(y + 1) * row_bytes]);
        }
    }
    (buffer, info)
}

/// Runs buffers through a fresh `tcvclineart` with `props` (as gst-launch-1.0 strings) and returns the packed GRAY8
/// outputs.
pub fn run_lineart(
    props: &[(&str, &str)],
    inputs: &[(gst::Buffer, gst_video::VideoInfo)],
) -> Vec<Vec<u8>> {
    init();
    let mut h = gst_check::Harness::new("tcvclineart");
    {
        let el = h.element().unwrap();
        for (k, v) in props {
            el.set_property_from_str(k, v);
        }
    }
    h.play();
    let mut out = Vec::new();
    let mut current: Option<gst::Caps> = None;
    for (buf, info) in inputs {
        let caps = info.to_caps().unwrap();
        if current.as_ref() != Some(&caps) {
            h.set_src_caps(caps.clone());
            current = Some(caps);
        }
        let outbuf = h.push_and_pull(buf.clone()).expect("output buffer");
        let outcaps = h.sinkpad().unwrap().current_caps().unwrap();
        let oinfo = gst_video::VideoInfo::from_caps(&outcaps).unwrap();
        assert_eq!(oinfo.format(), gst_video::VideoFormat::Gray8);
        assert_eq!(
            (oinfo.width(), oinfo.height()),
            (info.width(), info.height())
        );
        let sample = gst::Sample::builder()
            .buffer(&outbuf)
            .caps(&outcaps)
            .build();
        out.push(plane_packed(&sample, 0).0);
    }
    out
}

/// Grey image of packed RGB rows, computed from scikit-image's rgb2gray weights with exact
/// integer rounding (round half up of 0.2125 R + 0.7154 G + 0.0721 B).
pub fn grey_of_rgb(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            ((2125 * p[0] as u32 + 7154 * p[1] as u32 + 721 * p[2] as u32 + 5000) / 10000) as u8
        })
        .collect()
}

/// Writes a binary PGM.
pub fn write_pgm(path: &Path, data: &[u8], width: usize, height: usize) {
    let mut bytes = format!("P5\n{width} {height}\n255\n").into_bytes();
    bytes.extend_from_slice(&data[..width * height]);
    std::fs::write(path, bytes).unwrap();
}

/// Writes a PNG (OpenCV) of packed `RGB` (3 channels) or grey (1 channel) `data`.
pub fn write_png(path: &Path, data: &[u8], height: usize, channels: usize) {
    use opencv::prelude::*;
    let bytes: Vec<u8> = if channels == 3 {
        data.chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect()
    } else {
        data.to_vec()
    };
    let m = opencv::core::Mat::from_slice(&bytes)
        .unwrap()
        .reshape(channels as i32, height as i32)
        .unwrap()
        .try_clone()
        .unwrap();
    let v = opencv::core::Vector::<i32>::new();
    assert!(opencv::imgcodecs::imwrite(path.to_str().unwrap(), &m, &v).unwrap());
}

/// A fresh, empty scratch folder under the target dir, unique to this call.
///
/// A test's folder stays after it (to look at when it fails) until a later test binary starts:
/// the first call in each process removes the folders of processes that are no longer running,
/// so `target/test-scratch` holds one run's folders, not every run's (gigabytes each).
pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static PRUNE: std::sync::Once = std::sync::Once::new();
    let base = root().join("target").join("test-scratch");
    PRUNE.call_once(|| prune_scratch(&base));
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = base.join(format!("{name}-{}-{k}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes the scratch folders (`{name}-{pid}-{k}`) whose process is gone.
fn prune_scratch(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.rsplit('-').nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Real line art: frames `indices` of `clip` scaled to `width` × `height`, through
/// `tcvclineart` (GRAY8, packed rows).
pub fn line_art_frames(clip: &str, indices: &[usize], width: u32, height: u32) -> Vec<Vec<u8>> {
    let frames = decode_frames(
        &sample(clip),
        &format!("video/x-raw,format=RGB,width={width},height={height}"),
        indices,
    );
    let inputs: Vec<_> = frames
        .iter()
        .map(|s| (s.buffer_owned().unwrap(), info(s)))
        .collect();
    run_lineart(&[], &inputs)
}

/// Pieces `(first, end)` of the 1080p opening's shots (0-284, 285-377, 378-552, 553-719),
/// 12 frames each: 5 shots, 4 cuts.
pub const CUTS_CLIP_PIECES: [(u32, u32); 5] =
    [(40, 52), (300, 312), (420, 432), (600, 612), (200, 212)];
/// Frames of [`clip_with_cuts`].
pub const CUTS_CLIP_FRAMES: usize = 60;

/// The clip with cuts: 320x180, FFV1 in Matroska (lossless: every decoder sees the same frames).
pub fn clip_with_cuts(dir: &Path) -> PathBuf {
    let out = dir.join("cuts.mkv");
    let parts: Vec<String> = CUTS_CLIP_PIECES
        .iter()
        .enumerate()
        .map(|(i, (a, b))| {
            format!(
                "[0:v]trim=start_frame={a}:end_frame={b},setpts=PTS-STARTPTS,scale=320:180[v{i}]"
            )
        })
        .collect();
    let concat: String = (0..CUTS_CLIP_PIECES.len())
        .map(|i| format!("[v{i}]"))
        .collect();
    let graph = format!(
        "{};{concat}concat=n={}:v=1:a=0,format=yuv420p[out]",
        parts.join(";"),
        CUTS_CLIP_PIECES.len()
    );
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(sample(CLIP_1080P))
        .args([
            "-filter_complex",
            &graph,
            "-map",
            "[out]",
            "-c:v",
            "ffv1",
            "-r",
            "24",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (make setup installs it)");
    assert!(st.success());
    out
}

/// Element messages with the name of the element that posted them.
pub type Msgs = Vec<(String, gst::Structure)>;

/// Runs `pipeline` to EOS (at most `timeout_s` seconds); returns the element messages, panics on
/// an error message.
pub fn run_to_eos(pipeline: &gst::Element, timeout_s: u64) -> Msgs {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut msgs = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(timeout_s)) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => {
                pipeline.set_state(gst::State::Null).unwrap();
                panic!("pipeline error: {} ({:?})", e.error(), e.debug());
            }
            gst::MessageView::Element(e) => msgs.push((
                e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                e.structure().unwrap().to_owned(),
            )),
            _ => (),
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    msgs
}

/// SplitMix64: the small, seedable, reproducible generator of the randomised tests.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }

    /// A frame side in `min..=max`: tiny (min–40: odd sizes, non-multiples of everything) 3 times
    /// in 10, medium (41–800) 5 in 10, large (801–2000) 2 in 10.
    pub fn side(&mut self, min: u32, max: u32) -> u32 {
        let v = match self.next() % 10 {
            0..=2 => self.range(min, 40.max(min)),
            3..=7 => self.range(41, 800),
            _ => self.range(801, 2000),
        };
        v.clamp(min, max.max(min))
    }
}

/// How closely two runs' frames must agree.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub enum FrameMatch {
    /// Byte for byte (the same computation, batch sizes included).
    Exact,
    /// Forward passes with other batch sizes (batching across streams, `tcvc-episode --batch`):
    /// libtorch's oneDNN may pick other convolution kernels for another batch size on some CPUs,
    /// which moves an output value by 1 here and there (measured on a 2-core AVX-512 Xeon: at
    /// most 13 of a frame's 46,080 values, by 1; none on an AMD EPYC Zen 4). Allowed: every value
    /// within `max` of the other and at most one value in 1,000 of a frame different.
    BatchRounding { max: u8 },
}

/// Asserts that `got` and `want` hold the same number of frames and that each pair agrees as
/// `m` says; a failure names the frame, how many values differ and by how much.
#[allow(dead_code)]
pub fn assert_frames_match(got: &[Vec<u8>], want: &[Vec<u8>], m: FrameMatch, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: frame counts");
    for (i, (x, y)) in got.iter().zip(want).enumerate() {
        assert_eq!(x.len(), y.len(), "{what}: frame {i} sizes");
        let (differ, worst) = x.iter().zip(y).fold((0usize, 0u8), |(n, w), (p, q)| {
            let d = p.abs_diff(*q);
            (n + usize::from(d > 0), w.max(d))
        });
        let ok = match m {
            FrameMatch::Exact => differ == 0,
            FrameMatch::BatchRounding { max } => worst <= max && differ * 1000 <= x.len(),
        };
        assert!(
            ok,
            "{what}: frame {i} differs in {differ} of {} values, by up to {worst} ({m:?})",
            x.len()
        );
    }
}

/// The pixels of frame `art` (line art, `w × h`) that show the keyframe (`key_art`, its line
/// art; `key_labels`, its fill regions; `key_rgb`, its colours) moved with the camera, and the
/// moved keyframe's value there (0–255), brute force over pixels: the move is the phase
/// correlation of the two line masks (as 0/1 images softened by a Gaussian of σ 1.5, under a
/// Hanning window), kept when, over the pixels it moves inside the frame, a smaller share
/// mismatches (a line with no line of the other within 1 pixel) than without it; a pixel shows
/// the moved keyframe when its source point lies inside the frame, no mismatch lies within 2
/// pixels of it, and its fill region (`labels`, `n` of them) overlaps the moved keyframe region
/// it lies in more than any other, by an intersection over union of 0.2 or more.
#[allow(clippy::too_many_arguments)]
pub fn camera_hold(
    key_art: &[u8],
    art: &[u8],
    key_labels: &[u32],
    labels: &[u32],
    n: usize,
    key_rgb: &[u8],
    w: usize,
    h: usize,
) -> Vec<Option<[f64; 3]>> {
    use opencv::core::{Mat, Scalar, Size, CV_32F};
    use opencv::prelude::*;
    let key_mask: Vec<bool> = key_art.iter().map(|&v| v <= 127).collect();
    let mask: Vec<bool> = art.iter().map(|&v| v <= 127).collect();
    if key_mask == mask {
        return (0..w * h)
            .map(|i| Some([0, 1, 2].map(|c| f64::from(key_rgb[3 * i + c]))))
            .collect();
    }
    let soft = |m: &[bool]| {
        let mut a =
            Mat::new_rows_cols_with_default(h as i32, w as i32, CV_32F, Scalar::all(0.0)).unwrap();
        for (d, &v) in a.data_typed_mut::<f32>().unwrap().iter_mut().zip(m) {
            *d = if v { 1.0 } else { 0.0 };
        }
        let mut b = Mat::default();
        opencv::imgproc::gaussian_blur(&a, &mut b, Size::new(0, 0), 1.5, 1.5, 4).unwrap();
        b
    };
    let mut window = Mat::default();
    opencv::imgproc::create_hanning_window(&mut window, Size::new(w as i32, h as i32), CV_32F)
        .unwrap();
    let p =
        opencv::imgproc::phase_correlate(&soft(&key_mask), &soft(&mask), &window, None).unwrap();
    // Bilinear value of a plane (a function of x, y) at (x - dx, y - dy), None outside.
    let at = |f: &dyn Fn(usize, usize) -> f64, x: usize, y: usize, d: (f64, f64)| {
        let (sx, sy) = (x as f64 - d.0, y as f64 - d.1);
        if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f64 || sy > (h - 1) as f64 {
            return None;
        }
        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        Some(
            (f(x0, y0) * (1.0 - fx) + f(x1, y0) * fx) * (1.0 - fy)
                + (f(x0, y1) * (1.0 - fx) + f(x1, y1) * fx) * fy,
        )
    };
    let key_line = |x: usize, y: usize| f64::from(u8::from(key_mask[y * w + x]));
    let moved_mask = |d: (f64, f64)| -> Vec<bool> {
        (0..w * h)
            .map(|i| at(&key_line, i % w, i / w, d).is_some_and(|v| v > 0.5))
            .collect()
    };
    let near = |m: &[bool], x: usize, y: usize, r: usize| {
        (y.saturating_sub(r)..=(y + r).min(h - 1))
            .any(|yy| (x.saturating_sub(r)..=(x + r).min(w - 1)).any(|xx| m[yy * w + xx]))
    };
    let mismatch = |moved: &[bool]| -> Vec<bool> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                (mask[i] && !near(moved, x, y, 1)) || (moved[i] && !near(&mask, x, y, 1))
            })
            .collect()
    };
    let inside = |x: usize, y: usize, d: (f64, f64)| at(&|_, _| 0.0, x, y, d).is_some();
    let share = |d: (f64, f64)| {
        let bad = mismatch(&moved_mask(d));
        let (mut k, mut n) = (0, 0);
        for (i, &b) in bad.iter().enumerate() {
            if inside(i % w, i / w, d) {
                n += 1;
                k += usize::from(b);
            }
        }
        k as f64 / n as f64
    };
    let mut d = (p.x, p.y);
    if d != (0.0, 0.0) && share(d) >= share((0.0, 0.0)) {
        d = (0.0, 0.0);
    }
    eprintln!("camera move since the keyframe: {d:?} (phase correlation: {p:?})");
    let bad = mismatch(&moved_mask(d));
    // The keyframe's regions moved, nearest neighbour (halves rounded up).
    let moved_labels: Vec<u32> = (0..w * h)
        .map(|i| {
            let (sx, sy) = ((i % w) as f64 - d.0, (i / w) as f64 - d.1);
            let (sx, sy) = ((sx + 0.5).floor(), (sy + 0.5).floor());
            if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f64 || sy > (h - 1) as f64 {
                0
            } else {
                key_labels[sy as usize * w + sx as usize]
            }
        })
        .collect();
    let mut overlap = std::collections::BTreeMap::new();
    let mut size = std::collections::HashMap::new();
    let mut key_size = std::collections::HashMap::new();
    for i in 0..w * h {
        *size.entry(labels[i]).or_insert(0u64) += 1;
        *key_size.entry(moved_labels[i]).or_insert(0u64) += 1;
        if labels[i] != 0 && moved_labels[i] != 0 {
            *overlap.entry((labels[i], moved_labels[i])).or_insert(0u64) += 1;
        }
    }
    let mut best = vec![(0u32, 0u64); n];
    for (&(a, b), &c) in &overlap {
        if c > best[a as usize].1 {
            best[a as usize] = (b, c);
        }
    }
    let follows: Vec<u32> = (0..n)
        .map(|a| {
            let (b, ov) = best[a];
            let union = size[&(a as u32)] + key_size.get(&b).copied().unwrap_or(0) - ov;
            if ov > 0 && ov as f64 >= 0.2 * union as f64 {
                b
            } else {
                0
            }
        })
        .collect();
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let (a, b) = (labels[i], moved_labels[i]);
            let followed = a == 0 || b == 0 || follows[a as usize] == b;
            if !inside(x, y, d) || near(&bad, x, y, 2) || !followed {
                return None;
            }
            let v = [0, 1, 2].map(|c| {
                let plane = |x: usize, y: usize| f64::from(key_rgb[3 * (y * w + x) + c]);
                at(&plane, x, y, d).unwrap()
            });
            Some(v)
        })
        .collect()
}
