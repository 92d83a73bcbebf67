#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`, the host side: boots one QEMU guest (tools/vm/run.sh) that
# runs bench/run-all.sh, takes the result records back, and writes them
# with SUITE.json and .csv and the console log into a dated results folder,
# build/bench/results/YYYY-MM-DD-HHMMSS/ (build/bench/latest points to the
# newest), and the figures into docs/figures/. To keep a run's evidence
# with the docs that quote it, copy its folder to docs/results/.
#
# The guest hands the records back on a second virtio disk (/dev/vdb),
# written raw between marker lines: unlike the console, nothing else
# writes there, so kernel messages cannot interleave with the records.
#
# usage: bench/vm-bench.sh [run-all.sh options and suites]
# Environment: EXMAP_BENCH_FIGDIR (docs/figures), and the harness's
# EXMAP_VM_* variables (EXMAP_VM_CPUS for more guest CPUs).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
stamp=$(date +%Y-%m-%d-%H%M%S)
out=build/bench/results/$stamp
bindir=build/bench-bin
figdir=${EXMAP_BENCH_FIGDIR:-docs/figures}
start=$(date +%s)

# EXMAP_VM_NOBUILD=1: use what is built, as tools/vm/run.sh does.
[[ ${EXMAP_VM_NOBUILD:-0} == 1 ]] || make -s guest
# fio links about 60 libraries: only the benchmark guest gets it.
rm -rf "$bindir" && mkdir -p "$bindir" "$out" build/vm
cp build/bin/* "$bindir/"
cp "$(command -v fio)" "$bindir/"

# bench-read and the buffer-pool benchmark read /dev/vda; vdb: the records.
rm -f build/vm/bench-disk.img "$out/results.img"
truncate -s 1G build/vm/bench-disk.img
truncate -s 16M "$out/results.img"

cpus=${EXMAP_VM_CPUS:-2}
status=0
EXMAP_VM_NOBUILD=1 EXMAP_VM_BINDIR=$bindir EXMAP_VM_MEM=${EXMAP_VM_MEM:-2G} \
	EXMAP_VM_DEBUG=0 EXMAP_VM_TSC=${EXMAP_VM_TSC:-1} tools/vm/run.sh --disk build/vm/bench-disk.img \
	--disk "$out/results.img" -- \
	env EXMAP_BENCH_MACHINE="QEMU TCG, $cpus vCPUs, on a $(nproc)-CPU host" \
	run-all.sh -x /dev/vdb "$@" || status=$?

tr -d '\0' <"$out/results.img" |
	sed -n '/^===EXMAP-BENCH-RECORDS-BEGIN===$/,/^===EXMAP-BENCH-RECORDS-END===$/p' |
	sed '1d;$d' >"$out/records.txt"
if ! grep -q '^suite=' "$out/records.txt"; then
	echo "vm-bench: no results came back (see build/vm/console.log)" >&2
	exit 1
fi
rm -f "$out/results.img"
cp build/vm/console.log "$out/console.log"
ln -sfn "results/$stamp" build/bench/latest
build/bin/bench-report "$out" "$out/records.txt"
mkdir -p "$figdir"
bench/plot.sh "$out" "$figdir"
echo "vm-bench: $(grep -c '^suite=' "$out/records.txt") results in $out;" \
	"make bench took $(($(date +%s) - start)) s"
exit "$status"
