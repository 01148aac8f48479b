// SPDX-License-Identifier: MIT
//! Property/fuzz runs of the parsers that take outside input: the model file (safetensors bytes:
//! mutated real files and random bytes), the keyframe pattern, the stats-file writer and reader
//! (round trip), and the element messages' `TryFrom<&StructureRef>` (random structures, and
//! round trips of random messages). Every input must give `Ok` or `Err`: a panic fails the run.
//!
//! `make test` runs a bounded slice; `TCVC_FUZZ_SCALE=K` multiplies every target's case count
//! (`make fuzz` runs K = 50: over a million inputs in all); `TCVC_FUZZ_SEED=S` draws others.
//! Each target prints its case count and time.
mod common;

use common::*;
use gsttcvc::colorize::pattern::FramePattern;
use gsttcvc::compare::messages::{parse_stats_line, FlickerFrame, PsnrFrame, SsimFrame, Summary};
use gsttcvc::model::ModelFile;
use std::time::Instant;
use tch::{Device, Kind};

/// xorshift64*: small and reproducible.
struct Rng(u64);

impl Rng {
    fn seeded(salt: u64) -> Rng {
        let seed: u64 = std::env::var("TCVC_FUZZ_SEED")
            .map(|v| v.parse().expect("TCVC_FUZZ_SEED is a number"))
            .unwrap_or(1);
        Rng((seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn f64(&mut self) -> f64 {
        match self.below(8) {
            0 => f64::INFINITY,
            1 => 0.0,
            2 => -(self.next() as f64),
            _ => (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 100.0,
        }
    }
}

fn cases(base: usize) -> usize {
    let k: usize = std::env::var("TCVC_FUZZ_SCALE")
        .map(|v| v.parse().expect("TCVC_FUZZ_SCALE is a number"))
        .unwrap_or(1);
    base * k
}

fn report(name: &str, n: usize, t: Instant) {
    eprintln!(
        "fuzz {name}: {n} inputs, 0 panics, {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// A small real model file: the one `tcvc-train` tests export is too slow to make here, so the
/// built-in default model's bytes are used.
fn model_bytes() -> Vec<u8> {
    let p = root().join("models/tcvc-default.safetensors");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn model_file_bytes_never_panic() {
    let good = model_bytes();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let mut rng = Rng::seeded(1);
    let dir = scratch_dir("fuzz-model");
    let n = cases(2000);
    let t = Instant::now();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..n {
        let mut b = good.clone();
        match rng.below(6) {
            // Flip bytes in the header (JSON: names, dtypes, shapes, offsets, metadata).
            0 | 1 => {
                for _ in 0..1 + rng.below(4) {
                    let i = 8 + rng.below(header_len);
                    b[i] = rng.next() as u8;
                }
            }
            // Swap a digit of the header for another (offsets and shapes stay syntactic).
            2 => {
                let digits: Vec<usize> = (8..8 + header_len)
                    .filter(|&i| b[i].is_ascii_digit())
                    .collect();
                let i = digits[rng.below(digits.len())];
                b[i] = b'0' + rng.below(10) as u8;
            }
            // Truncate, or append.
            3 => b.truncate(rng.below(good.len())),
            4 => b.extend((0..1 + rng.below(64)).map(|_| rng.next() as u8)),
            // The 8-byte header length.
            _ => {
                let v = match rng.below(3) {
                    0 => rng.next(),
                    1 => header_len as u64 + rng.below(16) as u64 - 8,
                    _ => u64::MAX - rng.below(16) as u64,
                };
                b[..8].copy_from_slice(&v.to_le_bytes());
            }
        }
        // Every tenth input goes through a file (the size and header checks before reading).
        let result = if rng.below(10) == 0 {
            let f = dir.join("m.safetensors");
            std::fs::write(&f, &b).unwrap();
            ModelFile::load_any(&f, Device::Cpu, Kind::Float)
        } else {
            ModelFile::load_any_from_bytes(&b, "fuzz", Device::Cpu, Kind::Float)
        };
        match result {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1
            }
        }
    }
    // Random bytes of random lengths.
    for _ in 0..n {
        let len = rng.below(256);
        let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(ModelFile::load_any_from_bytes(&b, "fuzz", Device::Cpu, Kind::Float).is_err());
    }
    eprintln!("model file: {ok} mutated files still loaded, {err} refused");
    assert!(err > n / 2, "most mutations must be refused");
    report("model file", 2 * n, t);
}

#[test]
fn keyframe_patterns_never_panic_and_round_trip() {
    let mut rng = Rng::seeded(2);
    let alphabet: Vec<char> = "%%%dd0123456789sxu./_-é".chars().collect();
    let n = cases(20_000);
    let t = Instant::now();
    let mut valid = 0;
    for _ in 0..n {
        let len = rng.below(16);
        let s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        match FramePattern::parse(&s) {
            Ok(p) => {
                valid += 1;
                let frame = rng.next() >> rng.below(64);
                let name = p.format(frame);
                assert!(
                    name.contains(&frame.to_string().trim_start_matches('0').to_string())
                        || frame == 0
                );
                assert_eq!(FramePattern::parse(&p.to_string()).as_ref(), Ok(&p), "{s}");
            }
            Err(e) => assert!(e.to_string().contains("%05d"), "{s}: {e}"),
        }
    }
    assert!(
        valid > n / 50,
        "the alphabet makes valid patterns too ({valid})"
    );
    report("keyframe pattern", n, t);
}

#[test]
fn stats_lines_round_trip_and_garbage_lines_are_errors() {
    gst::init().unwrap();
    let mut rng = Rng::seeded(3);
    let n = cases(20_000);
    let t = Instant::now();
    let comps = [['y', 'u', 'v'], ['r', 'g', 'b']];
    let close = |a: f64, b: f64, tol: f64| {
        (a.is_infinite() && b.is_infinite() && a.signum() == b.signum()) || (a - b).abs() <= tol
    };
    for i in 0..n {
        let cs = &comps[i % 2][..1 + rng.below(3)];
        let ssim = SsimFrame {
            n: rng.next() >> 20,
            running_time: None,
            pts: None,
            components: cs.iter().map(|&c| (c, rng.f64())).collect(),
            all: rng.f64(),
            db: rng.f64(),
        };
        let parsed = parse_stats_line(&ssim.stats_line()).unwrap();
        assert_eq!(parsed[0], ("n".to_string(), ssim.n as f64));
        for ((k, v), (c, want)) in parsed[1..].iter().zip(&ssim.components) {
            assert_eq!(k, &c.to_ascii_uppercase().to_string());
            assert!(close(*v, *want, 5e-7), "{v} {want}");
        }
        assert!(close(parsed[parsed.len() - 2].1, ssim.all, 5e-7));
        assert!(close(parsed[parsed.len() - 1].1, ssim.db, 5e-7));

        let psnr = PsnrFrame {
            n: rng.next() >> 20,
            running_time: None,
            pts: None,
            mse_avg: rng.f64(),
            psnr_avg: rng.f64(),
            components: cs.iter().map(|&c| (c, rng.f64(), rng.f64())).collect(),
        };
        let parsed = parse_stats_line(&psnr.stats_line()).unwrap();
        assert_eq!(parsed.len(), 3 + 2 * cs.len());
        assert!(close(parsed[1].1, psnr.mse_avg, 5e-3));
        assert!(close(parsed[2 + cs.len()].1, psnr.psnr_avg, 5e-3));

        let fl = random_flicker(&mut rng);
        let line = fl.csv_line();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(
            fields.len(),
            FlickerFrame::CSV_HEADER.split(',').count(),
            "{line}"
        );
        assert_eq!(fields[0].parse::<u64>().unwrap(), fl.n);
        assert!(close(fields[3].parse().unwrap(), fl.temporal_error, 5e-7));
        assert_eq!(fields[6].is_empty(), fl.static_flicker.is_none());

        // Garbage lines: errors, never panics.
        let len = rng.below(40);
        let junk: String = (0..len)
            .map(|_| b"n:0.(i)f -xAe1 :"[rng.below(16)] as char)
            .collect();
        let _ = parse_stats_line(&junk);
    }
    report("stats lines (3 writers + reader, and junk)", 4 * n, t);
}

/// A random flicker message.
fn random_flicker(rng: &mut Rng) -> FlickerFrame {
    FlickerFrame {
        n: rng.next() >> 20,
        running_time: (rng.below(2) == 0).then(|| gst::ClockTime::from_nseconds(rng.next() >> 2)),
        pts: None,
        temporal_error: rng.f64(),
        flicker: rng.f64(),
        reference_flicker: rng.f64(),
        static_flicker: (rng.below(2) == 0).then(|| rng.f64()),
    }
}

/// A random value of a random type for a structure field.
fn random_value(rng: &mut Rng) -> gst::glib::SendValue {
    use gst::glib::value::ToSendValue;
    match rng.below(6) {
        0 => (rng.next() as f64).to_send_value(),
        1 => rng.next().to_send_value(),
        2 => (rng.next() as i32).to_send_value(),
        3 => "x".to_send_value(),
        4 => (rng.below(2) == 0).to_send_value(),
        _ => rng.f64().to_send_value(),
    }
}

#[test]
fn message_structures_never_panic_and_round_trip() {
    gst::init().unwrap();
    let mut rng = Rng::seeded(4);
    let names = [
        "tcvcssim",
        "tcvcpsnr",
        "tcvcflicker",
        "tcvcssim-summary",
        "tcvcpsnr-summary",
        "tcvccolorize-reset",
        "other",
    ];
    let fields = [
        "n",
        "running-time",
        "pts",
        "all",
        "db",
        "y",
        "u",
        "v",
        "r",
        "g",
        "b",
        "mse-avg",
        "psnr-avg",
        "mse-y",
        "psnr-y",
        "mse-r",
        "temporal-error",
        "flicker",
        "reference-flicker",
        "static-flicker",
        "frames",
        "mean",
        "min",
        "max",
        "unpaired-sink",
        "unpaired-reference",
        "reason",
        "frame",
    ];
    let n = cases(20_000);
    let t = Instant::now();
    let mut parsed = 0;
    for _ in 0..n {
        let mut s = gst::Structure::new_empty(names[rng.below(names.len())]);
        for _ in 0..rng.below(12) {
            s.set_value(fields[rng.below(fields.len())], random_value(&mut rng));
        }
        let r = s.as_ref();
        parsed += usize::from(SsimFrame::try_from(r).is_ok())
            + usize::from(PsnrFrame::try_from(r).is_ok())
            + usize::from(FlickerFrame::try_from(r).is_ok())
            + usize::from(Summary::try_from(r).is_ok())
            + usize::from(gsttcvc::colorize::messages::Reset::try_from(r).is_ok());
        // Round trip of a random well-formed message.
        let m = random_flicker(&mut rng);
        assert_eq!(
            FlickerFrame::try_from(gst::Structure::from(&m).as_ref()),
            Ok(m)
        );
    }
    eprintln!("structures: {parsed} random ones happened to be well-formed messages");
    report(
        "message structures (5 parsers each, and round trips)",
        6 * n,
        t,
    );
}
