// SPDX-License-Identifier: MIT
//! Splitting per-row work over the calling thread and a few pool threads.
use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, OnceLock};

/// 0: use [`std::thread::available_parallelism`].
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Below this much work per thread (in [`for_plane_row_chunks`]'s units, ~0.1 ns each on a current
/// x86-64 core), a call stays on the calling thread: handing work to another costs microseconds.
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
/// thread and up to [`max_threads`]` − 1` pool threads (`run_on_pool`), all planes in one
/// parallel region:
/// `outs[p]` has one entry per output row of plane `p`, and `row_work[p]` is the cost of one of
/// its rows in units of one PSNR sample (it decides how many threads are worth starting). Every
/// thread takes the same share of every plane, so a frame hands out its tasks once and small
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
    let run = &run;
    let others: Vec<Box<dyn FnOnce() + Send + '_>> = jobs
        .map(|list| Box::new(move || run(list)) as Box<dyn FnOnce() + Send + '_>)
        .collect();
    run_on_pool(others, move || run(mine));
}

/// A task as a pool thread receives it.
type Task = Box<dyn FnOnce() + Send + 'static>;

/// The pool: one channel per thread, threads started on first use and kept for the process (a
/// metric element calls once per frame; starting threads per call cost ~60 µs of a 2.8 ms 1080p
/// SSIM on the 2-core VM of docs/ssim.md). Threads only ever run tasks of [`run_on_pool`], which
/// never wait on the pool themselves, so concurrent callers (several elements) cannot deadlock:
/// each waits for its own tasks only. The process id is kept with the channels: a child
/// process made by `fork` has none of the threads, and starts its own.
static POOL: Mutex<(u32, Vec<Sender<Task>>)> = Mutex::new((0, Vec::new()));

/// Runs `others` on pool threads (one each) and `mine` on the calling thread, and returns when
/// all have finished; a panic in any of them is resumed on the calling thread once all have
/// finished. Tasks the pool cannot take (a thread that cannot be started) run on the calling
/// thread.
fn run_on_pool<'a>(others: Vec<Box<dyn FnOnce() + Send + 'a>>, mine: impl FnOnce()) {
    /// Waits, even while unwinding, until every task handed out has finished or been dropped:
    /// only then may the data the tasks borrow go away.
    struct Wait {
        done: Receiver<std::thread::Result<()>>,
        pending: usize,
        panic: Option<Box<dyn Any + Send>>,
    }
    impl Wait {
        fn all(&mut self) {
            while self.pending > 0 {
                match self.done.recv() {
                    Ok(Err(p)) => {
                        self.panic.get_or_insert(p);
                    }
                    Ok(Ok(())) => {}
                    // Every sender is gone: the tasks not reported were dropped unrun.
                    Err(_) => break,
                }
                self.pending -= 1;
            }
        }
    }
    impl Drop for Wait {
        fn drop(&mut self) {
            self.all();
        }
    }
    let (tx, done) = channel();
    let mut wait = Wait {
        done,
        pending: 0,
        panic: None,
    };
    let mut inline = Vec::new();
    {
        let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let (pid, pool) = &mut *guard;
        if *pid != std::process::id() {
            *pid = std::process::id();
            pool.clear();
        }
        for (i, task) in others.into_iter().enumerate() {
            let tx = tx.clone();
            // `task` (and what it borrows) is consumed by `catch_unwind` before the result is
            // sent; the closure keeps only the sender.
            let job: Box<dyn FnOnce() + Send + 'a> = Box::new(move || {
                let result = catch_unwind(AssertUnwindSafe(task));
                let _ = tx.send(result);
            });
            // SAFETY: `wait` (dropped before this function returns or unwinds) blocks until
            // `job` has run or has been dropped (either way its sender is gone), and `job`
            // touches the borrowed data only before it sends; nothing borrowed outlives 'a.
            let job: Task =
                unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Task>(job) };
            while pool.len() <= i {
                let (stx, srx) = channel::<Task>();
                let started = std::thread::Builder::new()
                    .name(format!("tcvc-metrics-{}", pool.len() + 1))
                    .spawn(move || {
                        for task in srx {
                            task();
                        }
                    });
                if started.is_err() {
                    break;
                }
                pool.push(stx);
            }
            match pool.get(i) {
                Some(thread) => match thread.send(job) {
                    Ok(()) => wait.pending += 1,
                    // The thread is gone: run the task here.
                    Err(e) => inline.push(e.0),
                },
                None => inline.push(job),
            }
        }
    }
    drop(tx);
    for job in inline {
        job();
        wait.pending += 1;
    }
    let mine = catch_unwind(AssertUnwindSafe(mine));
    wait.all();
    if let Err(p) = mine {
        resume_unwind(p);
    }
    if let Some(p) = wait.panic.take() {
        resume_unwind(p);
    }
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
        let _settings = crate::metrics::TestSettings::lock();
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
    }

    #[test]
    fn pool_threads_are_reused_and_panics_reach_the_caller() {
        let data: Vec<usize> = (0..1000).collect();
        let total = AtomicUsize::new(0);
        for round in 0..50 {
            let (a, b) = data.split_at(400);
            let total = &total;
            let tasks: Vec<Box<dyn FnOnce() + Send + '_>> = vec![Box::new(move || {
                total.fetch_add(b.iter().sum::<usize>(), Ordering::Relaxed);
            })];
            run_on_pool(tasks, || {
                total.fetch_add(a.iter().sum::<usize>(), Ordering::Relaxed);
            });
            assert_eq!(
                total.swap(0, Ordering::Relaxed),
                999 * 1000 / 2,
                "round {round}"
            );
        }
        // A panic in a pool task is resumed on the caller, after the caller's own share ran.
        let mine_ran = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let tasks: Vec<Box<dyn FnOnce() + Send + '_>> =
                vec![Box::new(|| panic!("task failed"))];
            run_on_pool(tasks, || {
                mine_ran.fetch_add(1, Ordering::Relaxed);
            });
        }));
        let msg = caught.expect_err("the panic reaches the caller");
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"task failed"));
        assert_eq!(mine_ran.load(Ordering::Relaxed), 1);
        // The pool still works afterwards, from several calling threads at once.
        std::thread::scope(|s| {
            for t in 0..4usize {
                s.spawn(move || {
                    for _ in 0..20 {
                        let mut out = vec![0usize; 301];
                        let parts: Vec<&mut [usize]> = out.chunks_mut(101).collect();
                        let tasks: Vec<Box<dyn FnOnce() + Send + '_>> = parts
                            .into_iter()
                            .enumerate()
                            .map(|(k, part)| {
                                Box::new(move || {
                                    for (i, v) in part.iter_mut().enumerate() {
                                        *v = t + 101 * k + i;
                                    }
                                }) as Box<dyn FnOnce() + Send + '_>
                            })
                            .collect();
                        run_on_pool(tasks, || {});
                        assert!(out.iter().enumerate().all(|(i, &v)| v == t + i));
                    }
                });
            }
        });
        // Threads are kept, not started per call: at most one per task of the widest call
        // (other tests of this process use up to 8 threads; this one made 131 calls).
        assert!(POOL.lock().map_or(0, |p| p.1.len()) <= 7);
    }

    #[test]
    fn sum() {
        assert_eq!(sum_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), 28.0);
        assert_eq!(sum_f64(&[]), 0.0);
    }
}
