#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The exmap-kv benchmarks (bench-kv), in one boot:
#  1. the classic table: 100,000 GETs, 100,000 PUTs and 100,000 of a 50/50
#     mix, from 1, 2, 4, 6, 8 and 10 client processes, on 100,000 keys of
#     100 bytes, exmap-kvd on exmap and on the fallback (a restart on the
#     same store in between), on a memory-backed null_blk device;
#  2. out of memory: a store four to five times its buffer pool, random
#     GETs and PUTs from 4 clients for a fixed time after a warm-up, on
#     exmap, the fallback and LMDB, with the same keys and values, in
#     files of one ext2 file system on the same device; LMDB's processes
#     run in a memory cgroup that gives its page cache what the others
#     get as a pool (plus 8 MiB for the processes themselves). Once on
#     null_blk (the cost of the software) and once on the virtio disk.
# usage: bench-kv.sh [OOM-DEVICE...]   (default: $EXMAP_BENCH_KV_OOM_DEVICES,
#        else null_blk and /dev/vda; "nullb" names a new null_blk)
# With EXMAP_BENCH_RECORDS=FILE, appends result records (suites kv and
# kv-oom). EXMAP_BENCH_KV_OPS, _KEYS, _OOM_KEYS, _OOM_POOL_MB, _SECS shrink
# or grow it.
ops=${EXMAP_BENCH_KV_OPS:-100000}
keys=${EXMAP_BENCH_KV_KEYS:-100000}
oom_keys=${EXMAP_BENCH_KV_OOM_KEYS:-400000}
oom_pool=${EXMAP_BENCH_KV_OOM_POOL_MB:-16}
secs=${EXMAP_BENCH_KV_SECS:-8}
clients=${EXMAP_BENCH_KV_CLIENTS:-1 2 4 6 8 10}
rec=${EXMAP_BENCH_RECORDS:+-r $EXMAP_BENCH_RECORDS}
sock=/tmp/bench-kv.sock
status=0

make_nullb() { # NAME MIB: a memory-backed null_blk device's path
	modprobe -q configfs 2>/dev/null
	grep -qs ' /sys/kernel/config ' /proc/mounts ||
		mount -t configfs configfs /sys/kernel/config
	modprobe -q null_blk nr_devices=0 2>/dev/null
	nb=/sys/kernel/config/nullb/$1
	before=$(ls /sys/block)
	mkdir -p "$nb" && echo "$2" >"$nb/size" && echo 1 >"$nb/memory_backed" &&
		echo 0 >"$nb/irqmode" && echo 4096 >"$nb/blocksize" &&
		echo 1 >"$nb/power" || return 1
	for b in $(ls /sys/block); do
		case " $(echo $before) " in *" $b "*) ;; *) echo /dev/$b; return 0 ;; esac
	done
	return 1
}

kvd_pid=
start_kvd() { # STORE POOL_MB [--fallback] [--format ...]
	store=$1 pool=$2
	shift 2
	rm -f $sock
	exmap-kvd --store "$store" -S $sock -p "$pool" "$@" 2>>/tmp/bench-kvd.log &
	kvd_pid=$!
	n=0
	while ! exmap-kv -S $sock stats >/dev/null 2>&1; do
		n=$((n + 1))
		if [ $n -gt 600 ] || ! kill -0 $kvd_pid 2>/dev/null; then
			echo "bench-kv.sh: exmap-kvd did not start" >&2
			tail -5 /tmp/bench-kvd.log >&2
			return 1
		fi
		sleep 0.1
	done
}

stop_kvd() {
	[ -n "$kvd_pid" ] || return 0
	kill $kvd_pid && wait $kvd_pid
	kvd_pid=
}

stat_of() { # NAME: a counter of the running exmap-kvd
	exmap-kv -S $sock stats | sed -n "s/^$1 //p"
}

# ---- 1. the classic table ----
dev=$(make_nullb benchkv 1024) || { echo "bench-kv.sh: no null_blk" >&2; exit 1; }
echo "=== kv: the classic table on $dev: $keys keys, $ops operations a run"
start_kvd "$dev" 64 --format || exit 1
bench-kv load -S $sock -n "$keys" -v 100 || status=1
stop_kvd
for backend in exmap fallback; do
	flag=
	[ $backend = fallback ] && flag=--fallback
	start_kvd "$dev" 64 $flag || { status=1; continue; }
	for op in get put mix; do
		for c in $clients; do
			bench-kv run -S $sock -n "$keys" -v 100 -c "$c" -o $op \
				-N "$ops" -e $backend -s kv $rec || status=1
		done
	done
	stop_kvd
done

# ---- 2. out of memory ----
oom() { # DEVICE LABEL
	dev=$1 label=$2 mnt=/mnt/bench-kv
	echo "=== kv-oom on $label ($dev): $oom_keys keys of 100 bytes," \
		"pool $oom_pool MiB"
	mkdir -p $mnt
	mke2fs -q -F -b 4096 "$dev" >/dev/null && mount -t ext2 "$dev" $mnt || return 1
	mkdir -p $mnt/lmdb
	start_kvd $mnt/kv.store 64 --format --size 256M || return 1
	bench-kv load -S $sock -n "$oom_keys" -v 100 || return 1
	used=$(( ($(stat_of data_pages) - $(stat_of pages_free)) * 4 / 1024 ))
	stop_kvd
	bench-kv lmdb-load -d $mnt/lmdb -n "$oom_keys" -v 100 || return 1
	lmdb_mb=$(( $(stat -c %s $mnt/lmdb/data.mdb) / 1048576 ))
	echo "kv-oom: exmap-kv data $used MiB, LMDB file $lmdb_mb MiB," \
		"pool (and LMDB's page cache) $oom_pool MiB"

	cg=/sys/fs/cgroup
	grep -qs " $cg cgroup2 " /proc/mounts || mount -t cgroup2 cgroup2 $cg
	echo +memory >$cg/cgroup.subtree_control
	mkdir -p $cg/bench-lmdb
	echo $(( (oom_pool + 8) * 1048576 )) >$cg/bench-lmdb/memory.max

	for engine in exmap fallback lmdb; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		for op in get put; do
			warm=3
			[ $op = put ] && warm=1
			args="-n $oom_keys -v 100 -c 4 -o $op -t $secs -w $warm -e $engine -s kv-oom $rec"
			case $engine in
			lmdb)
				sh -c "echo \$\$ >$cg/bench-lmdb/cgroup.procs &&
					exec bench-kv lmdb-run -d $mnt/lmdb $args" || status=1 ;;
			*)
				flag=
				[ $engine = fallback ] && flag=--fallback
				start_kvd $mnt/kv.store "$oom_pool" $flag || { status=1; continue; }
				bench-kv run -S $sock $args || status=1
				echo "kv-oom: $engine: misses $(stat_of misses)," \
					"evictions $(stat_of evictions)," \
					"checkpoints $(stat_of checkpoints)"
				stop_kvd ;;
			esac
			[ -n "$EXMAP_BENCH_RECORDS" ] &&
				sed -i '$s/$/ device='"$label"' data_mb='"$used"' lmdb_mb='"$lmdb_mb"' pool_mb='"$oom_pool"'/' "$EXMAP_BENCH_RECORDS"
		done
	done
	echo "kv-oom: LMDB's cgroup: $(cat $cg/bench-lmdb/memory.peak 2>/dev/null || cat $cg/bench-lmdb/memory.max) bytes peak/max"
	umount $mnt
}

for d in ${*:-${EXMAP_BENCH_KV_OOM_DEVICES:-nullb /dev/vda}}; do
	case $d in
	nullb) oom "$(make_nullb benchkvoom 2048)" null_blk || status=1 ;;
	*) oom "$d" "$(basename "$d")" || status=1 ;;
	esac
done
exit $status
