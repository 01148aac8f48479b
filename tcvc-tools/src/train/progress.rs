// SPDX-License-Identifier: MIT
//! What a person watching sees: an indicatif progress bar on a terminal (steps/s, ETA, current
//! losses), or, when stderr is not a terminal (a log file, CI), one plain line every
//! `--log-every` steps.
use super::nets::StepLosses;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Short text of the current losses.
pub fn describe(l: &StepLosses) -> String {
    let mut s = format!("G {:.4} (adv {:.3} L1 {:.4}", l.g_total, l.g_adv, l.g_l1);
    if let Some(c) = l.g_content {
        s.push_str(&format!(" content {c:.4}"));
    }
    if let Some(st) = l.g_style {
        s.push_str(&format!(" style {st:.4}"));
    }
    if let Some(t) = l.g_temporal {
        s.push_str(&format!(" temporal {t:.4}"));
    }
    if let Some(t) = l.g_l2 {
        s.push_str(&format!(" L2 {t:.4}"));
    }
    if let Some(t) = l.g_fill {
        s.push_str(&format!(" fill {t:.4}"));
    }
    match l.d_total {
        Some(d) => s.push_str(&format!(") D {d:.4}")),
        None => s.push_str(") D off"),
    }
    s
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Progress display of one run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    log_every: u64,
    total: u64,
    start_step: u64,
    started: Instant,
}

impl Progress {
    /// A display for steps `start_step + 1 ..= total`.
    pub fn new(start_step: u64, total: u64, log_every: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_position(start_step);
            bar.reset_eta();
            bar
        });
        Progress {
            bar,
            log_every: log_every.max(1),
            total,
            start_step,
            started: Instant::now(),
        }
    }

    /// Records that `step` finished with `losses`.
    pub fn update(&mut self, step: u64, losses: &StepLosses) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(step);
                bar.set_message(describe(losses));
            }
            None => {
                if step.is_multiple_of(self.log_every) || step == self.total {
                    let done = step - self.start_step;
                    let el = self.started.elapsed();
                    let rate = done as f64 / el.as_secs_f64().max(1e-9);
                    let eta = Duration::from_secs_f64((self.total - step) as f64 / rate.max(1e-9));
                    eprintln!(
                        "step {step}/{} ({:.0}%)  {rate:.2} steps/s  ETA {}  {}",
                        self.total,
                        100.0 * step as f64 / self.total.max(1) as f64,
                        hms(eta),
                        describe(losses)
                    );
                }
            }
        }
    }

    /// Prints a message above the bar (or as a plain line).
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
