#!/bin/bash
# Runs the kernel's checkpatch.pl over the module and the UAPI header.
# The script comes from Debian's linux-source-6.1, unpacked once under
# ${EXMAP_LINUX_SRC:-/opt/linux-src} (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${EXMAP_LINUX_SRC:-/opt/linux-src}
cp=$(ls "$src"/linux-source-*/scripts/checkpatch.pl 2>/dev/null | tail -1 || true)
if [[ -z $cp ]]; then
	if ! ls /usr/src/linux-source-*.tar.xz >/dev/null 2>&1; then
		apt-get update -q && apt-get install -y -q linux-source
	fi
	mkdir -p "$src"
	tar -C "$src" -xf "$(ls /usr/src/linux-source-*.tar.xz | tail -1)"
	cp=$(ls "$src"/linux-source-*/scripts/checkpatch.pl | tail -1)
fi
files=$(git ls-files 'exmap/*.c' 'exmap/*.h' include/linux/exmap.h | grep -v '^exmap/compat.h$')
# shellcheck disable=SC2086
"$cp" --no-tree -f --terse --show-types $files
# compat.h is the one place that tests the kernel's version: the module is
# built out of tree, for several kernels (6.1, 6.12).
"$cp" --no-tree -f --terse --show-types \
	--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON exmap/compat.h
