// SPDX-License-Identifier: MIT
//! glibc allocator tuning for libtorch on the CPU, applied at start by `tcvc-train`,
//! `tcvc-eval` and `tcvc-episode` (the plugin leaves the allocator of the process that loads it
//! alone: docs/colorize.md gives the same setting as environment variables for `gst-launch-1.0`).
//!
//! A training step allocates and frees many activation and gradient buffers of a few hundred KB
//! to tens of MB, and so does a forward pass with frame-sized inputs and outputs. With glibc's
//! defaults each of them is a fresh `mmap` (or a trimmed heap top), so the kernel zeroes its
//! pages again at every step: measured 20 % of the CPU time of a 128² TCVC step in page faults
//! and page clearing, and about an eighth of `tcvclineart ! tcvccolorize`'s time at 1280×720.
//! Raising the mmap threshold to its maximum (32 MiB) and never trimming the heap keeps those
//! buffers in the process for reuse, the usual remedy for libtorch on the CPU (the same as
//! running with `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296`).
//!
//! Skipped when the user set `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` themselves, or
//! `TCVC_NO_MALLOC_TUNING`, and on non-glibc targets. It never changes results, only speed and
//! the resident memory between steps.

/// Applies the tuning (see the module docs); returns whether it was applied.
pub fn tune() -> bool {
    let opted_out = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "TCVC_NO_MALLOC_TUNING",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    !opted_out && apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: `mallopt` only sets allocator parameters (it takes glibc's own lock); both values
    // are in the documented ranges. It returns 1 on success.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}
