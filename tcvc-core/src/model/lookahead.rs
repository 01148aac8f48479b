// SPDX-License-Identifier: MIT
//! Frames that wait for the next artist keyframe of a stream, so that it can be moved back into
//! them ([`KeyframeBack`]): the rule and the queue of `tcvccolorize keyframe-lookahead` and
//! `tcvc-eval --keyframe-lookahead`, which give the frames of `tcvc-episode colorize
//! --keyframe-backward` (it knows a shot's keys when the shot starts and keeps its own queue).

use super::stream::KeyframeBack;
use std::collections::VecDeque;

/// Whether frame `n` waits for the keyframe at frame `next` (after `n`) when the last keyframe
/// of its shot was `last`: when it is nearer to `next` than to `last`, or its shot has no
/// keyframe yet. `tcvc-episode --keyframe-backward` applies the same rule.
pub fn waits_for(n: u64, next: u64, last: Option<u64>) -> bool {
    next > n && last.is_none_or(|l| next - n < n - l)
}

/// Outputs in stream order: frames, each either waiting for the next keyframe (with its
/// full-resolution input plane, `width × height` bytes, which [`KeyframeBack::paint`] needs) or
/// free to go, and other items (events) that keep their place among them. Nothing overtakes a
/// waiting frame.
#[derive(Debug)]
pub struct Lookahead<T> {
    /// (item, its input plane while it waits, whether it is a frame).
    queue: VecDeque<(T, Option<Vec<u8>>, bool)>,
    last_key: Option<u64>,
}

impl<T> Default for Lookahead<T> {
    fn default() -> Self {
        Lookahead {
            queue: VecDeque::new(),
            last_key: None,
        }
    }
}

impl<T> Lookahead<T> {
    /// Whether frame `n` waits, `next` being the first keyframe within the lookahead after it.
    pub fn waits(&self, n: u64, next: Option<u64>) -> bool {
        next.is_some_and(|k| waits_for(n, k, self.last_key))
    }

    /// Queues a frame: waiting with its input plane `input`, or free (`None`).
    pub fn push(&mut self, item: T, input: Option<Vec<u8>>) {
        self.queue.push_back((item, input, true));
    }

    /// Queues an item that is not a frame (an event): it goes when the frames before it have.
    pub fn push_other(&mut self, item: T) {
        self.queue.push_back((item, None, false));
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether some item waits.
    pub fn waiting(&self) -> bool {
        self.queue.iter().any(|(_, i, _)| i.is_some())
    }

    /// Lets every item go as it is (a frame that does not wait, a cut at a keyframe).
    pub fn release(&mut self) {
        for (_, input, _) in &mut self.queue {
            *input = None;
        }
    }

    /// A reset before the next frame (a cut, a discontinuity, a gap, a caps change...): the
    /// waiting items belong to the shot before it and go as they are, and the new shot has no
    /// keyframe yet.
    pub fn reset(&mut self) {
        self.release();
        self.last_key = None;
    }

    /// The keyframe of frame `n` arrived: the waiting items are painted with `back` nearest
    /// first (`paint(item, back, input plane)`), or, without `back` (a cut at the keyframe, no
    /// keyframe carry), go as they are; `n` becomes the shot's last keyframe.
    pub fn keyframe<E>(
        &mut self,
        n: u64,
        back: Option<&mut KeyframeBack>,
        mut paint: impl FnMut(&mut T, &mut KeyframeBack, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.last_key = Some(n);
        if let Some(back) = back {
            // Nearest first; free items (events among the waiting frames) are passed over.
            for (item, input, _) in self.queue.iter_mut().rev() {
                if let Some(plane) = input.take() {
                    paint(item, back, &plane)?;
                }
            }
        }
        self.release();
        Ok(())
    }

    /// The oldest item, if it may go: it does not wait, and it is not a frame or more than
    /// `keep` frames are queued (the element keeps its lookahead's frames so that every frame
    /// goes out the same number of frames late; a waiting frame never outlives `keep` newer
    /// frames, since its keyframe is at most that many frames after it).
    pub fn pop_ready(&mut self, keep: usize) -> Option<T> {
        match self.queue.front()? {
            (_, Some(_), _) => None,
            (_, None, true) if self.queue.iter().filter(|e| e.2).count() <= keep => None,
            _ => self.queue.pop_front().map(|(item, ..)| item),
        }
    }

    /// Every item, oldest first, as they are (the end of the stream: no keyframe comes).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.queue.drain(..).map(|(item, ..)| item)
    }
}

/// The first keyframe within the lookahead after each frame of a stream, found with one
/// existence check a frame once the stream runs (the element's keyframe files may lie on a
/// render farm's network share, where every check is a round trip): the frames already checked
/// and the keyframes among them are remembered, and only the frames that came into the window
/// since the last frame are checked. A frame number that does not move forward (a seek, a new
/// stream) or another `pattern` starts over.
#[derive(Debug, Default)]
pub struct NextKeyframe {
    /// The pattern the checks were made for, the last frame asked about, and the last frame
    /// checked (every frame after the last one asked about up to it has been).
    checked: Option<(String, u64, u64)>,
    /// The keyframes among the checked frames after the last one asked about, in order.
    keys: VecDeque<u64>,
}

impl NextKeyframe {
    /// The first keyframe among frames `n + 1 ..= n + lookahead`, `exists(k)` telling whether
    /// frame `k` has one (called at most once for each frame while `n` moves forward).
    pub fn find(
        &mut self,
        pattern: &str,
        n: u64,
        lookahead: u64,
        mut exists: impl FnMut(u64) -> bool,
    ) -> Option<u64> {
        let end = n.saturating_add(lookahead);
        let resume = match &self.checked {
            Some((p, last, to)) if p == pattern && n > *last => Some(*to),
            _ => None,
        };
        if resume.is_none() {
            self.keys.clear();
        }
        while self.keys.front().is_some_and(|&k| k <= n) {
            self.keys.pop_front();
        }
        let mut to = resume.map_or(n, |to| to.max(n));
        while to < end {
            to += 1;
            if exists(to) {
                self.keys.push_back(to);
            }
        }
        match &mut self.checked {
            Some((p, last, checked)) if p == pattern => (*last, *checked) = (n, to),
            other => *other = Some((pattern.to_owned(), n, to)),
        }
        self.keys.front().copied().filter(|&k| k <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_nearer_to_the_next_keyframe_wait_and_go_in_order() {
        // Keys at 1 and 6: of 2..5 only 4 and 5 are nearer to 6 than to 1; before the first key
        // of a shot every frame waits.
        assert!(waits_for(0, 1, None));
        assert!(!waits_for(3, 6, Some(1)) && !waits_for(2, 6, Some(1)));
        assert!(waits_for(4, 6, Some(1)) && waits_for(5, 6, Some(1)));
        assert!(!waits_for(6, 6, Some(1)));
        let mut l = Lookahead::default();
        l.push("a", None);
        l.push("b", Some(vec![1]));
        l.push_other("tag");
        l.push("c", Some(vec![2]));
        assert_eq!(l.pop_ready(3), None, "three frames are kept");
        assert_eq!(l.pop_ready(0), Some("a"));
        assert_eq!(l.pop_ready(0), None, "b waits, and what follows it");
        assert!(l.waiting());
        // No `KeyframeBack` (a cut at the key): everything goes as it is, in order.
        l.keyframe(9, None, |_, _, _| Err("not painted")).unwrap();
        assert!(!l.waiting());
        assert!(!l.waits(10, Some(20)), "10 is nearer to the key at 9");
        assert!(l.waits(15, Some(20)));
        assert_eq!(l.drain().collect::<Vec<_>>(), ["b", "tag", "c"]);
        l.reset();
        assert!(l.waits(10, Some(20)), "a reset forgets the key");
        assert!(l.is_empty());

        // With a keyframe to move back: the waiting items nearest first, events passed over.
        let blank = |c| tch::Tensor::ones([1, c, 8, 8], (tch::Kind::Float, tch::Device::Cpu));
        let mut back = KeyframeBack::new(
            &blank(3),
            &blank(1),
            super::super::InputMode::Lineart,
            false,
        )
        .unwrap();
        l.push("a", Some(vec![1]));
        l.push_other("tag");
        l.push("b", Some(vec![2]));
        let mut order = Vec::new();
        l.keyframe(30, Some(&mut back), |item, _, plane| {
            order.push((*item, plane[0]));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(order, [("b", 2), ("a", 1)]);
        assert_eq!(l.pop_ready(1), Some("a"));
        assert_eq!(
            l.pop_ready(1),
            Some("tag"),
            "an event goes when the frame before it has"
        );
        assert_eq!(l.pop_ready(1), None, "one frame is kept");
        assert!(!l.waits(31, Some(40)), "31 is nearer to the key at 30");
    }

    #[test]
    fn the_next_keyframe_is_found_with_one_check_a_frame() {
        let keys = [5u64, 9, 30];
        let mut checks = Vec::new();
        let mut next = NextKeyframe::default();
        let find = |next: &mut NextKeyframe, p: &str, n: u64, look: u64, c: &mut Vec<u64>| {
            next.find(p, n, look, |k| {
                c.push(k);
                keys.contains(&k)
            })
        };
        // The first frame checks the whole window, every later one only its newest frame.
        assert_eq!(find(&mut next, "a", 0, 6, &mut checks), Some(5));
        assert_eq!(checks, (1..=6).collect::<Vec<_>>());
        checks.clear();
        let found: Vec<_> = (1..=12)
            .map(|n| find(&mut next, "a", n, 6, &mut checks))
            .collect();
        assert_eq!(checks, (7..=18).collect::<Vec<_>>(), "one check a frame");
        let naive = |n: u64, look: u64| (n + 1..=n + look).find(|k| keys.contains(k));
        assert_eq!(found, (1..=12).map(|n| naive(n, 6)).collect::<Vec<_>>());
        // A skipped frame checks only what it has not seen; a shorter window stops earlier.
        checks.clear();
        assert_eq!(find(&mut next, "a", 20, 6, &mut checks), None);
        assert_eq!(checks, (21..=26).collect::<Vec<_>>());
        assert_eq!(
            find(&mut next, "a", 25, 2, &mut checks),
            None,
            "30 is beyond 27"
        );
        assert_eq!(find(&mut next, "a", 26, 4, &mut checks), Some(30));
        // A frame that does not move forward (a seek) or another pattern starts over.
        checks.clear();
        assert_eq!(find(&mut next, "a", 3, 6, &mut checks), Some(5));
        assert_eq!(checks, (4..=9).collect::<Vec<_>>());
        checks.clear();
        assert_eq!(find(&mut next, "b", 4, 6, &mut checks), Some(5));
        assert_eq!(checks, (5..=10).collect::<Vec<_>>());
    }
}
