// SPDX-License-Identifier: MIT
//! `tcvclineart`: Canny line art (black lines on white) or greyscale from any common raw video
//! format.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct LineArt(ObjectSubclass<imp::LineArt>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/**
 * element-tcvclineart:
 *
 * Synthetic line art as the TCVC paper trains on it: the frame turned grey (Y plane, or
 * scikit-image's rgb2gray weights for RGB input), a Gaussian blur (σ 1) and Canny edges
 * (thresholds 25.5 / 51 on the L2 gradient), drawn black (0) on white (255) as GRAY8.
 * `mode=greyscale` outputs the grey image itself. Posts no messages.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! tcvclineart ! \
 *   videoconvert ! x264enc ! mp4mux ! filesink location=lineart.mp4
 * ]|
 *
 * Since: 0.1
 */
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    imp::Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "tcvclineart",
        gst::Rank::NONE,
        LineArt::static_type(),
    )
}
