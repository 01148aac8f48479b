#!/usr/bin/env bash
# Installs the built plugin where GStreamer finds it without GST_PLUGIN_PATH:
# the system plugin folder when run as root (or DESTDIR/PREFIX given), else the user's
# ~/.local/share/gstreamer-1.0/plugins. Used by `make install` and meson-based packaging.
#   meson-helpers/install-plugin.sh target/release/libgsttcvc.so
set -euo pipefail
so=${1:?usage: $0 path/to/libgsttcvc.so}
[ -f "$so" ] || { echo "install-plugin: $so not found; run 'make build' first" >&2; exit 1; }
if [ -n "${PLUGINDIR:-}" ]; then
  dest=$PLUGINDIR
elif [ "$(id -u)" -eq 0 ]; then
  dest=$(pkg-config --variable=pluginsdir gstreamer-1.0)
else
  dest=$HOME/.local/share/gstreamer-1.0/plugins
fi
dest=${DESTDIR:-}$dest
install -d "$dest"
install -m 0755 "$so" "$dest/"
echo "install-plugin: installed $(basename "$so") into $dest"
echo "install-plugin: check with: gst-inspect-1.0 tcvc"
