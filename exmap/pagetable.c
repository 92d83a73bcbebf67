// SPDX-License-Identifier: GPL-2.0
/*
 * Installing and clearing the area's PTEs for a vector of entries.
 *
 * The area is a VM_PFNMAP mapping whose PTEs are all "special": the kernel's
 * own unmap paths clear them without touching the struct page, and the
 * module alone owns the frames. Page tables are walked directly where they
 * exist and with the exported apply_to_page_range() where one must be
 * created; either way each PTE page's lock is taken once and a callback
 * runs for every PTE under it.
 *
 * Entries are walked in groups: consecutive entries in ascending order that
 * end within the same PTE page (or touch end to start) share one walk, so a
 * batch of 512 neighbouring one-page entries costs one lock round trip, not
 * 512. A cursor inside the walk tells which PTEs belong to the batch.
 *
 * The caller holds mmap_lock for reading. The walks enter only the area's
 * own VMAs; pages of an entry outside them are left alone.
 */
#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched.h>

#include "exmap.h"

struct exmap_walk {
	struct mm_struct *mm;
	struct vm_area_struct *vma;	/* last VMA looked up */
	struct vm_area_struct *entered;	/* last area VMA walked */
	unsigned long area_start;
	struct exmap_entry *entries;
	unsigned int cur;
	unsigned int end;		/* one past the group's last entry */
	unsigned long cur_start;	/* address range of entries[cur] */
	unsigned long cur_end;
	struct list_head *frames;	/* ALLOC: frames to map; FREE: freed */
	struct bio_vec *slots;		/* READ, collect: a frame per page */
	const u32 *first_slot;		/* slot of each entry's first page */
};

static inline unsigned long exmap_entry_start(const struct exmap_walk *w,
					      const struct exmap_entry *e)
{
	return w->area_start + ((unsigned long)e->page << PAGE_SHIFT);
}

static inline unsigned long exmap_entry_end(const struct exmap_walk *w,
					    const struct exmap_entry *e)
{
	return exmap_entry_start(w, e) + ((unsigned long)e->len << PAGE_SHIFT);
}

/* Entries that already failed (res < 0) take no part in a walk. */
static inline bool exmap_entry_live(const struct exmap_entry *e)
{
	return e->res >= 0;
}

static void exmap_walk_load(struct exmap_walk *w)
{
	while (w->cur < w->end && !exmap_entry_live(&w->entries[w->cur]))
		w->cur++;
	if (w->cur < w->end) {
		w->cur_start = exmap_entry_start(w, &w->entries[w->cur]);
		w->cur_end = exmap_entry_end(w, &w->entries[w->cur]);
	}
}

/* Moves the cursor to @addr; true if @addr belongs to a live entry. */
static inline bool exmap_walk_seek(struct exmap_walk *w, unsigned long addr)
{
	while (addr >= w->cur_end) {
		if (w->cur >= w->end)
			return false;
		w->cur++;
		exmap_walk_load(w);
		if (w->cur >= w->end)
			return false;
	}
	return addr >= w->cur_start;
}

/*
 * Finds the group starting at live entry @first: returns one past its last
 * entry and the address range it spans.
 */
static unsigned int exmap_group(struct exmap_walk *w, unsigned int first,
				unsigned int nr, unsigned long *start,
				unsigned long *end)
{
	unsigned int i = first + 1, last = first;
	unsigned long next;

	*start = exmap_entry_start(w, &w->entries[first]);
	*end = exmap_entry_end(w, &w->entries[first]);
	for (; i < nr; i++) {
		if (!exmap_entry_live(&w->entries[i]))
			continue;
		next = exmap_entry_start(w, &w->entries[i]);
		if (next < *end)
			break;
		if (next != *end && next >= ALIGN(*end, PMD_SIZE))
			break;
		*end = exmap_entry_end(w, &w->entries[i]);
		last = i;
	}
	return last + 1;
}

/*
 * The PMD entry that points to the PTE page mapping @addr, or NULL when any
 * level above the PTEs is missing (or is not a plain table, which the area
 * never has). mmap_lock keeps the tables found from being freed.
 */
static pmd_t *exmap_existing_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, val;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	val = READ_ONCE(*pmd);
	if (pmd_none(val) || pmd_bad(val) || pmd_trans_huge(val))
		return NULL;
	return pmd;
}

/*
 * apply_to_page_range() for one VMA piece, faster where the page tables
 * already exist, which after the first touch of a 2 MiB stretch they always
 * do: it goes straight to each PTE page and calls @fn under its lock, and
 * leaves only the stretches that need a table created to
 * apply_to_page_range(), which checks and allocates every level on the way
 * down. A walk of one page costs a fraction as much.
 */
static int exmap_apply(struct mm_struct *mm, unsigned long start,
		       unsigned long end, pte_fn_t fn, void *data)
{
	unsigned long next, addr;
	spinlock_t *ptl;
	pte_t *first, *pte;
	pmd_t *pmd;
	int err;

	for (; start < end; start = next) {
		next = pmd_addr_end(start, end);
		pmd = exmap_existing_pmd(mm, start);
		if (!pmd) {
			err = apply_to_page_range(mm, start, next - start, fn,
						  data);
			if (err)
				return err;
			continue;
		}
		first = pte_offset_map_lock(mm, pmd, start, &ptl);
		err = 0;
		for (pte = first, addr = start; addr < next && !err;
		     pte++, addr += PAGE_SIZE)
			err = fn(pte, addr, data);
		pte_unmap_unlock(first, ptl);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Applies @fn to every PTE of [start, start + size) that lies in an area
 * VMA, one VMA at a time so that each piece is mapped with its own
 * protection (mprotect may have split the area). Gaps between VMAs, where
 * part of the area was unmapped, and any other VMA are skipped.
 *
 * apply_to_existing_page_range() is not used for the walks that create
 * nothing: before Linux 6.15 (and its stable backports) it stops calling
 * back after the first empty PTE of a page table.
 */
static int exmap_walk_range(struct exmap_walk *w, unsigned long start,
			    unsigned long size, pte_fn_t fn)
{
	unsigned long end = start + size, stop;
	int err;

	while (start < end) {
		if (!w->vma || start < w->vma->vm_start ||
		    start >= w->vma->vm_end)
			w->vma = find_vma(w->mm, start);
		if (!w->vma || w->vma->vm_start >= end)
			return 0;
		start = max(start, w->vma->vm_start);
		stop = min(end, w->vma->vm_end);
		if (exmap_vma_in_area(w->vma, w->area_start)) {
			w->entered = w->vma;
			err = exmap_apply(w->mm, start, stop, fn, w);
			if (err)
				return err;
		}
		start = stop;
	}
	return 0;
}

/*
 * Runs @fn over each group. On an error, returns it and leaves w->cur at
 * the first entry of the group that failed.
 */
static int exmap_walk_groups(struct exmap_walk *w, unsigned int nr,
			     pte_fn_t fn)
{
	unsigned long start, end;
	unsigned int i = 0;
	int err;

	while (i < nr) {
		if (!exmap_entry_live(&w->entries[i])) {
			i++;
			continue;
		}
		w->end = exmap_group(w, i, nr, &start, &end);
		w->cur = i;
		exmap_walk_load(w);
		err = exmap_walk_range(w, start, end - start, fn);
		if (err) {
			w->cur = i;
			return err;
		}
		i = w->end;
		if (i < nr && need_resched())
			cond_resched();
	}
	return 0;
}

/* The frame of the page at @addr in the current entry, in slot mode. */
static inline struct bio_vec *exmap_walk_slot(struct exmap_walk *w,
					      unsigned long addr)
{
	return &w->slots[w->first_slot[w->cur] +
			 ((addr - w->cur_start) >> PAGE_SHIFT)];
}

static int exmap_install_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct exmap_walk *w = data;
	struct bio_vec *slot = NULL;
	struct page *page;
	unsigned long index;

	if (!exmap_walk_seek(w, addr) || !pte_none(*ptep))
		return 0;
	if (w->slots) {
		slot = exmap_walk_slot(w, addr);
		page = slot->bv_page;
		slot->bv_page = NULL;
	} else {
		/*
		 * Runs dry only if another thread unmapped pages of this
		 * entry after ALLOC counted what it needs.
		 */
		if (list_empty(w->frames))
			return -ENOMEM;
		page = list_first_entry(w->frames, struct page, lru);
		list_del(&page->lru);
	}
	index = (addr - w->area_start) >> PAGE_SHIFT;
	exmap_frame_set_mapped(page, index);
	set_pte_at(w->mm, addr, ptep,
		   pte_mkspecial(pte_mkyoung(pte_mkdirty(mk_pte(page,
						w->vma->vm_page_prot)))));
	w->entries[w->cur].res++;
	return 0;
}

/*
 * Maps a frame at every unmapped page of the live entries: from @frames
 * (ALLOC, any frame will do) or, when @slots is given, the frame that
 * slots[first_slot[i] + k] holds for page k of entry i (READ; each slot
 * used is set to NULL). Each entry's res counts the pages mapped for it.
 * Returns the number of pages mapped. When a page table cannot be
 * allocated or frames run out, the entries from the one being walked on
 * get -ENOMEM; pages they already got stay mapped (and are counted).
 */
unsigned long exmap_pt_install(struct mm_struct *mm,
			       unsigned long area_start,
			       struct exmap_entry *entries, unsigned int nr,
			       struct list_head *frames, struct bio_vec *slots,
			       const u32 *first_slot)
{
	struct exmap_walk w = {
		.mm = mm,
		.area_start = area_start,
		.entries = entries,
		.frames = frames,
		.slots = slots,
		.first_slot = first_slot,
	};
	unsigned long mapped = 0;
	unsigned int i;
	int err;

	err = exmap_walk_groups(&w, nr, exmap_install_pte);
	for (i = 0; i < nr; i++) {
		if (!exmap_entry_live(&entries[i]))
			continue;
		mapped += entries[i].res;
		if (err && i >= w.cur)
			entries[i].res = err;
	}
	return mapped;
}

static int exmap_clear_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct exmap_walk *w = data;
	struct page *page;
	pte_t pte;

	if (!exmap_walk_seek(w, addr) || pte_none(*ptep))
		return 0;
	pte = ptep_get_and_clear(w->mm, addr, ptep);
	/* Only this module puts PTEs into the area, all of them special. */
	if (WARN_ON_ONCE(!pte_present(pte) || !pte_special(pte)))
		return 0;
	page = pte_page(pte);
	exmap_frame_set_unmapped(page);
	list_add_tail(&page->lru, w->frames);
	w->entries[w->cur].res++;
	return 0;
}

/*
 * Clears every mapped PTE of the live entries and appends their frames to
 * @frames; each entry's res counts its pages cleared. Does not flush the
 * TLB: the caller flushes once for the batch (see tlb.c) before the frames
 * may be reused, through *@vma: the last area VMA the walk entered, set if
 * anything was cleared. Returns 0 or -ENOMEM (a page table walk could
 * not allocate; nothing is cleared from that entry on).
 */
int exmap_pt_clear(struct mm_struct *mm, unsigned long area_start,
		   struct exmap_entry *entries, unsigned int nr,
		   struct list_head *frames, struct vm_area_struct **vma)
{
	struct exmap_walk w = {
		.mm = mm,
		.area_start = area_start,
		.entries = entries,
		.frames = frames,
	};
	int err;

	err = exmap_walk_groups(&w, nr, exmap_clear_pte);
	*vma = w.entered;
	return err;
}

static int exmap_collect_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct exmap_walk *w = data;
	pte_t pte = *ptep;

	if (!exmap_walk_seek(w, addr) || pte_none(pte))
		return 0;
	if (w->slots)
		exmap_walk_slot(w, addr)->bv_page = pte_page(pte);
	w->entries[w->cur].res++;
	return 0;
}

/*
 * Adds to each live entry's res the number of its pages that are mapped,
 * and with @slots records their frames (see exmap_pt_install()); slots of
 * unmapped pages are left alone. Returns 0 or -ENOMEM as exmap_pt_clear().
 */
int exmap_pt_collect(struct mm_struct *mm, unsigned long area_start,
		     struct exmap_entry *entries, unsigned int nr,
		     struct bio_vec *slots, const u32 *first_slot)
{
	struct exmap_walk w = {
		.mm = mm,
		.area_start = area_start,
		.entries = entries,
		.slots = slots,
		.first_slot = first_slot,
	};

	return exmap_walk_groups(&w, nr, exmap_collect_pte);
}
