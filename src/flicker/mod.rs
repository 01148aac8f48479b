// SPDX-License-Identifier: MIT
//! `tcvcflicker`: see `imp.rs` and docs/flicker.md.
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Flicker(ObjectSubclass<imp::Flicker>)
        @extends crate::compare::Compare, gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "tcvcflicker",
        gst::Rank::NONE,
        Flicker::static_type(),
    )
}
