// SPDX-License-Identifier: MIT
include!("cargo-helpers/libtorch.rs");

fn main() {
    gst_plugin_version_helper::info();
    println!("cargo:rerun-if-changed=cargo-helpers/libtorch.rs");
    libtorch_link_args();
}
