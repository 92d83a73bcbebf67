#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Draws the benchmark figures (PNG, gnuplot) from the CSV files that
# bench-report wrote.
# usage: bench/plot.sh CSVDIR FIGDIR
#   alloc-batch.png    pages/s against batch size, 1 thread and the most
#   alloc-threads.png  pages/s against threads, batches of 512 pages
#   alloc-speedup.png  exmap-1IF over each Linux baseline, by batch size
#   alloc-tlb.png      TLB shootdowns per page, by batch size
#   steal.png          1IF, 2IF and pool by batch size and by threads
#   read.png           random 4 KiB reads/s by mode, per device
#   bufpool.png        buffer-pool lookups/s, exmap against the fallback
#   rewire.png         rewiring: all-to-one setup time, relocation pages/s,
#                      deque items/s; exmap against memfd, mremap, copying
#   kv.png             exmap-kv's classic table: ops/s by client processes
#   kv-oom.png         exmap-kv out of memory against the fallback and LMDB
# A figure whose CSV is missing is skipped.
set -euo pipefail
csvdir=${1:?usage: plot.sh CSVDIR FIGDIR}
figdir=${2:?usage: plot.sh CSVDIR FIGDIR}
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot missing" >&2; exit 1; }
mkdir -p "$figdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# sel CSV CONDITION OUTPUT: rows of CSV where the awk CONDITION holds,
# printing OUTPUT; both see the row's fields as v["column name"]. One row
# per configuration: the median of its repetitions, or its only run.
sel() {
	awk -F, "NR == 1 { for (i = 1; i <= NF; i++) h[\$i] = i; next }
		{ delete v; for (k in h) { x = \$h[k]; gsub(/\"/, \"\", x); v[k] = x } }
		v[\"aggregate_name\"] != \"median\" &&
		    (v[\"aggregate_name\"] != \"\" || v[\"repetitions\"] > 1) { next }
		$2 { print $3 }" "$1"
}

# One colour and point type per mode, the same in every figure.
style() {
	case $1 in
	exmap-1IF) echo 'lc rgb "#1f4e9c" lw 3 pt 7 ps 1.3' ;;
	exmap-1IF-zero) echo 'lc rgb "#1f4e9c" lw 2 dt 2 pt 6 ps 1.3' ;;
	exmap-2IF) echo 'lc rgb "#4a90d9" lw 2 pt 5 ps 1.3' ;;
	exmap-pool) echo 'lc rgb "#2cb5c0" lw 2 pt 9 ps 1.5' ;;
	exmap-spread) echo 'lc rgb "#2c7f7f" lw 2 pt 13 ps 1.3' ;;
	madvise) echo 'lc rgb "#c0392b" lw 2 pt 4 ps 1.3' ;;
	munmap) echo 'lc rgb "#e67e22" lw 2 pt 6 ps 1.3' ;;
	uffd-zero) echo 'lc rgb "#27ae60" lw 2 pt 8 ps 1.3' ;;
	uffd-copy) echo 'lc rgb "#8e44ad" lw 2 pt 10 ps 1.3' ;;
	*) echo 'lw 2' ;;
	esac
}

common='set terminal pngcairo size 1000,640 font "Sans,12" noenhanced
set grid ytics mytics xtics lc rgb "#dddddd"
set key outside right top box opaque
set border 3
set tics nomirror'

modes_of() { # CSV: the modes in order of appearance
	sel "$1" 1 'v["mode"]' | awk '!seen[$0]++'
}

threads_of() { # CSV
	sel "$1" 1 'v["threads"]' | sort -n | uniq
}

# batch_clause CSV THREADS: a plot clause, pages/s against batch size.
batch_clause() {
	local csv=$1 t=$2 m sep='' f
	for m in $(modes_of "$csv"); do
		f=$tmp/batch-$(basename "$csv" .csv)-$m-$t.dat
		sel "$csv" "v[\"mode\"] == \"$m\" && v[\"threads\"] == $t" \
			'v["batch"], v["items_per_second"]' >"$f"
		[ -s "$f" ] || continue
		printf '%s"%s" using 1:2 with linespoints %s title "%s"' \
			"$sep" "$f" "$(style "$m")" "$m"
		sep=', '
	done
}

if [ -f "$csvdir/alloc.csv" ]; then
	csv=$csvdir/alloc.csv
	tmax=$(threads_of "$csv" | tail -n1)
	gnuplot <<EOF
$common
set terminal pngcairo size 1300,600 noenhanced
set output "$figdir/alloc-batch.png"
set multiplot layout 1,2 title "Allocate, touch, free: pages/s by batch size (higher is better)"
set logscale x 2
set logscale y 10
set xrange [0.7:750]
set format y "%.0s%c"
set xtics (1, 8, 64, 512)
set xlabel "pages per call (batch)"
set ylabel "pages/s"
set key inside left top box opaque
set title "1 thread"
plot $(batch_clause "$csv" 1)
set title "$tmax threads"
plot $(batch_clause "$csv" "$tmax")
unset multiplot
EOF

	# exmap-1IF over each baseline, solid for 1 thread, dashed for the most.
	clause='' sep=''
	for m in $(modes_of "$csv"); do
		# Against the Linux modes only.
		case $m in exmap-*) continue ;; esac
		for t in 1 "$tmax"; do
			f=$tmp/speedup-$m-$t.dat
			join <(sel "$csv" "v[\"mode\"] == \"exmap-1IF\" && v[\"threads\"] == $t" \
				'v["batch"], v["items_per_second"]' | sort -k1,1) \
			     <(sel "$csv" "v[\"mode\"] == \"$m\" && v[\"threads\"] == $t" \
				'v["batch"], v["items_per_second"]' | sort -k1,1) |
				sort -n >"$f"
			[ -s "$f" ] || continue
			dt=1
			[ "$t" = 1 ] || dt=2
			clause+="$sep\"$f\" using 1:(\$2/\$3) with linespoints $(style "$m") dt $dt title \"vs $m, $t thr\""
			sep=', '
		done
	done
	[ -z "$clause" ] || gnuplot <<EOF
$common
set output "$figdir/alloc-speedup.png"
set title "exmap-1IF pages/s divided by each Linux baseline's (above 1: exmap faster)"
set logscale x 2
set logscale y 2
set xrange [0.7:750]
set xtics (1, 8, 64, 512)
set xlabel "pages per call (batch)"
set ylabel "speedup of exmap-1IF"
set arrow from 1,1 to 512,1 nohead lc rgb "#555555" dt 3
plot $clause
EOF

	clause='' sep=''
	for m in $(modes_of "$csv"); do
		f=$tmp/tlb-$m.dat
		sel "$csv" "v[\"mode\"] == \"$m\" && v[\"threads\"] == $tmax && v[\"tlb_per_page\"] != \"\"" \
			'v["batch"], (v["tlb_per_page"] > 0 ? v["tlb_per_page"] : 1e-5)' >"$f"
		[ -s "$f" ] || continue
		clause+="$sep\"$f\" using 1:2 with linespoints $(style "$m") title \"$m\""
		sep=', '
	done
	[ -z "$clause" ] || gnuplot <<EOF
$common
set output "$figdir/alloc-tlb.png"
set title "TLB shootdown interrupts per page, $tmax threads (lower is better; 1e-5 stands for 0)"
set logscale x 2
set logscale y 10
set xrange [0.7:750]
set xtics (1, 8, 64, 512)
set xlabel "pages per call (batch)"
set ylabel "shootdowns per page"
plot $clause
EOF
fi

# threads_clause CSV: a plot clause, pages/s against threads at batch 512.
threads_clause() {
	local csv=$1 m sep='' f
	for m in $(modes_of "$csv"); do
		f=$tmp/threads-$(basename "$csv" .csv)-$m.dat
		sel "$csv" "v[\"mode\"] == \"$m\" && v[\"batch\"] == 512" \
			'v["threads"], v["items_per_second"]' >"$f"
		[ -s "$f" ] || continue
		printf '%s"%s" using 1:2 with linespoints %s title "%s"' \
			"$sep" "$f" "$(style "$m")" "$m"
		sep=', '
	done
}

# Each figure from one suite only: its modes ran side by side.
if [ -f "$csvdir/alloc.csv" ]; then
	csv=$csvdir/alloc.csv
	gnuplot <<EOF
$common
set output "$figdir/alloc-threads.png"
set title "Allocate, touch, free in batches of 512 pages: pages/s by threads (higher is better)"
set logscale y 10
set format y "%.0s%c"
set xtics ($(threads_of "$csv" | paste -sd, -))
set offsets 0.2, 0.2, 0, 0
set xlabel "threads"
set ylabel "pages/s"
plot $(threads_clause "$csv")
EOF
fi

if [ -f "$csvdir/steal.csv" ]; then
	csv=$csvdir/steal.csv
	tmax=$(threads_of "$csv" | tail -n1)
	gnuplot <<EOF
$common
set terminal pngcairo size 1300,600 noenhanced
set output "$figdir/steal.png"
set multiplot layout 1,2 title "1IF: frames stay; 2IF: every ALLOC steals; pool: separate allocating and freeing threads (higher is better)"
set logscale y 10
set format y "%.0s%c"
set ylabel "pages/s"
set key inside left top box opaque
set title "$tmax threads, by batch size"
set logscale x 2
set xrange [0.7:750]
set xtics (1, 8, 64, 512)
set xlabel "pages per call (batch)"
plot $(batch_clause "$csv" "$tmax")
set title "batches of 512 pages, by threads"
unset logscale x
set autoscale x
set xtics ($(threads_of "$csv" | paste -sd, -))
set offsets 0.2, 0.2, 0, 0
set xlabel "threads (pool: half allocate, half free)"
plot $(threads_clause "$csv")
unset multiplot
EOF
fi

if [ -f "$csvdir/read.csv" ]; then
	csv=$csvdir/read.csv
	devs=$(sel "$csv" 1 'v["device"]' | awk '!seen[$0]++')
	# One row per mode, one column per device.
	for m in $(modes_of "$csv"); do
		printf '%s' "$m"
		for d in $devs; do
			r=$(sel "$csv" "v[\"mode\"] == \"$m\" && v[\"device\"] == \"$d\"" \
				'v["items_per_second"]')
			printf ' %s' "${r:-0}"
		done
		echo
	done >"$tmp/read.dat"
	cols='' i=2
	for d in $devs; do
		cols+="${cols:+, }\"$tmp/read.dat\" using $i:xtic(1) title \"$d\""
		i=$((i + 1))
	done
	gnuplot <<EOF
$common
set output "$figdir/read.png"
set title "Random 4 KiB reads, 1 thread: reads/s by mode (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set xtics rotate by 30 right
set format y "%.0s%c"
set ylabel "reads/s"
set yrange [0:*]
plot $cols
EOF
fi

if [ -f "$csvdir/bufpool.csv" ]; then
	csv=$csvdir/bufpool.csv
	# Per memory kind: "N thread(s)" exmap fallback.
	for mem in in-memory out-of-memory; do
		for b in exmap fallback; do
			sel "$csv" "v[\"backend\"] == \"$b\" && v[\"memory\"] == \"$mem\"" \
				'v["threads"], v["items_per_second"]' | sort -n >"$tmp/bp-$b"
		done
		join "$tmp/bp-exmap" "$tmp/bp-fallback" |
			awk '{ printf "\"%s thread%s\" %s %s\n", $1, ($1 > 1 ? "s" : ""), $2, $3 }' \
			>"$tmp/bp-$mem.dat"
	done
	panel() { # memory kind, title
		cat <<EOF
set title "$2"
plot "$tmp/bp-$1.dat" using 2:xtic(1) title "exmap" lc rgb "#1f4e9c", \
     "" using 3 title "fallback" lc rgb "#c0392b", \
     "" using (\$0):(\$2 > \$3 ? \$2 : \$3):(sprintf("%.2fx", \$2/\$3)) with labels offset 0,0.8 notitle
EOF
	}
	gnuplot <<EOF
$common
set terminal pngcairo size 1300,600 noenhanced
set output "$figdir/bufpool.png"
set multiplot layout 1,2 title "Buffer pool: B+tree lookups/s on a memory-backed null_blk (higher is better; label: exmap / fallback)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set format y "%.0s%c"
set ylabel "lookups/s"
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set key inside left top box opaque
$(panel in-memory "in memory: pool larger than the data")
$(panel out-of-memory "out of memory: pool 1/4 to 1/8 of the data")
unset multiplot
EOF
fi
if [ -f "$csvdir/rewire.csv" ]; then
	csv=$csvdir/rewire.csv
	rw_clause() { # bench, x column, y expression, impls...
		local b=$1 x=$2 y=$3 sep='' f i
		shift 3
		for i in "$@"; do
			f=$tmp/rw-$b-$i.dat
			# A run that stopped at vm.max_map_count is not drawn.
			sel "$csv" "v[\"bench\"] == \"$b\" && v[\"impl\"] == \"$i\" && v[\"failed_at\"] == \"\"" \
				"$x, $y" | sort -g >"$f"
			[ -s "$f" ] || continue
			printf '%s"%s" using 1:2 with linespoints lw 2 pt 7 title "%s"' \
				"$sep" "$f" "$i"
			sep=', '
		done
	}
	for l in queue stack-front random; do
		for i in exmap memfd chunked; do
			sel "$csv" "v[\"bench\"] == \"deque\" && v[\"load\"] == \"$l\" && v[\"impl\"] == \"$i\"" \
				'v["items_per_second"]'
		done | paste -sd' ' | sed "s/^/$l /" >>"$tmp/rw-deque.dat"
	done
	gnuplot <<EOF
$common
set terminal pngcairo size 1500,520 noenhanced
set output "$figdir/rewire.png"
set multiplot layout 1,3 title "Rewiring: exmap ALIAS and MOVE against the classic ways"
set key inside left top box opaque
set logscale xy 10
set format y "%.0s%c"
set xlabel "pages mapped onto one frame"
set ylabel "seconds, setup + first touch (lower is better)"
set title "all-to-one"
plot $(rw_clause alltoone 'v["size"]' 'v["real_time"] * v["iterations"] / 1e9' exmap memfd)
set logscale x 2
set xlabel "pages moved per round"
set ylabel "pages/s (higher is better)"
set title "relocate scattered pages"
plot $(rw_clause relocate 'v["size"]' 'v["items_per_second"]' exmap-move exmap-copy mremap)
unset logscale
set logscale y 10
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set xlabel ""
set ylabel "items/s (higher is better)"
set title "deque of 64-byte items"
plot "$tmp/rw-deque.dat" using 2:xtic(1) title "exmap", "" using 3 title "memfd", "" using 4 title "chunked"
unset multiplot
EOF
fi

if [ -f "$csvdir/kv.csv" ]; then
	csv=$csvdir/kv.csv
	kv_panel() { # op
		local e sep='' f
		echo "set title \"$1\""
		printf 'plot '
		for e in exmap fallback; do
			f=$tmp/kv-$1-$e.dat
			sel "$csv" "v[\"engine\"] == \"$e\" && v[\"op\"] == \"$1\"" \
				'v["clients"], v["items_per_second"]' | sort -n >"$f"
			printf '%s"%s" using 1:2 with linespoints lw 2 pt 7 lc rgb "%s" title "%s"' \
				"$sep" "$f" "$([ $e = exmap ] && echo '#1f4e9c' || echo '#c0392b')" "$e"
			sep=', '
		done
		echo
	}
	gnuplot <<EOF
$common
set terminal pngcairo size 1500,520 noenhanced
set output "$figdir/kv.png"
set multiplot layout 1,3 title "exmap-kv, 100,000 operations from N client processes, one at a time each (higher is better)"
set xlabel "client processes"
set ylabel "operations/s"
set yrange [0:*]
set xtics (1, 2, 4, 6, 8, 10)
set key inside left top box opaque
$(kv_panel get)
$(kv_panel put)
$(kv_panel mix)
unset multiplot
EOF
fi

if [ -f "$csvdir/kv-oom.csv" ]; then
	csv=$csvdir/kv-oom.csv
	devs=$(sel "$csv" 1 'v["device"]' | awk '!seen[$0]++')
	for op in get put; do
		for d in $devs; do
			printf '"%s"' "$d"
			for e in exmap fallback lmdb; do
				r=$(sel "$csv" "v[\"engine\"] == \"$e\" && v[\"op\"] == \"$op\" && v[\"device\"] == \"$d\"" \
					'v["items_per_second"]')
				printf ' %s' "${r:-0}"
			done
			echo
		done >"$tmp/kv-oom-$op.dat"
	done
	oom_panel() { # op title
		cat <<EOF
set title "$2"
plot "$tmp/kv-oom-$1.dat" using 2:xtic(1) title "exmap" lc rgb "#1f4e9c", \
     "" using 3 title "fallback" lc rgb "#c0392b", \
     "" using 4 title "LMDB" lc rgb "#27ae60"
EOF
	}
	gnuplot <<EOF
$common
set terminal pngcairo size 1300,560 noenhanced
set output "$figdir/kv-oom.png"
set multiplot layout 1,2 title "exmap-kv out of memory (data 4-5x the pool; LMDB's page cache held to the pool's size), 4 clients (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel "operations/s"
set yrange [0:*]
set key inside right top box opaque
$(oom_panel get "random GETs")
$(oom_panel put "random PUTs, each durable")
unset multiplot
EOF
fi
ls "$figdir"/*.png
