#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The buffer-pool benchmark: exmap-demo's B+tree lookups on the exmap
# backend and on the fallback (anonymous memory, io_uring reads and writes,
# madvise), with the pool larger than the data ("in-memory": after the load
# every lookup hits) and four to eight times smaller ("out-of-memory":
# misses, eviction, reads), from 1 and 2 threads. The device is a
# memory-backed null_blk, so the figures are the buffer manager's own cost,
# not an emulated disk's. Each run loads the keys afresh, runs lookups for
# the given time and verifies every key.
# The backends take turns in rounds (EXMAP_BENCH_BUFPOOL_ROUNDS, default 3),
# each round starting with the other one; the summary gives each backend's
# minimum, median and maximum and exmap's ratio round by round.
# usage: bench-bufpool.sh [seconds] [keys] [device]
# With EXMAP_BENCH_RECORDS=FILE, appends result records (bench/record.h):
# suite "bufpool", named BACKEND/MEMORY/threads:T, one per round.
secs=${1:-2}
keys=${2:-500000}
dev=$3
threads=${EXMAP_BENCH_BUFPOOL_THREADS:-1 2}
rounds=${EXMAP_BENCH_BUFPOOL_ROUNDS:-3}

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
	"lookups; pool $in_mb MB (in-memory) or $out_mb MB (out-of-memory);" \
	"$rounds rounds"

field() { # summary-line key
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

status=0
runs=/tmp/bench-bufpool.txt
: >$runs
for mem in in-memory out-of-memory; do
	pool=$in_mb
	[ $mem = out-of-memory ] && pool=$out_mb
	for t in $threads; do
		for round in $(seq 0 $((rounds - 1))); do
			order="fallback exmap"
			[ $((round % 2)) = 1 ] && order="exmap fallback"
			for backend in $order; do
				echo "=== $backend, $mem, $t threads, round $round"
				exmap-demo -d "$dev" -b $backend -p "$pool" \
					-n "$keys" -t "$t" -s "$secs" |
					tee /tmp/bench-bufpool-run.txt
				line=$(sed -n 's/^summary: //p' /tmp/bench-bufpool-run.txt)
				if [ -z "$(field "$line" ops_per_s)" ] ||
					[ "$(field "$line" bad)" != 0 ]; then
					echo "bench-bufpool: $backend $mem $t threads failed" >&2
					status=1
					continue
				fi
				echo "$backend $mem $t $round $pool $line" >>$runs
			done
		done
	done
done

# One record per run; each round's exmap run carries its ratio to that
# round's fallback run. Then the summary.
awk -v recs="$EXMAP_BENCH_RECORDS" -v nr=$rounds '
function get(key,   i, kv) {
	for (i = 6; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == key)
			return kv[2]
	}
	return ""
}
{
	k = $2 "/" $3
	ops[$1, k, $4] = get("ops_per_s")
	line[NR] = $0
}
function sorted(b, k,   n, r, v, i, j, t) {
	n = 0
	for (r = 0; r < nr; r++)
		if ((b, k, r) in ops)
			v[++n] = ops[b, k, r] + 0
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	lo = v[1]; hi = v[n]
	med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	return n
}
END {
	for (i = 1; i <= NR; i++) {
		$0 = line[i]
		b = $1; k = $2 "/" $3; r = $4
		o = get("ops_per_s"); s = get("run_s"); c = get("cpu_s")
		if (recs == "" || o <= 0 || s <= 0)
			continue
		ratio = ""
		if (b == "exmap" && ops["fallback", k, r] > 0)
			ratio = sprintf("%.3f", o / ops["fallback", k, r])
		n = o * s
		printf "suite=bufpool name=%s/%s/threads:%s iterations=%.0f", \
			b, $2, $3, n >>recs
		printf " real_time=%.6g cpu_time=%.6g time_unit=ns", \
			s * 1e9 / n, c * 1e9 / n >>recs
		printf " repetitions=%d repetition_index=%d", nr, r >>recs
		printf " items_per_second=%s backend=%s memory=%s threads=%s", \
			o, b, $2, $3 >>recs
		printf " misses_per_second=%s data_mb=%s pool_mb=%s", \
			get("misses_per_s"), get("data_mb"), $5 >>recs
		printf " evictions=%s read_mb=%s restarts=%s", get("evictions"), \
			get("read_mb"), get("restarts") >>recs
		if (ratio != "")
			printf " baseline=fallback vs_baseline=%s", ratio >>recs
		printf "\n" >>recs
		cfg[k] = 1
	}
	printf "\nbench-bufpool: lookups/s over %d rounds (min / median / max), exmap against the fallback\n", nr
	printf "%-14s %7s %-27s %-27s %s\n", "memory", "threads", "exmap",
		"fallback", "exmap/fallback: medians (rounds)"
	for (i = 1; i <= NR; i++) {
		$0 = line[i]; k = $2 "/" $3
		if (shown[k]++)
			continue
		if (!sorted("exmap", k)) continue
		e = sprintf("%.0f / %.0f / %.0f", lo, med, hi); em = med
		if (!sorted("fallback", k)) continue
		f = sprintf("%.0f / %.0f / %.0f", lo, med, hi); fm = med
		rr = ""
		for (r = 0; r < nr; r++)
			if (ops["fallback", k, r] > 0 && ops["exmap", k, r] > 0)
				rr = rr sprintf("%s%.2f", rr == "" ? "" : " ",
					ops["exmap", k, r] / ops["fallback", k, r])
		printf "%-14s %7s %-27s %-27s %.2fx (%s)\n", $2, $3, e, f,
			(fm > 0 ? em / fm : 0), rr
	}
}' $runs
exit $status
