// SPDX-License-Identifier: MIT
//! `tcvcpsnr`: per-frame PSNR (ffmpeg's definitions) of `sink` against `reference`.
use crate::compare::messages::PsnrFrame;
use crate::compare::{FrameRef, Measurement, Metric, Samples};
use crate::metrics::{self, MetricsError};
use gst::glib;
use gst::subclass::prelude::*;
use once_cell::sync::Lazy;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new("tcvcpsnr", gst::DebugColorFlags::empty(), Some("TCVC PSNR"))
});

#[derive(Default)]
pub struct PsnrMetric;

impl Metric for PsnrMetric {
    const NAME: &'static str = "tcvcpsnr";
    const LONG_NAME: &'static str = "TCVC PSNR";
    const DESCRIPTION: &'static str =
        "Per-frame PSNR (ffmpeg's definitions) of the sink stream against the reference stream; passes the sink stream through";
    type Settings = ();

    fn measure(&mut self, _: &(), f: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError> {
        let r = match f.samples {
            Samples::Eight { test, reference } => metrics::psnr(test, reference)?,
            Samples::Deep {
                test,
                reference,
                depth,
            } => metrics::psnr_deep(test, reference, depth)?,
        };
        let lower: Vec<char> = f
            .components
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let msg = PsnrFrame {
            n: f.n,
            running_time: f.running_time,
            pts: f.pts,
            mse_avg: r.mse_avg,
            psnr_avg: r.psnr_avg,
            components: lower
                .iter()
                .zip(&r.planes)
                .map(|(c, p)| (*c, p.mse, p.psnr))
                .collect(),
        };
        Ok(Some(Measurement {
            message: (&msg).into(),
            stats_line: msg.stats_line(),
            main: r.psnr_avg,
        }))
    }
}

pub struct Psnr {
    core: crate::compare::Core<PsnrMetric>,
}

crate::compare_element!(Psnr, PsnrMetric, CAT);
