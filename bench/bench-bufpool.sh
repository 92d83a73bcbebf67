#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The buffer-pool benchmark: exmap-demo's B+tree lookups on the exmap
# backend and on the fallback (anonymous memory, pread, madvise), with the
# pool larger than the data ("in-memory": after the load every lookup hits)
# and four to eight times smaller ("out-of-memory": misses, eviction, reads), from 1
# and 2 threads. The device is a memory-backed null_blk, so the figures are
# the buffer manager's own cost, not an emulated disk's. Each run loads the
# keys afresh, runs lookups for the given time and verifies every key.
# usage: bench-bufpool.sh [seconds] [keys] [device]
# With EXMAP_BENCH_RECORDS=FILE, appends result records (bench/record.h):
# suite "bufpool", named BACKEND/MEMORY/threads:T.
secs=${1:-2}
keys=${2:-500000}
dev=$3
threads=${EXMAP_BENCH_BUFPOOL_THREADS:-1 2}

# A memory-backed null_blk device through configfs. Its name differs
# between kernels (the configfs item's name, or nullbN): take whatever
# block device appears.
make_nullb() {
	modprobe -q configfs 2>/dev/null
	grep -qs ' /sys/kernel/config ' /proc/mounts ||
		mount -t configfs configfs /sys/kernel/config
	modprobe -q null_blk nr_devices=0 2>/dev/null
	nb=/sys/kernel/config/nullb/benchpool
	before=$(ls /sys/block)
	mkdir -p $nb && echo 1024 >$nb/size && echo 1 >$nb/memory_backed &&
		echo 0 >$nb/irqmode && echo 4096 >$nb/blocksize &&
		echo 1 >$nb/power || return 1
	for b in $(ls /sys/block); do
		case " $(echo $before) " in *" $b "*) ;; *) echo /dev/$b; return 0 ;; esac
	done
	return 1
}

if [ -z "$dev" ]; then
	dev=$(make_nullb) || { echo "bench-bufpool.sh: no null_blk device" >&2; exit 1; }
fi
[ -b "$dev" ] || { echo "bench-bufpool.sh: $dev is no block device" >&2; exit 1; }

# The data is about 18 to 33 MB per million keys: leaves end up fuller when
# two threads load than when one does (see the summaries' data_mb).
data_mb=$(awk -v k="$keys" 'BEGIN { printf "%.1f", k * 32.6e-6 }')
in_mb=$(awk -v d="$data_mb" 'BEGIN { printf "%d", d + 1 }')
out_mb=$(awk -v d="$data_mb" 'BEGIN { printf "%g", d / 8 }')
echo "bench-bufpool: $keys keys (at most $data_mb MB) on $dev, ${secs}s of" \
	"lookups; pool $in_mb MB (in-memory) or $out_mb MB (out-of-memory)"

field() { # summary-line key
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

status=0
summary=/tmp/bench-bufpool.txt
: >$summary
for mem in in-memory out-of-memory; do
	pool=$in_mb
	[ $mem = out-of-memory ] && pool=$out_mb
	for t in $threads; do
		base=
		# The fallback first: exmap's record then carries the ratio.
		for backend in fallback exmap; do
			echo "=== $backend, $mem, $t threads"
			exmap-demo -d "$dev" -b $backend -p "$pool" -n "$keys" \
				-t "$t" -s "$secs" | tee /tmp/bench-bufpool-run.txt
			line=$(sed -n 's/^summary: //p' /tmp/bench-bufpool-run.txt)
			ops=$(field "$line" ops_per_s)
			if [ -z "$ops" ] || [ "$(field "$line" bad)" != 0 ]; then
				echo "bench-bufpool: $backend $mem $t threads failed" >&2
				status=1
				continue
			fi
			ratio=
			[ $backend = exmap ] && [ -n "$base" ] &&
				ratio=$(awk -v a="$ops" -v b="$base" \
					'BEGIN { if (b > 0) printf "%.3f", a / b }')
			[ $backend = fallback ] && base=$ops
			echo "$backend $mem $t $ops $(field "$line" misses_per_s) ${ratio:--}" >>$summary
			[ -n "$EXMAP_BENCH_RECORDS" ] || continue
			# The demo reports no CPU time: cpu_time = real_time.
			awk -v n="$backend/$mem/threads:$t" -v ops="$ops" \
				-v s="$(field "$line" run_s)" -v b="$backend" \
				-v m="$mem" -v t="$t" -v r="$ratio" \
				-v miss="$(field "$line" misses_per_s)" \
				-v dmb="$(field "$line" data_mb)" -v pmb="$pool" \
				-v ev="$(field "$line" evictions)" \
				-v rmb="$(field "$line" read_mb)" \
				-v rs="$(field "$line" restarts)" 'BEGIN {
				if (ops <= 0 || s <= 0)
					exit
				printf "suite=bufpool name=%s iterations=%.0f", n, ops * s
				printf " real_time=%.6g cpu_time=%.6g time_unit=ns", \
					1e9 / ops, 1e9 / ops
				printf " items_per_second=%s backend=%s memory=%s", ops, b, m
				printf " threads=%s misses_per_second=%s data_mb=%s", t, miss, dmb
				printf " pool_mb=%s evictions=%s read_mb=%s restarts=%s", \
					pmb, ev, rmb, rs
				if (r != "")
					printf " baseline=fallback vs_baseline=%s", r
				printf "\n"
			}' >>"$EXMAP_BENCH_RECORDS"
		done
	done
done

echo
echo "bench-bufpool: lookups/s, exmap against the fallback"
printf '%-9s %-14s %7s %12s %12s %8s\n' backend memory threads lookups/s misses/s ratio
while read -r b m t ops miss r; do
	printf '%-9s %-14s %7s %12s %12s %8s\n' "$b" "$m" "$t" "$ops" "$miss" "$r"
done <$summary
exit $status
