// SPDX-License-Identifier: MIT
//! Typed element messages of the comparison elements, convertible to and from
//! `gst::Structure` so that applications read them without string-typing.
//!
//! Field names follow ffmpeg's stats where they exist: `n` (1-based), `running-time`, `pts`,
//! per-component values named by lower-case component letter (`y`, `u`, `v` or `r`, `g`, `b`).

pub use crate::message::MessageError;

fn expect_name(s: &gst::StructureRef, name: &str) -> Result<(), MessageError> {
    if s.name() == name {
        Ok(())
    } else {
        Err(MessageError(format!(
            "structure is '{}', expected '{name}'",
            s.name()
        )))
    }
}

fn field<'a, T: gst::glib::value::FromValue<'a> + 'static>(
    s: &'a gst::StructureRef,
    name: &str,
) -> Result<T, MessageError> {
    s.get::<T>(name)
        .map_err(|e| MessageError(format!("field '{name}' of '{}': {e}", s.name())))
}

fn opt_time(s: &gst::StructureRef, name: &str) -> Option<gst::ClockTime> {
    s.get::<u64>(name).ok().map(gst::ClockTime::from_nseconds)
}

/// The component letters present in a message, in Y, U, V, R, G, B order.
fn component_fields(s: &gst::StructureRef, prefix: &str) -> Vec<char> {
    ['y', 'u', 'v', 'r', 'g', 'b']
        .into_iter()
        .filter(|c| s.has_field(format!("{prefix}{c}").as_str()))
        .collect()
}

/// Per-frame `tcvcssim` message.
#[derive(Debug, Clone, PartialEq)]
pub struct SsimFrame {
    /// 1-based pair number.
    pub n: u64,
    /// Running time of the frame under test.
    pub running_time: Option<gst::ClockTime>,
    /// PTS of the frame under test.
    pub pts: Option<gst::ClockTime>,
    /// SSIM per component, e.g. `[('y', …), ('u', …), ('v', …)]`.
    pub components: Vec<(char, f64)>,
    /// Components weighted by plane area (ffmpeg's `All`).
    pub all: f64,
    /// `−10·log10(1 − all)`.
    pub db: f64,
}

/// Per-frame `tcvcpsnr` message.
#[derive(Debug, Clone, PartialEq)]
pub struct PsnrFrame {
    /// 1-based pair number.
    pub n: u64,
    /// Running time of the frame under test.
    pub running_time: Option<gst::ClockTime>,
    /// PTS of the frame under test.
    pub pts: Option<gst::ClockTime>,
    /// Plane-area-weighted MSE (`mse-avg`).
    pub mse_avg: f64,
    /// PSNR of `mse_avg` (`psnr-avg`), `inf` for identical frames.
    pub psnr_avg: f64,
    /// `(component, mse, psnr)` per component (`mse-y`, `psnr-y`, …).
    pub components: Vec<(char, f64, f64)>,
}

/// Per-frame `tcvcflicker` message (frames t ≥ 2 of a chain).
#[derive(Debug, Clone, PartialEq)]
pub struct FlickerFrame {
    /// 1-based pair number.
    pub n: u64,
    /// Running time of the frame under test.
    pub running_time: Option<gst::ClockTime>,
    /// PTS of the frame under test.
    pub pts: Option<gst::ClockTime>,
    /// Mean |(Xₜ − Xₜ₋₁) − (Rₜ − Rₜ₋₁)|, 0‥255.
    pub temporal_error: f64,
    /// Mean |Xₜ − Xₜ₋₁|.
    pub flicker: f64,
    /// Mean |Rₜ − Rₜ₋₁|.
    pub reference_flicker: f64,
    /// Mean |Xₜ − Xₜ₋₁| where the reference is static; `None` (field absent) when nothing is.
    pub static_flicker: Option<f64>,
}

/// `<element>-summary` message posted at EOS.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Element name (`tcvcssim`, `tcvcpsnr`, `tcvcflicker`); the structure is `<name>-summary`.
    pub name: String,
    /// Frames compared (frames with figures).
    pub frames: u64,
    /// Mean of the main figure (SSIM `all`, PSNR `psnr-avg`, `temporal-error`); NaN when none.
    pub mean: f64,
    /// Minimum of the main figure.
    pub min: f64,
    /// Maximum of the main figure.
    pub max: f64,
    /// Frames under test with no reference frame at their running time.
    pub unpaired_sink: u64,
    /// Reference frames with no frame under test at their running time.
    pub unpaired_reference: u64,
}

fn put_times(
    b: gst::structure::Builder,
    n: u64,
    rt: Option<gst::ClockTime>,
    pts: Option<gst::ClockTime>,
) -> gst::structure::Builder {
    b.field("n", n)
        .field_if_some("running-time", rt.map(|t| t.nseconds()))
        .field_if_some("pts", pts.map(|t| t.nseconds()))
}

impl From<&SsimFrame> for gst::Structure {
    fn from(m: &SsimFrame) -> Self {
        let mut s = put_times(
            gst::Structure::builder("tcvcssim"),
            m.n,
            m.running_time,
            m.pts,
        )
        .build();
        for (c, v) in &m.components {
            s.set(c.to_string(), *v);
        }
        s.set("all", m.all);
        s.set("db", m.db);
        s
    }
}

impl TryFrom<&gst::StructureRef> for SsimFrame {
    type Error = MessageError;
    fn try_from(s: &gst::StructureRef) -> Result<Self, MessageError> {
        expect_name(s, "tcvcssim")?;
        let components = component_fields(s, "")
            .into_iter()
            .map(|c| Ok((c, field::<f64>(s, &c.to_string())?)))
            .collect::<Result<_, MessageError>>()?;
        Ok(SsimFrame {
            n: field(s, "n")?,
            running_time: opt_time(s, "running-time"),
            pts: opt_time(s, "pts"),
            components,
            all: field(s, "all")?,
            db: field(s, "db")?,
        })
    }
}

impl From<&PsnrFrame> for gst::Structure {
    fn from(m: &PsnrFrame) -> Self {
        let mut s = put_times(
            gst::Structure::builder("tcvcpsnr"),
            m.n,
            m.running_time,
            m.pts,
        )
        .field("mse-avg", m.mse_avg)
        .field("psnr-avg", m.psnr_avg)
        .build();
        for (c, mse, psnr) in &m.components {
            s.set(format!("mse-{c}"), *mse);
            s.set(format!("psnr-{c}"), *psnr);
        }
        s
    }
}

impl TryFrom<&gst::StructureRef> for PsnrFrame {
    type Error = MessageError;
    fn try_from(s: &gst::StructureRef) -> Result<Self, MessageError> {
        expect_name(s, "tcvcpsnr")?;
        let components = component_fields(s, "mse-")
            .into_iter()
            .map(|c| {
                Ok((
                    c,
                    field::<f64>(s, &format!("mse-{c}"))?,
                    field::<f64>(s, &format!("psnr-{c}"))?,
                ))
            })
            .collect::<Result<_, MessageError>>()?;
        Ok(PsnrFrame {
            n: field(s, "n")?,
            running_time: opt_time(s, "running-time"),
            pts: opt_time(s, "pts"),
            mse_avg: field(s, "mse-avg")?,
            psnr_avg: field(s, "psnr-avg")?,
            components,
        })
    }
}

impl From<&FlickerFrame> for gst::Structure {
    fn from(m: &FlickerFrame) -> Self {
        put_times(
            gst::Structure::builder("tcvcflicker"),
            m.n,
            m.running_time,
            m.pts,
        )
        .field("temporal-error", m.temporal_error)
        .field("flicker", m.flicker)
        .field("reference-flicker", m.reference_flicker)
        .field_if_some("static-flicker", m.static_flicker)
        .build()
    }
}

impl TryFrom<&gst::StructureRef> for FlickerFrame {
    type Error = MessageError;
    fn try_from(s: &gst::StructureRef) -> Result<Self, MessageError> {
        expect_name(s, "tcvcflicker")?;
        Ok(FlickerFrame {
            n: field(s, "n")?,
            running_time: opt_time(s, "running-time"),
            pts: opt_time(s, "pts"),
            temporal_error: field(s, "temporal-error")?,
            flicker: field(s, "flicker")?,
            reference_flicker: field(s, "reference-flicker")?,
            static_flicker: s.get::<f64>("static-flicker").ok(),
        })
    }
}

impl From<&Summary> for gst::Structure {
    fn from(m: &Summary) -> Self {
        gst::Structure::builder(format!("{}-summary", m.name))
            .field("frames", m.frames)
            .field("mean", m.mean)
            .field("min", m.min)
            .field("max", m.max)
            .field("unpaired-sink", m.unpaired_sink)
            .field("unpaired-reference", m.unpaired_reference)
            .build()
    }
}

impl TryFrom<&gst::StructureRef> for Summary {
    type Error = MessageError;
    fn try_from(s: &gst::StructureRef) -> Result<Self, MessageError> {
        let name = s
            .name()
            .strip_suffix("-summary")
            .ok_or_else(|| MessageError(format!("'{}' is not a summary", s.name())))?;
        Ok(Summary {
            name: name.to_string(),
            frames: field(s, "frames")?,
            mean: field(s, "mean")?,
            min: field(s, "min")?,
            max: field(s, "max")?,
            unpaired_sink: field(s, "unpaired-sink")?,
            unpaired_reference: field(s, "unpaired-reference")?,
        })
    }
}

impl SsimFrame {
    /// The frame's line in FFmpeg's `ssim` stats-file format:
    /// `n:1 Y:0.912345 U:0.954321 V:0.967890 All:0.923456 (11.145678)`.
    pub fn stats_line(&self) -> String {
        let mut line = format!("n:{} ", self.n);
        for (c, v) in &self.components {
            line.push_str(&format!("{}:{v:.6} ", c.to_ascii_uppercase()));
        }
        line.push_str(&format!("All:{:.6} ({:.6})", self.all, self.db));
        line
    }
}

impl PsnrFrame {
    /// The frame's line in FFmpeg's `psnr` stats-file format (trailing space included):
    /// `n:1 mse_avg:3.00 mse_y:… psnr_avg:43.36 psnr_y:… `.
    pub fn stats_line(&self) -> String {
        let mut line = format!("n:{} mse_avg:{:.2} ", self.n, self.mse_avg);
        for (c, mse, _) in &self.components {
            line.push_str(&format!("mse_{c}:{mse:.2} "));
        }
        line.push_str(&format!("psnr_avg:{:.2} ", self.psnr_avg));
        for (c, _, psnr) in &self.components {
            line.push_str(&format!("psnr_{c}:{psnr:.2} "));
        }
        line
    }
}

impl FlickerFrame {
    /// The CSV header of [`FlickerFrame::csv_line`].
    pub const CSV_HEADER: &'static str =
        "n,running_time_ns,pts_ns,temporal_error,flicker,reference_flicker,static_flicker";

    /// The frame's CSV line (empty fields for unknown times and no static sample).
    pub fn csv_line(&self) -> String {
        let ns =
            |t: Option<gst::ClockTime>| t.map(|t| t.nseconds().to_string()).unwrap_or_default();
        format!(
            "{},{},{},{:.6},{:.6},{:.6},{}",
            self.n,
            ns(self.running_time),
            ns(self.pts),
            self.temporal_error,
            self.flicker,
            self.reference_flicker,
            self.static_flicker
                .map(|v| format!("{v:.6}"))
                .unwrap_or_default()
        )
    }
}

/// Parses a line of an FFmpeg-format stats file (`ssim` or `psnr`, ours or FFmpeg's) into
/// `(key, value)` pairs in order; the `(…)` of an `ssim` line becomes key `db`, `inf` is
/// infinity.
pub fn parse_stats_line(line: &str) -> Result<Vec<(String, f64)>, MessageError> {
    line.split_whitespace()
        .map(|tok| {
            let (k, v) = match tok.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
                Some(db) => ("db", db),
                None => tok
                    .split_once(':')
                    .ok_or_else(|| MessageError(format!("'{tok}' is not key:value")))?,
            };
            if k.is_empty() {
                return Err(MessageError(format!("'{tok}' has no key")));
            }
            let v: f64 = v
                .parse()
                .map_err(|_| MessageError(format!("'{tok}': '{v}' is not a number")))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_structures() {
        gst::init().unwrap();
        let t = Some(gst::ClockTime::from_mseconds(40));
        let ssim = SsimFrame {
            n: 2,
            running_time: t,
            pts: t,
            components: vec![('y', 0.9), ('u', 0.95), ('v', 0.97)],
            all: 0.92,
            db: 10.9,
        };
        let s = gst::Structure::from(&ssim);
        assert_eq!(s.name(), "tcvcssim");
        assert_eq!(s.get::<f64>("u").unwrap(), 0.95);
        assert_eq!(SsimFrame::try_from(s.as_ref()).unwrap(), ssim);

        let psnr = PsnrFrame {
            n: 1,
            running_time: None,
            pts: t,
            mse_avg: 3.0,
            psnr_avg: 43.4,
            components: vec![('r', 1.0, 48.1), ('g', 4.0, 42.1), ('b', 4.0, 42.1)],
        };
        let s = gst::Structure::from(&psnr);
        assert_eq!(s.get::<f64>("psnr-g").unwrap(), 42.1);
        assert_eq!(PsnrFrame::try_from(s.as_ref()).unwrap(), psnr);

        let fl = FlickerFrame {
            n: 3,
            running_time: t,
            pts: t,
            temporal_error: 1.5,
            flicker: 2.0,
            reference_flicker: 1.0,
            static_flicker: None,
        };
        let s = gst::Structure::from(&fl);
        assert!(!s.has_field("static-flicker"));
        assert_eq!(FlickerFrame::try_from(s.as_ref()).unwrap(), fl);

        let sum = Summary {
            name: "tcvcpsnr".into(),
            frames: 10,
            mean: 40.0,
            min: 38.0,
            max: 42.0,
            unpaired_sink: 1,
            unpaired_reference: 0,
        };
        let s = gst::Structure::from(&sum);
        assert_eq!(s.name(), "tcvcpsnr-summary");
        assert_eq!(Summary::try_from(s.as_ref()).unwrap(), sum);
        assert!(SsimFrame::try_from(s.as_ref()).is_err());
    }
}
