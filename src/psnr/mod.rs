// SPDX-License-Identifier: MIT
//! `tcvcpsnr`: see `imp.rs` and docs/psnr.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Psnr(ObjectSubclass<imp::Psnr>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvcpsnr",
        gst::Rank::NONE,
        Psnr::static_type(),
    )
}
