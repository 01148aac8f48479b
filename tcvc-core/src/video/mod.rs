// SPDX-License-Identifier: MIT
//! Video input shared by `tcvc-train` and `tcvc-eval`: one clip (a video file or a folder of
//! images) decoded to packed RGB frames at a fixed size.
//!
//! - Video files go through GStreamer: `uridecodebin ! videoconvert ! [aspectratiocrop] !
//!   videoscale add-borders=… ! video/x-raw,format=RGB,width=W,height=H,pixel-aspect-ratio=1/1 !
//!   appsink` (`sync=false`), so every format with an installed GStreamer decoder works.
//! - A folder is an image sequence: its `*.png`, `*.jpg`, `*.jpeg` and `*.bmp` files (any case),
//!   sorted by file name, read with OpenCV and resized to `W × H` with `INTER_AREA`.
//!
//! How a frame of another aspect ratio becomes `W × H` is the [`Fit`]: stretched (the default,
//! as the paper resizes every frame to 256²), centre-cropped to the target aspect, or padded with
//! black borders (`videoscale`'s own default, `add-borders=true`, which letterboxed every frame
//! before this was a choice).
//!
//! [`load_clip_cached`] keeps the decoded frames in a cache folder (a raw RGB file and a small
//! JSON header per clip and size) so that repeated runs skip decoding.
//!
//! Every error is a [`VideoError`] whose message names the file and says what to do.
use gst::prelude::*;
use gst_video::prelude::*;
use opencv::core::{Mat, Size};
use opencv::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod cache;

pub use cache::{load_clip_cached, load_planes_cached};

/// Longest time the decoder may go without delivering a frame (or finishing) before
/// [`load_clip`] gives up with [`VideoError::Timeout`].
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// File extensions (lower case) of the images of an image-sequence folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp"];

/// How a frame whose aspect ratio differs from the target's is fitted into `W × H`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Fit {
    /// Scale each axis on its own to exactly `W × H` (the whole picture, distorted when the
    /// aspects differ). The paper resizes every frame to 256² this way.
    #[default]
    Stretch,
    /// Cut the centre of the frame to the target aspect, then scale (no distortion, the edges of
    /// the longer side are lost).
    Crop,
    /// Scale to fit inside `W × H` keeping the aspect and fill the rest with black borders
    /// (letterbox / pillarbox).
    Pad,
}

impl Fit {
    /// Every fit, in documentation order.
    pub const ALL: [Fit; 3] = [Fit::Stretch, Fit::Crop, Fit::Pad];

    /// The lower-case name (`stretch`, `crop`, `pad`), as the tools' `--fit` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Stretch => "stretch",
            Fit::Crop => "crop",
            Fit::Pad => "pad",
        }
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Fit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fit::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not a fit: use stretch, crop or pad"))
    }
}

/// Parses a frame size written `W` (square) or `WxH` (`X` too), both sides at least 1: the one
/// size syntax of `tcvc-train --size` and `tcvc-eval --size` (each adds its own range).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not a size: use W (square, e.g. 256) or WxH (e.g. 256x144)");
    let (w, h) = s.split_once(['x', 'X']).unwrap_or((s, s));
    let width: u32 = w.trim().parse().map_err(|_| bad())?;
    let height: u32 = h.trim().parse().map_err(|_| bad())?;
    if width == 0 || height == 0 {
        return Err(bad());
    }
    Ok((width, height))
}

/// The centre rectangle `(x, y, w, h)` of a `src_w × src_h` frame that has the aspect of
/// `dst_w × dst_h` ([`Fit::Crop`]); the whole frame when the aspects are equal.
pub fn crop_rect(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> (u32, u32, u32, u32) {
    let (sw, sh, dw, dh) = (src_w as u64, src_h as u64, dst_w as u64, dst_h as u64);
    if sw * dh > sh * dw {
        // Wider than the target: keep the full height.
        let w = ((sh * dw + dh / 2) / dh).clamp(1, sw);
        (((sw - w) / 2) as u32, 0, w as u32, src_h)
    } else {
        let h = ((sw * dh + dw / 2) / dw).clamp(1, sh);
        (0, ((sh - h) / 2) as u32, src_w, h as u32)
    }
}

/// Where the scaled picture lies inside `dst_w × dst_h` for [`Fit::Pad`]: `(x, y, w, h)`.
pub fn pad_rect(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> (u32, u32, u32, u32) {
    let (sw, sh, dw, dh) = (src_w as u64, src_h as u64, dst_w as u64, dst_h as u64);
    if sw * dh > sh * dw {
        let h = ((dw * sh + sw / 2) / sw).clamp(1, dh);
        (0, ((dh - h) / 2) as u32, dst_w, h as u32)
    } else {
        let w = ((dh * sw + sh / 2) / sh).clamp(1, dw);
        (((dw - w) / 2) as u32, 0, w as u32, dst_h)
    }
}

/// RGB frames of one clip at a fixed size, packed rows (width*3 bytes each).
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Short name for reports: the file stem of a video, the folder name of an image sequence.
    pub name: String,
    /// The path the clip was loaded from (as given).
    pub path: PathBuf,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate of a video file when its stream declares one; `None` for image sequences.
    pub fps: Option<f64>,
    /// The frames in display order, each `width * height * 3` bytes (R, G, B).
    pub frames: Vec<Vec<u8>>,
}

impl Clip {
    /// Splits a clip by time: the first (1 - fraction) of the frames and the last fraction.
    ///
    /// The tail has `round(len × fraction)` frames; `fraction` is clamped to `[0, 1]` (NaN counts
    /// as 0). Both parts keep the clip's name, path, size and frame rate.
    pub fn split_tail(self, fraction: f64) -> (Clip, Clip) {
        let f = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let n = self.frames.len();
        let tail_len = ((n as f64 * f).round() as usize).min(n);
        let Clip {
            name,
            path,
            width,
            height,
            fps,
            mut frames,
        } = self;
        let tail_frames = frames.split_off(n - tail_len);
        let tail = Clip {
            name: name.clone(),
            path: path.clone(),
            width,
            height,
            fps,
            frames: tail_frames,
        };
        let head = Clip {
            name,
            path,
            width,
            height,
            fps,
            frames,
        };
        (head, tail)
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the clip has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes of one frame, `width * height * 3`.
    pub fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

/// Why a clip could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The path does not exist.
    #[error("{} does not exist; check the path (a video file or a folder of images)", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path exists but cannot be read (permissions, I/O error, ...).
    #[error(
        "cannot read {}: {source}; check that it exists and that you may read it",
        path.display()
    )]
    Io {
        /// The path accessed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A request that cannot be satisfied (zero size, zero frames, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// GStreamer could not decode the file (not a video, unknown format, missing plugin, corrupt
    /// stream).
    #[error(
        "{} is not a video GStreamer can decode: {detail}; check that it is a video file and \
         that the GStreamer plugins for its format are installed (gst-discoverer-1.0 shows what \
         GStreamer sees)",
        path.display()
    )]
    NotAVideo {
        /// The file.
        path: PathBuf,
        /// What GStreamer said.
        detail: String,
    },
    /// The file is a media file GStreamer can read, but it has no video stream (e.g. audio only).
    #[error(
        "{} has no video stream (GStreamer found only other streams, e.g. audio); give a video \
         file",
        path.display()
    )]
    NoVideoStream {
        /// The file.
        path: PathBuf,
    },
    /// The video stream ended before its first frame.
    #[error(
        "{} has a video stream but no frames; the file is empty or truncated, re-encode or \
         replace it",
        path.display()
    )]
    NoFrames {
        /// The file.
        path: PathBuf,
    },
    /// The folder has no image files.
    #[error(
        "folder {} has no images (*.png, *.jpg, *.jpeg, *.bmp); put the frames of the sequence \
         there or give a video file",
        path.display()
    )]
    NoImages {
        /// The folder.
        path: PathBuf,
    },
    /// An image of an image sequence cannot be read.
    #[error("cannot read image {}: {detail}; replace or remove the file", path.display())]
    UnreadableImage {
        /// The image file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The decoder delivered nothing for [`STALL_TIMEOUT`].
    #[error(
        "decoding {} stalled: no frame for {} s after {frames} frame(s); the file may be \
         damaged or need a decoder that does not work here, try re-encoding it",
        path.display(),
        STALL_TIMEOUT.as_secs()
    )]
    Timeout {
        /// The file.
        path: PathBuf,
        /// Frames decoded before the stall.
        frames: usize,
    },
    /// The decoding pipeline could not be built (GStreamer plugins missing).
    #[error(
        "cannot build the GStreamer decoding pipeline for {}: {detail}; install the GStreamer \
         base plugins (make setup)",
        path.display()
    )]
    Pipeline {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

/// The short name of a clip: the file stem, or the folder name.
fn clip_name(path: &Path, is_dir: bool) -> String {
    let n = if is_dir {
        path.file_name()
    } else {
        path.file_stem()
    };
    n.map(|s| s.to_string_lossy().into_owned())
        .or_else(|| {
            path.canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| path.display().to_string())
}

/// Checks the request and the path; returns whether the path is a folder.
fn check_input(
    path: &Path,
    width: u32,
    height: u32,
    max_frames: Option<usize>,
) -> Result<bool, VideoError> {
    if width == 0 || height == 0 {
        return Err(VideoError::InvalidArgument(format!(
            "cannot load {} at {width}x{height}: width and height must be at least 1",
            path.display()
        )));
    }
    if max_frames == Some(0) {
        return Err(VideoError::InvalidArgument(format!(
            "cannot load 0 frames of {}: ask for at least 1 frame (or no limit)",
            path.display()
        )));
    }
    let md = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            VideoError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            VideoError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let io = |source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    };
    if md.is_dir() {
        std::fs::read_dir(path).map_err(io)?;
        Ok(true)
    } else {
        std::fs::File::open(path).map_err(io)?;
        Ok(false)
    }
}

/// Decodes a video file (GStreamer: `uridecodebin ! videoconvert ! [aspectratiocrop] !
/// videoscale add-borders=… ! video/x-raw,format=RGB,width=W,height=H,pixel-aspect-ratio=1/1 !
/// appsink`, sync=false) or an image-sequence folder (its image files *.png/*.jpg/*.jpeg/*.bmp
/// sorted by name, read with OpenCV, resized with INTER_AREA) into RGB frames at width × height,
/// fitted as `fit` says. `max_frames` stops early.
///
/// Errors come before any decoding where possible: a missing or unreadable path, a zero size or
/// `max_frames == Some(0)`; then a file that is not a video GStreamer can decode, a file with no
/// video stream, a video with no frames, a folder with no images, an image that cannot be read.
pub fn load_clip(
    path: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
) -> Result<Clip, VideoError> {
    let is_dir = check_input(path, width, height, max_frames)?;
    let (frames, fps) = if is_dir {
        (read_images(path, width, height, fit, max_frames)?, None)
    } else {
        let (frames, fps, _) = decode_video(path, Some((width, height)), fit, max_frames)?;
        (frames, fps)
    };
    Ok(Clip {
        name: clip_name(path, is_dir),
        path: path.to_path_buf(),
        width,
        height,
        fps,
        frames,
    })
}

/// The image files of a folder, sorted by file name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, VideoError> {
    let io = |source| VideoError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let is_image = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if is_image && p.is_file() {
            files.push(p);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if files.is_empty() {
        return Err(VideoError::NoImages {
            path: dir.to_path_buf(),
        });
    }
    Ok(files)
}

/// Reads one image as packed RGB at `width × height`, fitted as `fit` says.
/// `size = None`: the image's own size. Returns the bytes and the size.
fn read_image(
    path: &Path,
    size: Option<(u32, u32)>,
    fit: Fit,
) -> Result<(Vec<u8>, u32, u32), VideoError> {
    let bad = |detail: String| VideoError::UnreadableImage {
        path: path.to_path_buf(),
        detail,
    };
    let name = path
        .to_str()
        .ok_or_else(|| bad("the path is not valid UTF-8 (OpenCV needs UTF-8 paths)".into()))?;
    let bgr = opencv::imgcodecs::imread(name, opencv::imgcodecs::IMREAD_COLOR)
        .map_err(|e| bad(e.to_string()))?;
    if bgr.empty() {
        return Err(bad(
            "OpenCV cannot decode it (not an image, or truncated)".into()
        ));
    }
    let mut rgb = Mat::default();
    opencv::imgproc::cvt_color_def(&bgr, &mut rgb, opencv::imgproc::COLOR_BGR2RGB)
        .map_err(|e| bad(e.to_string()))?;
    let (width, height) = size.unwrap_or((rgb.cols() as u32, rgb.rows() as u32));
    let sized = fit_image(&rgb, width, height, fit).map_err(|e| bad(e.to_string()))?;
    let sized = if sized.is_continuous() {
        sized
    } else {
        sized.try_clone().map_err(|e| bad(e.to_string()))?
    };
    let bytes = sized.data_bytes().map_err(|e| bad(e.to_string()))?;
    let n = width as usize * height as usize * 3;
    if bytes.len() != n {
        return Err(bad(format!(
            "OpenCV returned {} bytes for a {width}x{height} RGB image",
            bytes.len()
        )));
    }
    Ok((bytes.to_vec(), width, height))
}

/// Reads one image as packed RGB at its own size: `(bytes, width, height)`.
pub fn read_image_native(path: &Path) -> Result<(Vec<u8>, u32, u32), VideoError> {
    read_image(path, None, Fit::Stretch)
}

/// Scales an RGB image to `width × height` with `INTER_AREA`, fitted as `fit` says.
fn fit_image(rgb: &Mat, width: u32, height: u32, fit: Fit) -> opencv::Result<Mat> {
    let (src_w, src_h) = (rgb.cols() as u32, rgb.rows() as u32);
    let resize = |src: &Mat, w: u32, h: u32| -> opencv::Result<Mat> {
        if src.cols() == w as i32 && src.rows() == h as i32 {
            return src.try_clone();
        }
        let mut out = Mat::default();
        opencv::imgproc::resize(
            src,
            &mut out,
            Size::new(w as i32, h as i32),
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )?;
        Ok(out)
    };
    match fit {
        Fit::Stretch => resize(rgb, width, height),
        Fit::Crop => {
            let (x, y, w, h) = crop_rect(src_w, src_h, width, height);
            let roi = Mat::roi(
                rgb,
                opencv::core::Rect::new(x as i32, y as i32, w as i32, h as i32),
            )?;
            resize(&roi.try_clone()?, width, height)
        }
        Fit::Pad => {
            let (x, y, w, h) = pad_rect(src_w, src_h, width, height);
            let inner = resize(rgb, w, h)?;
            let mut out = Mat::new_rows_cols_with_default(
                height as i32,
                width as i32,
                opencv::core::CV_8UC3,
                opencv::core::Scalar::all(0.0),
            )?;
            let mut dst = Mat::roi_mut(
                &mut out,
                opencv::core::Rect::new(x as i32, y as i32, w as i32, h as i32),
            )?;
            inner.copy_to(&mut dst)?;
            Ok(out)
        }
    }
}

/// Reads an image-sequence folder.
fn read_images(
    dir: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
) -> Result<Vec<Vec<u8>>, VideoError> {
    let files = image_files(dir)?;
    let n = max_frames.map_or(files.len(), |m| m.min(files.len()));
    files[..n]
        .iter()
        .map(|f| read_image(f, Some((width, height)), fit).map(|r| r.0))
        .collect()
}

/// A decoded video: its frames (packed RGB), frame rate and frame size.
type Decoded = (Vec<Vec<u8>>, Option<f64>, (u32, u32));

/// Sets the pipeline to `NULL` when dropped, on every exit path.
struct StopOnDrop(gst::Pipeline);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// What the decoding pipeline's callbacks report to the pulling thread.
#[derive(Default)]
struct Shared {
    /// First error posted on the bus.
    error: Mutex<Option<String>>,
    /// A video pad was linked to the converter.
    video_linked: AtomicBool,
    /// The decoder exposed all its pads.
    no_more_pads: AtomicBool,
}

/// The size of a clip's frames as they come out of its decoder (square pixels: a video with
/// non-square pixels is scaled to its display aspect), or of the first image of a folder.
/// Decodes one frame.
pub fn source_size(path: &Path) -> Result<(u32, u32), VideoError> {
    let is_dir = check_input(path, 1, 1, None)?;
    if is_dir {
        let first = image_files(path)?.remove(0);
        let name = first.to_string_lossy().into_owned();
        let img = opencv::imgcodecs::imread(&name, opencv::imgcodecs::IMREAD_COLOR)
            .ok()
            .filter(|m| !m.empty())
            .ok_or_else(|| VideoError::UnreadableImage {
                path: first.clone(),
                detail: "OpenCV cannot decode it (not an image, or truncated)".into(),
            })?;
        Ok((img.cols() as u32, img.rows() as u32))
    } else {
        Ok(decode_video(path, None, Fit::Stretch, Some(1))?.2)
    }
}

/// Decodes a video file with GStreamer at `size` (the decoder's own size with square pixels
/// when `None`); returns the frames, the frame rate and the frame size.
fn decode_video(
    path: &Path,
    size: Option<(u32, u32)>,
    fit: Fit,
    max_frames: Option<usize>,
) -> Result<Decoded, VideoError> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let stream = run_decoder(
        path,
        size,
        fit,
        &[gst_video::VideoFormat::Rgb],
        max_frames,
        &mut |frame| {
            let mut out = Vec::new();
            packed_rgb(frame, &mut out)?;
            frames.push(out);
            Ok(())
        },
    )?;
    Ok((frames, stream.fps, (stream.width, stream.height)))
}

/// The rows of a decoded RGB frame without the stride's padding, into `out` (cleared first):
/// `width · height · 3` bytes. A buffer too short for its rows is an error, not a panic.
pub fn packed_rgb(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let row = width * 3;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame
        .plane_data(0)
        .map_err(|e| format!("a frame without data: {e}"))?;
    out.clear();
    out.reserve(row * height);
    for y in 0..height {
        let start = y * stride;
        let src_row = data
            .get(start..start + row)
            .ok_or_else(|| format!("a frame buffer of {} bytes is too short", data.len()))?;
        out.extend_from_slice(src_row);
    }
    Ok(())
}

/// What [`decode_each`] found out about a decoded stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamInfo {
    /// Frames delivered.
    pub frames: usize,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frame rate, when the stream declares one.
    pub fps: Option<f64>,
    /// Frame rate as a fraction (0/1 when unknown).
    pub fps_fraction: gst::Fraction,
}

/// Decodes a video file with GStreamer at its own size (square pixels), in the first of
/// `formats` that `videoconvert` can give (the same negotiation as a
/// `decodebin ! videoconvert ! element` pipeline whose element takes `formats` in that order),
/// and hands every frame in display order to `on_frame`, one at a time: nothing is kept. An
/// error returned by `on_frame` stops decoding and comes back as [`VideoError::NotAVideo`]'s
/// detail.
pub fn decode_each(
    path: &Path,
    formats: &[gst_video::VideoFormat],
    max_frames: Option<usize>,
    on_frame: &mut dyn FnMut(&gst_video::VideoFrameRef<&gst::BufferRef>) -> Result<(), String>,
) -> Result<StreamInfo, VideoError> {
    check_input(path, 1, 1, max_frames)?;
    run_decoder(path, None, Fit::Stretch, formats, max_frames, on_frame)
}

/// Builds and runs the decoding pipeline of [`decode_video`] / [`decode_each`].
fn run_decoder(
    path: &Path,
    size: Option<(u32, u32)>,
    fit: Fit,
    formats: &[gst_video::VideoFormat],
    max_frames: Option<usize>,
    on_frame: &mut dyn FnMut(&gst_video::VideoFrameRef<&gst::BufferRef>) -> Result<(), String>,
) -> Result<StreamInfo, VideoError> {
    let pipe_err = |detail: String| VideoError::Pipeline {
        path: path.to_path_buf(),
        detail,
    };
    gst::init().map_err(|e| pipe_err(format!("GStreamer does not initialise: {e}")))?;
    let absolute = std::path::absolute(path).map_err(|source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let uri = gst::glib::filename_to_uri(&absolute, None)
        .map_err(|e| pipe_err(format!("cannot make a file URI: {e}")))?;
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .map_err(|e| pipe_err(format!("no `{factory}` element ({e})")))
    };
    let src = gst::ElementFactory::make("uridecodebin")
        .property("uri", uri.as_str())
        .build()
        .map_err(|e| pipe_err(format!("no `uridecodebin` element ({e})")))?;
    let convert = make("videoconvert")?;
    // `add-borders` is true by default: with the caps' square pixels it would letterbox every
    // frame whose aspect differs from W×H. Only Fit::Pad wants that.
    let scale = gst::ElementFactory::make("videoscale")
        .property("add-borders", fit == Fit::Pad)
        .build()
        .map_err(|e| pipe_err(format!("no `videoscale` element ({e})")))?;
    // Fit::Crop: `aspectratiocrop` (gst-plugins-good) cuts the centre to the target aspect,
    // taking the input's pixel aspect ratio into account.
    let crop = match fit {
        Fit::Crop => size.map(|(width, height)| {
            gst::ElementFactory::make("aspectratiocrop")
                .property(
                    "aspect-ratio",
                    gst::Fraction::new(width as i32, height as i32),
                )
                .build()
                .map_err(|e| {
                    pipe_err(format!(
                        "no `aspectratiocrop` element ({e}); it is in gst-plugins-good"
                    ))
                })
        }),
        _ => None,
    }
    .transpose()?;
    let mut caps = gst::Caps::builder("video/x-raw")
        .field(
            "format",
            gst::List::new(formats.iter().map(|f| f.to_str().to_string())),
        )
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
    if let Some((width, height)) = size {
        caps = caps
            .field("width", width as i32)
            .field("height", height as i32);
    }
    let caps = caps.build();
    let sink = gst_app::AppSink::builder()
        .caps(&caps)
        .sync(false)
        .max_buffers(8)
        .build();
    let pipeline = gst::Pipeline::new();
    let guard = StopOnDrop(pipeline.clone());
    let mut chain: Vec<&gst::Element> = vec![&convert];
    chain.extend(crop.as_ref());
    chain.extend([&scale, sink.upcast_ref()]);
    pipeline
        .add(&src)
        .and_then(|_| pipeline.add_many(chain.iter().copied()))
        .map_err(|e| pipe_err(e.to_string()))?;
    gst::Element::link_many(chain.iter().copied()).map_err(|e| {
        pipe_err(format!(
            "cannot link videoconvert ! videoscale ! appsink: {e}"
        ))
    })?;

    let shared = Arc::new(Shared::default());
    {
        let shared = shared.clone();
        let convert_sink = convert
            .static_pad("sink")
            .ok_or_else(|| pipe_err("videoconvert has no sink pad".into()))?;
        let weak_pipeline = pipeline.downgrade();
        src.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let is_video = caps
                .structure(0)
                .is_some_and(|s| s.name().starts_with("video/"));
            if is_video && !convert_sink.is_linked() {
                if pad.link(&convert_sink).is_ok() {
                    shared.video_linked.store(true, Ordering::SeqCst);
                }
                return;
            }
            // Other streams (audio, a second video) are consumed by a fakesink so that they
            // never block the decoder.
            let Some(pipeline) = weak_pipeline.upgrade() else {
                return;
            };
            if let Ok(fake) = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
            {
                if pipeline.add(&fake).is_ok() {
                    let _ = fake.sync_state_with_parent();
                    if let Some(sinkpad) = fake.static_pad("sink") {
                        let _ = pad.link(&sinkpad);
                    }
                }
            }
        });
    }
    {
        let shared = shared.clone();
        src.connect_no_more_pads(move |_| shared.no_more_pads.store(true, Ordering::SeqCst));
    }
    let bus = pipeline
        .bus()
        .ok_or_else(|| pipe_err("the pipeline has no bus".into()))?;
    {
        // A synchronous bus watch: keeps the first error for the pulling loop (no main loop
        // needed).
        let shared = shared.clone();
        bus.set_sync_handler(move |_, msg| {
            if let gst::MessageView::Error(e) = msg.view() {
                let mut slot = shared.error.lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_none() {
                    let text = e.error().to_string().trim_end_matches('.').to_string();
                    *slot = Some(text);
                }
            }
            gst::BusSyncReply::Drop
        });
    }

    let result = pull_frames(path, &pipeline, &sink, &shared, size, max_frames, on_frame);
    bus.unset_sync_handler();
    drop(guard);
    result
}

/// The pulling loop of [`run_decoder`]: bounded waits, checking the bus errors between them.
fn pull_frames(
    path: &Path,
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    shared: &Shared,
    size: Option<(u32, u32)>,
    max_frames: Option<usize>,
    on_frame: &mut dyn FnMut(&gst_video::VideoFrameRef<&gst::BufferRef>) -> Result<(), String>,
) -> Result<StreamInfo, VideoError> {
    let not_video = |detail: String| VideoError::NotAVideo {
        path: path.to_path_buf(),
        detail,
    };
    let bus_error = || {
        shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        let detail = bus_error().unwrap_or_else(|| "the pipeline does not start".into());
        return Err(not_video(detail));
    }
    // The size of every frame: the one asked for, else the first frame's.
    let mut expected = size;
    let mut count = 0usize;
    let mut fps = None;
    let mut fps_fraction = gst::Fraction::new(0, 1);
    let mut last_progress = Instant::now();
    loop {
        if max_frames.is_some_and(|m| count >= m) {
            break;
        }
        if let Some(detail) = bus_error() {
            return Err(not_video(detail));
        }
        match sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            Some(sample) => {
                last_progress = Instant::now();
                let caps = sample
                    .caps()
                    .ok_or_else(|| not_video("a frame without caps".into()))?;
                let info = gst_video::VideoInfo::from_caps(caps)
                    .map_err(|e| not_video(format!("unusable frame caps {caps}: {e}")))?;
                let (width, height) = *expected.get_or_insert((info.width(), info.height()));
                if (info.width(), info.height()) != (width, height) {
                    return Err(not_video(format!(
                        "frames came out {}x{} instead of {width}x{height} (the size changes \
                         inside the stream: give a size)",
                        info.width(),
                        info.height()
                    )));
                }
                if fps.is_none() {
                    let f = info.fps();
                    if f.numer() > 0 && f.denom() > 0 {
                        fps = Some(f.numer() as f64 / f.denom() as f64);
                        fps_fraction = f;
                    }
                }
                let buffer = sample
                    .buffer()
                    .ok_or_else(|| not_video("a sample without a buffer".into()))?;
                let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
                    .map_err(|_| not_video("a frame buffer that cannot be mapped".into()))?;
                on_frame(&frame).map_err(not_video)?;
                count += 1;
            }
            None => {
                if let Some(detail) = bus_error() {
                    return Err(not_video(detail));
                }
                if sink.is_eos() {
                    break;
                }
                if shared.no_more_pads.load(Ordering::SeqCst)
                    && !shared.video_linked.load(Ordering::SeqCst)
                {
                    return Err(VideoError::NoVideoStream {
                        path: path.to_path_buf(),
                    });
                }
                if last_progress.elapsed() > STALL_TIMEOUT {
                    return Err(VideoError::Timeout {
                        path: path.to_path_buf(),
                        frames: count,
                    });
                }
            }
        }
    }
    match expected {
        Some((width, height)) if count > 0 => Ok(StreamInfo {
            frames: count,
            width,
            height,
            fps,
            fps_fraction,
        }),
        _ => Err(VideoError::NoFrames {
            path: path.to_path_buf(),
        }),
    }
}

#[cfg(test)]
mod tests;
