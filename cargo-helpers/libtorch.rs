// SPDX-License-Identifier: MIT
// The libtorch link settings of every crate that links a binary, a test or the plugin (included
// by the build.rs of the plugin, tcvc-core and tcvc-tools: one copy).
pub fn libtorch_link_args() {
    // torch-sys (links = "tch") tells its direct dependents where libtorch lives.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    // TCVC_RPATH=none (meson -Dlibtorch-rpath=none): no rpath; the loader must find libtorch.
    println!("cargo:rerun-if-env-changed=TCVC_RPATH");
    let rpath = std::env::var("TCVC_RPATH").map_or(true, |v| v != "none");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        // Embed the libtorch folder so that gst-inspect-1.0 / gst-launch-1.0 load the plugin
        // with only GST_PLUGIN_PATH set (no LD_LIBRARY_PATH).
        if rpath {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        }
        // The linker's --as-needed drops libtorch_cuda.so because no symbol of it is referenced
        // directly; CUDA is then silently unavailable at run time. Keep it NEEDED.
        if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
            println!(
                "cargo:rustc-link-arg=-Wl,--push-state,--no-as-needed,-ltorch_cuda,--pop-state"
            );
        }
    }
}
