#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs the whole benchmark suite on the machine it runs on, with exmap.ko
# loaded: inside the QEMU guest of `make bench`, or natively as root on a
# real machine (`make bench-native`). No VM involved here.
#
# usage: run-all.sh [-s SECONDS] [-k KEYS] [-d DEVICE]... [-o RECORDS]
#                   [-r OUTDIR] [-p FIGDIR] [-x EXPORTDEV] [-e NAME=VALUE]...
#                   [SUITE...]
#   SUITE      alloc steal read bufpool rewire kv (default: all, in that order)
#   -s         seconds per measurement (default 1)
#   -k         keys of the buffer-pool benchmark (default 500000)
#   -d         a device for the read benchmark, read only (default: null_blk
#              and /dev/vda if present); repeatable
#   -o         the result records file (default /tmp/exmap-bench.records)
#   -r         also write OUTDIR/SUITE.json and .csv (needs bench-report)
#   -p         with -r, also draw the figures into FIGDIR (needs gnuplot)
#   -x         also copy the records, between marker lines, onto this raw
#              block device: how the guest hands them to the host
#   -e         NAME=VALUE: set an environment variable for the suites
#              (e.g. EXMAP_BENCH_KV_OPS=20000); repeatable
# Exit status: non-zero if any suite failed (the others still run).
here=$(cd "$(dirname "$0")" && pwd)
# The repository layout (bench/../build/bin) and the guest's alike.
[ -d "$here/../build/bin" ] && PATH=$here/../build/bin:$PATH
PATH=$here:$PATH
export PATH

secs=1 keys=500000 devs= rec=/tmp/exmap-bench.records outdir= figdir= export_dev=
while getopts s:k:d:o:r:p:x:e:h opt; do
	case $opt in
	s) secs=$OPTARG ;;
	k) keys=$OPTARG ;;
	d) devs="$devs $OPTARG" ;;
	o) rec=$OPTARG ;;
	r) outdir=$OPTARG ;;
	p) figdir=$OPTARG ;;
	x) export_dev=$OPTARG ;;
	e) export "${OPTARG?}" ;;
	*) sed -n '2,/^# Exit/p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
suites=${*:-alloc steal read bufpool rewire kv}

if [ ! -c /dev/exmap ]; then
	echo "run-all.sh: /dev/exmap missing: load exmap.ko first" >&2
	exit 1
fi

mkdir -p "$(dirname "$rec")" && : >"$rec" || exit 1

# The machine, as far as it can be read from it; what cannot is left out.
# caches: "LEVEL TYPE BYTES CPUS_SHARING ..." of CPU 0's caches.
caches() {
	for c in /sys/devices/system/cpu/cpu0/cache/index*; do
		[ -r "$c/size" ] || continue
		size=$(sed 's/K$/*1024/;s/M$/*1048576/' "$c/size")
		sharing=$(tr ',' '\n' <"$c/shared_cpu_list" | awk -F- \
			'{ n += NF > 1 ? $2 - $1 + 1 : 1 } END { print n }')
		printf '%s %s %s %s ' "$(cat "$c/level")" "$(cat "$c/type")" \
			"$((size))" "$sharing"
	done
}
context() {
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	mhz=$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	mem=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	gov=/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor
	printf 'context num_cpus=%s kernel=%s mem_gib=%s cpu="%s"' "$(nproc)" \
		"$(uname -r)" "$mem" "$model"
	[ -n "$mhz" ] && printf ' mhz_per_cpu=%.0f' "$mhz"
	if [ -r $gov ]; then
		[ "$(cat $gov)" = performance ] && printf ' cpu_scaling_enabled=false' ||
			printf ' cpu_scaling_enabled=true'
	fi
	printf ' caches="%s" load_avg="%s"' "$(caches)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	printf ' machine="%s" date=%s host_name=%s\n' \
		"${EXMAP_BENCH_MACHINE:-native}" "$(date +%Y-%m-%dT%H:%M:%S%z)" \
		"$(hostname)"
}
context >>"$rec"

status=0
start=$(date +%s)
for suite in $suites; do
	t0=$(date +%s)
	echo "===== $suite"
	case $suite in
	alloc) bench-alloc -s "$secs" -o "$rec" ;;
	steal) bench-steal -s "$secs" -o "$rec" ;;
	rewire) bench-rewire -s "$secs" -o "$rec" ;;
	# shellcheck disable=SC2086 # $devs: one word per device
	read) EXMAP_BENCH_RECORDS=$rec bench-read.sh "$secs" $devs ;;
	# Twice as long: a lookup run starts with a cold pool.
	bufpool) EXMAP_BENCH_RECORDS=$rec bench-bufpool.sh \
		"$(awk -v s="$secs" 'BEGIN { print 2 * s }')" "$keys" ;;
	# exmap-kv: the classic table and out of memory (with LMDB).
	kv) EXMAP_BENCH_RECORDS=$rec bench-kv.sh ;;
	*) echo "run-all.sh: unknown suite $suite" >&2; false ;;
	esac
	rc=$?
	echo "===== $suite: status $rc, $(($(date +%s) - t0)) s"
	[ $rc = 0 ] || status=$rc
done
echo "run-all.sh: $(grep -c '^suite=' "$rec") results in $(($(date +%s) - start)) s"

if [ -n "$export_dev" ]; then
	{
		echo "===EXMAP-BENCH-RECORDS-BEGIN==="
		cat "$rec"
		echo "===EXMAP-BENCH-RECORDS-END==="
	} >"$export_dev" && sync || status=1
fi
if [ -n "$outdir" ]; then
	mkdir -p "$outdir" && bench-report "$outdir" "$rec" || status=1
fi
if [ -n "$figdir" ] && [ -n "$outdir" ]; then
	if command -v gnuplot >/dev/null; then
		plot.sh "$outdir" "$figdir" || status=1
	else
		echo "run-all.sh: no gnuplot, no figures (the CSV files are in $outdir)" >&2
	fi
fi
exit $status
