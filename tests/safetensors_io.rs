// SPDX-License-Identifier: MIT
//! `tools/safetensors_io.py`, the Python tools' one safetensors reader and writer, against
//! libtorch's (tch's `read_safetensors` / `write_safetensors`, the peer the plugin and the
//! trainer load model files with): every float type both ways, and the errors of bad files.

mod common;

use common::{python, root, scratch_dir};
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};

/// Runs `code` in the venv's Python with `tools/` on its path and `args`; (status, stdout,
/// stderr).
fn py(code: &str, args: &[&Path]) -> (bool, String, String) {
    let out = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import sys; sys.path.insert(0, {:?})\n{code}",
            root().join("tools").to_str().unwrap()
        ))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Values that no float type rounds alike: a ramp with a fractional step, negative and positive.
fn ramp(kind: Kind) -> Tensor {
    (Tensor::arange(24, (Kind::Double, Device::Cpu)).view([2, 3, 4]) * 0.37 - 3.1).to_kind(kind)
}

#[test]
fn python_reads_what_libtorch_writes_in_every_float_type() {
    let dir = scratch_dir("safetensors-read");
    let file = dir.join("t.safetensors");
    let kinds = [
        ("a", Kind::Float, "F32"),
        ("b", Kind::Half, "F16"),
        ("c", Kind::BFloat16, "BF16"),
        ("d", Kind::Double, "F64"),
    ];
    let tensors: Vec<(&str, Tensor)> = kinds.iter().map(|(n, k, _)| (*n, ramp(*k))).collect();
    Tensor::write_safetensors(&tensors, &file).unwrap();
    // What each tensor holds, widened exactly to f64 by libtorch.
    let expected: serde_json::Map<String, serde_json::Value> = tensors
        .iter()
        .map(|(n, t)| {
            let v: Vec<f64> = Vec::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap();
            (n.to_string(), serde_json::json!(v))
        })
        .collect();
    let want = dir.join("expected.json");
    std::fs::write(&want, serde_json::to_string(&expected).unwrap()).unwrap();
    let (ok, out, err) = py(
        "import json, numpy as np, safetensors_io as st\n\
         t, meta, dtypes = st.read(sys.argv[1])\n\
         want = json.load(open(sys.argv[2]))\n\
         for k, v in t.items():\n\
         \x20   wide = st.bf16_to_f32(v) if dtypes[k] == 'BF16' else v\n\
         \x20   assert list(v.shape) == [2, 3, 4], (k, v.shape)\n\
         \x20   assert np.array_equal(wide.astype(np.float64).ravel(), np.array(want[k])), k\n\
         print(json.dumps(dtypes, sort_keys=True))",
        &[&file, &want],
    );
    assert!(ok, "{err}");
    let dtypes: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for (n, _, st) in kinds {
        assert_eq!(dtypes[n], st, "{out}");
    }
}

#[test]
fn libtorch_reads_what_python_writes_with_its_metadata_and_no_temporary_left() {
    let dir = scratch_dir("safetensors-write");
    let file = dir.join("w.safetensors");
    let (ok, _, err) = py(
        "import numpy as np, safetensors_io as st\n\
         r = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.37 - 3.1)\n\
         st.write(sys.argv[1], {'z.f16': r.astype(np.float16), 'a.f32': r.astype(np.float32),\n\
         \x20   'm.f64': r}, {'format': 'tcvc-generator', 'note': 'x'})",
        &[&file],
    );
    assert!(ok, "{err}");
    let read = Tensor::read_safetensors(&file).unwrap();
    let names: Vec<&str> = read.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["a.f32", "m.f64", "z.f16"]);
    for (n, t) in &read {
        let (kind, want) = match n.as_str() {
            "z.f16" => (Kind::Half, ramp(Kind::Half)),
            "a.f32" => (Kind::Float, ramp(Kind::Float)),
            _ => (Kind::Double, ramp(Kind::Double)),
        };
        assert_eq!(t.kind(), kind, "{n}");
        assert!(t.equal(&want), "{n}: {t} != {want}");
    }
    // The header: a little-endian length, JSON padded to a multiple of 8, the metadata.
    let bytes = std::fs::read(&file).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(
        header["__metadata__"],
        serde_json::json!({"format": "tcvc-generator", "note": "x"})
    );
    assert_eq!(header["a.f32"]["data_offsets"][0], 0, "sorted order");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("w.safetensors")]);
}

#[test]
fn bad_files_are_errors_that_name_the_file_and_the_problem() {
    let dir = scratch_dir("safetensors-bad");
    let good = dir.join("good.safetensors");
    Tensor::write_safetensors(&[("w", ramp(Kind::Float))], &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let short = dir.join("short.safetensors");
    std::fs::write(&short, &bytes[..5]).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..8 + n / 2]).unwrap();
    let body = dir.join("body.safetensors");
    std::fs::write(&body, &bytes[..bytes.len() - 4]).unwrap();
    let ints = dir.join("ints.safetensors");
    Tensor::write_safetensors(
        &[("i", Tensor::arange(4, (Kind::Int64, Device::Cpu)))],
        &ints,
    )
    .unwrap();
    let missing = dir.join("missing.safetensors");
    let nowhere = dir.join("no-such-dir/out.safetensors");
    let (ok, out, err) = py(
        "import numpy as np, safetensors_io as st\n\
         for p in sys.argv[1:6]:\n\
         \x20   try:\n\
         \x20       st.read(p)\n\
         \x20       print('read', p)\n\
         \x20   except st.SafetensorsError as e:\n\
         \x20       print(e)\n\
         for a in (np.zeros(2, np.float32), np.zeros(2, np.int32)):\n\
         \x20   try:\n\
         \x20       st.write(sys.argv[6], {'x': a}, {})\n\
         \x20       print('wrote')\n\
         \x20   except st.SafetensorsError as e:\n\
         \x20       print(e)",
        &[&short, &cut, &body, &ints, &missing, &nowhere],
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    let expect = [
        (&short, "is not a safetensors file (only 5 bytes)"),
        (&cut, "exceeds the file"),
        (&body, "do not fit its shape [2, 3, 4]"),
        (&ints, "tensor i is I64"),
        (&missing, "cannot read"),
        (&nowhere, "cannot write"),
    ];
    for (line, (path, what)) in lines.iter().zip(expect) {
        assert!(line.contains(path.to_str().unwrap()), "{line}");
        assert!(line.contains(what), "{line}: want {what}");
    }
    assert!(
        lines[6].contains("cannot store numpy int32"),
        "{}",
        lines[6]
    );
    assert!(!dir.join("no-such-dir").exists());

    // A tool on a bad file: one line naming it, exit status 1, no traceback.
    let out = Command::new(python())
        .arg(root().join("tools/experiments/mix-weights.py"))
        .arg(dir.join("mix.safetensors"))
        .arg(&cut)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("mix-weights: ") && err.contains("exceeds the file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.join("mix.safetensors").exists());
}
