// SPDX-License-Identifier: GPL-2.0
/*
 * exmap: explicit, batched control of a memory-mapped area, for database
 * buffer managers.
 *
 * This file holds the misc device and the file operations: every open()
 * of /dev/exmap is a new context; mmap() dispatches on the offset to the
 * area or an interface; release gives every frame back to the system.
 */
#include <linux/build_bug.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "compat.h"
#include "exmap.h"

static int exmap_open(struct inode *inode, struct file *file)
{
	struct exmap_ctx *ctx;
	int ret;

	ret = exmap_may_open();
	if (ret)
		return ret;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->setup_lock);
	file->private_data = ctx;
	return 0;
}

/* Last reference gone: every VMA that mapped the context is closed. */
static int exmap_release(struct inode *inode, struct file *file)
{
	struct exmap_ctx *ctx = file->private_data;

	exmap_teardown(ctx);
	kfree(ctx);
	return 0;
}

static int exmap_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct exmap_ctx *ctx = file->private_data;
	int ret;

	mutex_lock(&ctx->setup_lock);
	if (!ctx->ready)
		ret = -EINVAL;
	else if (vma->vm_pgoff == 0)
		ret = exmap_area_mmap(ctx, vma);
	else
		ret = exmap_interface_mmap(ctx, vma);
	mutex_unlock(&ctx->setup_lock);
	return ret;
}

/*
 * The area starts at a 2 MiB boundary when the kernel chooses its address
 * and it spans at least 2 MiB: each aligned run of 512 pages then has a
 * page table of its own, which threads working on neighbouring runs do not
 * share (and a later 2 MiB mapping needs). Interfaces need nothing. The
 * search asks for 2 MiB more than the area and aligns what it finds, as
 * thp_get_unmapped_area() does; that one is only there with THP, and the
 * area does not depend on it. A hint the kernel can honour is kept.
 */
static unsigned long exmap_get_unmapped_area(struct file *file,
					     unsigned long addr,
					     unsigned long len,
					     unsigned long pgoff,
					     unsigned long flags)
{
	unsigned long padded = len + PMD_SIZE, ret;

	if (pgoff || (flags & MAP_FIXED) || len < PMD_SIZE || padded < len)
		return exmap_mm_get_unmapped_area(file, addr, len, pgoff,
						  flags);
	ret = exmap_mm_get_unmapped_area(file, addr, padded, pgoff, flags);
	if (IS_ERR_VALUE(ret))
		return exmap_mm_get_unmapped_area(file, addr, len, pgoff,
						  flags);
	if (addr && ret == addr)
		return ret;
	return ALIGN(ret, PMD_SIZE);
}

static void exmap_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct exmap_ctx *ctx = file->private_data;
	struct exmap_stats2 st2;
	struct exmap_stats *st = &st2.base;

	if (exmap_gate_ready(ctx))
		return;
	exmap_stats_fill(ctx, &st2);
	seq_printf(m, "exmap-interfaces:\t%u\n", ctx->nr_interfaces);
	seq_printf(m, "exmap-pool-size:\t%llu\n", st->pool_size);
	seq_printf(m, "exmap-frames-taken:\t%llu\n", st->frames_taken);
	seq_printf(m, "exmap-frames-in-use:\t%llu\n", st->frames_in_use);
	seq_printf(m, "exmap-tlb-flushes:\t%llu\n", st->tlb_flushes);
	seq_printf(m, "exmap-aliased-frames:\t%llu\n", st2.aliased_frames);
}

static const struct file_operations exmap_fops = {
	.owner = THIS_MODULE,
	.open = exmap_open,
	.release = exmap_release,
	.mmap = exmap_mmap,
	.get_unmapped_area = exmap_get_unmapped_area,
	.read = exmap_shortcut_read,
	.write = exmap_shortcut_write,
	.uring_cmd = exmap_uring_cmd,
	.unlocked_ioctl = exmap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = exmap_show_fdinfo,
	.llseek = noop_llseek,
};

static struct miscdevice exmap_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "exmap",
	.fops = &exmap_fops,
};

/* The UAPI's layout is ABI: pin every size and offset. */
#define EXMAP_CHECK_FIELD(type, field, offset)				\
	BUILD_BUG_ON(offsetof(struct type, field) != (offset))

static void __init exmap_check_uapi(void)
{
	BUILD_BUG_ON(PAGE_SIZE != EXMAP_PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct exmap_iov) * EXMAP_VEC_MAX !=
		     EXMAP_INTERFACE_SIZE);
	BUILD_BUG_ON(EXMAP_ENTRY_MAX_PAGES > S16_MAX);

	BUILD_BUG_ON(sizeof(struct exmap_setup) != 80);
	EXMAP_CHECK_FIELD(exmap_setup, pool_size, 0);
	EXMAP_CHECK_FIELD(exmap_setup, nr_interfaces, 8);
	EXMAP_CHECK_FIELD(exmap_setup, backing_fd, 12);
	EXMAP_CHECK_FIELD(exmap_setup, flags, 16);
	EXMAP_CHECK_FIELD(exmap_setup, backing_offset, 24);
	EXMAP_CHECK_FIELD(exmap_setup, resv, 32);
	EXMAP_CHECK_FIELD(exmap_setup, api, 64);
	EXMAP_CHECK_FIELD(exmap_setup, ioctls, 72);

	BUILD_BUG_ON(sizeof(struct exmap_iov) != 8);
	EXMAP_CHECK_FIELD(exmap_iov, page, 0);
	EXMAP_CHECK_FIELD(exmap_iov, len, 4);
	EXMAP_CHECK_FIELD(exmap_iov, res, 6);
	/* The kernel copy is loaded from an iov with one 8-byte read. */
	BUILD_BUG_ON(sizeof(struct exmap_entry) != sizeof(struct exmap_iov));
	BUILD_BUG_ON(offsetof(struct exmap_entry, page) !=
		     offsetof(struct exmap_iov, page));
	BUILD_BUG_ON(offsetof(struct exmap_entry, len) !=
		     offsetof(struct exmap_iov, len));
	BUILD_BUG_ON(offsetof(struct exmap_entry, res) !=
		     offsetof(struct exmap_iov, res));

	BUILD_BUG_ON(sizeof(struct exmap_action) != 16);
	EXMAP_CHECK_FIELD(exmap_action, interface, 0);
	EXMAP_CHECK_FIELD(exmap_action, nr, 4);
	EXMAP_CHECK_FIELD(exmap_action, opcode, 8);
	EXMAP_CHECK_FIELD(exmap_action, flags, 12);

	BUILD_BUG_ON(sizeof(struct exmap_stats) != 128);
	EXMAP_CHECK_FIELD(exmap_stats, pool_size, 0);
	EXMAP_CHECK_FIELD(exmap_stats, frames_taken, 8);
	EXMAP_CHECK_FIELD(exmap_stats, frames_in_use, 16);
	EXMAP_CHECK_FIELD(exmap_stats, frames_free, 24);
	EXMAP_CHECK_FIELD(exmap_stats, alloc_pages, 32);
	EXMAP_CHECK_FIELD(exmap_stats, free_pages, 40);
	EXMAP_CHECK_FIELD(exmap_stats, tlb_flushes, 48);
	EXMAP_CHECK_FIELD(exmap_stats, steals, 56);
	EXMAP_CHECK_FIELD(exmap_stats, read_pages, 64);
	EXMAP_CHECK_FIELD(exmap_stats, read_calls, 72);
	EXMAP_CHECK_FIELD(exmap_stats, write_pages, 80);
	EXMAP_CHECK_FIELD(exmap_stats, write_calls, 88);
	EXMAP_CHECK_FIELD(exmap_stats, resv, 96);

	BUILD_BUG_ON(sizeof(struct exmap_rewire) != 16);
	BUILD_BUG_ON(sizeof(struct exmap_rewire) * EXMAP_REWIRE_VEC_MAX !=
		     EXMAP_INTERFACE_SIZE);
	EXMAP_CHECK_FIELD(exmap_rewire, src, 0);
	EXMAP_CHECK_FIELD(exmap_rewire, dst, 4);
	EXMAP_CHECK_FIELD(exmap_rewire, len, 8);
	EXMAP_CHECK_FIELD(exmap_rewire, res, 10);
	EXMAP_CHECK_FIELD(exmap_rewire, resv, 12);

	BUILD_BUG_ON(sizeof(struct exmap_stats2) != 256);
	EXMAP_CHECK_FIELD(exmap_stats2, base, 0);
	EXMAP_CHECK_FIELD(exmap_stats2, aliased_frames, 128);
	EXMAP_CHECK_FIELD(exmap_stats2, alias_pages, 136);
	EXMAP_CHECK_FIELD(exmap_stats2, move_pages, 144);
	EXMAP_CHECK_FIELD(exmap_stats2, query_calls, 152);
	EXMAP_CHECK_FIELD(exmap_stats2, resv, 160);

	/* It must fit sqe->cmd of a plain 64-byte SQE: 16 bytes. */
	BUILD_BUG_ON(sizeof(struct exmap_uring_cmd) != 16);
	EXMAP_CHECK_FIELD(exmap_uring_cmd, page, 0);
	EXMAP_CHECK_FIELD(exmap_uring_cmd, len, 4);
	EXMAP_CHECK_FIELD(exmap_uring_cmd, resv, 6);
	EXMAP_CHECK_FIELD(exmap_uring_cmd, interface, 8);
	EXMAP_CHECK_FIELD(exmap_uring_cmd, flags, 12);
}

static int __init exmap_init(void)
{
	exmap_check_uapi();
	exmap_misc.mode = exmap_dev_mode();
	return misc_register(&exmap_misc);
}

static void __exit exmap_exit(void)
{
	misc_deregister(&exmap_misc);
}

module_init(exmap_init);
module_exit(exmap_exit);

MODULE_DESCRIPTION("exmap: explicit memory-mapped I/O for buffer managers");
MODULE_LICENSE("GPL");
