// SPDX-License-Identifier: MIT
include!("cargo-helpers/libtorch.rs");

fn main() {
    gst_plugin_version_helper::info();
    libtorch_link_args();
}
