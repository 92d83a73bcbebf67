// SPDX-License-Identifier: GPL-2.0
/*
 * READ and WRITE against the backing store.
 *
 * One struct exmap_io carries a vector of entries through the I/O: a kiocb
 * per entry, and a bio_vec per page that names the page's frame. Every
 * entry's I/O is submitted before any is waited for, so one call with 64
 * scattered pages keeps the device's queue full. The kiocbs are
 * asynchronous (->ki_complete set), the same way io_uring and aio drive
 * O_DIRECT files and block devices; a file system that completes one at
 * once is fine too.
 *
 * READ reads into fresh frames and maps them only once the data is there, so
 * no thread ever sees a half-read page; pages that are mapped by the time
 * the data arrives keep their frame and the new one goes back to the pool.
 * WRITE writes the frames that are mapped when the call starts and leaves
 * them mapped.
 *
 * No mmap_lock is held while I/O is in flight: a READ or WRITE must not
 * block munmap, mmap or page faults of other threads for a device's time.
 * The caller makes sure the frames cannot go away: a READ's frames belong
 * to no page yet, and a WRITE's pages are latched by the buffer manager.
 */
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "exmap.h"

static void exmap_io_put(struct exmap_io *io)
{
	if (atomic_dec_and_test(&io->pending))
		io->done(io);
}

/* Called from the device's completion context, or at once on submission. */
static void exmap_io_complete(struct kiocb *iocb, long ret)
{
	struct exmap_io_cmd *cmd = container_of(iocb, struct exmap_io_cmd,
						iocb);

	cmd->ret = ret;
	exmap_io_put(cmd->io);
}

/* An interface's space: a full vector of one-page entries, and then some. */
#define EXMAP_SPACE_PAGES	(2 * EXMAP_VEC_MAX)

struct exmap_io_space *exmap_io_space_alloc(void)
{
	struct exmap_io_space *space;

	space = kvzalloc(sizeof(*space) +
			 EXMAP_VEC_MAX * sizeof(*space->cmds) +
			 EXMAP_VEC_MAX * sizeof(*space->first_slot) +
			 EXMAP_SPACE_PAGES * sizeof(*space->slots),
			 GFP_KERNEL_ACCOUNT);
	if (!space)
		return NULL;
	space->cmds = (struct exmap_io_cmd *)(space + 1);
	space->slots = (struct bio_vec *)(space->cmds + EXMAP_VEC_MAX);
	space->first_slot = (u32 *)(space->slots + EXMAP_SPACE_PAGES);
	space->max_nr = EXMAP_VEC_MAX;
	space->max_pages = EXMAP_SPACE_PAGES;
	return space;
}

void exmap_io_space_free(struct exmap_io_space *space)
{
	kvfree(space);
}

/*
 * Sets up @io for @nr entries, in @space when it is large enough, else in
 * arrays of its own allocated with @gfp.
 */
int exmap_io_init(struct exmap_io *io, struct exmap_ctx *ctx,
		  unsigned int ifidx, bool write, struct exmap_entry *entries,
		  unsigned int nr, gfp_t gfp, struct exmap_io_space *space)
{
	unsigned long pages = 0;
	unsigned int i;

	memset(io, 0, sizeof(*io));
	io->ctx = ctx;
	io->ifidx = ifidx;
	io->write = write;
	io->entries = entries;
	io->nr = nr;
	for (i = 0; i < nr; i++)
		pages += entries[i].len;
	io->pages = pages;

	if (space && nr <= space->max_nr && pages <= space->max_pages) {
		io->cmds = space->cmds;
		io->first_slot = space->first_slot;
		io->slots = space->slots;
		memset(io->slots, 0, pages * sizeof(*io->slots));
	} else {
		io->own_arrays = true;
		io->cmds = kvcalloc(nr, sizeof(*io->cmds), gfp);
		io->first_slot = kvcalloc(nr, sizeof(*io->first_slot), gfp);
		io->slots = kvcalloc(pages, sizeof(*io->slots), gfp);
		if (!io->cmds || !io->first_slot || !io->slots) {
			exmap_io_destroy(io);
			return -ENOMEM;
		}
	}
	pages = 0;
	for (i = 0; i < nr; i++) {
		io->first_slot[i] = pages;
		pages += entries[i].len;
	}
	return 0;
}

void exmap_io_destroy(struct exmap_io *io)
{
	if (io->own_arrays) {
		kvfree(io->cmds);
		kvfree(io->first_slot);
		kvfree(io->slots);
	}
	io->cmds = NULL;
	io->first_slot = NULL;
	io->slots = NULL;
}

/*
 * READ: gives every entry a fresh frame per page, in order; an entry the
 * pool cannot fully serve fails with -ENOMEM. May sleep, unless @nowait:
 * then no frame is taken from the system. Returns false if an entry failed.
 */
bool exmap_io_get_frames(struct exmap_io *io, bool nowait)
{
	struct exmap_frames frames = EXMAP_FRAMES_INIT;
	struct exmap_entry *e;
	struct bio_vec *slot;
	bool all = true;
	unsigned int i, k;

	exmap_pool_get(io->ctx, io->ifidx, io->pages, &frames, !nowait);
	for (i = 0; i < io->nr; i++) {
		e = &io->entries[i];
		if (!exmap_entry_live(e))
			continue;
		if (e->len > frames.nr) {
			e->res = -ENOMEM;
			all = false;
			continue;
		}
		slot = &io->slots[io->first_slot[i]];
		for (k = 0; k < e->len; k++)
			slot[k].bv_page = exmap_frames_pop(&frames);
	}
	exmap_pool_put(io->ctx, io->ifidx, &frames);
	return all;
}

/* Gives back every frame still named by a slot (READ only). */
void exmap_io_put_frames(struct exmap_io *io)
{
	struct exmap_frames frames = EXMAP_FRAMES_INIT;
	struct page *page;
	unsigned long i;

	for (i = 0; i < io->pages; i++) {
		page = io->slots[i].bv_page;
		if (!page)
			continue;
		io->slots[i].bv_page = NULL;
		exmap_frames_push(&frames, page);
	}
	exmap_pool_put(io->ctx, io->ifidx, &frames);
}

/*
 * Submits the I/O of every live entry and returns still holding the
 * submitter's reference on io->pending; whoever drops the last reference
 * runs io->done.
 */
static void exmap_io_start(struct exmap_io *io)
{
	struct file *file = io->ctx->backing;
	struct exmap_io_cmd *cmd;
	struct exmap_entry *e;
	struct bio_vec *bv;
	struct iov_iter iter;
	unsigned int i, k, live = 0;
	size_t bytes;
	ssize_t ret;

	for (i = 0; i < io->nr; i++)
		live += exmap_entry_live(&io->entries[i]);
	/* One reference per entry in flight, one for the submitter. */
	atomic_set(&io->pending, live + 1);

	if (io->write)
		file_start_write(file);
	for (i = 0; i < io->nr; i++) {
		e = &io->entries[i];
		if (!exmap_entry_live(e))
			continue;
		cmd = &io->cmds[i];
		cmd->io = io;
		bv = &io->slots[io->first_slot[i]];
		for (k = 0; k < e->len; k++) {
			bv[k].bv_len = PAGE_SIZE;
			bv[k].bv_offset = 0;
		}
		bytes = (size_t)e->len << PAGE_SHIFT;
		init_sync_kiocb(&cmd->iocb, file);
		cmd->iocb.ki_pos = io->ctx->backing_offset +
				   ((loff_t)e->page << PAGE_SHIFT);
		/*
		 * A lone synchronous entry has nothing to overlap with; a
		 * synchronous kiocb lets block devices use their cheaper
		 * on-stack bio path.
		 */
		if (live > 1 || !io->sync_ok)
			cmd->iocb.ki_complete = exmap_io_complete;
		if (io->write) {
			iov_iter_bvec(&iter, ITER_SOURCE, bv, e->len, bytes);
			ret = vfs_iocb_iter_write(file, &cmd->iocb, &iter);
		} else {
			iov_iter_bvec(&iter, ITER_DEST, bv, e->len, bytes);
			ret = vfs_iocb_iter_read(file, &cmd->iocb, &iter);
		}
		if (ret != -EIOCBQUEUED)
			exmap_io_complete(&cmd->iocb, ret);
	}
	if (io->write)
		file_end_write(file);
}

/*
 * Submits the I/O of every live entry; @done runs once all have completed,
 * possibly before this returns and possibly in interrupt context.
 */
void exmap_io_submit(struct exmap_io *io, void (*done)(struct exmap_io *))
{
	io->done = done;
	exmap_io_start(io);
	exmap_io_put(io);
}

/*
 * Turns each submitted entry's I/O result into its res: 0 so far for a
 * complete transfer (READ then counts pages mapped), else -errno. A short
 * READ (past the end of a file) gives -ENODATA, a short WRITE -EIO.
 * Returns the pages moved.
 */
unsigned long exmap_io_results(struct exmap_io *io)
{
	unsigned long moved = 0;
	struct exmap_entry *e;
	unsigned int i;
	long ret;

	for (i = 0; i < io->nr; i++) {
		e = &io->entries[i];
		if (!exmap_entry_live(e))
			continue;
		ret = io->cmds[i].ret;
		if (ret == (long)e->len << PAGE_SHIFT) {
			moved += e->len;
			e->res = io->write ? e->len : 0;
			continue;
		}
		/* A failed READ's frames stay in its slots and go back later. */
		e->res = ret < 0 ? ret : io->write ? -EIO : -ENODATA;
	}
	return moved;
}

/*
 * READ does not read into a page whose frame ALIAS shares with another
 * page: such an entry gets -EBUSY and maps nothing. Checked only while the
 * context has shared frames at all.
 */
static void exmap_io_fail_shared(struct exmap_io *io, struct mm_struct *mm)
{
	struct exmap_entry *e;
	unsigned int i;

	exmap_pt_collect(io->ctx, mm, io->entries, io->nr, NULL, NULL, true);
	for (i = 0; i < io->nr; i++) {
		e = &io->entries[i];
		if (exmap_entry_live(e))
			e->res = e->res ? -EBUSY : 0;
	}
}

/*
 * READ, last step, in the caller's mm: maps the frames of the entries whose
 * data arrived, where the pages are still unmapped and still in the area
 * (part of it may have been unmapped while the data came: those entries
 * get -EFAULT), and gives the other frames back. Takes mmap_lock for
 * reading. Returns the number of pages mapped.
 */
unsigned long exmap_io_map(struct exmap_io *io, struct mm_struct *mm)
{
	struct exmap_ctx *ctx = io->ctx;
	unsigned long mapped;

	mmap_read_lock(mm);
	exmap_entries_fail_outside(ctx, mm, io->entries, io->nr, -EFAULT);
	if (atomic64_read(&ctx->stats.shared) > 0)
		exmap_io_fail_shared(io, mm);
	mapped = exmap_pt_install(ctx, mm, exmap_area_whole_vma(ctx, mm),
				  io->entries, io->nr, NULL, io->slots,
				  io->first_slot);
	mmap_read_unlock(mm);
	exmap_io_put_frames(io);
	return mapped;
}

/*
 * WRITE, first step: records the frames of the entries' pages. An entry
 * with an unmapped page fails with -EFAULT and writes nothing. Called with
 * mmap_lock held, on entries that lie in the area.
 */
void exmap_io_collect(struct exmap_io *io, struct mm_struct *mm)
{
	struct exmap_entry *e;
	unsigned int i;

	exmap_assert_mmap_locked(mm);
	exmap_pt_collect(io->ctx, mm, io->entries, io->nr, io->slots,
			 io->first_slot, false);
	for (i = 0; i < io->nr; i++) {
		e = &io->entries[i];
		if (exmap_entry_live(e))
			e->res = e->res != e->len ? -EFAULT : 0;
	}
}

static void exmap_io_wake(struct exmap_io *io)
{
	complete(&io->wait);
}

/*
 * A synchronous READ or WRITE of a vector, for ACTION and the pread/pwrite
 * shortcut. Entries are checked; no lock is held but the one that makes
 * @space (may be NULL) and @count (NULL: count in the context's shared
 * counters) the caller's. Results go to each entry's res.
 */
int exmap_io_sync(struct exmap_ctx *ctx, unsigned int ifidx, bool write,
		  struct exmap_entry *entries, unsigned int nr,
		  struct exmap_io_space *space, struct exmap_counters *count)
{
	struct mm_struct *mm = current->mm;
	struct exmap_io io;
	unsigned long moved;
	int err;

	err = exmap_io_init(&io, ctx, ifidx, write, entries, nr, GFP_KERNEL,
			    space);
	if (err)
		return err;
	io.sync_ok = true;
	init_completion(&io.wait);

	if (write) {
		if (mmap_read_lock_killable(mm)) {
			exmap_io_destroy(&io);
			return -EINTR;
		}
		exmap_entries_fail_outside(ctx, mm, entries, nr, -EFAULT);
		exmap_io_collect(&io, mm);
		mmap_read_unlock(mm);
	} else {
		exmap_io_get_frames(&io, false);
	}

	io.done = exmap_io_wake;
	exmap_io_start(&io);
	/*
	 * The device owns the frames until every kiocb has completed. When
	 * all completed during submission (a lone entry on a block device
	 * always does), the submitter's reference is the last and nobody
	 * else will touch @io: the completion round trip is skipped.
	 */
	if (!atomic_dec_and_test(&io.pending))
		wait_for_completion_io(&io.wait);

	moved = exmap_io_results(&io);
	exmap_count_io(ctx, count, write, moved);
	if (!write)
		exmap_count_mapped(ctx, count, exmap_io_map(&io, mm));
	exmap_io_destroy(&io);
	return 0;
}
