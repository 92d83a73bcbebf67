#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side: FREE's range flush against the full flush, in one boot.
# Rounds of bench-alloc with the module parameter range_flush_pages at 33
# and at 0 in turn (runs of 1, 8 and 32 pages, 1 and 2 threads, exmap-1IF
# and madvise). Run it through the harness:
#   EXMAP_VM_DEBUG=0 EXMAP_VM_TSC=1 tools/vm/run.sh -- flush-compare.sh 3
rounds=${1:-3}
param=/sys/module/exmap/parameters/range_flush_pages
for r in $(seq "$rounds"); do
	for p in 33 0; do
		echo "$p" >"$param" || exit 1
		echo "### round $r range_flush_pages $p"
		bench-alloc -s 1 -r 3 -t 1 -t 2 -b 1 -b 8 -b 32 \
			-m exmap-1IF -m madvise || exit 1
	done
done
echo 33 >"$param"
