// SPDX-License-Identifier: MIT
//! The `GstTcvcCompare` base class: pads, pairing by running time, caps checks per pair, the
//! stats file and the summary, for `tcvcssim`, `tcvcpsnr` and `tcvcflicker` (see `mod.rs`).
use super::{
    components, deep_planes, is_deep, pad_templates, planes, FrameRef, Measurement, Samples,
    Summary,
};
use crate::metrics::MetricsError;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_base::AGGREGATOR_FLOW_NEED_DATA;
use once_cell::sync::Lazy;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Mutex;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "tcvccompare",
        gst::DebugColorFlags::empty(),
        Some("TCVC comparison base class"),
    )
});

#[derive(Default)]
struct Tally {
    compared: u64,
    sum: f64,
    min: f64,
    max: f64,
    unpaired_sink: u64,
    unpaired_reference: u64,
}

impl Tally {
    fn add(&mut self, v: f64) {
        if self.compared == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.sum += v;
        self.compared += 1;
    }
}

#[derive(Default)]
struct State {
    sink_info: Option<gst_video::VideoInfo>,
    reference_info: Option<gst_video::VideoInfo>,
    pairs: u64,
    tally: Tally,
    stats: Option<BufWriter<File>>,
    summary_posted: bool,
}

/// The base class's instance: the two sink pads, `stats-file`, the pairing state.
pub struct Compare {
    /// The stream under test (passed through).
    pub(super) sink: gst_base::AggregatorPad,
    /// The reference stream.
    pub(super) reference: gst_base::AggregatorPad,
    /// `stats-file`.
    settings: Mutex<Option<String>>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for Compare {
    const NAME: &'static str = "GstTcvcCompare";
    const ABSTRACT: bool = true;
    type Type = super::Compare;
    type ParentType = gst_base::Aggregator;
    type Class = super::Class;

    fn class_init(klass: &mut Self::Class) {
        // Defaults for the abstract class itself (never instantiated): every subclass's
        // `IsSubclassable::class_init` replaces them, but no field is ever left unset.
        klass.set_defaults();
    }

    fn with_class(klass: &Self::Class) -> Self {
        let pad = |name: &str| {
            let templ = klass
                .pad_template(name)
                .expect("the base class adds its templates");
            gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ)
                .name(templ.name_template())
                .build()
        };
        Compare {
            sink: pad("sink"),
            reference: pad("reference"),
            settings: Mutex::default(),
            state: Mutex::default(),
        }
    }
}

impl ObjectImpl for Compare {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![glib::ParamSpecString::builder("stats-file")
                .nick("Stats file")
                .blurb("File that gets one line of figures per compared frame (ffmpeg's stats_file format for ssim/psnr, CSV for flicker); unset = none")
                .mutable_ready()
                .build()]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "stats-file" {
            *self.settings.lock().unwrap() = value.get().expect("type checked upstream");
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats-file" => self.settings.lock().unwrap().to_value(),
            name => unreachable!("no property {name}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sink).unwrap();
        obj.add_pad(&self.reference).unwrap();
    }
}

impl GstObjectImpl for Compare {}

impl ElementImpl for Compare {
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static T: Lazy<Vec<gst::PadTemplate>> = Lazy::new(pad_templates);
        T.as_ref()
    }
}

impl AggregatorImpl for Compare {
    fn aggregate(&self, _timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.do_aggregate(self.obj().upcast_ref())
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        match self.handle_sink_event(self.obj().upcast_ref(), pad, &event) {
            Some(handled) => handled,
            None => self.parent_sink_event(pad, event),
        }
    }

    fn negotiate(&self) -> bool {
        // The src caps are the sink pad's caps, set when they arrive (passthrough).
        true
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.open_stats()?;
        self.parent_start()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.close_stats()?;
        self.parent_stop()
    }
}

impl Compare {
    /// The subclass's `measure` (the class's virtual method).
    fn measure_pair(&self, frame: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError> {
        let obj = self.obj();
        (obj.class().as_ref().measure)(&obj, frame)
    }

    /// The subclass's `reset`: a new temporal chain starts.
    fn reset_metric(&self) {
        let obj = self.obj();
        (obj.class().as_ref().reset)(&obj)
    }
}

impl Compare {
    /// Opens the stats file (an error names the path) and clears the state.
    fn open_stats(&self) -> Result<(), gst::ErrorMessage> {
        let obj = self.obj();
        let klass = obj.class().as_ref();
        let path = self.settings.lock().unwrap().clone();
        let mut state = State::default();
        if let Some(path) = path.filter(|p| !p.is_empty()) {
            let file = File::create(&path).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ["Cannot create stats-file '{path}': {e}; check the folder exists and is writable"]
                )
            })?;
            let mut w = BufWriter::new(file);
            if let Some(h) = klass.stats_header {
                writeln!(w, "{h}").map_err(|e| {
                    gst::error_msg!(
                        gst::ResourceError::Write,
                        ["Cannot write stats-file '{path}': {e}"]
                    )
                })?;
            }
            state.stats = Some(w);
        }
        *self.state.lock().unwrap() = state;
        Ok(())
    }

    /// Flushes and closes the stats file.
    fn close_stats(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = self.state.lock().unwrap();
        if let Some(mut w) = state.stats.take() {
            w.flush().map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::Write,
                    ["Cannot write the stats-file: {e}"]
                )
            })?;
        }
        Ok(())
    }

    /// Handles the events the comparison cares about; `None` lets the parent class handle it.
    fn handle_sink_event(
        &self,
        obj: &gst_base::Aggregator,
        pad: &gst_base::AggregatorPad,
        event: &gst::Event,
    ) -> Option<bool> {
        match event.view() {
            gst::EventView::Caps(e) => {
                let caps = e.caps_owned();
                let Ok(info) = gst_video::VideoInfo::from_caps(&caps) else {
                    gst::element_error!(
                        obj,
                        gst::CoreError::Negotiation,
                        ["Invalid video caps {caps}"]
                    );
                    return Some(false);
                };
                let is_sink = pad == &self.sink;
                let mut state = self.state.lock().unwrap();
                if is_sink {
                    state.sink_info = Some(info);
                } else {
                    state.reference_info = Some(info);
                }
                // A new size or format starts a new temporal chain. Sizes and formats are
                // compared per pair (in `measure`), not here: when both streams change size at
                // the same frame, one pad's caps arrive before the other's.
                self.reset_metric();
                drop(state);
                if is_sink {
                    gst::info!(*CAT, obj = obj, "passing caps {caps} through");
                    obj.set_src_caps(&caps);
                }
                Some(true)
            }
            gst::EventView::Segment(e) => {
                if pad == &self.sink {
                    obj.update_segment(e.segment());
                }
                None
            }
            gst::EventView::FlushStop(_) => {
                gst::debug!(*CAT, obj = obj, "flush: resetting the temporal chain");
                self.reset_metric();
                None
            }
            _ => None,
        }
    }

    fn running_time(pad: &gst_base::AggregatorPad, buf: &gst::Buffer) -> Option<gst::ClockTime> {
        let segment = pad.segment();
        let segment = segment.downcast_ref::<gst::ClockTime>()?;
        segment.to_running_time(buf.pts()?)
    }

    /// Half a frame of the stream under test: pairs whose running times differ by less are the
    /// same frame.
    fn tolerance(info: Option<&gst_video::VideoInfo>, buf: &gst::Buffer) -> gst::ClockTime {
        buf.duration()
            .or_else(|| {
                let fps = info?.fps();
                (fps.numer() > 0).then(|| {
                    gst::ClockTime::SECOND
                        .mul_div_floor(fps.denom() as u64, fps.numer() as u64)
                        .unwrap_or(gst::ClockTime::ZERO)
                })
            })
            .map(|d| d / 2)
            .unwrap_or(gst::ClockTime::from_mseconds(1))
    }

    /// Pairs the queued frames, measures, passes the frame under test on.
    fn do_aggregate(&self, obj: &gst_base::Aggregator) -> Result<gst::FlowSuccess, gst::FlowError> {
        loop {
            // GstAggregator turns a GAP event into an empty buffer flagged GAP: no frame there,
            // nothing to compare or pass on.
            let mut dropped_gap = false;
            for pad in [&self.sink, &self.reference] {
                if pad
                    .peek_buffer()
                    .is_some_and(|b| b.flags().contains(gst::BufferFlags::GAP) && b.size() == 0)
                {
                    gst::log!(*CAT, obj = obj, "skipping a gap on {}", pad.name());
                    pad.drop_buffer();
                    dropped_gap = true;
                }
            }
            if dropped_gap {
                continue;
            }
            let a = self.sink.peek_buffer();
            let b = self.reference.peek_buffer();
            match (a, b) {
                (Some(a), Some(b)) => {
                    let ta = Self::running_time(&self.sink, &a);
                    let tb = Self::running_time(&self.reference, &b);
                    let tol = Self::tolerance(self.state.lock().unwrap().sink_info.as_ref(), &a);
                    let order = match (ta, tb) {
                        (Some(ta), Some(tb)) if ta + tol < tb => std::cmp::Ordering::Less,
                        (Some(ta), Some(tb)) if tb + tol < ta => std::cmp::Ordering::Greater,
                        _ => std::cmp::Ordering::Equal,
                    };
                    match order {
                        std::cmp::Ordering::Equal => {
                            self.sink.pop_buffer();
                            self.reference.pop_buffer();
                            self.measure(obj, &a, &b, ta)?;
                            return self.pass_on(obj, a);
                        }
                        std::cmp::Ordering::Less => {
                            gst::log!(*CAT, obj = obj, "no reference frame at {ta:?}");
                            self.sink.pop_buffer();
                            self.state.lock().unwrap().tally.unpaired_sink += 1;
                            return self.pass_on(obj, a);
                        }
                        std::cmp::Ordering::Greater => {
                            gst::log!(*CAT, obj = obj, "no frame under test at {tb:?}");
                            self.reference.pop_buffer();
                            self.state.lock().unwrap().tally.unpaired_reference += 1;
                        }
                    }
                }
                (Some(a), None) if self.reference.is_eos() => {
                    self.sink.pop_buffer();
                    self.state.lock().unwrap().tally.unpaired_sink += 1;
                    return self.pass_on(obj, a);
                }
                (None, Some(_)) if self.sink.is_eos() => {
                    self.reference.pop_buffer();
                    self.state.lock().unwrap().tally.unpaired_reference += 1;
                }
                (None, None) if self.sink.is_eos() && self.reference.is_eos() => {
                    self.post_summary(obj);
                    return Err(gst::FlowError::Eos);
                }
                _ => return Err(AGGREGATOR_FLOW_NEED_DATA),
            }
        }
    }

    fn pass_on(
        &self,
        obj: &gst_base::Aggregator,
        buf: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let position = buf.pts().opt_add(buf.duration());
        obj.set_position(position.or(buf.pts()));
        obj.finish_buffer(buf)
    }

    fn measure(
        &self,
        obj: &gst_base::Aggregator,
        a: &gst::Buffer,
        b: &gst::Buffer,
        running_time: Option<gst::ClockTime>,
    ) -> Result<(), gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let (Some(ia), Some(ib)) = (state.sink_info.clone(), state.reference_info.clone()) else {
            gst::element_error!(obj, gst::CoreError::Negotiation, ["Buffer before caps"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        // The caps each frame of the pair came with (the pads' current caps: GstAggregator
        // handles a pad's serialized events before the buffers behind them).
        if let Err(msg) = check_compatible(&ia, &ib) {
            drop(state);
            gst::element_error!(obj, gst::StreamError::Format, ["{msg}"]);
            return Err(gst::FlowError::Error);
        }
        let fa = gst_video::VideoFrameRef::from_buffer_ref_readable(a.as_ref(), &ia);
        let fb = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &ib);
        let (Ok(fa), Ok(fb)) = (fa, fb) else {
            gst::element_error!(
                obj,
                gst::StreamError::Format,
                ["A buffer is smaller than its caps say"]
            );
            return Err(gst::FlowError::Error);
        };
        state.pairs += 1;
        let n = state.pairs;
        let components = components(ia.format());
        let result = if is_deep(ia.format()) {
            deep_planes(&fa).and_then(|(pa, depth)| {
                let (pb, _) = deep_planes(&fb)?;
                let frame = FrameRef {
                    n,
                    running_time,
                    pts: a.pts(),
                    components,
                    samples: Samples::Deep {
                        test: &pa,
                        reference: &pb,
                        depth,
                    },
                };
                self.measure_pair(&frame)
            })
        } else {
            planes(&fa).and_then(|pa| {
                let pb = planes(&fb)?;
                let frame = FrameRef {
                    n,
                    running_time,
                    pts: a.pts(),
                    components,
                    samples: Samples::Eight {
                        test: &pa,
                        reference: &pb,
                    },
                };
                self.measure_pair(&frame)
            })
        };
        let m = match result {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => {
                drop(state);
                gst::element_error!(
                    obj,
                    gst::StreamError::Format,
                    ["Cannot compare frame {}: {e}", running_time.display()]
                );
                return Err(gst::FlowError::Error);
            }
        };
        state.tally.add(m.main);
        if let Some(w) = state.stats.as_mut() {
            if let Err(e) = writeln!(w, "{}", m.stats_line) {
                drop(state);
                gst::element_error!(
                    obj,
                    gst::ResourceError::Write,
                    ["Cannot write the stats-file: {e}"]
                );
                return Err(gst::FlowError::Error);
            }
        }
        drop(state);
        let _ = obj.post_message(gst::message::Element::builder(m.message).src(obj).build());
        Ok(())
    }

    fn post_summary(&self, obj: &gst_base::Aggregator) {
        let mut state = self.state.lock().unwrap();
        if state.summary_posted {
            return;
        }
        state.summary_posted = true;
        let t = &state.tally;
        let summary = Summary {
            name: self.obj().class().as_ref().name.to_string(),
            frames: t.compared,
            mean: if t.compared > 0 {
                t.sum / t.compared as f64
            } else {
                f64::NAN
            },
            min: if t.compared > 0 { t.min } else { f64::NAN },
            max: if t.compared > 0 { t.max } else { f64::NAN },
            unpaired_sink: t.unpaired_sink,
            unpaired_reference: t.unpaired_reference,
        };
        if let Some(w) = state.stats.as_mut() {
            let _ = w.flush();
        }
        drop(state);
        gst::info!(*CAT, obj = obj, "summary: {summary:?}");
        let _ = obj.post_message(
            gst::message::Element::builder(gst::Structure::from(&summary))
                .src(obj)
                .build(),
        );
    }
}

/// Both streams must have the same format and size.
fn check_compatible(a: &gst_video::VideoInfo, b: &gst_video::VideoInfo) -> Result<(), String> {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return Err(format!(
            "The streams have different sizes: sink is {}x{}, reference is {}x{}; scale one \
             (videoscale ! video/x-raw,width=…,height=…) so both match",
            a.width(),
            a.height(),
            b.width(),
            b.height()
        ));
    }
    if a.format() != b.format() {
        return Err(format!(
            "The streams have different formats: sink is {}, reference is {}; put videoconvert \
             in front of one so both match",
            a.format().to_str(),
            b.format().to_str()
        ));
    }
    Ok(())
}
