// SPDX-License-Identifier: MIT
//! `tcvcssim`: per-frame SSIM of the `sink` stream against the `reference` stream.
use crate::compare::messages::SsimFrame;
use crate::compare::{CompareImpl, FrameRef, Measurement, Samples};
use crate::metrics::{self, MetricsError, SsimWindow};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;
use std::sync::Mutex;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new("tcvcssim", gst::DebugColorFlags::empty(), Some("TCVC SSIM"))
});

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcSsimWindow")]
pub enum Window {
    #[default]
    #[enum_value(
        name = "Gaussian 11x11, sigma 1.5 (Wang et al. 2004; scikit-image's numbers)",
        nick = "gaussian"
    )]
    Gaussian = 0,
    #[enum_value(
        name = "8x8 windows on a 4-pixel grid (ffmpeg's ssim filter)",
        nick = "ffmpeg"
    )]
    Ffmpeg = 1,
}

/// `tcvcssim`: the window setting.
#[derive(Default)]
pub struct Ssim {
    window: Mutex<Window>,
}

#[glib::object_subclass]
impl ObjectSubclass for Ssim {
    const NAME: &'static str = "GstTcvcSsim";
    type Type = super::Ssim;
    type ParentType = crate::compare::Compare;
}

impl ObjectImpl for Ssim {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![glib::ParamSpecEnum::builder_with_default("window", Window::Gaussian)
                .nick("Window")
                .blurb("gaussian: scikit-image structural_similarity(gaussian_weights=True, sigma=1.5); ffmpeg: ffmpeg's ssim filter")
                .mutable_playing()
                .build()]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, _pspec: &glib::ParamSpec) {
        let w: Window = value.get().expect("type checked upstream");
        gst::debug!(CAT, imp = self, "window {w:?}");
        *self.window.lock().unwrap() = w;
    }

    fn property(&self, _id: usize, _pspec: &glib::ParamSpec) -> glib::Value {
        self.window.lock().unwrap().to_value()
    }
}

impl GstObjectImpl for Ssim {}

impl ElementImpl for Ssim {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "TCVC SSIM",
                "Filter/Analyzer/Video",
                "Per-frame SSIM of the sink stream against the reference stream; passes the sink stream through",
                "gst-tcvc developers",
            )
        });
        Some(&*META)
    }
}

impl AggregatorImpl for Ssim {}

impl CompareImpl for Ssim {
    const NAME: &'static str = "tcvcssim";

    fn measure(&self, f: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError> {
        let window = match *self.window.lock().unwrap() {
            Window::Gaussian => SsimWindow::Gaussian,
            Window::Ffmpeg => SsimWindow::Ffmpeg,
        };
        let r = match f.samples {
            Samples::Eight { test, reference } => metrics::ssim(test, reference, window)?,
            Samples::Deep {
                test,
                reference,
                depth,
            } => metrics::ssim_deep(test, reference, window, depth)?,
        };
        let db = r.all_db();
        let msg = SsimFrame {
            n: f.n,
            running_time: f.running_time,
            pts: f.pts,
            components: f
                .components
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .zip(r.planes.iter().copied())
                .collect(),
            all: r.all,
            db,
        };
        let line = msg.stats_line();
        Ok(Some(Measurement {
            message: (&msg).into(),
            stats_line: line,
            main: r.all,
        }))
    }
}
