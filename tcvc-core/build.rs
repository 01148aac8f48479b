// SPDX-License-Identifier: MIT
include!("../build-support/libtorch.rs");

fn main() {
    println!("cargo:rerun-if-changed=../build-support/libtorch.rs");
    libtorch_link_args();
}
