// SPDX-License-Identifier: MIT
//! A gst-launch-1.0 style pipeline through `tcvclineart` to an MP4 file, decoded again.
mod common;

use common::*;
use gst::prelude::*;

#[test]
fn lineart_pipeline_writes_an_mp4_with_every_frame() {
    init();
    let dir = scratch_dir("pipeline");
    let out = dir.join("lineart.mp4");
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! tcvclineart ! videoconvert ! \
         x264enc speed-preset=ultrafast ! mp4mux ! filesink location=\"{}\"",
        sample(CLIP_720P).display(),
        out.display()
    ))
    .unwrap();
    run_to_eos(&pipeline, 300);

    // Decode the result: 132 frames of 1280x720, mostly white with black lines.
    let (pipeline, sink) = launch_with_sink(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false",
        out.display()
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = 0;
    let mut white = 0.0;
    while let Ok(s) = sink.pull_sample() {
        let i = info(&s);
        assert_eq!((i.width(), i.height()), (1280, 720));
        let (y, _, _) = plane_packed(&s, 0);
        white += y.iter().filter(|&&v| v > 128).count() as f64 / y.len() as f64;
        frames += 1;
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(frames, 132, "the sample clip has 132 frames");
    assert!(white / frames as f64 > 0.8, "line art is mostly white");
    let _ = std::fs::remove_dir_all(&dir);
}
