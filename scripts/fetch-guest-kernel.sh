#!/usr/bin/env bash
# Unpacks Debian's stock amd64 kernel into DIR (default: target/guest-kernel)
# for qpmem's guest boot test: DIR/boot/vmlinuz-<release> and
# DIR/lib/modules/<release>. Idempotent: does nothing when DIR already holds
# both. Needs apt-get and dpkg-deb (Debian or a derivative); runs
# `apt-get update` only when apt knows no linux-image-amd64 yet (needs root).
#
# With ARCH arm64 (default DIR target/guest-kernel-arm64) it unpacks
# linux-image-arm64:arm64 and busybox-static:arm64 (DIR/bin/busybox) for
# the arm64 boot; that needs `dpkg --add-architecture arm64` (done here,
# with apt-get update, when apt knows no arm64 kernel yet; needs root).
#
# Usage: scripts/fetch-guest-kernel.sh [DIR] [amd64|arm64]
# Then:  QPMEM_GUEST_KERNEL_DIR=DIR cargo test --test guest_boot
set -euo pipefail

arch=${2:-amd64}
case "$arch" in
  amd64) dir=${1:-target/guest-kernel}; meta=linux-image-amd64 ;;
  arm64) dir=${1:-target/guest-kernel-arm64}; meta=linux-image-arm64:arm64 ;;
  *) echo "fetch-guest-kernel: ARCH must be amd64 or arm64, not $arch" >&2; exit 1 ;;
esac

have_kernel() {
  compgen -G "$1/boot/vmlinuz-*" >/dev/null &&
    { compgen -G "$1/lib/modules/*/kernel" >/dev/null || compgen -G "$1/usr/lib/modules/*/kernel" >/dev/null; }
}

have_all() {
  have_kernel "$1" && { [ "$arch" = amd64 ] || [ -x "$1/bin/busybox" ]; }
}

if have_all "$dir"; then
  echo "fetch-guest-kernel: already present in $dir: $(cd "$dir/boot" && ls vmlinuz-*)"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-guest-kernel: $tool not found (Debian's apt and dpkg are needed)" >&2; exit 1; }
done

# linux-image-amd64 is a metapackage; the real one is what it depends on.
real_package() {
  apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'
}
pkg=$(real_package || true)
if [ -z "$pkg" ]; then
  echo "fetch-guest-kernel: apt knows no $meta; running apt-get update" >&2
  [ "$arch" = arm64 ] && dpkg --add-architecture arm64
  apt-get update -qq
  pkg=$(real_package || true)
fi
[ -n "$pkg" ] || { echo "fetch-guest-kernel: cannot tell which package $meta depends on" >&2; exit 1; }

mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download drops privileges to _apt, which may not write here: fine,
# apt then downloads as root with a warning.
(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v 'couldn.t be accessed by user' >&2 || true)
deb=$(compgen -G "$work/${pkg%%:*}_*.deb" | head -n 1 || true)
[ -n "$deb" ] || { echo "fetch-guest-kernel: apt-get download $pkg produced no .deb" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/root"
# Move the unpacked tree into place only once it is complete.
for sub in "$work/root"/*; do
  rm -rf "$dir/${sub##*/}"
  mv "$sub" "$dir/"
done
echo "$pkg $version" >"$dir/PACKAGE"
if [ "$arch" = arm64 ]; then
  (cd "$work" && apt-get download -q busybox-static:arm64 2>&1 | grep -v 'couldn.t be accessed by user' >&2 || true)
  bb=$(compgen -G "$work/busybox-static_*.deb" | head -n 1 || true)
  [ -n "$bb" ] || { echo "fetch-guest-kernel: apt-get download busybox-static:arm64 produced no .deb" >&2; exit 1; }
  dpkg-deb -x "$bb" "$work/bb"
  mkdir -p "$dir/bin"
  cp "$work/bb/bin/busybox" "$dir/bin/busybox"
fi
have_all "$dir" || { echo "fetch-guest-kernel: $deb did not contain boot/vmlinuz-* and lib/modules/*" >&2; exit 1; }
echo "fetch-guest-kernel: unpacked $pkg $version into $dir"
