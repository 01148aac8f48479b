// SPDX-License-Identifier: MIT
//! The built plugin file, as a user gets it: loaded through the GStreamer registry from
//! GST_PLUGIN_PATH alone, with libtorch found through the embedded rpath and libtorch_cuda.so
//! kept as a NEEDED library.
use gst::prelude::*;
use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/libgsttcvc.so`, next to this test's `deps/` folder.
fn plugin_so() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let so = dir.join("libgsttcvc.so");
    assert!(so.is_file(), "{} not built", so.display());
    so
}

fn readelf_dynamic() -> String {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(plugin_so())
        .output()
        .expect("readelf (binutils) is installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn libtorch_cuda_is_needed_and_libtorch_is_on_the_rpath() {
    let d = readelf_dynamic();
    assert!(
        d.contains("Shared library: [libtorch_cuda.so]"),
        "libtorch_cuda.so is not NEEDED (CUDA would be silently unavailable):\n{d}"
    );
    let rpath = d
        .lines()
        .find(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .unwrap_or_else(|| panic!("no RUNPATH/RPATH:\n{d}"));
    assert!(rpath.contains("torch/lib"), "{rpath}");
}

#[test]
fn gst_inspect_loads_the_plugin_with_only_gst_plugin_path() {
    let so = plugin_so();
    let registry = std::env::temp_dir().join(format!("tcvc-registry-{}.bin", std::process::id()));
    let out = Command::new("gst-inspect-1.0")
        .arg("tcvc")
        .env("GST_PLUGIN_PATH", so.parent().unwrap())
        .env("GST_REGISTRY", &registry)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("gst-inspect-1.0 (gstreamer1.0-tools) is installed");
    let _ = std::fs::remove_file(&registry);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gst-inspect-1.0 tcvc failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("tcvclineart"), "{text}");
    assert!(text.contains(so.to_str().unwrap()), "{text}");
}

#[test]
fn the_registry_loads_the_element_from_the_built_file() {
    gst::init().unwrap();
    let so = plugin_so();
    let registry = gst::Registry::get();
    registry.scan_path(so.parent().unwrap());
    let plugin = registry
        .find_plugin("tcvc")
        .expect("the registry found the plugin file");
    assert_eq!(plugin.plugin_name(), "tcvc");
    let factory = gst::ElementFactory::find("tcvclineart").expect("tcvclineart is registered");
    let loaded = factory.plugin().expect("factory has a plugin");
    assert_eq!(
        loaded.filename().map(|p| p.canonicalize().unwrap()),
        Some(so.canonicalize().unwrap())
    );
    let el = factory.create().build().unwrap();
    assert_eq!(el.property::<f64>("sigma"), 1.0);
}
