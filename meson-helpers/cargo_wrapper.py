#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs cargo for meson (see meson.build), in meson's build folder.

    cargo_wrapper.py --source-dir S --build-dir B --profile release|debug --libtorch pytorch|DIR
                     --rpath libtorch|none --python PY  build (--lib | --bin NAME) --output O --depfile D
    cargo_wrapper.py ... test [--lib]
    cargo_wrapper.py ... clippy
    cargo_wrapper.py ... docs-cache

cargo builds into B/.cargo-target (never the source tree's target/). `build` copies the plugin or the
tool to O and writes meson's depfile D from cargo's own `.d` file, so that meson rebuilds when a
source file changes. libtorch: `pytorch` = the torch of PY (LIBTORCH_USE_PYTORCH=1), else the
folder given (LIBTORCH=DIR). The rpath choice reaches build.rs as TCVC_RPATH.
"""
import argparse
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--profile", choices=["release", "debug"], required=True)
    ap.add_argument("--libtorch", required=True)
    ap.add_argument("--rpath", choices=["libtorch", "none"], required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("command", choices=["build", "test", "clippy", "docs-cache"])
    ap.add_argument("--lib", action="store_true")
    ap.add_argument("--bin")
    ap.add_argument("--output")
    ap.add_argument("--depfile")
    a = ap.parse_args()

    # A hidden folder: GStreamer's registry scan skips it, so `meson devenv` (GST_PLUGIN_PATH =
    # the build folder) finds only the copied plugin, not cargo's own.
    target = os.path.join(a.build_dir, ".cargo-target")
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = target
    env["TCVC_RPATH"] = a.rpath
    if a.libtorch == "pytorch":
        env["LIBTORCH_USE_PYTORCH"] = "1"
        env["PYTHON_SYS_EXECUTABLE"] = a.python
        env["PATH"] = os.path.dirname(a.python) + os.pathsep + env.get("PATH", "")
    else:
        env["LIBTORCH"] = a.libtorch
        env.pop("LIBTORCH_USE_PYTORCH", None)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    release = ["--release"] if a.profile == "release" else []
    cargo = ["cargo"]

    if a.command == "build":
        if a.lib == bool(a.bin):
            sys.exit("cargo_wrapper: build needs exactly one of --lib, --bin NAME")
        # The plugin is the root package; the tools are the tcvc-tools member (workspace).
        what = ["-p", "gst-tcvc", "--lib"] if a.lib else ["-p", "tcvc-tools", "--bin", a.bin]
        cmd = cargo + ["build", "--locked"] + release + what
    elif a.command == "test":
        cmd = cargo + ["test", "--locked"] + release + (["--lib"] if a.lib else []) + [
            "--", "--test-threads=2"]
    elif a.command == "docs-cache":
        # Regenerates docs/plugins/gst_plugins_cache.json from the registered plugin.
        env["TCVC_UPDATE_DOCS_CACHE"] = "1"
        cmd = cargo + ["test", "--locked"] + release + ["-p", "gst-tcvc", "--test", "docs_cache"]
    else:
        cmd = cargo + ["clippy", "--locked"] + release + ["--all-targets", "--", "-D", "warnings"]
    print("cargo_wrapper:", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=a.source_dir, env=env)
    if r.returncode != 0:
        sys.exit(r.returncode)
    if a.command != "build":
        return

    built_dir = os.path.join(target, a.profile)
    name = "libgsttcvc.so" if a.lib else a.bin
    stem = "libgsttcvc" if a.lib else a.bin
    shutil.copy2(os.path.join(built_dir, name), a.output)
    # cargo's .d file: "<artifact>: dep dep ..."; meson wants "<output>: dep dep ...".
    with open(os.path.join(built_dir, stem + ".d")) as f:
        line = f.readline()
    deps = line.split(":", 1)[1].strip() if ":" in line else ""
    with open(a.depfile, "w") as f:
        f.write(f"{a.output}: {deps}\n")


if __name__ == "__main__":
    main()
