// SPDX-License-Identifier: MIT
//! The on-disk clip cache of [`load_clip_cached`].
//!
//! One entry per (source, size, frame limit, kind): `NAME-KEY.rgb` holds the frames back to back
//! (packed RGB; for [`load_planes_cached`], one byte a pixel: planes the caller made from the
//! frames, named by their `kind`) and `NAME-KEY.json` a small header. `KEY` is a hash of the canonical source
//! path, the source's fingerprint (a file's modification time and size; for a folder, the names,
//! modification times and sizes of its images), the size, the fit and the frame limit. The header repeats
//! all of them plus the frame count, byte count and a checksum of the frames, and is checked
//! before use: an entry that does not match, is truncated or corrupt is ignored and rewritten.
//! Both files are written atomically (temporary file in the same folder, then rename), the
//! header last.
use super::{check_input, image_files, load_clip, Clip, Fit, VideoError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// `format` of the header.
const FORMAT: &str = "tcvc-clip-cache";
/// `version` of the header; bump when the layout or the decoding changes. 2: the fit is part of
/// the key (version 1 entries of videos were letterboxed by `videoscale`). 3: the frames'
/// checksum is `fsutil::checksum`, the one of checkpoints. 4: the `kind` of the entry (decoded
/// RGB frames or the caller's planes) is part of the key.
const VERSION: u32 = 4;

/// `kind` of the decoded frames of [`load_clip_cached`].
const RGB: &str = "rgb";

/// The JSON header of a cache entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    /// `rgb` (decoded frames, 3 bytes a pixel) or the caller's name for its planes (1 byte).
    kind: String,
    source: String,
    fingerprint: String,
    width: u32,
    height: u32,
    fit: String,
    max_frames: Option<usize>,
    name: String,
    fps: Option<f64>,
    frames: usize,
    bytes: u64,
    checksum: String,
}

/// 64-bit FNV-1a over bytes (stable across Rust versions, unlike `DefaultHasher`).
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The checksum of a clip's frames: [`crate::fsutil::checksum`] over each frame and its length.
fn checksum(frames: &[Vec<u8>]) -> u64 {
    let lens: Vec<[u8; 8]> = frames
        .iter()
        .map(|f| (f.len() as u64).to_le_bytes())
        .collect();
    let chunks: Vec<&[u8]> = frames
        .iter()
        .zip(&lens)
        .flat_map(|(f, l)| [f.as_slice(), l.as_slice()])
        .collect();
    crate::fsutil::checksum(&chunks)
}

fn mtime_ns(md: &std::fs::Metadata) -> u128 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// What identifies the content of a source: modification time and size of a file, or of every
/// image of a folder (with its name).
fn fingerprint(canonical: &Path, is_dir: bool) -> Result<String, VideoError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| VideoError::Io { path: p, source }
    };
    if is_dir {
        let mut h = FNV_OFFSET;
        for f in image_files(canonical)? {
            let md = std::fs::metadata(&f).map_err(io(&f))?;
            if let Some(name) = f.file_name() {
                h = fnv1a(h, name.as_encoded_bytes());
            }
            h = fnv1a(h, &[0]);
            h = fnv1a(h, &mtime_ns(&md).to_le_bytes());
            h = fnv1a(h, &md.len().to_le_bytes());
        }
        Ok(format!("dir:{h:016x}"))
    } else {
        let md = std::fs::metadata(canonical).map_err(io(canonical))?;
        Ok(format!("file:{}:{}", mtime_ns(&md), md.len()))
    }
}

/// The file names (without extension) of the entry for `header`'s key fields.
fn entry_stem(name: &str, key: &Header) -> String {
    let mut h = FNV_OFFSET;
    for part in [
        key.kind.as_str(),
        key.source.as_str(),
        key.fingerprint.as_str(),
        &key.width.to_string(),
        &key.height.to_string(),
        key.fit.as_str(),
        &format!("{:?}", key.max_frames),
        &VERSION.to_string(),
    ] {
        h = fnv1a(h, part.as_bytes());
        h = fnv1a(h, &[0]);
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("{safe}-{h:016x}")
}

fn bytes_per_pixel(kind: &str) -> usize {
    if kind == RGB {
        3
    } else {
        1
    }
}

/// Reads an entry; `None` when it is missing, stale or corrupt.
fn read_entry(json: &Path, raw: &Path, key: &Header) -> Option<(Header, Vec<Vec<u8>>)> {
    let text = std::fs::read_to_string(json).ok()?;
    let h: Header = serde_json::from_str(&text).ok()?;
    let same_key = h.format == FORMAT
        && h.version == VERSION
        && h.kind == key.kind
        && h.source == key.source
        && h.fingerprint == key.fingerprint
        && h.width == key.width
        && h.height == key.height
        && h.fit == key.fit
        && h.max_frames == key.max_frames;
    let frame_len = key.width as usize * key.height as usize * bytes_per_pixel(&key.kind);
    if !same_key
        || h.frames == 0
        || h.frames.checked_mul(frame_len).map(|b| b as u64) != Some(h.bytes)
    {
        return None;
    }
    let data = std::fs::read(raw).ok()?;
    if data.len() as u64 != h.bytes {
        return None;
    }
    let frames: Vec<Vec<u8>> = data.chunks_exact(frame_len).map(<[u8]>::to_vec).collect();
    if format!("{:016x}", checksum(&frames)) != h.checksum {
        return None;
    }
    Some((h, frames))
}

/// The same as [`load_clip`] with an on-disk cache under `cache_dir` (raw RGB file + small JSON
/// header, keyed by canonical path, file mtime+size, W, H, fit, max_frames); a corrupt or stale cache
/// entry is ignored and rewritten (atomic write: temp file + rename).
///
/// `cache_dir` is created when missing. With `None` this is [`load_clip`]. A cache that cannot be
/// written (read-only folder, full disk) does not fail the load: the clip is returned and a
/// warning goes to stderr.
pub fn load_clip_cached(
    path: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
    cache_dir: Option<&Path>,
) -> Result<Clip, VideoError> {
    let Some(dir) = cache_dir else {
        return load_clip(path, width, height, fit, max_frames);
    };
    let (mut header, json, raw) = entry(path, width, height, fit, max_frames, RGB, dir)?;
    let name = header.name.clone();
    if let Some((h, frames)) = read_entry(&json, &raw, &header) {
        return Ok(Clip {
            name,
            path: path.to_path_buf(),
            width,
            height,
            fps: h.fps,
            frames,
        });
    }
    let clip = load_clip(path, width, height, fit, max_frames)?;
    header.fps = clip.fps;
    write_entry(&mut header, &clip.frames, &json, &raw, dir, path);
    Ok(clip)
}

/// Planes of `width × height` bytes that the caller makes from the clip at `path` (one per
/// frame; `make` runs on a miss), cached under `cache_dir` like [`load_clip_cached`]'s frames and
/// keyed by the same source fingerprint, size, fit and frame limit plus `kind`, which must name
/// everything else the planes depend on (e.g. `tcvc-train --lines-at source`: the input mode and
/// the line-art parameters). Errors of the source are `video_err`'s; a cache that cannot be
/// written is a warning on stderr, as there.
#[allow(clippy::too_many_arguments)]
pub fn load_planes_cached<E>(
    path: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
    kind: &str,
    cache_dir: &Path,
    video_err: impl Fn(VideoError) -> E,
    make: impl FnOnce() -> Result<Vec<Vec<u8>>, E>,
) -> Result<Vec<Vec<u8>>, E> {
    debug_assert_ne!(kind, RGB, "`{RGB}` names the decoded frames");
    let (mut header, json, raw) =
        entry(path, width, height, fit, max_frames, kind, cache_dir).map_err(&video_err)?;
    if let Some((_, planes)) = read_entry(&json, &raw, &header) {
        return Ok(planes);
    }
    let planes = make()?;
    let n = width as usize * height as usize;
    if !planes.is_empty() && planes.iter().all(|p| p.len() == n) {
        write_entry(&mut header, &planes, &json, &raw, cache_dir, path);
    }
    Ok(planes)
}

/// The key header (no frames yet) and the two file paths of the entry for these arguments.
fn entry(
    path: &Path,
    width: u32,
    height: u32,
    fit: Fit,
    max_frames: Option<usize>,
    kind: &str,
    dir: &Path,
) -> Result<(Header, PathBuf, PathBuf), VideoError> {
    let is_dir = check_input(path, width, height, max_frames)?;
    let canonical = path.canonicalize().map_err(|source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = super::clip_name(path, is_dir);
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        kind: kind.into(),
        source: canonical.to_string_lossy().into_owned(),
        fingerprint: fingerprint(&canonical, is_dir)?,
        width,
        height,
        fit: fit.as_str().to_string(),
        max_frames,
        name: name.clone(),
        fps: None,
        frames: 0,
        bytes: 0,
        checksum: String::new(),
    };
    let stem = entry_stem(&name, &header);
    let json = dir.join(format!("{stem}.json"));
    let raw = dir.join(format!("{stem}.rgb"));
    Ok((header, json, raw))
}

/// Writes `frames` as the entry of `header` (raw file first, header last, both atomic); a failure
/// is a warning.
fn write_entry(
    header: &mut Header,
    frames: &[Vec<u8>],
    json: &Path,
    raw: &Path,
    dir: &Path,
    source: &Path,
) {
    header.frames = frames.len();
    header.bytes = frames.iter().map(|f| f.len() as u64).sum();
    header.checksum = format!("{:016x}", checksum(frames));
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        crate::fsutil::write_atomic(raw, &frames.concat())?;
        let text = serde_json::to_string_pretty(&*header).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(json, text.as_bytes())
    })();
    if let Err(e) = written {
        eprintln!(
            "warning: cannot write the clip cache {} for {}: {e}; continuing without it",
            dir.display(),
            source.display()
        );
    }
}
