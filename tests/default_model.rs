// SPDX-License-Identifier: MIT
//! The shipped default model (`models/tcvc-default.safetensors`, built into the plugin): run
//! through `tcvclineart ! tcvccolorize` (no `model-file`) in a real pipeline on the sample clip,
//! measured by `tcvcpsnr` / `tcvcssim` against the original, and checked against the figures in
//! `docs/model-card.md` — the model file, the element and the card agree.
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::compare::messages::Summary;

/// The card's row checked here: `| element check | <clip> | <W>x<H> | <frames> | <PSNR> | <SSIM> |`.
struct CardFigures {
    clip: String,
    width: u32,
    height: u32,
    frames: u64,
    psnr: f64,
    ssim: f64,
}

fn card_figures() -> CardFigures {
    let card =
        std::fs::read_to_string(root().join("docs/model-card.md")).expect("docs/model-card.md");
    let row = card
        .lines()
        .find(|l| l.starts_with("| element check |"))
        .expect("docs/model-card.md has an `| element check |` row");
    let cells: Vec<&str> = row
        .split('|')
        .map(|c| c.trim().trim_matches('`'))
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells.len(), 6, "element check row: {row}");
    let (w, h) = cells[2].split_once('x').expect("WxH");
    CardFigures {
        clip: cells[1].to_string(),
        width: w.parse().unwrap(),
        height: h.parse().unwrap(),
        frames: cells[3].parse().unwrap(),
        psnr: cells[4].parse().unwrap(),
        ssim: cells[5].parse().unwrap(),
    }
}

#[test]
fn the_default_model_through_the_element_matches_the_model_card() {
    init();
    let card = card_figures();
    let clip = sample(&card.clip);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! \
         video/x-raw,format=RGB,width={w},height={h},pixel-aspect-ratio=1/1 ! tee name=t \
         t. ! queue ! tcvclineart ! tcvccolorize name=c ! videoconvert ! video/x-raw,format=RGB ! \
           tcvcpsnr name=p ! tcvcssim name=s ! fakesink sync=false \
         t. ! queue ! p.reference  t. ! queue ! s.reference",
        clip.display(),
        w = card.width,
        h = card.height,
    ))
    .unwrap();
    let c = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("c")
        .unwrap();
    assert_eq!(c.property::<Option<String>>("model-file"), None);
    let msgs = run_to_eos(&pipeline, 600);
    let summary = |name: &str| {
        msgs.iter()
            .find(|(_, s)| s.name() == name)
            .map(|(_, s)| Summary::try_from(s.as_ref()).unwrap())
    };
    let (psnr, ssim) = (summary("tcvcpsnr-summary"), summary("tcvcssim-summary"));
    let (psnr, ssim) = (psnr.expect("psnr summary"), ssim.expect("ssim summary"));
    assert_eq!(
        psnr.frames, card.frames,
        "every frame of {} is compared",
        card.clip
    );
    assert_eq!(ssim.frames, card.frames);
    // The same file, code and frames give the card's figures; the tolerance covers libtorch's
    // thread-count-dependent summation order only.
    assert!(
        (psnr.mean - card.psnr).abs() <= 0.05,
        "PSNR {:.3} dB, the model card says {:.2}",
        psnr.mean,
        card.psnr
    );
    assert!(
        (ssim.mean - card.ssim).abs() <= 0.002,
        "SSIM {:.4}, the model card says {:.4}",
        ssim.mean,
        card.ssim
    );
}

#[test]
fn gst_inspect_says_where_the_default_model_comes_from() {
    init();
    let el = gst::ElementFactory::make("tcvccolorize").build().unwrap();
    let pspec = el.find_property("model-file").unwrap();
    let blurb = pspec.blurb().unwrap_or_default();
    assert!(
        blurb.contains("default model built into the plugin")
            && blurb.contains("models/tcvc-default.safetensors")
            && blurb.contains("docs/model-card.md"),
        "{blurb}"
    );
}
