// SPDX-License-Identifier: MIT
//! `tcvccolorize`: colorizes line art (or greyscale) video with the TCVC generator, feeding each
//! output back as the next frame's previous frame. See docs/colorize.md.
use gst::glib;
use gst::prelude::*;

mod imp;
pub mod messages;
pub mod pattern;

glib::wrapper! {
    pub struct Colorize(ObjectSubclass<imp::Colorize>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvccolorize",
        gst::Rank::NONE,
        Colorize::static_type(),
    )
}
