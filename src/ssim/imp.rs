// SPDX-License-Identifier: MIT
//! `tcvcssim`: per-frame SSIM of the `sink` stream against the `reference` stream.
use crate::compare::messages::SsimFrame;
use crate::compare::{FrameRef, Measurement, Metric, Samples};
use crate::metrics::{self, MetricsError, SsimWindow};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use once_cell::sync::Lazy;

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

#[derive(Default)]
pub struct SsimMetric;

impl Metric for SsimMetric {
    const NAME: &'static str = "tcvcssim";
    const LONG_NAME: &'static str = "TCVC SSIM";
    const DESCRIPTION: &'static str =
        "Per-frame SSIM of the sink stream against the reference stream; passes the sink stream through";
    type Settings = Window;

    fn properties() -> Vec<glib::ParamSpec> {
        vec![glib::ParamSpecEnum::builder_with_default("window", Window::Gaussian)
            .nick("Window")
            .blurb("gaussian: scikit-image structural_similarity(gaussian_weights=True, sigma=1.5); ffmpeg: ffmpeg's ssim filter")
            .mutable_playing()
            .build()]
    }

    fn set_property(settings: &mut Window, _name: &str, value: &glib::Value) {
        *settings = value.get().expect("type checked upstream");
    }

    fn property(settings: &Window, _name: &str) -> glib::Value {
        settings.to_value()
    }

    fn measure(
        &mut self,
        window: &Window,
        f: &FrameRef<'_>,
    ) -> Result<Option<Measurement>, MetricsError> {
        let window = match window {
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

pub struct Ssim {
    core: crate::compare::Core<SsimMetric>,
}

crate::compare_element!(Ssim, SsimMetric, CAT);
