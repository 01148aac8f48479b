// SPDX-License-Identifier: MIT
//! Batching across streams: `tcvccolorize` instances that share a `model-instance-id` put their
//! frames into one forward pass (each keeps its own chain, resets and messages).
//!
//! There is no batching thread. A stream's streaming thread hands its frame to the group's
//! [`Batcher`] and waits; the batch runs as soon as `batch-size` frames are waiting, or when the
//! oldest has waited `batched-push-timeout`, on whichever waiting thread notices first; every
//! waiter then takes its own row of the output. So a stream that stalls, seeks or ends never holds
//! the others longer than the timeout, and a state change never waits on another pipeline.
use super::{ColorNet, ModelError};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};
use tch::Tensor;

type Result<T> = std::result::Result<T, ModelError>;

/// What must be equal for streams to share a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchKey {
    /// The loaded model (its cache entry's address: same file, device and precision).
    pub model: usize,
    /// Working size `(width, height)`.
    pub working: (i64, i64),
}

struct Request {
    id: u64,
    x: Tensor,
    prev: Tensor,
}

#[derive(Default)]
struct State {
    pending: Vec<Request>,
    /// When the oldest pending request arrived.
    oldest: Option<Instant>,
    results: HashMap<u64, std::result::Result<Tensor, String>>,
    next_id: u64,
    running: bool,
}

/// One group of streams sharing forward passes.
pub struct Batcher {
    /// Behind a mutex so that the group can be shared (one pass runs at a time anyway).
    net: Mutex<ColorNet>,
    key: BatchKey,
    max_batch: usize,
    timeout: Duration,
    state: Mutex<State>,
    cond: Condvar,
    /// Forward passes run (for tests and statistics).
    forwards: Mutex<(u64, u64)>,
}

impl Batcher {
    /// A group running `net` on up to `max_batch` frames per pass, waiting at most `timeout` for
    /// a batch to fill.
    pub fn new(net: ColorNet, key: BatchKey, max_batch: usize, timeout: Duration) -> Self {
        Batcher {
            net: Mutex::new(net),
            key,
            max_batch: max_batch.max(1),
            timeout,
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            forwards: Mutex::new((0, 0)),
        }
    }

    /// `(forward passes, frames)` so far.
    pub fn counts(&self) -> (u64, u64) {
        *self.forwards.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What streams of this group must share.
    pub fn key(&self) -> &BatchKey {
        &self.key
    }

    /// Runs the generator on `x` (`1 × 1 × h × w`) and `prev` (`1 × 3 × h × w`) together with
    /// the other streams' waiting frames; returns this frame's `1 × 3 × h × w` output.
    pub fn infer(&self, x: &Tensor, prev: &Tensor) -> Result<Tensor> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let id = st.next_id;
        st.next_id += 1;
        st.pending.push(Request {
            id,
            x: x.shallow_clone(),
            prev: prev.shallow_clone(),
        });
        st.oldest.get_or_insert_with(Instant::now);
        loop {
            if let Some(r) = st.results.remove(&id) {
                return r.map_err(ModelError::InvalidInput);
            }
            let due = st.pending.len() >= self.max_batch
                || st.oldest.is_some_and(|t| t.elapsed() >= self.timeout);
            if due && !st.running {
                let n = st.pending.len().min(self.max_batch);
                let batch: Vec<Request> = st.pending.drain(..n).collect();
                st.oldest = (!st.pending.is_empty()).then(Instant::now);
                st.running = true;
                drop(st);
                let out = self.run(&batch);
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.running = false;
                match out {
                    Ok(rows) => {
                        for (r, t) in batch.iter().zip(rows) {
                            st.results.insert(r.id, Ok(t));
                        }
                    }
                    Err(e) => {
                        for r in &batch {
                            st.results.insert(r.id, Err(e.to_string()));
                        }
                    }
                }
                self.cond.notify_all();
                continue;
            }
            let wait = match st.oldest {
                Some(t) if !st.running => self.timeout.saturating_sub(t.elapsed()),
                _ => self.timeout,
            };
            st = self
                .cond
                .wait_timeout(st, wait.max(Duration::from_micros(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn run(&self, batch: &[Request]) -> Result<Vec<Tensor>> {
        let xs: Vec<&Tensor> = batch.iter().map(|r| &r.x).collect();
        let ps: Vec<&Tensor> = batch.iter().map(|r| &r.prev).collect();
        let x = Tensor::f_cat(&xs, 0).map_err(ModelError::torch("batching the inputs"))?;
        let p = Tensor::f_cat(&ps, 0).map_err(ModelError::torch("batching the previous frames"))?;
        let out = self
            .net
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .infer(&x, &p)?;
        {
            let mut c = self.forwards.lock().unwrap_or_else(|p| p.into_inner());
            c.0 += 1;
            c.1 += batch.len() as u64;
        }
        Ok((0..batch.len() as i64)
            .map(|i| out.narrow(0, i, 1))
            .collect())
    }
}

static GROUPS: Lazy<Mutex<HashMap<String, Weak<Batcher>>>> = Lazy::new(Mutex::default);

/// The group `id` (made with `make` when no live stream holds it). A live group whose
/// [`BatchKey`] differs from `key` is an error naming the fix.
pub fn group(
    id: &str,
    key: BatchKey,
    make: impl FnOnce() -> Batcher,
) -> std::result::Result<Arc<Batcher>, String> {
    let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    groups.retain(|_, w| w.strong_count() > 0);
    if let Some(b) = groups.get(id).and_then(Weak::upgrade) {
        if b.key != key {
            return Err(format!(
                "model-instance-id '{id}' is already used by a stream with another model, precision, device or working size ({:?} vs {:?}); streams batched together need the same ones: give this element its own model-instance-id",
                b.key.working, key.working
            ));
        }
        return Ok(b);
    }
    let b = Arc::new(make());
    groups.insert(id.to_string(), Arc::downgrade(&b));
    Ok(b)
}

/// `(forward passes, frames)` of the live group `id`, if one is alive.
pub fn counts_of(id: &str) -> Option<(u64, u64)> {
    let groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    groups.get(id).and_then(Weak::upgrade).map(|b| b.counts())
}
