// SPDX-License-Identifier: MIT
//! `tcvc-eval`: evaluates colorization models on videos (the paper's Table I beside trivial
//! baselines). See `docs/eval.md` and `tcvc-eval --help`; the implementation is
//! [`tcvc_tools::eval`].
fn main() -> std::process::ExitCode {
    tcvc_tools::eval::main()
}
