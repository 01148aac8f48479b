// SPDX-License-Identifier: MIT
//! `GstTcvcCompare`, the abstract base class of `tcvcssim`, `tcvcpsnr` and `tcvcflicker`: two
//! always sink pads, `sink` (the stream under test, passed through unchanged on `src`) and
//! `reference`, frames paired by running time, caps checked per pair, per-frame element
//! messages, a stats file (`stats-file`) and a summary message at EOS. A subclass implements
//! [`CompareImpl`]: its name and what it computes on a pair.
//!
//! Why `GstAggregator` and not `GstVideoAggregator`: the output is the `sink` stream itself, the
//! same buffers and caps, never a new frame composed from the inputs; `GstVideoAggregator` would
//! negotiate a common format, convert the inputs into it and allocate an output frame per cycle,
//! all of which the comparison must not do (the figures are of the frames as they came).
use crate::metrics::{DeepPlane, MetricsError, Plane};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::VideoFormat;

mod imp;
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

glib::wrapper! {
    /// The abstract base class of `tcvcssim`, `tcvcpsnr` and `tcvcflicker`.
    pub struct Compare(ObjectSubclass<imp::Compare>)
        @extends gst_base::Aggregator, gst::Element, gst::Object;
}

/// Class struct of [`Compare`]: the virtual methods a subclass fills through [`CompareImpl`].
#[repr(C)]
pub struct Class {
    parent: gst_base::ffi::GstAggregatorClass,
    measure: fn(&Compare, &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError>,
    reset: fn(&Compare),
    name: &'static str,
    stats_header: Option<&'static str>,
}

impl Class {
    /// The abstract class's own entries: measure nothing, reset nothing.
    fn set_defaults(&mut self) {
        self.measure = |_, _| Ok(None);
        self.reset = |_| {};
        self.name = "tcvccompare";
        self.stats_header = None;
    }
}

unsafe impl ClassStruct for Class {
    type Type = imp::Compare;
}

impl std::ops::Deref for Class {
    type Target = glib::Class<gst_base::Aggregator>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: `Class` is `repr(C)` and starts with the parent class struct.
        unsafe { &*(&self.parent as *const _ as *const _) }
    }
}

/// What a comparison element implements: its name and what it computes on a pair of frames.
/// The base class does the rest (pads, pairing, caps, stats file, summary).
pub trait CompareImpl: AggregatorImpl {
    /// Element and message name, e.g. `tcvcssim`.
    const NAME: &'static str;
    /// First line of the stats file, if the format has one (CSV header).
    const STATS_HEADER: Option<&'static str> = None;

    /// Figures of one pair; `None` when the pair yields none (first frame of a temporal chain).
    fn measure(&self, frame: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError>;

    /// Forgets any state carried from frame to frame (flush, caps change).
    fn reset(&self) {}
}

unsafe impl<T: CompareImpl> IsSubclassable<T> for Compare {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class);
        let klass = class.as_mut();
        klass.measure = |obj, frame| {
            // SAFETY: the class is `T`'s, so every instance is a `T::Type`.
            let imp = unsafe { obj.unsafe_cast_ref::<T::Type>() }.imp();
            imp.measure(frame)
        };
        klass.reset = |obj| {
            // SAFETY: as above.
            let imp = unsafe { obj.unsafe_cast_ref::<T::Type>() }.imp();
            imp.reset()
        };
        klass.name = <T as CompareImpl>::NAME;
        klass.stats_header = <T as CompareImpl>::STATS_HEADER;
    }
}
