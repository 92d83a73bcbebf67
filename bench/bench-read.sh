#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Random 4 KiB reads, one thread, on null_blk (no storage behind it, so the
# figures are the I/O path's own cost): exmap's READ, io_uring commands and
# the shortcut beside plain pread and fio's psync and io_uring engines as
# the device's ceiling. Runs in the guest; `make bench` boots it.
# usage: bench-read.sh [seconds]
secs=${1:-2}

modprobe -q null_blk nr_devices=1 irqmode=0 gb=4 bs=4096 2>/dev/null
dev=/dev/nullb0
[ -b $dev ] || { echo "bench-read: no $dev"; exit 1; }

fio_iops() { # engine depth
	fio --name=ceiling --filename=$dev --direct=1 --rw=randread --bs=4k \
		--ioengine="$1" --iodepth="$2" --runtime="$secs" --time_based \
		--norandommap --randrepeat=0 --output-format=terse 2>/dev/null |
		awk -F';' '{ printf "%.0f\n", $8 }'
}

out=/tmp/bench-read.txt
bench-read -s "$secs" $dev >$out || exit 1
if command -v fio >/dev/null; then
	echo "fio-psync-1 $(fio_iops psync 1)" >>$out
	for d in 1 8 32 64; do
		echo "fio-uring-$d $(fio_iops io_uring $d)" >>$out
	done
fi

get() { awk -v k="$1" '$1 == k { print $2 }' $out; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo "bench-read: random 4 KiB reads on null_blk (irqmode=0), 1 thread, ${secs}s each"
printf '%-16s %12s  %s\n' mode reads/s "ratio"
while read -r mode rate; do
	case $mode in
	exmap-read-*|pread*) base=pread ;;
	exmap-uring-*) base=fio-uring-${mode#exmap-uring-} ;;
	*) base=$mode ;;
	esac
	printf '%-16s %12s  %s of %s\n' "$mode" "$rate" \
		"$(ratio "$rate" "$(get $base)")" "$base"
done <$out
