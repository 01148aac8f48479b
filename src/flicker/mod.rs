// SPDX-License-Identifier: MIT
//! `tcvcflicker`: see `imp.rs` and docs/flicker.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Flicker(ObjectSubclass<imp::Flicker>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

/**
 * element-tcvcflicker:
 *
 * Temporal consistency of the `sink` stream (passed through unchanged) against the
 * `reference` stream, frame to frame: temporal error, flicker, the reference's flicker and
 * static flicker (where the reference holds still, `static-threshold`); a CSV line per frame
 * via `stats-file`.
 *
 * Messages: one `tcvcflicker` per pair after the first of a chain with `n`, `running-time`,
 * `pts`, `temporal-error`, `flicker`, `reference-flicker` and, when some sample is static,
 * `static-flicker`; at EOS `tcvcflicker-summary`. Typed as
 * `gsttcvc::compare::messages::{FlickerFrame, Summary}`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=colorized.mp4 ! decodebin ! videoconvert ! \
 *   tcvcflicker name=f ! fakesink filesrc location=original.mp4 ! decodebin ! videoconvert ! \
 *   f.reference
 * ]|
 *
 * Since: 0.1
 */
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvcflicker",
        gst::Rank::NONE,
        Flicker::static_type(),
    )
}
