// SPDX-License-Identifier: MIT
//! The `tcvccolorize-reset` element message, typed.

/// Why the previous-frame chain was reset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// FLUSH_STOP (a flushing seek).
    Flush,
    /// STREAM_START (a new stream).
    StreamStart,
    /// New caps (size or format change).
    Caps,
    /// A buffer flagged DISCONT that does not only skip frames (more than a second after the
    /// last frame, before it, or without a PTS; mirrored when the segment plays backwards).
    Discont,
    /// A GAP event that does not only skip frames (it ends more than a second after the last
    /// frame, or starts before it; mirrored when the segment plays backwards).
    Gap,
    /// A scene cut: the fraction of line pixels that changed.
    SceneCut(f64),
}

impl Reason {
    /// The `reason` field's value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Flush => "flush",
            Reason::StreamStart => "stream-start",
            Reason::Caps => "caps",
            Reason::Discont => "discont",
            Reason::Gap => "gap",
            Reason::SceneCut(_) => "scene-cut",
        }
    }
}

/// `tcvccolorize-reset`: the chain was reset before frame `frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reset {
    /// Why.
    pub reason: Reason,
    /// Number of the first frame after the reset (see docs: from the PTS and framerate).
    pub frame: u64,
}

pub use crate::message::MessageError;

impl From<&Reset> for gst::Structure {
    fn from(r: &Reset) -> Self {
        let b = gst::Structure::builder("tcvccolorize-reset")
            .field("reason", r.reason.as_str())
            .field("frame", r.frame);
        match r.reason {
            Reason::SceneCut(c) => b.field("change", c).build(),
            _ => b.build(),
        }
    }
}

impl TryFrom<&gst::StructureRef> for Reset {
    type Error = MessageError;
    fn try_from(s: &gst::StructureRef) -> Result<Self, MessageError> {
        if s.name() != "tcvccolorize-reset" {
            return Err(MessageError(format!(
                "'{}' is not tcvccolorize-reset",
                s.name()
            )));
        }
        let bad = |f: &str| MessageError(format!("tcvccolorize-reset: bad or missing '{f}'"));
        let reason = match s.get::<&str>("reason").map_err(|_| bad("reason"))? {
            "flush" => Reason::Flush,
            "stream-start" => Reason::StreamStart,
            "caps" => Reason::Caps,
            "discont" => Reason::Discont,
            "gap" => Reason::Gap,
            "scene-cut" => Reason::SceneCut(s.get("change").map_err(|_| bad("change"))?),
            _ => return Err(bad("reason")),
        };
        Ok(Reset {
            reason,
            frame: s.get("frame").map_err(|_| bad("frame"))?,
        })
    }
}
