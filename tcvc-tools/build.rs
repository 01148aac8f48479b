// SPDX-License-Identifier: MIT
include!("../cargo-helpers/libtorch.rs");

fn main() {
    println!("cargo:rerun-if-changed=../cargo-helpers/libtorch.rs");
    libtorch_link_args();
}
