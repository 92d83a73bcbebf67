#!/bin/bash
# Loads exmap.ko on a real machine (not the VM harness): builds it against
# the running kernel's headers, unloads an older copy, loads it and shows
# /dev/exmap. Module parameters are passed through: ./load.sh param=value
# Exits 4 (skip) when not root or when the running kernel has no headers.
set -euo pipefail
cd "$(dirname "$0")"

kdir=/lib/modules/$(uname -r)/build
if ((EUID != 0)); then
	echo "load.sh: must run as root" >&2
	exit 4
fi
if [[ ! -e $kdir/Makefile ]]; then
	echo "load.sh: no headers for $(uname -r): apt-get install linux-headers-$(uname -r)" >&2
	exit 4
fi

make -C exmap KDIR="$kdir"
if grep -q '^exmap ' /proc/modules; then
	rmmod exmap
fi
insmod exmap/exmap.ko "$@"
for _ in 1 2 3 4 5; do
	[[ -e /dev/exmap ]] && break
	sleep 0.2
done
ls -l /dev/exmap
