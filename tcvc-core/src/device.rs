// SPDX-License-Identifier: MIT
//! Compute-device selection shared by the elements and the tools (`auto`, `cpu`, `cuda`, `cuda:N`).
//!
//! An explicit CUDA request on a machine without CUDA is an error, never a silent fallback.
use std::fmt;
use std::str::FromStr;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// `cuda:0` when CUDA is available, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N (`cuda` means `cuda:0`).
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" | "" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
                _ => Err(format!(
                    "unknown device '{s}': use auto, cpu, cuda or cuda:N (N = GPU index)"
                )),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Resolves the request against what this process can use.
    pub fn resolve(self) -> Result<tch::Device, String> {
        match self {
            DeviceSpec::Auto => Ok(if tch::Cuda::is_available() {
                tch::Device::Cuda(0)
            } else {
                tch::Device::Cpu
            }),
            DeviceSpec::Cpu => Ok(tch::Device::Cpu),
            DeviceSpec::Cuda(n) => {
                let count = if tch::Cuda::is_available() {
                    tch::Cuda::device_count().max(0) as usize
                } else {
                    0
                };
                if n < count {
                    Ok(tch::Device::Cuda(n))
                } else if count == 0 {
                    Err(format!(
                        "device 'cuda:{n}' was requested but CUDA is not available in this process \
                         (no NVIDIA GPU or driver found); use device=cpu or device=auto"
                    ))
                } else {
                    Err(format!(
                        "device 'cuda:{n}' was requested but only {count} CUDA device(s) exist \
                         (cuda:0..cuda:{}); pick one of those",
                        count - 1
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert_eq!("auto".parse::<DeviceSpec>(), Ok(DeviceSpec::Auto));
        assert_eq!("CPU".parse::<DeviceSpec>(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse::<DeviceSpec>(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:3".parse::<DeviceSpec>(), Ok(DeviceSpec::Cuda(3)));
        let err = "tpu".parse::<DeviceSpec>().unwrap_err();
        assert!(err.contains("tpu") && err.contains("cuda:N"), "{err}");
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn explicit_cuda_without_cuda_is_an_error() {
        if tch::Cuda::is_available() {
            // On a GPU machine the request is valid; the CPU-only CI covers the error path.
            assert_eq!(DeviceSpec::Cuda(0).resolve(), Ok(tch::Device::Cuda(0)));
        } else {
            let err = DeviceSpec::Cuda(0).resolve().unwrap_err();
            assert!(
                err.contains("CUDA is not available") && err.contains("device=cpu"),
                "{err}"
            );
            assert_eq!(DeviceSpec::Auto.resolve(), Ok(tch::Device::Cpu));
        }
    }
}
