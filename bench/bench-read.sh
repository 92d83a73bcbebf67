#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Random 4 KiB reads, one thread: exmap's READ, io_uring commands and the
# shortcut beside plain pread, and fio's psync and io_uring engines as the
# device's ceiling. Runs in the guest (`make bench`) or natively.
# usage: bench-read.sh [seconds] [device...]
# Default devices: null_blk (no storage behind it, so the figures are the
# I/O path's own cost), and the first virtio disk if the guest has one
# (emulated I/O: the device's own latency is in every figure there).
# With EXMAP_BENCH_RECORDS=FILE, also appends result records (bench/record.h)
# to FILE: suite "read", named MODE/dev:DEVICE.
secs=${1:-2}
[ $# -gt 0 ] && shift

modprobe -q null_blk nr_devices=1 irqmode=0 gb=4 bs=4096 2>/dev/null
if [ $# -eq 0 ]; then
	[ -b /dev/nullb0 ] && set -- /dev/nullb0
	[ -b /dev/vda ] && set -- "$@" /dev/vda
fi

# Prints "reads seconds" from fio's terse output (field 6: KiB read,
# field 9: runtime in ms).
fio_run() { # device engine depth
	fio --name=ceiling --filename="$1" --direct=1 --rw=randread --bs=4k \
		--ioengine="$2" --iodepth="$3" --runtime="$secs" --time_based \
		--norandommap --randrepeat=0 --output-format=terse 2>/dev/null |
		awk -F';' '{ printf "%.0f %.3f\n", $6 / 4, $9 / 1000 }'
}

get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

for dev in "$@"; do
	name=$(basename "$dev")
	out=/tmp/bench-read.$name.txt
	# mode reads/s reads seconds cpu_seconds
	# Four rounds: the modes take turns, so drift of the emulated machine
	# falls on all of them alike.
	bench-read -s "$secs" -r 4 "$dev" >"$out" || exit 1
	if command -v fio >/dev/null; then
		for engine in psync-1 uring-1 uring-8 uring-32 uring-64; do
			eng=${engine%-*} depth=${engine#*-}
			[ "$eng" = uring ] && eng=io_uring
			fio_run "$dev" "$eng" "$depth" | awk -v m="fio-$engine" \
				'$2 > 0 { printf "%s %.0f %s %s %s\n", m, $1 / $2, $1, $2, $2 }' \
				>>"$out"
		done
	fi
	echo "bench-read: random 4 KiB reads on $dev, 1 thread, ${secs}s each"
	printf '%-16s %12s  %s\n' mode reads/s ratio
	while read -r mode rate reads s cpu; do
		case $mode in
		exmap-read-*|exmap-alloc-*|exmap-pread|pread*) base=pread ;;
		exmap-uring-*) base=fio-uring-${mode#exmap-uring-} ;;
		*) base=$mode ;;
		esac
		r=$(ratio "$rate" "$(get "$base" "$out")")
		printf '%-16s %12s  %s of %s\n' "$mode" "$rate" "$r" "$base"
		[ -n "$EXMAP_BENCH_RECORDS" ] || continue
		# fio reports no CPU time of its own here: cpu_time = real_time.
		awk -v m="$mode" -v d="$name" -v n="$reads" -v s="$s" \
			-v c="$cpu" -v b="$base" -v r="$r" 'BEGIN {
			if (n <= 0 || s <= 0)
				exit
			printf "suite=read name=%s/dev:%s iterations=%d", m, d, n
			printf " real_time=%.6g cpu_time=%.6g time_unit=ns", \
				s * 1e9 / n, c * 1e9 / n
			printf " items_per_second=%.6g mode=%s device=%s", n / s, m, d
			if (r != "-")
				printf " baseline=%s vs_baseline=%s", b, r
			printf "\n"
		}' >>"$EXMAP_BENCH_RECORDS"
	done <"$out"
done
