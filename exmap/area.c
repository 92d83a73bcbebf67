// SPDX-License-Identifier: GPL-2.0
/*
 * The area: the VMA at mmap offset 0 that holds the buffer pool's pages.
 *
 * Linux does not manage it. It is VM_PFNMAP | VM_IO, so reclaim, THP, KSM,
 * NUMA balancing, madvise(MADV_DONTNEED) and get_user_pages() all leave it
 * alone; only ALLOC/READ put PTEs in and only FREE, munmap and exit take
 * them out. A touch of an unmapped page gets SIGSEGV, which a buffer
 * manager's optimistic reader catches.
 *
 * The area is not copied on fork, cannot grow or move, and is left out of
 * core dumps. Parts of it may be unmapped: the kernel clears and flushes
 * their PTEs, and the close callback then hands their frames to the pool.
 */
#include <linux/mm.h>

#include "exmap.h"

static vm_fault_t exmap_area_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGSEGV;
}

/* Splitting (partial munmap or mprotect) is fine: pieces keep their ctx. */
static void exmap_area_open(struct vm_area_struct *vma)
{
	struct exmap_ctx *ctx = vma->vm_private_data;

	WRITE_ONCE(ctx->area_whole, false);
}

static void exmap_area_close(struct vm_area_struct *vma)
{
	struct exmap_ctx *ctx = vma->vm_private_data;
	unsigned long first, end;

	WRITE_ONCE(ctx->area_whole, false);

	/*
	 * A failed mremap() closes a copy placed elsewhere; it never held
	 * frames, and its addresses say so.
	 */
	if (vma->vm_mm != ctx->mm || vma->vm_start < ctx->area_start)
		return;
	first = (vma->vm_start - ctx->area_start) >> PAGE_SHIFT;
	end = (vma->vm_end - ctx->area_start) >> PAGE_SHIFT;
	if (first >= ctx->area_pages)
		return;
	exmap_pool_reclaim(ctx, first, min(end, ctx->area_pages));
}

/* Page index == address offset forever: the area must not move. */
static int exmap_area_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct exmap_area_vm_ops = {
	.open = exmap_area_open,
	.close = exmap_area_close,
	.mremap = exmap_area_mremap,
	.fault = exmap_area_fault,
};

/* Called with ctx->setup_lock and mmap_lock (write) held. */
int exmap_area_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);

	if (ctx->mm)
		return -EBUSY;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (pages > EXMAP_AREA_MAX_PAGES)
		return -EINVAL;

	vma->vm_flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP |
			 VM_DONTCOPY;
	vma->vm_ops = &exmap_area_vm_ops;
	vma->vm_private_data = ctx;

	mmgrab(vma->vm_mm);
	ctx->area_start = vma->vm_start;
	ctx->area_pages = pages;
	ctx->area_whole = true;
	/* Publishes the area fields; pairs with exmap_action(). */
	smp_store_release(&ctx->mm, vma->vm_mm);
	return 0;
}

/*
 * Returns the area VMA that covers [start, end) in @mm, or NULL. Called with
 * mmap_lock held.
 */
struct vm_area_struct *exmap_area_vma(struct exmap_ctx *ctx,
				      struct mm_struct *mm,
				      unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma = vma_lookup(mm, start);

	if (!vma || vma->vm_ops != &exmap_area_vm_ops ||
	    vma->vm_private_data != ctx || end > vma->vm_end)
		return NULL;
	return vma;
}

/*
 * True while the area is still the one VMA that mmap() made: never split
 * (mprotect, partial munmap) nor unmapped. Every entry within the area's
 * size then lies in it, so READ and WRITE skip the per-entry VMA lookups.
 * It only ever goes from true to false. Read without mmap_lock, it may be
 * stale; the walks that map or collect PTEs still look the VMA up under
 * the lock and enter only the area's own (exmap_vma_in_area()). The one
 * moment it is true while the area is gone is while munmap() of the whole
 * area runs with mmap_lock downgraded: the area's range is then a hole in
 * which no other mapping can appear, and the walks find nothing there.
 */
bool exmap_area_whole(struct exmap_ctx *ctx)
{
	return READ_ONCE(ctx->area_whole);
}

/*
 * After a walk done without per-entry VMA checks, because the area was
 * whole: an entry that the walk did not fully serve (res below len, or an
 * error, such as -ENOMEM for frames that the munmap has not given back
 * yet) is looked up, and gets @err if it does not lie in the area. That
 * only happens while a munmap() of the whole area is under way. Called
 * with mmap_lock held.
 */
void exmap_entries_recheck(struct exmap_ctx *ctx, struct mm_struct *mm,
			   struct exmap_entry *entries, unsigned int nr,
			   int err)
{
	struct exmap_entry *e;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		e = &entries[i];
		if (e->res < e->len && !exmap_entry_vma(ctx, mm, e))
			e->res = err;
	}
}

/*
 * Whether @vma is a piece of the area that starts at @area_start. Another
 * context of the same mm can have an area at that address only once this
 * one's is gone for good, and then exmap_area_whole() is false and every
 * caller checks its entries against its own context first.
 */
bool exmap_vma_in_area(struct vm_area_struct *vma, unsigned long area_start)
{
	struct exmap_ctx *ctx = vma->vm_private_data;

	return vma->vm_ops == &exmap_area_vm_ops &&
	       ctx->area_start == area_start && ctx->mm == vma->vm_mm;
}

/* The area VMA that covers all of entry @e, or NULL. */
struct vm_area_struct *exmap_entry_vma(struct exmap_ctx *ctx,
				       struct mm_struct *mm,
				       const struct exmap_entry *e)
{
	unsigned long start = exmap_entry_addr(ctx, e->page);

	return exmap_area_vma(ctx, mm, start,
			      start + ((unsigned long)e->len << PAGE_SHIFT));
}
