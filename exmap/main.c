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
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

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

	if (ctx->ready) {
		exmap_pool_destroy(ctx);
		exmap_interfaces_destroy(ctx);
	}
	if (ctx->backing)
		fput(ctx->backing);
	exmap_limits_uncharge(ctx);
	if (ctx->mm)
		mmdrop(ctx->mm);
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

void exmap_stats_fill(struct exmap_ctx *ctx, struct exmap_stats *st)
{
	struct exmap_counters *c = &ctx->stats;
	unsigned long taken;
	long in_use;

	/*
	 * A frame is taken before it is counted in use, and taken never
	 * shrinks: read in use first, and the difference cannot go negative.
	 */
	in_use = atomic_long_read(&ctx->pool.in_use);
	/* Orders the two reads; pairs with the lock release in growth. */
	smp_rmb();
	taken = exmap_pool_nr_taken(ctx);
	if (in_use < 0 || in_use > taken)
		in_use = min_t(long, max(in_use, 0L), taken);

	memset(st, 0, sizeof(*st));
	st->pool_size = ctx->pool.size;
	st->frames_taken = taken;
	st->frames_in_use = in_use;
	st->frames_free = taken - in_use;
	st->alloc_pages = atomic64_read(&c->alloc_pages);
	st->free_pages = atomic64_read(&c->free_pages);
	st->tlb_flushes = atomic64_read(&c->tlb_flushes);
	st->steals = atomic64_read(&c->steals);
	st->read_pages = atomic64_read(&c->read_pages);
	st->read_calls = atomic64_read(&c->read_calls);
	st->write_pages = atomic64_read(&c->write_pages);
	st->write_calls = atomic64_read(&c->write_calls);
}

static void exmap_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct exmap_ctx *ctx = file->private_data;
	struct exmap_stats st;

	/* Pairs with the release at the end of SETUP. */
	if (!smp_load_acquire(&ctx->ready))
		return;
	exmap_stats_fill(ctx, &st);
	seq_printf(m, "exmap-interfaces:\t%u\n", ctx->nr_interfaces);
	seq_printf(m, "exmap-pool-size:\t%llu\n", st.pool_size);
	seq_printf(m, "exmap-frames-taken:\t%llu\n", st.frames_taken);
	seq_printf(m, "exmap-frames-in-use:\t%llu\n", st.frames_in_use);
	seq_printf(m, "exmap-tlb-flushes:\t%llu\n", st.tlb_flushes);
}

static const struct file_operations exmap_fops = {
	.owner = THIS_MODULE,
	.open = exmap_open,
	.release = exmap_release,
	.mmap = exmap_mmap,
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

static int __init exmap_init(void)
{
	BUILD_BUG_ON(PAGE_SIZE != EXMAP_PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct exmap_iov) * EXMAP_VEC_MAX !=
		     EXMAP_INTERFACE_SIZE);
	BUILD_BUG_ON(sizeof(struct exmap_entry) != sizeof(struct exmap_iov));
	BUILD_BUG_ON(sizeof(struct exmap_setup) != 80);
	BUILD_BUG_ON(sizeof(struct exmap_action) != 16);
	BUILD_BUG_ON(sizeof(struct exmap_stats) != 128);
	BUILD_BUG_ON(EXMAP_ENTRY_MAX_PAGES > S16_MAX);

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
