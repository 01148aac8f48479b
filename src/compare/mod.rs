// SPDX-License-Identifier: MIT
//! The aggregator shared by `tcvcssim`, `tcvcpsnr` and `tcvcflicker`: two always sink pads,
//! `sink` (the stream under test, passed through unchanged on `src`) and `reference`, frames
//! paired by running time, caps checks, per-frame element messages, a stats file, and a summary
//! message at EOS. Each element supplies only its [`Metric`] (what to compute on a pair, how to
//! name it) through [`compare_element!`].
use crate::metrics::{DeepPlane, MetricsError, Plane};
use gst::glib;
use gst::prelude::*;
use gst_base::prelude::*;
use gst_base::AGGREGATOR_FLOW_NEED_DATA;
use gst_video::prelude::*;
use gst_video::VideoFormat;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Mutex;

pub mod messages;

pub use messages::Summary;

/// Raw formats the metrics read: components are Y/U/V or R/G/B (alpha and padding ignored);
/// the last three carry 10 bits per sample.
pub const FORMATS: &[VideoFormat] = &[
    VideoFormat::Gray8,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Y444,
    VideoFormat::I42010le,
    VideoFormat::I42210le,
    VideoFormat::P01010le,
];

/// The samples of both frames of a pair.
pub enum Samples<'a> {
    /// 8-bit planes, read in place.
    Eight {
        /// Planes of the frame under test, one per component.
        test: &'a [Plane<'a>],
        /// Planes of the reference frame.
        reference: &'a [Plane<'a>],
    },
    /// Planes of more than 8 bits, unpacked to plain values `0..2^depth`.
    Deep {
        /// Planes of the frame under test.
        test: &'a [DeepPlane],
        /// Planes of the reference frame.
        reference: &'a [DeepPlane],
        /// Bits per sample.
        depth: u32,
    },
}

/// One frame of a pair, with where it sits in the stream.
pub struct FrameRef<'a> {
    /// 1-based number of the pair.
    pub n: u64,
    /// Running time of the frame under test.
    pub running_time: Option<gst::ClockTime>,
    /// PTS of the frame under test.
    pub pts: Option<gst::ClockTime>,
    /// Component letters, `['Y', 'U', 'V']`, `['R', 'G', 'B']` or `['Y']`.
    pub components: &'a [char],
    /// The samples of both frames.
    pub samples: Samples<'a>,
}

/// The figures of one pair.
pub struct Measurement {
    /// The element message (its structure name is the element's name).
    pub message: gst::Structure,
    /// The stats-file line (without the newline).
    pub stats_line: String,
    /// The main figure summarised at EOS (SSIM `All`, PSNR `psnr_avg`, temporal error).
    pub main: f64,
}

/// What an element computes on a pair of frames.
pub trait Metric: Default + Send + 'static {
    /// Element and message name, e.g. `tcvcssim`.
    const NAME: &'static str;
    /// Long name of the element.
    const LONG_NAME: &'static str;
    /// Element description.
    const DESCRIPTION: &'static str;
    /// Element settings beyond `stats-file`.
    type Settings: Default + Clone + Send + 'static;

    /// Properties beyond `stats-file`.
    fn properties() -> Vec<glib::ParamSpec> {
        Vec::new()
    }
    /// Sets one of [`Metric::properties`].
    fn set_property(_settings: &mut Self::Settings, _name: &str, _value: &glib::Value) {}
    /// Reads one of [`Metric::properties`].
    fn property(_settings: &Self::Settings, name: &str) -> glib::Value {
        unreachable!("no property {name}")
    }
    /// First line of the stats file, if the format has one (CSV header).
    fn stats_header() -> Option<&'static str> {
        None
    }
    /// Forgets any state carried from frame to frame (flush, caps change).
    fn reset(&mut self) {}
    /// Figures of one pair; `None` when the pair yields none (first frame of a temporal chain).
    fn measure(
        &mut self,
        settings: &Self::Settings,
        frame: &FrameRef<'_>,
    ) -> Result<Option<Measurement>, MetricsError>;
}

/// Element settings: the stats file plus the metric's own.
#[derive(Default, Clone)]
pub struct Settings<S> {
    /// Where per-frame lines are written (`None`: nowhere).
    pub stats_file: Option<String>,
    /// The metric's settings.
    pub metric: S,
}

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

struct State<M> {
    metric: M,
    sink_info: Option<gst_video::VideoInfo>,
    reference_info: Option<gst_video::VideoInfo>,
    pairs: u64,
    tally: Tally,
    stats: Option<BufWriter<File>>,
    summary_posted: bool,
}

impl<M: Metric> Default for State<M> {
    fn default() -> Self {
        State {
            metric: M::default(),
            sink_info: None,
            reference_info: None,
            pairs: 0,
            tally: Tally::default(),
            stats: None,
            summary_posted: false,
        }
    }
}

/// Pads, settings, state and the logic shared by the comparison elements.
pub struct Core<M: Metric> {
    /// The stream under test (passed through).
    pub sink: gst_base::AggregatorPad,
    /// The reference stream.
    pub reference: gst_base::AggregatorPad,
    settings: Mutex<Settings<M::Settings>>,
    state: Mutex<State<M>>,
    cat: gst::DebugCategory,
}

/// The three pad templates (same caps on each).
pub fn pad_templates() -> Vec<gst::PadTemplate> {
    let caps = gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().copied())
        .build();
    let sink = |name| {
        gst::PadTemplate::with_gtype(
            name,
            gst::PadDirection::Sink,
            gst::PadPresence::Always,
            &caps,
            gst_base::AggregatorPad::static_type(),
        )
        .unwrap()
    };
    vec![
        gst::PadTemplate::new(
            "src",
            gst::PadDirection::Src,
            gst::PadPresence::Always,
            &caps,
        )
        .unwrap(),
        sink("sink"),
        sink("reference"),
    ]
}

fn components(format: VideoFormat) -> &'static [char] {
    match format {
        VideoFormat::Gray8 => &['Y'],
        VideoFormat::I420
        | VideoFormat::Nv12
        | VideoFormat::Y444
        | VideoFormat::I42010le
        | VideoFormat::I42210le
        | VideoFormat::P01010le => &['Y', 'U', 'V'],
        _ => &['R', 'G', 'B'],
    }
}

/// Whether `format` carries more than 8 bits per sample.
fn is_deep(format: VideoFormat) -> bool {
    gst_video::VideoFormatInfo::from_format(format).depth()[0] > 8
}

/// The Y, U, V planes of a mapped frame of more than 8 bits (copied), with their depth.
///
/// MSB-aligned formats (P010: 10 bits in the high bits of 16) are read as FFmpeg's `ssim` and
/// `psnr` filters read them — FFmpeg converts `p010le` to `yuv420p16le` in front of them, clearing
/// the padding bits — as 16-bit samples with a 16-bit peak.
fn deep_planes(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Result<(Vec<DeepPlane>, u32), MetricsError> {
    let info = frame.info();
    let finfo = info.format_info();
    let mut out = Vec::with_capacity(3);
    for c in 0..finfo.n_components().min(3) as usize {
        let plane = finfo.plane()[c] as usize;
        let (w, h) = (
            finfo.scale_width(c as u8, info.width()) as usize,
            finfo.scale_height(c as u8, info.height()) as usize,
        );
        let stride = frame.plane_stride()[plane] as usize;
        let pstride = finfo.pixel_stride()[c] as usize;
        // GStreamer counts the offsets of 16-bit formats in 16-bit words (P010: V at 1).
        let offset = finfo.poffset()[c] as usize * (finfo.bits() as usize).div_ceil(8);
        let shift = finfo.shift()[c];
        let data = frame.plane_data(plane as u32).unwrap_or(&[]);
        let needed = if h == 0 {
            0
        } else {
            (h - 1) * stride + offset + (w.max(1) - 1) * pstride + 2
        };
        if data.len() < needed {
            return Err(MetricsError::BufferTooSmall {
                plane: c,
                needed,
                len: data.len(),
            });
        }
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            let row = &data[y * stride + offset..];
            v.extend((0..w).map(|x| {
                u16::from_le_bytes([row[x * pstride], row[x * pstride + 1]]) >> shift << shift
            }));
        }
        out.push(DeepPlane::new(v, w, h)?);
    }
    Ok((out, finfo.depth()[0] + finfo.shift()[0]))
}

/// The component planes of a mapped frame (no copy).
fn planes<'a>(
    frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
) -> Result<Vec<Plane<'a>>, MetricsError> {
    let info = frame.info();
    let finfo = info.format_info();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = |p: usize| frame.plane_stride()[p] as usize;
    let data = |p: u32| frame.plane_data(p).unwrap_or(&[]);
    match info.format() {
        VideoFormat::Gray8 => Ok(vec![Plane::new(data(0), w, h, stride(0))?]),
        VideoFormat::I420 | VideoFormat::Y444 => (0..3)
            .map(|p| {
                let pw = finfo.scale_width(p as u8, w as u32) as usize;
                let ph = finfo.scale_height(p as u8, h as u32) as usize;
                Plane::new(data(p), pw, ph, stride(p as usize))
            })
            .collect(),
        VideoFormat::Nv12 => {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            Ok(vec![
                Plane::new(data(0), w, h, stride(0))?,
                Plane::interleaved(data(1), cw, ch, stride(1), 2, 0)?,
                Plane::interleaved(data(1), cw, ch, stride(1), 2, 1)?,
            ])
        }
        _ => {
            let po = finfo.poffset();
            let ps = finfo.pixel_stride()[0] as usize;
            Ok(Plane::packed(
                data(0),
                w,
                h,
                stride(0),
                ps,
                [po[0] as usize, po[1] as usize, po[2] as usize],
            )?
            .to_vec())
        }
    }
}

impl<M: Metric> Core<M> {
    /// Pads from the class's `sink` and `reference` templates; `cat` is the element's debug
    /// category.
    pub fn new(
        sink: &gst::PadTemplate,
        reference: &gst::PadTemplate,
        cat: gst::DebugCategory,
    ) -> Self {
        let pad = |templ: &gst::PadTemplate| {
            gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ)
                .name(templ.name_template())
                .build()
        };
        Core {
            sink: pad(sink),
            reference: pad(reference),
            settings: Mutex::default(),
            state: Mutex::default(),
            cat,
        }
    }

    /// Adds the pads to the element.
    pub fn constructed(&self, obj: &gst_base::Aggregator) {
        obj.add_pad(&self.sink).unwrap();
        obj.add_pad(&self.reference).unwrap();
    }

    /// `stats-file` plus the metric's properties.
    pub fn properties() -> Vec<glib::ParamSpec> {
        let mut v = vec![glib::ParamSpecString::builder("stats-file")
            .nick("Stats file")
            .blurb("File that gets one line of figures per compared frame (ffmpeg's stats_file format for ssim/psnr, CSV for flicker); unset = none")
            .mutable_ready()
            .build()];
        v.extend(M::properties());
        v
    }

    pub fn set_property(&self, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "stats-file" => s.stats_file = value.get().expect("type checked upstream"),
            name => M::set_property(&mut s.metric, name, value),
        }
    }

    pub fn property(&self, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "stats-file" => s.stats_file.to_value(),
            name => M::property(&s.metric, name),
        }
    }

    /// Opens the stats file (an error names the path) and clears the state.
    pub fn start(&self) -> Result<(), gst::ErrorMessage> {
        let path = self.settings.lock().unwrap().stats_file.clone();
        let mut state = State::<M>::default();
        if let Some(path) = path.filter(|p| !p.is_empty()) {
            let file = File::create(&path).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ["Cannot create stats-file '{path}': {e}; check the folder exists and is writable"]
                )
            })?;
            let mut w = BufWriter::new(file);
            if let Some(h) = M::stats_header() {
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
    pub fn stop(&self) -> Result<(), gst::ErrorMessage> {
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
    pub fn sink_event(
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
                state.metric.reset();
                drop(state);
                if is_sink {
                    gst::info!(self.cat, obj = obj, "passing caps {caps} through");
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
                gst::debug!(self.cat, obj = obj, "flush: resetting the temporal chain");
                self.state.lock().unwrap().metric.reset();
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
    pub fn aggregate(
        &self,
        obj: &gst_base::Aggregator,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        loop {
            // GstAggregator turns a GAP event into an empty buffer flagged GAP: no frame there,
            // nothing to compare or pass on.
            let mut dropped_gap = false;
            for pad in [&self.sink, &self.reference] {
                if pad
                    .peek_buffer()
                    .is_some_and(|b| b.flags().contains(gst::BufferFlags::GAP) && b.size() == 0)
                {
                    gst::log!(self.cat, obj = obj, "skipping a gap on {}", pad.name());
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
                            gst::log!(self.cat, obj = obj, "no reference frame at {ta:?}");
                            self.sink.pop_buffer();
                            self.state.lock().unwrap().tally.unpaired_sink += 1;
                            return self.pass_on(obj, a);
                        }
                        std::cmp::Ordering::Greater => {
                            gst::log!(self.cat, obj = obj, "no frame under test at {tb:?}");
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
        let settings = self.settings.lock().unwrap().metric.clone();
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
                state.metric.measure(&settings, &frame)
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
                state.metric.measure(&settings, &frame)
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
            name: M::NAME.to_string(),
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
        gst::info!(self.cat, obj = obj, "summary: {summary:?}");
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

/// Implements the GObject / GStreamer boilerplate of a comparison element whose imp struct is
/// `$imp { core: Core<$metric> }`.
#[macro_export]
macro_rules! compare_element {
    ($imp:ident, $metric:ty, $cat:ident) => {
        impl gst::subclass::prelude::ObjectImpl for $imp {
            fn properties() -> &'static [gst::glib::ParamSpec] {
                static PROPERTIES: once_cell::sync::Lazy<Vec<gst::glib::ParamSpec>> =
                    once_cell::sync::Lazy::new($crate::compare::Core::<$metric>::properties);
                PROPERTIES.as_ref()
            }
            fn set_property(
                &self,
                _id: usize,
                value: &gst::glib::Value,
                pspec: &gst::glib::ParamSpec,
            ) {
                self.core.set_property(value, pspec)
            }
            fn property(&self, _id: usize, pspec: &gst::glib::ParamSpec) -> gst::glib::Value {
                self.core.property(pspec)
            }
            fn constructed(&self) {
                self.parent_constructed();
                self.core
                    .constructed(gst::prelude::Cast::upcast_ref(&*self.obj()));
            }
        }

        impl gst::subclass::prelude::GstObjectImpl for $imp {}

        impl gst::subclass::prelude::ElementImpl for $imp {
            fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
                static META: once_cell::sync::Lazy<gst::subclass::ElementMetadata> =
                    once_cell::sync::Lazy::new(|| {
                        gst::subclass::ElementMetadata::new(
                            <$metric as $crate::compare::Metric>::LONG_NAME,
                            "Filter/Analyzer/Video",
                            <$metric as $crate::compare::Metric>::DESCRIPTION,
                            "gst-tcvc developers",
                        )
                    });
                Some(&*META)
            }
            fn pad_templates() -> &'static [gst::PadTemplate] {
                static T: once_cell::sync::Lazy<Vec<gst::PadTemplate>> =
                    once_cell::sync::Lazy::new($crate::compare::pad_templates);
                T.as_ref()
            }
        }

        impl gst_base::subclass::prelude::AggregatorImpl for $imp {
            fn aggregate(&self, _timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
                self.core
                    .aggregate(gst::prelude::Cast::upcast_ref(&*self.obj()))
            }
            fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
                match self.core.sink_event(
                    gst::prelude::Cast::upcast_ref(&*self.obj()),
                    pad,
                    &event,
                ) {
                    Some(handled) => handled,
                    None => gst_base::subclass::prelude::AggregatorImplExt::parent_sink_event(
                        self, pad, event,
                    ),
                }
            }
            fn negotiate(&self) -> bool {
                // The src caps are the sink pad's caps, set when they arrive (passthrough).
                true
            }
            fn start(&self) -> Result<(), gst::ErrorMessage> {
                self.core.start()?;
                gst_base::subclass::prelude::AggregatorImplExt::parent_start(self)
            }
            fn stop(&self) -> Result<(), gst::ErrorMessage> {
                self.core.stop()?;
                gst_base::subclass::prelude::AggregatorImplExt::parent_stop(self)
            }
        }

        #[gst::glib::object_subclass]
        impl gst::subclass::prelude::ObjectSubclass for $imp {
            const NAME: &'static str = concat!("GstTcvc", stringify!($imp));
            type Type = super::$imp;
            type ParentType = gst_base::Aggregator;

            fn with_class(klass: &Self::Class) -> Self {
                use gst::prelude::*;
                let sink = klass.pad_template("sink").unwrap();
                let reference = klass.pad_template("reference").unwrap();
                Self {
                    core: $crate::compare::Core::new(&sink, &reference, *$cat),
                }
            }
        }
    };
}
