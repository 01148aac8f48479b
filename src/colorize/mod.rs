// SPDX-License-Identifier: MIT
//! `tcvccolorize`: colorizes line art (or greyscale) video with the TCVC generator, feeding each
//! output back as the next frame's previous frame. See docs/colorize.md.
use gst::glib;
use gst::prelude::*;

mod imp;
pub mod messages;
/// Frame-number patterns (`keyframe-location`), from the core.
pub use tcvc_core::pattern;

glib::wrapper! {
    pub struct Colorize(ObjectSubclass<imp::Colorize>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/**
 * element-tcvccolorize:
 *
 * Colorizes line art (GRAY8 from `tcvclineart`) with the TCVC generator through libtorch, on
 * the CPU or CUDA, feeding each output back as the next frame's previous frame. Without
 * `model-file` it runs the built-in default model. The chain restarts at flushes, new streams,
 * caps changes, discontinuities and gaps (not frames dropped upstream: a DISCONT buffer or a
 * GAP event up to a second after the last frame goes on with the chain; before it, played
 * backwards) and scene cuts;
 * artist keyframes (`keyframe-location`) seed it. `previous-frame=blank` colours every frame on
 * its own instead.
 *
 * Messages: `tcvccolorize-reset` when the chain restarts, with `reason` (string: `flush`,
 * `stream-start`, `caps`, `discont`, `gap` or `scene-cut`), `frame` (guint64, the first frame
 * after the reset) and, for scene cuts, `change` (gdouble, the cut score that triggered it:
 * see `scene-threshold`). Typed in Rust as `gsttcvc::colorize::messages::Reset`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=lineart.mp4 ! decodebin ! videoconvert ! tcvclineart ! \
 *   tcvccolorize ! videoconvert ! x264enc ! mp4mux ! filesink location=color.mp4
 * ]|
 *
 * Since: 0.1
 */
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    imp::Precision::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    imp::Output::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    imp::Previous::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    imp::Orientation::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "tcvccolorize",
        gst::Rank::NONE,
        Colorize::static_type(),
    )
}
