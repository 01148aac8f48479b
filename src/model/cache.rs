// SPDX-License-Identifier: MIT
//! Process-wide weak cache of loaded models: element instances asking for the same
//! (file, device, precision) share one loaded generator, freed when the last user drops it.
use super::{ModelError, ModelFile, ModelMeta, SharedGenerator};
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
    /// The file it was loaded from (canonical path).
    pub path: PathBuf,
}

type Key = (PathBuf, Option<SystemTime>, u64, String, String);

static CACHE: LazyLock<Mutex<HashMap<Key, Weak<CachedModel>>>> = LazyLock::new(Mutex::default);
static LOADS_PER_FILE: LazyLock<Mutex<HashMap<PathBuf, usize>>> = LazyLock::new(Mutex::default);

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
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|_, w| w.strong_count() > 0);
    if let Some(m) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(m);
    }
    let loaded = ModelFile::load(&canonical, device, kind)?;
    *LOADS_PER_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(canonical.clone())
        .or_default() += 1;
    let m = Arc::new(CachedModel {
        shared: SharedGenerator::new(loaded.generator),
        meta: loaded.meta,
        path: canonical,
    });
    cache.insert(key, Arc::downgrade(&m));
    Ok(m)
}

/// How many times `path` was actually loaded in this process.
pub fn load_count_of(path: &Path) -> usize {
    let Ok(p) = path.canonicalize() else {
        return 0;
    };
    LOADS_PER_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&p)
        .copied()
        .unwrap_or(0)
}
