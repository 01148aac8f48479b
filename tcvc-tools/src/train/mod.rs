// SPDX-License-Identifier: MIT
//! `tcvc-train`: trains the TCVC model (Thasarathan, Nazeri & Ebrahimi 2019) — or the paper's
//! pix2pix baseline — on real videos, with exactly the crate's model ([`crate::model`]), line
//! art ([`crate::edges`]), video input ([`crate::video`]) and metrics ([`crate::metrics`]).
//!
//! | module | what |
//! |---|---|
//! | [`config`] | command line and the run configuration stored in checkpoints |
//! | [`data`] | decoding, line art, previous-frame flags, the stacked training tensor |
//! | [`sampler`] | `(input_t, previous, target_t)` samples, the 0.5 coin, no previous across files or cuts |
//! | [`rng`] | the trainer's own PRNG (state saved in checkpoints) |
//! | [`nets`] | generator + discriminator, one training step |
//! | [`adam`] | Adam on tensors with saveable state |
//! | [`checkpoint`] | atomic single-file checkpoints, resume |
//! | [`validation`] | autoregressive validation with `StreamColorizer` + metrics, sample grid |
//! | [`csvlog`], [`plots`], [`progress`] | `losses.csv`, PNG plots, progress bar / lines |
//! | [`crate::malloc`] | glibc allocator tuning (no page-fault churn between steps; shared with the other tools) |
//! | [`trainer`] | the run itself |
//!
//! See `docs/training.md` for the user guide.
pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod csvlog;
pub mod data;
pub mod error;
pub mod nets;
pub mod plots;
pub mod progress;
pub mod rng;
pub mod sampler;
pub mod trainer;
pub mod validation;

pub use config::Args;
pub use error::{TrainError, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE};
pub use trainer::{run, Outcome};

use std::process::ExitCode;

/// The `tcvc-train` program: parses the command line (clap exits with code 2 on a usage
/// error), runs, and maps the result to the exit code (0 done, 1 failed while training, 2 bad
/// input before training, 130 interrupted with a checkpoint saved).
pub fn main() -> ExitCode {
    use clap::Parser;
    crate::malloc::tune();
    let args = Args::parse();
    match run(&args) {
        Ok(Outcome::Interrupted { .. }) => ExitCode::from(EXIT_INTERRUPTED),
        Ok(_) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("tcvc-train: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
