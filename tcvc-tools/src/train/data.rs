// SPDX-License-Identifier: MIT
//! Training and validation data: clips decoded by [`crate::video`] at the training size, the
//! generator input of every frame made with [`crate::edges`] exactly as the `tcvclineart` element
//! makes it (grey by `rgb_to_grey`, then `line_art` with default parameters), and the
//! previous-frame flags of [`super::sampler::previous_frame_valid`].
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::sampler::previous_frame_valid;
use crate::edges;
use crate::model::InputMode;
use crate::video::{self, Clip};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// One clip ready for training or validation.
#[derive(Debug, Clone)]
pub struct PreparedClip {
    /// Short name (file stem or folder name), with `#val` for a held-out tail.
    pub name: String,
    /// Where it came from.
    pub path: PathBuf,
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

/// Makes the inputs and previous-frame flags of a decoded clip.
pub fn prepare(clip: Clip, name: String, mode: InputMode) -> Result<PreparedClip> {
    let (w, h) = (clip.width as usize, clip.height as usize);
    let inputs = clip
        .frames
        .iter()
        .map(|f| input_plane(f, w, h, mode))
        .collect::<Result<Vec<_>>>()?;
    let prev_ok = previous_frame_valid(&inputs, w, h, mode)?;
    Ok(PreparedClip {
        name,
        path: clip.path,
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

fn load_one(path: &Path, config: &RunConfig, cache_dir: Option<&Path>, role: &str) -> Result<Clip> {
    eprintln!("loading {role} clip {} ...", path.display());
    video::load_clip_cached(
        path,
        config.size.width,
        config.size.height,
        config.fit(),
        config.max_frames,
        cache_dir,
    )
    .map_err(|e| TrainError::usage(format!("{role} clip: {e}")))
}

/// Decodes every clip of `config` (errors name the file and the fix, before any training),
/// splits the validation tails with `--val-split`, and prepares the inputs.
pub fn load(config: &RunConfig, cache_dir: Option<&Path>) -> Result<Dataset> {
    let mode = config.input();
    let mut train = Vec::new();
    let mut val = Vec::new();
    for path in &config.train {
        let clip = load_one(path, config, cache_dir, "training")?;
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
            train.push(prepare(head, name.clone(), mode)?);
            val.push(prepare(tail, format!("{name}#val"), mode)?);
        } else {
            train.push(prepare(clip, name, mode)?);
        }
    }
    for path in &config.val {
        let clip = load_one(path, config, cache_dir, "validation")?;
        let name = clip.name.clone();
        val.push(prepare(clip, name, mode)?);
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
/// 1..4 R, G, B), in clip order, the global index of [`super::sampler::Sampler`].
pub fn stack(clips: &[PreparedClip], width: usize, height: usize) -> Result<Tensor> {
    let plane = width * height;
    let mut parts = Vec::with_capacity(clips.len());
    for c in clips {
        let mut buf = vec![0u8; c.len() * 4 * plane];
        for (k, (input, rgb)) in c.inputs.iter().zip(&c.frames).enumerate() {
            let base = k * 4 * plane;
            buf[base..base + plane].copy_from_slice(&input[..plane]);
            for (i, px) in rgb.chunks_exact(3).take(plane).enumerate() {
                buf[base + plane + i] = px[0];
                buf[base + 2 * plane + i] = px[1];
                buf[base + 3 * plane + i] = px[2];
            }
        }
        let t =
            Tensor::f_from_slice(&buf)?.f_view([c.len() as i64, 4, height as i64, width as i64])?;
        parts.push(t);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}
