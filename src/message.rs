// SPDX-License-Identifier: MIT
//! The error of the element messages' `TryFrom<&gst::StructureRef>` conversions (`tcvccolorize`'s
//! resets, the comparison elements' per-frame figures and summaries).

/// A structure that is not the message asked for, or lacks a field of it; the text names which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MessageError(pub String);
