// SPDX-License-Identifier: MIT
//! `tcvc-episode colorize`: shots are independent chains (the element resets at every cut), so
//! up to `B` of them advance in lockstep as one batch through the generator; a slot whose shot
//! ends takes the next one. Frames are read once, in order, and written in order.
//!
//! Every frame equals what `tcvclineart ! tcvccolorize` makes over the whole file with the
//! same model and threshold (same line art, same working-size input, same cut rule, same
//! composition; but for the frames before a keyframe with `--keyframe-backward`, which a stream
//! cannot do); on the CPU in fp32 the batched forward gives the same numbers as one frame at
//! a time (checked by the tests).
use super::lines::{for_each_input, InputFrame};
use super::output::FrameWriter;
use super::plan::Plan;
use super::EpisodeError;
use crate::model::cache::CachedModel;
use crate::model::lookahead::waits_for;
use crate::model::stream::{
    carried_previous, compose, flip_averaged, plane_to_tensor, resize, smooth_step, tensor_to_rgb8,
    KeyframeBack, KeyframeCarry, OutputMode,
};
use crate::model::{ColorNet, InputMode, PreviousChoice};
use crate::pattern::FramePattern;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What [`colorize`] needs.
pub struct ColorizeRequest<'a> {
    /// The input video or image folder (the plan's).
    pub input: &'a Path,
    /// The shots; only `shots` (a range of the plan's shot indices, a shard) are colorized.
    pub plan: &'a Plan,
    /// The shard's shots.
    pub shots: std::ops::Range<usize>,
    /// The model.
    pub model: &'a CachedModel,
    /// Its device.
    pub device: Device,
    /// Working size.
    pub working: (u32, u32),
    /// Chains advanced together.
    pub batch: usize,
    /// How outputs are composed.
    pub output_mode: OutputMode,
    /// What the network gets as its previous frame.
    pub previous: PreviousChoice,
    /// Test-time flip averaging ([`crate::model::stream::flip_averaged`]).
    pub flip_average: bool,
    /// Temporal smoothing of the output ([`crate::model::stream::smooth_step`]; 0: off).
    pub temporal_smoothing: f64,
    /// Artist keyframes, as the element's `keyframe-location`.
    pub keyframes: Option<&'a FramePattern>,
    /// Whether keyframe colours stay on the `fill` regions that follow them, as the element's
    /// `keyframe-carry`.
    pub keyframe_carry: bool,
    /// Whether the carry moves each output on along the optical flow, as the element's
    /// `keyframe-flow`.
    pub keyframe_flow: bool,
    /// Whether a keyframe moved with the camera (and, with `keyframe_flow`, back along the
    /// optical flow) is also painted into the frames of its shot before it that are nearer to it
    /// than to the shot's keyframe before ([`KeyframeBack`]; `fill` with the keyframe carry only;
    /// offline: the element cannot).
    pub keyframe_backward: bool,
    /// Line-art threads (0 = one per core).
    pub threads: usize,
    /// Called after each written frame with the count so far.
    pub progress: &'a mut dyn FnMut(u64),
}

/// What [`colorize`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorizeReport {
    /// Frames written.
    pub frames: u64,
    /// Generator forward passes.
    pub forwards: u64,
    /// Frames that went through the generator (keyframes do not).
    pub generated: u64,
}

/// A loaded frame waiting for its turn: the full-resolution plane and its working-size input.
struct Pending {
    plane: Vec<u8>,
    small: Tensor,
}

/// A frame's result, kept until it is written in order.
enum Done {
    /// Working-size prediction and the full-resolution plane it is composed with.
    Predicted(Tensor, Vec<u8>),
    /// An artist keyframe at full resolution.
    Key(Tensor),
    /// An output composed at once (packed RGB): a frame of a shot that carries a keyframe's
    /// colours, whose output is the next frame's previous frame.
    Composed(Vec<u8>),
}

struct Slot {
    /// Index into the shard's shots.
    shot: usize,
    /// Next frame of the shot to colorize.
    next: u64,
    prev: Option<Tensor>,
    /// The last smoothed prediction and its working-size input (temporal smoothing).
    smoothed: Option<(Tensor, Tensor)>,
    /// The shot's keyframe carry (the element's `keyframe-carry`).
    carry: KeyframeCarry,
    /// With `keyframe_backward`: the shot's keyframes (looked up when the shot starts), the
    /// last one met, and the composed frames (packed RGB, with their planes) that wait for the
    /// next one to be painted into them.
    keys: Vec<u64>,
    last_key: Option<u64>,
    back: Vec<(u64, Vec<u8>, Vec<u8>)>,
}

impl Slot {
    /// Whether frame `n` (not a keyframe) waits for the shot's next keyframe: there is one, and
    /// it is nearer than the shot's keyframe before `n` (or there is none before).
    fn waits(&self, n: u64) -> bool {
        let Some(&next) = self.keys.iter().find(|&&k| k > n) else {
            return false;
        };
        waits_for(n, next, self.last_key)
    }
}

struct Scheduler<'a> {
    req_shots: Vec<(u64, u64)>,
    net: ColorNet,
    blank_previous: bool,
    flip_average: bool,
    smoothing: f64,
    device: Device,
    size: (usize, usize),
    work: (i64, i64),
    batch: usize,
    keyframes: Option<&'a FramePattern>,
    keyframe_carry: bool,
    keyframe_flow: bool,
    keyframe_backward: bool,
    mode: OutputMode,
    input_mode: InputMode,
    /// Loaded frames not yet colorized, by frame index.
    pending: BTreeMap<u64, Pending>,
    /// Results not yet written, by frame index.
    done: BTreeMap<u64, Done>,
    slots: Vec<Slot>,
    /// Next shot (index into `req_shots`) to give a slot.
    next_shot: usize,
    /// Frames loaded so far (frame index one past the last loaded).
    loaded_to: u64,
    forwards: u64,
    generated: u64,
}

impl Scheduler<'_> {
    /// Fills free slots with the next shots whose first frame is loaded.
    fn assign(&mut self) {
        while self.slots.len() < self.batch && self.next_shot < self.req_shots.len() {
            let (start, end) = self.req_shots[self.next_shot];
            if start >= self.loaded_to {
                break;
            }
            let keys = match self.keyframes {
                Some(p) if self.keyframe_backward => (start..end)
                    .filter(|&i| Path::new(&p.format(i)).is_file())
                    .collect(),
                _ => Vec::new(),
            };
            self.slots.push(Slot {
                shot: self.next_shot,
                next: start,
                prev: None,
                smoothed: None,
                carry: {
                    let mut c = KeyframeCarry::new(self.keyframe_carry);
                    c.set_flow(self.keyframe_flow);
                    c
                },
                keys,
                last_key: None,
                back: Vec::new(),
            });
            self.next_shot += 1;
        }
    }

    /// Runs batch steps while every slot's next frame is loaded and the batch is full (or no
    /// shot is left to fill it: `finish`).
    fn pump(&mut self, finish: bool) -> Result<(), EpisodeError> {
        loop {
            self.assign();
            if self.slots.is_empty() {
                return Ok(());
            }
            let full = self.slots.len() == self.batch || self.next_shot == self.req_shots.len();
            let ready = self.slots.iter().all(|s| s.next < self.loaded_to);
            if !(ready && (full || finish)) {
                if finish && !ready {
                    return Err(EpisodeError::Run(
                        "the input ended before the planned frames: the manifest is not for this input; write it again with tcvc-episode plan".into(),
                    ));
                }
                return Ok(());
            }
            self.step()?;
        }
    }

    /// One lockstep step: keyframes are taken as they are, the other slots' frames go through
    /// the generator as one batch.
    fn step(&mut self) -> Result<(), EpisodeError> {
        let torch =
            |what: &'static str| move |e: tch::TchError| EpisodeError::Run(format!("{what}: {e}"));
        let mut batch_slots = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let n = slot.next;
            // With the keyframes moved back, the shot's keyframes as found when it started (the
            // frames before one wait for it); else looked up frame by frame, as the element does.
            let key = self.keyframes.map(|p| p.format(n)).filter(|p| {
                if self.keyframe_backward {
                    slot.keys.contains(&n)
                } else {
                    Path::new(p).is_file()
                }
            });
            if let Some(path) = key {
                let p = self.pending.remove(&n).expect("a ready frame is loaded");
                let rgb = crate::model::stream::read_rgb(&path).map_err(EpisodeError::Input)?;
                let rgb = rgb.to_device(self.device);
                let (w, h) = self.work;
                slot.prev = Some(
                    resize(&rgb, h, w)?
                        .f_to_kind(Kind::Float)
                        .map_err(torch("keyframe"))?,
                );
                let full = resize(&rgb, self.size.1 as i64, self.size.0 as i64)?;
                let input = plane_to_tensor(&p.plane, self.size.0, self.size.1, self.device)?;
                slot.carry.keyframe(&rgb, &input, self.input_mode)?;
                if !slot.back.is_empty() {
                    let mut back =
                        KeyframeBack::new(&rgb, &input, self.input_mode, self.keyframe_flow)?;
                    // Nearest the key first: the flow moves the key back a frame at a time.
                    for (t, mut rgb8, plane) in slot.back.drain(..).rev() {
                        let input = plane_to_tensor(&plane, self.size.0, self.size.1, self.device)?;
                        back.paint(&mut rgb8, &input)?;
                        self.done.insert(t, Done::Composed(rgb8));
                    }
                }
                slot.last_key = Some(n);
                self.done.insert(n, Done::Key(full));
                slot.smoothed = slot
                    .prev
                    .as_ref()
                    .filter(|_| self.smoothing > 0.0)
                    .map(|k| (k.shallow_clone(), p.small));
                slot.next += 1;
            } else {
                batch_slots.push(i);
            }
        }
        if !batch_slots.is_empty() {
            let (w, h) = self.work;
            let mut smalls = Vec::with_capacity(batch_slots.len());
            let mut prevs = Vec::with_capacity(batch_slots.len());
            for &i in &batch_slots {
                let slot = &self.slots[i];
                smalls.push(self.pending[&slot.next].small.shallow_clone());
                prevs.push(match &slot.prev {
                    Some(p) if !self.blank_previous => p.shallow_clone(),
                    _ => Tensor::f_zeros([1, 3, h, w], (Kind::Float, self.device))
                        .map_err(torch("blank previous frame"))?,
                });
            }
            let x = Tensor::f_cat(&smalls, 0).map_err(torch("batching the inputs"))?;
            let p = Tensor::f_cat(&prevs, 0).map_err(torch("batching the previous frames"))?;
            let net = &self.net;
            let out = if self.flip_average {
                flip_averaged(&mut |x, p| net.infer(x, p), &x, &p)?
            } else {
                net.infer(&x, &p)?
                    .f_to_kind(Kind::Float)
                    .map_err(torch("widening the prediction"))?
            };
            self.forwards += if self.flip_average { 2 } else { 1 };
            for (j, &i) in batch_slots.iter().enumerate() {
                let slot = &mut self.slots[i];
                let pred = out.narrow(0, j as i64, 1);
                let frame = self
                    .pending
                    .remove(&slot.next)
                    .expect("a ready frame is loaded");
                let shown = match &slot.smoothed {
                    Some((before, small_before)) if self.smoothing > 0.0 => {
                        smooth_step(&pred, before, &frame.small, small_before, self.smoothing)?
                    }
                    _ => pred.shallow_clone(),
                };
                if self.smoothing > 0.0 {
                    slot.smoothed = Some((shown.shallow_clone(), frame.small));
                }
                slot.prev = Some(pred);
                // As `StreamColorizer::compose`: a shot carrying a keyframe's colours is composed
                // now, and its output is the next frame's previous frame.
                let waits = self.keyframe_backward && slot.waits(slot.next);
                let done = if slot.carry.is_carrying() || waits {
                    let (fw, fh) = self.size;
                    let input = plane_to_tensor(&frame.plane, fw, fh, self.device)?;
                    let out = if slot.carry.is_carrying() {
                        let out = slot
                            .carry
                            .compose(&shown, &input, self.mode, self.input_mode)?;
                        if slot.carry.is_carrying() {
                            slot.prev = Some(carried_previous(&out, self.work)?);
                        }
                        out
                    } else {
                        compose(&shown, &input, self.mode, self.input_mode)?
                    };
                    let mut rgb8 = Vec::new();
                    tensor_to_rgb8(&out, &mut rgb8)?;
                    if waits {
                        slot.back.push((slot.next, rgb8, frame.plane));
                        None
                    } else {
                        Some(Done::Composed(rgb8))
                    }
                } else {
                    Some(Done::Predicted(shown, frame.plane))
                };
                if let Some(done) = done {
                    self.done.insert(slot.next, done);
                }
                slot.next += 1;
                self.generated += 1;
            }
        }
        // Free the slots whose shot is finished.
        let shots = &self.req_shots;
        self.slots.retain(|s| s.next < shots[s.shot].1);
        Ok(())
    }
}

/// Colorizes the shots of a shard and writes every frame of them, in order, into `writer`.
pub fn colorize(
    req: ColorizeRequest<'_>,
    writer: &mut dyn FrameWriter,
) -> Result<ColorizeReport, EpisodeError> {
    if req.batch == 0 {
        return Err(EpisodeError::Input("--batch must be at least 1".into()));
    }
    let shots: Vec<(u64, u64)> = req.plan.shots[req.shots.clone()]
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    let Some(&(first, _)) = shots.first() else {
        return Ok(ColorizeReport {
            frames: 0,
            forwards: 0,
            generated: 0,
        });
    };
    let last = shots.last().map_or(first, |s| s.1);
    let net = req.model.shared.instance();
    let mut sched = Scheduler {
        req_shots: shots,
        blank_previous: !net.uses_previous() || req.previous.blank(req.model.meta.previous_frame),
        flip_average: req.flip_average,
        smoothing: req.temporal_smoothing,
        net,
        device: req.device,
        size: (req.plan.width as usize, req.plan.height as usize),
        work: (req.working.0 as i64, req.working.1 as i64),
        batch: req.batch,
        keyframes: req.keyframes,
        keyframe_carry: req.keyframe_carry,
        keyframe_flow: req.keyframe_flow,
        keyframe_backward: req.keyframe_backward,
        mode: req.output_mode,
        input_mode: req.model.meta.input_mode,
        pending: BTreeMap::new(),
        done: BTreeMap::new(),
        slots: Vec::new(),
        next_shot: 0,
        loaded_to: first,
        forwards: 0,
        generated: 0,
    };
    let mut written = 0u64;
    let mut next_write = first;
    let device = req.device;
    let mode = req.output_mode;
    let input_mode = req.model.meta.input_mode;
    let progress = req.progress;
    let (fw, fh) = sched.size;
    let mut rgb8 = Vec::new();
    let mut emit =
        |sched: &mut Scheduler, writer: &mut dyn FrameWriter| -> Result<(), EpisodeError> {
            while let Some(done) = sched.done.remove(&next_write) {
                let rgb = match done {
                    Done::Key(full) => full,
                    Done::Predicted(pred, plane) => {
                        let input = plane_to_tensor(&plane, fw, fh, device)?;
                        compose(&pred, &input, mode, input_mode)?
                    }
                    Done::Composed(bytes) => {
                        writer.write(next_write, &bytes)?;
                        next_write += 1;
                        written += 1;
                        progress(written);
                        continue;
                    }
                };
                tensor_to_rgb8(&rgb, &mut rgb8)?;
                writer.write(next_write, &rgb8)?;
                next_write += 1;
                written += 1;
                progress(written);
            }
            Ok(())
        };
    let (w, h) = sched.work;
    let mut queue: VecDeque<InputFrame> = VecDeque::new();
    let (_, frames) = for_each_input(
        req.input,
        input_mode == InputMode::Lineart,
        req.threads,
        &|i| i >= first && i < last,
        &mut |info| {
            if (info.width, info.height) != (req.plan.width, req.plan.height) {
                return Err(EpisodeError::Input(format!(
                    "frames are {}x{} but the manifest says {}x{}: it was made for another input; write it again with tcvc-episode plan",
                    info.width, info.height, req.plan.width, req.plan.height
                )));
            }
            Ok(())
        },
        &mut |frame| {
            if frame.index < first {
                return Ok(());
            }
            if frame.index >= last {
                // Past the shard: stop decoding.
                return Err(EpisodeError::Stopped);
            }
            queue.push_back(frame);
            {
                while let Some(f) = queue.pop_front() {
                    let input = plane_to_tensor(&f.plane, fw, fh, device)?;
                    let small = resize(&input, h, w)?;
                    sched.pending.insert(
                        f.index,
                        Pending {
                            plane: f.plane,
                            small,
                        },
                    );
                    sched.loaded_to = f.index + 1;
                }
                sched.pump(false)?;
                emit(&mut sched, writer)
            }
        },
    )
    .or_else(|e| match e {
        EpisodeError::Stopped => {
            Ok((
                super::lines::SourceInfo {
                    width: req.plan.width,
                    height: req.plan.height,
                    fps: gst::Fraction::new(0, 1),
                },
                last,
            ))
        }
        e => Err(e),
    })?;
    if frames < last {
        return Err(EpisodeError::Input(format!(
            "{} has {frames} frames but the manifest plans {last}: it was made for another input; write it again with tcvc-episode plan",
            req.input.display()
        )));
    }
    sched.pump(true)?;
    emit(&mut sched, writer)?;
    if next_write != last {
        return Err(EpisodeError::Run(format!(
            "wrote frames {first}..{next_write} instead of {first}..{last}"
        )));
    }
    Ok(ColorizeReport {
        frames: written,
        forwards: sched.forwards,
        generated: sched.generated,
    })
}
