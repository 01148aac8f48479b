#!/bin/bash
# SPDX-License-Identifier: MIT
# Packs the release build for a machine that has a GPU and PyTorch 2.11 (libtorch) but no
# GStreamer and no OpenCV (docs/gpu.md): the stripped plugin, tcvc-train, tcvc-eval, tcvc-episode and the
# tcvccolorize test binary; the GStreamer, GLib and OpenCV shared libraries they load, copied
# from this machine; the GStreamer plugins the checks use (coreelements, videotestsrc,
# videoconvertscale, app). tools/gpu-check.sh runs the checks there.
#
# OpenCV's imgcodecs links GDAL, GDCM and OpenEXR (over 150 MB with what they pull in) for
# formats we never read; the bundle replaces those four libraries by stubs that define the
# functions imgcodecs imports: constructors and destructors (imgcodecs builds an EXR decoder
# on every imread) do nothing, any other function says once that it is a stub and returns 0.
#
# usage: tools/gpu-bundle.sh [OUT]   (default .gpu; run `make build` and
#        `cargo test --release --test colorize --no-run` first). OUT is left as
#        OUT/{bin,lib,plugins} plus OUT.tar.xz, the file to carry.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu}
rel=target/release
test_bin=$(ls -t $rel/deps/colorize-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
[ -n "$test_bin" ] || { echo "no colorize test binary: run cargo test --release --test colorize --no-run" >&2; exit 2; }
for f in $rel/libgsttcvc.so $rel/tcvc-train $rel/tcvc-eval $rel/tcvc-episode; do
  [ -f "$f" ] || { echo "$f is missing: run make build" >&2; exit 2; }
done
gstlib=$(pkg-config --variable=pluginsdir gstreamer-1.0)
scanner=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner
rm -rf "$out" && mkdir -p "$out"/{bin,lib,plugins,stubs}
strip -o "$out/plugins/libgsttcvc.so" $rel/libgsttcvc.so
strip -o "$out/bin/tcvc-train" $rel/tcvc-train
strip -o "$out/bin/tcvc-eval" $rel/tcvc-eval
strip -o "$out/bin/tcvc-episode" $rel/tcvc-episode
strip -o "$out/bin/colorize-tests" "$test_bin"
for p in coreelements videotestsrc videoconvertscale app; do cp "$gstlib/libgst$p.so" "$out/plugins/"; done
cp "$(command -v gst-launch-1.0)" "$(command -v gst-inspect-1.0)" "$scanner" "$out/bin/"

STUBS="libgdal.so.32 libgdcmMSFF.so.3.0 libgdcmDSED.so.3.0 libOpenEXR-3_1.so.30"
python3 - "$out" "$STUBS" "$out"/bin/* "$out"/plugins/*.so <<'PY'
import os, re, shutil, subprocess, sys
out, stubs, roots = sys.argv[1], set(sys.argv[2].split()), sys.argv[3:]
# The C/C++ runtime comes from the GPU machine (newer glibc/libstdc++ run older builds), libtorch
# from its PyTorch.
system = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2",
          "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1"}
dirs = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"]
def needed(p):
    d = subprocess.run(["readelf", "-d", p], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\).*\[(.*)\]", d)
seen, todo = {}, list(roots)
while todo:
    for n in needed(todo.pop()):
        if n in system or n in stubs or n in seen or "torch" in n or n.startswith("libc10"):
            continue
        f = next((os.path.join(d, n) for d in dirs if os.path.exists(os.path.join(d, n))), None)
        if f is None:
            sys.exit(f"gpu-bundle: {n} not found")
        seen[n] = f
        todo.append(f)
for n, f in seen.items():
    shutil.copy(os.path.realpath(f), os.path.join(out, "lib", n))
# Stubs: every function a bundled library imports from a stubbed one.
imports = set()
for n in seen:
    d = subprocess.run(["nm", "-D", "--undefined-only", os.path.join(out, "lib", n)],
                       capture_output=True, text=True).stdout
    imports |= {l.split()[-1].split("@")[0] for l in d.splitlines() if l.strip()}
for s in sorted(stubs):
    real = next(os.path.realpath(os.path.join(d, s)) for d in dirs if os.path.exists(os.path.join(d, s)))
    d = subprocess.run(["nm", "-D", "--defined-only", real], capture_output=True, text=True).stdout
    syms = sorted({l.split()[-1].split("@")[0] for l in d.splitlines()} & imports)
    src = os.path.join(out, "stubs", s + ".c")
    with open(src, "w") as c:
        c.write("#include <stdio.h>\n")
        for i, sym in enumerate(syms):
            # imgcodecs builds an EXR decoder (constructors run) on every imread: constructors
            # and destructors are silent no-ops, anything else says it is a stub and returns 0.
            quiet = re.search(r"(C[12]|D[012])E", sym) is not None
            say = "" if quiet else (f'static int said; if (!said++) '
                                    f'fputs("tcvc GPU bundle: {sym} of {s} is a stub\\n", stderr); ')
            c.write(f'long s{i}(void) __asm__("{sym}");\n'
                    f'long s{i}(void) {{ {say}return 0; }}\n')
    subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,{s}", "-o",
                    os.path.join(out, "lib", s), src], check=True)
print(f"gpu-bundle: {len(seen)} libraries, {len(stubs)} stubs")
PY
rm -rf "$out/stubs"
tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
du -sh "$out" "$out.tar.xz"
