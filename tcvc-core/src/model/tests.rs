//! Unit and cross-implementation tests of the model module.
//!
//! The cross-implementation tests run `tools/reference_generator.py` and
//! `tools/convert_reference.py` with the Python interpreter named by
//! `TCVC_PYTHON` (default `<crate>/.venv/bin/python`, made by `make setup`);
//! the tools directory is `<crate>/tools`. A missing venv is a test failure
//! that says to run `make setup`, never a silent skip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::tensor::{Dtype, TensorView};
use tch::{nn, Device, Kind, Tensor};

use super::*;

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tcvc-model-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn meta() -> ModelMeta {
    ModelMeta {
        input_mode: InputMode::Lineart,
        train_size: TrainSize {
            width: 256,
            height: 256,
        },
        provenance: "unit test".into(),
        previous_frame: Default::default(),
        output: None,
        working_orientation: WorkingOrientation::Model,
    }
}

fn rand_inputs(h: i64, w: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let l = Tensor::rand([1, 1, h, w], (Kind::Float, Device::Cpu));
    let p = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
    (l, p)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Float) - b.to_kind(Kind::Float))
        .abs()
        .max()
        .double_value(&[])
}

fn new_generator(config: GeneratorConfig, seed: i64) -> (nn::VarStore, Generator) {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let g = Generator::new(&vs.root(), config).expect("generator");
    (vs, g)
}

// ---------------------------------------------------------------- generator

#[test]
fn generator_parameter_names_and_shapes() {
    let config = GeneratorConfig::default();
    let (vs, g) = new_generator(config, 0);
    let specs = config.parameter_specs();
    assert_eq!(specs.len(), 2 * (3 + 16 + 3));
    assert_eq!(config.parameter_count(), 44);
    let vars = vs.variables();
    assert_eq!(vars.len(), 44);
    for (name, shape) in &specs {
        let t = vars.get(name).unwrap_or_else(|| panic!("missing {name}"));
        assert_eq!(&t.size(), shape, "{name}");
    }
    // named_tensors follows state_dict order
    let names: Vec<String> = g.named_tensors().into_iter().map(|(n, _)| n).collect();
    let spec_names: Vec<String> = specs.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, spec_names);
    // hard-coded reference keys (C = 64, R = 8)
    let expect: &[(&str, &[i64])] = &[
        ("encoder.1.weight", &[64, 4, 7, 7]),
        ("encoder.1.bias", &[64]),
        ("encoder.4.weight", &[128, 64, 4, 4]),
        ("encoder.7.weight", &[256, 128, 4, 4]),
        ("middle.0.conv_block.1.weight", &[256, 256, 3, 3]),
        ("middle.3.conv_block.5.weight", &[256, 256, 3, 3]),
        ("middle.7.conv_block.5.bias", &[256]),
        ("decoder.0.weight", &[256, 128, 4, 4]),
        ("decoder.3.weight", &[128, 64, 4, 4]),
        ("decoder.7.weight", &[3, 64, 7, 7]),
        ("decoder.7.bias", &[3]),
    ];
    for (n, s) in expect {
        assert_eq!(vars[*n].size(), s.to_vec(), "{n}");
    }
    assert_eq!(names.first().map(String::as_str), Some("encoder.1.weight"));
    assert_eq!(names.last().map(String::as_str), Some("decoder.7.bias"));
    // trainable: all 44
    assert_eq!(vs.trainable_variables().len(), 44);
}

#[test]
fn generator_output_shape_and_range() {
    let (_vs, g) = new_generator(GeneratorConfig::default(), 1);
    let x = Tensor::rand([1, 4, 64, 64], (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| g.forward_input(&x)).expect("forward");
    assert_eq!(y.size(), vec![1, 3, 64, 64]);
    assert!(y.min().double_value(&[]) >= 0.0);
    assert!(y.max().double_value(&[]) <= 1.0);
    assert!(
        y.std(true).double_value(&[]) > 1e-4,
        "output is not constant"
    );
    // the two-tensor API is the same network
    let l = x.narrow(1, 0, 1);
    let p = x.narrow(1, 1, 3);
    let y2 = g.infer(&l, &p).expect("infer");
    assert_eq!(max_abs_diff(&y, &y2), 0.0);
    assert!(!y2.requires_grad());
}

#[test]
fn generator_handles_sizes_not_multiple_of_4() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 2);
    for (h, w) in [(50, 70), (13, 12), (12, 17)] {
        let (l, p) = rand_inputs(h, w, 3);
        let y = g.infer(&l, &p).expect("infer");
        assert_eq!(y.size(), vec![1, 3, h, w]);
    }
}

#[test]
fn generator_rejects_bad_inputs() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 2);
    let (l, p) = rand_inputs(32, 32, 3);
    let cases = [
        (p.shallow_clone(), p.shallow_clone()),
        (l.shallow_clone(), l.shallow_clone()),
        (l.narrow(2, 0, 16), p.shallow_clone()),
        (l.narrow(2, 0, 8), p.narrow(2, 0, 8)),
        (l.view([32, 32]), p.shallow_clone()),
    ];
    for (a, b) in cases {
        match g.infer(&a, &b) {
            Err(ModelError::InvalidInput(msg)) => assert!(!msg.is_empty()),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
}

#[test]
fn generator_config_validation() {
    let vs = nn::VarStore::new(Device::Cpu);
    for cfg in [
        GeneratorConfig {
            channels: 0,
            res_blocks: 8,
        },
        GeneratorConfig {
            channels: 64,
            res_blocks: -1,
        },
    ] {
        assert!(matches!(
            Generator::new(&vs.root(), cfg),
            Err(ModelError::InvalidConfig(_))
        ));
    }
}

#[test]
fn generator_training_step_updates_weights() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (vs, g) = new_generator(cfg, 4);
    let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 1e-3).expect("adam");
    let before = g.named_tensors()[0].1.copy();
    let (l, p) = rand_inputs(32, 32, 5);
    let target = Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu));
    let y = g.forward(&l, &p).expect("forward");
    let loss = loss::l1_loss(&y, &target).expect("loss");
    opt.backward_step(&loss);
    let after = &g.named_tensors()[0].1;
    assert!(
        max_abs_diff(&before, after) > 0.0,
        "optimizer did not update the generator"
    );
}

#[test]
fn shared_generator_is_thread_safe_and_consistent() {
    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send::<Generator>();
    assert_send_sync::<SharedGenerator>();

    let cfg = GeneratorConfig {
        channels: 16,
        res_blocks: 2,
    };
    let (_vs, g) = new_generator(cfg, 6);
    let frozen = g.to_device_kind(Device::Cpu, Kind::Float).expect("copy");
    let shared = SharedGenerator::new(frozen);
    let (l, p) = rand_inputs(48, 48, 7);
    let reference = shared.instance().infer(&l, &p).expect("infer");
    let ref_data = Vec::<f32>::try_from(reference.flatten(0, -1)).expect("data");
    let l_data = Vec::<f32>::try_from(l.flatten(0, -1)).expect("data");
    let p_data = Vec::<f32>::try_from(p.flatten(0, -1)).expect("data");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let shared = shared.clone();
            let (l_data, p_data, ref_data) = (l_data.clone(), p_data.clone(), ref_data.clone());
            std::thread::spawn(move || {
                let g = shared.instance();
                let l = Tensor::from_slice(&l_data).view([1, 1, 48, 48]);
                let p = Tensor::from_slice(&p_data).view([1, 3, 48, 48]);
                for _ in 0..3 {
                    let y = g.infer(&l, &p).expect("infer");
                    let y = Vec::<f32>::try_from(y.flatten(0, -1)).expect("data");
                    assert_eq!(y, ref_data);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(shared.config(), Some(cfg));
}

#[test]
fn bf16_inference_runs_on_cpu() {
    let (_vs, g) = new_generator(GeneratorConfig::default(), 8);
    let g32 = g.to_device_kind(Device::Cpu, Kind::Float).expect("f32");
    let g16 = g.to_device_kind(Device::Cpu, Kind::BFloat16).expect("bf16");
    assert_eq!(g16.kind(), Kind::BFloat16);
    let (l, p) = rand_inputs(64, 64, 9);
    let y32 = g32.infer(&l, &p).expect("f32 infer");
    let y16 = g16.infer(&l, &p).expect("bf16 infer");
    assert_eq!(y16.kind(), Kind::BFloat16);
    let d = max_abs_diff(&y32, &y16);
    eprintln!("bf16 vs fp32 max |diff| (C=64, R=8, 64x64, random init): {d:.5}");
    assert!(d < 0.1, "bf16 deviates too much: {d}");
}

// ---------------------------------------------------------------- model file

#[test]
fn model_file_round_trip_f32_and_f16() {
    let cfg = GeneratorConfig {
        channels: 16,
        res_blocks: 2,
    };
    let (_vs, g) = new_generator(cfg, 10);
    let dir = tmp_dir("roundtrip");
    for storage in [StorageDtype::F32, StorageDtype::F16] {
        let path = dir.join(format!("{storage:?}.safetensors"));
        ModelFile::save(&path, &g, &meta(), storage).expect("save");
        let loaded = ModelFile::load(&path, Device::Cpu, Kind::Float).expect("load");
        assert_eq!(loaded.meta, meta());
        assert_eq!(loaded.generator.config(), cfg);
        assert_eq!(loaded.generator.kind(), Kind::Float);
        let (c2, m2) = ModelFile::inspect(&path).expect("inspect");
        assert_eq!((c2, m2), (cfg, meta()));
        for ((n1, a), (n2, b)) in g
            .named_tensors()
            .iter()
            .zip(loaded.generator.named_tensors())
        {
            assert_eq!(n1, &n2);
            assert!(!b.requires_grad());
            let expected = match storage {
                StorageDtype::F32 => a.detach(),
                StorageDtype::F16 => a.detach().to_kind(Kind::Half).to_kind(Kind::Float),
            };
            assert_eq!(max_abs_diff(&expected, &b), 0.0, "{n1} ({storage:?})");
        }
        // also loads as bf16 / half
        for kind in [Kind::BFloat16, Kind::Half] {
            let l = ModelFile::load(&path, Device::Cpu, kind).expect("load other kind");
            assert_eq!(l.generator.kind(), kind);
        }
    }
    let f16_len = std::fs::metadata(dir.join("F16.safetensors")).map(|m| m.len());
    let f32_len = std::fs::metadata(dir.join("F32.safetensors")).map(|m| m.len());
    assert!(f16_len.expect("len") < f32_len.expect("len"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_file_keeps_its_recommended_output() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 11);
    let dir = tmp_dir("output-mode");
    for output in [None, Some(OutputMode::Color), Some(OutputMode::Luma)] {
        let path = dir.join("m.safetensors");
        let m = ModelMeta { output, ..meta() };
        ModelFile::save(&path, &g, &m, StorageDtype::F16).expect("save");
        assert_eq!(ModelFile::inspect(&path).expect("inspect").1.output, output);
        let bytes = std::fs::read(&path).expect("read");
        let has_key = bytes.windows(13).any(|w| w == b"\"output_mode\"");
        assert_eq!(has_key, output.is_some(), "{output:?}");
    }
    // An unknown value is a metadata error naming the key, not a silent default.
    let path = dir.join("m.safetensors");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes
        .windows(6)
        .position(|w| w == b"\"luma\"")
        .expect("value in the header");
    bytes[at + 1..at + 5].copy_from_slice(b"lumo");
    let e = ModelFile::load_from_bytes(&bytes, Device::Cpu, Kind::Float).unwrap_err();
    assert!(e.to_string().contains("output_mode"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `working_orientation`: written only for a model trained turned, read back; absent reads as
/// `model`; an unknown value is a metadata error naming the key.
#[test]
fn model_file_keeps_its_working_orientation() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 12);
    let dir = tmp_dir("orientation");
    let path = dir.join("m.safetensors");
    for o in [WorkingOrientation::Turn, WorkingOrientation::Model] {
        let m = ModelMeta {
            working_orientation: o,
            ..meta()
        };
        ModelFile::save(&path, &g, &m, StorageDtype::F16).expect("save");
        let read = ModelFile::inspect(&path).expect("inspect").1;
        assert_eq!(read.working_orientation, o);
        let bytes = std::fs::read(&path).expect("read");
        let has_key = bytes.windows(21).any(|w| w == b"\"working_orientation\"");
        assert_eq!(has_key, o == WorkingOrientation::Turn, "{o}");
    }
    ModelFile::save(
        &path,
        &g,
        &ModelMeta {
            working_orientation: WorkingOrientation::Turn,
            ..meta()
        },
        StorageDtype::F16,
    )
    .expect("save");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes
        .windows(6)
        .position(|w| w == b"\"turn\"")
        .expect("value in the header");
    bytes[at + 1..at + 5].copy_from_slice(b"tumn");
    let e = ModelFile::load_from_bytes(&bytes, Device::Cpu, Kind::Float).unwrap_err();
    assert!(e.to_string().contains("working_orientation"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_file_rejects_unsupported_compute_kind() {
    let cfg = GeneratorConfig {
        channels: 4,
        res_blocks: 0,
    };
    let (_vs, g) = new_generator(cfg, 11);
    let bytes = ModelFile::to_bytes(&g, &meta(), StorageDtype::F32).expect("bytes");
    let r = ModelFile::load_from_bytes(&bytes, Device::Cpu, Kind::Int64);
    assert!(matches!(r, Err(ModelError::InvalidConfig(_))));
    assert!(ModelFile::load_from_bytes(&bytes, Device::Cpu, Kind::Float).is_ok());
}

/// A synthetic tensor: name, dtype, shape, bytes.
type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

fn good_metadata(channels: i64, res_blocks: i64) -> HashMap<String, String> {
    [
        ("format", "tcvc-generator".to_string()),
        ("format_version", "1".to_string()),
        ("channels", channels.to_string()),
        ("res_blocks", res_blocks.to_string()),
        ("input_mode", "lineart".to_string()),
        ("train_size", "256x256".to_string()),
        ("provenance", "synthetic".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn good_tensors(channels: i64, res_blocks: i64) -> Vec<RawTensor> {
    GeneratorConfig {
        channels,
        res_blocks,
    }
    .parameter_specs()
    .into_iter()
    .map(|(n, s)| {
        let shape: Vec<usize> = s.iter().map(|&d| d as usize).collect();
        let numel: usize = shape.iter().product();
        let data: Vec<u8> = (0..numel)
            .flat_map(|i| ((i % 7) as f32 * 0.01).to_le_bytes())
            .collect();
        (n, Dtype::F32, shape, data)
    })
    .collect()
}

fn build_file(meta: &HashMap<String, String>, tensors: &[RawTensor]) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("view")))
        .collect();
    safetensors::serialize(views, Some(meta.clone())).expect("serialize")
}

fn load_bytes(bytes: &[u8]) -> Result<LoadedModel, ModelError> {
    ModelFile::load_from_bytes(bytes, Device::Cpu, Kind::Float)
}

#[test]
fn synthetic_good_file_loads() {
    let bytes = build_file(&good_metadata(64, 4), &good_tensors(64, 4));
    let m = load_bytes(&bytes).expect("load");
    assert_eq!(m.generator.config().res_blocks, 4);
    assert_eq!(m.meta.provenance, "synthetic");
}

#[test]
fn bad_file_io_errors() {
    let dir = tmp_dir("badio");
    // missing
    let missing = dir.join("nope.safetensors");
    match ModelFile::load(&missing, Device::Cpu, Kind::Float) {
        Err(e @ ModelError::Io { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("nope.safetensors") && msg.contains("check the path"),
                "{msg}"
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }
    // directory
    assert!(matches!(
        ModelFile::load(&dir, Device::Cpu, Kind::Float),
        Err(ModelError::Io { .. })
    ));
    // empty
    let empty = dir.join("empty.safetensors");
    std::fs::write(&empty, b"").expect("write");
    assert!(matches!(
        ModelFile::load(&empty, Device::Cpu, Kind::Float),
        Err(ModelError::EmptyFile { .. })
    ));
    // random bytes
    let mut x: u64 = 0x1234_5678_9abc_def0;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let rnd = dir.join("random.safetensors");
    std::fs::write(&rnd, &random).expect("write");
    match ModelFile::load(&rnd, Device::Cpu, Kind::Float) {
        Err(e @ ModelError::NotSafetensors { .. }) => {
            assert!(e.to_string().contains("not a valid safetensors file"))
        }
        other => panic!("expected NotSafetensors, got {other:?}"),
    }
    // a torch.save zip
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0u8; 100]);
    match load_bytes(&zip) {
        Err(e @ ModelError::NotSafetensors { .. }) => {
            assert!(e.to_string().contains("convert_reference.py"))
        }
        other => panic!("expected NotSafetensors, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_file_truncated_and_short() {
    let bytes = build_file(&good_metadata(8, 1), &good_tensors(8, 1));
    for cut in [3usize, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(
                load_bytes(&bytes[..cut]),
                Err(ModelError::NotSafetensors { .. })
            ),
            "cut at {cut}"
        );
    }
    // header length pointing far past the end
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert!(matches!(
        load_bytes(&huge),
        Err(ModelError::NotSafetensors { .. })
    ));
    // extra trailing bytes
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(matches!(
        load_bytes(&longer),
        Err(ModelError::NotSafetensors { .. })
    ));
}

#[test]
fn mutated_files_never_panic() {
    let bytes = build_file(&good_metadata(4, 1), &good_tensors(4, 1));
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut ok, mut err) = (0, 0);
    for i in 0..400 {
        let mut b = bytes.clone();
        match i % 4 {
            // flip a byte in the length or JSON header
            0 | 1 => {
                let pos = (next() as usize) % (8 + header_len);
                b[pos] = next() as u8;
            }
            // truncate anywhere
            2 => b.truncate((next() as usize) % b.len()),
            // overwrite a byte of tensor data (may create NaN/Inf)
            _ => {
                let pos = 8 + header_len + (next() as usize) % (b.len() - 8 - header_len);
                b[pos] = 0xff;
            }
        }
        match std::panic::catch_unwind(|| load_bytes(&b).map(|_| ())) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("loader panicked on mutation {i}"),
        }
    }
    assert!(err > 0 && ok + err == 400);
}

#[test]
fn bad_file_metadata_errors() {
    let t = good_tensors(8, 1);
    let with = |k: &str, v: Option<&str>| {
        let mut m = good_metadata(8, 1);
        match v {
            Some(v) => m.insert(k.to_string(), v.to_string()),
            None => m.remove(k),
        };
        load_bytes(&build_file(&m, &t))
    };
    assert!(matches!(
        with("format", Some("something-else")),
        Err(ModelError::WrongFormat { found }) if found == "something-else"
    ));
    assert!(matches!(
        with("format", None),
        Err(ModelError::MissingMetadata { key: "format" })
    ));
    assert!(matches!(
        with("format_version", Some("2")),
        Err(ModelError::UnsupportedVersion { found }) if found == "2"
    ));
    assert!(matches!(
        with("channels", Some("abc")),
        Err(ModelError::InvalidMetadata {
            key: "channels",
            ..
        })
    ));
    assert!(matches!(
        with("channels", Some("0")),
        Err(ModelError::InvalidMetadata {
            key: "channels",
            ..
        })
    ));
    assert!(matches!(
        with("res_blocks", Some("1000")),
        Err(ModelError::InvalidMetadata {
            key: "res_blocks",
            ..
        })
    ));
    assert!(matches!(
        with("res_blocks", None),
        Err(ModelError::MissingMetadata { key: "res_blocks" })
    ));
    assert!(matches!(
        with("input_mode", Some("colour")),
        Err(ModelError::InvalidMetadata {
            key: "input_mode",
            ..
        })
    ));
    assert!(matches!(
        with("train_size", Some("256")),
        Err(ModelError::InvalidMetadata {
            key: "train_size",
            ..
        })
    ));
    assert!(matches!(
        with("train_size", Some("0x256")),
        Err(ModelError::InvalidMetadata {
            key: "train_size",
            ..
        })
    ));
    // provenance is optional
    assert!(with("provenance", None).is_ok());
    // no metadata at all
    let no_meta: Vec<(String, TensorView<'_>)> = t
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("view")))
        .collect();
    let bytes = safetensors::serialize(no_meta, None).expect("serialize");
    assert!(matches!(
        load_bytes(&bytes),
        Err(ModelError::MissingMetadata { key: "format" })
    ));
}

#[test]
fn bad_file_tensor_errors() {
    let meta = good_metadata(64, 4);
    let base = good_tensors(64, 4);

    // missing tensor
    let t: Vec<RawTensor> = base
        .iter()
        .filter(|(n, ..)| n != "middle.3.conv_block.5.weight")
        .cloned()
        .collect();
    match load_bytes(&build_file(&meta, &t)) {
        Err(e @ ModelError::MissingTensor { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("`middle.3.conv_block.5.weight`"), "{msg}");
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }

    // unexpected tensor
    let mut t = base.clone();
    t.push((
        "middle.4.conv_block.1.weight".into(),
        Dtype::F32,
        vec![2],
        vec![0; 8],
    ));
    assert!(matches!(
        load_bytes(&build_file(&meta, &t)),
        Err(ModelError::UnexpectedTensor { name, .. }) if name == "middle.4.conv_block.1.weight"
    ));

    // shape mismatch
    let mut t = base.clone();
    for e in t.iter_mut() {
        if e.0 == "middle.3.conv_block.5.weight" {
            e.2 = vec![256, 256, 1, 9];
        }
    }
    match load_bytes(&build_file(&meta, &t)) {
        Err(e @ ModelError::ShapeMismatch { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("[256, 256, 3, 3]") && msg.contains("[256, 256, 1, 9]"),
                "{msg}"
            );
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }

    // metadata declares another architecture than the weights
    assert!(matches!(
        load_bytes(&build_file(&good_metadata(32, 4), &base)),
        Err(ModelError::ShapeMismatch { .. })
    ));

    // non-float dtype
    let mut t = base.clone();
    for e in t.iter_mut() {
        if e.0 == "encoder.1.bias" {
            e.1 = Dtype::I32;
        }
    }
    assert!(matches!(
        load_bytes(&build_file(&meta, &t)),
        Err(ModelError::UnsupportedDtype { name, dtype, .. })
            if name == "encoder.1.bias" && dtype == "I32"
    ));

    // NaN weights
    let mut t = base.clone();
    for e in t.iter_mut() {
        if e.0 == "decoder.7.bias" {
            e.3 = [1.0f32, f32::NAN, 0.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
        }
    }
    assert!(matches!(
        load_bytes(&build_file(&meta, &t)),
        Err(ModelError::NonFiniteTensor { name, .. }) if name == "decoder.7.bias"
    ));

    // F16 and BF16 storage are accepted and widened
    let t: Vec<RawTensor> = good_tensors(8, 1)
        .into_iter()
        .map(|(n, _, s, b)| {
            let halves: Vec<u8> = b
                .chunks_exact(4)
                .flat_map(|c| {
                    let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    // bf16 = upper 16 bits of the f32
                    ((v.to_bits() >> 16) as u16).to_le_bytes()
                })
                .collect();
            (n, Dtype::BF16, s, halves)
        })
        .collect();
    assert!(load_bytes(&build_file(&good_metadata(8, 1), &t)).is_ok());
}

#[test]
fn error_messages_say_what_to_do() {
    let e = ModelError::MissingTensor {
        role: FileRole::Generator,
        name: "middle.3.conv_block.5.weight".into(),
    };
    let msg = e.to_string();
    assert!(msg.contains("middle.3.conv_block.5.weight") && msg.contains("convert_reference.py"));
    let e = ModelError::WrongFormat {
        found: "foo".into(),
    };
    assert!(e.to_string().contains("expected `tcvc-generator`"));
}

// ---------------------------------------------------------------- discriminator

#[test]
fn discriminator_names_shapes_and_output() {
    tch::manual_seed(12);
    let vs = nn::VarStore::new(Device::Cpu);
    let d = Discriminator::new(&vs.root(), DISCRIMINATOR_INPUT_CHANNELS).expect("disc");
    let vars = vs.variables();
    let expect: &[(&str, &[i64])] = &[
        ("conv1.0.weight_orig", &[64, 7, 4, 4]),
        ("conv1.0.weight_u", &[64]),
        ("conv1.0.weight_v", &[112]),
        ("conv2.0.weight_orig", &[128, 64, 4, 4]),
        ("conv3.0.weight_orig", &[256, 128, 4, 4]),
        ("conv4.0.weight_orig", &[512, 256, 4, 4]),
        ("conv5.0.weight_orig", &[1, 512, 4, 4]),
        ("conv5.0.weight_u", &[1]),
        ("conv5.0.weight_v", &[8192]),
    ];
    assert_eq!(vars.len(), 15);
    for (n, s) in expect {
        assert_eq!(vars[*n].size(), s.to_vec(), "{n}");
    }
    assert_eq!(
        vs.trainable_variables().len(),
        5,
        "only weight_orig is trainable"
    );
    let x = Tensor::rand([2, 7, 256, 256], (Kind::Float, Device::Cpu));
    let y = d.forward_t(&x, true).expect("forward");
    assert_eq!(y.size(), vec![2, 1, 30, 30]);
    let s = d.forward_sigmoid(&x, false).expect("sigmoid");
    assert!(max_abs_diff(&s, &y.sigmoid()) < 1e-3);
}

#[test]
fn spectral_norm_converges_to_unit_norm() {
    tch::manual_seed(13);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = SpectralNormConv2d::new(&vs.root(), 8, 16, 4, 2, 1).expect("conv");
    let w0 = conv.weight(false).expect("w");
    // eval mode does not iterate: repeated eval calls are identical
    assert_eq!(max_abs_diff(&w0, &conv.weight(false).expect("w")), 0.0);
    let mut w = w0;
    for _ in 0..100 {
        w = tch::no_grad(|| conv.weight(true)).expect("w");
    }
    // largest singular value = sqrt(largest eigenvalue of W W^T)
    let m = w.reshape([16, -1]);
    let sv = m
        .mm(&m.transpose(0, 1))
        .linalg_eigvalsh("L")
        .max()
        .double_value(&[])
        .sqrt();
    assert!(
        (sv - 1.0).abs() < 1e-3,
        "spectral norm after power iteration: {sv}"
    );
    // gradient flows to weight_orig
    let w = conv.weight(true).expect("w");
    w.sum(Kind::Float).backward();
    let g = vs.trainable_variables()[0].grad();
    assert!(g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

// ---------------------------------------------------------------- vgg + losses

#[test]
fn vgg_random_is_deterministic_and_shapes() {
    let a = Vgg19::random(7, Device::Cpu).expect("vgg");
    let b = Vgg19::random(7, Device::Cpu).expect("vgg");
    let x = Tensor::rand([1, 3, 64, 64], (Kind::Float, Device::Cpu));
    let fa = tch::no_grad(|| a.features(&x)).expect("features");
    let fb = tch::no_grad(|| b.features(&x)).expect("features");
    let content_shapes: Vec<Vec<i64>> = fa.content.iter().map(Tensor::size).collect();
    assert_eq!(
        content_shapes,
        vec![
            vec![1, 64, 64, 64],
            vec![1, 128, 32, 32],
            vec![1, 256, 16, 16],
            vec![1, 512, 8, 8],
            vec![1, 512, 4, 4]
        ]
    );
    let style_shapes: Vec<Vec<i64>> = fa.style.iter().map(Tensor::size).collect();
    assert_eq!(
        style_shapes,
        vec![
            vec![1, 128, 32, 32],
            vec![1, 256, 16, 16],
            vec![1, 512, 8, 8],
            vec![1, 512, 4, 4]
        ]
    );
    for (p, q) in fa.content.iter().zip(&fb.content) {
        assert_eq!(max_abs_diff(p, q), 0.0);
    }
    assert!(fa.content[4].abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

#[test]
fn vgg_from_safetensors_validates_keys() {
    let dir = tmp_dir("vgg");
    let specs = vgg19_parameter_specs();
    assert_eq!(specs.len(), 32);
    assert_eq!(specs[0].0, "features.0.weight");
    assert_eq!(specs[31].0, "features.34.bias");
    let mk = |skip: Option<&str>, bad_shape: Option<&str>| -> Vec<RawTensor> {
        specs
            .iter()
            .filter(|(n, _)| Some(n.as_str()) != skip)
            .map(|(n, s)| {
                let mut shape: Vec<usize> = s.iter().map(|&d| d as usize).collect();
                if Some(n.as_str()) == bad_shape {
                    shape[0] += 1;
                }
                let numel: usize = shape.iter().product();
                (n.clone(), Dtype::F32, shape, vec![0u8; numel * 4])
            })
            .collect()
    };
    let write = |name: &str, t: &[RawTensor]| {
        let p = dir.join(name);
        let mut t = t.to_vec();
        t.push(("classifier.0.bias".into(), Dtype::F32, vec![2], vec![0; 8]));
        std::fs::write(&p, build_file(&HashMap::new(), &t)).expect("write");
        p
    };
    let ok = write("ok.safetensors", &mk(None, None));
    assert!(Vgg19::from_safetensors(&ok, Device::Cpu).is_ok());
    let missing = write("missing.safetensors", &mk(Some("features.28.weight"), None));
    match Vgg19::from_safetensors(&missing, Device::Cpu) {
        Err(e @ ModelError::MissingTensor { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("features.28.weight") && msg.contains("VGG19"),
                "{msg}"
            );
        }
        other => panic!("expected MissingTensor, got {:?}", other.map(|_| ())),
    }
    let bad = write("bad.safetensors", &mk(None, Some("features.5.weight")));
    assert!(matches!(
        Vgg19::from_safetensors(&bad, Device::Cpu),
        Err(ModelError::ShapeMismatch { name, .. }) if name == "features.5.weight"
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn losses_match_definitions() {
    // BCE-with-logits == sigmoid + BCE
    let z = Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 0.7, 4.0]).view([1, 1, 5, 1]);
    let p = z.sigmoid();
    let manual_real = -(p.log()).mean(Kind::Float).double_value(&[]);
    let manual_fake = -((-p + 1.0).log()).mean(Kind::Float).double_value(&[]);
    let real = loss::adversarial_loss(&z, true)
        .expect("adv")
        .double_value(&[]);
    let fake = loss::adversarial_loss(&z, false)
        .expect("adv")
        .double_value(&[]);
    assert!((real - manual_real).abs() < 1e-6 && (fake - manual_fake).abs() < 1e-6);
    let d = loss::discriminator_loss(&z, &z)
        .expect("d")
        .double_value(&[]);
    assert!((d - 0.5 * (manual_real + manual_fake)).abs() < 1e-6);
    // Gram: F F^T / (c h w)
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([1, 2, 1, 2]);
    let g = loss::gram_matrix(&x).expect("gram");
    let g: Vec<f32> = Vec::try_from(g.flatten(0, -1)).expect("data");
    assert_eq!(g, vec![5.0 / 4.0, 11.0 / 4.0, 11.0 / 4.0, 25.0 / 4.0]);
    // L1
    let a = Tensor::from_slice(&[0.0f32, 1.0]);
    let b = Tensor::from_slice(&[1.0f32, 3.0]);
    assert_eq!(loss::l1_loss(&a, &b).expect("l1").double_value(&[]), 1.5);
}

#[test]
fn generator_loss_backpropagates_with_and_without_vgg() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (vs, g) = new_generator(cfg, 14);
    let dvs = nn::VarStore::new(Device::Cpu);
    let d = Discriminator::new(&dvs.root(), 7).expect("disc");
    let vgg = Vgg19::random(3, Device::Cpu).expect("vgg");
    let (l, p) = rand_inputs(32, 32, 15);
    let real = Tensor::rand([1, 3, 32, 32], (Kind::Float, Device::Cpu));
    let weights = LossWeights::default();
    assert_eq!(
        (
            weights.adversarial,
            weights.l1,
            weights.content,
            weights.style
        ),
        (1.0, 10.0, 1.0, 1000.0)
    );
    for use_vgg in [false, true] {
        let fake = g.forward(&l, &p).expect("forward");
        let logits = d.forward_parts(&l, &p, &fake, true).expect("disc");
        let losses = loss::generator_loss(
            Some(&logits),
            &fake,
            &real,
            use_vgg.then_some(&vgg as &dyn loss::FeatureNet),
            &weights,
        )
        .expect("loss");
        assert_eq!(losses.content.is_some(), use_vgg);
        assert_eq!(losses.style.is_some(), use_vgg);
        let mut sum = losses.adversarial.double_value(&[]) + losses.l1.double_value(&[]);
        if let (Some(c), Some(s)) = (&losses.content, &losses.style) {
            sum += c.double_value(&[]) + s.double_value(&[]);
        }
        let total = losses.total.double_value(&[]);
        assert!(total.is_finite() && (total - sum).abs() < 1e-4 * total.abs().max(1.0));
        // Without a discriminator (adversarial weight 0 in the trainer) the term is 0 and the
        // rest is unchanged.
        let no_adv = loss::generator_loss(
            None,
            &fake,
            &real,
            use_vgg.then_some(&vgg as &dyn loss::FeatureNet),
            &weights,
        )
        .expect("loss without a discriminator");
        assert_eq!(no_adv.adversarial.double_value(&[]), 0.0);
        let rest = sum - losses.adversarial.double_value(&[]);
        assert!((no_adv.total.double_value(&[]) - rest).abs() < 1e-4 * rest.abs().max(1.0));
        for mut t in vs.trainable_variables() {
            t.zero_grad();
        }
        losses.total.backward();
        let gsum: f64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.grad().abs().sum(Kind::Float).double_value(&[]))
            .sum();
        assert!(gsum > 0.0 && gsum.is_finite());
    }
}

#[test]
fn trainer_can_resume_from_model_file() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs1, g1) = new_generator(cfg, 16);
    let bytes = ModelFile::to_bytes(&g1, &meta(), StorageDtype::F32).expect("bytes");
    let loaded = load_bytes(&bytes).expect("load");
    let (_vs2, g2) = new_generator(cfg, 17);
    g2.copy_weights_from(&loaded.generator).expect("copy");
    for ((_, a), (_, b)) in g1.named_tensors().iter().zip(g2.named_tensors()) {
        assert_eq!(max_abs_diff(a, &b), 0.0);
        assert!(b.requires_grad(), "trainable variables stay trainable");
    }
    let other = GeneratorConfig {
        channels: 4,
        res_blocks: 1,
    };
    let (_vs3, g3) = new_generator(other, 18);
    assert!(matches!(
        g3.copy_weights_from(&loaded.generator),
        Err(ModelError::InvalidConfig(_))
    ));
}

// ---------------------------------------------------------------- cross-implementation

struct Tools {
    python: PathBuf,
    dir: PathBuf,
}

fn tools() -> Option<Tools> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let python = std::env::var_os("TCVC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(
        python.is_file(),
        "Python venv {} is missing: run `make setup` first",
        python.display()
    );
    Some(Tools {
        python,
        dir: root.join("tools"),
    })
}

fn run(tools: &Tools, script: &str, args: &[&str]) {
    let out = Command::new(&tools.python)
        .arg(tools.dir.join(script))
        .args(args)
        .output()
        .expect("spawn python");
    assert!(
        out.status.success(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_f32(path: &Path, shape: &[i64]) -> Tensor {
    let bytes = std::fs::read(path).expect("read f32 file");
    let numel: i64 = shape.iter().product();
    assert_eq!(bytes.len() as i64, numel * 4, "{}", path.display());
    Tensor::f_from_data_size(&bytes, shape, Kind::Float).expect("tensor")
}

fn cross_check(channels: i64, res_blocks: i64, fp16: bool) -> Option<f64> {
    let tools = tools()?;
    let dir = tmp_dir(&format!("xref-{channels}-{res_blocks}-{fp16}"));
    let pth = dir.join("ref.pth");
    let st = dir.join("model.safetensors");
    let io = dir.join("io");
    let (c, r) = (channels.to_string(), res_blocks.to_string());
    let s = |p: &Path| p.to_string_lossy().into_owned();
    run(
        &tools,
        "reference_generator.py",
        &[
            &s(&pth),
            "--channels",
            &c,
            "--res-blocks",
            &r,
            "--seed",
            "3",
            "--input-out",
            &s(&io),
        ],
    );
    let mut conv_args = vec![
        s(&pth),
        s(&st),
        "--input-mode".into(),
        "lineart".into(),
        "--train-size".into(),
        "64x64".into(),
        "--provenance".into(),
        "cross-implementation test".into(),
    ];
    if fp16 {
        conv_args.push("--fp16".into());
    }
    let conv_args: Vec<&str> = conv_args.iter().map(String::as_str).collect();
    run(&tools, "convert_reference.py", &conv_args);
    let loaded = ModelFile::load(&st, Device::Cpu, Kind::Float).expect("load converted model");
    assert_eq!(
        loaded.generator.config(),
        GeneratorConfig {
            channels,
            res_blocks
        }
    );
    assert_eq!(loaded.meta.train_size.to_string(), "64x64");
    let lineart = read_f32(&io.join("lineart.f32"), &[1, 1, 64, 64]);
    let prev = read_f32(&io.join("prev.f32"), &[1, 3, 64, 64]);
    let expected = read_f32(&io.join("output.f32"), &[1, 3, 64, 64]);
    let got = loaded.generator.infer(&lineart, &prev).expect("infer");
    let d = max_abs_diff(&expected, &got);
    eprintln!("cross-implementation C={channels} R={res_blocks} fp16-storage={fp16}: max |diff| = {d:.3e}");
    let _ = std::fs::remove_dir_all(&dir);
    Some(d)
}

#[test]
fn cross_implementation_small() {
    if let Some(d) = cross_check(16, 2, false) {
        assert!(d <= 1e-4, "max |diff| {d} > 1e-4");
    }
}

#[test]
fn cross_implementation_default_config() {
    if let Some(d) = cross_check(64, 8, false) {
        assert!(d <= 1e-4, "max |diff| {d} > 1e-4");
    }
}

#[test]
fn cross_implementation_fp16_storage_loads() {
    // fp16 storage rounds the weights, so only a loose bound applies.
    if let Some(d) = cross_check(16, 2, true) {
        assert!(d <= 2e-2, "max |diff| {d}");
    }
}

// ---------------------------------------------------------------- benchmark

/// One-off timing of a 256x256 forward (C=64, R=8) in fp32 and bf16.
/// Run with `cargo test --release -- --ignored bench_forward_256 --nocapture`.
#[test]
#[ignore]
fn bench_forward_256() {
    let (_vs, g) = new_generator(GeneratorConfig::default(), 19);
    let (l, p) = rand_inputs(256, 256, 20);
    let reps: usize = std::env::var("TCVC_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut outs = Vec::new();
    for kind in [Kind::Float, Kind::BFloat16] {
        let m = g.to_device_kind(Device::Cpu, kind).expect("convert");
        outs.push(m.infer(&l, &p).expect("warm-up"));
        let mut times = Vec::new();
        for _ in 0..reps {
            let t0 = std::time::Instant::now();
            let _ = m.infer(&l, &p).expect("infer");
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "tch {kind:?} 256x256 C=64 R=8: median {:.1} ms, min {:.1} ms ({} threads)",
            times[times.len() / 2],
            times[0],
            tch::get_num_threads()
        );
    }
    eprintln!(
        "bf16 vs fp32 max |diff| at 256x256: {:.4}",
        max_abs_diff(&outs[0], &outs[1])
    );
}

#[test]
fn two_training_forwards_of_the_discriminator_before_one_backward() {
    // Real and fake halves of the D loss in one graph, as torch's spectral_norm allows.
    let vs = nn::VarStore::new(Device::Cpu);
    let d = Discriminator::new(&vs.root(), 7).unwrap();
    let x = Tensor::rand([1, 7, 64, 64], (Kind::Float, Device::Cpu));
    let a = d.forward_t(&x, true).unwrap();
    let b = d.forward_t(&x, true).unwrap();
    (a.sum(Kind::Float) + b.sum(Kind::Float)).backward();
    let grads = vs
        .trainable_variables()
        .iter()
        .filter(|v| v.grad().defined())
        .count();
    assert!(grads > 0);
}

// ------------------------------------------------- pix2pix files, blank previous, default model

#[test]
fn pix2pix_model_file_round_trips_through_load_any() {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let unet = UnetGenerator::new(&vs.root(), 5, 8).expect("unet");
    let dir = tmp_dir("unet");
    let path = dir.join("p2p.safetensors");
    let m = ModelMeta {
        train_size: TrainSize {
            width: 160,
            height: 96,
        },
        ..meta()
    };
    ModelFile::save_unet(&path, &unet, &m, StorageDtype::F32).expect("save");
    let loaded = ModelFile::load_any(&path, Device::Cpu, Kind::Float).expect("load");
    assert_eq!(loaded.meta.train_size, m.train_size);
    assert_eq!(loaded.meta.input_mode, InputMode::Lineart);
    assert!(!loaded.net.uses_previous());
    assert_eq!(loaded.net.describe(), "pix2pix U-Net channels=8 downs=5");
    let (l, p) = rand_inputs(96, 160, 4);
    let want = unet.infer(&l).expect("infer");
    let got = loaded.net.infer(&l, &p).expect("infer");
    assert_eq!(max_abs_diff(&want, &got), 0.0);
    // The previous frame does not matter to the U-Net.
    let got2 = loaded.net.infer(&l, &p.zeros_like()).expect("infer");
    assert_eq!(max_abs_diff(&got, &got2), 0.0);
    // A TCVC-only loader says what the file is.
    let e = ModelFile::load(&path, Device::Cpu, Kind::Float).unwrap_err();
    assert!(e.to_string().contains("tcvc-pix2pix-unet"), "{e}");
    // Corrupt metadata is an error, not a panic.
    let mut bad = std::fs::read(&path).unwrap();
    let key = b"\"downs\":\"5\"";
    let at = bad
        .windows(key.len())
        .position(|w| w == key)
        .expect("downs in the header");
    bad[at + key.len() - 2] = b'3';
    let e = ModelFile::load_any_from_bytes(&bad, "bad", Device::Cpu, Kind::Float).unwrap_err();
    assert!(e.to_string().contains("downs"), "{e}");
}

#[test]
fn a_blank_previous_model_ignores_the_chain() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 8);
    let dir = tmp_dir("blank");
    let mut outs = Vec::new();
    for previous_frame in [PreviousFrame::Chain, PreviousFrame::Blank] {
        let path = dir.join(format!("{}.safetensors", previous_frame.as_str()));
        let m = ModelMeta {
            previous_frame,
            ..meta()
        };
        ModelFile::save(&path, &g, &m, StorageDtype::F32).expect("save");
        let model = cache::load_shared(&path, Device::Cpu, Kind::Float).expect("load");
        assert_eq!(model.meta.previous_frame, previous_frame);
        let mut c = model.colorizer(48, 32, 1.0).expect("colorizer");
        let (l, _) = rand_inputs(32, 48, 9);
        let first = c.step(&l).expect("step").prediction;
        let second = c.step(&l).expect("step").prediction;
        outs.push(max_abs_diff(&first, &second));
    }
    assert!(
        outs[0] > 1e-4,
        "the chain feeds the previous output back: {outs:?}"
    );
    assert_eq!(
        outs[1], 0.0,
        "a blank-previous model sees zeros every frame"
    );
}

#[test]
fn the_built_in_default_model_is_a_small_tcvc_line_art_model() {
    let model = cache::load_default(Device::Cpu, Kind::Float).expect("default model");
    assert_eq!(model.path, Path::new(cache::DEFAULT_MODEL_NAME));
    assert_eq!(model.meta.input_mode, InputMode::Lineart);
    assert_eq!(model.meta.previous_frame, PreviousFrame::Chain);
    let cfg = model.shared.config().expect("a TCVC model");
    assert_eq!((cfg.channels, cfg.res_blocks), (32, 6));
    assert!(
        cache::DEFAULT_MODEL.len() <= 15 << 20,
        "the default model is at most 15 MB"
    );
    // Shared, not loaded twice.
    let again = cache::load_default(Device::Cpu, Kind::Float).expect("default model");
    assert!(model.shared.ptr_eq(&again.shared));
    assert_eq!(
        cache::load_count_of(Path::new(cache::DEFAULT_MODEL_NAME)),
        1
    );
}

#[test]
fn flip_averaging_is_the_mean_of_the_frame_and_its_mirror_along_the_chain() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 21);
    let dir = tmp_dir("flip");
    let path = dir.join("g.safetensors");
    ModelFile::save(&path, &g, &meta(), StorageDtype::F32).expect("save");
    let model = cache::load_shared(&path, Device::Cpu, Kind::Float).expect("load");
    let mut c = model.colorizer(48, 32, 1.0).expect("colorizer");
    assert!(!c.flip_average());
    c.set_flip_average(true);
    assert!(c.flip_average());
    // An independent chain: two forward passes by hand, the mirror undone, the mean fed back.
    let mirror = |t: &Tensor| t.flip([3]);
    let mut prev = Tensor::zeros([1, 3, 32, 48], (Kind::Float, Device::Cpu));
    for k in 0..3 {
        let (l, _) = rand_inputs(32, 48, 30 + k);
        let got = c.step(&l).expect("step").prediction;
        let a = g.infer(&l, &prev).expect("infer");
        let b = mirror(&g.infer(&mirror(&l), &mirror(&prev)).expect("infer"));
        let want = (&a + &b) * 0.5;
        assert!(
            max_abs_diff(&got, &want) < 1e-5,
            "frame {k}: {}",
            max_abs_diff(&got, &want)
        );
        // The network is not mirror-symmetric, so the average is not either pass alone.
        assert!(max_abs_diff(&got, &a) > 1e-4, "frame {k}");
        prev = want;
    }
}

/// Plain `Vec<f32>` of a tensor (row-major).
fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).expect("values")
}

/// Temporal smoothing by hand, pixel by pixel (`1 × 3 × h × w` predictions, `1 × 1 × h × w`
/// inputs): `pred + w · (before − pred)`, `w = strength · exp(−d² / SMOOTH_COLOUR²)` where no input
/// pixel within SMOOTH_RADIUS changed by more than SMOOTH_LINE_CHANGE, else 0.
fn smooth_by_hand(
    pred: &Tensor,
    before: &Tensor,
    small: &Tensor,
    small_before: &Tensor,
    strength: f64,
    (h, w): (usize, usize),
) -> Vec<f32> {
    use crate::model::stream::{SMOOTH_COLOUR, SMOOTH_LINE_CHANGE, SMOOTH_RADIUS};
    let (p, b, s, s0) = (
        values(pred),
        values(before),
        values(small),
        values(small_before),
    );
    let r = SMOOTH_RADIUS as isize;
    let plane = h * w;
    let mut out = p.clone();
    for y in 0..h as isize {
        for x in 0..w as isize {
            let mut still = true;
            for yy in (y - r).max(0)..=(y + r).min(h as isize - 1) {
                for xx in (x - r).max(0)..=(x + r).min(w as isize - 1) {
                    let i = (yy * w as isize + xx) as usize;
                    still &= f64::from((s[i] - s0[i]).abs()) <= SMOOTH_LINE_CHANGE;
                }
            }
            let i = (y * w as isize + x) as usize;
            let d2: f64 = (0..3)
                .map(|c| f64::from(p[c * plane + i] - b[c * plane + i]).powi(2))
                .sum();
            let wt = if still {
                strength * (-d2 / (SMOOTH_COLOUR * SMOOTH_COLOUR)).exp()
            } else {
                0.0
            };
            for c in 0..3 {
                let (pv, bv) = (f64::from(p[c * plane + i]), f64::from(b[c * plane + i]));
                out[c * plane + i] = (pv + wt * (bv - pv)) as f32;
            }
        }
    }
    out
}

#[test]
fn temporal_smoothing_steadies_still_pixels_and_leaves_the_chain_alone() {
    let cfg = GeneratorConfig {
        channels: 8,
        res_blocks: 1,
    };
    let (_vs, g) = new_generator(cfg, 23);
    let dir = tmp_dir("smooth");
    let path = dir.join("g.safetensors");
    ModelFile::save(&path, &g, &meta(), StorageDtype::F32).expect("save");
    let model = cache::load_shared(&path, Device::Cpu, Kind::Float).expect("load");
    let mut c = model.colorizer(48, 32, 1.0).expect("colorizer");
    assert_eq!(c.temporal_smoothing(), 0.0);
    for bad in [-0.1, 0.96, f64::NAN] {
        let e = c.set_temporal_smoothing(bad).unwrap_err();
        assert!(e.to_string().contains("0 (off) to 0.95"), "{e}");
    }
    assert_eq!(c.temporal_smoothing(), 0.0);
    c.set_temporal_smoothing(0.8).expect("in range");

    // Three frames: the second changes every pixel of a 4x4 patch of the first by 0.5, the
    // third repeats the second.
    let (l1, _) = rand_inputs(32, 48, 40);
    let l2 = l1.copy();
    let patch = l1.narrow(2, 10, 4).narrow(3, 20, 4);
    let moved = (&patch + 0.5).where_self(&patch.lt(0.5), &(&patch - 0.5));
    l2.narrow(2, 10, 4).narrow(3, 20, 4).copy_(&moved);
    let l3 = l2.copy();
    let zeros = Tensor::zeros([1, 3, 32, 48], (Kind::Float, Device::Cpu));
    // The chain gets the network's own predictions, smoothing or not.
    let p1 = g.infer(&l1, &zeros).expect("infer");
    let p2 = g.infer(&l2, &p1).expect("infer");
    let p3 = g.infer(&l3, &p2).expect("infer");

    let o1 = c.step(&l1).expect("step").prediction;
    assert_eq!(max_abs_diff(&o1, &p1), 0.0, "nothing to smooth with yet");
    let o2 = c.step(&l2).expect("step").prediction;
    let want2 = smooth_by_hand(&p2, &p1, &l2, &l1, 0.8, (32, 48));
    let got2 = values(&o2);
    let err2 = got2
        .iter()
        .zip(&want2)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err2 < 1e-5, "frame 2 against the hand computation: {err2}");
    // Around the changed patch the output is the prediction; away from it, not.
    let near = |t: &Tensor| t.narrow(2, 8, 8).narrow(3, 18, 8);
    assert_eq!(max_abs_diff(&near(&o2), &near(&p2)), 0.0);
    assert!(max_abs_diff(&o2, &p2) > 1e-3, "still pixels are smoothed");
    let o3 = c.step(&l3).expect("step").prediction;
    let want3 = smooth_by_hand(&p3, &o2, &l3, &l2, 0.8, (32, 48));
    let err3 = values(&o3)
        .iter()
        .zip(&want3)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        err3 < 1e-5,
        "frame 3 (smoothed against the smoothed frame 2): {err3}"
    );

    // A reset forgets the smoothed frame with the chain.
    c.reset();
    let o = c.step(&l1).expect("step").prediction;
    assert_eq!(max_abs_diff(&o, &p1), 0.0);
    // An artist keyframe is what the next frame is smoothed towards.
    let (_, key) = rand_inputs(32, 48, 41);
    c.set_previous(&key, &l1).expect("keyframe");
    let pk = g.infer(&l1, &key).expect("infer");
    let o = c.step(&l1).expect("step").prediction;
    let want = smooth_by_hand(&pk, &key, &l1, &l1, 0.8, (32, 48));
    let err = values(&o)
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err < 1e-5, "smoothed towards the keyframe: {err}");
    // Off again: the plain chain.
    c.set_temporal_smoothing(0.0).expect("off");
    let p = g.infer(&l2, &pk).expect("infer");
    let o = c.step(&l2).expect("step").prediction;
    assert_eq!(max_abs_diff(&o, &p), 0.0);
}
