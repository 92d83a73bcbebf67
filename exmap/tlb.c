// SPDX-License-Identifier: GPL-2.0
/*
 * One TLB shootdown per FREE call, with exported kernel interfaces only.
 *
 * Why this file exists: the kernel does not export flush_tlb_mm_range() or
 * tlb_gather_mmu()/tlb_finish_mmu() to modules, and looking them up through
 * kallsyms would break on kernels built with IBT, where an indirect call to
 * a function that is never address-taken faults. The exported zap_vma_ptes()
 * flushes once per call, which would mean one shootdown per vector entry.
 *
 * The kernel already has a protocol for code that clears PTEs under the
 * read side of mmap_lock and flushes later: it raises mm->tlb_flush_pending
 * (inc_tlb_flush_pending(), an inline in <linux/mm_inline.h>) for as long as
 * such a flush is owed, and tlb_finish_mmu() turns any gather that runs
 * while another one is pending ("nested") into a flush of the whole mm on
 * every CPU that used it.
 *
 * FREE follows that protocol: it raises tlb_flush_pending before clearing
 * the batch's PTEs, and afterwards runs an empty zap_vma_ptes() over the
 * area. That gather clears nothing, sees the nested flush and flushes the
 * whole mm once; then the count drops. On x86 a range of more than 33 pages
 * is flushed whole anyway, so a batch loses nothing over a range flush.
 *
 * A FREE of one short run of pages does better with a flush of just that
 * run: zap_vma_ptes() over the run, with no flush pending, clears the PTEs
 * itself and flushes only the pages it cleared (on x86, page by page up to
 * 33 pages), on the CPUs that run the mm and are not lazy. A full flush
 * also throws away every other TLB entry of the process, which it then
 * refills miss by miss. alloc.c decides which to use.
 */
#include <linux/mm.h>
#include <linux/mm_inline.h>

#include "exmap.h"

/*
 * mmu_notifier_invalidate_range_start() is not exported: when secondary
 * MMUs mirror this mm, every freed entry is also passed through an empty
 * zap_vma_ptes(), whose notifier calls tell them before the frames are
 * reused. Slow (each one also flushes), and only taken with notifiers.
 * Called between exmap_tlb_batch_begin() and exmap_tlb_batch_end().
 */
void exmap_tlb_notify(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	struct vm_area_struct *vma;

	while (start < end) {
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start >= end)
			return;
		start = max(start, vma->vm_start);
		zap_vma_ptes(vma, start, min(end, vma->vm_end) - start);
		start = vma->vm_end;
	}
}

void exmap_tlb_batch_begin(struct mm_struct *mm)
{
	exmap_assert_mmap_locked(mm);
	inc_tlb_flush_pending(mm);
}

/*
 * Ends the batch that exmap_tlb_batch_begin() started on @mm. With @flush,
 * first flushes every TLB entry of the mm; without, the batch cleared
 * nothing. @vma is any area VMA (VM_PFNMAP) of @mm, in place under the
 * mmap_lock the caller holds.
 */
void exmap_tlb_batch_end(struct mm_struct *mm, struct vm_area_struct *vma,
			 bool flush)
{
	/* A zero-length zap unmaps nothing; only its gather's flush runs. */
	if (flush && !WARN_ON_ONCE(!vma || vma->vm_mm != mm))
		zap_vma_ptes(vma, vma->vm_start, 0);
	dec_tlb_flush_pending(mm);
}

/*
 * Clears the PTEs of [start, end), a range inside @vma, and flushes the
 * TLB entries of that range alone. Secondary MMUs hear of it through the
 * same call. Called with mmap_lock held and no flush of this caller
 * pending.
 */
void exmap_tlb_zap_range(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end)
{
	exmap_assert_mmap_locked(vma->vm_mm);
	zap_vma_ptes(vma, start, end - start);
}
