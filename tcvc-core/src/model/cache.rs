// SPDX-License-Identifier: MIT
//! Process-wide weak cache of loaded models: element instances asking for the same
//! (file, device, precision) share one loaded generator, freed when the last user drops it.
use super::{ModelError, ModelFile, ModelMeta, PreviousFrame, SharedGenerator, StreamColorizer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::SystemTime;
use tch::{Device, Kind};

/// A loaded model shared between users.
#[derive(Debug)]
pub struct CachedModel {
    /// The generator, shared by every user (call `instance()` per thread).
    pub shared: SharedGenerator,
    /// The file's metadata.
    pub meta: ModelMeta,
    /// The file it was loaded from (canonical path), or [`DEFAULT_MODEL_NAME`].
    pub path: PathBuf,
    /// Why the weights look untrained or broken, if they do (`ColorNet::weights_problem`):
    /// users warn about it.
    pub weights_problem: Option<String>,
}

impl CachedModel {
    /// A new previous-frame chain on this model at working size `width × height`, set up as
    /// its metadata says (input mode; a blank previous frame for a model trained without one).
    pub fn colorizer(
        &self,
        width: i64,
        height: i64,
        scene_threshold: f64,
    ) -> Result<StreamColorizer, ModelError> {
        let mut c = StreamColorizer::new(
            self.shared.instance(),
            self.meta.input_mode,
            width,
            height,
            scene_threshold,
        )?;
        c.set_blank_previous(self.meta.previous_frame == PreviousFrame::Blank);
        Ok(c)
    }
}

type Key = (PathBuf, Option<SystemTime>, u64, String, String);

static CACHE: LazyLock<Mutex<HashMap<Key, Weak<CachedModel>>>> = LazyLock::new(Mutex::default);
static LOADS_PER_FILE: LazyLock<Mutex<HashMap<PathBuf, usize>>> = LazyLock::new(Mutex::default);

/// The built-in default model: `models/tcvc-default.safetensors` of the source tree, embedded
/// in the plugin at build time (see `docs/model-card.md`). `tcvccolorize` uses it when
/// `model-file` is unset; `tcvc-eval --model default` measures it.
pub static DEFAULT_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/tcvc-default.safetensors"
));

/// The name the built-in default model goes by in messages and as its cache path.
pub const DEFAULT_MODEL_NAME: &str = "<built-in default model>";

fn cached(
    key: Key,
    path: PathBuf,
    load: impl FnOnce() -> Result<super::file::LoadedNet, ModelError>,
) -> Result<Arc<CachedModel>, ModelError> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|_, w| w.strong_count() > 0);
    if let Some(m) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(m);
    }
    let loaded = load()?;
    *LOADS_PER_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.clone())
        .or_default() += 1;
    let weights_problem = loaded.net.weights_problem();
    let m = Arc::new(CachedModel {
        weights_problem,
        shared: SharedGenerator::new(loaded.net),
        meta: loaded.meta,
        path,
    });
    cache.insert(key, Arc::downgrade(&m));
    Ok(m)
}

/// Loads `path` for `device` / `kind`, or returns the model already loaded for them (same file,
/// same modification time and size). The cache lock is held while loading, so concurrent users
/// of one model load it once.
pub fn load_shared(
    path: &Path,
    device: Device,
    kind: Kind,
) -> Result<Arc<CachedModel>, ModelError> {
    let canonical = path.canonicalize().map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let md = std::fs::metadata(&canonical).map_err(|source| ModelError::Io {
        path: canonical.clone(),
        source,
    })?;
    let key: Key = (
        canonical.clone(),
        md.modified().ok(),
        md.len(),
        format!("{device:?}"),
        format!("{kind:?}"),
    );
    cached(key, canonical.clone(), || {
        ModelFile::load_any(&canonical, device, kind)
    })
}

/// The built-in [`DEFAULT_MODEL`] for `device` / `kind`, shared as [`load_shared`] does.
pub fn load_default(device: Device, kind: Kind) -> Result<Arc<CachedModel>, ModelError> {
    let name = PathBuf::from(DEFAULT_MODEL_NAME);
    let key: Key = (
        name.clone(),
        None,
        DEFAULT_MODEL.len() as u64,
        format!("{device:?}"),
        format!("{kind:?}"),
    );
    cached(key, name, || {
        ModelFile::load_any_from_bytes(DEFAULT_MODEL, DEFAULT_MODEL_NAME, device, kind)
    })
}

/// How many times `path` (or [`DEFAULT_MODEL_NAME`]) was actually loaded in this process.
pub fn load_count_of(path: &Path) -> usize {
    let p = if path == Path::new(DEFAULT_MODEL_NAME) {
        path.to_path_buf()
    } else {
        let Ok(p) = path.canonicalize() else {
            return 0;
        };
        p
    };
    LOADS_PER_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&p)
        .copied()
        .unwrap_or(0)
}
