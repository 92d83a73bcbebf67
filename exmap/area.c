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
}

static void exmap_area_close(struct vm_area_struct *vma)
{
	struct exmap_ctx *ctx = vma->vm_private_data;
	unsigned long first, end;

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

/* The area VMA that covers all of entry @e, or NULL. */
struct vm_area_struct *exmap_entry_vma(struct exmap_ctx *ctx,
				       struct mm_struct *mm,
				       const struct exmap_entry *e)
{
	unsigned long start = exmap_entry_addr(ctx, e->page);

	return exmap_area_vma(ctx, mm, start,
			      start + ((unsigned long)e->len << PAGE_SHIFT));
}
