#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Random 4 KiB reads, one thread, on null_blk (no storage behind it, so the
# figures are the I/O path's own cost): exmap's READ, io_uring commands and
# the shortcut beside plain pread and fio's psync and io_uring engines as
# the device's ceiling. Runs in the guest; `make bench` boots it.
# usage: bench-read.sh [seconds] [device...]
# Default devices: null_blk, and the first virtio disk if the guest has one
# (emulated I/O: the device's own latency is in every figure there).
secs=${1:-2}
[ $# -gt 0 ] && shift

modprobe -q null_blk nr_devices=1 irqmode=0 gb=4 bs=4096 2>/dev/null
if [ $# -eq 0 ]; then
	[ -b /dev/nullb0 ] && set -- /dev/nullb0
	[ -b /dev/vda ] && set -- "$@" /dev/vda
fi

fio_iops() { # device engine depth
	fio --name=ceiling --filename="$1" --direct=1 --rw=randread --bs=4k \
		--ioengine="$2" --iodepth="$3" --runtime="$secs" --time_based \
		--norandommap --randrepeat=0 --output-format=terse 2>/dev/null |
		awk -F';' '{ printf "%.0f\n", $8 }'
}

get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

for dev in "$@"; do
	out=/tmp/bench-read.$(basename "$dev").txt
	bench-read -s "$secs" "$dev" >"$out" || exit 1
	if command -v fio >/dev/null; then
		echo "fio-psync-1 $(fio_iops "$dev" psync 1)" >>"$out"
		for d in 1 8 32 64; do
			echo "fio-uring-$d $(fio_iops "$dev" io_uring $d)" >>"$out"
		done
	fi
	echo "bench-read: random 4 KiB reads on $dev, 1 thread, ${secs}s each"
	printf '%-16s %12s  %s\n' mode reads/s ratio
	while read -r mode rate; do
		case $mode in
		exmap-read-*|exmap-alloc-*|pread*) base=pread ;;
		exmap-uring-*) base=fio-uring-${mode#exmap-uring-} ;;
		*) base=$mode ;;
		esac
		printf '%-16s %12s  %s of %s\n' "$mode" "$rate" \
			"$(ratio "$rate" "$(get $base "$out")")" "$base"
	done <"$out"
done
