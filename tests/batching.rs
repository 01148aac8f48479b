// SPDX-License-Identifier: MIT
//! Batching across streams: three pipelines in one process whose `tcvccolorize` share a
//! `model-instance-id` make the same frames as three unbatched elements (CPU fp32, up to the
//! rounding of other batch sizes, [`common::FrameMatch::BatchRounding`]), in fewer forward passes; a stream that is missing or ends early never holds the others
//! longer than `batched-push-timeout`; mismatched groups are a clear error.
mod common;

use common::{assert_frames_match, FrameMatch};
use gst::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// `videoflip video-direction` values: three different streams from one clip.
const METHODS: [&str; 3] = ["identity", "horiz", "vert"];

fn pipeline(
    clip: &Path,
    method: &str,
    props: &str,
    eos_after: Option<u32>,
) -> (gst::Pipeline, gst_app::AppSink) {
    let eos = eos_after
        .map(|n| format!("identity eos-after={n} ! "))
        .unwrap_or_default();
    common::launch_with_sink(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoflip video-direction={method} ! {eos}videoconvert ! tcvclineart ! tcvccolorize {props} ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        clip.display()
    ))
}

/// Frames of batched passes against an unbatched element's.
const BATCHED: FrameMatch = FrameMatch::BatchRounding { max: 1 };

/// Every stream's frames (packed RGB).
type Streams = Vec<Vec<Vec<u8>>>;

/// Runs the pipelines at once, each pulled on its own thread; returns every stream's frames.
fn run_all(
    ps: Vec<(gst::Pipeline, gst_app::AppSink)>,
    group: Option<&str>,
) -> (Streams, Option<(u64, u64)>) {
    for (p, _) in &ps {
        p.set_state(gst::State::Playing).unwrap();
    }
    let frames: Streams = std::thread::scope(|s| {
        let hs: Vec<_> = ps
            .iter()
            .map(|(_, sink)| {
                s.spawn(move || {
                    let mut f = Vec::new();
                    while let Ok(x) = sink.pull_sample() {
                        f.push(common::plane_packed(&x, 0).0);
                    }
                    f
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let counts = group.and_then(gsttcvc::model::batch::counts_of);
    for (p, _) in &ps {
        p.set_state(gst::State::Null).unwrap();
    }
    (frames, counts)
}

#[test]
fn three_streams_in_one_batch_equal_three_unbatched_elements() {
    common::init();
    let dir = common::scratch_dir("batching");
    let clip = common::clip_with_cuts(&dir);
    let n = common::CUTS_CLIP_FRAMES;
    // References: one unbatched element per stream.
    let reference: Streams = METHODS
        .iter()
        .map(|m| {
            run_all(vec![pipeline(&clip, m, "", None)], None)
                .0
                .remove(0)
        })
        .collect();
    for r in &reference {
        assert_eq!(r.len(), n);
    }
    assert!(reference[0] != reference[1], "the streams differ");

    let props = "model-instance-id=g3 batch-size=3 batched-push-timeout=2000000";
    let (got, counts) = run_all(
        METHODS
            .iter()
            .map(|m| pipeline(&clip, m, props, None))
            .collect(),
        Some("g3"),
    );
    for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
        assert_eq!(g.len(), n, "stream {i}");
        assert_frames_match(
            g,
            r,
            BATCHED,
            &format!("stream {i} against the unbatched element"),
        );
    }
    // With a 2 s timeout the three streams met in (nearly) every pass.
    let (passes, frames) = counts.expect("the group is alive while its pipelines are");
    assert_eq!(frames, 3 * n as u64);
    assert!(
        passes <= n as u64 + 5,
        "{passes} passes for {frames} frames"
    );
}

#[test]
fn a_missing_or_ended_stream_holds_the_others_at_most_the_timeout() {
    common::init();
    let dir = common::scratch_dir("batching-stall");
    let clip = common::clip_with_cuts(&dir);
    let n = common::CUTS_CLIP_FRAMES;
    // A group of 3 with only two streams, one of which ends after 10 frames: every pass waits
    // for the missing stream at most 30 ms.
    let props = "model-instance-id=g2 batch-size=3 batched-push-timeout=30000";
    let t = Instant::now();
    let (got, _) = run_all(
        vec![
            pipeline(&clip, "identity", props, None),
            pipeline(&clip, "horiz", props, Some(10)),
        ],
        None,
    );
    let took = t.elapsed();
    assert_eq!(got[0].len(), n);
    assert!((9..=10).contains(&got[1].len()), "{}", got[1].len());
    // 60 passes of at most 30 ms of waiting plus the work itself (a few seconds on 2 cores).
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let reference = run_all(vec![pipeline(&clip, "identity", "", None)], None)
        .0
        .remove(0);
    assert_frames_match(
        &got[0],
        &reference,
        BATCHED,
        "the surviving stream against the unbatched element",
    );
}

#[test]
fn a_group_with_another_working_size_is_a_clear_error() {
    common::init();
    let dir = common::scratch_dir("batching-bad");
    let clip = common::clip_with_cuts(&dir);
    let (a, _sa) = pipeline(&clip, "identity", "model-instance-id=gx batch-size=2", None);
    let (b, _sb) = pipeline(
        &clip,
        "identity",
        "model-instance-id=gx batch-size=2 working-width=64 working-height=48",
        None,
    );
    a.set_state(gst::State::Playing).unwrap();
    // Let the first pipeline create the group before the second negotiates.
    std::thread::sleep(Duration::from_millis(1500));
    b.set_state(gst::State::Playing).unwrap();
    let msg = b
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Error]);
    a.set_state(gst::State::Null).unwrap();
    b.set_state(gst::State::Null).unwrap();
    let Some(msg) = msg else { panic!("no error") };
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    assert!(
        e.error().to_string().contains("model-instance-id 'gx'"),
        "{}",
        e.error()
    );
}

#[test]
fn a_stream_that_seeks_restarts_its_own_chain_and_holds_no_one() {
    common::init();
    let dir = common::scratch_dir("batching-seek");
    let clip = common::clip_with_cuts(&dir);
    let n = common::CUTS_CLIP_FRAMES;
    let reference = |m: &str| {
        run_all(vec![pipeline(&clip, m, "", None)], None)
            .0
            .remove(0)
    };
    let (ref_a, ref_b) = (reference("identity"), reference("horiz"));
    let props = "model-instance-id=gs batch-size=2 batched-push-timeout=50000";
    let (pa, sa) = pipeline(&clip, "identity", props, None);
    let (pb, sb) = pipeline(&clip, "horiz", props, None);
    pa.set_state(gst::State::Playing).unwrap();
    pb.set_state(gst::State::Playing).unwrap();
    let (a, b_after) = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            let mut f = Vec::new();
            while let Ok(x) = sa.pull_sample() {
                f.push(common::plane_packed(&x, 0).0);
            }
            f
        });
        let hb = s.spawn(|| {
            for _ in 0..20 {
                sb.pull_sample().unwrap();
            }
            // A flushing seek back to the start, in the middle of the group's passes.
            pb.seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::ClockTime::ZERO,
            )
            .unwrap();
            let mut f = Vec::new();
            while let Ok(x) = sb.pull_sample() {
                f.push(common::plane_packed(&x, 0).0);
            }
            f
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    pa.set_state(gst::State::Null).unwrap();
    pb.set_state(gst::State::Null).unwrap();
    assert_frames_match(
        &a,
        &ref_a,
        BATCHED,
        "the other stream against the unbatched element",
    );
    // After the seek the chain restarts (flush) and the stream makes the whole clip again,
    // frame for frame as an unbatched element from the start. Frames pulled between the seek
    // request and the flush may still arrive first; the tail must be the full clip.
    assert!(
        b_after.len() >= n,
        "{} frames after the seek",
        b_after.len()
    );
    let tail = &b_after[b_after.len() - n..];
    assert_frames_match(
        tail,
        &ref_b,
        BATCHED,
        "the frames after the seek against the unbatched element",
    );
}
