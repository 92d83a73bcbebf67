// SPDX-License-Identifier: GPL-2.0
/*
 * Installing and clearing the area's PTEs for a vector of entries.
 *
 * The area is a VM_PFNMAP mapping whose PTEs are all "special": the kernel's
 * own unmap paths clear them without touching the struct page, and the
 * module alone owns the frames. Page tables are walked with the exported
 * apply_to_page_range() family, which takes each PTE page's lock once and
 * calls back for every PTE under it.
 *
 * Entries are walked in groups: consecutive entries in ascending order that
 * end within the same PTE page (or touch end to start) share one walk, so a
 * batch of 512 neighbouring one-page entries costs one lock round trip, not
 * 512. A cursor inside the walk tells which PTEs belong to the batch.
 *
 * The caller holds mmap_lock for reading and has checked that every entry
 * lies inside an area VMA.
 */
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched.h>

#include "exmap.h"

struct exmap_walk {
	struct mm_struct *mm;
	pgprot_t prot;
	unsigned long area_start;
	struct exmap_entry *entries;
	unsigned int cur;
	unsigned int end;		/* one past the group's last entry */
	unsigned long cur_start;	/* address range of entries[cur] */
	unsigned long cur_end;
	struct list_head *frames;
	unsigned long count;		/* mapped pages seen, for counting */
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

typedef int (*exmap_walk_fn)(struct exmap_walk *w, unsigned long start,
			     unsigned long size);

/*
 * Runs @fn over each group. On an error, returns it and leaves w->cur at
 * the first entry of the group that failed.
 */
static int exmap_walk_groups(struct exmap_walk *w, unsigned int nr,
			     exmap_walk_fn fn)
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
		err = fn(w, start, end - start);
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

static int exmap_install_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct exmap_walk *w = data;
	struct page *page;
	unsigned long index;

	if (!exmap_walk_seek(w, addr) || !pte_none(*ptep))
		return 0;
	if (WARN_ON_ONCE(list_empty(w->frames)))
		return -ENOMEM;

	page = list_first_entry(w->frames, struct page, lru);
	list_del(&page->lru);
	index = (addr - w->area_start) >> PAGE_SHIFT;
	exmap_frame_set_mapped(page, index);
	set_pte_at(w->mm, addr, ptep,
		   pte_mkspecial(pte_mkyoung(pte_mkdirty(mk_pte(page,
								w->prot)))));
	w->entries[w->cur].res++;
	return 0;
}

static int exmap_install_group(struct exmap_walk *w, unsigned long start,
			       unsigned long size)
{
	return apply_to_page_range(w->mm, start, size, exmap_install_pte, w);
}

/*
 * Maps a frame from @frames at every unmapped page of the live entries.
 * Each entry's res counts the pages mapped for it; @frames must hold a
 * frame for every unmapped page. Returns the number of pages mapped. When a
 * page table cannot be allocated, the entries from the one being walked on
 * get -ENOMEM; pages they already got stay mapped (and are counted).
 */
unsigned long exmap_pt_install(struct mm_struct *mm, pgprot_t prot,
			       unsigned long area_start,
			       struct exmap_entry *entries, unsigned int nr,
			       struct list_head *frames)
{
	struct exmap_walk w = {
		.mm = mm,
		.prot = prot,
		.area_start = area_start,
		.entries = entries,
		.frames = frames,
	};
	unsigned long mapped = 0;
	unsigned int i;
	int err;

	err = exmap_walk_groups(&w, nr, exmap_install_group);
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

	if (!exmap_walk_seek(w, addr))
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

static int exmap_clear_group(struct exmap_walk *w, unsigned long start,
			     unsigned long size)
{
	return apply_to_existing_page_range(w->mm, start, size,
					    exmap_clear_pte, w);
}

/*
 * Clears every mapped PTE of the live entries and appends their frames to
 * @frames. Does not flush the TLB: the caller flushes once for the batch
 * (see tlb.c) before the frames may be reused.
 */
int exmap_pt_clear(struct mm_struct *mm, unsigned long area_start,
		   struct exmap_entry *entries, unsigned int nr,
		   struct list_head *frames)
{
	struct exmap_walk w = {
		.mm = mm,
		.area_start = area_start,
		.entries = entries,
		.frames = frames,
	};

	return exmap_walk_groups(&w, nr, exmap_clear_group);
}

static int exmap_count_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct exmap_walk *w = data;

	if (exmap_walk_seek(w, addr))
		w->entries[w->cur].res++;
	return 0;
}

static int exmap_count_group(struct exmap_walk *w, unsigned long start,
			     unsigned long size)
{
	return apply_to_existing_page_range(w->mm, start, size,
					    exmap_count_pte, w);
}

/*
 * Adds to each live entry's res the number of its pages that are mapped.
 * Used only when the pool runs short, to learn what ALLOC really needs.
 */
int exmap_pt_count_mapped(struct mm_struct *mm, unsigned long area_start,
			  struct exmap_entry *entries, unsigned int nr)
{
	struct exmap_walk w = {
		.mm = mm,
		.area_start = area_start,
		.entries = entries,
	};

	return exmap_walk_groups(&w, nr, exmap_count_group);
}
