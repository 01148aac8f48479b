// SPDX-License-Identifier: MIT
//! The user choices every runner of the model offers — the element's `precision`, `output-mode`,
//! `previous-frame` and `working-orientation` properties and the tools' `--precision` /
//! `--output-mode` / `--previous` / `--working-orientation` — defined once. The element mirrors
//! them as GObject enums (`GstTcvcColorizePrecision`, `GstTcvcColorizeOutputMode`,
//! `GstTcvcColorizePreviousFrame`, `GstTcvcColorizeWorkingOrientation`, same nicks) and converts
//! with `From`.
use super::stream::OutputMode;
use super::{InputMode, PreviousFrame};
use std::fmt;
use std::str::FromStr;
use tch::{Device, Kind};

/// Inference precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float.
    #[default]
    Fp32,
    /// bfloat16 (the CPU speed lever on CPUs with AVX-512 BF16 / AMX; GPUs).
    Bf16,
    /// float16 (CUDA only).
    Fp16,
}

impl Precision {
    /// Every precision, in documentation order.
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Bf16, Precision::Fp16];

    /// The nick: `fp32`, `bf16`, `fp16`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }

    /// The libtorch kind on `device`; fp16 on the CPU is an error naming the fix.
    pub fn kind(self, device: Device) -> Result<Kind, String> {
        match self {
            Precision::Fp32 => Ok(Kind::Float),
            Precision::Bf16 => Ok(Kind::BFloat16),
            Precision::Fp16 if device.is_cuda() => Ok(Kind::Half),
            Precision::Fp16 => Err(format!(
                "fp16 needs CUDA (device is {device:?}); use bf16 or fp32 on the CPU"
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Precision::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not a precision: use fp32, bf16 or fp16"))
    }
}

/// How the full-resolution output is made: `auto` (the model's natural output: ink for line
/// art, luma for greyscale) or one [`OutputMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum OutputChoice {
    /// The output the model file recommends (its `output_mode` metadata: what measured best
    /// for it); without one, ink for line-art models and luma for greyscale models.
    #[default]
    Auto,
    /// The prediction multiplied by the full-resolution line art.
    Ink,
    /// The input's luma with the prediction's chroma.
    Luma,
    /// The upsampled prediction as is.
    Color,
    /// Flat fills: the prediction's mean over each region the line art encloses.
    Fill,
}

impl OutputChoice {
    /// Every choice, in documentation order.
    pub const ALL: [OutputChoice; 5] = [
        OutputChoice::Auto,
        OutputChoice::Ink,
        OutputChoice::Luma,
        OutputChoice::Color,
        OutputChoice::Fill,
    ];

    /// The nick: `auto`, `ink`, `luma`, `color`, `fill`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputChoice::Auto => "auto",
            OutputChoice::Ink => "ink",
            OutputChoice::Luma => "luma",
            OutputChoice::Color => "color",
            OutputChoice::Fill => "fill",
        }
    }

    /// The output mode for a model of `input_mode` that recommends `recommended` (its
    /// `output_mode` metadata, [`super::ModelMeta::output`]).
    pub fn resolve(self, input_mode: InputMode, recommended: Option<OutputMode>) -> OutputMode {
        match self {
            OutputChoice::Auto => recommended.unwrap_or(OutputMode::default_for(input_mode)),
            OutputChoice::Ink => OutputMode::Ink,
            OutputChoice::Luma => OutputMode::Luma,
            OutputChoice::Color => OutputMode::Color,
            OutputChoice::Fill => OutputMode::Fill,
        }
    }
}

impl fmt::Display for OutputChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutputChoice::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("'{s}' is not an output mode: use auto, ink, luma, color or fill")
            })
    }
}

/// What a TCVC model gets as its previous frame: `auto` (what its file says) or one of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum PreviousChoice {
    /// As the model file says (`previous_frame`: `chain` for TCVC models, `blank` for the
    /// `--prev-prob 0` ablation).
    #[default]
    Auto,
    /// The model's own previous output (reset at cuts; an artist keyframe replaces it).
    Chain,
    /// A blank previous frame on every frame: each frame coloured on its own.
    Blank,
}

impl PreviousChoice {
    /// Every choice, in documentation order.
    pub const ALL: [PreviousChoice; 3] = [
        PreviousChoice::Auto,
        PreviousChoice::Chain,
        PreviousChoice::Blank,
    ];

    /// The nick: `auto`, `chain`, `blank`.
    pub fn as_str(self) -> &'static str {
        match self {
            PreviousChoice::Auto => "auto",
            PreviousChoice::Chain => "chain",
            PreviousChoice::Blank => "blank",
        }
    }

    /// Whether a model whose file says `file` gets a blank previous frame on every frame (a
    /// network without a previous-frame input, pix2pix, always does).
    pub fn blank(self, file: PreviousFrame) -> bool {
        match self {
            PreviousChoice::Auto => file == PreviousFrame::Blank,
            PreviousChoice::Chain => false,
            PreviousChoice::Blank => true,
        }
    }
}

impl fmt::Display for PreviousChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PreviousChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PreviousChoice::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not a previous frame: use auto, chain or blank"))
    }
}

/// Which way round the working size runs when it is the model's training size. `turn` turns
/// it a quarter (width and height swapped) for a frame of the other orientation — a portrait
/// frame under a landscape training size, or the other way round — so that the frame is not
/// squeezed along its long side; `model` keeps the training size for every frame; `auto` does
/// what the model file says (its `working_orientation` metadata, written by `tcvc-train
/// --working-orientation`: `turn` for a model trained with such clips turned; absent: `model`).
/// Square frames and square training sizes are never turned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum WorkingOrientation {
    /// What the model file says.
    #[default]
    Auto,
    /// The working size's orientation follows the frame's.
    Turn,
    /// The training size as is, whatever the frame's orientation.
    Model,
}

impl WorkingOrientation {
    /// Every choice, in documentation order.
    pub const ALL: [WorkingOrientation; 3] = [
        WorkingOrientation::Auto,
        WorkingOrientation::Turn,
        WorkingOrientation::Model,
    ];

    /// The nick: `auto`, `turn`, `model`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkingOrientation::Auto => "auto",
            WorkingOrientation::Turn => "turn",
            WorkingOrientation::Model => "model",
        }
    }

    /// `turn` or `model`: `auto` resolved with the model file's choice `file` (`turn` or
    /// `model`; an `auto` there reads as `model`).
    pub fn resolve(self, file: WorkingOrientation) -> WorkingOrientation {
        match (self, file) {
            (WorkingOrientation::Auto, WorkingOrientation::Turn) => WorkingOrientation::Turn,
            (WorkingOrientation::Auto, _) => WorkingOrientation::Model,
            (own, _) => own,
        }
    }

    /// The working size for a `frame` (width, height) from the model's training size `train`
    /// (width, height). Resolve `auto` first ([`WorkingOrientation::resolve`]): unresolved, it
    /// keeps the training size, as `model`.
    pub fn working(self, train: (u32, u32), frame: (u32, u32)) -> (u32, u32) {
        let portrait = |(w, h): (u32, u32)| h > w;
        let landscape = |(w, h): (u32, u32)| w > h;
        let turn = self == WorkingOrientation::Turn
            && ((portrait(frame) && landscape(train)) || (landscape(frame) && portrait(train)));
        if turn {
            (train.1, train.0)
        } else {
            train
        }
    }
}

impl fmt::Display for WorkingOrientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkingOrientation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkingOrientation::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not a working orientation: use auto, turn or model"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fp16_needs_cuda() {
        for p in Precision::ALL {
            assert_eq!(p.as_str().parse::<Precision>(), Ok(p));
        }
        for o in OutputChoice::ALL {
            assert_eq!(o.to_string().parse::<OutputChoice>(), Ok(o));
        }
        assert!("fp8".parse::<Precision>().is_err());
        assert_eq!(Precision::Bf16.kind(Device::Cpu), Ok(Kind::BFloat16));
        assert!(Precision::Fp16
            .kind(Device::Cpu)
            .unwrap_err()
            .contains("needs CUDA"));
        assert_eq!(
            OutputChoice::Auto.resolve(InputMode::Greyscale, None),
            OutputMode::Luma
        );
        assert_eq!(
            OutputChoice::Auto.resolve(InputMode::Lineart, None),
            OutputMode::Ink
        );
        // A model's recommendation decides `auto`, never an explicit choice.
        assert_eq!(
            OutputChoice::Auto.resolve(InputMode::Lineart, Some(OutputMode::Color)),
            OutputMode::Color
        );
        assert_eq!(
            OutputChoice::Ink.resolve(InputMode::Lineart, Some(OutputMode::Color)),
            OutputMode::Ink
        );
        for m in OutputMode::ALL {
            assert_eq!(m.to_string().parse::<OutputMode>(), Ok(m));
        }
        assert!("auto".parse::<OutputMode>().is_err());
        for p in PreviousChoice::ALL {
            assert_eq!(p.to_string().parse::<PreviousChoice>(), Ok(p));
        }
        assert!("none".parse::<PreviousChoice>().is_err());
        for o in WorkingOrientation::ALL {
            assert_eq!(o.to_string().parse::<WorkingOrientation>(), Ok(o));
        }
        assert!("portrait".parse::<WorkingOrientation>().is_err());
        for file in [PreviousFrame::Chain, PreviousFrame::Blank] {
            assert_eq!(
                PreviousChoice::Auto.blank(file),
                file == PreviousFrame::Blank
            );
            assert!(!PreviousChoice::Chain.blank(file));
            assert!(PreviousChoice::Blank.blank(file));
        }
    }

    #[test]
    fn working_orientation_turns_the_training_size_for_frames_of_the_other_orientation() {
        use WorkingOrientation::{Auto, Model, Turn};
        let landscape = (224, 128);
        for (choice, file) in [(Turn, Model), (Turn, Turn), (Auto, Turn)] {
            // Portrait frames (9:16, 3:4, a 1-pixel-wide column) get the training size turned.
            let w = |train, frame| choice.resolve(file).working(train, frame);
            assert_eq!(w(landscape, (216, 384)), (128, 224));
            assert_eq!(w(landscape, (216, 288)), (128, 224));
            assert_eq!(w(landscape, (1, 2)), (128, 224));
            // Landscape and square frames keep it.
            assert_eq!(w(landscape, (1920, 1080)), landscape);
            assert_eq!(w(landscape, (288, 216)), landscape);
            assert_eq!(w(landscape, (216, 216)), landscape);
            // A portrait training size turns for landscape frames; a square one never turns.
            assert_eq!(w((128, 224), (1920, 1080)), (224, 128));
            assert_eq!(w((128, 224), (216, 384)), (128, 224));
            assert_eq!(w((256, 256), (216, 384)), (256, 256));
            assert_eq!(w((256, 256), (1920, 1080)), (256, 256));
        }
        // `model`, and `auto` under a file that does not say `turn`, never turn; nor does an
        // unresolved `auto`.
        assert_eq!(Auto.working(landscape, (216, 384)), landscape);
        for (choice, file) in [(Model, Turn), (Model, Model), (Auto, Model), (Auto, Auto)] {
            for frame in [(216, 384), (1920, 1080), (216, 216)] {
                let o = choice.resolve(file);
                assert_eq!(o.working(landscape, frame), landscape);
                assert_eq!(o.working((128, 224), frame), (128, 224));
            }
        }
        assert_eq!(Auto.resolve(Turn), Turn);
        assert_eq!(Auto.resolve(Model), Model);
        assert_eq!(Turn.resolve(Model), Turn);
        assert_eq!(Model.resolve(Turn), Model);
    }
}
