// SPDX-License-Identifier: MIT
//! `tcvcflicker`: temporal consistency of `sink` against `reference`, frame to frame.
use crate::compare::messages::FlickerFrame;
use crate::compare::{FrameRef, Measurement, Metric, Samples};
use crate::metrics::{
    DeepTemporalTracker, MetricsError, TemporalTracker, DEFAULT_STATIC_THRESHOLD,
};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use once_cell::sync::Lazy;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "tcvcflicker",
        gst::DebugColorFlags::empty(),
        Some("TCVC temporal flicker"),
    )
});

#[derive(Clone)]
pub struct FlickerSettings {
    static_threshold: u32,
}

impl Default for FlickerSettings {
    fn default() -> Self {
        FlickerSettings {
            static_threshold: DEFAULT_STATIC_THRESHOLD as u32,
        }
    }
}

#[derive(Default)]
pub struct FlickerMetric {
    tracker: TemporalTracker,
    deep: DeepTemporalTracker,
}

impl Metric for FlickerMetric {
    const NAME: &'static str = "tcvcflicker";
    const LONG_NAME: &'static str = "TCVC temporal flicker";
    const DESCRIPTION: &'static str =
        "Per-frame temporal error and flicker of the sink stream against the reference stream; passes the sink stream through";
    type Settings = FlickerSettings;

    fn properties() -> Vec<glib::ParamSpec> {
        vec![glib::ParamSpecUInt::builder("static-threshold")
            .nick("Static threshold")
            .blurb("A reference sample is static when it changed by at most this much (0-255) from the previous frame; static-flicker is measured there")
            .maximum(255)
            .default_value(DEFAULT_STATIC_THRESHOLD as u32)
            .mutable_playing()
            .build()]
    }

    fn set_property(settings: &mut FlickerSettings, _name: &str, value: &glib::Value) {
        settings.static_threshold = value.get().expect("type checked upstream");
    }

    fn property(settings: &FlickerSettings, _name: &str) -> glib::Value {
        settings.static_threshold.to_value()
    }

    fn stats_header() -> Option<&'static str> {
        Some(FlickerFrame::CSV_HEADER)
    }

    fn reset(&mut self) {
        self.tracker.reset();
        self.deep.reset();
    }

    fn measure(
        &mut self,
        settings: &FlickerSettings,
        f: &FrameRef<'_>,
    ) -> Result<Option<Measurement>, MetricsError> {
        let threshold = settings.static_threshold.min(255) as u8;
        if self.tracker.static_threshold() != threshold {
            self.tracker = TemporalTracker::new(threshold);
        }
        let t = match f.samples {
            Samples::Eight { test, reference } => self.tracker.push(test, reference)?,
            Samples::Deep {
                test,
                reference,
                depth,
            } => self.deep.push(test, reference, depth, threshold)?,
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

pub struct Flicker {
    core: crate::compare::Core<FlickerMetric>,
}

crate::compare_element!(Flicker, FlickerMetric, CAT);
