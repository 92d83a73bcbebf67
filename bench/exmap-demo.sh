#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo (make demo): a B+tree in a buffer pool four times smaller than
# its data, on exmap and on the fallback backend (anonymous memory, io_uring
# reads and writes, madvise), side by side; then a restart that must find
# the data again.
#   1. on the first virtio disk, lookups one at a time: durable, but the
#      emulated disk is slow (100-200 us a read), so both backends mostly
#      wait on it alike;
#   2. on the same disk, lookups in batches of 64: the pages a batch
#      misses are all in flight at once, on both backends (exmap: one
#      io_uring command each; the fallback: io_uring reads), and each is
#      unlatched as its read completes;
#   3. on a memory-backed null_blk device, one at a time and in batches:
#      no device time, so the figures are the buffer manager's own cost.
# The headline for each device is each backend at its best setting.
# usage: exmap-demo.sh [keys] [pool_mb] [threads] [seconds]
keys=${1:-1000000}
pool=${2:-4}
threads=${3:-2}
secs=${4:-5}
out=/tmp/demo-summaries
: >$out

run() { # label device backend [extra args]
	label=$1 dev=$2 backend=$3
	shift 3
	echo "=== $label: $backend on $dev"
	exmap-demo -d "$dev" -b "$backend" -p "$pool" -n "$keys" \
		-t "$threads" -s "$secs" "$@" | tee /tmp/demo-run.txt || exit 1
	sed -n "s/^summary: /$label /p" /tmp/demo-run.txt >>$out
}

[ -b /dev/vda ] || { echo "exmap-demo.sh: no virtio disk"; exit 1; }
run virtio /dev/vda exmap
run virtio-restart /dev/vda exmap -r -s 0
run virtio /dev/vda fallback
run virtio-batch64 /dev/vda exmap -r -B 64
run virtio-batch64 /dev/vda fallback -r -B 64

modprobe -q configfs
grep -qs ' /sys/kernel/config ' /proc/mounts ||
	mount -t configfs configfs /sys/kernel/config
modprobe -q null_blk nr_devices=0
nb=/sys/kernel/config/nullb/demo
mkdir -p $nb && echo 512 >$nb/size && echo 1 >$nb/memory_backed &&
	echo 0 >$nb/irqmode && echo 4096 >$nb/blocksize && echo 1 >$nb/power
nbdev=/dev/demo
[ -b $nbdev ] || nbdev=/dev/nullb0
run null_blk $nbdev exmap
run null_blk $nbdev fallback
run null_blk-batch64 $nbdev exmap -r -B 64
run null_blk-batch64 $nbdev fallback -r -B 64

echo
echo "exmap-demo: $keys keys, pool $pool MB, $threads threads, ${secs}s of random lookups each"
awk '
function get(line, key,   n, i, kv) {
	n = split(line, f, " ")
	for (i = 2; i <= n; i++) {
		split(f[i], kv, "=")
		if (kv[1] == key)
			return kv[2]
	}
	return "-"
}
{ line[NR] = $0; dev[NR] = $1 }
END {
	printf "%-15s %-9s %8s %8s %6s %12s %12s %10s %6s\n", "run", "backend",
		"data_mb", "pool_mb", "batch", "lookups/s", "misses/s",
		"read_mb", "bad"
	for (i = 1; i <= NR; i++) {
		printf "%-15s %-9s %8s %8s %6s %12s %12s %10s %6s\n", dev[i],
			get(line[i], "backend"), get(line[i], "data_mb"),
			get(line[i], "pool_mb"), get(line[i], "batch"),
			get(line[i], "ops_per_s"), get(line[i], "misses_per_s"),
			get(line[i], "read_mb"), get(line[i], "bad")
		ops[dev[i] "/" get(line[i], "backend")] = get(line[i], "ops_per_s")
	}
	for (i = 1; i <= NR; i++) {
		d = dev[i]
		if (get(line[i], "backend") != "exmap" || done[d]++ ||
		    !(ops[d "/fallback"] > 0))
			continue
		printf "%s: exmap %.2fx the fallback'"'"'s lookups/s\n", d,
			ops[d "/exmap"] / ops[d "/fallback"]
	}
	# Each backend at its best setting on each device (restarts aside).
	for (i = 1; i <= NR; i++) {
		d = dev[i]; sub(/-.*/, "", d)
		if (dev[i] ~ /restart/)
			continue
		b = get(line[i], "backend"); o = get(line[i], "ops_per_s") + 0
		if (o > best[d "/" b]) {
			best[d "/" b] = o; at[d "/" b] = get(line[i], "batch")
		}
		devs[d] = 1
	}
	for (d in devs)
		if (best[d "/fallback"] > 0)
			printf "%s, each at its best: exmap %.0f lookups/s " \
				"(batch %s), fallback %.0f (batch %s): %.2fx\n", d,
				best[d "/exmap"], at[d "/exmap"], best[d "/fallback"],
				at[d "/fallback"], best[d "/exmap"] / best[d "/fallback"]
}' $out
