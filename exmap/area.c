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

#include "compat.h"
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

/*
 * A debugger's view of the area (ptrace, /proc/PID/mem): the kernel cannot
 * pin a page of a VM_PFNMAP mapping, so access_remote_vm() asks here. A
 * mapped page reads and writes as itself; an unmapped one is an error,
 * not zeros.
 */
static int exmap_area_access(struct vm_area_struct *vma, unsigned long addr,
			     void *buf, int len, int write)
{
	return exmap_pt_access(vma->vm_mm, addr, buf, len, write);
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
	.access = exmap_area_access,
	.fault = exmap_area_fault,
};

/* Called with mmap_lock (write) and ctx->setup_lock held. */
int exmap_area_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);

	exmap_assert_mmap_write_locked(vma->vm_mm);
	lockdep_assert_held(&ctx->setup_lock);
	if (ctx->mm)
		return -EBUSY;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (pages > EXMAP_AREA_MAX_PAGES)
		return -EINVAL;

	exmap_vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			   VM_DONTDUMP | VM_DONTCOPY);
	vma->vm_ops = &exmap_area_vm_ops;
	vma->vm_private_data = ctx;

	mmgrab(vma->vm_mm);
	ctx->area_start = vma->vm_start;
	ctx->area_pages = pages;
	ctx->area_whole = true;
	/* Publishes the area fields; pairs with exmap_gate_caller(). */
	smp_store_release(&ctx->mm, vma->vm_mm);
	return 0;
}

static bool exmap_is_area_vma(struct exmap_ctx *ctx,
			      struct vm_area_struct *vma)
{
	return vma->vm_ops == &exmap_area_vm_ops &&
	       vma->vm_private_data == ctx;
}

/*
 * Returns the area VMA that covers [start, end) in @mm, or NULL. Called with
 * mmap_lock held.
 */
struct vm_area_struct *exmap_area_vma(struct exmap_ctx *ctx,
				      struct mm_struct *mm,
				      unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;

	exmap_assert_mmap_locked(mm);
	vma = vma_lookup(mm, start);
	if (!vma || !exmap_is_area_vma(ctx, vma) || end > vma->vm_end)
		return NULL;
	return vma;
}

/* The area VMA that covers all of entry @e, or NULL. */
struct vm_area_struct *exmap_entry_vma(struct exmap_ctx *ctx,
				       struct mm_struct *mm,
				       const struct exmap_entry *e)
{
	return exmap_area_vma(ctx, mm, exmap_entry_start(ctx, e),
			      exmap_entry_end(ctx, e));
}

/*
 * True while the area is still the one VMA that mmap() made: never split
 * (mprotect, partial munmap) nor unmapped. It only ever goes from true to
 * false. Read without mmap_lock it may be stale: see
 * exmap_area_whole_vma().
 */
bool exmap_area_whole(struct exmap_ctx *ctx)
{
	return READ_ONCE(ctx->area_whole);
}

/*
 * While the area is whole, its one VMA, which holds every page of the area:
 * one lookup instead of one per entry. NULL otherwise, and also while a
 * munmap() of the whole area is under way (the VMA is gone from the tree
 * before close() tells the context; munmap() may by then have downgraded
 * mmap_lock to read, so a call can run in that moment). Called with
 * mmap_lock held.
 */
struct vm_area_struct *exmap_area_whole_vma(struct exmap_ctx *ctx,
					    struct mm_struct *mm)
{
	unsigned long end = exmap_page_addr(ctx, ctx->area_pages);

	exmap_assert_mmap_locked(mm);
	if (!exmap_area_whole(ctx))
		return NULL;
	return exmap_area_vma(ctx, mm, ctx->area_start, end);
}

/*
 * The index of the first entry that does not lie in one live piece of the
 * area, or @nr if all do. Called with mmap_lock held.
 */
unsigned int exmap_entries_outside(struct exmap_ctx *ctx,
				   struct mm_struct *mm,
				   const struct exmap_entry *entries,
				   unsigned int nr)
{
	struct vm_area_struct *vma = NULL;
	unsigned long start, end;
	unsigned int i;

	exmap_assert_mmap_locked(mm);
	for (i = 0; i < nr; i++) {
		start = exmap_entry_start(ctx, &entries[i]);
		end = exmap_entry_end(ctx, &entries[i]);
		if (!vma || start < vma->vm_start || end > vma->vm_end)
			vma = exmap_area_vma(ctx, mm, start, end);
		if (!vma)
			return i;
	}
	return nr;
}

/*
 * Gives @err to each live entry that does not lie in one live piece of the
 * area: for a step that takes mmap_lock again after the entries were
 * checked (READ's mapping, after its I/O). Called with mmap_lock held.
 */
void exmap_entries_fail_outside(struct exmap_ctx *ctx, struct mm_struct *mm,
				struct exmap_entry *entries, unsigned int nr,
				int err)
{
	unsigned int i;

	if (exmap_area_whole_vma(ctx, mm))
		return;
	for (i = 0; i < nr; i++) {
		if (exmap_entry_live(&entries[i]) &&
		    !exmap_entry_vma(ctx, mm, &entries[i]))
			entries[i].res = err;
	}
}
