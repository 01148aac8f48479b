// SPDX-License-Identifier: MIT
//! `tcvc-episode`: colorizes whole episodes (shots, batched chains, render-farm shards). See
//! `docs/episode.md` and `tcvc-episode --help`; the implementation is [`tcvc_tools::episode`].
fn main() -> std::process::ExitCode {
    tcvc_tools::episode::main()
}
