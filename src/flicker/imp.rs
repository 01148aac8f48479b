// SPDX-License-Identifier: MIT
//! `tcvcflicker`: temporal consistency of `sink` against `reference`, frame to frame.
use crate::compare::messages::FlickerFrame;
use crate::compare::{CompareImpl, FrameRef, Measurement, Samples};
use crate::metrics::{
    DeepTemporalTracker, MetricsError, TemporalTracker, DEFAULT_STATIC_THRESHOLD,
};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;
use std::sync::Mutex;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "tcvcflicker",
        gst::DebugColorFlags::empty(),
        Some("TCVC temporal flicker"),
    )
});

/// `tcvcflicker`: the threshold and the temporal chains (8-bit and deeper).
#[derive(Default)]
pub struct Flicker {
    static_threshold: Mutex<u8>,
    trackers: Mutex<(TemporalTracker, DeepTemporalTracker)>,
}

#[glib::object_subclass]
impl ObjectSubclass for Flicker {
    const NAME: &'static str = "GstTcvcFlicker";
    type Type = super::Flicker;
    type ParentType = crate::compare::Compare;

    fn new() -> Self {
        Flicker {
            static_threshold: Mutex::new(DEFAULT_STATIC_THRESHOLD),
            trackers: Mutex::default(),
        }
    }
}

impl ObjectImpl for Flicker {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![glib::ParamSpecUInt::builder("static-threshold")
                .nick("Static threshold")
                .blurb("A reference sample is static when it changed by at most this much (0-255) from the previous frame; static-flicker is measured there")
                .maximum(255)
                .default_value(DEFAULT_STATIC_THRESHOLD as u32)
                .mutable_playing()
                .build()]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, _pspec: &glib::ParamSpec) {
        let v: u32 = value.get().expect("type checked upstream");
        *self.static_threshold.lock().unwrap() = v.min(255) as u8;
    }

    fn property(&self, _id: usize, _pspec: &glib::ParamSpec) -> glib::Value {
        u32::from(*self.static_threshold.lock().unwrap()).to_value()
    }
}

impl GstObjectImpl for Flicker {}

impl ElementImpl for Flicker {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "TCVC temporal flicker",
                "Filter/Analyzer/Video",
                "Per-frame temporal error and flicker of the sink stream against the reference stream; passes the sink stream through",
                "gst-tcvc developers",
            )
        });
        Some(&*META)
    }
}

impl AggregatorImpl for Flicker {}

impl CompareImpl for Flicker {
    const NAME: &'static str = "tcvcflicker";
    const STATS_HEADER: Option<&'static str> = Some(FlickerFrame::CSV_HEADER);

    fn reset(&self) {
        gst::debug!(CAT, imp = self, "temporal chain reset");
        let mut t = self.trackers.lock().unwrap();
        t.0.reset();
        t.1.reset();
    }

    fn measure(&self, f: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError> {
        let threshold = *self.static_threshold.lock().unwrap();
        let mut trackers = self.trackers.lock().unwrap();
        let (tracker, deep) = &mut *trackers;
        if tracker.static_threshold() != threshold {
            *tracker = TemporalTracker::new(threshold);
        }
        let t = match f.samples {
            Samples::Eight { test, reference } => tracker.push(test, reference)?,
            Samples::Deep {
                test,
                reference,
                depth,
            } => deep.push(test, reference, depth, threshold)?,
        };
        let Some(t) = t else {
            return Ok(None);
        };
        let msg = FlickerFrame {
            n: f.n,
            running_time: f.running_time,
            pts: f.pts,
            temporal_error: t.temporal_error,
            flicker: t.flicker,
            reference_flicker: t.reference_flicker,
            static_flicker: t.static_flicker,
        };
        Ok(Some(Measurement {
            message: (&msg).into(),
            stats_line: msg.csv_line(),
            main: t.temporal_error,
        }))
    }
}
