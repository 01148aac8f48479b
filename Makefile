# gst-tcvc: the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(VENV)/bin:$(PATH)
export TCVC_PYTHON ?= $(VENV)/bin/python
export GST_PLUGIN_PATH := $(CURDIR)/target/release

.PHONY: setup build test demo bench install clean-data

## setup: install Debian packages, the Python venv, the sample data and build (re-runnable)
setup:
	tools/setup.sh

build:
	cargo build --release --locked

## test: set up what is missing, then run every test
test: setup
	cargo test --release --locked -- --test-threads=2

## demo: the main job on the sample clip
demo: setup
	examples/lineart.sh data/bigbuckbunny_720p.mp4 out/bigbuckbunny_lineart.mp4

## bench: benchmarks (not timed tests); figures are ratios against anchors measured in the same run
bench: setup
	cargo bench --locked

## install: copy the plugin into the user's GStreamer plugin folder
install: build
	meson-helpers/install-plugin.sh target/release/libgsttcvc.so

clean-data:
	rm -rf data out
