//! Typed errors of the model module.
//!
//! Every variant's `Display` says what is wrong *and* what to do about it, so
//! the GStreamer element and the trainer can show the message to the user as
//! is.

use std::path::PathBuf;

/// Which kind of weights file an error refers to (used in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A TCVC generator model file (`format = "tcvc-generator"`).
    Generator,
    /// A VGG19 weights file with torchvision key names.
    Vgg19,
}

impl FileRole {
    fn describe(self) -> &'static str {
        match self {
            FileRole::Generator => "TCVC model file",
            FileRole::Vgg19 => "VGG19 weights file",
        }
    }

    fn fix_hint(self) -> &'static str {
        match self {
            FileRole::Generator => {
                "re-create the file with tools/convert_reference.py (from a reference \
                 checkpoint) or with tcvc-train"
            }
            FileRole::Vgg19 => {
                "export torchvision's vgg19 `features` state_dict (keys `features.N.weight`/\
                 `features.N.bias`) to safetensors"
            }
        }
    }
}

/// Errors produced by model construction, model-file I/O and inference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file could not be opened or read (missing, permission denied,
    /// is a directory, ...).
    #[error("cannot read `{}`: {source}; {}", .path.display(), io_hint(.source))]
    Io {
        /// File that was accessed.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file exists but has zero bytes.
    #[error("`{}` is empty (0 bytes); the download or export was probably interrupted, write the model file again", .path.display())]
    EmptyFile {
        /// Offending file.
        path: PathBuf,
    },
    /// The bytes are not a valid safetensors container (truncated, random
    /// bytes, a PyTorch `.pth` pickle, ...).
    #[error("`{}` is not a valid safetensors file ({detail}); the file is truncated or corrupt, or is not a model file. Reference PyTorch checkpoints (.pth) must first be converted with tools/convert_reference.py", .path.display())]
    NotSafetensors {
        /// Offending file (empty when loading from memory).
        path: PathBuf,
        /// What the parser found.
        detail: String,
    },
    /// A required `__metadata__` entry is absent.
    #[error("model file has no `{key}` entry in its safetensors __metadata__; it was not written by gst-tcvc. Convert reference checkpoints with tools/convert_reference.py")]
    MissingMetadata {
        /// Metadata key.
        key: &'static str,
    },
    /// `__metadata__.format` is not `tcvc-generator`.
    #[error("model file declares format `{found}`, expected `tcvc-generator` (or `tcvc-pix2pix-unet`, which tcvc-eval and tcvccolorize also load); this is some other safetensors file. Convert reference checkpoints with tools/convert_reference.py")]
    WrongFormat {
        /// The format string found in the file.
        found: String,
    },
    /// `__metadata__.format_version` is not supported by this build.
    #[error("model file has format_version `{found}`, this build only reads version `1`; use a matching gst-tcvc version or re-export the model")]
    UnsupportedVersion {
        /// The version string found in the file.
        found: String,
    },
    /// A metadata value could not be parsed or is out of range.
    #[error("model file metadata `{key}` = `{value}` is invalid (expected {expected}); fix the metadata or re-export the model")]
    InvalidMetadata {
        /// Metadata key.
        key: &'static str,
        /// Value found in the file.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A tensor required by the architecture is absent.
    #[error("{} is missing tensor `{name}`; it is incomplete or was written for another architecture: {}", .role.describe(), .role.fix_hint())]
    MissingTensor {
        /// Which kind of file.
        role: FileRole,
        /// Parameter name, e.g. `middle.3.conv_block.5.weight`.
        name: String,
    },
    /// The file contains a tensor the architecture does not have.
    #[error("{} contains unexpected tensor `{name}` (not part of the architecture declared by its metadata); {}", .role.describe(), .role.fix_hint())]
    UnexpectedTensor {
        /// Which kind of file.
        role: FileRole,
        /// Parameter name.
        name: String,
    },
    /// A tensor has the wrong shape for the declared architecture.
    #[error("{} tensor `{name}` has shape {} but the architecture needs {}; the metadata (channels/res_blocks) does not match the weights: {}", .role.describe(), shape_str(.found), shape_str(.expected), .role.fix_hint())]
    ShapeMismatch {
        /// Which kind of file.
        role: FileRole,
        /// Parameter name.
        name: String,
        /// Shape required by the architecture.
        expected: Vec<i64>,
        /// Shape found in the file.
        found: Vec<i64>,
    },
    /// A tensor is stored with a non floating-point dtype.
    #[error("{} tensor `{name}` has dtype {dtype}; only floating-point weights (F32, F16, BF16, F64) are supported: {}", .role.describe(), .role.fix_hint())]
    UnsupportedDtype {
        /// Which kind of file.
        role: FileRole,
        /// Parameter name.
        name: String,
        /// Dtype found (safetensors spelling, e.g. `I64`).
        dtype: String,
    },
    /// A tensor contains NaN or infinite values.
    #[error("{} tensor `{name}` contains NaN or infinite values; the training run diverged or the file is corrupt, use an earlier checkpoint", .role.describe())]
    NonFiniteTensor {
        /// Which kind of file.
        role: FileRole,
        /// Parameter name.
        name: String,
    },
    /// An invalid configuration was requested (channels, kind, ...).
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    /// The input tensors given to a forward pass are unusable.
    #[error("invalid model input: {0}")]
    InvalidInput(String),
    /// Writing a model file failed.
    #[error("cannot write model file `{}`: {detail}; check that the directory exists, is writable and has free space", .path.display())]
    Write {
        /// Destination file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// libtorch reported an error (out of memory, unsupported kind on the
    /// device, ...).
    #[error("libtorch error while {context}: {source}")]
    Torch {
        /// What was being done.
        context: String,
        /// Error reported by tch / libtorch.
        source: tch::TchError,
    },
    /// An OpenCV call failed (the keyframe carry's camera-shift search).
    #[error("OpenCV error while {context}: {source}")]
    OpenCv {
        /// What was being done.
        context: String,
        /// Underlying OpenCV error.
        source: opencv::Error,
    },
}

impl ModelError {
    /// Wraps a [`tch::TchError`] with a short description of the operation.
    pub fn torch(context: impl Into<String>) -> impl FnOnce(tch::TchError) -> ModelError {
        let context = context.into();
        move |source| ModelError::Torch { context, source }
    }

    /// A closure for `map_err` that wraps an OpenCV error with what was being done.
    pub fn opencv(context: impl Into<String>) -> impl FnOnce(opencv::Error) -> ModelError {
        let context = context.into();
        move |source| ModelError::OpenCv { context, source }
    }
}

fn shape_str(s: &[i64]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The hint of an I/O error on a model file.
fn io_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::NotFound => {
            "check the path (the element's `model-file` property, tcvc-eval's --model)"
        }
        std::io::ErrorKind::PermissionDenied => "check the file permissions",
        _ => "make sure the path names a readable regular file",
    }
}

/// Shorthand result type of this module.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
