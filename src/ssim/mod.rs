// SPDX-License-Identifier: MIT
//! `tcvcssim`: see `imp.rs` and docs/ssim.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Ssim(ObjectSubclass<imp::Ssim>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvcssim",
        gst::Rank::NONE,
        Ssim::static_type(),
    )
}
