// SPDX-License-Identifier: GPL-2.0
/*
 * Installing, clearing and reading the area's PTEs for a vector of entries.
 *
 * The area is a VM_PFNMAP mapping whose PTEs are all "special": the kernel's
 * own unmap paths clear them without touching the struct page, and the
 * module alone owns the frames.
 *
 * Each operation goes through the entries in vector order and, for each
 * entry, straight to its PTEs: the page table that holds them is looked up
 * from the PMD and stays locked while the next entries' PTEs lie in it too,
 * so a vector of neighbouring one-page entries takes each page table's lock
 * once. No callback runs per PTE. Where a page table is missing, an
 * operation that maps frames has apply_to_page_range() (exported; modules
 * cannot allocate page tables otherwise) create it, then carries on; the
 * others skip the missing table, since no page there is mapped.
 *
 * The callers hold mmap_lock for reading and have checked that every live
 * entry lies in a live piece of the area, so page tables are only ever
 * made inside the area. Only this module writes the area's PTEs while
 * mmap_lock is held for reading.
 */
#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched.h>

#include "compat.h"
#include "exmap.h"

/* The page table a walk holds locked, if any. */
struct exmap_ptw {
	struct mm_struct *mm;
	unsigned long table;	/* address its first PTE maps */
	pte_t *ptes;		/* its first PTE; NULL: none held */
	spinlock_t *ptl;
};

static void exmap_ptw_unlock(struct exmap_ptw *w)
{
	if (w->ptes) {
		exmap_pte_unlock(w->ptes, w->ptl);
		w->ptes = NULL;
	}
}

/*
 * The PMD entry that points to the page table mapping @addr, or NULL when
 * any level above the PTEs is missing (or is not a plain table, which the
 * area never has). mmap_lock keeps the tables found from being freed.
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

static int exmap_pte_nop(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

/* Moves the walk to the page table of @addr; see exmap_ptw_pte(). */
static pte_t *exmap_ptw_move(struct exmap_ptw *w, unsigned long addr,
			     bool create, int *err)
{
	unsigned long table = addr & PMD_MASK;
	pmd_t *pmd;

	exmap_ptw_unlock(w);
	if (need_resched())
		cond_resched();

	*err = 0;
again:
	pmd = exmap_existing_pmd(w->mm, addr);
	if (!pmd && create) {
		*err = apply_to_page_range(w->mm, addr, PAGE_SIZE,
					   exmap_pte_nop, NULL);
		if (*err)
			return NULL;
		pmd = exmap_existing_pmd(w->mm, addr);
		if (WARN_ON_ONCE(!pmd)) {
			*err = -ENOMEM;
			return NULL;
		}
	}
	if (!pmd)
		return NULL;
	/*
	 * From 6.5 on this fails if the PMD changed since it was read. The
	 * area's page tables stay while mmap_lock is held; read it again.
	 */
	w->ptes = exmap_pte_lock(w->mm, pmd, table, &w->ptl);
	if (!w->ptes)
		goto again;
	w->table = table;
	return w->ptes + pte_index(addr);
}

/*
 * The PTE of @addr, with its page table locked. Unlocks the table held
 * before when @addr lies in another one. Returns NULL when there is no
 * table: then *@err is 0, or, with @create, the error of making one.
 */
static __always_inline pte_t *exmap_ptw_pte(struct exmap_ptw *w,
					    unsigned long addr, bool create,
					    int *err)
{
	if (likely(w->ptes && w->table == (addr & PMD_MASK)))
		return w->ptes + pte_index(addr);
	return exmap_ptw_move(w, addr, create, err);
}

/*
 * The piece of the area entry @e lies in, whose protection its pages get:
 * @last if it is that piece, else looked up.
 */
static struct vm_area_struct *exmap_install_vma(struct exmap_ctx *ctx,
						struct mm_struct *mm,
						struct vm_area_struct *last,
						const struct exmap_entry *e)
{
	if (last && last->vm_start <= exmap_entry_start(ctx, e) &&
	    exmap_entry_end(ctx, e) <= last->vm_end)
		return last;
	return exmap_entry_vma(ctx, mm, e);
}

/*
 * Maps a frame at every unmapped page of the live entries, in vector order:
 * from @frames (ALLOC: any frame will do) or, when @slots is given, the
 * frame that slots[first_slot[i] + k] holds for page k of entry i (READ;
 * each slot used is set to NULL). @vma is the area's VMA if it holds every
 * entry, else NULL (each entry's piece is looked up). Each entry's res
 * counts the pages mapped for it. Returns the number of pages mapped.
 *
 * When a page table cannot be made or @frames runs dry (only if other
 * threads unmap the same pages meanwhile), the entry being filled and all
 * live entries after it get -ENOMEM; pages already mapped stay mapped and
 * are counted.
 */
unsigned long exmap_pt_install(struct exmap_ctx *ctx, struct mm_struct *mm,
			       struct vm_area_struct *vma,
			       struct exmap_entry *entries, unsigned int nr,
			       struct exmap_frames *frames,
			       struct bio_vec *slots, const u32 *first_slot)
{
	/* Local copies, kept in registers: nothing else sees them. */
	struct exmap_frames hand = frames ? *frames : EXMAP_FRAMES_INIT;
	struct exmap_ptw w = { .mm = mm };
	struct vm_area_struct *evma = vma;
	unsigned long addr, end, stop, index, mapped = 0;
	struct bio_vec *slot = NULL;
	struct exmap_entry *e;
	struct page *page;
	unsigned int i, done = 0;
	pgprot_t prot;
	pte_t *pte;
	int err = 0;

	exmap_assert_mmap_locked(mm);
	for (i = 0; i < nr; i++) {
		e = &entries[i];
		if (!exmap_entry_live(e))
			continue;
		if (!vma) {
			evma = exmap_install_vma(ctx, mm, evma, e);
			if (WARN_ON_ONCE(!evma)) {
				e->res = -EFAULT;
				continue;
			}
		}
		prot = evma->vm_page_prot;
		if (slots)
			slot = &slots[first_slot[i]];
		done = 0;
		index = e->page;
		addr = exmap_entry_start(ctx, e);
		end = exmap_entry_end(ctx, e);
		while (addr < end) {
			pte = exmap_ptw_pte(&w, addr, true, &err);
			if (!pte)
				goto fail;
			stop = pmd_addr_end(addr, end);
			for (; addr < stop; addr += PAGE_SIZE, pte++, index++) {
				if (slots) {
					struct bio_vec *s = slot++;

					if (!pte_none(ptep_get(pte)))
						continue;
					page = s->bv_page;
					s->bv_page = NULL;
				} else {
					if (!pte_none(ptep_get(pte)))
						continue;
					page = exmap_frames_pop(&hand);
					if (unlikely(!page)) {
						err = -ENOMEM;
						goto fail;
					}
				}
				exmap_frame_set_mapped(page, index);
				set_pte_at(mm, addr, pte,
					   pte_mkspecial(pte_mkyoung(pte_mkdirty(
						mk_pte(page, prot)))));
				done++;
			}
		}
		e->res += done;
		mapped += done;
	}
	exmap_ptw_unlock(&w);
	if (frames)
		*frames = hand;
	return mapped;

fail:
	exmap_ptw_unlock(&w);
	if (frames)
		*frames = hand;
	mapped += done;
	for (; i < nr; i++) {
		if (exmap_entry_live(&entries[i]))
			entries[i].res = err;
	}
	return mapped;
}

/*
 * Clears every mapped PTE of the live entries and pushes the frames that
 * are then mapped nowhere onto @frames (an aliased frame still mapped at
 * another page stays where it is); each entry's res counts its pages
 * cleared. A frame that a FREE on another interface has marked for its
 * range flush (EXMAP_FRAME_FREEING, not @owner) is left to that FREE. Does
 * not flush the TLB: the caller flushes once for the batch (see tlb.c)
 * before the frames may be reused. Returns the number of pages cleared.
 */
unsigned long exmap_pt_clear(struct exmap_ctx *ctx, struct mm_struct *mm,
			     struct exmap_entry *entries, unsigned int nr,
			     unsigned long owner, struct exmap_frames *frames)
{
	/* Local copies, kept in registers: nothing else sees them. */
	struct exmap_frames out = *frames;
	struct exmap_ptw w = { .mm = mm };
	unsigned long addr, end, stop, v, cleared = 0;
	struct exmap_entry *e;
	struct page *page;
	unsigned int i, done;
	pte_t *pte, old;
	int err;

	exmap_assert_mmap_locked(mm);
	for (i = 0, e = entries; i < nr; i++, e++) {
		if (!exmap_entry_live(e))
			continue;
		done = 0;
		addr = exmap_entry_start(ctx, e);
		end = exmap_entry_end(ctx, e);
		for (; addr < end; addr = stop) {
			stop = pmd_addr_end(addr, end);
			pte = exmap_ptw_pte(&w, addr, false, &err);
			if (!pte)
				continue;
			for (; addr < stop; addr += PAGE_SIZE, pte++) {
				old = ptep_get(pte);
				if (pte_none(old))
					continue;
				page = pte_page(old);
				v = page_private(page);
				if (exmap_frame_is_freeing(v) && v != owner)
					continue;
				old = ptep_get_and_clear(mm, addr, pte);
				/* Only this module maps here, all special. */
				if (WARN_ON_ONCE(!pte_present(old) ||
						 !pte_special(old)))
					continue;
				done++;
				if (!exmap_frame_is_aliased(v))
					exmap_frame_set_unmapped(page);
				else if (!exmap_alias_remove(ctx, page,
						exmap_addr_page(ctx, addr)))
					continue;
				exmap_frames_push(&out, page);
			}
		}
		e->res += done;
		cleared += done;
	}
	exmap_ptw_unlock(&w);
	*frames = out;
	return cleared;
}

/*
 * For a FREE that lets the kernel clear and flush [start, end) itself:
 * marks the frame of every mapped page in the range as the FREE's own
 * (@owner), so that no other FREE unmaps it meanwhile, and pushes it onto
 * @frames. Returns how many pages of the range it did not mark: unmapped
 * ones, or ones another FREE owns. Only a range with none of those may be
 * cleared by the kernel: an unmapped page may be mapped by a concurrent
 * ALLOC before the kernel clears the range.
 */
unsigned long exmap_pt_mark(struct exmap_ctx *ctx, struct mm_struct *mm,
			    unsigned long start, unsigned long end,
			    unsigned long owner, struct exmap_frames *frames)
{
	struct exmap_ptw w = { .mm = mm };
	unsigned long addr, stop, holes = 0;
	struct page *page;
	pte_t *pte, old;
	int err;

	exmap_assert_mmap_locked(mm);
	for (addr = start; addr < end; addr = stop) {
		stop = pmd_addr_end(addr, end);
		pte = exmap_ptw_pte(&w, addr, false, &err);
		if (!pte) {
			holes += (stop - addr) >> PAGE_SHIFT;
			continue;
		}
		for (; addr < stop; addr += PAGE_SIZE, pte++) {
			old = ptep_get(pte);
			if (pte_none(old)) {
				holes++;
				continue;
			}
			page = pte_page(old);
			if (page_private(page) >= EXMAP_FRAME_FREEING) {
				holes++;
				continue;
			}
			set_page_private(page, owner);
			exmap_frames_push(frames, page);
		}
	}
	exmap_ptw_unlock(&w);
	return holes;
}

/*
 * Adds to each live entry's res the number of its pages that are mapped
 * (with @shared: whose frame is also mapped at another page), and with
 * @slots records their frames (see exmap_pt_install()); slots of unmapped
 * pages are left alone.
 */
void exmap_pt_collect(struct exmap_ctx *ctx, struct mm_struct *mm,
		      struct exmap_entry *entries, unsigned int nr,
		      struct bio_vec *slots, const u32 *first_slot,
		      bool shared)
{
	struct exmap_ptw w = { .mm = mm };
	unsigned long addr, end, stop;
	struct bio_vec *slot = NULL;
	struct exmap_entry *e;
	unsigned int i;
	pte_t *pte;
	int err;

	exmap_assert_mmap_locked(mm);
	for (i = 0, e = entries; i < nr; i++, e++) {
		if (!exmap_entry_live(e))
			continue;
		if (slots)
			slot = &slots[first_slot[i]];
		addr = exmap_entry_start(ctx, e);
		end = exmap_entry_end(ctx, e);
		for (; addr < end; addr = stop) {
			stop = pmd_addr_end(addr, end);
			pte = exmap_ptw_pte(&w, addr, false, &err);
			if (!pte) {
				if (slots)
					slot += (stop - addr) >> PAGE_SHIFT;
				continue;
			}
			for (; addr < stop; addr += PAGE_SIZE, pte++) {
				pte_t val = ptep_get(pte);

				if (!pte_none(val) && (!shared ||
				    exmap_alias_shared(pte_page(val)))) {
					if (slots)
						slot->bv_page = pte_page(val);
					e->res++;
				}
				if (slots)
					slot++;
			}
		}
	}
	exmap_ptw_unlock(&w);
}

/* The page tables of a source and a destination page, locked together. */
struct exmap_ptw2 {
	struct mm_struct *mm;
	unsigned long stable, dtable;
	pte_t *sptes, *dptes;
	spinlock_t *sptl, *dptl;
	bool locked;
};

static void exmap_ptw2_unlock(struct exmap_ptw2 *w)
{
	if (!w->locked)
		return;
	if (w->dptl != w->sptl)
		spin_unlock(w->dptl);
	spin_unlock(w->sptl);
	exmap_pte_unmap(w->dptes);
	exmap_pte_unmap(w->sptes);
	w->locked = false;
}

/*
 * Locks the page tables of @saddr and @daddr, making the destination's
 * first if it is missing. Two calls may lock the same two tables the other
 * way round, so the locks are taken in address order; the second one is
 * of the same lock class, hence spin_lock_nested() (as mremap's
 * move_ptes()). Returns 0, -ENOENT when the source has no page table (its
 * page is not mapped), or the error of making the destination's.
 */
static int exmap_ptw2_lock(struct exmap_ptw2 *w, unsigned long saddr,
			   unsigned long daddr)
{
	unsigned long stable = saddr & PMD_MASK, dtable = daddr & PMD_MASK;
	spinlock_t *first, *second;
	pmd_t *spmd, *dpmd;
	int err;

	if (w->locked && w->stable == stable && w->dtable == dtable)
		return 0;
	exmap_ptw2_unlock(w);
	if (need_resched())
		cond_resched();

	dpmd = exmap_existing_pmd(w->mm, daddr);
	if (!dpmd) {
		err = apply_to_page_range(w->mm, daddr, PAGE_SIZE,
					  exmap_pte_nop, NULL);
		if (err)
			return err;
		dpmd = exmap_existing_pmd(w->mm, daddr);
		if (WARN_ON_ONCE(!dpmd))
			return -ENOMEM;
	}
	spmd = exmap_existing_pmd(w->mm, saddr);
	if (!spmd)
		return -ENOENT;

	w->sptl = pte_lockptr(w->mm, spmd);
	w->dptl = pte_lockptr(w->mm, dpmd);
	first = min(w->sptl, w->dptl);
	second = max(w->sptl, w->dptl);
	spin_lock(first);
	if (second != first)
		spin_lock_nested(second, SINGLE_DEPTH_NESTING);
	w->sptes = exmap_pte_map(spmd, stable);
	w->dptes = exmap_pte_map(dpmd, dtable);
	w->stable = stable;
	w->dtable = dtable;
	w->locked = true;
	return 0;
}

/*
 * ALIAS (or, with @move, MOVE) of entry @e, page by page under the locks of
 * both pages: the frame of each source page is mapped at the destination
 * page too (MOVE: instead; the source's PTE is cleared, and the caller must
 * flush the TLB before it returns). @dvma is the piece of the area the
 * destination run lies in. Each page is checked again under its locks:
 * the source must be mapped and not being freed, the destination empty.
 * Sets e->res to the pages done; returns 0 or the error that stopped the
 * entry: -ENOENT, -EEXIST (another thread changed the pages since the
 * caller's check), -ENOMEM.
 */
int exmap_pt_rewire(struct exmap_ctx *ctx, struct mm_struct *mm,
		    struct vm_area_struct *dvma,
		    struct exmap_rewire_entry *e, bool move)
{
	struct exmap_ptw2 w = { .mm = mm };
	unsigned long src, dst, saddr, daddr;
	bool reserved = false;
	struct page *page;
	unsigned int k;
	pte_t *sp, *dp, old;
	int err = 0;

	exmap_assert_mmap_locked(mm);
	for (k = 0; k < e->len;) {
		src = e->src + k;
		dst = e->dst + k;
		saddr = exmap_page_addr(ctx, src);
		daddr = exmap_page_addr(ctx, dst);
		err = exmap_ptw2_lock(&w, saddr, daddr);
		if (err)
			break;
		sp = w.sptes + pte_index(saddr);
		dp = w.dptes + pte_index(daddr);
		old = ptep_get(sp);
		if (pte_none(old) ||
		    exmap_frame_is_freeing(page_private(pte_page(old)))) {
			err = -ENOENT;
			break;
		}
		if (!pte_none(ptep_get(dp))) {
			err = -EEXIST;
			break;
		}
		page = pte_page(old);
		err = move ? exmap_alias_move(ctx, page, src, dst) :
			     exmap_alias_add(ctx, page, src, dst);
		if (err == -ENOMEM && !reserved) {
			/* Make room without the locks; then this page again. */
			exmap_ptw2_unlock(&w);
			err = exmap_alias_reserve(ctx, dst);
			if (!err)
				err = exmap_alias_reserve(ctx, src);
			if (err)
				break;
			reserved = true;
			continue;
		}
		if (err)
			break;
		if (move)
			ptep_get_and_clear(mm, saddr, sp);
		set_pte_at(mm, daddr, dp,
			   pte_mkspecial(pte_mkyoung(pte_mkdirty(
				mk_pte(page, dvma->vm_page_prot)))));
		reserved = false;
		k++;
	}
	exmap_ptw2_unlock(&w);
	if (err && reserved) {
		exmap_alias_unreserve(ctx, dst);
		exmap_alias_unreserve(ctx, src);
	}
	e->res = k;
	return err;
}

/*
 * Copies up to @len bytes between @buf and the frame mapped at @addr, not
 * past the end of its page: for a debugger, through access_remote_vm().
 * Returns the bytes copied, or -EFAULT when the page is not mapped.
 */
int exmap_pt_access(struct mm_struct *mm, unsigned long addr, void *buf,
		    int len, bool write)
{
	struct exmap_ptw w = { .mm = mm };
	unsigned int off = offset_in_page(addr);
	struct page *page;
	pte_t *pte, val;
	int err;

	exmap_assert_mmap_locked(mm);
	len = min_t(int, len, PAGE_SIZE - off);
	pte = exmap_ptw_pte(&w, addr, false, &err);
	if (!pte)
		return -EFAULT;
	val = ptep_get(pte);
	if (pte_none(val) || (write && !pte_write(val))) {
		exmap_ptw_unlock(&w);
		return -EFAULT;
	}
	/* The PTE lock keeps the frame from being unmapped and reused. */
	page = pte_page(val);
	if (write)
		memcpy(page_address(page) + off, buf, len);
	else
		memcpy(buf, page_address(page) + off, len);
	exmap_ptw_unlock(&w);
	return len;
}
