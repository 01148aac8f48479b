// SPDX-License-Identifier: MIT
//! Frame-number file patterns (`keys/%05d.png`), as `multifilesrc` / `multifilesink` take them:
//! exactly one `%d` conversion with an optional zero flag and field width; `%%` is a literal `%`.
//! Shared by `tcvccolorize`'s `keyframe-location` and the tools.
use std::fmt;
use std::str::FromStr;

/// The widest field a frame number needs (`u64::MAX` has 20 digits).
pub const MAX_WIDTH: usize = 20;

/// A parsed frame-number pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePattern {
    prefix: String,
    suffix: String,
    width: usize,
    zero: bool,
}

/// Why a pattern was refused (the message names the fix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

const HINT: &str = "use one %d or %05d, e.g. keys/frame%05d.png (%% for a literal %)";

impl FramePattern {
    /// Parses `pattern`; refuses zero or several conversions, other conversions than `%d`, and
    /// field widths over [`MAX_WIDTH`].
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let err = |what: String| PatternError(format!("'{pattern}' {what}: {HINT}"));
        let mut literal = String::new();
        let mut found: Option<(String, usize, bool)> = None;
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                literal.push('%');
                continue;
            }
            let mut spec = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                spec.push(d);
                chars.next();
            }
            match chars.next() {
                Some('d') => {}
                Some(other) => return Err(err(format!("has a %{spec}{other} conversion"))),
                None => return Err(err("ends in an unfinished % conversion".into())),
            }
            if found.is_some() {
                return Err(err("has more than one frame-number conversion".into()));
            }
            let zero = spec.starts_with('0');
            let width = if spec.is_empty() {
                0
            } else {
                spec.parse().unwrap_or(usize::MAX)
            };
            if width > MAX_WIDTH {
                return Err(err(format!(
                    "asks for a field width of {spec} digits (at most {MAX_WIDTH})"
                )));
            }
            found = Some((std::mem::take(&mut literal), width, zero));
        }
        match found {
            Some((prefix, width, zero)) => Ok(FramePattern {
                prefix,
                suffix: literal,
                width,
                zero,
            }),
            None => Err(err("has no frame-number conversion".into())),
        }
    }

    /// The file name of frame `n`.
    pub fn format(&self, n: u64) -> String {
        let w = self.width;
        if self.zero {
            format!("{}{n:0w$}{}", self.prefix, self.suffix)
        } else {
            format!("{}{n:w$}{}", self.prefix, self.suffix)
        }
    }
}

impl FromStr for FramePattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FramePattern::parse(s)
    }
}

impl fmt::Display for FramePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esc = |s: &str| s.replace('%', "%%");
        let z = if self.zero { "0" } else { "" };
        let w = if self.width > 0 {
            self.width.to_string()
        } else {
            String::new()
        };
        write!(f, "{}%{z}{w}d{}", esc(&self.prefix), esc(&self.suffix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_multifilesrc() {
        let p = |s: &str| FramePattern::parse(s).unwrap();
        assert_eq!(p("k/%05d.png").format(42), "k/00042.png");
        assert_eq!(p("f%d.jpg").format(7), "f7.jpg");
        assert_eq!(p("f%3d.jpg").format(7), "f  7.jpg");
        assert_eq!(p("100%%/%04d.png").format(3), "100%/0003.png");
        assert_eq!(p("%d").format(u64::MAX), u64::MAX.to_string());
        assert_eq!(p("x%020d").format(1).len(), 21);
        for s in ["k/%05d.png", "100%%/%d_%%.png", "%d"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn refuses_what_would_never_match_or_blow_up() {
        for (pattern, why) in [
            ("no-number.png", "no frame-number conversion"),
            ("%s.png", "%s conversion"),
            ("k%d_%d.png", "more than one"),
            ("k%05d_%s.png", "%s conversion"),
            ("x%065536d", "field width of 065536"),
            ("x%99999999999999999999999d", "field width"),
            ("x%021d", "field width"),
            ("ends%", "unfinished"),
            ("ends%05", "unfinished"),
        ] {
            let e = FramePattern::parse(pattern).unwrap_err().to_string();
            assert!(e.contains(why), "{pattern}: {e}");
            assert!(e.contains("%05d"), "the fix is named: {e}");
        }
    }

    /// Random byte strings: parsing never panics, and what parses formats any number.
    #[test]
    fn random_patterns_never_panic() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"%d0123456789sx./_";
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 12) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((x >> (i * 5)) % alphabet.len() as u64) as usize] as char)
                .collect();
            if let Ok(p) = FramePattern::parse(&s) {
                let _ = p.format(x);
                assert_eq!(FramePattern::parse(&p.to_string()), Ok(p));
            }
        }
    }
}
