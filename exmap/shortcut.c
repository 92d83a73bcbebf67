// SPDX-License-Identifier: GPL-2.0
/*
 * The one-run shortcut: pread() and pwrite() on the exmap fd.
 *
 *   pread(fd, area + page * 4096, len * 4096, interface)   READ
 *   pwrite(fd, area + page * 4096, len * 4096, interface)  WRITE
 *
 * The buffer names the area pages themselves (no data is copied through
 * it), the offset names the interface whose free list supplies the frames.
 * Both return the byte count when every page of the run is done, or -1 with
 * errno: the entry's error, or a malformed call's EINVAL. Without the
 * vector page this suits a thread that misses one page at a time, and it is
 * what io_uring's IORING_OP_READ and IORING_OP_WRITE run on this file.
 */
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/mm.h>

#include "exmap.h"

/* Runs up to this many pages need no allocation. */
#define EXMAP_SHORTCUT_INLINE	4

static ssize_t exmap_shortcut(struct file *file, unsigned long addr,
			      size_t count, loff_t pos, unsigned int opcode)
{
	struct exmap_ctx *ctx = file->private_data;
	struct bio_vec slots[EXMAP_SHORTCUT_INLINE];
	struct mm_struct *mm = current->mm;
	struct exmap_io_cmd cmd;
	struct exmap_entry entry;
	unsigned long page;
	u32 first_slot;
	struct exmap_io_space space = {
		.cmds = &cmd, .first_slot = &first_slot, .slots = slots,
		.max_nr = 1, .max_pages = EXMAP_SHORTCUT_INLINE,
	};
	int ret;

	ret = exmap_gate_ready(ctx);
	if (ret)
		return ret;
	if (pos < 0 || pos >= ctx->nr_interfaces || !PAGE_ALIGNED(addr) ||
	    !PAGE_ALIGNED(count) || !count ||
	    count > EXMAP_ENTRY_MAX_PAGES * PAGE_SIZE)
		return -EINVAL;
	ret = exmap_gate_io(ctx, opcode);
	if (ret)
		return ret;
	ret = exmap_gate_caller(ctx);
	if (ret)
		return ret;
	page = exmap_addr_page(ctx, addr);
	if (addr < ctx->area_start ||
	    !exmap_run_in_area(ctx, page, count >> PAGE_SHIFT))
		return -EINVAL;
	entry.page = page;
	entry.len = count >> PAGE_SHIFT;
	entry.res = 0;

	if (!exmap_area_whole(ctx)) {
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		if (!exmap_entry_vma(ctx, mm, &entry))
			ret = -EINVAL;
		mmap_read_unlock(mm);
		if (ret)
			return ret;
	}

	ret = exmap_io_sync(ctx, pos, opcode == EXMAP_OP_WRITE, &entry, 1,
			    &space, NULL);
	if (ret)
		return ret;
	return entry.res < 0 ? entry.res : count;
}

ssize_t exmap_shortcut_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos)
{
	return exmap_shortcut(file, (unsigned long)buf, count, *ppos,
			      EXMAP_OP_READ);
}

ssize_t exmap_shortcut_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	return exmap_shortcut(file, (unsigned long)buf, count, *ppos,
			      EXMAP_OP_WRITE);
}
