// SPDX-License-Identifier: MIT
//! The gst-tcvc tools on the core (`tcvc-core`): [`train`] (`tcvc-train`), [`eval`]
//! (`tcvc-eval`) and [`episode`] (`tcvc-episode`). Each binary's `main` is a few lines calling
//! the module's `main`.
pub mod episode;
pub mod eval;
pub mod malloc;
pub mod train;

pub use tcvc_core::{device, edges, fsutil, metrics, model, pattern, video};
