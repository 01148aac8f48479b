// SPDX-License-Identifier: MIT
//! Tests of the video module on the 720p sample clip and on files written here.
use super::*;
use std::sync::atomic::AtomicUsize;

/// The 720p sample clip (`TCVC_DATA_DIR`, default `<CARGO_MANIFEST_DIR>/data`).
fn sample_720p() -> PathBuf {
    let dir = std::env::var_os("TCVC_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("data"));
    let p = dir.join("bigbuckbunny_720p.mp4");
    assert!(
        p.is_file(),
        "sample clip {} is missing: run make setup",
        p.display()
    );
    p
}

/// A fresh scratch folder under target/.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let k = NEXT.fetch_add(1, Ordering::SeqCst);
    let d = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("target/test-scratch")
        .join(format!("video-{name}-{}-{k}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

#[test]
fn sample_clip_loads_every_frame_at_the_requested_size() {
    let clip = load_clip(&sample_720p(), 64, 48, Fit::Stretch, None).expect("decodes");
    assert_eq!(clip.len(), 132);
    assert_eq!((clip.width, clip.height), (64, 48));
    assert_eq!(clip.name, "bigbuckbunny_720p");
    assert!(clip.frames.iter().all(|f| f.len() == 64 * 48 * 3));
    let fps = clip.fps.expect("the mp4 declares a frame rate");
    assert!(fps > 1.0 && fps < 121.0, "{fps}");
    // Real content: not a flat frame.
    let f = &clip.frames[60];
    let (lo, hi) = (f.iter().min().unwrap(), f.iter().max().unwrap());
    assert!(hi - lo > 50, "frame 60 is flat ({lo}..{hi})");
}

#[test]
fn max_frames_stops_early_and_gives_the_first_frames() {
    let all = load_clip(&sample_720p(), 32, 24, Fit::Stretch, Some(10)).expect("decodes");
    assert_eq!(all.len(), 10);
    let few = load_clip(&sample_720p(), 32, 24, Fit::Stretch, Some(3)).expect("decodes");
    assert_eq!(few.frames[..], all.frames[..3]);
    let more = load_clip(&sample_720p(), 32, 24, Fit::Stretch, Some(10_000)).expect("decodes");
    assert_eq!(more.len(), 132);
}

#[test]
fn split_tail_splits_by_time() {
    let clip = load_clip(&sample_720p(), 16, 12, Fit::Stretch, Some(10)).expect("decodes");
    let frames = clip.frames.clone();
    let (head, tail) = clip.clone().split_tail(0.2);
    assert_eq!((head.len(), tail.len()), (8, 2));
    assert_eq!(head.frames[..], frames[..8]);
    assert_eq!(tail.frames[..], frames[8..]);
    assert_eq!(tail.name, head.name);
    let (head, tail) = clip.clone().split_tail(0.0);
    assert_eq!((head.len(), tail.len()), (10, 0));
    assert!(tail.is_empty());
    let (head, tail) = clip.clone().split_tail(1.0);
    assert_eq!((head.len(), tail.len()), (0, 10));
    let (head, tail) = clip.split_tail(f64::NAN);
    assert_eq!((head.len(), tail.len()), (10, 0));
}

/// Writes a `w`×`h` PNG whose pixel (x, y) is (x·k, y·k, 7·i) for image `i`.
fn write_png(path: &Path, w: i32, h: i32, i: u8) {
    let mut m = Mat::new_rows_cols_with_default(
        h,
        w,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(0.0),
    )
    .unwrap();
    let bytes = m.data_bytes_mut().unwrap();
    for y in 0..h as usize {
        for x in 0..w as usize {
            let p = (y * w as usize + x) * 3;
            // BGR in OpenCV.
            bytes[p] = 7 * i;
            bytes[p + 1] = (y * 5) as u8;
            bytes[p + 2] = (x * 3) as u8;
        }
    }
    let v = opencv::core::Vector::<i32>::new();
    assert!(opencv::imgcodecs::imwrite(path.to_str().unwrap(), &m, &v).unwrap());
}

#[test]
fn image_folder_is_read_in_name_order_as_rgb_and_resized() {
    let d = scratch("pngs");
    // Written out of order; other files are ignored.
    for i in [2u8, 0, 1] {
        write_png(&d.join(format!("frame{i:03}.png")), 40, 30, i);
    }
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    std::fs::create_dir(d.join("sub.png")).unwrap();
    let clip = load_clip(&d, 40, 30, Fit::Stretch, None).expect("reads");
    assert_eq!(clip.len(), 3);
    assert_eq!(clip.fps, None);
    assert_eq!(clip.name, d.file_name().unwrap().to_string_lossy());
    for (i, f) in clip.frames.iter().enumerate() {
        // Pixel (x = 4, y = 2): R = 12, G = 10, B = 7·i.
        let p = (2 * 40 + 4) * 3;
        assert_eq!(&f[p..p + 3], &[12, 10, 7 * i as u8], "frame {i}");
    }
    let small = load_clip(&d, 20, 15, Fit::Stretch, Some(2)).expect("reads");
    assert_eq!(small.len(), 2);
    assert_eq!(small.frames[0].len(), 20 * 15 * 3);
    // INTER_AREA: 2×2 means; B is constant per frame.
    assert!(small.frames[1].chunks_exact(3).all(|p| p[2] == 7));
}

#[test]
fn errors_name_the_file_and_the_fix() {
    let d = scratch("errors");
    let missing = d.join("nope.mp4");
    let e = load_clip(&missing, 64, 48, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.mp4"), "{e}");

    let text = d.join("notes.mp4");
    std::fs::write(
        &text,
        "these are not the frames you are looking for\n".repeat(50),
    )
    .unwrap();
    let e = load_clip(&text, 64, 48, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::NotAVideo { .. }), "{e:?}");
    eprintln!("{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("notes.mp4") && msg.contains("is not a video GStreamer can decode"),
        "{msg}"
    );

    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = load_clip(&empty, 64, 48, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::NoImages { .. }), "{e:?}");
    assert!(e.to_string().contains("has no images"), "{e}");

    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    write_png(&bad.join("a.png"), 8, 8, 0);
    std::fs::write(bad.join("b.png"), "not a png").unwrap();
    let e = load_clip(&bad, 8, 8, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::UnreadableImage { .. }), "{e:?}");
    assert!(e.to_string().contains("b.png"), "{e}");

    let e = load_clip(&sample_720p(), 0, 48, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::InvalidArgument(_)), "{e:?}");
    let e = load_clip(&sample_720p(), 64, 48, Fit::Stretch, Some(0)).unwrap_err();
    assert!(matches!(e, VideoError::InvalidArgument(_)), "{e:?}");
}

/// A mono 16-bit PCM WAV of `n` samples of silence.
fn write_wav(path: &Path, n: u32) {
    let data_len = n * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.resize(b.len() + data_len as usize, 0);
    std::fs::write(path, b).unwrap();
}

#[test]
fn audio_only_file_has_no_video_stream() {
    let d = scratch("audio");
    let wav = d.join("silence.wav");
    write_wav(&wav, 8000);
    let t = Instant::now();
    let e = load_clip(&wav, 64, 48, Fit::Stretch, None).unwrap_err();
    assert!(matches!(e, VideoError::NoVideoStream { .. }), "{e:?}");
    assert!(e.to_string().contains("silence.wav"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[test]
fn cache_hit_returns_the_same_frames_and_bad_entries_are_rewritten() {
    let d = scratch("cache");
    let cache = d.join("cache");
    let src = sample_720p();
    let t0 = Instant::now();
    let first =
        load_clip_cached(&src, 32, 24, Fit::Stretch, Some(20), Some(&cache)).expect("decodes");
    let cold = t0.elapsed();
    let entries = || {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let files = entries();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files
        .iter()
        .all(|f| !f.file_name().unwrap().to_string_lossy().starts_with('.')));
    let t1 = Instant::now();
    let second =
        load_clip_cached(&src, 32, 24, Fit::Stretch, Some(20), Some(&cache)).expect("cache hit");
    let warm = t1.elapsed();
    assert_eq!(second, first);
    assert_eq!(
        first,
        load_clip(&src, 32, 24, Fit::Stretch, Some(20)).unwrap()
    );
    eprintln!("cold {cold:?}, warm {warm:?}");

    // Another size or frame limit is another entry.
    load_clip_cached(&src, 32, 24, Fit::Stretch, Some(5), Some(&cache)).unwrap();
    assert_eq!(entries().len(), 4);

    // A corrupt raw file or header is ignored and rewritten.
    let raw = files
        .iter()
        .find(|f| f.extension().unwrap() == "rgb")
        .unwrap();
    let json = files
        .iter()
        .find(|f| f.extension().unwrap() == "json")
        .unwrap();
    let mut bytes = std::fs::read(raw).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(raw, &bytes).unwrap();
    let again = load_clip_cached(&src, 32, 24, Fit::Stretch, Some(20), Some(&cache)).unwrap();
    assert_eq!(again, first);
    assert_ne!(std::fs::read(raw).unwrap(), bytes, "entry rewritten");
    std::fs::write(raw, &bytes[..50]).unwrap();
    assert_eq!(
        load_clip_cached(&src, 32, 24, Fit::Stretch, Some(20), Some(&cache)).unwrap(),
        first
    );
    std::fs::write(json, "{ not json").unwrap();
    assert_eq!(
        load_clip_cached(&src, 32, 24, Fit::Stretch, Some(20), Some(&cache)).unwrap(),
        first
    );
    assert!(std::fs::read_to_string(json)
        .unwrap()
        .contains("tcvc-clip-cache"));
}

#[test]
fn planes_are_cached_by_kind_and_made_only_on_a_miss() {
    let d = scratch("cache-planes");
    let seq = d.join("seq");
    std::fs::create_dir(&seq).unwrap();
    for i in 0..3u8 {
        write_png(&seq.join(format!("{i}.png")), 16, 12, i);
    }
    let cache = d.join("cache");
    let calls = std::cell::Cell::new(0);
    let planes = |v: u8| (0..3).map(|i| vec![v + i; 8 * 6]).collect::<Vec<_>>();
    let load = |kind: &str, v: u8| {
        load_planes_cached(
            &seq,
            8,
            6,
            Fit::Stretch,
            None,
            kind,
            &cache,
            |e| e.to_string(),
            || {
                calls.set(calls.get() + 1);
                Ok(planes(v))
            },
        )
        .unwrap()
    };
    assert_eq!(load("a", 10), planes(10));
    assert_eq!(load("a", 99), planes(10), "a hit: the cached planes");
    assert_eq!(calls.get(), 1);
    assert_eq!(load("b", 20), planes(20), "another kind is another entry");
    assert_eq!(calls.get(), 2);
    // The decoded frames of the same source, size and fit are an entry of their own.
    let clip = load_clip_cached(&seq, 8, 6, Fit::Stretch, None, Some(&cache)).unwrap();
    assert_eq!(clip.frames[0].len(), 8 * 6 * 3);
    assert_eq!(load("a", 99), planes(10));
    // A corrupt entry is made again; a changed folder makes it stale.
    let raw = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().unwrap() == "json"
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains("\"kind\": \"a\"")
        })
        .unwrap()
        .with_extension("rgb");
    std::fs::write(&raw, vec![0u8; 3 * 8 * 6]).unwrap();
    assert_eq!(load("a", 30), planes(30));
    write_png(&seq.join("3.png"), 16, 12, 3);
    assert_eq!(load("a", 40), planes(40));
    assert_eq!(calls.get(), 4);
    // Source errors come first, through the caller's mapping.
    let e = load_planes_cached(
        &d.join("missing"),
        8,
        6,
        Fit::Stretch,
        None,
        "a",
        &cache,
        |e| e.to_string(),
        || Ok(planes(1)),
    )
    .unwrap_err();
    assert!(e.contains("missing"), "{e}");
}

#[test]
fn cache_sees_changed_image_folders() {
    let d = scratch("cache-dir");
    let seq = d.join("seq");
    std::fs::create_dir(&seq).unwrap();
    for i in 0..3u8 {
        write_png(&seq.join(format!("{i}.png")), 16, 12, i);
    }
    let cache = d.join("cache");
    let a = load_clip_cached(&seq, 16, 12, Fit::Stretch, None, Some(&cache)).unwrap();
    assert_eq!(a.len(), 3);
    write_png(&seq.join("3.png"), 16, 12, 3);
    let b = load_clip_cached(&seq, 16, 12, Fit::Stretch, None, Some(&cache)).unwrap();
    assert_eq!(b.len(), 4, "a new image makes the entry stale");
    assert_eq!(b.frames[..3], a.frames[..]);
    // Errors still come first with a cache.
    let e =
        load_clip_cached(&d.join("missing"), 16, 12, Fit::Stretch, None, Some(&cache)).unwrap_err();
    assert!(matches!(e, VideoError::NotFound { .. }), "{e:?}");
}

/// A `w × h` RGB frame: the top and bottom 8 % of rows red and blue, the rest light yellow.
fn banded(w: usize, h: usize) -> Vec<u8> {
    let band = (h * 8).div_ceil(100);
    let mut f = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        let c: [u8; 3] = if y < band {
            [220, 30, 30]
        } else if y >= h - band {
            [30, 30, 220]
        } else {
            [240, 220, 160]
        };
        for _ in 0..w {
            f.extend_from_slice(&c);
        }
    }
    f
}

/// Writes `n` banded frames as a PNG folder and as an H.264 MP4 (ffmpeg, CRF 4, 4:4:4) beside
/// it; returns (folder, mp4).
fn banded_clip(d: &Path, w: usize, h: usize, n: usize) -> (PathBuf, PathBuf) {
    let pngs = d.join(format!("banded_{w}x{h}"));
    std::fs::create_dir_all(&pngs).unwrap();
    let f = banded(w, h);
    for i in 0..n {
        let m = Mat::from_slice(&f)
            .unwrap()
            .reshape(3, h as i32)
            .unwrap()
            .try_clone()
            .unwrap();
        let mut bgr = Mat::default();
        opencv::imgproc::cvt_color_def(&m, &mut bgr, opencv::imgproc::COLOR_RGB2BGR).unwrap();
        let p = pngs.join(format!("{i:05}.png"));
        let v = opencv::core::Vector::<i32>::new();
        assert!(opencv::imgcodecs::imwrite(p.to_str().unwrap(), &bgr, &v).unwrap());
    }
    let mp4 = d.join(format!("banded_{w}x{h}.mp4"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-framerate", "24", "-i"])
        .arg(pngs.join("%05d.png"))
        .args(["-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv444p"])
        .arg(&mp4)
        .status()
        .expect("ffmpeg runs (make setup installs it)");
    assert!(status.success(), "ffmpeg encodes {}", mp4.display());
    (pngs, mp4)
}

/// Mean RGB of row `y` or column `x` of a packed frame.
fn line_mean(f: &[u8], w: usize, h: usize, row: Option<usize>, col: Option<usize>) -> [f64; 3] {
    let mut s = [0f64; 3];
    let mut n = 0.0;
    for y in 0..h {
        for x in 0..w {
            if row.is_some_and(|r| r != y) || col.is_some_and(|c| c != x) {
                continue;
            }
            for c in 0..3 {
                s[c] += f64::from(f[(y * w + x) * 3 + c]);
            }
            n += 1.0;
        }
    }
    s.map(|v| v / n)
}

fn is_black(c: [f64; 3]) -> bool {
    c.iter().all(|&v| v < 25.0)
}

fn near(c: [f64; 3], want: [u8; 3]) -> bool {
    c.iter()
        .zip(want)
        .all(|(&a, b)| (a - f64::from(b)).abs() < 30.0)
}

#[test]
fn portrait_and_4_3_clips_get_borders_only_with_fit_pad() {
    let d = scratch("fit");
    let (w, h) = (160usize, 96usize);
    for (sw, sh) in [(180usize, 320usize), (320, 240)] {
        let (pngs, mp4) = banded_clip(&d, sw, sh, 3);
        for src in [&pngs, &mp4] {
            let what = |fit: Fit| format!("{} at {w}x{h}, fit {fit}", src.display());
            // Stretch: the whole picture, no border: the top row red, the bottom row blue, no
            // black row or column anywhere.
            let c = load_clip(src, w as u32, h as u32, Fit::Stretch, None).unwrap();
            assert_eq!(c.len(), 3);
            for f in &c.frames {
                for y in 0..h {
                    assert!(
                        !is_black(line_mean(f, w, h, Some(y), None)),
                        "{} row {y}",
                        what(Fit::Stretch)
                    );
                }
                for x in 0..w {
                    assert!(
                        !is_black(line_mean(f, w, h, None, Some(x))),
                        "{} column {x}",
                        what(Fit::Stretch)
                    );
                }
                assert!(
                    near(line_mean(f, w, h, Some(0), None), [220, 30, 30]),
                    "{}",
                    what(Fit::Stretch)
                );
                assert!(
                    near(line_mean(f, w, h, Some(h - 1), None), [30, 30, 220]),
                    "{}",
                    what(Fit::Stretch)
                );
            }
            // Crop: the centre at the target aspect: the 8 % bands are outside it (both sources
            // are taller than 5:3), no border either.
            let c = load_clip(src, w as u32, h as u32, Fit::Crop, None).unwrap();
            for f in &c.frames {
                for y in [0, h / 2, h - 1] {
                    assert!(
                        near(line_mean(f, w, h, Some(y), None), [240, 220, 160]),
                        "{} row {y}: {:?}",
                        what(Fit::Crop),
                        line_mean(f, w, h, Some(y), None)
                    );
                }
                for x in [0, w - 1] {
                    assert!(
                        !is_black(line_mean(f, w, h, None, Some(x))),
                        "{} column {x}",
                        what(Fit::Crop)
                    );
                }
            }
            // Pad: pillarbox (both are narrower than 5:3): black first and last columns, the
            // picture in the middle.
            let c = load_clip(src, w as u32, h as u32, Fit::Pad, None).unwrap();
            for f in &c.frames {
                assert!(
                    is_black(line_mean(f, w, h, None, Some(0))),
                    "{}",
                    what(Fit::Pad)
                );
                assert!(
                    is_black(line_mean(f, w, h, None, Some(w - 1))),
                    "{}",
                    what(Fit::Pad)
                );
                assert!(
                    !is_black(line_mean(f, w, h, None, Some(w / 2))),
                    "{}",
                    what(Fit::Pad)
                );
            }
        }
        // The source size is the decoder's own.
        assert_eq!(source_size(&mp4).unwrap(), (sw as u32, sh as u32));
        assert_eq!(source_size(&pngs).unwrap(), (sw as u32, sh as u32));
    }
}

#[test]
fn crop_and_pad_rectangles() {
    // 16:9 into 4:3: crop keeps the full height, pad letterboxes.
    assert_eq!(crop_rect(1920, 1080, 4, 3), (240, 0, 1440, 1080));
    assert_eq!(pad_rect(1920, 1080, 160, 120), (0, 15, 160, 90));
    // Portrait into landscape.
    assert_eq!(crop_rect(180, 320, 160, 96), (0, 106, 180, 108));
    assert_eq!(pad_rect(180, 320, 160, 96), (53, 0, 54, 96));
    // Same aspect: the whole frame.
    assert_eq!(crop_rect(320, 192, 160, 96), (0, 0, 320, 192));
    assert_eq!(pad_rect(320, 192, 160, 96), (0, 0, 160, 96));
    for fit in Fit::ALL {
        assert_eq!(fit.as_str().parse::<Fit>().unwrap(), fit);
    }
    assert!("letterbox".parse::<Fit>().is_err());
}
