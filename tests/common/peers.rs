// SPDX-License-Identifier: MIT
//! Running the comparison elements and their peers (FFmpeg's `ssim` / `psnr` filters, the
//! scikit-image / NumPy script `tests/peers/metrics_peer.py`) on the same raw frames.
use super::*;
use std::path::Path;
use std::process::Command;

/// A copy of `buf` stamped as frame `i` of a 25 frames/s stream.
pub fn timed(buf: &gst::Buffer, i: usize) -> gst::Buffer {
    let mut b = buf.copy();
    let m = b.get_mut().unwrap();
    m.set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
    m.set_duration(gst::ClockTime::from_mseconds(40));
    b
}

/// Queues `frames` (40 ms apart) and EOS into each named appsrc of `pipeline`.
pub fn feed(pipeline: &gst::Pipeline, sources: &[(&str, &[gst::Sample])]) {
    for (name, frames) in sources {
        let src = pipeline
            .by_name(name)
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        src.set_caps(frames[0].caps_owned().as_ref());
        for (i, s) in frames.iter().enumerate() {
            src.push_buffer(timed(s.buffer_owned().as_ref().unwrap(), i))
                .unwrap();
        }
        src.end_of_stream().unwrap();
    }
}

/// Runs `test` and `reference` through `tcvcssim window=ffmpeg`, `tcvcssim` (gaussian),
/// `tcvcpsnr` and `tcvcflicker` chained on the sink side, each with a stats file; returns every
/// element message and the stats folder.
pub fn run_all(test: &[gst::Sample], reference: &[gst::Sample], name: &str) -> (Msgs, PathBuf) {
    init();
    let dir = scratch_dir(name);
    let st = |n: &str| dir.join(n).display().to_string();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=a format=time ! tcvcssim name=sf window=ffmpeg stats-file={} ! \
         tcvcssim name=sg stats-file={} ! tcvcpsnr name=p stats-file={} ! \
         tcvcflicker name=f stats-file={} ! fakesink sync=false \
         appsrc name=b format=time ! tee name=t \
         t. ! queue ! sf.reference  t. ! queue ! sg.reference \
         t. ! queue ! p.reference  t. ! queue ! f.reference",
        st("ssim_ffmpeg.log"),
        st("ssim_gaussian.log"),
        st("psnr.log"),
        st("flicker.csv")
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    feed(&pipeline, &[("a", test), ("b", reference)]);
    let msgs = run_to_eos(pipeline.upcast_ref(), 120);
    (msgs, dir)
}

/// The per-frame messages of element `src` (summaries left out), typed.
pub fn of<T: for<'a> TryFrom<&'a gst::StructureRef>>(msgs: &Msgs, src: &str) -> Vec<T> {
    msgs.iter()
        .filter(|(from, s)| from == src && !s.name().ends_with("-summary"))
        .map(|(_, s)| T::try_from(s.as_ref()).ok().expect("a well-formed message"))
        .collect()
}

/// Writes frames as packed raw video (every plane, rows without padding).
pub fn write_raw(path: &Path, frames: &[gst::Sample]) {
    let mut bytes = Vec::new();
    for s in frames {
        for p in 0..info(s).n_planes() {
            bytes.extend(plane_packed(s, p).0);
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// Parses `key:value` pairs of an ffmpeg stats line (the crate's parser).
pub fn parse_stats_line(line: &str) -> Vec<(String, f64)> {
    gsttcvc::compare::messages::parse_stats_line(line).expect("a stats line")
}

/// The lines of a stats file, parsed.
pub fn read_stats(path: &Path) -> Vec<Vec<(String, f64)>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(parse_stats_line)
        .collect()
}

/// How FFmpeg runs its filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfmpegPath {
    /// As installed (x86 SIMD where FFmpeg has it).
    Default,
    /// `-cpuflags 0`: FFmpeg's portable C code, the filters' definition.
    Portable,
}

/// FFmpeg's `filter` (`ssim` or `psnr`) on `dir/test.raw` against `dir/ref.raw` (`pix_fmt`,
/// `w`×`h`): its stats file, parsed.
pub fn ffmpeg_stats(
    dir: &Path,
    pix_fmt: &str,
    w: u32,
    h: u32,
    filter: &str,
    path: FfmpegPath,
) -> Vec<Vec<(String, f64)>> {
    let log = dir.join(format!("ffmpeg_{filter}_{path:?}.log"));
    let size = format!("{w}x{h}");
    let raw = |f: &str| {
        vec![
            "-f".to_string(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            pix_fmt.into(),
            "-s".into(),
            size.clone(),
            "-i".into(),
            dir.join(f).display().to_string(),
        ]
    };
    let mut cmd = Command::new("ffmpeg");
    if path == FfmpegPath::Portable {
        cmd.args(["-cpuflags", "0"]);
    }
    let st = cmd
        .args(["-loglevel", "error", "-y"])
        .args(raw("test.raw"))
        .args(raw("ref.raw"))
        .arg("-lavfi")
        .arg(format!("[0][1]{filter}=stats_file={}", log.display()))
        .args(["-f", "null", "-"])
        .status()
        .expect("ffmpeg is installed");
    assert!(st.success(), "ffmpeg {filter} failed");
    read_stats(&log)
}

/// `tests/peers/metrics_peer.py` (scikit-image's Gaussian SSIM, NumPy PSNR and temporal
/// figures) on `dir/test.raw` against `dir/ref.raw`.
pub fn metrics_peer(dir: &Path, peer_fmt: &str, w: u32, h: u32) -> serde_json::Value {
    let size = format!("{w}x{h}");
    let (test, reference) = (dir.join("test.raw"), dir.join("ref.raw"));
    let args: [&std::ffi::OsStr; 6] = [
        "--format".as_ref(),
        peer_fmt.as_ref(),
        "--size".as_ref(),
        size.as_ref(),
        test.as_ref(),
        reference.as_ref(),
    ];
    serde_json::from_str(&super::run_peer_script("metrics_peer.py", &args)).unwrap()
}
