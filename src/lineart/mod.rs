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

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvclineart",
        gst::Rank::NONE,
        LineArt::static_type(),
    )
}
