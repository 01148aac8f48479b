// SPDX-License-Identifier: MIT
//! gst-tcvc: temporally coherent colorization of line-art video for GStreamer.
//!
//! The plugin `tcvc` (library `gsttcvc`) provides:
//! - `tcvclineart`: Canny line extraction (black lines on white), the synthetic line art the
//!   colorization model is trained on.
//! - `tcvccolorize`: the TCVC generator on a stream, each output fed back as the next frame's
//!   previous frame ([`model::stream`]).
//! - `tcvcssim`, `tcvcpsnr`, `tcvcflicker`: per-frame quality of a stream against a reference
//!   (one shared aggregator, [`compare`], over the [`metrics`] module).
//!
//! The shared modules (edges, metrics, model, video, device, fsutil, pattern) live in the
//! `tcvc-core` crate and are re-exported here; the tools (`tcvc-train`, `tcvc-eval`,
//! `tcvc-episode`) are the `tcvc-tools` crate. Never copy their code into an element or a binary.
use gst::glib;
use gst::prelude::*;

pub mod colorize;
pub mod compare;
mod flicker;
mod formatcaps;
mod lineart;
pub mod message;
mod psnr;
mod ssim;

pub use tcvc_core::{device, edges, fsutil, metrics, model, pattern, video};

/**
 * plugin-tcvc:
 *
 * Temporally coherent colorization of line-art video (Thasarathan, Nazeri & Ebrahimi 2019):
 * line art (`tcvclineart`), the TCVC generator on a stream (`tcvccolorize`) and per-frame
 * quality against a reference (`tcvcssim`, `tcvcpsnr`, `tcvcflicker`, on the abstract
 * `GstTcvcCompare`).
 *
 * Since: 0.1
 */
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // The abstract base class is documented with the plugin (gst-inspect, hotdoc).
    compare::Compare::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    lineart::register(plugin)?;
    colorize::register(plugin)?;
    ssim::register(plugin)?;
    psnr::register(plugin)?;
    flicker::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    tcvc,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
