#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Sourced by the guest runner: sets up the backing stores the I/O tests use
# and exports where they are. Each is optional; a test whose store is
# missing skips.
#   EXMAP_TEST_BLKDEV  a block device of at least 16 MiB: the first virtio
#                      disk the harness attached, else a RAM disk (brd)
#   EXMAP_TEST_DIR     a directory on a file system with O_DIRECT (ext2 on
#                      the second virtio disk, else on a second RAM disk)
#   EXMAP_TEST_BADDEV  a null_blk device whose first 8 pages fail to read
#   EXMAP_TEST_SLOWDEV a null_blk device that completes every request
#                      after 300 ms: I/O certain to be in flight for a while

if [ -b /dev/vda ]; then
	EXMAP_TEST_BLKDEV=/dev/vda
	fsdev=/dev/vdb
else
	modprobe -q brd rd_nr=2 rd_size=65536 2>/dev/null
	EXMAP_TEST_BLKDEV=/dev/ram0
	fsdev=/dev/ram1
fi
[ -b "$EXMAP_TEST_BLKDEV" ] && export EXMAP_TEST_BLKDEV

if [ -b "$fsdev" ] && mke2fs -q -F "$fsdev" >/dev/null 2>&1 &&
	modprobe -q ext4 2>/dev/null; mkdir -p /mnt/exmap-fs &&
	mount -t ext2 "$fsdev" /mnt/exmap-fs 2>/dev/null; then
	export EXMAP_TEST_DIR=/mnt/exmap-fs
fi

# null_blk with error injection: memory backed, sectors 0-63 bad. Its
# configuration lives in configfs, a module here.
modprobe -q configfs 2>/dev/null
grep -qs ' /sys/kernel/config ' /proc/mounts ||
	mount -t configfs configfs /sys/kernel/config 2>/dev/null
if modprobe -q null_blk nr_devices=0 2>/dev/null &&
	mkdir -p /sys/kernel/config/nullb/exmapbad 2>/dev/null; then
	nb=/sys/kernel/config/nullb/exmapbad
	echo 16 >$nb/size           # MiB
	echo 1 >$nb/memory_backed
	echo 0 >$nb/irqmode
	echo +0-63 >$nb/badblocks
	echo 1 >$nb/power
	# Named after the configfs item, or nullb<index> on older kernels.
	for dev in /dev/exmapbad "/dev/nullb$(cat $nb/index 2>/dev/null)"; do
		[ -b "$dev" ] && export EXMAP_TEST_BADDEV=$dev && break
	done
fi
# null_blk completing on a timer (irqmode 2), 300 ms after submission.
nb=/sys/kernel/config/nullb/exmapslow
if [ -d /sys/kernel/config/nullb ] && mkdir -p $nb 2>/dev/null; then
	echo 16 >$nb/size
	echo 2 >$nb/irqmode
	echo 300000000 >$nb/completion_nsec
	echo 1 >$nb/power
	for dev in /dev/exmapslow "/dev/nullb$(cat $nb/index 2>/dev/null)"; do
		[ -b "$dev" ] && export EXMAP_TEST_SLOWDEV=$dev && break
	done
fi
echo "devices: blk=${EXMAP_TEST_BLKDEV:-none} dir=${EXMAP_TEST_DIR:-none}" \
	"bad=${EXMAP_TEST_BADDEV:-none} slow=${EXMAP_TEST_SLOWDEV:-none}"
