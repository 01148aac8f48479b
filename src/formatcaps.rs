// SPDX-License-Identifier: MIT
//! Caps helpers of the same-size, format-changing video filters (`tcvclineart`,
//! `tcvccolorize`): one set of formats on the sink pad, another on the src pad, size and rate
//! unchanged.
use gst_video::VideoFormat;

/// Largest accepted frame side.
pub const MAX_SIDE: i32 = 16384;

fn caps(formats: &[VideoFormat]) -> gst::Caps {
    let b = gst_video::VideoCapsBuilder::new();
    let b = match formats {
        [one] => b.format(*one),
        _ => b.format_list(formats.iter().copied()),
    };
    b.width_range(1..=MAX_SIDE)
        .height_range(1..=MAX_SIDE)
        .build()
}

/// Always `src` and `sink` pad templates with `src` / `sink` formats, 1–[`MAX_SIDE`] pixels.
pub fn pad_templates(sink: &[VideoFormat], src: &[VideoFormat]) -> Vec<gst::PadTemplate> {
    vec![
        gst::PadTemplate::new(
            "src",
            gst::PadDirection::Src,
            gst::PadPresence::Always,
            &caps(src),
        )
        .expect("valid src template"),
        gst::PadTemplate::new(
            "sink",
            gst::PadDirection::Sink,
            gst::PadPresence::Always,
            &caps(sink),
        )
        .expect("valid sink template"),
    ]
}

/// `BaseTransform::transform_caps`: the same structures with the other pad's formats (and no
/// colorimetry / chroma siting, which the format change invalidates), intersected with `filter`.
pub fn transform_caps(
    direction: gst::PadDirection,
    caps: &gst::Caps,
    filter: Option<&gst::Caps>,
    sink: &[VideoFormat],
    src: &[VideoFormat],
) -> gst::Caps {
    let formats = match direction {
        gst::PadDirection::Sink => src,
        _ => sink,
    };
    let mut other = gst::Caps::new_empty();
    {
        let other = other.get_mut().expect("new caps are writable");
        for (s, features) in caps.iter_with_features() {
            let mut s = s.to_owned();
            s.remove_fields(["format", "colorimetry", "chroma-site"]);
            if let [one] = formats {
                s.set("format", one.to_str());
            } else {
                s.set("format", gst::List::new(formats.iter().map(|f| f.to_str())));
            }
            other.append_structure_full(s, Some(features.to_owned()));
        }
    }
    match filter {
        Some(f) => f.intersect_with_mode(&other, gst::CapsIntersectMode::First),
        None => other,
    }
}
