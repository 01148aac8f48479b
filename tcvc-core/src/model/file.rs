//! The self-describing model file: one safetensors file holding the
//! generator weights (reference `state_dict` names) and `__metadata__`:
//!
//! | key              | value                                              |
//! |------------------|----------------------------------------------------|
//! | `format`         | `tcvc-generator`                                   |
//! | `format_version` | `1`                                                |
//! | `channels`       | base width `C`, e.g. `64`                          |
//! | `res_blocks`     | residual blocks `R`, e.g. `8`                      |
//! | `input_mode`     | `lineart` or `greyscale` (what channel 0 holds)    |
//! | `train_size`     | `WIDTHxHEIGHT` of the training crops, e.g. `256x256` |
//! | `provenance`     | free text (optional; empty when absent)            |
//! | `previous_frame` | `chain` (default) or `blank` (the always-blank ablation) |
//! | `output_mode`    | optional: `ink`, `luma`, `color` or `fill`, the output that measured best for the model; `output-mode=auto` uses it |
//! | `working_orientation` | optional: `turn` (trained with clips of the other orientation at the training size turned; `working-orientation=auto` turns it for such frames) or `model` (the default) |
//!
//! A pix2pix U-Net baseline file has `format` `tcvc-pix2pix-unet`, `channels` (`ngf`) and
//! `downs` instead of `res_blocks`, and the U-Net's `down{i}` / `up{i}` weights; read it (and
//! TCVC files) with [`ModelFile::load_any`].
//!
//! Weights are stored as F32 or F16 (F16 halves the file; loading widens to
//! F32 before converting to the requested compute kind). BF16/F64 files are
//! also accepted. Unknown extra metadata keys are ignored.
//!
//! Loading never trusts the file: the header is parsed and validated with the
//! `safetensors` crate (bounds, offsets, sizes) and against the architecture
//! declared by the metadata *before* any tensor is built, and tensors are
//! built only with fallible (`f_*`) tch calls from byte slices whose length
//! was checked, so corrupt files produce a [`ModelError`], never a panic or
//! an abort.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use tch::{Device, Kind, Tensor};

use super::choice::WorkingOrientation;
use super::error::{FileRole, ModelError, Result};
use super::generator::{Generator, GeneratorConfig};
use super::layers::check_compute_kind;
use super::net::ColorNet;
use super::stream::OutputMode;
use super::unet::{unet_parameter_specs, UnetGenerator, MAX_DOWNS, MIN_DOWNS, UNET_FORMAT_NAME};

/// Value of `__metadata__.format`.
pub const FORMAT_NAME: &str = "tcvc-generator";
/// Value of `__metadata__.format_version` written and accepted.
pub const FORMAT_VERSION: &str = "1";

/// What channel 0 of the generator input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputMode {
    /// Extracted line art (the paper's setting).
    Lineart,
    /// The greyscale (luma) frame.
    Greyscale,
}

impl InputMode {
    /// Metadata spelling (`lineart` / `greyscale`).
    pub fn as_str(self) -> &'static str {
        match self {
            InputMode::Lineart => "lineart",
            InputMode::Greyscale => "greyscale",
        }
    }
}

impl fmt::Display for InputMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InputMode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lineart" => Ok(InputMode::Lineart),
            "greyscale" => Ok(InputMode::Greyscale),
            _ => Err(ModelError::InvalidMetadata {
                key: "input_mode",
                value: s.to_string(),
                expected: "`lineart` or `greyscale`",
            }),
        }
    }
}

/// Training crop size, written `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrainSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl TrainSize {
    /// The smallest side: the generator needs 12 pixels.
    pub const MIN: u32 = 12;
    /// The largest side (`tcvc-train --size` allows up to 4096).
    pub const MAX: u32 = 4096;
}

impl fmt::Display for TrainSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for TrainSize {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || ModelError::InvalidMetadata {
            key: "train_size",
            value: s.to_string(),
            expected: "`WIDTHxHEIGHT` with positive integers, e.g. `256x256`",
        };
        let (w, h) = s.split_once('x').ok_or_else(bad)?;
        let width: u32 = w.trim().parse().map_err(|_| bad())?;
        let height: u32 = h.trim().parse().map_err(|_| bad())?;
        if !(TrainSize::MIN..=TrainSize::MAX).contains(&width)
            || !(TrainSize::MIN..=TrainSize::MAX).contains(&height)
        {
            return Err(ModelError::InvalidMetadata {
                key: "train_size",
                value: s.to_string(),
                expected: "`WIDTHxHEIGHT` with each side in 12..=4096 (the element's working \
                           size when working-width/height are 0)",
            });
        }
        Ok(TrainSize { width, height })
    }
}

/// What the model was trained to see as its previous frame (metadata key `previous_frame`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreviousFrame {
    /// The paper: the previous colour frame (ground truth in training, the model's own output
    /// at inference).
    #[default]
    Chain,
    /// The ablation trained with the previous frame always blank (`tcvc-train --prev-prob 0`):
    /// it is run with a blank previous frame too.
    Blank,
}

impl PreviousFrame {
    /// The metadata value: `chain` or `blank`.
    pub fn as_str(self) -> &'static str {
        match self {
            PreviousFrame::Chain => "chain",
            PreviousFrame::Blank => "blank",
        }
    }
}

/// Descriptive metadata stored next to the weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMeta {
    /// What channel 0 of the input holds.
    pub input_mode: InputMode,
    /// Size of the training crops.
    pub train_size: TrainSize,
    /// Free text: where the weights come from (dataset, run, conversion).
    pub provenance: String,
    /// The previous frame the model expects (absent in a file: `chain`).
    pub previous_frame: PreviousFrame,
    /// The output the model recommends (`output_mode`; absent: none, `auto` then follows the
    /// input mode).
    pub output: Option<OutputMode>,
    /// How the model was trained on frames of the other orientation (`working_orientation`;
    /// absent: `model`): `Turn` or `Model`, never `Auto`.
    pub working_orientation: WorkingOrientation,
}

/// On-disk storage precision of the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDtype {
    /// 32-bit float (exact).
    F32,
    /// 16-bit IEEE half (half the size; weights must fit in ±65504).
    F16,
}

/// A loaded model: generator ready for inference plus its metadata.
#[derive(Debug)]
pub struct LoadedModel {
    /// Generator on the requested device and kind, weights frozen.
    pub generator: Generator,
    /// Metadata from the file.
    pub meta: ModelMeta,
}

/// A loaded model of either architecture (see [`ModelFile::load_any`]).
#[derive(Debug)]
pub struct LoadedNet {
    /// The network on the requested device and kind, weights frozen.
    pub net: ColorNet,
    /// Metadata from the file.
    pub meta: ModelMeta,
}

/// Reader / writer of the model file format (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ModelFile;

impl ModelFile {
    /// Writes `generator` and `meta` to `path` atomically: a sibling temporary
    /// file is written, fsynced and renamed over `path`, then the folder is
    /// fsynced.
    pub fn save(
        path: impl AsRef<Path>,
        generator: &Generator,
        meta: &ModelMeta,
        storage: StorageDtype,
    ) -> Result<()> {
        let bytes = Self::to_bytes(generator, meta, storage)?;
        write_atomic(path.as_ref(), &bytes)
    }

    /// Writes a pix2pix U-Net baseline file (format `tcvc-pix2pix-unet`) atomically, as
    /// [`ModelFile::save`].
    pub fn save_unet(
        path: impl AsRef<Path>,
        unet: &UnetGenerator,
        meta: &ModelMeta,
        storage: StorageDtype,
    ) -> Result<()> {
        let info = [
            ("format", UNET_FORMAT_NAME.to_string()),
            ("format_version", FORMAT_VERSION.to_string()),
            ("channels", unet.channels().to_string()),
            ("downs", unet.downs().to_string()),
            ("input_mode", meta.input_mode.to_string()),
            ("train_size", meta.train_size.to_string()),
            ("provenance", meta.provenance.clone()),
        ];
        let mut info = info.to_vec();
        info.extend(meta.output.map(|o| ("output_mode", o.to_string())));
        if meta.working_orientation == WorkingOrientation::Turn {
            info.push(("working_orientation", "turn".to_string()));
        }
        let bytes = tensors_to_bytes(unet.named_tensors(), &info, storage)?;
        write_atomic(path.as_ref(), &bytes)
    }

    /// Serialises `generator` and `meta` to safetensors bytes.
    pub fn to_bytes(
        generator: &Generator,
        meta: &ModelMeta,
        storage: StorageDtype,
    ) -> Result<Vec<u8>> {
        let config = generator.config();
        let info = [
            ("format", FORMAT_NAME.to_string()),
            ("format_version", FORMAT_VERSION.to_string()),
            ("channels", config.channels.to_string()),
            ("res_blocks", config.res_blocks.to_string()),
            ("input_mode", meta.input_mode.to_string()),
            ("train_size", meta.train_size.to_string()),
            ("provenance", meta.provenance.clone()),
            ("previous_frame", meta.previous_frame.as_str().to_string()),
        ];
        let mut info = info.to_vec();
        info.extend(meta.output.map(|o| ("output_mode", o.to_string())));
        if meta.working_orientation == WorkingOrientation::Turn {
            info.push(("working_orientation", "turn".to_string()));
        }
        tensors_to_bytes(generator.named_tensors(), &info, storage)
    }

    /// Reads, validates and loads a model file. The generator's weights end
    /// up on `device` with `kind` (Float, BFloat16 or Half), frozen.
    pub fn load(path: impl AsRef<Path>, device: Device, kind: Kind) -> Result<LoadedModel> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        load_from_bytes_at(&bytes, path, device, kind)
    }

    /// As [`ModelFile::load`], from bytes already in memory.
    pub fn load_from_bytes(bytes: &[u8], device: Device, kind: Kind) -> Result<LoadedModel> {
        load_from_bytes_at(bytes, Path::new("<memory>"), device, kind)
    }

    /// Reads, validates and loads a model file of either architecture: a TCVC generator
    /// (format `tcvc-generator`) or a pix2pix U-Net baseline (`tcvc-pix2pix-unet`).
    pub fn load_any(path: impl AsRef<Path>, device: Device, kind: Kind) -> Result<LoadedNet> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        load_any_from_bytes_at(&bytes, path, device, kind)
    }

    /// As [`ModelFile::load_any`], from bytes already in memory (e.g. the built-in default
    /// model); `name` stands for the path in error messages.
    pub fn load_any_from_bytes(
        bytes: &[u8],
        name: &str,
        device: Device,
        kind: Kind,
    ) -> Result<LoadedNet> {
        load_any_from_bytes_at(bytes, Path::new(name), device, kind)
    }

    /// Reads and validates only the metadata and architecture of a model
    /// file (all checks of [`ModelFile::load`] except building tensors).
    pub fn inspect(path: impl AsRef<Path>) -> Result<(GeneratorConfig, ModelMeta)> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        let st = parse(&bytes, path)?;
        let (config, meta) = parse_metadata(&st.metadata)?;
        validate_tensors(&st.tensors, &config)?;
        Ok((config, meta))
    }
}

/// Serialises named tensors (converted to `storage`) and metadata to safetensors bytes.
fn tensors_to_bytes(
    named: Vec<(String, Tensor)>,
    info: &[(&str, String)],
    storage: StorageDtype,
) -> Result<Vec<u8>> {
    let (kind, dtype) = match storage {
        StorageDtype::F32 => (Kind::Float, Dtype::F32),
        StorageDtype::F16 => (Kind::Half, Dtype::F16),
    };
    let _guard = tch::no_grad_guard();
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in named {
        let t32 = t
            .f_detach()
            .and_then(|t| t.f_to_device(Device::Cpu))
            .and_then(|t| t.f_to_kind(Kind::Float))
            .map_err(ModelError::torch(format!("reading `{name}`")))?;
        if storage == StorageDtype::F16 {
            let max = t32
                .f_abs()
                .and_then(|a| a.f_max())
                .and_then(|m| m.f_double_value(&[]))
                .map_err(ModelError::torch(format!("checking `{name}`")))?;
            if max.is_nan() || max > 65504.0 {
                return Err(ModelError::InvalidConfig(format!(
                    "tensor `{name}` has |value| up to {max}, which does not fit in F16; \
                     save with F32 storage"
                )));
            }
        }
        let c = t32
            .f_to_kind(kind)
            .and_then(|t| t.f_contiguous())
            .map_err(ModelError::torch(format!("converting `{name}`")))?;
        let numel = c.numel();
        let mut data = vec![0u8; numel * kind.elt_size_in_bytes()];
        c.f_copy_data_u8(&mut data, numel)
            .map_err(ModelError::torch(format!("copying `{name}`")))?;
        let shape = c.size().iter().map(|&d| d as usize).collect();
        buffers.push((name, shape, data));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, shape, data) in &buffers {
        let view = TensorView::new(dtype, shape.clone(), data).map_err(|e| {
            ModelError::InvalidConfig(format!("cannot describe tensor `{name}`: {e}"))
        })?;
        views.push((name.clone(), view));
    }
    let info: HashMap<String, String> = info
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    safetensors::serialize(views, Some(info))
        .map_err(|e| ModelError::InvalidConfig(format!("cannot serialise the model: {e}")))
}

/// [`crate::fsutil::write_atomic`], its error as [`ModelError::Write`].
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes).map_err(|e| ModelError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// The largest weights file read (1 GiB): the paper's generator is 31 MB in fp32, VGG19's
/// features 80 MB.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The largest safetensors header read (the format's own limit is 100 MB).
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// Reads a weights file after checking, from its size and its header alone, that it is a
/// regular file of at most [`MAX_FILE_BYTES`] whose safetensors header declares exactly the
/// bytes that follow it: a device (`/dev/zero`), a pipe, a huge or a truncated file is refused
/// before its tensors are read. Errors: [`ModelError::Io`], `EmptyFile`, `NotSafetensors`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_st = |detail: String| ModelError::NotSafetensors {
        path: path.to_path_buf(),
        detail,
    };
    let md = std::fs::metadata(path).map_err(io)?;
    if md.is_dir() {
        return Err(io(std::io::Error::other("is a directory, not a file")));
    }
    if !md.is_file() {
        return Err(io(std::io::Error::other(
            "is not a regular file (a device, a pipe or a socket)",
        )));
    }
    let len = md.len();
    if len == 0 {
        return Err(ModelError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if len > MAX_FILE_BYTES {
        return Err(not_st(format!(
            "{len} bytes, more than the {MAX_FILE_BYTES} bytes a weights file may have \
             (the paper's generator is 31 MB)"
        )));
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    if len < 8 {
        // Too short for a header: `parse` names the problem.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        return Ok(bytes);
    }
    let mut head = [0u8; 8];
    file.read_exact(&mut head).map_err(io)?;
    let n = u64::from_le_bytes(head);
    if n > MAX_HEADER_BYTES || 8 + n > len {
        return Err(not_st(format!(
            "its header length field says {n} bytes but the file has {len}"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header).map_err(io)?;
    let declared = declared_data_bytes(&header).map_err(not_st)?;
    let want = 8 + n + declared;
    if want != len {
        return Err(not_st(if want > len {
            format!("its header declares {want} bytes, the file has only {len}: it is truncated")
        } else {
            format!(
                "its header declares {want} bytes, the file has {len}: {} unexpected bytes \
                 follow the tensors",
                len - want
            )
        }));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&header);
    file.take(declared).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 != len {
        return Err(not_st(format!(
            "the file shrank to {} bytes while it was read",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The data bytes a safetensors header declares: the largest end offset of its tensors.
fn declared_data_bytes(header: &[u8]) -> std::result::Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("its header is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("its header is not a JSON object")?;
    let mut end = 0u64;
    for (name, t) in obj {
        if name == "__metadata__" {
            continue;
        }
        let offsets = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| format!("tensor `{name}` has no data_offsets"))?;
        let e = offsets[1]
            .as_u64()
            .ok_or_else(|| format!("tensor `{name}` has a bad end offset"))?;
        end = end.max(e);
    }
    Ok(end)
}

/// A parsed safetensors container.
pub(crate) struct Parsed<'a> {
    pub metadata: HashMap<String, String>,
    pub tensors: HashMap<String, TensorView<'a>>,
}

/// Parses safetensors bytes (never panics on garbage).
pub(crate) fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<Parsed<'a>> {
    let not_st = |detail: String| ModelError::NotSafetensors {
        path: path.to_path_buf(),
        detail,
    };
    if bytes.is_empty() {
        return Err(ModelError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if bytes.len() < 8 {
        return Err(not_st(format!(
            "only {} bytes, shorter than the 8-byte header length",
            bytes.len()
        )));
    }
    // Hints are only computed once parsing failed: a valid header length
    // may happen to start with the same bytes.
    let with_hint = |e: safetensors::SafeTensorError| {
        let hint = if bytes.starts_with(b"PK\x03\x04") {
            "; it is a ZIP archive, i.e. a PyTorch checkpoint saved with torch.save"
        } else if bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
            "; it looks like a Python pickle (legacy torch.save)"
        } else {
            ""
        };
        not_st(format!("{e}{hint}"))
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(with_hint)?;
    let st = SafeTensors::deserialize(bytes).map_err(with_hint)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = st.tensors().into_iter().collect();
    Ok(Parsed { metadata, tensors })
}

fn meta_str<'a>(m: &'a HashMap<String, String>, key: &'static str) -> Result<&'a str> {
    m.get(key)
        .map(String::as_str)
        .ok_or(ModelError::MissingMetadata { key })
}

fn parse_int(m: &HashMap<String, String>, key: &'static str, range: &'static str) -> Result<i64> {
    let v = meta_str(m, key)?;
    v.trim()
        .parse::<i64>()
        .map_err(|_| ModelError::InvalidMetadata {
            key,
            value: v.to_string(),
            expected: range,
        })
}

/// Validates the `__metadata__` block.
pub(crate) fn parse_metadata(m: &HashMap<String, String>) -> Result<(GeneratorConfig, ModelMeta)> {
    let format = meta_str(m, "format")?;
    if format != FORMAT_NAME {
        return Err(ModelError::WrongFormat {
            found: format.to_string(),
        });
    }
    let version = meta_str(m, "format_version")?;
    if version.trim() != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion {
            found: version.to_string(),
        });
    }
    let channels = parse_int(m, "channels", "an integer in 1..=1024")?;
    let res_blocks = parse_int(m, "res_blocks", "an integer in 0..=64")?;
    let config = GeneratorConfig {
        channels,
        res_blocks,
    };
    if !(1..=super::generator::MAX_CHANNELS).contains(&channels) {
        return Err(ModelError::InvalidMetadata {
            key: "channels",
            value: channels.to_string(),
            expected: "an integer in 1..=1024",
        });
    }
    if !(0..=super::generator::MAX_RES_BLOCKS).contains(&res_blocks) {
        return Err(ModelError::InvalidMetadata {
            key: "res_blocks",
            value: res_blocks.to_string(),
            expected: "an integer in 0..=64",
        });
    }
    let input_mode: InputMode = meta_str(m, "input_mode")?.parse()?;
    let train_size: TrainSize = meta_str(m, "train_size")?.parse()?;
    let provenance = m.get("provenance").cloned().unwrap_or_default();
    let previous_frame = match m.get("previous_frame").map(|v| v.trim()) {
        None | Some("chain") => PreviousFrame::Chain,
        Some("blank") => PreviousFrame::Blank,
        Some(other) => {
            return Err(ModelError::InvalidMetadata {
                key: "previous_frame",
                value: other.to_string(),
                expected: "`chain` or `blank`",
            })
        }
    };
    Ok((
        config,
        ModelMeta {
            input_mode,
            train_size,
            provenance,
            previous_frame,
            output: parse_output(m)?,
            working_orientation: parse_orientation(m)?,
        },
    ))
}

/// The optional `working_orientation` entry (absent: `model`).
fn parse_orientation(m: &HashMap<String, String>) -> Result<WorkingOrientation> {
    match m.get("working_orientation").map(|v| v.trim()) {
        None | Some("model") => Ok(WorkingOrientation::Model),
        Some("turn") => Ok(WorkingOrientation::Turn),
        Some(v) => Err(ModelError::InvalidMetadata {
            key: "working_orientation",
            value: v.to_string(),
            expected: "`turn` or `model`",
        }),
    }
}

/// The optional `output_mode` entry.
fn parse_output(m: &HashMap<String, String>) -> Result<Option<OutputMode>> {
    m.get("output_mode")
        .map(|v| {
            v.parse().map_err(|_| ModelError::InvalidMetadata {
                key: "output_mode",
                value: v.clone(),
                expected: "`ink`, `luma`, `color` or `fill`",
            })
        })
        .transpose()
}

/// Validates the `__metadata__` block of a pix2pix U-Net file: `(downs, channels, meta)`.
fn parse_unet_metadata(m: &HashMap<String, String>) -> Result<(u32, i64, ModelMeta)> {
    let version = meta_str(m, "format_version")?;
    if version.trim() != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion {
            found: version.to_string(),
        });
    }
    let channels = parse_int(m, "channels", "an integer in 1..=1024")?;
    if !(1..=super::generator::MAX_CHANNELS).contains(&channels) {
        return Err(ModelError::InvalidMetadata {
            key: "channels",
            value: channels.to_string(),
            expected: "an integer in 1..=1024",
        });
    }
    let downs = parse_int(m, "downs", "an integer in 5..=8")?;
    if !(MIN_DOWNS as i64..=MAX_DOWNS as i64).contains(&downs) {
        return Err(ModelError::InvalidMetadata {
            key: "downs",
            value: downs.to_string(),
            expected: "an integer in 5..=8",
        });
    }
    let meta = ModelMeta {
        input_mode: meta_str(m, "input_mode")?.parse()?,
        train_size: meta_str(m, "train_size")?.parse()?,
        provenance: m.get("provenance").cloned().unwrap_or_default(),
        previous_frame: PreviousFrame::Blank,
        output: parse_output(m)?,
        working_orientation: parse_orientation(m)?,
    };
    Ok((downs as u32, channels, meta))
}

/// Maps a safetensors float dtype to the tch kind used to read it.
pub(crate) fn float_kind(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::F32 => Some(Kind::Float),
        Dtype::F16 => Some(Kind::Half),
        Dtype::BF16 => Some(Kind::BFloat16),
        Dtype::F64 => Some(Kind::Double),
        _ => None,
    }
}

/// Checks names, dtypes and shapes of `tensors` against `specs`
/// (missing first, in order; then unexpected names, sorted).
pub(crate) fn validate_against(
    tensors: &HashMap<String, TensorView<'_>>,
    specs: &[(String, Vec<i64>)],
    role: FileRole,
    allow_extra: bool,
) -> Result<()> {
    for (name, shape) in specs {
        let view = tensors.get(name).ok_or_else(|| ModelError::MissingTensor {
            role,
            name: name.clone(),
        })?;
        if float_kind(view.dtype()).is_none() {
            return Err(ModelError::UnsupportedDtype {
                role,
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if &found != shape {
            return Err(ModelError::ShapeMismatch {
                role,
                name: name.clone(),
                expected: shape.clone(),
                found,
            });
        }
    }
    if !allow_extra {
        let mut extra: Vec<&String> = tensors
            .keys()
            .filter(|k| !specs.iter().any(|(n, _)| n == *k))
            .collect();
        extra.sort();
        if let Some(name) = extra.first() {
            return Err(ModelError::UnexpectedTensor {
                role,
                name: (*name).clone(),
            });
        }
    }
    Ok(())
}

fn validate_tensors(
    tensors: &HashMap<String, TensorView<'_>>,
    config: &GeneratorConfig,
) -> Result<()> {
    validate_against(
        tensors,
        &config.parameter_specs(),
        FileRole::Generator,
        false,
    )
}

/// The tensors named by `specs` (already validated with [`validate_against`]) on `device` /
/// `kind`, by name.
pub(crate) fn tensors_of(
    tensors: &HashMap<String, TensorView<'_>>,
    specs: &[(String, Vec<i64>)],
    role: FileRole,
    device: Device,
    kind: Kind,
) -> Result<HashMap<String, Tensor>> {
    let mut map = HashMap::new();
    for (name, _) in specs {
        let view = tensors.get(name).ok_or_else(|| ModelError::MissingTensor {
            role,
            name: name.clone(),
        })?;
        map.insert(
            name.clone(),
            view_to_tensor(name, view, role, device, kind)?,
        );
    }
    Ok(map)
}

/// Builds a float32 CPU tensor from a *validated* view (dtype float, shape
/// and byte length consistent), then converts to `device`/`kind`.
pub(crate) fn view_to_tensor(
    name: &str,
    view: &TensorView<'_>,
    role: FileRole,
    device: Device,
    kind: Kind,
) -> Result<Tensor> {
    let src_kind = float_kind(view.dtype()).ok_or_else(|| ModelError::UnsupportedDtype {
        role,
        name: name.to_string(),
        dtype: format!("{:?}", view.dtype()),
    })?;
    let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    let numel: usize = view.shape().iter().product();
    let data = view.data();
    // `at_tensor_of_data` memcpy's numel * elt_size bytes: never let it read
    // past the slice, whatever the header claims.
    if numel.checked_mul(src_kind.elt_size_in_bytes()) != Some(data.len()) {
        return Err(ModelError::NotSafetensors {
            path: PathBuf::new(),
            detail: format!("tensor `{name}` byte length does not match its shape and dtype"),
        });
    }
    let ctx = || format!("building tensor `{name}`");
    let t = Tensor::f_from_data_size(data, &shape, src_kind)
        .and_then(|t| t.f_to_kind(Kind::Float))
        .map_err(ModelError::torch(ctx()))?;
    let finite = t
        .f_isfinite()
        .and_then(|f| f.f_all())
        .and_then(|a| a.f_int64_value(&[]))
        .map_err(ModelError::torch(ctx()))?;
    if finite == 0 {
        return Err(ModelError::NonFiniteTensor {
            role,
            name: name.to_string(),
        });
    }
    t.f_to_device(device)
        .and_then(|t| t.f_to_kind(kind))
        .and_then(|t| t.f_contiguous())
        .map(|t| t.set_requires_grad(false))
        .map_err(ModelError::torch(format!(
            "moving tensor `{name}` to {device:?}/{kind:?}"
        )))
}

fn load_any_from_bytes_at(
    bytes: &[u8],
    path: &Path,
    device: Device,
    kind: Kind,
) -> Result<LoadedNet> {
    check_compute_kind(kind)?;
    let st = parse(bytes, path)?;
    if st.metadata.get("format").map(String::as_str) != Some(UNET_FORMAT_NAME) {
        let m = load_from_bytes_at(bytes, path, device, kind)?;
        return Ok(LoadedNet {
            net: ColorNet::Tcvc(m.generator),
            meta: m.meta,
        });
    }
    let (downs, channels, meta) = parse_unet_metadata(&st.metadata)?;
    let specs = unet_parameter_specs(downs, channels);
    validate_against(&st.tensors, &specs, FileRole::Generator, false)?;
    let map = tensors_of(&st.tensors, &specs, FileRole::Generator, device, kind)?;
    let unet = UnetGenerator::from_named_tensors(downs, channels, map)?;
    Ok(LoadedNet {
        net: ColorNet::Pix2pix(unet),
        meta,
    })
}

fn load_from_bytes_at(
    bytes: &[u8],
    path: &Path,
    device: Device,
    kind: Kind,
) -> Result<LoadedModel> {
    check_compute_kind(kind)?;
    let st = parse(bytes, path)?;
    let (config, meta) = parse_metadata(&st.metadata)?;
    validate_tensors(&st.tensors, &config)?;
    let map = tensors_of(
        &st.tensors,
        &config.parameter_specs(),
        FileRole::Generator,
        device,
        kind,
    )?;
    let generator = Generator::from_named_tensors(config, map)?;
    Ok(LoadedModel { generator, meta })
}
