// SPDX-License-Identifier: MIT
//! `tcvcssim`: see `imp.rs` and docs/ssim.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Ssim(ObjectSubclass<imp::Ssim>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

/**
 * element-tcvcssim:
 *
 * Per-frame SSIM of the `sink` stream (passed through unchanged) against the `reference`
 * stream, frames paired by running time: scikit-image's Gaussian window (default) or FFmpeg's
 * 8×8 window (`window=ffmpeg`, FFmpeg's numbers and its `stats_file` lines via `stats-file`).
 *
 * Messages: one `tcvcssim` per pair with `n` (guint64), `running-time` and `pts` (guint64 ns,
 * when known), one gdouble per component (`y`, `u`, `v` or `r`, `g`, `b`), `all` and `db`; at
 * EOS `tcvcssim-summary` with `frames`, `mean`, `min`, `max`, `unpaired-sink`,
 * `unpaired-reference`. Typed as `gsttcvc::compare::messages::{SsimFrame, Summary}`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=test.mp4 ! decodebin ! videoconvert ! tcvcssim name=s ! \
 *   fakesink filesrc location=ref.mp4 ! decodebin ! videoconvert ! s.reference
 * ]|
 *
 * Since: 0.1
 */
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    imp::Window::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "tcvcssim",
        gst::Rank::NONE,
        Ssim::static_type(),
    )
}
