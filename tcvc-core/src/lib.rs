// SPDX-License-Identifier: MIT
//! The core of gst-tcvc, shared by the plugin (`gsttcvc`, which re-exports these modules) and the
//! tools (`tcvc-tools`): one copy of each piece.
//!
//! - [`edges`]: grey conversion and Canny line art, exactly as `tcvclineart` makes it;
//! - [`metrics`]: PSNR, SSIM (Gaussian and FFmpeg windows), temporal figures, 8 and 10 bits;
//! - [`model`]: the TCVC generator, pix2pix baseline, discriminator, feature nets, losses, the
//!   model file, the streaming colorizer, scene cuts, cross-stream batching, the model cache;
//! - [`video`]: decoding clips (GStreamer, image folders) for the tools;
//! - [`pattern`]: frame-number file patterns (`keys/%05d.png`);
//! - [`device`]: `auto` / `cpu` / `cuda[:N]`; [`fsutil`]: the durable atomic write and checksum.
pub mod device;
pub mod edges;
pub mod fsutil;
pub mod metrics;
pub mod model;
pub mod pattern;
pub mod video;
