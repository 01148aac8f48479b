// SPDX-License-Identifier: MIT
//! `tcvc-train`: trains the TCVC colorization model on videos. See `docs/training.md` and
//! `tcvc-train --help`; the implementation is [`tcvc_tools::train`].
fn main() -> std::process::ExitCode {
    tcvc_tools::train::main()
}
