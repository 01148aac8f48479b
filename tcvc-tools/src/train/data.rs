// SPDX-License-Identifier: MIT
//! Training and validation data: clips decoded by [`crate::video`] at the training size, the
//! generator input of every frame made with [`crate::edges`] exactly as the `tcvclineart` element
//! makes it (grey by `rgb_to_grey`, then `line_art` with default parameters), and the
//! previous-frame flags of [`super::sampler::previous_frame_valid`].
//!
//! `--lines-at train` makes the input of the frame scaled to the training size; `--lines-at
//! source` makes it of the frame at the clip's own size and averages it down to the training
//! size with [`crate::model::stream::resize`], which is what `tcvclineart ! tcvccolorize` hand
//! the network when both run at the source size: grey, thinner-looking lines where the source's
//! lines are finer than a training pixel, and Canny's double edges of a thick outline side by
//! side.
use super::config::{LinesAt, RunConfig};
use super::error::{Result, TrainError};
use super::sampler::previous_frame_valid;
use crate::edges;
use crate::model::{InputMode, WorkingOrientation};
use crate::video::{self, Clip, Fit};
use gst_video::prelude::*;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// One clip ready for training or validation.
#[derive(Debug, Clone)]
pub struct PreparedClip {
    /// Short name (file stem or folder name), with `#val` for a held-out tail.
    pub name: String,
    /// Where it came from.
    pub path: PathBuf,
    /// Size its frames were decoded at: the training size, or the training size turned
    /// (`--working-orientation turn`, a clip of the other orientation).
    pub width: usize,
    /// Height of its frames.
    pub height: usize,
    /// Generator input of each frame: `width × height` bytes (line art: 0 = line, 255 = paper).
    pub inputs: Vec<Vec<u8>>,
    /// RGB of each frame, packed rows.
    pub frames: Vec<Vec<u8>>,
    /// Per frame: whether frame `t − 1` is a valid previous frame (same shot).
    pub prev_ok: Vec<bool>,
}

impl PreparedClip {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the clip has no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The generator's input plane of a packed RGB frame, as `tcvclineart` makes it
/// ([`edges::ModelInput`]).
pub fn input_plane(rgb: &[u8], width: usize, height: usize, mode: InputMode) -> Result<Vec<u8>> {
    edges::ModelInput::new()
        .of_rgb(rgb, width, height, mode == InputMode::Lineart)
        .map(<[u8]>::to_vec)
        .map_err(TrainError::runtime("making the input plane"))
}

/// The generator's input planes of the clip at `path` made at its own size and averaged down to
/// `width × height` (`--lines-at source`), after the centre crop of `fit` crop; `frames` is the
/// number of frames the training-size decode gave (the two must agree). Frames are decoded one at
/// a time (a long 1080p clip is not held in memory at its own size).
pub fn source_inputs(
    path: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
    mode: InputMode,
    frames: usize,
) -> Result<Vec<Vec<u8>>> {
    let usage = |e: video::VideoError| TrainError::usage(format!("--lines-at source: {e}"));
    let mut edges = edges::ModelInput::new();
    let mut one = |rgb: &[u8], sw: usize, sh: usize| -> Result<Vec<u8>> {
        let (x, y, cw, ch) = match fit {
            Fit::Crop => video::crop_rect(sw as u32, sh as u32, width, height),
            _ => (0, 0, sw as u32, sh as u32),
        };
        let plane = edges
            .of_rgb(rgb, sw, sh, mode == InputMode::Lineart)
            .map_err(TrainError::runtime("making the input plane"))?;
        let full = crate::model::stream::plane_to_tensor(plane, sw, sh, tch::Device::Cpu)?;
        let small = crate::model::stream::resize(
            &full
                .f_narrow(2, y as i64, ch as i64)?
                .f_narrow(3, x as i64, cw as i64)?,
            height as i64,
            width as i64,
        )?;
        let bytes = small
            .f_mul_scalar(255.0)?
            .f_round()?
            .f_clamp(0.0, 255.0)?
            .f_to_kind(tch::Kind::Uint8)?
            .f_contiguous()?;
        let n = (width * height) as usize;
        let mut out = vec![0u8; n];
        bytes.f_copy_data_u8(&mut out, n)?;
        Ok(out)
    };
    let mut inputs = Vec::new();
    if path.is_dir() {
        let files = video::image_files(path).map_err(usage)?;
        for f in files.iter().take(max_frames.unwrap_or(usize::MAX)) {
            let (rgb, sw, sh) = video::read_image_native(f).map_err(usage)?;
            inputs.push(one(&rgb, sw as usize, sh as usize)?);
        }
    } else {
        let mut failure = None;
        let mut packed = Vec::new();
        let r = video::decode_each(
            path,
            &[gst_video::VideoFormat::Rgb],
            max_frames,
            &mut |frame| {
                let (w, h) = (frame.width() as usize, frame.height() as usize);
                video::packed_rgb(frame, &mut packed)?;
                match one(&packed, w, h) {
                    Ok(p) => {
                        inputs.push(p);
                        Ok(())
                    }
                    Err(e) => {
                        let text = e.to_string();
                        failure = Some(e);
                        Err(text)
                    }
                }
            },
        );
        if let Some(e) = failure {
            return Err(e);
        }
        r.map_err(usage)?;
    }
    if inputs.len() != frames {
        return Err(TrainError::Runtime(format!(
            "{}: {} frames at its own size, {frames} at the training size; decode it to a folder \
             of images (its frame count is then fixed) or use --lines-at train",
            path.display(),
            inputs.len()
        )));
    }
    Ok(inputs)
}

/// The clip cache's `kind` of [`source_inputs`]' planes: everything they depend on beyond the
/// source, size, fit and frame limit (the input mode, the line-art parameters, the resize).
fn source_kind(mode: InputMode) -> String {
    format!("lines-at-source-v1-{mode}-{:?}", edges::Params::default())
}

/// Makes the inputs and previous-frame flags of a decoded clip.
pub fn prepare(clip: Clip, name: String, mode: InputMode) -> Result<PreparedClip> {
    let (w, h) = (clip.width as usize, clip.height as usize);
    let inputs = clip
        .frames
        .iter()
        .map(|f| input_plane(f, w, h, mode))
        .collect::<Result<Vec<_>>>()?;
    prepare_with(clip, name, mode, inputs)
}

/// [`prepare`] with the input planes given (one per frame, `width × height` bytes).
pub fn prepare_with(
    clip: Clip,
    name: String,
    mode: InputMode,
    inputs: Vec<Vec<u8>>,
) -> Result<PreparedClip> {
    let (w, h) = (clip.width as usize, clip.height as usize);
    let prev_ok = previous_frame_valid(&inputs, w, h, mode)?;
    Ok(PreparedClip {
        name,
        path: clip.path,
        width: w,
        height: h,
        inputs,
        frames: clip.frames,
        prev_ok,
    })
}

/// Training and validation clips of a run.
#[derive(Debug)]
pub struct Dataset {
    /// Training clips.
    pub train: Vec<PreparedClip>,
    /// Validation clips (may be empty).
    pub val: Vec<PreparedClip>,
}

impl Dataset {
    /// Frames of all training clips.
    pub fn train_frames(&self) -> usize {
        self.train.iter().map(PreparedClip::len).sum()
    }

    /// Frames of all validation clips.
    pub fn val_frames(&self) -> usize {
        self.val.iter().map(PreparedClip::len).sum()
    }
}

fn load_one(
    path: &Path,
    config: &RunConfig,
    cache_dir: Option<&Path>,
    role: &str,
) -> Result<(Clip, Vec<Vec<u8>>)> {
    eprintln!("loading {role} clip {} ...", path.display());
    let train = (config.size.width, config.size.height);
    let (w, h) = match config.orientation() {
        WorkingOrientation::Turn => {
            let source = video::source_size(path)
                .map_err(|e| TrainError::usage(format!("{role} clip: {e}")))?;
            WorkingOrientation::Turn.working(train, source)
        }
        _ => train,
    };
    let clip = video::load_clip_cached(path, w, h, config.fit(), config.max_frames, cache_dir)
        .map_err(|e| TrainError::usage(format!("{role} clip: {e}")))?;
    let mode = config.input();
    let inputs = match config.lines_at {
        LinesAt::Train => clip
            .frames
            .iter()
            .map(|f| input_plane(f, w as usize, h as usize, mode))
            .collect::<Result<Vec<_>>>()?,
        LinesAt::Source => {
            let (fit, max) = (config.fit(), config.max_frames);
            let make = || source_inputs(path, w, h, fit, max, mode, clip.len());
            let planes = match cache_dir {
                Some(dir) => video::load_planes_cached(
                    path,
                    w,
                    h,
                    fit,
                    max,
                    &source_kind(mode),
                    dir,
                    |e| TrainError::usage(format!("{role} clip: {e}")),
                    make,
                )?,
                None => make()?,
            };
            if planes.len() != clip.len() {
                return Err(TrainError::Runtime(format!(
                    "{}: {} cached source-size input planes, {} frames at the training size; \
                     delete the cache folder {}",
                    path.display(),
                    planes.len(),
                    clip.len(),
                    cache_dir.map_or_else(String::new, |d| d.display().to_string())
                )));
            }
            planes
        }
    };
    Ok((clip, inputs))
}

/// Decodes every clip of `config` (errors name the file and the fix, before any training),
/// splits the validation tails with `--val-split`, and prepares the inputs.
pub fn load(config: &RunConfig, cache_dir: Option<&Path>) -> Result<Dataset> {
    let mode = config.input();
    let mut train = Vec::new();
    let mut val = Vec::new();
    for path in &config.train {
        let (clip, mut inputs) = load_one(path, config, cache_dir, "training")?;
        let n = clip.len();
        let name = clip.name.clone();
        if let Some(f) = config.val_split {
            let (head, tail) = clip.split_tail(f);
            if tail.is_empty() || head.is_empty() {
                return Err(TrainError::usage(format!(
                    "--val-split {f} leaves {} of {} ({n} frames): give more frames (see \
                     --max-frames) or another fraction, or pass --val clips",
                    if tail.is_empty() {
                        "no validation frame"
                    } else {
                        "no training frame"
                    },
                    path.display()
                )));
            }
            let tail_inputs = inputs.split_off(head.len());
            train.push(prepare_with(head, name.clone(), mode, inputs)?);
            val.push(prepare_with(
                tail,
                format!("{name}#val"),
                mode,
                tail_inputs,
            )?);
        } else {
            train.push(prepare_with(clip, name, mode, inputs)?);
        }
    }
    for path in &config.val {
        let (clip, inputs) = load_one(path, config, cache_dir, "validation")?;
        let name = clip.name.clone();
        val.push(prepare_with(clip, name, mode, inputs)?);
    }
    let data = Dataset { train, val };
    let n = data.train_frames();
    if n < 2 || n < config.batch_size {
        return Err(TrainError::usage(format!(
            "too few training frames: {n} in {} clip(s) for --batch-size {}; training needs at \
             least 2 frames and one batch: give longer clips or more --train paths, raise \
             --max-frames, or lower --batch-size",
            data.train.len(),
            config.batch_size
        )));
    }
    Ok(data)
}

/// All training frames as one `N × 4 × H × W` `Uint8` tensor on the CPU (channel 0 the input,
/// 1..4 R, G, B), in clip order, the global index of [`super::sampler::Sampler`]. A clip decoded
/// at the size turned (`--working-orientation turn`) is stored transposed (its rows as columns),
/// so that every frame fits one tensor; [`turned_frames`] says which, and
/// [`super::sampler::forward_oriented`] transposes them back around the generator.
pub fn stack(clips: &[PreparedClip], width: usize, height: usize) -> Result<Tensor> {
    let plane = width * height;
    let mut parts = Vec::with_capacity(clips.len());
    for c in clips {
        let turned = is_turned(c, width, height)?;
        // Index in the clip's own plane of the stored pixel (x, y).
        let src = |i: usize| -> usize {
            if turned {
                let (x, y) = (i % width, i / width);
                x * c.width + y
            } else {
                i
            }
        };
        let mut buf = vec![0u8; c.len() * 4 * plane];
        for (k, (input, rgb)) in c.inputs.iter().zip(&c.frames).enumerate() {
            let base = k * 4 * plane;
            for i in 0..plane {
                let j = src(i);
                buf[base + i] = input[j];
                buf[base + plane + i] = rgb[3 * j];
                buf[base + 2 * plane + i] = rgb[3 * j + 1];
                buf[base + 3 * plane + i] = rgb[3 * j + 2];
            }
        }
        let t =
            Tensor::f_from_slice(&buf)?.f_view([c.len() as i64, 4, height as i64, width as i64])?;
        parts.push(t);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// Whether clip `c` was decoded at the training size `width × height` turned (an error when it
/// is neither that size nor turned).
fn is_turned(c: &PreparedClip, width: usize, height: usize) -> Result<bool> {
    if (c.width, c.height) == (width, height) {
        Ok(false)
    } else if (c.width, c.height) == (height, width) {
        Ok(true)
    } else {
        Err(TrainError::Runtime(format!(
            "{}: decoded at {}x{}, neither the training size {width}x{height} nor turned",
            c.path.display(),
            c.width,
            c.height
        )))
    }
}

/// Per frame of [`stack`] (global index): whether it is stored transposed.
pub fn turned_frames(clips: &[PreparedClip], width: usize, height: usize) -> Result<Vec<bool>> {
    let mut out = Vec::new();
    for c in clips {
        let t = is_turned(c, width, height)?;
        out.extend(std::iter::repeat_n(t, c.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clip of one `w × h` frame whose input byte is `10 · y + x` and RGB `(x, y, 200)`.
    fn clip(w: usize, h: usize) -> PreparedClip {
        let input = (0..h)
            .flat_map(|y| (0..w).map(move |x| (10 * y + x) as u8))
            .collect();
        let rgb = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 200]))
            .collect();
        PreparedClip {
            name: format!("{w}x{h}"),
            path: PathBuf::from(format!("{w}x{h}")),
            width: w,
            height: h,
            inputs: vec![input],
            frames: vec![rgb],
            prev_ok: vec![false],
        }
    }

    /// A clip at the training size stacks as it is; one decoded at the size turned stacks
    /// transposed (stored pixel (x, y) is the clip's pixel (y, x)); any other size is an error.
    #[test]
    fn a_turned_clip_stacks_transposed() {
        let (w, h) = (3usize, 2usize);
        let clips = [clip(w, h), clip(h, w)];
        let t = stack(&clips, w, h).unwrap();
        assert_eq!(t.size(), [2, 4, 2, 3]);
        assert_eq!(turned_frames(&clips, w, h).unwrap(), [false, true]);
        let at = |n: i64, c: i64, y: i64, x: i64| t.int64_value(&[n, c, y, x]);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                assert_eq!(at(0, 0, y, x), 10 * y + x);
                assert_eq!((at(0, 1, y, x), at(0, 2, y, x)), (x, y));
                // The turned clip's own (x', y') = (y, x).
                assert_eq!(at(1, 0, y, x), 10 * x + y);
                assert_eq!(
                    (at(1, 1, y, x), at(1, 2, y, x), at(1, 3, y, x)),
                    (y, x, 200)
                );
            }
        }
        let e = stack(&[clip(4, 2)], w, h).unwrap_err().to_string();
        assert!(e.contains("4x2") && e.contains("3x2"), "{e}");
    }
}
