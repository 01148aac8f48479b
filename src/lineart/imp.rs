// SPDX-License-Identifier: MIT
use crate::edges::{self, Extractor, GreySource, Params};
use crate::formatcaps;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use once_cell::sync::Lazy;
use std::sync::Mutex;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "tcvclineart",
        gst::DebugColorFlags::empty(),
        Some("TCVC line-art extraction"),
    )
});

/// Sink formats: every format [`GreySource`] reads.
const SINK_FORMATS: &[gst_video::VideoFormat] = edges::GREY_SOURCE_FORMATS;

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTcvcLineArtMode")]
pub enum Mode {
    #[enum_value(name = "Line art: Canny lines, black on white", nick = "lineart")]
    LineArt = 0,
    #[enum_value(
        name = "Greyscale: the grey image itself, for greyscale colorization",
        nick = "greyscale"
    )]
    Greyscale = 1,
}

const DEFAULT_INVERT: bool = true;
const DEFAULT_MODE: Mode = Mode::LineArt;

#[derive(Debug, Clone, Copy)]
struct Settings {
    params: Params,
    invert: bool,
    mode: Mode,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            params: Params::default(),
            invert: DEFAULT_INVERT,
            mode: DEFAULT_MODE,
        }
    }
}

struct State {
    source: GreySource,
    extractor: Extractor,
}

#[derive(Default)]
pub struct LineArt {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for LineArt {
    const NAME: &'static str = "GstTcvcLineArt";
    type Type = super::LineArt;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for LineArt {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![
                glib::ParamSpecDouble::builder("sigma")
                    .nick("Sigma")
                    .blurb("Standard deviation in pixels of the Gaussian blur before Canny (0 = no blur)")
                    .minimum(0.0)
                    .maximum(32.0)
                    .default_value(edges::DEFAULT_SIGMA)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("low-threshold")
                    .nick("Low threshold")
                    .blurb("Canny low hysteresis threshold on the L2 gradient magnitude (8-bit units; default = scikit-image's 0.1)")
                    .minimum(0.0)
                    .maximum(2048.0)
                    .default_value(edges::DEFAULT_LOW_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("high-threshold")
                    .nick("High threshold")
                    .blurb("Canny high hysteresis threshold on the L2 gradient magnitude (8-bit units; default = scikit-image's 0.2)")
                    .minimum(0.0)
                    .maximum(2048.0)
                    .default_value(edges::DEFAULT_HIGH_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("invert")
                    .nick("Invert")
                    .blurb("Black lines on white (true, as the training data) or white lines on black (false)")
                    .default_value(DEFAULT_INVERT)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb("lineart: Canny line art; greyscale: the grey image itself")
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "sigma" => settings.params.sigma = value.get().expect("type checked upstream"),
            "low-threshold" => {
                settings.params.low_threshold = value.get().expect("type checked upstream")
            }
            "high-threshold" => {
                settings.params.high_threshold = value.get().expect("type checked upstream")
            }
            "invert" => settings.invert = value.get().expect("type checked upstream"),
            "mode" => settings.mode = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "sigma" => settings.params.sigma.to_value(),
            "low-threshold" => settings.params.low_threshold.to_value(),
            "high-threshold" => settings.params.high_threshold.to_value(),
            "invert" => settings.invert.to_value(),
            "mode" => settings.mode.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for LineArt {}

impl ElementImpl for LineArt {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "TCVC line art",
                "Filter/Effect/Video",
                "Extracts Canny line art (black lines on white, Gaussian sigma 1) or the grey image, \
                 as the TCVC colorization model expects",
                "gst-tcvc developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: Lazy<Vec<gst::PadTemplate>> =
            Lazy::new(|| formatcaps::pad_templates(SINK_FORMATS, &[gst_video::VideoFormat::Gray8]));
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for LineArt {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        // Same size and rate on both sides; GRAY8 out, any supported format in.
        let other = formatcaps::transform_caps(
            direction,
            caps,
            filter,
            SINK_FORMATS,
            &[gst_video::VideoFormat::Gray8],
        );
        gst::debug!(
            CAT,
            imp = self,
            "transformed {caps} ({direction:?}) into {other}"
        );
        Some(other)
    }

    fn accept_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> bool {
        let ok = self.parent_accept_caps(direction, caps);
        if !ok && direction == gst::PadDirection::Sink {
            let format = caps
                .structure(0)
                .and_then(|s| s.get::<&str>("format").ok())
                .unwrap_or("?");
            gst::error!(
                CAT,
                imp = self,
                "refusing caps {caps}: format {format} is not supported (accepted: {}); \
                 put videoconvert in front of tcvclineart",
                SINK_FORMATS
                    .iter()
                    .map(|f| f.to_str().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        ok
    }
}

impl VideoFilterImpl for LineArt {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "configured {incaps} -> {outcaps}");
        if in_info.is_interlaced() {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ["Interlaced video ({}) is not supported: Canny on woven fields draws combs; put deinterlace in front", in_info.interlace_mode().to_str()]
            );
            return Err(gst::loggable_error!(CAT, "interlaced input"));
        }
        if out_info.format() != gst_video::VideoFormat::Gray8
            || (in_info.width(), in_info.height()) != (out_info.width(), out_info.height())
        {
            return Err(gst::loggable_error!(
                CAT,
                "output must be GRAY8 of the input size, got {outcaps}"
            ));
        }
        let source = GreySource::of_format(&in_info.format_info());
        let mut state = self.state.lock().unwrap();
        // Keep the working buffers across caps changes of the same size.
        let extractor = state.take().map(|s| s.extractor).unwrap_or_default();
        *state = Some(State { source, extractor });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = *self.settings.lock().unwrap();
        let mut state = self.state.lock().unwrap();
        let state = state.as_mut().ok_or_else(|| {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["No caps set"]);
            gst::FlowError::NotNegotiated
        })?;
        let (w, h) = (inframe.width() as usize, inframe.height() as usize);
        let fail = |e: edges::EdgeError| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["{e} ({w}x{h} frame)"]);
            gst::FlowError::Error
        };
        state.extractor.resize(w, h).map_err(fail)?;

        let in_stride = inframe.plane_stride()[0] as usize;
        let src = inframe.plane_data(0).map_err(|_| gst::FlowError::Error)?;
        state
            .source
            .read(src, in_stride, state.extractor.grey_mut(), w, h);

        let out_stride = outframe.plane_stride()[0] as usize;
        let dst = outframe
            .plane_data_mut(0)
            .map_err(|_| gst::FlowError::Error)?;
        match settings.mode {
            Mode::Greyscale => edges::copy_plane(state.extractor.grey(), w, dst, out_stride, w, h),
            Mode::LineArt => {
                let lines = state.extractor.detect(&settings.params).map_err(fail)?;
                edges::write_lines(lines, settings.invert, dst, out_stride, w, h);
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
