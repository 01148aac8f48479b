// SPDX-License-Identifier: MIT
//! Splitting per-row work over a few scoped threads.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// 0: use [`std::thread::available_parallelism`].
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Below this much work per thread (in [`for_plane_row_chunks`]'s units, ~0.1 ns each on a current
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

/// Calls `work(p, first_row, rows)` on contiguous chunks of every plane's rows, on the calling
/// thread and up to [`max_threads`]` − 1` scoped threads, all planes in one parallel region:
/// `outs[p]` has one entry per output row of plane `p`, and `row_work[p]` is the cost of one of
/// its rows in units of one PSNR sample (it decides how many threads are worth starting). Every
/// thread takes the same share of every plane, so a frame starts its threads once and small
/// planes (I420 chroma) are split too.
pub(crate) fn for_plane_row_chunks<T, F>(outs: Vec<&mut [T]>, row_work: &[usize], work: F)
where
    T: Send,
    F: Fn(usize, usize, &mut [T]) + Sync,
{
    let total: usize = outs
        .iter()
        .zip(row_work)
        .map(|(o, w)| o.len().saturating_mul((*w).max(1)))
        .fold(0, usize::saturating_add);
    let most_rows = outs.iter().map(|o| o.len()).max().unwrap_or(0);
    let threads = max_threads()
        .min(total / MIN_WORK_PER_THREAD)
        .min(most_rows)
        .max(1);
    // jobs[t]: the (plane, first row, rows) thread t computes, in plane order.
    type Job<'a, T> = (usize, usize, &'a mut [T]);
    let mut jobs: Vec<Vec<Job<'_, T>>> = (0..threads).map(|_| Vec::new()).collect();
    for (p, out) in outs.into_iter().enumerate() {
        let chunk = out.len().div_ceil(threads).max(1);
        for (t, part) in out.chunks_mut(chunk).enumerate() {
            jobs[t].push((p, t * chunk, part));
        }
    }
    let run = |list: Vec<Job<'_, T>>| {
        for (p, first, rows) in list {
            work(p, first, rows);
        }
    };
    let mut jobs = jobs.into_iter();
    let mine = jobs.next().unwrap_or_default();
    if threads == 1 {
        run(mine);
        return;
    }
    std::thread::scope(|scope| {
        for list in jobs {
            let run = &run;
            scope.spawn(move || run(list));
        }
        run(mine);
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
        for_plane_row_chunks(vec![&mut out[..]], &[1 << 20], |_, first, rows| {
            for (i, r) in rows.iter_mut().enumerate() {
                *r += first + i;
            }
        });
        assert!(out.iter().enumerate().all(|(i, &v)| v == i));
    }

    #[test]
    fn plane_chunks_cover_all_rows_of_every_plane_once() {
        for threads in [1, 2, 3, 8] {
            set_max_threads(threads);
            let (mut a, mut b, mut c) = (vec![0usize; 1000], vec![0usize; 7], vec![0usize; 0]);
            for_plane_row_chunks(
                vec![&mut a[..], &mut b[..], &mut c[..]],
                &[1 << 20, 1 << 20, 1],
                |p, first, rows| {
                    for (i, r) in rows.iter_mut().enumerate() {
                        *r += 1 + first + i + 10_000 * p;
                    }
                },
            );
            assert!(a.iter().enumerate().all(|(i, &v)| v == 1 + i), "{threads}");
            assert!(
                b.iter().enumerate().all(|(i, &v)| v == 10_001 + i),
                "{threads}"
            );
        }
        set_max_threads(0);
    }

    #[test]
    fn sum() {
        assert_eq!(sum_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), 28.0);
        assert_eq!(sum_f64(&[]), 0.0);
    }
}
