// SPDX-License-Identifier: MIT
//! Splitting per-row work over a few scoped threads.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// 0: use [`std::thread::available_parallelism`].
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Below this much work per thread (in [`for_row_chunks`]'s units, ~0.1 ns each on a current
/// x86-64 core), a call does not spawn threads: starting one costs tens of microseconds.
const MIN_WORK_PER_THREAD: usize = 2 << 20;

/// Sets the maximum number of threads one metric call uses (the calling thread included); 0
/// restores the default, [`std::thread::available_parallelism`]. Results do not depend on it.
pub fn set_max_threads(threads: usize) {
    MAX_THREADS.store(threads, Ordering::Relaxed);
}

/// The maximum number of threads one metric call uses (the calling thread included).
pub fn max_threads() -> usize {
    match MAX_THREADS.load(Ordering::Relaxed) {
        0 => {
            static AVAILABLE: OnceLock<usize> = OnceLock::new();
            *AVAILABLE.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
        n => n,
    }
}

/// Calls `work(first_row, rows)` on contiguous chunks of `out` (one entry per row), on the calling
/// thread and up to [`max_threads`]` − 1` scoped threads. `row_work` is the cost of one row in
/// units of one PSNR sample; it decides how many threads are worth starting.
pub(crate) fn for_row_chunks<T, F>(out: &mut [T], row_work: usize, work: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let rows = out.len();
    let by_size = rows.saturating_mul(row_work.max(1)) / MIN_WORK_PER_THREAD;
    let threads = max_threads().min(by_size).min(rows).max(1);
    if threads == 1 {
        work(0, out);
        return;
    }
    let chunk = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        let mut chunks = out.chunks_mut(chunk).enumerate();
        let first = chunks.next();
        for (i, part) in chunks {
            let work = &work;
            scope.spawn(move || work(i * chunk, part));
        }
        if let Some((_, part)) = first {
            work(0, part);
        }
    });
}

/// Sum of `values` with four independent accumulators (vectorisable, fixed order).
#[inline(always)]
pub(crate) fn sum_f64(values: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = values.chunks_exact(4);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: f64 = chunks.remainder().iter().sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_all_rows_once() {
        let mut out = vec![0usize; 1000];
        for_row_chunks(&mut out, 1 << 20, |first, rows| {
            for (i, r) in rows.iter_mut().enumerate() {
                *r += first + i;
            }
        });
        assert!(out.iter().enumerate().all(|(i, &v)| v == i));
    }

    #[test]
    fn sum() {
        assert_eq!(sum_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), 28.0);
        assert_eq!(sum_f64(&[]), 0.0);
    }
}
