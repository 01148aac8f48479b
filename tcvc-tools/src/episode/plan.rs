// SPDX-License-Identifier: MIT
//! `tcvc-episode plan`: the shots of an episode, found with exactly the element's cut rule
//! ([`SceneDetector`] on the same working-size line art), written as a JSON manifest that
//! `tcvc-episode colorize --shots` and the render-farm shards read.
use super::lines::{for_each_input, SourceInfo};
use super::EpisodeError;
use crate::model::stream::{line_mask, plane_to_tensor, resize};
use crate::model::{InputMode, SceneDetector, WorkingOrientation};
use crate::pattern::FramePattern;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Manifest format version.
pub const PLAN_VERSION: u32 = 1;

/// One shot: frames `start..end` (end excluded) of the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shot {
    /// First frame.
    pub start: u64,
    /// One past the last frame.
    pub end: u64,
    /// The cut score that started the shot (`None` for the first shot).
    pub cut_score: Option<f64>,
    /// Frames of the shot that have an artist keyframe (when the plan was made with one).
    #[serde(default)]
    pub keyframes: Vec<u64>,
}

impl Shot {
    /// Number of frames.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the shot has no frames (never in a valid plan).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// The shots manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version ([`PLAN_VERSION`]).
    pub version: u32,
    /// The tool that wrote it.
    pub tool: String,
    /// The input as given.
    pub input: PathBuf,
    /// Frames of the input.
    pub frames: u64,
    /// Input frame size.
    pub width: u32,
    /// Input frame size.
    pub height: u32,
    /// Frame rate `N/D` (`0/1` when unknown).
    pub fps: String,
    /// Working size of the cut rule (the model's, as the element uses it).
    pub working: (u32, u32),
    /// Line art or greyscale input.
    pub input_mode: String,
    /// The cut threshold (`scene-threshold`).
    pub scene_threshold: f64,
    /// The shots in order; together they cover every frame.
    pub shots: Vec<Shot>,
}

impl Plan {
    /// Checks that the shots cover `0..frames` in order without gaps or overlaps.
    pub fn validate(&self) -> Result<(), EpisodeError> {
        let mut next = 0;
        for (i, s) in self.shots.iter().enumerate() {
            if s.start != next || s.end <= s.start {
                return Err(EpisodeError::Plan(format!(
                    "shot {i} ({}..{}) does not follow the shot before it (expected it to start at {next}); write the manifest again with tcvc-episode plan",
                    s.start, s.end
                )));
            }
            next = s.end;
        }
        if next != self.frames {
            return Err(EpisodeError::Plan(format!(
                "the shots cover {next} frames but the input has {}; write the manifest again with tcvc-episode plan",
                self.frames
            )));
        }
        if self.version != PLAN_VERSION {
            return Err(EpisodeError::Plan(format!(
                "manifest version {} is not {PLAN_VERSION}; write it again with this tcvc-episode",
                self.version
            )));
        }
        Ok(())
    }

    /// Reads and validates a manifest.
    pub fn read(path: &Path) -> Result<Plan, EpisodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EpisodeError::Input(format!("cannot read {}: {e}", path.display())))?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            EpisodeError::Plan(format!(
                "{} is not a shots manifest ({e}); write one with tcvc-episode plan",
                path.display()
            ))
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path) -> Result<(), EpisodeError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| EpisodeError::Run(format!("cannot serialise the plan: {e}")))?;
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|e| EpisodeError::Run(format!("cannot write {}: {e}", path.display())))
    }

    /// The shots of shard `index` of `count`: contiguous runs of shots balanced by frame count
    /// (shard `i` holds the shots whose first frame lies in `[i·F/N, (i+1)·F/N)` of the `F`
    /// frames), as a range of shot indices. A shard may be empty when there are fewer shots
    /// than shards.
    pub fn shard(&self, index: usize, count: usize) -> std::ops::Range<usize> {
        let f = self.frames as u128;
        let (i, n) = (index as u128, count as u128);
        let lo = (i * f).div_ceil(n) as u64;
        let hi = ((i + 1) * f).div_ceil(n) as u64;
        let first = self.shots.partition_point(|s| s.start < lo);
        let last = self.shots.partition_point(|s| s.start < hi);
        first..last
    }
}

/// What [`plan`] needs.
pub struct PlanRequest<'a> {
    /// The input video or image folder.
    pub input: &'a Path,
    /// Line art or greyscale model input.
    pub input_mode: InputMode,
    /// Working size of the cut rule (before `orientation`).
    pub working: (u32, u32),
    /// Whether the working size turns for the video's orientation (as the element's
    /// working-orientation); the plan records the size used.
    pub orientation: WorkingOrientation,
    /// The cut threshold.
    pub scene_threshold: f64,
    /// Line-art threads (0 = one per core).
    pub threads: usize,
    /// Keyframe pattern to list keyframes per shot.
    pub keyframes: Option<&'a FramePattern>,
    /// Per-frame scores as CSV (`frame,change,layout,score,baseline,cut,density`).
    pub scores: Option<&'a mut dyn Write>,
    /// Called with each frame index as it is planned (progress).
    pub progress: &'a mut dyn FnMut(u64, Option<u64>),
}

/// Finds the shots of `req.input`.
pub fn plan(req: PlanRequest<'_>) -> Result<Plan, EpisodeError> {
    // Known at the first frame (the working size follows the video's orientation).
    let mut working: Option<(u32, u32)> = None;
    let mut detector = SceneDetector::new(req.scene_threshold);
    let mut shots: Vec<Shot> = Vec::new();
    let csv_err = |e: csv::Error| EpisodeError::Run(format!("cannot write the scores: {e}"));
    let mut scores = req.scores.map(csv::Writer::from_writer);
    if let Some(w) = scores.as_mut() {
        w.write_record([
            "frame", "change", "layout", "score", "baseline", "cut", "density",
        ])
        .map_err(csv_err)?;
    }
    let progress = req.progress;
    let (info, frames): (SourceInfo, u64) = for_each_input(
        req.input,
        req.input_mode == InputMode::Lineart,
        req.threads,
        &|_| true,
        &mut |_| Ok(()),
        &mut |frame| {
            let input = plane_to_tensor(&frame.plane, frame.width, frame.height, tch::Device::Cpu)?;
            let (w, h) = *working.get_or_insert_with(|| {
                req.orientation
                    .working(req.working, (frame.width as u32, frame.height as u32))
            });
            let small = resize(&input, h as i64, w as i64)?;
            let mask = line_mask(req.input_mode, &small)?;
            let s = detector.observe(&mask)?;
            if frame.index == 0 || s.cut {
                if let Some(last) = shots.last_mut() {
                    last.end = frame.index;
                }
                shots.push(Shot {
                    start: frame.index,
                    end: frame.index + 1,
                    cut_score: (frame.index > 0).then_some(s.score),
                    keyframes: Vec::new(),
                });
            }
            let shot = shots.last_mut().expect("a shot was started at frame 0");
            shot.end = frame.index + 1;
            if let Some(p) = req.keyframes {
                if Path::new(&p.format(frame.index)).is_file() {
                    shot.keyframes.push(frame.index);
                }
            }
            if let Some(w) = scores.as_mut() {
                w.write_record([
                    frame.index.to_string(),
                    format!("{:.6}", s.change),
                    format!("{:.6}", s.layout),
                    format!("{:.6}", s.score),
                    s.baseline.map_or(String::new(), |b| format!("{b:.6}")),
                    u8::from(s.cut).to_string(),
                    format!("{:.6}", s.density),
                ])
                .map_err(csv_err)?;
            }
            progress(frame.index, None);
            Ok(())
        },
    )?;
    if let Some(mut w) = scores {
        w.flush()
            .map_err(|e| EpisodeError::Run(format!("cannot write the scores: {e}")))?;
    }
    let plan = Plan {
        version: PLAN_VERSION,
        tool: concat!("tcvc-episode ", env!("CARGO_PKG_VERSION")).into(),
        input: req.input.to_path_buf(),
        frames,
        width: info.width,
        height: info.height,
        fps: format!("{}/{}", info.fps.numer(), info.fps.denom()),
        working: working.unwrap_or_else(|| {
            req.orientation
                .working(req.working, (info.width, info.height))
        }),
        input_mode: req.input_mode.to_string(),
        scene_threshold: req.scene_threshold,
        shots,
    };
    plan.validate()?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(lens: &[u64]) -> Plan {
        let mut shots = Vec::new();
        let mut s = 0;
        for &l in lens {
            shots.push(Shot {
                start: s,
                end: s + l,
                cut_score: None,
                keyframes: vec![],
            });
            s += l;
        }
        Plan {
            version: PLAN_VERSION,
            tool: String::new(),
            input: PathBuf::new(),
            frames: s,
            width: 1,
            height: 1,
            fps: "0/1".into(),
            working: (12, 12),
            input_mode: "lineart".into(),
            scene_threshold: 0.3,
            shots,
        }
    }

    #[test]
    fn shards_cover_every_shot_once_in_order() {
        for lens in [
            vec![10, 10, 10],
            vec![1, 50, 2, 2, 30, 7],
            vec![100],
            vec![3; 17],
        ] {
            let p = plan_of(&lens);
            p.validate().unwrap();
            for n in 1..=8 {
                let mut next = 0;
                for i in 0..n {
                    let r = p.shard(i, n);
                    assert_eq!(r.start, next, "{lens:?} {i}/{n}");
                    next = r.end;
                }
                assert_eq!(next, p.shots.len(), "{lens:?} /{n}");
            }
        }
        // Balanced by frames: 3 equal shots over 3 shards, one each.
        let p = plan_of(&[10, 10, 10]);
        assert_eq!(
            (0..3).map(|i| p.shard(i, 3)).collect::<Vec<_>>(),
            [0..1, 1..2, 2..3]
        );
    }

    #[test]
    fn a_plan_with_a_gap_is_refused() {
        let mut p = plan_of(&[5, 5]);
        p.shots[1].start = 6;
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("does not follow"));
        let mut p = plan_of(&[5, 5]);
        p.frames = 11;
        assert!(p.validate().is_err());
    }
}
