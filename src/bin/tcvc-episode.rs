// SPDX-License-Identifier: MIT
//! `tcvc-episode`: colorizes whole episodes (shots, batched chains, render-farm shards). See
//! `docs/episode.md` and `tcvc-episode --help`; the implementation is [`gsttcvc::episode`].
fn main() -> std::process::ExitCode {
    gsttcvc::episode::main()
}
