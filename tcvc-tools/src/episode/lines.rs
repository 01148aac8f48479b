// SPDX-License-Identifier: MIT
//! The frames of an episode as `tcvclineart` hands them to `tcvccolorize`: decoded in order
//! (GStreamer for a video file, OpenCV for a folder of images), read as grey exactly as the
//! element reads the negotiated format ([`GreySource`]), then line art (Canny, the element's
//! default parameters) made on several threads at once, since it is stateless. Frames come out
//! in display order.
use super::EpisodeError;
use crate::edges::{self, Extractor, GreySource, Params};
use crate::video::{self, VideoError};
use gst_video::prelude::*;
use std::path::Path;
use std::sync::mpsc;

/// One frame's model input at full resolution (`width × height` bytes): line art black on
/// white, or the grey image for greyscale models.
pub struct InputFrame {
    /// Frame index from 0, in display order.
    pub index: u64,
    /// The plane; empty for a frame that was skipped.
    pub plane: Vec<u8>,
    /// Width of the plane.
    pub width: usize,
    /// Height of the plane.
    pub height: usize,
}

/// What the decoder says about the stream before its first frame is used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceInfo {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frame rate as a fraction (0/1 when unknown: image folders, streams without one).
    pub fps: gst::Fraction,
}

/// Frames per parallel chunk of line-art work, per thread.
const CHUNK_PER_THREAD: usize = 4;

enum Decoded {
    Info(SourceInfo),
    Grey(u64, Vec<u8>, usize, usize),
    Skipped(u64),
}

/// Reads `path` and calls `on_frame` with every frame's [`InputFrame`] in order. `keep(i)`
/// says whether frame `i` is wanted: the others are decoded (a video has to be) but get no line
/// art and an empty plane. `line_art = false` gives the grey image (greyscale models). Line art
/// runs on `threads` threads (0 = one per core). Returns the stream's [`SourceInfo`] and the
/// number of frames.
pub fn for_each_input(
    path: &Path,
    line_art: bool,
    threads: usize,
    keep: &(dyn Fn(u64) -> bool + Sync),
    on_info: &mut dyn FnMut(SourceInfo) -> Result<(), EpisodeError>,
    on_frame: &mut dyn FnMut(InputFrame) -> Result<(), EpisodeError>,
) -> Result<(SourceInfo, u64), EpisodeError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let (tx, rx) = mpsc::sync_channel::<Decoded>(threads * CHUNK_PER_THREAD * 2);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode_grey(path, keep, tx));
        let mut info = None;
        let mut count = 0u64;
        let mut extractors: Vec<Extractor> = (0..threads).map(|_| Extractor::new()).collect();
        let mut chunk: Vec<(u64, Vec<u8>, usize, usize)> = Vec::new();
        let mut consumer_error: Option<EpisodeError> = None;
        for msg in rx.iter() {
            let r = match msg {
                Decoded::Info(i) => {
                    info = Some(i);
                    on_info(i)
                }
                Decoded::Grey(index, grey, w, h) => {
                    count = index + 1;
                    chunk.push((index, grey, w, h));
                    if chunk.len() >= threads * CHUNK_PER_THREAD {
                        flush(&mut chunk, &mut extractors, line_art, on_frame)
                    } else {
                        Ok(())
                    }
                }
                Decoded::Skipped(index) => {
                    count = index + 1;
                    flush(&mut chunk, &mut extractors, line_art, on_frame).and_then(|_| {
                        on_frame(InputFrame {
                            index,
                            plane: Vec::new(),
                            width: 0,
                            height: 0,
                        })
                    })
                }
            };
            if let Err(e) = r {
                consumer_error = Some(e);
                break;
            }
        }
        if consumer_error.is_none() {
            if let Err(e) = flush(&mut chunk, &mut extractors, line_art, on_frame) {
                consumer_error = Some(e);
            }
        }
        // Dropping the receiver stops the decoder at its next frame.
        drop(rx);
        let decoded = decoder.join().unwrap_or_else(|_| {
            Err(VideoError::InvalidArgument(format!(
                "the decoder of {} panicked",
                path.display()
            )))
        });
        if let Some(e) = consumer_error {
            return Err(e);
        }
        decoded?;
        let info = info.ok_or_else(|| VideoError::NoFrames {
            path: path.to_path_buf(),
        })?;
        Ok((info, count))
    })
}

/// Hands a chunk of decoded frames on, with line art when `line_art`.
fn flush(
    chunk: &mut Vec<(u64, Vec<u8>, usize, usize)>,
    extractors: &mut [Extractor],
    line_art: bool,
    on_frame: &mut dyn FnMut(InputFrame) -> Result<(), EpisodeError>,
) -> Result<(), EpisodeError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let planes = if line_art {
        lines_parallel(chunk, extractors).map_err(EpisodeError::Run)?
    } else {
        chunk.iter_mut().map(|c| std::mem::take(&mut c.1)).collect()
    };
    for ((index, _, width, height), plane) in chunk.drain(..).zip(planes) {
        on_frame(InputFrame {
            index,
            plane,
            width,
            height,
        })?;
    }
    Ok(())
}

/// Line art of a chunk of grey frames, spread over the extractors' threads.
fn lines_parallel(
    chunk: &[(u64, Vec<u8>, usize, usize)],
    extractors: &mut [Extractor],
) -> Result<Vec<Vec<u8>>, String> {
    let per = chunk.len().div_ceil(extractors.len());
    let params = Params::default();
    let results: Vec<Result<Vec<Vec<u8>>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .zip(extractors.iter_mut())
            .map(|(part, ex)| {
                s.spawn(move || {
                    part.iter()
                        .map(|(_, grey, w, h)| {
                            let (w, h) = (*w, *h);
                            ex.resize(w, h).map_err(|e| e.to_string())?;
                            ex.grey_mut().copy_from_slice(grey);
                            let lines = ex.detect(&params).map_err(|e| e.to_string())?;
                            let mut out = vec![0u8; w * h];
                            edges::write_lines(lines, true, &mut out, w, w, h);
                            Ok(out)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("line art panicked".into())))
            .collect()
    });
    let mut out = Vec::with_capacity(chunk.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The decoding thread: grey planes (or skips) in order into `tx`.
fn decode_grey(
    path: &Path,
    keep: &(dyn Fn(u64) -> bool + Sync),
    tx: mpsc::SyncSender<Decoded>,
) -> Result<(), VideoError> {
    const GONE: &str = "the consumer stopped";
    let mut index = 0u64;
    if path.is_dir() {
        for file in video::image_files(path)? {
            let rgb = video::read_image_native(&file)?;
            if index == 0 {
                let info = SourceInfo {
                    width: rgb.1,
                    height: rgb.2,
                    fps: gst::Fraction::new(0, 1),
                };
                if tx.send(Decoded::Info(info)).is_err() {
                    return Ok(());
                }
            }
            let msg = if keep(index) {
                let (w, h) = (rgb.1 as usize, rgb.2 as usize);
                let mut grey = vec![0u8; w * h];
                GreySource::Packed {
                    pixel_stride: 3,
                    offsets: [0, 1, 2],
                }
                .read(&rgb.0, w * 3, &mut grey, w, h);
                Decoded::Grey(index, grey, w, h)
            } else {
                Decoded::Skipped(index)
            };
            if tx.send(msg).is_err() {
                return Ok(());
            }
            index += 1;
        }
        return Ok(());
    }
    let mut sent_info = false;
    let r = video::decode_each(path, edges::GREY_SOURCE_FORMATS, None, &mut |frame| {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if !sent_info {
            let info = SourceInfo {
                width: w as u32,
                height: h as u32,
                fps: frame.info().fps(),
            };
            tx.send(Decoded::Info(info)).map_err(|_| GONE.to_string())?;
            sent_info = true;
        }
        let msg = if keep(index) {
            let mut grey = vec![0u8; w * h];
            let src = frame.plane_data(0).map_err(|e| e.to_string())?;
            GreySource::of_format(&frame.format_info()).read(
                src,
                frame.plane_stride()[0] as usize,
                &mut grey,
                w,
                h,
            );
            Decoded::Grey(index, grey, w, h)
        } else {
            Decoded::Skipped(index)
        };
        tx.send(msg).map_err(|_| GONE.to_string())?;
        index += 1;
        Ok(())
    });
    match r {
        Err(VideoError::NotAVideo { detail, .. }) if detail == GONE => Ok(()),
        r => r.map(|_| ()),
    }
}
