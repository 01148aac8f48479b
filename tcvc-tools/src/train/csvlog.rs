// SPDX-License-Identifier: MIT
//! `DIR/losses.csv`: one row per training step (`kind = train`) and one per validation
//! (`kind = val`), appended and flushed as they happen, and kept in memory for the plots.
//!
//! Columns: `kind, step, epoch, elapsed_s`, the weighted generator terms `g_total, g_adv, g_l1,
//! g_content, g_style` (content/style empty when off), the discriminator terms `d_total, d_real,
//! d_fake` (empty when `--adv-weight` is 0: no discriminator runs), and the validation figures `val_psnr` (dB, mean over frames), `val_ssim` (Gaussian
//! SSIM, mean), `val_temporal_error` (8-bit units, mean), `val_frames`, then the weighted temporal
//! loss `g_temporal` (empty when off; files written before it existed have 16 columns) and the
//! weighted squared-error term `g_l2` (empty when off; older files have 17), then the weighted
//! squared error of the fill output `g_fill` (empty when off; older files have 18). Fields that do not apply
//! to a row are empty. On `--resume` the rows after the checkpoint's step are dropped first, so
//! the file has exactly one row per step whatever happened before.
use super::checkpoint::write_atomic;
use super::error::{Result, TrainError};
use super::nets::StepLosses;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The CSV header.
pub const HEADER: &str = "kind,step,epoch,elapsed_s,g_total,g_adv,g_l1,g_content,g_style,\
d_total,d_real,d_fake,val_psnr,val_ssim,val_temporal_error,val_frames,g_temporal,g_l2,g_fill";

/// A training row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainRow {
    /// 1-based step.
    pub step: u64,
    /// Epoch the step belongs to (0-based).
    pub epoch: u64,
    /// Training seconds since the run started (over resumes).
    pub elapsed_s: f64,
    /// The losses.
    pub losses: StepLosses,
}

/// A validation row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValRow {
    /// Step after which validation ran.
    pub step: u64,
    /// Mean PSNR in dB.
    pub psnr: f64,
    /// Mean SSIM (Gaussian window).
    pub ssim: f64,
    /// Mean temporal error (8-bit units); `None` with no frame pair.
    pub temporal_error: Option<f64>,
    /// Frames validated.
    pub frames: usize,
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One record as a CSV line (the `csv` crate; no newline).
fn line(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(fields);
    let mut s = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    s.pop();
    s
}

impl TrainRow {
    fn to_line(self) -> String {
        let l = self.losses;
        let e = String::new;
        line(&[
            "train".into(),
            self.step.to_string(),
            self.epoch.to_string(),
            format!("{:.3}", self.elapsed_s),
            l.g_total.to_string(),
            l.g_adv.to_string(),
            l.g_l1.to_string(),
            opt(l.g_content),
            opt(l.g_style),
            opt(l.d_total),
            opt(l.d_real),
            opt(l.d_fake),
            e(),
            e(),
            e(),
            e(),
            opt(l.g_temporal),
            opt(l.g_l2),
            opt(l.g_fill),
        ])
    }
}

impl ValRow {
    fn to_line(self) -> String {
        let e = String::new;
        let mut f = vec!["val".to_string(), self.step.to_string()];
        f.extend((0..10).map(|_| e()));
        f.extend([
            self.psnr.to_string(),
            self.ssim.to_string(),
            opt(self.temporal_error),
            self.frames.to_string(),
            e(),
            e(),
            e(),
        ]);
        line(&f)
    }
}

/// One parsed line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row {
    /// A training row.
    Train(TrainRow),
    /// A validation row.
    Val(ValRow),
}

fn parse_record(r: &csv::StringRecord) -> Option<Row> {
    let f: Vec<&str> = r.iter().collect();
    if !(16..=19).contains(&f.len()) {
        return None;
    }
    let num = |i: usize| f[i].trim().parse::<f64>().ok();
    let step: u64 = f[1].parse().ok()?;
    match f[0] {
        "train" => Some(Row::Train(TrainRow {
            step,
            epoch: f[2].parse().ok()?,
            elapsed_s: num(3)?,
            losses: StepLosses {
                g_total: num(4)?,
                g_adv: num(5)?,
                g_l1: num(6)?,
                g_content: num(7),
                g_style: num(8),
                d_total: num(9),
                d_real: num(10),
                d_fake: num(11),
                g_temporal: if f.len() > 16 { num(16) } else { None },
                g_l2: if f.len() > 17 { num(17) } else { None },
                g_fill: if f.len() > 18 { num(18) } else { None },
            },
        })),
        "val" => Some(Row::Val(ValRow {
            step,
            psnr: num(12)?,
            ssim: num(13)?,
            temporal_error: num(14),
            frames: f[15].parse().ok()?,
        })),
        _ => None,
    }
}

/// Reads the rows of a `losses.csv` (unparsable lines are skipped; files of 16 and 17 columns).
pub fn read(path: &Path) -> std::io::Result<Vec<Row>> {
    let text = std::fs::read(path)?;
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_slice());
    Ok(r.records()
        .filter_map(|rec| rec.ok().as_ref().and_then(parse_record))
        .collect())
}

/// The open log.
#[derive(Debug)]
pub struct LossLog {
    path: PathBuf,
    file: File,
    /// Training rows so far (over resumes).
    pub train: Vec<TrainRow>,
    /// Validation rows so far.
    pub val: Vec<ValRow>,
}

impl LossLog {
    /// Opens `dir/losses.csv`: a new file, or (`resume_step = Some(s)`) the existing one
    /// without its rows after step `s`.
    pub fn open(dir: &Path, resume_step: Option<u64>) -> Result<Self> {
        let path = dir.join("losses.csv");
        let err = |e: std::io::Error| {
            TrainError::Runtime(format!("cannot write {}: {e}", path.display()))
        };
        let mut train = Vec::new();
        let mut val = Vec::new();
        let mut text = format!("{HEADER}\n");
        if let Some(s) = resume_step {
            for row in read(&path).unwrap_or_default() {
                match row {
                    Row::Train(r) if r.step <= s => {
                        text.push_str(&r.to_line());
                        text.push('\n');
                        train.push(r);
                    }
                    Row::Val(r) if r.step <= s => {
                        text.push_str(&r.to_line());
                        text.push('\n');
                        val.push(r);
                    }
                    _ => {}
                }
            }
        }
        write_atomic(&path, text.as_bytes()).map_err(err)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(err)?;
        Ok(LossLog {
            path,
            file,
            train,
            val,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, line: String) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::Runtime(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Appends a training row.
    pub fn push_train(&mut self, row: TrainRow) -> Result<()> {
        self.train.push(row);
        self.append(row.to_line())
    }

    /// Appends a validation row.
    pub fn push_val(&mut self, row: ValRow) -> Result<()> {
        self.val.push(row);
        self.append(row.to_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Option<Row> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        r.records().next()?.ok().as_ref().and_then(parse_record)
    }

    #[test]
    fn rows_round_trip_through_text() {
        let t = TrainRow {
            step: 7,
            epoch: 1,
            elapsed_s: 2.5,
            losses: StepLosses {
                g_total: 1.0 / 3.0,
                g_adv: 0.69,
                g_l1: 2.0,
                g_content: None,
                g_style: Some(1e-7),
                d_total: Some(0.5),
                d_real: Some(0.25),
                d_fake: Some(0.75),
                g_temporal: Some(0.125),
                g_l2: Some(0.0625),
                g_fill: Some(0.5),
            },
        };
        assert_eq!(parse_line(&t.to_line()), Some(Row::Train(t)));
        // No discriminator (`--adv-weight 0`): its three fields empty, and read back so.
        let mut no_d = t;
        (no_d.losses.d_total, no_d.losses.d_real, no_d.losses.d_fake) = (None, None, None);
        assert!(no_d.to_line().contains(",,,"));
        assert_eq!(parse_line(&no_d.to_line()), Some(Row::Train(no_d)));
        let v = ValRow {
            step: 8,
            psnr: 21.5,
            ssim: 0.7,
            temporal_error: None,
            frames: 3,
        };
        assert_eq!(parse_line(&v.to_line()), Some(Row::Val(v)));
        assert_eq!(HEADER.split(',').count(), 19);
        // Files of the old 16-, 17- and 18-column layouts still read, through the file reader.
        let dir = std::env::temp_dir().join(format!("tcvc-csvlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("losses.csv");
        let old = t.to_line();
        let old18 = &old[..old.rfind(',').unwrap()];
        let old17 = &old18[..old18.rfind(',').unwrap()];
        let old16 = &old17[..old17.rfind(',').unwrap()];
        std::fs::write(
            &p,
            format!("{HEADER}\n{old16}\n{old17}\n{old18}\n{}\n", v.to_line()),
        )
        .unwrap();
        let rows = read(&p).unwrap();
        assert_eq!(rows.len(), 4);
        assert!(matches!(rows[0], Row::Train(r) if r.losses.g_temporal.is_none() && r.step == 7));
        assert!(
            matches!(rows[1], Row::Train(r) if r.losses.g_temporal == Some(0.125) && r.losses.g_l2.is_none())
        );
        assert!(
            matches!(rows[2], Row::Train(r) if r.losses.g_l2 == Some(0.0625) && r.losses.g_fill.is_none())
        );
        assert_eq!(rows[3], Row::Val(v));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
