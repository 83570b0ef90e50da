#!/usr/bin/env bash
# Unpacks Debian's stock amd64 kernel into DIR (default: target/guest-kernel)
# for qpmem's guest boot test: DIR/boot/vmlinuz-<release> and
# DIR/lib/modules/<release>. Idempotent: does nothing when DIR already holds
# both. Needs apt-get and dpkg-deb (Debian or a derivative); runs
# `apt-get update` only when apt knows no linux-image-amd64 yet (needs root).
#
# Usage: scripts/fetch-guest-kernel.sh [DIR]
# Then:  QPMEM_GUEST_KERNEL_DIR=DIR cargo test --test guest_boot
set -euo pipefail

dir=${1:-target/guest-kernel}

have_kernel() {
  compgen -G "$1/boot/vmlinuz-*" >/dev/null &&
    { compgen -G "$1/lib/modules/*/kernel" >/dev/null || compgen -G "$1/usr/lib/modules/*/kernel" >/dev/null; }
}

if have_kernel "$dir"; then
  echo "fetch-guest-kernel: already present in $dir: $(cd "$dir/boot" && ls vmlinuz-*)"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-guest-kernel: $tool not found (Debian's apt and dpkg are needed)" >&2; exit 1; }
done

# linux-image-amd64 is a metapackage; the real one is what it depends on.
real_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'
}
pkg=$(real_package || true)
if [ -z "$pkg" ]; then
  echo "fetch-guest-kernel: apt knows no linux-image-amd64; running apt-get update" >&2
  apt-get update -qq
  pkg=$(real_package || true)
fi
[ -n "$pkg" ] || { echo "fetch-guest-kernel: cannot tell which package linux-image-amd64 depends on" >&2; exit 1; }

mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download drops privileges to _apt, which may not write here: fine,
# apt then downloads as root with a warning.
(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v 'couldn.t be accessed by user' >&2 || true)
deb=$(compgen -G "$work/${pkg}_*.deb" | head -n 1 || true)
[ -n "$deb" ] || { echo "fetch-guest-kernel: apt-get download $pkg produced no .deb" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/root"
# Move the unpacked tree into place only once it is complete.
for sub in "$work/root"/*; do
  rm -rf "$dir/${sub##*/}"
  mv "$sub" "$dir/"
done
echo "$pkg $version" >"$dir/PACKAGE"
have_kernel "$dir" || { echo "fetch-guest-kernel: $deb did not contain boot/vmlinuz-* and lib/modules/*" >&2; exit 1; }
echo "fetch-guest-kernel: unpacked $pkg $version into $dir"
