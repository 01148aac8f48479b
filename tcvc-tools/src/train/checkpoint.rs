// SPDX-License-Identifier: MIT
//! Training checkpoints: one safetensors file per checkpoint, `DIR/ckpt-000001000.safetensors`.
//!
//! The tensors are the generator's variables (`g.<name>`), the discriminator's including the
//! spectral-norm `u`/`v` vectors (`d.<name>`) and both optimizers' moments
//! (`adam_g.m.<name>`, `adam_g.v.<name>`, `adam_d.…`), all F32. `__metadata__` holds
//! `format = tcvc-train-checkpoint`, `format_version`, and `state`: JSON of [`CheckpointState`]
//! (step, sampler and coin state, optimizer step counts, the run's configuration and a checksum
//! of the tensor bytes).
//!
//! Files are written atomically: a temporary file in the same folder is written and fsynced,
//! renamed over the final name, and the folder is fsynced, so a crash or `kill -9` leaves either
//! the previous set of checkpoints or the new one, never a torn file. Only the newest `keep`
//! checkpoints are kept.
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::sampler::SamplerState;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// `__metadata__.format` of a checkpoint.
pub const CHECKPOINT_FORMAT: &str = "tcvc-train-checkpoint";
/// `__metadata__.format_version` written and read.
pub const CHECKPOINT_VERSION: &str = "1";

/// Everything of a checkpoint that is not a tensor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Training steps done.
    pub step: u64,
    /// Sampler position and coin state.
    pub sampler: SamplerState,
    /// Per-parameter step counts of the generator's optimizer.
    pub adam_g_steps: BTreeMap<String, u64>,
    /// Per-parameter step counts of the discriminator's optimizer.
    pub adam_d_steps: BTreeMap<String, u64>,
    /// The run's configuration.
    pub config: RunConfig,
    /// Seconds of training so far (for the CSV's `elapsed_s`).
    pub elapsed_s: f64,
    /// FNV-1a checksum of all tensor bytes, hex.
    pub checksum: String,
}

/// File name of the checkpoint of `step`.
pub fn file_name(step: u64) -> String {
    format!("ckpt-{step:09}.safetensors")
}

/// The checkpoints of `dir` as `(step, path)`, newest first (by the step in the name).
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name
                .strip_prefix("ckpt-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    v
}

use crate::fsutil::checksum;

/// Little-endian F32 bytes of a tensor (detached, on the CPU) and its shape.
pub fn tensor_bytes(t: &Tensor) -> Result<(Vec<usize>, Vec<u8>)> {
    let c = t
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?;
    let numel = c.numel();
    let mut data = vec![0u8; numel * 4];
    c.f_copy_data_u8(&mut data, numel)?;
    Ok((c.size().iter().map(|&d| d as usize).collect(), data))
}

/// Serialises named tensors (stored as F32) with `metadata` to safetensors bytes.
pub fn serialize(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let _guard = tch::no_grad_guard();
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (shape, data) = tensor_bytes(t)?;
        buffers.push((name.clone(), shape, data));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, shape, data) in &buffers {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(TrainError::runtime(format!("describing tensor `{name}`")))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(TrainError::runtime("serialising tensors"))
}

pub use crate::fsutil::write_atomic;

/// Writes the checkpoint of `state.step` into `dir` (atomically) and removes all but the newest
/// `keep` checkpoints. Returns the file written.
pub fn save(
    dir: &Path,
    tensors: &[(String, Tensor)],
    mut state: CheckpointState,
    keep: usize,
) -> Result<PathBuf> {
    let _guard = tch::no_grad_guard();
    let mut tensors: Vec<&(String, Tensor)> = tensors.iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut datas = Vec::with_capacity(tensors.len());
    for (_, t) in &tensors {
        datas.push(tensor_bytes(t)?);
    }
    let refs: Vec<&[u8]> = datas.iter().map(|(_, d)| d.as_slice()).collect();
    state.checksum = format!("{:016x}", checksum(&refs));
    let json = serde_json::to_string(&state).map_err(TrainError::runtime("encoding state"))?;
    let metadata: HashMap<String, String> = [
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("format_version".to_string(), CHECKPOINT_VERSION.to_string()),
        ("state".to_string(), json),
    ]
    .into_iter()
    .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, _), (shape, data)) in tensors.iter().zip(&datas) {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(TrainError::runtime(format!("describing tensor `{name}`")))?;
        views.push((name.clone(), view));
    }
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(TrainError::runtime("serialising the checkpoint"))?;
    let path = dir.join(file_name(state.step));
    write_atomic(&path, &bytes).map_err(TrainError::runtime(format!(
        "writing checkpoint {}",
        path.display()
    )))?;
    for (_, old) in list(dir).into_iter().skip(keep.max(1)) {
        if let Err(e) = std::fs::remove_file(&old) {
            eprintln!(
                "warning: cannot remove old checkpoint {}: {e}",
                old.display()
            );
        }
    }
    Ok(path)
}

/// A loaded checkpoint: tensors on `device` and the state.
#[derive(Debug)]
pub struct Loaded {
    /// All tensors by name.
    pub tensors: HashMap<String, Tensor>,
    /// The non-tensor state.
    pub state: CheckpointState,
}

/// Reads and verifies one checkpoint file (format, JSON state, checksum).
pub fn load(path: &Path, device: Device) -> std::result::Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    let meta = header.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
        return Err(format!("not a {CHECKPOINT_FORMAT} file"));
    }
    if meta.get("format_version").map(String::as_str) != Some(CHECKPOINT_VERSION) {
        return Err(format!(
            "format version {:?} is not {CHECKPOINT_VERSION}",
            meta.get("format_version")
        ));
    }
    let state: CheckpointState = serde_json::from_str(meta.get("state").map_or("", |s| s))
        .map_err(|e| format!("bad state metadata: {e}"))?;
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    // The checksum is over the tensors in name order, as `save` computes it.
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut tensors = HashMap::with_capacity(names.len());
    let mut datas: Vec<&[u8]> = Vec::with_capacity(names.len());
    for name in &names {
        let view = st
            .tensor(name)
            .map_err(|e| format!("tensor `{name}`: {e}"))?;
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor `{name}` is {:?}, expected F32",
                view.dtype()
            ));
        }
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let numel: usize = view.shape().iter().product();
        if numel * 4 != view.data().len() {
            return Err(format!("tensor `{name}` has a wrong byte length"));
        }
        let t = Tensor::f_from_data_size(view.data(), &shape, Kind::Float)
            .and_then(|t| t.f_to_device(device))
            .map_err(|e| format!("tensor `{name}`: {e}"))?;
        tensors.insert(name.clone(), t);
        datas.push(view.data());
    }
    let sum = format!("{:016x}", checksum(&datas));
    if sum != state.checksum {
        return Err(format!(
            "checksum {sum} does not match the recorded {}: the file is damaged",
            state.checksum
        ));
    }
    Ok(Loaded { tensors, state })
}

/// Copies `src` tensors named `prefix + name` into the variables `vars` (`name → tensor`).
pub fn copy_into(
    vars: &HashMap<String, Tensor>,
    src: &HashMap<String, Tensor>,
    prefix: &str,
) -> Result<()> {
    let _guard = tch::no_grad_guard();
    for (name, var) in vars {
        let key = format!("{prefix}{name}");
        let t = src.get(&key).ok_or_else(|| {
            TrainError::Runtime(format!(
                "the checkpoint has no tensor `{key}`: it was written for another architecture"
            ))
        })?;
        if t.size() != var.size() {
            return Err(TrainError::Runtime(format!(
                "checkpoint tensor `{key}` has shape {:?}, the network needs {:?}",
                t.size(),
                var.size()
            )));
        }
        var.shallow_clone().f_copy_(t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_depends_on_every_byte() {
        let a = checksum(&[b"abcdefghij"]);
        assert_ne!(a, checksum(&[b"abcdefghik"]));
        assert_ne!(a, checksum(&[b"bacdefghij"]));
        assert_eq!(a, checksum(&[b"abcdefghij"]));
    }
}
