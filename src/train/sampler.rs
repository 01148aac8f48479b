// SPDX-License-Identifier: MIT
//! Training samples `(input_t, previous, target_t)` and their order.
//!
//! Every frame of every training clip is one sample. Its previous frame is the ground-truth
//! frame `t − 1` with probability [`PREVIOUS_FRAME_PROBABILITY`], else a blank (zeros) frame, as
//! the paper trains; it is always blank when `t − 1` is not a valid previous frame: the first
//! frame of a clip (never a frame of another file) and the first frame after a scene cut, found
//! with exactly the rule of the `tcvccolorize` element ([`previous_frame_valid`]).
//!
//! The order is a fresh permutation of all samples per epoch; the permutation of epoch `e` is a
//! function of `(seed, e)` only, and the coin is a [`Rng`] whose state is saved, so that
//! [`SamplerState`] (a few numbers) restores the exact sequence of draws after a resume.
use super::error::{Result, TrainError};
use super::rng::{mix, Rng};
use crate::model::stream::{line_mask, DEFAULT_SCENE_THRESHOLD};
use crate::model::{InputMode, StreamColorizer};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The paper's probability that a sample with a valid previous frame gets it (else zeros);
/// `tcvc-train --prev-prob` changes it (0 = the always-blank ablation).
pub const PREVIOUS_FRAME_PROBABILITY: f64 = 0.5;

/// For each frame `t` of one clip (8-bit input planes, line art or grey, `width × height`):
/// whether frame `t − 1` may serve as its previous frame. `false` for `t = 0` and where
/// `StreamColorizer::scene_change` of the [`line_mask`]s of `t − 1` and `t` exceeds
/// [`DEFAULT_SCENE_THRESHOLD`] (a cut: the element resets its chain there too).
pub fn previous_frame_valid(
    inputs: &[Vec<u8>],
    width: usize,
    height: usize,
    mode: InputMode,
) -> Result<Vec<bool>> {
    let mut valid = Vec::with_capacity(inputs.len());
    let mut prev_mask: Option<Tensor> = None;
    for (t, plane) in inputs.iter().enumerate() {
        if plane.len() != width * height {
            return Err(TrainError::Runtime(format!(
                "input plane {t} has {} bytes, expected {width}x{height}",
                plane.len()
            )));
        }
        let x = Tensor::f_from_slice(plane)
            .and_then(|x| x.f_view([1, 1, height as i64, width as i64]))
            .and_then(|x| x.f_to_kind(Kind::Float))
            .and_then(|x| x.f_div_scalar(255.0))?;
        let mask = line_mask(mode, &x)?;
        let ok = match &prev_mask {
            None => false,
            Some(p) => StreamColorizer::scene_change(p, &mask)? <= DEFAULT_SCENE_THRESHOLD,
        };
        valid.push(ok);
        prev_mask = Some(mask);
    }
    Ok(valid)
}

/// One drawn sample: global frame indices into the concatenated training frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// The frame to colorize (its input and its target).
    pub frame: usize,
    /// The ground-truth previous frame, or `None` for a blank one.
    pub prev: Option<usize>,
}

/// What a checkpoint stores of the sampler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    /// Epochs completed.
    pub epoch: u64,
    /// Samples of the current epoch already drawn.
    pub cursor: usize,
    /// State of the previous-frame coin.
    pub coin: [u64; 4],
    /// Number of samples per epoch when saved (a different count cannot restore the order).
    pub samples: usize,
}

/// Draws training samples; see the module docs.
#[derive(Debug, Clone)]
pub struct Sampler {
    seed: u64,
    prev_ok: Vec<bool>,
    order: Vec<u32>,
    epoch: u64,
    cursor: usize,
    coin: Rng,
    prev_probability: f64,
}

impl Sampler {
    /// A sampler over clips given by their per-frame [`previous_frame_valid`] flags, in order
    /// (clip `k`'s frames follow clip `k − 1`'s in the global index); a valid previous frame is
    /// given with probability `prev_probability` (the paper: [`PREVIOUS_FRAME_PROBABILITY`]).
    pub fn new(clips_prev_ok: &[Vec<bool>], seed: u64, prev_probability: f64) -> Self {
        let prev_ok: Vec<bool> = clips_prev_ok
            .iter()
            .flat_map(|c| {
                // Never across files: the first frame of a clip has no previous frame.
                c.iter()
                    .enumerate()
                    .map(|(t, &ok)| t > 0 && ok)
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut s = Sampler {
            seed,
            order: Vec::new(),
            prev_ok,
            epoch: 0,
            cursor: 0,
            coin: Rng::new(mix(seed, 0xC011)),
            prev_probability,
        };
        s.order = s.permutation(0);
        s
    }

    fn permutation(&self, epoch: u64) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.prev_ok.len() as u32).collect();
        Rng::new(mix(self.seed, epoch)).shuffle(&mut v);
        v
    }

    /// Samples per epoch (all training frames).
    pub fn samples_per_epoch(&self) -> usize {
        self.prev_ok.len()
    }

    /// Completed epochs.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether global frame `i` has a valid previous frame.
    pub fn has_valid_previous(&self, i: usize) -> bool {
        self.prev_ok.get(i).copied().unwrap_or(false)
    }

    /// The next sample.
    pub fn draw(&mut self) -> Draw {
        if self.cursor >= self.order.len() {
            self.epoch += 1;
            self.cursor = 0;
            self.order = self.permutation(self.epoch);
        }
        let frame = self.order[self.cursor] as usize;
        self.cursor += 1;
        // The coin is always thrown, so that the sequence does not depend on validity.
        let heads = self.coin.next_f64() < self.prev_probability;
        let prev = (heads && self.prev_ok[frame]).then(|| frame - 1);
        Draw { frame, prev }
    }

    /// The next `n` samples.
    pub fn batch(&mut self, n: usize) -> Vec<Draw> {
        (0..n).map(|_| self.draw()).collect()
    }

    /// The state to save.
    pub fn state(&self) -> SamplerState {
        SamplerState {
            epoch: self.epoch,
            cursor: self.cursor,
            coin: self.coin.state(),
            samples: self.prev_ok.len(),
        }
    }

    /// Continues from a saved state. Returns `false` when the number of samples changed since
    /// (different training data): the order then restarts at the saved epoch.
    pub fn restore(&mut self, st: &SamplerState) -> bool {
        self.epoch = st.epoch;
        self.coin = Rng::from_state(st.coin);
        self.order = self.permutation(st.epoch);
        if st.samples == self.prev_ok.len() && st.cursor <= self.order.len() {
            self.cursor = st.cursor;
            true
        } else {
            self.cursor = 0;
            false
        }
    }
}

/// A batch as tensors on `device`, values in `[0, 1]`.
#[derive(Debug)]
pub struct Batch {
    /// Line art or grey of frame `t`, `B × 1 × H × W`.
    pub input: Tensor,
    /// Previous frame (ground truth `t − 1` or zeros), `B × 3 × H × W`.
    pub prev: Tensor,
    /// Ground truth of frame `t`, `B × 3 × H × W`.
    pub target: Tensor,
}

/// Gathers the samples `draws` from `frames` (`N × 4 × H × W` `Uint8` on the CPU: channel 0
/// the input, 1..4 the RGB frame) into a [`Batch`] on `device`.
pub fn gather(frames: &Tensor, draws: &[Draw], device: Device) -> Result<Batch> {
    let cur: Vec<i64> = draws.iter().map(|d| d.frame as i64).collect();
    let prev: Vec<i64> = draws
        .iter()
        .map(|d| d.prev.unwrap_or(d.frame) as i64)
        .collect();
    let keep: Vec<f32> = draws
        .iter()
        .map(|d| if d.prev.is_some() { 1.0 } else { 0.0 })
        .collect();
    let b = draws.len() as i64;
    let cur = frames
        .f_index_select(0, &Tensor::from_slice(&cur))?
        .f_to_device(device)?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?;
    let keep = Tensor::from_slice(&keep)
        .f_view([b, 1, 1, 1])?
        .f_to_device(device)?;
    let prev = frames
        .f_index_select(0, &Tensor::from_slice(&prev))?
        .f_narrow(1, 1, 3)?
        .f_to_device(device)?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?
        .f_mul(&keep)?;
    Ok(Batch {
        input: cur.f_narrow(1, 0, 1)?,
        target: cur.f_narrow(1, 1, 3)?,
        prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 64;
    const H: usize = 64;

    /// Line art (black lines on white) of a shot: `n` frames of a pattern moving by one pixel a
    /// frame. `vertical` picks the pattern; two shots of different patterns make a cut.
    fn shot(n: usize, vertical: bool, phase: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|t| {
                let mut f = vec![255u8; W * H];
                for y in 0..H {
                    for x in 0..W {
                        let (a, b) = if vertical { (x, y) } else { (y, x) };
                        let on = (a + t + phase).is_multiple_of(9)
                            || (a + b / 3 + phase).is_multiple_of(23);
                        if on {
                            f[y * W + x] = 0;
                        }
                    }
                }
                f
            })
            .collect()
    }

    #[test]
    fn moving_lines_are_one_shot_and_a_new_pattern_is_a_cut() {
        let mut clip = shot(6, true, 0);
        clip.extend(shot(5, false, 4));
        let v = previous_frame_valid(&clip, W, H, InputMode::Lineart).unwrap();
        let expect: Vec<bool> = (0..11).map(|t| t != 0 && t != 6).collect();
        assert_eq!(v, expect);
    }

    #[test]
    fn previous_frame_rate_is_one_half_and_never_across_files_or_cuts() {
        // Clip 0: two shots concatenated (a cut at frame 6); clip 1: another file.
        let mut c0 = shot(6, true, 0);
        c0.extend(shot(5, false, 4));
        let c1 = shot(7, true, 3);
        let flags = vec![
            previous_frame_valid(&c0, W, H, InputMode::Lineart).unwrap(),
            previous_frame_valid(&c1, W, H, InputMode::Lineart).unwrap(),
        ];
        // Global indices: clip 0 = 0..11 (cut at 6), clip 1 = 11..18 (file boundary at 11).
        let no_prev = [0usize, 6, 11];
        let mut s = Sampler::new(&flags, 9, PREVIOUS_FRAME_PROBABILITY);
        assert_eq!(s.samples_per_epoch(), 18);
        let (mut eligible, mut used) = (0u32, 0u32);
        for _ in 0..10_000 {
            let d = s.draw();
            if no_prev.contains(&d.frame) {
                assert_eq!(d.prev, None, "frame {} got a previous frame", d.frame);
                continue;
            }
            eligible += 1;
            if let Some(p) = d.prev {
                assert_eq!(p + 1, d.frame);
                used += 1;
            }
        }
        let rate = used as f64 / eligible as f64;
        assert!(
            (rate - 0.5).abs() <= 0.02,
            "rate {rate} over {eligible} draws"
        );
    }

    #[test]
    fn probability_zero_never_gives_a_previous_frame_and_one_always_does() {
        let flags = vec![vec![false, true, true, true], vec![false, true, true]];
        let mut never = Sampler::new(&flags, 5, 0.0);
        assert!((0..500).all(|_| never.draw().prev.is_none()));
        let mut always = Sampler::new(&flags, 5, 1.0);
        for _ in 0..500 {
            let d = always.draw();
            assert_eq!(d.prev.is_some(), always.has_valid_previous(d.frame));
        }
    }

    #[test]
    fn every_epoch_is_a_permutation_and_state_restores_the_sequence() {
        let flags = vec![vec![true; 5], vec![true; 4]];
        let mut a = Sampler::new(&flags, 3, PREVIOUS_FRAME_PROBABILITY);
        let mut seen: Vec<usize> = (0..9).map(|_| a.draw().frame).collect();
        seen.sort();
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        for _ in 0..4 {
            a.draw();
        }
        let st = a.state();
        let mut b = Sampler::new(&flags, 3, PREVIOUS_FRAME_PROBABILITY);
        assert!(b.restore(&st));
        for _ in 0..50 {
            assert_eq!(a.draw(), b.draw());
        }
        assert_eq!(a.epoch(), b.epoch());
    }

    #[test]
    fn gather_builds_blank_previous_frames() {
        let frames = Tensor::arange(3 * 4 * 2 * 2, (Kind::Uint8, Device::Cpu)).view([3, 4, 2, 2]);
        let draws = [
            Draw {
                frame: 2,
                prev: Some(1),
            },
            Draw {
                frame: 1,
                prev: None,
            },
        ];
        let b = gather(&frames, &draws, Device::Cpu).unwrap();
        assert_eq!(b.input.size(), [2, 1, 2, 2]);
        assert_eq!(b.target.size(), [2, 3, 2, 2]);
        assert_eq!(b.prev.size(), [2, 3, 2, 2]);
        let want = frames.get(1).narrow(0, 1, 3).to_kind(Kind::Float) / 255.0;
        assert!(b.prev.get(0).allclose(&want, 0.0, 0.0, false));
        assert_eq!(b.prev.get(1).abs().sum(Kind::Float).double_value(&[]), 0.0);
        assert!((b.input.double_value(&[0, 0, 0, 0]) - 32.0 / 255.0).abs() < 1e-6);
    }
}
