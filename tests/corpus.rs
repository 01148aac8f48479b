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

/// `--size long` (extra training shots for the chain walkers): training clips only, each one
/// shot of 90–120 frames, every frame on disk, every source licensed, every Kenney character one
/// of the manifest's training ones, and no character or prop of the held-out clips (those of the
/// small corpus of the same seed) among them. Rendered at a short side of 32 px to stay quick.
#[test]
fn long_corpus_is_one_long_training_shot_per_clip_from_training_assets() {
    let long = temp_dir("long");
    let small = temp_dir("small");
    let _cleanup = Cleanup(vec![long.clone(), small.clone()]);
    build_with(&long, 3, &["--size", "long", "--height", "32"]);
    build(&small, 3);
    let m = manifest(&long);
    let clips = m["clips"].as_array().expect("clips");
    assert_eq!(clips.len(), 16, "the long corpus has 16 clips");
    let mut train_assets = BTreeSet::new();
    for clip in clips {
        let name = clip["name"].as_str().unwrap();
        assert_eq!(clip["split"].as_str(), Some("train"), "{name}");
        assert_eq!(clip["shots"], serde_json::json!([0]), "{name}: one shot");
        let frames = clip["frames"].as_u64().unwrap();
        assert!((90..=120).contains(&frames), "{name}: {frames} frames");
        assert_eq!(
            clip["height"]
                .as_u64()
                .unwrap()
                .min(clip["width"].as_u64().unwrap()),
            32
        );
        assert_frames(&long.join("train").join(name), frames);
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
            !long.join(split).exists()
                || std::fs::read_dir(long.join(split))
                    .unwrap()
                    .next()
                    .is_none(),
            "the long corpus has {split} clips"
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
        "long clips use held-out assets: {shared:?}"
    );
}
