// SPDX-License-Identifier: MIT
//! Errors of the trainer and the process exit codes they map to.
use std::fmt;

/// Exit code of a successful run.
pub const EXIT_OK: u8 = 0;
/// Exit code of a failure while training (a libtorch error, a full disk, ...).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code of a problem found before training starts (bad flag, unreadable input, ...): the
/// message names the file or flag and the fix. clap's own usage errors use the same code.
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C (SIGINT): a checkpoint was saved, `--resume` continues (128 + 2, the
/// shell convention for a process ended by SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why `tcvc-train` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Found before training started: a flag, an input file or an output folder is unusable.
    #[error("{0}")]
    Usage(String),
    /// Failed while training.
    #[error("{0}")]
    Runtime(String),
}

impl TrainError {
    /// A [`TrainError::Usage`] from anything displayable.
    pub fn usage(msg: impl fmt::Display) -> Self {
        TrainError::Usage(msg.to_string())
    }

    /// A [`TrainError::Runtime`] with context, e.g. `runtime("saving a checkpoint")(e)`.
    pub fn runtime<E: fmt::Display>(context: impl fmt::Display) -> impl FnOnce(E) -> Self {
        move |e| TrainError::Runtime(format!("{context}: {e}"))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            TrainError::Usage(_) => EXIT_USAGE,
            TrainError::Runtime(_) => EXIT_RUNTIME,
        }
    }
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Runtime(format!("libtorch error: {e}"))
    }
}

impl From<crate::model::ModelError> for TrainError {
    fn from(e: crate::model::ModelError) -> Self {
        TrainError::Runtime(e.to_string())
    }
}

/// Result with a [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;
