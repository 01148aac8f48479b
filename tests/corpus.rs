// SPDX-License-Identifier: MIT
//! tools/corpus.py (the cel-animation training corpus, docs/corpus.md): the small corpus is
//! deterministic (byte-identical PNGs and manifest for a seed, different for another seed),
//! every clip names its sources and licences, and the validation / test clips share no asset
//! with the training clips; the `long` size is one long training shot per clip.
//!
//! Needs the Debian packages openclipart-svg and librsvg2-bin (`make setup`) and PyPI access the
//! first time (the arcade wheel is fetched into data/sources). The SVG renders are cached in
//! target/corpus-test-cache, so only the first run pays for them (~30 s).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A unique, not yet existing folder under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "tcvc-corpus-{tag}-{}-{k}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Removes the folder when dropped (also when an assertion fails).
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn build(out: &Path, seed: u32) {
    build_with(out, seed, &["--size", "small"]);
}

fn build_with(out: &Path, seed: u32, size: &[&str]) {
    let cache = common::root().join("target").join("corpus-test-cache");
    let res = Command::new(common::python())
        .arg(common::root().join("tools/corpus.py"))
        .arg("build")
        .args(size)
        .args(["--quiet", "--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .arg("--cache")
        .arg(&cache)
        .current_dir(common::root())
        .output()
        .expect("runs tools/corpus.py");
    assert!(
        res.status.success(),
        "tools/corpus.py build {size:?} failed ({}): {}{}",
        res.status,
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Every file of the corpus (relative path -> bytes), without the render cache.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".cache" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn manifest(root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(root.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

/// The clip folder holds exactly `frames` PNG frames, as its manifest entry says.
fn assert_frames(dir: &Path, frames: u64) {
    let n = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count() as u64;
    assert_eq!(
        n,
        frames,
        "{}: manifest says {frames} frames, folder has {n}",
        dir.display()
    );
}

#[test]
fn small_corpus_is_deterministic_licensed_and_split_by_asset() {
    let a = temp_dir("a");
    let b = temp_dir("b");
    let c = temp_dir("c");
    let _cleanup = Cleanup(vec![a.clone(), b.clone(), c.clone()]);
    build(&a, 0);
    build(&b, 0);
    build(&c, 1);

    // Same seed: byte-identical PNGs and manifest.
    let fa = files(&a);
    let fb = files(&b);
    let pngs: Vec<&String> = fa.keys().filter(|k| k.ends_with(".png")).collect();
    assert!(
        pngs.len() >= 5 * 4,
        "the small corpus has only {} PNGs",
        pngs.len()
    );
    assert!(fa.contains_key("manifest.json") && fa.contains_key("LICENSES.md"));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "two builds with seed 0 have different file lists"
    );
    for (k, v) in &fa {
        assert!(fb[k] == *v, "{k} differs between two builds with seed 0");
    }

    // Another seed: different frames.
    let fc = files(&c);
    let differs = fa
        .iter()
        .filter(|(k, _)| k.ends_with(".png"))
        .any(|(k, v)| fc.get(k) != Some(v));
    assert!(differs, "seed 1 gives the same PNGs as seed 0");
    assert!(
        fa["manifest.json"] != fc["manifest.json"],
        "seed 1 gives the same manifest as seed 0"
    );

    // Manifest: every clip exists, has its frames, a source and a licence for each.
    let m = manifest(&a);
    let clips = m["clips"].as_array().expect("clips");
    let mut by_split: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for clip in clips {
        let name = clip["name"].as_str().expect("clip name");
        let split = clip["split"].as_str().expect("clip split").to_string();
        let frames = clip["frames"].as_u64().expect("frame count");
        assert_frames(&a.join(&split).join(name), frames);
        assert!(clip["width"].as_u64().unwrap() > 0 && clip["height"].as_u64().unwrap() > 0);
        assert_eq!(
            clip["shots"][0].as_u64(),
            Some(0),
            "{name}: first shot starts at 0"
        );
        let sources = clip["sources"].as_array().expect("sources");
        assert!(!sources.is_empty(), "{name} has no sources");
        for s in sources {
            for key in ["licence", "package", "path", "asset"] {
                let v = s[key].as_str().unwrap_or("");
                assert!(!v.trim().is_empty(), "{name}: a source without {key}: {s}");
            }
        }
        by_split.entry(split).or_default().push(clip);
    }
    for split in ["train", "val", "test", "chain"] {
        assert!(
            by_split.get(split).is_some_and(|v| !v.is_empty()),
            "no {split} clip in the manifest"
        );
    }

    // Split by asset: no character / prop of a val or test clip is in a train clip. The drawn
    // backgrounds ("procedural:*") are generated per shot from the clip's random numbers, not
    // taken from a list, so they are not assets to hold out.
    let assets = |split: &str| -> BTreeSet<String> {
        by_split[split]
            .iter()
            .flat_map(|c| c["sources"].as_array().unwrap().iter())
            .map(|s| s["asset"].as_str().unwrap().to_string())
            .filter(|a| !a.starts_with("procedural:"))
            .collect()
    };
    let train = assets("train");
    for split in ["val", "test", "chain"] {
        let shared: Vec<_> = assets(split).intersection(&train).cloned().collect();
        assert!(
            shared.is_empty(),
            "{split} clips use training assets: {shared:?}"
        );
    }
    // The chain clips are one shot each, made from test assets only.
    for clip in &by_split["chain"] {
        assert_eq!(clip["shots"].as_array().unwrap().len(), 1, "{clip}");
    }
    let test = assets("test");
    assert!(
        assets("chain").is_subset(&test),
        "chain clips use only test assets"
    );
}

/// A training-only preset built at seed 3 and a short side of 32 px (to stay quick): `clips`
/// clips, all `train`, each of a number of shots in `shots` of `frames` frames each, every frame
/// on disk, every source licensed, every Kenney character one of the manifest's training ones,
/// and no character or prop of the held-out clips (those of the small corpus of the same seed)
/// among them. Returns the manifest.
fn check_training_only_preset(
    size: &str,
    clips_wanted: usize,
    shots: std::ops::RangeInclusive<usize>,
    frames: std::ops::RangeInclusive<u64>,
) -> serde_json::Value {
    let dir = temp_dir(size);
    let small = temp_dir(&format!("small-{size}"));
    let _cleanup = Cleanup(vec![dir.clone(), small.clone()]);
    build_with(&dir, 3, &["--size", size, "--height", "32"]);
    build(&small, 3);
    let m = manifest(&dir);
    let clips = m["clips"].as_array().expect("clips");
    assert_eq!(clips.len(), clips_wanted, "the {size} corpus's clips");
    let mut train_assets = BTreeSet::new();
    for clip in clips {
        let name = clip["name"].as_str().unwrap();
        assert_eq!(clip["split"].as_str(), Some("train"), "{name}");
        let total = clip["frames"].as_u64().unwrap();
        let mut bounds: Vec<u64> = clip["shots"]
            .as_array()
            .expect("shots")
            .iter()
            .map(|b| b.as_u64().unwrap())
            .collect();
        assert!(shots.contains(&bounds.len()), "{name}: {bounds:?}");
        assert_eq!(bounds[0], 0, "{name}");
        bounds.push(total);
        for w in bounds.windows(2) {
            assert!(
                frames.contains(&(w[1] - w[0])),
                "{name}: shots at {bounds:?}"
            );
        }
        assert_eq!(
            clip["height"]
                .as_u64()
                .unwrap()
                .min(clip["width"].as_u64().unwrap()),
            32
        );
        assert_frames(&dir.join("train").join(name), total);
        for s in clip["sources"].as_array().expect("sources") {
            assert!(
                !s["licence"].as_str().unwrap_or("").trim().is_empty(),
                "{name}: {s}"
            );
            let a = s["asset"].as_str().unwrap();
            if let Some(k) = a.strip_prefix("kenney:") {
                assert_eq!(
                    m["kenney_split"][k].as_str(),
                    Some("train"),
                    "{name}: the Kenney character {k} is not a training one"
                );
            }
            if !a.starts_with("procedural:") {
                train_assets.insert(a.to_string());
            }
        }
    }
    for split in ["val", "test", "chain"] {
        assert!(
            !dir.join(split).exists()
                || std::fs::read_dir(dir.join(split)).unwrap().next().is_none(),
            "the {size} corpus has {split} clips"
        );
    }
    let held_out: BTreeSet<String> = manifest(&small)["clips"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["split"] != "train")
        .flat_map(|c| c["sources"].as_array().unwrap().iter())
        .map(|s| s["asset"].as_str().unwrap().to_string())
        .filter(|a| !a.starts_with("procedural:"))
        .collect();
    let shared: Vec<_> = train_assets.intersection(&held_out).collect();
    assert!(
        shared.is_empty(),
        "{size} clips use held-out assets: {shared:?}"
    );
    m
}

/// `--size long` (extra training shots for the chain walkers): 16 training clips of one shot of
/// 90–120 frames, from training assets only.
#[test]
fn long_corpus_is_one_long_training_shot_per_clip_from_training_assets() {
    let m = check_training_only_preset("long", 16, 1..=1, 90..=120);
    assert_eq!(m["actor_scale"], 1.0);
    assert_eq!(m["background"], "drawn");
}

/// `--size closeup` (close-ups): 24 training clips of 2–3 shots of 16–36 frames, from training
/// assets only, the characters drawn 2.5 times as tall (the manifest says so).
#[test]
fn closeup_corpus_is_training_shots_of_large_characters_from_training_assets() {
    let m = check_training_only_preset("closeup", 24, 2..=3, 16..=36);
    assert_eq!(m["actor_scale"], 2.5);
    assert_eq!(m["background"], "drawn");
}

/// `--size plain` (characters on a plain page): 24 training clips of 2–3 shots of 16–36 frames,
/// from training assets only, no props or scenes (every source is a character) and every
/// clip's first frame mostly one flat colour (the page).
#[test]
fn plain_corpus_is_characters_on_a_plain_page_from_training_assets() {
    let m = check_training_only_preset("plain", 24, 2..=3, 16..=36);
    assert_eq!(m["background"], "plain");
    assert_eq!(m["actor_scale"], 1.0);
    let dir = temp_dir("plain-pages");
    let _cleanup = Cleanup(vec![dir.clone()]);
    build_with(&dir, 3, &["--size", "plain", "--height", "32"]);
    for clip in m["clips"].as_array().unwrap() {
        let name = clip["name"].as_str().unwrap();
        // The clip's cast (1-3 characters) and nothing else: no drawn background, prop or scene.
        let sources = clip["sources"].as_array().unwrap();
        assert!((1..=3).contains(&sources.len()), "{name}: {sources:?}");
        for s in sources {
            assert!(
                !s["asset"].as_str().unwrap().starts_with("procedural:"),
                "{name}: a plain clip drew a background: {s}"
            );
        }
        let (rgb, w, h) =
            gsttcvc::video::read_image_native(&dir.join("train").join(name).join("00000.png"))
                .unwrap();
        let (w, h) = (w as usize, h as usize);
        let mut counts = std::collections::HashMap::new();
        for px in rgb.chunks_exact(3) {
            *counts.entry([px[0], px[1], px[2]]).or_insert(0usize) += 1;
        }
        let page = counts.values().copied().max().unwrap();
        assert!(
            page * 2 >= w * h,
            "{name}: its first frame's commonest colour covers {page} of {} pixels",
            w * h
        );
    }
}
