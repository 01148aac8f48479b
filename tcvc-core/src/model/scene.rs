// SPDX-License-Identifier: MIT
//! Scene cuts found on line art alone: the rule of `tcvccolorize` (a cut resets the chain) and of
//! `tcvc-episode plan` (a cut starts a shot), one copy for both.
//!
//! Each frame is compared with the one before on its working-size line pixels (see
//! [`line_mask`](super::stream::line_mask)):
//!
//! * `change`: the fraction of line pixels (of both frames) with no line pixel within 1 px in
//!   the other frame ([`scene_change`]): 0 for a still, about 1 for unrelated drawings;
//! * `layout`: how much the line density moved between the cells of a coarse grid
//!   ([`layout_change`]): small for motion inside a shot, large when the composition changes.
//!
//! A frame is a cut when its `score` (`0.25·change + 0.75·layout`) exceeds the threshold **and**
//! stands out from the shot so far: it must be at least [`CONTRAST`] times the largest score of
//! the shot's previous [`HISTORY`] frames plus [`MARGIN`] (the largest, not the mean, so that
//! animation on twos and threes, whose held frames score 0, keeps its real motion level). Fast
//! motion inside a shot raises its own baseline, so it does not count as a cut; a cut after a
//! still or slow passage stands out even when its score is moderate (sparse 3-D line art cuts
//! at 0.15). In the first [`YOUNG_FRAMES`] frames of a shot (no baseline yet) the score must
//! also exceed [`YOUNG_THRESHOLD`]; and frames with almost no lines (fades from black, blank
//! title cards, less than [`MIN_DENSITY`] of their pixels) never make a cut. See
//! docs/colorize.md for the measurements against FFmpeg and PySceneDetect (tools/cuts-bench.py).
use super::ModelError;
use std::collections::VecDeque;
use tch::{Kind, Tensor};

type Result<T> = std::result::Result<T, ModelError>;

/// Default threshold on the cut score (`scene-threshold` of `tcvccolorize`).
pub const DEFAULT_SCENE_THRESHOLD: f64 = 0.12;

/// Frames of the current shot whose scores form the baseline.
pub const HISTORY: usize = 8;

/// A cut's score is at least this many times the baseline (the largest of the shot's recent
/// scores) ...
pub const CONTRAST: f64 = 1.5;

/// ... plus this margin.
pub const MARGIN: f64 = 0.1;

/// A shot younger than this many frames has no baseline yet ...
pub const YOUNG_FRAMES: usize = 6;

/// ... and a cut there needs a score above this (or above the threshold, if higher).
pub const YOUNG_THRESHOLD: f64 = 0.5;

/// Frames with a smaller fraction of line pixels never make a cut (fades, blank cards).
pub const MIN_DENSITY: f64 = 0.002;

/// Weight of `change` in the score (the rest is `layout`).
pub const CHANGE_WEIGHT: f64 = 0.25;

/// Cells of the coarse line-density grid (rows, columns).
pub const LAYOUT_GRID: (i64, i64) = (6, 8);

/// Fraction of line pixels (of both frames, `Bool` masks of one size) with no line pixel within
/// 1 px in the other frame; 0 when neither frame has lines.
pub fn scene_change(a: &Tensor, b: &Tensor) -> Result<f64> {
    let r = (|| -> std::result::Result<f64, tch::TchError> {
        let af = a.f_to_kind(Kind::Float)?;
        let bf = b.f_to_kind(Kind::Float)?;
        let ad = af.f_max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false)?;
        let bd = bf.f_max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false)?;
        let miss = af
            .f_mul(&bd.f_rsub_scalar(1.0)?)?
            .f_sum(Kind::Double)?
            .f_add(&bf.f_mul(&ad.f_rsub_scalar(1.0)?)?.f_sum(Kind::Double)?)?;
        let total = af.f_sum(Kind::Double)?.f_add(&bf.f_sum(Kind::Double)?)?;
        let (miss, total) = (miss.f_double_value(&[])?, total.f_double_value(&[])?);
        Ok(if total == 0.0 { 0.0 } else { miss / total })
    })();
    r.map_err(ModelError::torch("measuring the scene change"))
}

/// The share of line pixels in each cell of a [`LAYOUT_GRID`] over a `Bool` mask
/// (`1 × 1 × h × w`), as doubles summing to 1 (all 0 when there are no lines), and the
/// fraction of the frame's pixels that are line pixels.
fn layout(mask: &Tensor) -> Result<(Vec<f64>, f64)> {
    let r = (|| -> std::result::Result<(Vec<f64>, f64), tch::TchError> {
        let cells = mask
            .f_to_kind(Kind::Double)?
            .f_adaptive_avg_pool2d([LAYOUT_GRID.0, LAYOUT_GRID.1])?
            .f_flatten(0, -1)?;
        let v: Vec<f64> = Vec::<f64>::try_from(&cells)?;
        let total: f64 = v.iter().sum();
        let density = mask
            .f_to_kind(Kind::Double)?
            .f_mean(Kind::Double)?
            .f_double_value(&[])?;
        Ok(if total > 0.0 {
            (v.iter().map(|x| x / total).collect(), density)
        } else {
            (v.iter().map(|_| 0.0).collect(), density)
        })
    })();
    r.map_err(ModelError::torch("measuring the line layout"))
}

/// Half the L1 distance between two layouts: 0 when the lines are spread over the grid cells
/// the same way, 1 when they share no cell (0 when either frame has no lines and both have
/// none, 1 when only one has lines).
pub fn layout_change(a: &[f64], b: &[f64]) -> f64 {
    let sa: f64 = a.iter().sum();
    let sb: f64 = b.iter().sum();
    match (sa > 0.0, sb > 0.0) {
        (false, false) => 0.0,
        (true, true) => 0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>(),
        _ => 1.0,
    }
}

/// What [`SceneDetector::observe`] measured for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneScore {
    /// [`scene_change`] against the previous frame (0 for the first frame).
    pub change: f64,
    /// [`layout_change`] against the previous frame (0 for the first frame).
    pub layout: f64,
    /// The cut score: `CHANGE_WEIGHT·change + (1 − CHANGE_WEIGHT)·layout`.
    pub score: f64,
    /// Fraction of this frame's pixels that are line pixels.
    pub density: f64,
    /// The largest score of the shot's previous frames (at most [`HISTORY`]); `None` at
    /// the start of a shot.
    pub baseline: Option<f64>,
    /// Whether this frame starts a new shot (a cut before it).
    pub cut: bool,
}

/// The cut rule over one stream of working-size line masks.
pub struct SceneDetector {
    threshold: f64,
    prev: Option<(Tensor, Vec<f64>, f64)>,
    history: VecDeque<f64>,
    /// Frames since the shot started (its first frame excluded), saturating.
    age: usize,
}

impl SceneDetector {
    /// A detector with a score threshold (1.0 or more finds no cut).
    pub fn new(threshold: f64) -> Self {
        SceneDetector {
            threshold,
            prev: None,
            history: VecDeque::with_capacity(HISTORY),
            age: 0,
        }
    }

    /// The score threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Sets the score threshold (1.0 disables cut detection).
    pub fn set_threshold(&mut self, v: f64) {
        self.threshold = v;
    }

    /// Forgets the previous frame and the shot's history (after a flush or a seek).
    pub fn reset(&mut self) {
        self.prev = None;
        self.history.clear();
        self.age = 0;
    }

    /// Whether `score` is a cut in a shot `age` frames old whose recent scores peak at
    /// `baseline`, between frames whose line densities are at least `density`.
    pub fn is_cut(
        threshold: f64,
        score: f64,
        baseline: Option<f64>,
        age: usize,
        density: f64,
    ) -> bool {
        let needed = if age < YOUNG_FRAMES {
            threshold.max(YOUNG_THRESHOLD)
        } else {
            threshold
        };
        threshold < 1.0
            && density >= MIN_DENSITY
            && score > needed
            && score >= CONTRAST * baseline.unwrap_or(0.0) + MARGIN
    }

    /// Measures the next frame's line mask (`Bool`, `1 × 1 × h × w`) against the previous one
    /// and decides whether a cut comes before it. A cut starts a new shot history.
    pub fn observe(&mut self, lines: &Tensor) -> Result<SceneScore> {
        let (lay, density) = layout(lines)?;
        let mut s = SceneScore {
            change: 0.0,
            layout: 0.0,
            score: 0.0,
            density,
            baseline: None,
            cut: false,
        };
        if let Some((prev, prev_layout, prev_density)) = &self.prev {
            s.change = scene_change(prev, lines)?;
            s.layout = layout_change(prev_layout, &lay);
            s.score = CHANGE_WEIGHT * s.change + (1.0 - CHANGE_WEIGHT) * s.layout;
            s.baseline = self.history.iter().copied().reduce(f64::max);
            s.cut = Self::is_cut(
                self.threshold,
                s.score,
                s.baseline,
                self.age,
                density.min(*prev_density),
            );
            if s.cut {
                self.history.clear();
                self.age = 0;
            } else {
                if self.history.len() == HISTORY {
                    self.history.pop_front();
                }
                self.history.push_back(s.score);
                self.age = self.age.saturating_add(1);
            }
        }
        self.prev = Some((lines.shallow_clone(), lay, density));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn row_mask(row: i64) -> Tensor {
        let m = Tensor::zeros([1, 1, 24, 32], (Kind::Bool, Device::Cpu));
        let _ = m.narrow(2, row, 1).fill_(1);
        m
    }

    fn rows_mask(rows: &[i64]) -> Tensor {
        let m = Tensor::zeros([1, 1, 24, 32], (Kind::Bool, Device::Cpu));
        for &r in rows {
            let _ = m.narrow(2, r, 1).fill_(1);
        }
        m
    }

    #[test]
    fn scene_change_is_zero_for_the_same_lines_and_one_for_disjoint_ones() {
        let (a, b) = (row_mask(2), row_mask(20));
        assert_eq!(scene_change(&a, &a).unwrap(), 0.0);
        assert_eq!(scene_change(&a, &b).unwrap(), 1.0);
    }

    #[test]
    fn layout_change_by_hand() {
        // Half the lines move from cell 0 to cell 1: half the L1 distance is 0.5.
        assert_eq!(layout_change(&[1.0, 0.0], &[0.5, 0.5]), 0.5);
        assert_eq!(layout_change(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(layout_change(&[0.0, 0.0], &[0.0, 1.0]), 1.0);
        // A line near the top and one near the bottom of a 24-row frame: different grid rows.
        let (a, b) = (
            layout(&row_mask(1)).unwrap().0,
            layout(&row_mask(22)).unwrap().0,
        );
        assert!((layout_change(&a, &b) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_rule_by_hand() {
        let cut = SceneDetector::is_cut;
        // An old shot after a still (baseline 0.01): above the threshold and 1.5 x 0.01 + 0.1.
        assert!(cut(0.1, 0.15, Some(0.01), 10, 0.05));
        assert!(
            !cut(0.1, 0.1, Some(0.0), 10, 0.05),
            "not above the threshold"
        );
        // After fast motion (peak 0.25) the same score is motion, 0.48 is a cut.
        assert!(!cut(0.1, 0.35, Some(0.25), 10, 0.05));
        assert!(!cut(0.1, 0.47, Some(0.25), 10, 0.05));
        assert!(cut(0.1, 0.48, Some(0.25), 10, 0.05));
        // A young shot needs more than 0.5.
        assert!(!cut(0.1, 0.45, Some(0.0), 3, 0.05));
        assert!(cut(0.1, 0.51, None, 0, 0.05));
        // Almost no lines: never; 1.0 disables.
        assert!(!cut(0.1, 1.0, Some(0.0), 10, 0.001));
        assert!(!cut(1.0, 1.0, None, 10, 0.05));
    }

    #[test]
    fn a_detector_finds_the_jump_and_restarts_its_history() {
        let mut d = SceneDetector::new(DEFAULT_SCENE_THRESHOLD);
        let still = rows_mask(&[2, 3]);
        assert!(!d.observe(&still).unwrap().cut, "the first frame is no cut");
        for _ in 0..YOUNG_FRAMES {
            let s = d.observe(&still).unwrap();
            assert!(!s.cut && s.score == 0.0);
        }
        let s = d.observe(&rows_mask(&[20, 21])).unwrap();
        assert!(s.cut, "{s:?}");
        assert_eq!(s.baseline, Some(0.0));
        let s = d.observe(&rows_mask(&[20, 21])).unwrap();
        assert_eq!((s.cut, s.baseline), (false, None), "a new shot's history");
        // The shot is young: a second jump right away counts only because it scores 1.
        assert!(d.observe(&still).unwrap().cut);
        d.set_threshold(1.0);
        assert!(!d.observe(&rows_mask(&[20, 21])).unwrap().cut);
    }
}
