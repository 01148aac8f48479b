// SPDX-License-Identifier: MIT
//! `tcvcpsnr`: see `imp.rs` and docs/psnr.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Psnr(ObjectSubclass<imp::Psnr>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

/**
 * element-tcvcpsnr:
 *
 * Per-frame PSNR (FFmpeg's definitions and `stats_file` lines) of the `sink` stream (passed
 * through unchanged) against the `reference` stream, frames paired by running time.
 *
 * Messages: one `tcvcpsnr` per pair with `n`, `running-time`, `pts`, `mse-avg`, `psnr-avg` and
 * `mse-<c>` / `psnr-<c>` per component; at EOS `tcvcpsnr-summary` (as `tcvcssim`'s). Typed as
 * `gsttcvc::compare::messages::{PsnrFrame, Summary}`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=test.mp4 ! decodebin ! videoconvert ! tcvcpsnr name=p ! \
 *   fakesink filesrc location=ref.mp4 ! decodebin ! videoconvert ! p.reference
 * ]|
 *
 * Since: 0.1
 */
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvcpsnr",
        gst::Rank::NONE,
        Psnr::static_type(),
    )
}
