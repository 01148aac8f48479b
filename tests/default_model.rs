// SPDX-License-Identifier: MIT
//! The shipped default model (`models/tcvc-default.safetensors`, built into the plugin): run
//! through `tcvclineart ! tcvccolorize` (no `model-file`) in a real pipeline on a held-out clip of
//! the 2D corpus (`make setup` renders it, docs/corpus.md) at its own size, measured by
//! `tcvcpsnr` / `tcvcssim` against the original, and checked against the figures in
//! `docs/model-card.md` — the model file, the element and the card agree — and against the
//! trivial baselines: a white or grey page and the line art itself score lower.
mod common;

use common::*;
use gst::prelude::*;
use gsttcvc::compare::messages::Summary;
use opencv::prelude::*;

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

/// The card's clip: a folder of `%05d.png` frames or a video file under the data folder.
fn card_clip(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::var_os("TCVC_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("data"));
    let p = dir.join(name);
    if p.is_dir() {
        let src = format!(
            "multifilesrc location=\"{}/%05d.png\" index=0 caps=image/png,framerate=24/1 ! pngdec",
            p.display()
        );
        (p, src)
    } else {
        assert!(
            p.is_file(),
            "clip {} is missing: run `make setup` (it renders the 2D corpus)",
            p.display()
        );
        let src = format!("filesrc location=\"{}\" ! decodebin", p.display());
        (p, src)
    }
}

/// Mean PSNR (FFmpeg's `psnr_avg`) and Gaussian SSIM of constant or line-art outputs against the
/// clip's frames, computed here without the elements: (white, grey, line art).
fn baselines(dir: &std::path::Path, w: usize, h: usize) -> [(f64, f64); 3] {
    use gsttcvc::metrics::{self, Plane, SsimWindow};
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    let mut sums = [(0.0, 0.0); 3];
    for f in &files {
        let bgr = opencv::imgcodecs::imread(f.to_str().unwrap(), opencv::imgcodecs::IMREAD_COLOR)
            .unwrap();
        assert_eq!(
            (bgr.cols() as usize, bgr.rows() as usize),
            (w, h),
            "{}",
            f.display()
        );
        let mut rgb = opencv::core::Mat::default();
        opencv::imgproc::cvt_color_def(&bgr, &mut rgb, opencv::imgproc::COLOR_BGR2RGB).unwrap();
        let rgb = rgb.data_bytes().unwrap().to_vec();
        let art = gsttcvc::edges::line_art(&grey_of_rgb(&rgb), w, h, &Default::default()).unwrap();
        let outputs = [
            vec![255u8; w * h * 3],
            vec![128u8; w * h * 3],
            art.iter().flat_map(|&v| [v, v, v]).collect::<Vec<u8>>(),
        ];
        let r = Plane::packed(&rgb, w, h, w * 3, 3, [0, 1, 2]).unwrap();
        for (k, out) in outputs.iter().enumerate() {
            let x = Plane::packed(out, w, h, w * 3, 3, [0, 1, 2]).unwrap();
            sums[k].0 += metrics::psnr(&x, &r).unwrap().psnr_avg;
            sums[k].1 += metrics::ssim(&x, &r, SsimWindow::Gaussian).unwrap().all;
        }
    }
    let n = files.len() as f64;
    sums.map(|(p, s)| (p / n, s / n))
}

#[test]
fn the_default_model_through_the_element_matches_the_model_card() {
    init();
    let card = card_figures();
    let (clip, src) = card_clip(&card.clip);
    let pipeline = gst::parse::launch(&format!(
        "{src} ! videoconvert ! videoscale add-borders=false ! \
         video/x-raw,format=RGB,width={w},height={h},pixel-aspect-ratio=1/1 ! tee name=t \
         t. ! queue ! tcvclineart ! tcvccolorize name=c ! videoconvert ! video/x-raw,format=RGB ! \
           tcvcpsnr name=p ! tcvcssim name=s ! fakesink sync=false \
         t. ! queue ! p.reference  t. ! queue ! s.reference",
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
    // `output-mode=auto` follows the file's recommendation, which the card's figures are for.
    let default = gsttcvc::model::cache::load_default(tch::Device::Cpu, tch::Kind::Float).unwrap();
    assert_eq!(
        default.meta.output,
        Some(gsttcvc::model::OutputMode::Fill),
        "docs/model-card.md measures the default model in its recommended `fill` output"
    );
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
    // Better than a blank page and than the line art itself, on both figures.
    if clip.is_dir() {
        let [white, grey, lines] = baselines(&clip, card.width as usize, card.height as usize);
        eprintln!(
            "element {:.2} dB / {:.4}; white {white:?}, grey {grey:?}, line art {lines:?}",
            psnr.mean, ssim.mean
        );
        for (name, (p, _)) in [("white", white), ("grey", grey), ("line art", lines)] {
            assert!(
                psnr.mean >= p + MARGIN_DB,
                "PSNR {:.2} dB is not {MARGIN_DB} dB above the {name} baseline's {p:.2}",
                psnr.mean
            );
        }
        // SSIM beats all three too (in the model's recommended `fill` output; in `ink` a flat
        // mid-grey page still scores a higher SSIM, docs/model-card.md).
        for (name, (_, s)) in [("white", white), ("grey", grey), ("line art", lines)] {
            assert!(
                ssim.mean > s,
                "SSIM {:.4} is not above the {name} baseline's {s:.4}",
                ssim.mean
            );
        }
    }
}

/// How far above the best trivial baseline the default model's PSNR must be on the card's clip
/// (measured: 5.67 dB above the grey page in `fill`; the goal is 3 dB on every held-out clip).
const MARGIN_DB: f64 = 3.0;

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

/// `examples/keyframes.sh` on a held-out 100-frame shot of the corpus, its originals every 24
/// frames as the artist's keys: the default model's `fill` output with the keyframe carry (the
/// element's default) is closer to the original than the network alone from the same keys
/// (`keyframe-carry=false`) on the frames between the keys (model card, stage 15, through
/// `tcvc-eval`: 23.20 against 15.90 dB on this clip; here through H.264, 22.20 against 16.29).
#[test]
fn the_keyframes_example_carries_the_keys_colours_on_a_held_out_shot() {
    use gsttcvc::metrics::{self, Plane};
    let (clip, _) = card_clip("corpus/chain/chain_001_4x3");
    let dir = scratch_dir("keyframes-example");
    let script = root().join("examples/keyframes.sh");
    let run = |out: &std::path::Path, keys: &str, extra: &[&str]| {
        let o = std::process::Command::new(&script)
            .arg(&clip)
            .arg(keys)
            .arg(out)
            .args(extra)
            .env("OMP_WAIT_POLICY", "passive")
            .output()
            .unwrap();
        let (so, se) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{script:?} failed:\n{so}\n{se}");
        assert!(so.contains("(100 frames)"), "{so}");
    };
    let (carried, alone) = (dir.join("carried.mp4"), dir.join("alone.mp4"));
    run(&carried, "originals:24", &[]);
    let keys = dir.join("carried-keys");
    for k in [0, 24, 48, 72, 96] {
        assert!(keys.join(format!("{k:05}.png")).is_file(), "key {k}");
    }
    assert!(!keys.join("00001.png").exists());
    run(
        &alone,
        keys.join("%05d.png").to_str().unwrap(),
        &["keyframe-carry=false"],
    );
    let psnr = |path: &std::path::Path| -> f64 {
        let frames = decoded_rgb(path);
        assert_eq!(frames.len(), 100);
        let mut sum = 0.0;
        let mut n = 0;
        for (i, out) in frames.iter().enumerate().filter(|(i, _)| i % 24 != 0) {
            let (orig, w, h) =
                gsttcvc::video::read_image_native(&clip.join(format!("{i:05}.png"))).unwrap();
            let (w, h) = (w as usize, h as usize);
            let a = Plane::packed(out, w, h, w * 3, 3, [0, 1, 2]).unwrap();
            let b = Plane::packed(&orig, w, h, w * 3, 3, [0, 1, 2]).unwrap();
            sum += metrics::psnr(&a, &b).unwrap().psnr_avg.min(60.0);
            n += 1;
        }
        sum / n as f64
    };
    let (with, without) = (psnr(&carried), psnr(&alone));
    eprintln!("keyframes every 24 frames: carried {with:.2} dB, network alone {without:.2} dB");
    assert!(
        with > without + 1.0,
        "the carry should lift the frames between keys by more than 1 dB: {with:.2} against {without:.2}"
    );
}
