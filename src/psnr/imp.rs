// SPDX-License-Identifier: MIT
//! `tcvcpsnr`: per-frame PSNR (ffmpeg's definitions) of `sink` against `reference`.
use crate::compare::messages::PsnrFrame;
use crate::compare::{CompareImpl, FrameRef, Measurement, Samples};
use crate::metrics::{self, MetricsError};
use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new("tcvcpsnr", gst::DebugColorFlags::empty(), Some("TCVC PSNR"))
});

/// `tcvcpsnr`: no state of its own.
#[derive(Default)]
pub struct Psnr;

#[glib::object_subclass]
impl ObjectSubclass for Psnr {
    const NAME: &'static str = "GstTcvcPsnr";
    type Type = super::Psnr;
    type ParentType = crate::compare::Compare;
}

impl ObjectImpl for Psnr {}

impl GstObjectImpl for Psnr {}

impl ElementImpl for Psnr {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "TCVC PSNR",
                "Filter/Analyzer/Video",
                "Per-frame PSNR (ffmpeg's definitions) of the sink stream against the reference stream; passes the sink stream through",
                "gst-tcvc developers",
            )
        });
        Some(&*META)
    }
}

impl AggregatorImpl for Psnr {}

impl CompareImpl for Psnr {
    const NAME: &'static str = "tcvcpsnr";

    fn measure(&self, f: &FrameRef<'_>) -> Result<Option<Measurement>, MetricsError> {
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
        gst::trace!(CAT, imp = self, "frame {}: psnr_avg {}", f.n, r.psnr_avg);
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
