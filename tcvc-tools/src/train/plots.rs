// SPDX-License-Identifier: MIT
//! PNG plots of a run (plotters): `DIR/losses.png` (every loss term against the step, raw and a
//! moving average) and `DIR/validation.png` (PSNR, SSIM and temporal error against the step).
//!
//! Text needs a TrueType font: DejaVu Sans is loaded at run time from
//! [`FONT_PATH`] (Debian package `fonts-dejavu-core`); [`init_font`] fails with that fix.
use super::csvlog::{TrainRow, ValRow};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// The font file the plots use.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Loads and registers the plot font once per process.
pub fn init_font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = std::fs::read(FONT_PATH).map_err(|e| {
            format!(
                "cannot read the plot font {FONT_PATH}: {e}; install it with `apt-get install \
                 fonts-dejavu-core` (Debian package fonts-dejavu-core), or pass --no-plots"
            )
        })?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| {
            format!(
                "{FONT_PATH} is not a usable TrueType font; reinstall the Debian package \
                 fonts-dejavu-core, or pass --no-plots"
            )
        })
    })
    .clone()
}

/// A named series of `(step, value)` points.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    color: RGBColor,
}

/// Centered moving average over `window` points.
fn smooth(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    if window <= 1 || points.len() < 3 {
        return points.to_vec();
    }
    let half = window / 2;
    let mut prefix = vec![0.0; points.len() + 1];
    for (i, p) in points.iter().enumerate() {
        prefix[i + 1] = prefix[i] + p.1;
    }
    (0..points.len())
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(points.len());
            (points[i].0, (prefix[b] - prefix[a]) / (b - a) as f64)
        })
        .collect()
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5 * lo.abs().max(1e-3), hi + 0.5 * hi.abs().max(1e-3));
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn panel(
    area: &Area<'_>,
    title: &str,
    x_desc: &str,
    series: &[Series],
    smooth_window: usize,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("drawing `{title}`: {e}");
    let all = || series.iter().flat_map(|s| s.points.iter());
    if all().next().is_none() {
        let text = format!("{title}: not computed in this run");
        return area
            .draw(&Text::new(text, (20, 30), ("sans-serif", 16)))
            .map_err(|e| err(&e));
    }
    let (x0, x1) = range(all().map(|p| p.0));
    let (y0, y1) = range(all().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(|e| err(&e))?;
    for s in series {
        let raw = s.color.mix(0.25);
        if smooth_window > 1 && s.points.len() > 3 {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), raw))
                .map_err(|e| err(&e))?;
        }
        let main = if smooth_window > 1 {
            smooth(&s.points, smooth_window)
        } else {
            s.points.clone()
        };
        let color = s.color;
        chart
            .draw_series(LineSeries::new(main.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        if s.points.len() <= 50 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(214, 39, 40);

/// Draws `losses.png` from the training rows.
pub fn plot_losses(path: &Path, rows: &[TrainRow]) -> Result<(), String> {
    init_font()?;
    let pts = |f: &dyn Fn(&TrainRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| f(r).map(|v| (r.step as f64, v)))
            .collect()
    };
    let one = |label: &'static str, f: &dyn Fn(&TrainRow) -> Option<f64>, color| {
        vec![Series {
            label: label.to_string(),
            points: pts(f),
            color,
        }]
    };
    let window = (rows.len() / 50).max(1);
    let root = BitMapBackend::new(path, (1500, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((2, 3));
    let panels: Vec<(&str, Vec<Series>)> = vec![
        (
            "generator objective",
            one("G total", &|r| Some(r.losses.g_total), BLUE_),
        ),
        (
            "adversarial (G)",
            one("adv", &|r| Some(r.losses.g_adv), ORANGE),
        ),
        ("L1 (weighted)", one("L1", &|r| Some(r.losses.g_l1), GREEN_)),
        (
            "content (weighted)",
            one("content", &|r| r.losses.g_content, RED_),
        ),
        (
            "style (weighted)",
            one("style", &|r| r.losses.g_style, BLUE_),
        ),
        (
            "discriminator",
            vec![
                Series {
                    label: "D total".into(),
                    points: pts(&|r| r.losses.d_total),
                    color: BLUE_,
                },
                Series {
                    label: "D real".into(),
                    points: pts(&|r| r.losses.d_real),
                    color: GREEN_,
                },
                Series {
                    label: "D fake".into(),
                    points: pts(&|r| r.losses.d_fake),
                    color: RED_,
                },
            ],
        ),
    ];
    for (area, (title, series)) in areas.iter().zip(panels) {
        panel(area, title, "step", &series, window)?;
    }
    root.present()
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Draws `validation.png` from the validation rows.
pub fn plot_validation(path: &Path, rows: &[ValRow]) -> Result<(), String> {
    init_font()?;
    let root = BitMapBackend::new(path, (1500, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, 3));
    let mk = |label: &str, f: &dyn Fn(&ValRow) -> Option<f64>, color| {
        vec![Series {
            label: label.to_string(),
            points: rows
                .iter()
                .filter_map(|r| f(r).map(|v| (r.step as f64, v)))
                .collect(),
            color,
        }]
    };
    let panels = [
        (
            "PSNR (dB, higher is better)",
            mk("PSNR", &|r| Some(r.psnr), BLUE_),
        ),
        (
            "SSIM (higher is better)",
            mk("SSIM", &|r| Some(r.ssim), GREEN_),
        ),
        (
            "temporal error (lower is better)",
            mk("temporal error", &|r| r.temporal_error, RED_),
        ),
    ];
    for (area, (title, series)) in areas.iter().zip(panels) {
        panel(area, title, "step", &series, 1)?;
    }
    root.present()
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// A palette for plots with many lines (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    BLUE_,
    ORANGE,
    GREEN_,
    RED_,
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws one panel of named lines (`label`, points `(x, y)`) into a PNG: e.g. `tcvc-eval
/// --plot`, PSNR against the frame index since the last chain reset.
pub fn plot_lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<(), String> {
    init_font()?;
    let root = BitMapBackend::new(path, (1100, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let series: Vec<Series> = lines
        .iter()
        .enumerate()
        .map(|(i, (label, points))| Series {
            label: label.clone(),
            points: points.clone(),
            color: PALETTE[i % PALETTE.len()],
        })
        .collect();
    panel(&root, title, x_desc, &series, 1)?;
    root.present()
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_keeps_length_and_flattens() {
        let p: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, if i % 2 == 0 { 0.0 } else { 2.0 }))
            .collect();
        let s = smooth(&p, 4);
        assert_eq!(s.len(), 10);
        assert!(s[3..7].iter().all(|&(_, v)| (v - 1.0).abs() < 0.3), "{s:?}");
    }
}
