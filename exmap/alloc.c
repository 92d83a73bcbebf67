// SPDX-License-Identifier: GPL-2.0
/*
 * ALLOC and FREE of a vector of entries: frames from the pool into the
 * area's page tables and back, with one TLB shootdown per FREE.
 *
 * Both run with mmap_lock held for reading and the interface's lock held,
 * on entries that lie in the area (action.c checked them). @vma is the
 * area's one VMA while the area is whole, else NULL.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>

#include "exmap.h"

/*
 * The longest run of pages a FREE flushes by itself instead of flushing the
 * whole address space. x86 flushes a longer range whole anyway
 * (tlb_single_page_flush_ceiling, 33), so more is pointless; 0 turns the
 * range flush off.
 */
#define EXMAP_RANGE_FLUSH_MAX	33
static unsigned int range_flush_pages = EXMAP_RANGE_FLUSH_MAX;

static int exmap_range_flush_set(const char *val,
				 const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EXMAP_RANGE_FLUSH_MAX);
}

static const struct kernel_param_ops exmap_range_flush_ops = {
	.set = exmap_range_flush_set,
	.get = param_get_uint,
};
module_param_cb(range_flush_pages, &exmap_range_flush_ops,
		&range_flush_pages, 0644);
MODULE_PARM_DESC(range_flush_pages,
		 "Longest run of pages a FREE flushes alone, not the whole mm (0-33, default 33; 0: off)");

/*
 * ALLOC when the free lists held fewer frames than the entries have pages:
 * entry by entry, count the pages really unmapped (entries may overlap and
 * pages be mapped already), take what is missing from the pool, growing it
 * or stealing if need be, and map. An entry whose pages cannot all be
 * served fails with -ENOMEM and maps nothing; later ones may still fit.
 */
static unsigned long exmap_alloc_exact(struct exmap_ctx *ctx,
				       unsigned int ifidx,
				       struct vm_area_struct *vma,
				       struct exmap_entry *entries,
				       unsigned int nr,
				       struct exmap_frames *hand)
{
	struct mm_struct *mm = ctx->mm;
	unsigned long need, mapped = 0;
	struct exmap_entry *e;
	unsigned int i;

	for (i = 0, e = entries; i < nr; i++, e++) {
		exmap_pt_collect(ctx, mm, e, 1, NULL, NULL, false);
		need = e->len - e->res;
		e->res = 0;
		if (hand->nr < need)
			exmap_pool_get(ctx, ifidx, need - hand->nr, hand, true);
		if (hand->nr < need) {
			e->res = -ENOMEM;
			continue;
		}
		mapped += exmap_pt_install(ctx, mm, vma, e, 1, hand, NULL,
					   NULL);
	}
	return mapped;
}

void exmap_alloc(struct exmap_ctx *ctx, unsigned int ifidx,
		 struct vm_area_struct *vma, struct exmap_entry *entries,
		 unsigned int nr)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct exmap_frames hand = EXMAP_FRAMES_INIT;
	unsigned long want = 0, mapped;
	unsigned int i;

	lockdep_assert_held(&iface->lock);
	exmap_assert_mmap_locked(ctx->mm);
	/*
	 * Mostly the free lists hold a frame for every page, mapped or not,
	 * and one walk maps them: no count first. The pool grows only for
	 * pages that are really unmapped.
	 */
	for (i = 0; i < nr; i++)
		want += entries[i].len;
	exmap_pool_get(ctx, ifidx, want, &hand, false);
	if (hand.nr >= want)
		mapped = exmap_pt_install(ctx, ctx->mm, vma, entries, nr,
					  &hand, NULL, NULL);
	else
		mapped = exmap_alloc_exact(ctx, ifidx, vma, entries, nr,
					   &hand);
	iface->stats.mapped += mapped;
	exmap_pool_put(ctx, ifidx, &hand);
}

/*
 * The live entries, in vector order, form one run of neighbouring pages
 * short enough for a flush of just that run: true, with its range.
 */
static bool exmap_free_is_short_run(struct exmap_ctx *ctx,
				    const struct exmap_entry *entries,
				    unsigned int nr, unsigned long *start,
				    unsigned long *end)
{
	u64 first = entries[0].page, next = first;
	unsigned int i, max = READ_ONCE(range_flush_pages);

	for (i = 0; i < nr; i++) {
		if (entries[i].page != next)
			return false;
		next += entries[i].len;
		if (next - first > max)
			return false;
	}
	*start = exmap_page_addr(ctx, first);
	*end = exmap_page_addr(ctx, next);
	return true;
}

/*
 * FREE of one short run, every page of it mapped: mark the frames as this
 * call's (pagetable.c), so that no other FREE takes them, and let the
 * kernel clear the run and flush just its TLB entries. Returns false, with
 * nothing unmapped, if the run has a hole: a concurrent ALLOC could map a
 * page there that the kernel would then clear. The frames marked stay
 * marked for the caller's ordinary FREE, which clears them.
 */
static bool exmap_free_range(struct exmap_ctx *ctx, unsigned long owner,
			     struct vm_area_struct *vma,
			     struct exmap_entry *entries, unsigned int nr,
			     unsigned long start, unsigned long end,
			     struct exmap_frames *frames)
{
	struct exmap_frames marked = EXMAP_FRAMES_INIT;
	struct page *page;
	unsigned int i;

	if (exmap_pt_mark(ctx, ctx->mm, start, end, owner, &marked))
		return false;
	exmap_tlb_zap_range(vma, start, end);
	for (page = marked.head; page; page = *exmap_frame_link(page))
		exmap_frame_set_unmapped(page);
	for (i = 0; i < nr; i++)
		entries[i].res = entries[i].len;
	*frames = marked;
	return true;
}

void exmap_free(struct exmap_ctx *ctx, unsigned int ifidx,
		struct vm_area_struct *vma, struct exmap_entry *entries,
		unsigned int nr)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	unsigned long owner = EXMAP_FRAME_FREEING + ifidx;
	struct exmap_frames frames = EXMAP_FRAMES_INIT;
	struct mm_struct *mm = ctx->mm;
	unsigned long start, end, cleared;
	unsigned int i;

	lockdep_assert_held(&iface->lock);
	exmap_assert_mmap_locked(mm);
	if (exmap_free_is_short_run(ctx, entries, nr, &start, &end)) {
		if (!vma || end > vma->vm_end)
			vma = exmap_area_vma(ctx, mm, start, end);
		if (vma && exmap_free_range(ctx, owner, vma, entries, nr,
					    start, end, &frames)) {
			cleared = frames.nr;
			goto done;
		}
	}
	if (!vma)
		vma = exmap_entry_vma(ctx, mm, &entries[0]);

	exmap_tlb_batch_begin(mm);
	cleared = exmap_pt_clear(ctx, mm, entries, nr, owner, &frames);
	if (cleared && mm_has_notifiers(mm)) {
		/* Secondary MMUs (KVM, SVA) must hear of every entry. */
		for (i = 0; i < nr; i++)
			exmap_tlb_notify(mm, exmap_entry_start(ctx, &entries[i]),
					 exmap_entry_end(ctx, &entries[i]));
	}
	exmap_tlb_batch_end(mm, vma, cleared);
done:
	if (cleared) {
		iface->stats.unmapped += cleared;
		iface->stats.tlb_flushes++;
	}
	/* A frame still mapped at another page (ALIAS) is not freed. */
	iface->stats.released += frames.nr;
	exmap_pool_put(ctx, ifidx, &frames);
}
