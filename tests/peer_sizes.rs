// SPDX-License-Identifier: MIT
//! Randomised peer tests of `tcvcssim` (both windows), `tcvcpsnr` and `tcvcflicker`: frame sizes
//! and formats drawn from a seeded generator, real frames (the 720p sample against a
//! low-bitrate re-encode of it, decoded by GStreamer at the drawn size and format), and every
//! figure compared with its peer: FFmpeg's `ssim` and `psnr` filters, scikit-image's Gaussian
//! SSIM and NumPy's temporal figures (`tests/peers/metrics_peer.py`).
//!
//! `make test` runs [`DEFAULT_CASES`] drawn cases after the sizes a probe once found wrong.
//! Environment:
//! - `TCVC_PEER_CASES=N`: draw N cases (`make peer-sizes` runs 200);
//! - `TCVC_PEER_SEED=S`: the generator's seed (default 0; the run prints it);
//! - `TCVC_PEER_CASE="I420 848x480;NV12 31x17"`: run exactly these cases (a failure prints its
//!   case in this form, to replay it).
//!
//! FFmpeg's x86 `ssim_end_line` (SSE4) drops the last 8×8 window of each row and adds one made of
//! stale sums instead when a plane is `4·k + 2` blocks of 4 pixels wide (`(w >> 2) % 4 == 2`,
//! e.g. 424, 600 or 683 pixels); the value it adds depends on what the filter's other planes and
//! threads left in its buffers, so FFmpeg's own figures there change with `-filter_complex_threads`.
//! `window=ffmpeg` computes FFmpeg's definition (its portable C code, `-cpuflags 0`), which
//! these tests check on every case; FFmpeg as installed is checked too, on the cases it gets right.
mod common;

use common::peers::*;
use common::*;
use gsttcvc::compare::messages::{FlickerFrame, PsnrFrame, SsimFrame};
use std::collections::HashMap;
use std::fmt;
use std::process::Command;
use std::sync::OnceLock;

/// Cases drawn in `make test`.
const DEFAULT_CASES: usize = 10;
/// Frames per case (the flicker figures need at least two).
const FRAMES: usize = 3;

/// A format the comparison elements accept, with its names for FFmpeg and the Python peer
/// (alpha is not compared: RGBA/BGRA go to both peers as RGB0/BGR0, the same bytes).
struct Format {
    gst: &'static str,
    ffmpeg: &'static str,
    peer: &'static str,
    /// Chroma planes at half width and height.
    subsampled: bool,
    /// Chroma planes at half width, full height (4:2:2).
    half_width: bool,
    /// More than 8 bits per sample.
    deep: bool,
}

const FORMATS: [Format; 13] = [
    Format {
        gst: "GRAY8",
        ffmpeg: "gray",
        peer: "gray",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "RGB",
        ffmpeg: "rgb24",
        peer: "rgb24",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "BGR",
        ffmpeg: "bgr24",
        peer: "bgr24",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "RGBx",
        ffmpeg: "rgb0",
        peer: "rgbx",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "BGRx",
        ffmpeg: "bgr0",
        peer: "bgrx",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "RGBA",
        ffmpeg: "rgb0",
        peer: "rgbx",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "BGRA",
        ffmpeg: "bgr0",
        peer: "bgrx",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "I420",
        ffmpeg: "yuv420p",
        peer: "yuv420p",
        subsampled: true,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "NV12",
        ffmpeg: "nv12",
        peer: "nv12",
        subsampled: true,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "Y444",
        ffmpeg: "yuv444p",
        peer: "yuv444p",
        subsampled: false,
        half_width: false,
        deep: false,
    },
    Format {
        gst: "I420_10LE",
        ffmpeg: "yuv420p10le",
        peer: "yuv420p10le",
        subsampled: true,
        half_width: false,
        deep: true,
    },
    Format {
        gst: "I422_10LE",
        ffmpeg: "yuv422p10le",
        peer: "yuv422p10le",
        subsampled: false,
        half_width: true,
        deep: true,
    },
    Format {
        gst: "P010_10LE",
        ffmpeg: "p010le",
        peer: "p010le",
        subsampled: true,
        half_width: false,
        deep: true,
    },
];

#[derive(Clone, Copy, Debug)]
struct Case {
    format: usize,
    width: u32,
    height: u32,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}x{}",
            FORMATS[self.format].gst, self.width, self.height
        )
    }
}

impl Case {
    fn parse(s: &str) -> Case {
        let (fmt, size) = s.trim().split_once(' ').expect("case: FORMAT WxH");
        let format = FORMATS
            .iter()
            .position(|f| f.gst.eq_ignore_ascii_case(fmt))
            .unwrap_or_else(|| panic!("unknown format {fmt}"));
        let (w, h) = size.trim().split_once('x').expect("case: FORMAT WxH");
        Case {
            format,
            width: w.parse().unwrap(),
            height: h.parse().unwrap(),
        }
    }

    /// Widths and heights of the component planes.
    fn planes(&self) -> Vec<(u32, u32)> {
        let f = &FORMATS[self.format];
        let (w, h) = (self.width, self.height);
        match (f.gst, f.subsampled) {
            ("GRAY8", _) => vec![(w, h)],
            (_, true) => vec![
                (w, h),
                (w.div_ceil(2), h.div_ceil(2)),
                (w.div_ceil(2), h.div_ceil(2)),
            ],
            _ => vec![(w, h); 3],
        }
    }

    /// FFmpeg as installed computes its definition here (see the module docs; its high-depth
    /// path has no SIMD).
    fn ffmpeg_simd_is_exact(&self) -> bool {
        if FORMATS[self.format].deep {
            return true;
        }
        self.planes().iter().all(|&(w, _)| (w >> 2) % 4 != 2)
    }
}

/// Every plane at least 11×11 (the Gaussian window; FFmpeg's needs 8×8); at most ~1 Mpixel.
fn draw(rng: &mut SplitMix) -> Case {
    let format = (rng.next() % FORMATS.len() as u64) as usize;
    let f = &FORMATS[format];
    let min = if f.subsampled || f.half_width { 21 } else { 11 };
    let width = rng.side(min, 2000);
    let height = rng.side(min, (1_000_000 / width).min(2000));
    Case {
        format,
        width,
        height,
    }
}

/// The sizes a hostile probe found wrong (FFmpeg window, against FFmpeg as installed).
const REGRESSIONS: &[&str] = &[
    "I420 848x480",
    "I420 850x478",
    "NV12 1366x768",
    "Y444 600x340",
    "RGB 424x240",
];

fn cases() -> Vec<Case> {
    if let Ok(list) = std::env::var("TCVC_PEER_CASE") {
        return list
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .map(Case::parse)
            .collect();
    }
    let n = std::env::var("TCVC_PEER_CASES")
        .ok()
        .map(|v| v.parse().expect("TCVC_PEER_CASES is a number"))
        .unwrap_or(DEFAULT_CASES);
    let seed = std::env::var("TCVC_PEER_SEED")
        .ok()
        .map(|v| v.parse().expect("TCVC_PEER_SEED is a number"))
        .unwrap_or(0u64);
    eprintln!("drawing {n} cases with TCVC_PEER_SEED={seed}");
    let mut rng = SplitMix(seed);
    let mut v: Vec<Case> = REGRESSIONS.iter().map(|s| Case::parse(s)).collect();
    v.extend((0..n).map(|_| draw(&mut rng)));
    v
}

/// A low-bitrate re-encode of the first frames of the 720p sample (made once per process).
fn reencoded() -> &'static std::path::Path {
    static LOW: OnceLock<std::path::PathBuf> = OnceLock::new();
    LOW.get_or_init(|| {
        let low = scratch_dir("peer-sizes-clip").join("low.mp4");
        let st = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(sample(CLIP_720P))
            .args(["-frames:v", "3", "-an", "-c:v", "libx264", "-b:v", "150k"])
            .arg(&low)
            .status()
            .expect("ffmpeg is installed");
        assert!(st.success());
        low
    })
}

/// The largest gap seen between the Gaussian window's `All` (full precision, from the element's
/// messages) and scikit-image's, and where: printed at the end of the run.
static GAUSS_GAP: std::sync::Mutex<(f64, String)> = std::sync::Mutex::new((0.0, String::new()));

fn note_gauss_gap(gap: f64, at: &str) {
    let mut g = GAUSS_GAP.lock().unwrap_or_else(|e| e.into_inner());
    if gap >= g.0 {
        *g = (gap, at.to_string());
    }
}

fn close(ours: f64, theirs: f64, tol: f64) -> bool {
    (ours.is_infinite() && theirs.is_infinite()) || (ours - theirs).abs() <= tol
}

/// Our stats file against FFmpeg's, key by key.
fn check_stats(
    case: &Case,
    what: &str,
    ours: &[Vec<(String, f64)>],
    theirs: &[Vec<(String, f64)>],
    tol: f64,
) -> Result<(), String> {
    if ours.len() != theirs.len() {
        return Err(format!(
            "{what}: {} lines, FFmpeg {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (n, (o, t)) in ours.iter().zip(theirs).enumerate() {
        let keys = |v: &Vec<(String, f64)>| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        if keys(o) != keys(t) {
            return Err(format!(
                "{what} frame {n}: keys {:?}, FFmpeg {:?}",
                keys(o),
                keys(t)
            ));
        }
        for ((k, a), (_, b)) in o.iter().zip(t) {
            if !close(*a, *b, tol) {
                return Err(format!(
                    "{case}: {what} frame {n} {k}: ours {a}, FFmpeg {b}"
                ));
            }
        }
    }
    Ok(())
}

/// Runs one case; an error names what differed.
fn run_case(case: &Case) -> Result<(), String> {
    let f = &FORMATS[case.format];
    let caps = format!(
        "video/x-raw,format={},width={},height={}",
        f.gst, case.width, case.height
    );
    let idx: Vec<usize> = (0..FRAMES).collect();
    let test = decode_frames(reencoded(), &caps, &idx);
    let reference = decode_frames(&sample(CLIP_720P), &caps, &idx);
    let (msgs, dir) = run_all(&test, &reference, "peer-sizes");
    write_raw(&dir.join("test.raw"), &test);
    write_raw(&dir.join("ref.raw"), &reference);
    let (w, h) = (case.width, case.height);

    // FFmpeg window and PSNR: the stats files against FFmpeg's (its definition on every case;
    // FFmpeg as installed where its SIMD is exact). Both print 6 (SSIM) / 2 (PSNR) decimals.
    let ssim_ours = read_stats(&dir.join("ssim_ffmpeg.log"));
    let ssim_c = ffmpeg_stats(&dir, f.ffmpeg, w, h, "ssim", FfmpegPath::Portable);
    check_stats(case, "ssim (FFmpeg -cpuflags 0)", &ssim_ours, &ssim_c, 2e-6)?;
    if case.ffmpeg_simd_is_exact() {
        let ssim_simd = ffmpeg_stats(&dir, f.ffmpeg, w, h, "ssim", FfmpegPath::Default);
        check_stats(case, "ssim (FFmpeg)", &ssim_ours, &ssim_simd, 2e-6)?;
    }
    let psnr_ours = read_stats(&dir.join("psnr.log"));
    let psnr_ff = ffmpeg_stats(&dir, f.ffmpeg, w, h, "psnr", FfmpegPath::Default);
    check_stats(case, "psnr", &psnr_ours, &psnr_ff, 0.005 + 1e-9)?;

    // The messages carry the same figures as the stats files (at full precision).
    let ssim_f: Vec<SsimFrame> = of(&msgs, "sf");
    let psnr: Vec<PsnrFrame> = of(&msgs, "p");
    for (m, t) in ssim_f.iter().zip(&ssim_c) {
        let t: HashMap<_, _> = t.iter().cloned().collect();
        if !close(m.all, t["All"], 1e-6) {
            return Err(format!(
                "{case}: ssim message All {} vs FFmpeg {}",
                m.all, t["All"]
            ));
        }
    }
    for (m, t) in psnr.iter().zip(&psnr_ff) {
        let t: HashMap<_, _> = t.iter().cloned().collect();
        if !close(m.psnr_avg, t["psnr_avg"], 0.005 + 1e-9) {
            return Err(format!(
                "{case}: psnr message {} vs FFmpeg {}",
                m.psnr_avg, t["psnr_avg"]
            ));
        }
    }
    if ssim_f.len() != FRAMES || psnr.len() != FRAMES {
        return Err(format!(
            "{case}: {} ssim and {} psnr messages for {FRAMES} frames",
            ssim_f.len(),
            psnr.len()
        ));
    }

    // Gaussian window against scikit-image, temporal figures against NumPy.
    let peer = metrics_peer(&dir, f.peer, w, h);
    let frames = peer["frames"].as_array().unwrap();
    let gauss = read_stats(&dir.join("ssim_gaussian.log"));
    let ssim_g: Vec<SsimFrame> = of(&msgs, "sg");
    for (k, fr) in frames.iter().enumerate() {
        let sk = fr["ssim_gaussian"]["all"].as_f64().unwrap();
        note_gauss_gap((ssim_g[k].all - sk).abs(), &format!("{case} frame {k}"));
        if !close(ssim_g[k].all, sk, 1e-4) {
            return Err(format!(
                "{case}: frame {k} gaussian SSIM {} vs scikit-image {sk}",
                ssim_g[k].all
            ));
        }
        for (p, v) in fr["ssim_gaussian"]["planes"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let ours = gauss[k][p + 1].1;
            if !close(ours, v.as_f64().unwrap(), 1e-4) {
                return Err(format!(
                    "{case}: frame {k} plane {p} gaussian SSIM {ours} vs scikit-image {v}"
                ));
            }
        }
    }
    let flicker: Vec<FlickerFrame> = of(&msgs, "f");
    if flicker.len() != FRAMES - 1 {
        return Err(format!(
            "{case}: {} flicker messages for {FRAMES} frames",
            flicker.len()
        ));
    }
    for m in &flicker {
        let t = &frames[(m.n - 1) as usize]["temporal"];
        for (ours, key) in [
            (Some(m.temporal_error), "temporal_error"),
            (Some(m.flicker), "flicker"),
            (Some(m.reference_flicker), "reference_flicker"),
            (m.static_flicker, "static_flicker"),
        ] {
            let np = t[key].as_f64();
            let same = match (ours, np) {
                (Some(a), Some(b)) => close(a, b, 1e-6),
                (a, b) => a.is_none() && b.is_none(),
            };
            if !same {
                return Err(format!(
                    "{case}: frame {} {key} {ours:?} vs NumPy {np:?}",
                    m.n
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn random_sizes_and_formats_agree_with_ffmpeg_scikit_image_and_numpy() {
    init();
    let cases = cases();
    let mut failed = Vec::new();
    for case in &cases {
        let t = std::time::Instant::now();
        let result = std::panic::catch_unwind(|| run_case(case))
            .unwrap_or_else(|p| Err(format!("{case}: panicked: {p:?}")));
        match result {
            Ok(()) => eprintln!("ok   {case} ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("FAIL {case}: {e}");
                failed.push(case.to_string());
            }
        }
    }
    let gap = GAUSS_GAP.lock().unwrap_or_else(|e| e.into_inner()).clone();
    eprintln!(
        "largest gap of the Gaussian window's All to scikit-image: {:.2e} ({}; bound 1e-4)",
        gap.0, gap.1
    );
    assert!(
        failed.is_empty(),
        "{} of {} cases differ from their peers; replay with TCVC_PEER_CASE=\"{}\"",
        failed.len(),
        cases.len(),
        failed.join(";")
    );
}

/// The reason the FFmpeg-window check above uses FFmpeg's portable code where FFmpeg's SIMD has
/// a tail bug: there, FFmpeg as installed gives different figures for the same frames with one
/// filter thread and with two. If a fixed FFmpeg ever agrees with itself, this test says so, and
/// the exception above should go.
#[test]
fn ffmpeg_simd_ssim_depends_on_its_thread_count_where_planes_are_4k_plus_2_blocks_wide() {
    init();
    let case = Case::parse("I420 848x480");
    assert!(!case.ffmpeg_simd_is_exact());
    let f = &FORMATS[case.format];
    let caps = format!(
        "video/x-raw,format={},width={},height={}",
        f.gst, case.width, case.height
    );
    let idx: Vec<usize> = (0..2).collect();
    let test = decode_frames(reencoded(), &caps, &idx);
    let reference = decode_frames(&sample(CLIP_720P), &caps, &idx);
    let dir = scratch_dir("ffmpeg-threads");
    write_raw(&dir.join("test.raw"), &test);
    write_raw(&dir.join("ref.raw"), &reference);
    let run = |threads: &str| {
        let out = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-filter_complex_threads", threads])
            .args([
                "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "848x480", "-i",
            ])
            .arg(dir.join("test.raw"))
            .args([
                "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "848x480", "-i",
            ])
            .arg(dir.join("ref.raw"))
            .args(["-lavfi", "[0][1]ssim=stats_file=-", "-f", "null", "-"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let (one, two) = (run("1"), run("2"));
    assert!(one.contains("U:") && two.contains("U:"), "{one}");
    assert_ne!(
        one, two,
        "FFmpeg's SSIM no longer depends on its thread count at 848x480: check whether its SIMD \
         agrees with -cpuflags 0 now and drop the exception in ffmpeg_simd_is_exact"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
