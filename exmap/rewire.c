// SPDX-License-Identifier: GPL-2.0
/*
 * Rewiring: ALIAS and MOVE map the frames of mapped pages at other pages of
 * the area, without copying (as the rewiring research module did with one
 * non-linear mapping); QUERY reports which pages are mapped.
 *
 * ALIAS and MOVE take a vector of struct exmap_rewire (source run,
 * destination run). Each entry is checked first, under mmap_lock: every
 * source page mapped, every destination page empty; an entry that fails
 * that gets -ENOENT or -EEXIST and changes nothing. Then its pages are
 * rewired one by one under the PTE locks of both (pagetable.c), each
 * checked again: only another thread working on the same pages at the same
 * time can make that fail, and then the pages before it stay rewired.
 * ALIAS needs no flush: it only fills empty PTEs. MOVE clears its sources
 * and flushes once per call, as FREE does.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/slab.h>

#include "exmap.h"

/* Both runs of @e lie in the area and do not overlap. */
static bool exmap_rewire_entry_ok(struct exmap_ctx *ctx,
				  const struct exmap_rewire_entry *e)
{
	u64 src = e->src, dst = e->dst;

	return exmap_run_in_area(ctx, src, e->len) &&
	       exmap_run_in_area(ctx, dst, e->len) &&
	       (src + e->len <= dst || dst + e->len <= src);
}

/*
 * Copies the first @nr entries of the interface's vector (as struct
 * exmap_rewire) and checks them; on a bad one, marks it in the user's
 * vector and returns -EINVAL.
 */
static int exmap_rewire_load(struct exmap_ctx *ctx,
			     struct exmap_interface *iface, unsigned int nr)
{
	struct exmap_rewire *vec = (void *)exmap_interface_vec(iface);
	struct exmap_rewire_entry *e;
	unsigned int i;
	u32 resv;

	lockdep_assert_held(&iface->lock);
	if (!vec)
		return -ENOMEM;
	if (!iface->rewires) {
		iface->rewires = kmalloc_array(EXMAP_REWIRE_VEC_MAX,
					       sizeof(*iface->rewires),
					       GFP_KERNEL_ACCOUNT);
		if (!iface->rewires)
			return -ENOMEM;
	}
	for (i = 0, e = iface->rewires; i < nr; i++, e++) {
		e->src = READ_ONCE(vec[i].src);
		e->dst = READ_ONCE(vec[i].dst);
		e->len = READ_ONCE(vec[i].len);
		e->res = 0;
		resv = READ_ONCE(vec[i].resv);
		if (resv || !exmap_rewire_entry_ok(ctx, e)) {
			WRITE_ONCE(vec[i].res, -EINVAL);
			return -EINVAL;
		}
	}
	return 0;
}

static long exmap_rewire_store(struct exmap_interface *iface,
			       unsigned int nr)
{
	struct exmap_rewire *vec = page_address(iface->vec_page);
	struct exmap_rewire_entry *e = iface->rewires;
	unsigned int i, failed = 0;

	for (i = 0; i < nr; i++, e++) {
		WRITE_ONCE(vec[i].res, e->res);
		failed += e->res < 0;
	}
	return failed;
}

/* The pieces of the area both runs of @e lie in; false if one does not. */
static bool exmap_rewire_vmas(struct exmap_ctx *ctx, struct mm_struct *mm,
			      const struct exmap_rewire_entry *e,
			      struct vm_area_struct **dvma)
{
	unsigned long pages = (unsigned long)e->len << PAGE_SHIFT;
	unsigned long src = exmap_page_addr(ctx, e->src);
	unsigned long dst = exmap_page_addr(ctx, e->dst);

	*dvma = exmap_area_vma(ctx, mm, dst, dst + pages);
	return *dvma && exmap_area_vma(ctx, mm, src, src + pages);
}

/*
 * Every source page of @e mapped and every destination page empty: 0, or
 * -ENOENT / -EEXIST.
 */
static int exmap_rewire_check(struct exmap_ctx *ctx, struct mm_struct *mm,
			      const struct exmap_rewire_entry *e)
{
	struct exmap_entry run = { .page = e->src, .len = e->len };

	exmap_pt_collect(ctx, mm, &run, 1, NULL, NULL, false);
	if (run.res != e->len)
		return -ENOENT;
	run = (struct exmap_entry){ .page = e->dst, .len = e->len };
	exmap_pt_collect(ctx, mm, &run, 1, NULL, NULL, false);
	return run.res ? -EEXIST : 0;
}

/* Runs ALIAS or MOVE over the loaded entries; returns the pages rewired. */
static unsigned long exmap_rewire_entries(struct exmap_ctx *ctx,
					  struct mm_struct *mm,
					  struct vm_area_struct *whole,
					  struct exmap_rewire_entry *entries,
					  unsigned int nr, bool move)
{
	struct vm_area_struct *dvma = whole, *any = whole;
	struct exmap_rewire_entry *e;
	unsigned long done = 0;
	unsigned int i;
	int err;

	if (move)
		exmap_tlb_batch_begin(mm);
	for (i = 0, e = entries; i < nr; i++, e++) {
		if (!whole)
			exmap_rewire_vmas(ctx, mm, e, &dvma);
		any = dvma;
		err = exmap_rewire_check(ctx, mm, e);
		if (!err)
			err = exmap_pt_rewire(ctx, mm, dvma, e, move);
		done += e->res;
		if (err)
			e->res = err;
	}
	if (move) {
		if (done && mm_has_notifiers(mm)) {
			for (i = 0, e = entries; i < nr; i++, e++)
				exmap_tlb_notify(mm,
					exmap_page_addr(ctx, e->src),
					exmap_page_addr(ctx, e->src + e->len));
		}
		exmap_tlb_batch_end(mm, any, done);
	}
	return done;
}

/*
 * ALIAS (or MOVE) of the first @nr entries of interface @ifidx's vector,
 * which holds struct exmap_rewire entries. Called with the interface lock
 * held; returns the number of entries that failed, or -errno when the call
 * is refused.
 */
long exmap_rewire(struct exmap_ctx *ctx, unsigned int ifidx, bool move,
		  unsigned int nr)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *whole, *dvma;
	struct exmap_rewire *vec;
	unsigned long done;
	unsigned int i;
	int ret;

	ret = exmap_rewire_load(ctx, iface, nr);
	if (ret)
		return ret;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	whole = exmap_area_whole_vma(ctx, mm);
	for (i = 0; !whole && i < nr; i++) {
		if (!exmap_rewire_vmas(ctx, mm, &iface->rewires[i], &dvma)) {
			mmap_read_unlock(mm);
			vec = page_address(iface->vec_page);
			WRITE_ONCE(vec[i].res, -EINVAL);
			return -EINVAL;
		}
	}
	done = exmap_rewire_entries(ctx, mm, whole, iface->rewires, nr, move);
	mmap_read_unlock(mm);

	if (move) {
		iface->stats.move_pages += done;
		iface->stats.tlb_flushes += done != 0;
	} else {
		iface->stats.alias_pages += done;
	}
	return exmap_rewire_store(iface, nr);
}

/*
 * QUERY: each entry's res becomes the number of its pages that are mapped
 * (@shared: whose frame is also mapped at another page). Called with the
 * interface lock and mmap_lock held, on entries in the area.
 */
void exmap_query(struct exmap_ctx *ctx, unsigned int ifidx,
		 struct exmap_entry *entries, unsigned int nr, bool shared)
{
	exmap_pt_collect(ctx, ctx->mm, entries, nr, NULL, NULL, shared);
	ctx->ifaces[ifidx].stats.query_calls++;
}
