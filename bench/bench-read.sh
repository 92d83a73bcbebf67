#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Random 4 KiB reads, one thread: exmap's READ, io_uring commands and the
# shortcut beside their baselines, all taking turns in the same rounds:
#   exmap-uring-D, exmap-read-N (N > 1)  against uring-D (plain io_uring at
#       the same depth into a pool of frames: a buffer manager's best
#       without exmap);
#   exmap-read-1, exmap-pread            against pread-madvise (a miss and
#       a later eviction, one page a call), and beside pread into a warm
#       buffer (what mapping and unmapping the page costs, not a target);
# and fio's psync and io_uring engines afterwards as a reference line.
# Runs in the guest (`make bench`) or natively.
# usage: bench-read.sh [seconds] [device...]
# Default devices: null_blk (no storage behind it, so the figures are the
# I/O path's own cost), and the first virtio disk if the guest has one
# (emulated I/O: the device's own latency is in every figure there).
# With EXMAP_BENCH_RECORDS=FILE, also appends result records (bench/record.h)
# to FILE: suite "read", named MODE/dev:DEVICE, one per round (repetition).
secs=${1:-2}
[ $# -gt 0 ] && shift
rounds=4

modprobe -q null_blk nr_devices=1 irqmode=0 gb=4 bs=4096 2>/dev/null
if [ $# -eq 0 ]; then
	[ -b /dev/nullb0 ] && set -- /dev/nullb0
	[ -b /dev/vda ] && set -- "$@" /dev/vda
fi

# Prints "reads seconds cpu_seconds" from fio's terse output (version 3:
# field 6 KiB read, 9 runtime in ms, 88 and 89 user and system CPU in %).
fio_run() { # device engine depth
	fio --name=ceiling --filename="$1" --direct=1 --rw=randread --bs=4k \
		--ioengine="$2" --iodepth="$3" --runtime="$secs" --time_based \
		--norandommap --randrepeat=0 --output-format=terse \
		--terse-version=3 2>/dev/null |
		awk -F';' '{ s = $9 / 1000; printf "%.0f %.3f %.3f\n", $6 / 4, s,
			(($88 + 0) + ($89 + 0)) / 100 * s }'
}

# The mode a mode is measured against.
base_of() {
	case $1 in
	exmap-read-1|exmap-pread) echo pread-madvise ;;
	exmap-read-*) echo "uring-${1#exmap-read-}" ;;
	exmap-uring-*) echo "uring-${1#exmap-uring-}" ;;
	uring-*) echo "fio-uring-${1#uring-}" ;;
	pread-*) echo pread ;;
	pread) echo fio-psync-1 ;;
	*) echo - ;;
	esac
}

status=0
for dev in "$@"; do
	name=$(basename "$dev")
	out=/tmp/bench-read.$name.txt
	# The modes take turns in four rounds, so that drift of the emulated
	# machine falls on all of them alike.
	bench-read -s "$secs" -r $rounds "$dev" >$out.all || { status=1; continue; }
	grep '^round ' $out.all >$out.rounds
	# mode reads/s reads seconds cpu_seconds
	grep -v '^round ' $out.all >$out
	if command -v fio >/dev/null; then
		for engine in psync-1 uring-1 uring-8 uring-32 uring-64; do
			eng=${engine%-*} depth=${engine#*-}
			[ "$eng" = uring ] && eng=io_uring
			fio_run "$dev" "$eng" "$depth" | awk -v m="fio-$engine" \
				'$2 > 0 { printf "%s %.0f %s %s %s\n", m, $1 / $2, $1, $2, $3 }' \
				>>$out
		done
	fi
	for mode in $(awk '{ print $1 }' $out); do
		echo "$mode $(base_of "$mode")"
	done >$out.bases
	echo "bench-read: random 4 KiB reads on $dev, 1 thread, ${secs}s each" \
		"in $rounds rounds"
	awk -v recs="$EXMAP_BENCH_RECORDS" -v d="$name" -v nr=$rounds '
	FILENAME ~ /bases$/ { base[$1] = $2; order[++n] = $1; next }
	FILENAME ~ /rounds$/ {
		reads[$2, $3] = $4; secs[$2, $3] = $5; cpu[$2, $3] = $6
		rate[$2, $3] = $5 > 0 ? $4 / $5 : 0
		next
	}
	{ total[$1] = $2; treads[$1] = $3; tsecs[$1] = $4; tcpu[$1] = $5 }
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	END {
		printf "%-16s %12s  %-28s %s\n", "mode", "reads/s", "ratio",
			"per round (min-max)"
		for (i = 1; i <= n; i++) {
			m = order[i]; b = base[m]
			r = ratio(total[m], total[b])
			lo = hi = ""
			for (k = 0; k < nr; k++) {
				if (!((m, k) in rate) || !((b, k) in rate))
					continue
				x = ratio(rate[m, k], rate[b, k])
				if (lo == "" || x + 0 < lo + 0) lo = x
				if (hi == "" || x + 0 > hi + 0) hi = x
			}
			note = ""
			if (m == "exmap-read-1" || m == "exmap-pread")
				note = sprintf(", %s of pread", ratio(total[m], total["pread"]))
			printf "%-16s %12s  %-28s %s\n", m, total[m],
				r == "-" ? "" : r " of " b note,
				lo == "" ? "" : lo "-" hi
			if (recs == "")
				continue
			# One record per round; fio, which has no rounds, one.
			reps = (m, 0) in rate ? nr : 1
			for (k = 0; k < reps; k++) {
				if (reps > 1) {
					n_ = reads[m, k]; s_ = secs[m, k]; c_ = cpu[m, k]
					x = (b, k) in rate ? ratio(rate[m, k], rate[b, k]) : \
						ratio(rate[m, k], total[b])
				} else {
					n_ = treads[m]; s_ = tsecs[m]; c_ = tcpu[m]
					x = r
				}
				if (n_ <= 0 || s_ <= 0)
					continue
				printf "suite=read name=%s/dev:%s iterations=%d", m, d, n_ >>recs
				printf " real_time=%.6g cpu_time=%.6g time_unit=ns", \
					s_ * 1e9 / n_, c_ * 1e9 / n_ >>recs
				printf " repetitions=%d repetition_index=%d", reps, k >>recs
				printf " items_per_second=%.6g mode=%s device=%s", \
					n_ / s_, m, d >>recs
				if (x != "-")
					printf " baseline=%s vs_baseline=%s", b, x >>recs
				printf "\n" >>recs
			}
		}
	}' $out.bases $out.rounds $out
done
exit $status
