// SPDX-License-Identifier: GPL-2.0
/*
 * Frames mapped at more than one page of the area (ALIAS), and the frame
 * state that goes with it.
 *
 * The kernel keeps no reverse map for the area's special PTEs, so the
 * module must know itself where a frame is mapped: when FREE clears one of
 * its pages it must know whether that was the last, and when munmap takes
 * a range away it must know which frames had pages there. A frame mapped
 * at one page records that page in page->private. Once ALIAS maps it at a
 * second page, it switches to the aliased state: page->private holds
 * EXMAP_FRAME_ALIASED + the number of pages it is mapped at, and every one
 * of those pages is in pool->aliases (area page index -> frame). It stays
 * in that state until its last page is unmapped; then it is free again.
 *
 * Every change to a frame's mappings happens under the PTE lock of the
 * page that changes, and ALIAS and MOVE hold the locks of both pages. The
 * count is changed with cmpxchg: two pages of one frame may lie in two
 * page tables, and two FREEs may clear them at once. The alias map's own
 * lock nests inside the PTE locks; stores into it use GFP_NOWAIT, and a
 * caller that gets -ENOMEM drops its locks, reserves the slot with
 * exmap_alias_reserve() and tries again.
 */
#include <linux/mm.h>
#include <linux/xarray.h>

#include "exmap.h"

/* Adds @delta to an aliased frame's count; returns the new count. */
static unsigned long exmap_alias_count_add(struct page *page, long delta)
{
	unsigned long old = READ_ONCE(page->private), new;

	do {
		new = old + delta;
	} while (!try_cmpxchg(&page->private, &old, new));
	return new - EXMAP_FRAME_ALIASED;
}

/* Reserves the alias map's slot for @index (GFP_KERNEL, may sleep). */
int exmap_alias_reserve(struct exmap_ctx *ctx, unsigned long index)
{
	return xa_reserve(&ctx->pool.aliases, index, GFP_KERNEL);
}

/* Gives a reserved slot back, if it is still unused. */
void exmap_alias_unreserve(struct exmap_ctx *ctx, unsigned long index)
{
	xa_release(&ctx->pool.aliases, index);
}

/*
 * Frame @page, mapped at area page @src (its PTE lock held), is being
 * mapped at @dst too (its PTE lock held, PTE still empty). Records that,
 * or returns -ENOMEM with nothing changed.
 */
int exmap_alias_add(struct exmap_ctx *ctx, struct page *page,
		    unsigned long src, unsigned long dst)
{
	struct xarray *xa = &ctx->pool.aliases;
	unsigned long v = READ_ONCE(page->private);
	int err;

	err = xa_err(xa_store(xa, dst, page, GFP_NOWAIT));
	if (err)
		return err;
	if (exmap_frame_is_aliased(v)) {
		if (exmap_alias_count_add(page, 1) == 2)
			atomic64_inc(&ctx->stats.shared);
		return 0;
	}
	/* Mapped at @src alone: nothing else can reach it but through it. */
	err = xa_err(xa_store(xa, src, page, GFP_NOWAIT));
	if (err) {
		xa_erase(xa, dst);
		return err;
	}
	WRITE_ONCE(page->private, EXMAP_FRAME_ALIASED + 2);
	atomic64_inc(&ctx->stats.shared);
	return 0;
}

/*
 * Frame @page moves from area page @src to @dst (both PTE locks held).
 * Records that, or returns -ENOMEM with nothing changed.
 */
int exmap_alias_move(struct exmap_ctx *ctx, struct page *page,
		     unsigned long src, unsigned long dst)
{
	struct xarray *xa = &ctx->pool.aliases;
	int err;

	if (!exmap_frame_is_aliased(READ_ONCE(page->private))) {
		exmap_frame_set_mapped(page, dst);
		return 0;
	}
	err = xa_err(xa_store(xa, dst, page, GFP_NOWAIT));
	if (err)
		return err;
	xa_erase(xa, src);
	return 0;
}

/*
 * The PTE of area page @index, which pointed at aliased frame @page, has
 * been cleared (its lock held). Returns true if that was the frame's last
 * page: the frame is then unmapped (private 0).
 */
bool exmap_alias_remove(struct exmap_ctx *ctx, struct page *page,
			unsigned long index)
{
	unsigned long left;

	xa_erase(&ctx->pool.aliases, index);
	left = exmap_alias_count_add(page, -1);
	if (left == 1)
		atomic64_dec(&ctx->stats.shared);
	if (left)
		return false;
	exmap_frame_set_unmapped(page);
	return true;
}

/* True if @page is mapped at two pages or more. */
bool exmap_alias_shared(struct page *page)
{
	unsigned long v = READ_ONCE(page->private);

	return exmap_frame_is_aliased(v) && v - EXMAP_FRAME_ALIASED >= 2;
}

/*
 * Pages [first, end) of the area went away (munmap, exit; see
 * exmap_pool_reclaim()): forgets them in the alias map, and pushes the
 * aliased frames that had their last pages there onto @freed.
 */
void exmap_alias_reclaim(struct exmap_ctx *ctx, unsigned long first,
			 unsigned long end, struct exmap_frames *freed)
{
	struct xarray *xa = &ctx->pool.aliases;
	struct page *page;
	unsigned long index;

	xa_for_each_range(xa, index, page, first, end - 1) {
		if (exmap_alias_remove(ctx, page, index))
			exmap_frames_push(freed, page);
	}
}
