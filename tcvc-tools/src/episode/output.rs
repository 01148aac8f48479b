// SPDX-License-Identifier: MIT
//! Where `tcvc-episode colorize` writes: a PNG sequence (an output path with `%d`, each frame
//! under its own frame number, written atomically) or an encoded video through GStreamer
//! (`appsrc ! videoconvert ! ENCODER ! MUXER ! filesink`, the muxer chosen by the extension,
//! written to a temporary name and renamed when complete). Frame `n` has the time
//! `n / fps` wherever it is written, so shard segments carry their place in the episode.
use super::EpisodeError;
use crate::pattern::FramePattern;
use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Encoder used when `--encoder` is not given.
pub const DEFAULT_ENCODER: &str = "x264enc";

/// Receives the output frames in order (packed RGB, `width × height × 3` bytes).
pub trait FrameWriter {
    /// Writes frame `index`.
    fn write(&mut self, index: u64, rgb: &[u8]) -> Result<(), EpisodeError>;
    /// Completes the output (the file appears under its name only now).
    fn finish(self: Box<Self>) -> Result<(), EpisodeError>;
}

/// Opens the writer for `out`: a PNG sequence when it has a `%d` conversion, else a video file.
pub fn open(
    out: &Path,
    width: u32,
    height: u32,
    fps: gst::Fraction,
    encoder: &str,
) -> Result<Box<dyn FrameWriter>, EpisodeError> {
    let text = out
        .to_str()
        .ok_or_else(|| EpisodeError::Input(format!("{} is not valid UTF-8", out.display())))?;
    if text.contains('%') {
        let pattern =
            FramePattern::parse(text).map_err(|e| EpisodeError::Input(format!("output {e}")))?;
        return Ok(Box::new(PngWriter {
            pattern,
            width,
            height,
        }));
    }
    Ok(Box::new(VideoWriter::new(
        out, width, height, fps, encoder,
    )?))
}

struct PngWriter {
    pattern: FramePattern,
    width: u32,
    height: u32,
}

impl FrameWriter for PngWriter {
    fn write(&mut self, index: u64, rgb: &[u8]) -> Result<(), EpisodeError> {
        use opencv::prelude::*;
        let path = PathBuf::from(self.pattern.format(index));
        let fail = |e: String| EpisodeError::Run(format!("cannot write {}: {e}", path.display()));
        let mat = opencv::core::Mat::new_rows_cols_with_data(
            self.height as i32,
            (self.width * 3) as i32,
            rgb,
        )
        .and_then(|m| m.reshape(3, self.height as i32).and_then(|m| m.try_clone()))
        .map_err(|e| fail(e.to_string()))?;
        let mut bgr = opencv::core::Mat::default();
        opencv::imgproc::cvt_color_def(&mat, &mut bgr, opencv::imgproc::COLOR_RGB2BGR)
            .map_err(|e| fail(e.to_string()))?;
        let mut buf = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode_def(".png", &bgr, &mut buf).map_err(|e| fail(e.to_string()))?;
        crate::fsutil::write_atomic(&path, buf.as_slice()).map_err(|e| fail(e.to_string()))
    }

    fn finish(self: Box<Self>) -> Result<(), EpisodeError> {
        Ok(())
    }
}

/// The muxer for an output file's extension.
pub fn muxer_for(path: &Path) -> Result<&'static str, EpisodeError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("mkv") => Ok("matroskamux"),
        Some("mp4") => Ok("mp4mux"),
        Some("mov") => Ok("qtmux"),
        Some("ts") => Ok("mpegtsmux"),
        _ => Err(EpisodeError::Input(format!(
            "{}: the output must end in .mkv, .mp4, .mov or .ts (a video), or contain %d (a PNG sequence, e.g. out/%05d.png); shard segments that tcvc-episode join puts together are .ts",
            path.display()
        ))),
    }
}

/// The temporary name of an output being written.
pub fn part_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

struct VideoWriter {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    path: PathBuf,
    part: PathBuf,
    fps: gst::Fraction,
    width: u32,
    height: u32,
}

impl VideoWriter {
    fn new(
        path: &Path,
        width: u32,
        height: u32,
        fps: gst::Fraction,
        encoder: &str,
    ) -> Result<Self, EpisodeError> {
        let mux = muxer_for(path)?;
        gst::init().map_err(|e| EpisodeError::Run(format!("GStreamer: {e}")))?;
        let fps = if fps.numer() > 0 {
            fps
        } else {
            gst::Fraction::new(25, 1)
        };
        let part = part_name(path);
        let desc = format!(
            "appsrc name=src format=time ! videoconvert ! {encoder} ! {mux} ! filesink name=sink"
        );
        let pipeline = gst::parse::launch(&desc)
            .ok()
            .and_then(|p| p.downcast::<gst::Pipeline>().ok())
            .ok_or_else(|| {
                EpisodeError::Input(format!(
                    "cannot build '{desc}': check --encoder (a GStreamer encoder description, e.g. \"x264enc speed-preset=fast\") and that its plugin is installed (gst-inspect-1.0)"
                ))
            })?;
        let sink = pipeline.by_name("sink").expect("named in the description");
        sink.set_property("location", part.to_string_lossy().as_ref());
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("named in the description");
        let caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width, height)
            .fps(fps)
            .build()
            .map_err(|e| EpisodeError::Input(format!("output {width}x{height}: {e}")))?
            .to_caps()
            .map_err(|e| EpisodeError::Input(format!("output caps: {e}")))?;
        src.set_caps(Some(&caps));
        src.set_property("block", true);
        src.set_property(
            "max-bytes",
            (width as u64 * height as u64 * 3 * 8).max(1 << 20),
        );
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            EpisodeError::Run(format!(
                "the encoding pipeline '{desc}' does not start{}",
                bus_error(&pipeline).map_or(String::new(), |e| format!(": {e}"))
            ))
        })?;
        Ok(VideoWriter {
            pipeline,
            src,
            path: path.to_path_buf(),
            part,
            fps,
            width,
            height,
        })
    }

    fn time_of(&self, index: u64) -> gst::ClockTime {
        gst::ClockTime::from_nseconds(
            index
                .mul_div_floor(
                    1_000_000_000 * self.fps.denom() as u64,
                    self.fps.numer() as u64,
                )
                .unwrap_or(0),
        )
    }
}

use gst::prelude::MulDiv;

/// The first error on a pipeline's bus, if any.
fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            return Some(format!(
                "{} ({})",
                e.error(),
                e.debug().map(|d| d.to_string()).unwrap_or_default()
            ));
        }
    }
    None
}

impl FrameWriter for VideoWriter {
    fn write(&mut self, index: u64, rgb: &[u8]) -> Result<(), EpisodeError> {
        let n = self.width as usize * self.height as usize * 3;
        let mut buf = gst::Buffer::from_slice(rgb[..n].to_vec());
        {
            let b = buf.get_mut().expect("a new buffer is writable");
            let (t, t1) = (self.time_of(index), self.time_of(index + 1));
            b.set_pts(t);
            b.set_duration(t1 - t);
        }
        self.src.push_buffer(buf).map_err(|e| {
            EpisodeError::Run(format!(
                "encoding {} failed at frame {index}: {e:?}{}",
                self.path.display(),
                bus_error(&self.pipeline).map_or(String::new(), |e| format!(": {e}"))
            ))
        })?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), EpisodeError> {
        let _ = self.src.end_of_stream();
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let r = match bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(600),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(msg) => match msg.view() {
                gst::MessageView::Eos(_) => Ok(()),
                gst::MessageView::Error(e) => Err(EpisodeError::Run(format!(
                    "encoding {} failed: {}",
                    self.path.display(),
                    e.error()
                ))),
                _ => unreachable!("filtered"),
            },
            None => Err(EpisodeError::Run(format!(
                "encoding {} did not finish within {:?}",
                self.path.display(),
                Duration::from_secs(600)
            ))),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        r?;
        std::fs::rename(&self.part, &self.path).map_err(|e| {
            EpisodeError::Run(format!(
                "cannot rename {} to {}: {e}",
                self.part.display(),
                self.path.display()
            ))
        })
    }
}

/// `tcvc-episode join`: puts shard segments (MPEG-TS, as `colorize --shard` writes them when the
/// output ends in `.ts`) together without re-encoding. Their frames carry their episode times,
/// so the segments' bytes follow each other into one transport stream; another output
/// extension remuxes that stream (`tsdemux ! parsebin ! MUXER`).
pub fn join(segments: &[PathBuf], out: &Path) -> Result<(), EpisodeError> {
    if segments.is_empty() {
        return Err(EpisodeError::Input("give the segments to join".into()));
    }
    for s in segments {
        if muxer_for(s)? != "mpegtsmux" {
            return Err(EpisodeError::Input(format!(
                "{} is not a .ts segment: write shard segments as .ts (tcvc-episode colorize --shard I/N -o part-I.ts)",
                s.display()
            )));
        }
    }
    let mux = muxer_for(out)?;
    let ts_part = part_name(out).with_extension("ts.part");
    {
        use std::io::Write;
        let fail = |e: std::io::Error| {
            EpisodeError::Run(format!("cannot write {}: {e}", ts_part.display()))
        };
        let mut f = std::fs::File::create(&ts_part).map_err(fail)?;
        for s in segments {
            let mut r = std::fs::File::open(s)
                .map_err(|e| EpisodeError::Input(format!("cannot read {}: {e}", s.display())))?;
            std::io::copy(&mut r, &mut f).map_err(fail)?;
        }
        f.flush().map_err(fail)?;
        f.sync_all().map_err(fail)?;
    }
    if mux == "mpegtsmux" {
        return std::fs::rename(&ts_part, out)
            .map_err(|e| EpisodeError::Run(format!("cannot rename to {}: {e}", out.display())));
    }
    gst::init().map_err(|e| EpisodeError::Run(format!("GStreamer: {e}")))?;
    let part = part_name(out);
    let desc = format!("filesrc name=src ! tsdemux ! parsebin ! {mux} ! filesink name=sink");
    let pipeline = gst::parse::launch(&desc)
        .ok()
        .and_then(|p| p.downcast::<gst::Pipeline>().ok())
        .ok_or_else(|| EpisodeError::Run(format!("cannot build '{desc}'")))?;
    pipeline
        .by_name("src")
        .expect("named")
        .set_property("location", ts_part.to_string_lossy().as_ref());
    pipeline
        .by_name("sink")
        .expect("named")
        .set_property("location", part.to_string_lossy().as_ref());
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| EpisodeError::Run(format!("'{desc}' does not start")))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let r = match bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(3600),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    ) {
        Some(m) => match m.view() {
            gst::MessageView::Eos(_) => Ok(()),
            gst::MessageView::Error(e) => Err(EpisodeError::Run(format!(
                "remuxing into {} failed: {}",
                out.display(),
                e.error()
            ))),
            _ => unreachable!("filtered"),
        },
        None => Err(EpisodeError::Run("remuxing did not finish".into())),
    };
    let _ = pipeline.set_state(gst::State::Null);
    let _ = std::fs::remove_file(&ts_part);
    r?;
    std::fs::rename(&part, out)
        .map_err(|e| EpisodeError::Run(format!("cannot rename to {}: {e}", out.display())))
}
