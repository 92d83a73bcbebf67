// SPDX-License-Identifier: GPL-2.0
/*
 * EXMAP_IOC_ACTION: load and check an interface's vector, then run ALLOC or
 * FREE on it.
 *
 * A call is refused as a whole (-errno, nothing changed) when its arguments
 * or any entry are malformed. Past that point every entry gets a result of
 * its own: pages changed, or -errno; the call returns how many entries
 * failed.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "exmap.h"

/*
 * Copies the first @nr entries of the interface's vector into the kernel
 * copy and checks them against the area. On a bad entry, marks it in the
 * user's vector and returns -EINVAL.
 */
static int exmap_vec_load(struct exmap_ctx *ctx,
			  struct exmap_interface *iface, unsigned int nr)
{
	struct exmap_iov *vec = exmap_interface_vec(iface);
	struct exmap_entry *e;
	unsigned int i;

	if (!vec)
		return -ENOMEM;
	if (!iface->entries) {
		iface->entries = kmalloc_array(EXMAP_VEC_MAX,
					       sizeof(*iface->entries),
					       GFP_KERNEL_ACCOUNT);
		if (!iface->entries)
			return -ENOMEM;
	}

	for (i = 0; i < nr; i++) {
		e = &iface->entries[i];
		e->page = READ_ONCE(vec[i].page);
		e->len = READ_ONCE(vec[i].len);
		e->res = 0;
		if (!e->len || e->len > EXMAP_ENTRY_MAX_PAGES ||
		    (u64)e->page + e->len > ctx->area_pages) {
			WRITE_ONCE(vec[i].res, -EINVAL);
			return -EINVAL;
		}
	}
	return 0;
}

static void exmap_vec_store(struct exmap_interface *iface, unsigned int nr)
{
	struct exmap_iov *vec = page_address(iface->vec_page);
	unsigned int i;

	for (i = 0; i < nr; i++)
		WRITE_ONCE(vec[i].res, iface->entries[i].res);
}

/*
 * Checks that every entry lies in a live piece of the area (part of it may
 * have been unmapped) and returns the VMA of the first. Called with
 * mmap_lock held.
 */
static struct vm_area_struct *exmap_vec_vma(struct exmap_ctx *ctx,
					    struct mm_struct *mm,
					    struct exmap_interface *iface,
					    unsigned int nr)
{
	struct vm_area_struct *first = NULL, *vma = NULL;
	struct exmap_iov *vec = page_address(iface->vec_page);
	unsigned long start, end;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		start = exmap_entry_addr(ctx, iface->entries[i].page);
		end = start + ((unsigned long)iface->entries[i].len <<
			       PAGE_SHIFT);
		if (!vma || start < vma->vm_start || end > vma->vm_end)
			vma = exmap_area_vma(ctx, mm, start, end);
		if (!vma) {
			WRITE_ONCE(vec[i].res, -EINVAL);
			return NULL;
		}
		if (!first)
			first = vma;
	}
	return first;
}

static unsigned int exmap_count_failed(struct exmap_entry *entries,
				       unsigned int nr)
{
	unsigned int i, failed = 0;

	for (i = 0; i < nr; i++)
		failed += entries[i].res < 0;
	return failed;
}

/*
 * The free lists hold fewer frames than the entries have pages. Count what
 * is really unmapped, so that ALLOC over mapped pages takes nothing from
 * the system; get the rest from the system or other interfaces; if still
 * short, give frames to entries in order: an entry that cannot have all it
 * needs fails with -ENOMEM and changes nothing.
 */
static unsigned long exmap_alloc_short(struct exmap_ctx *ctx,
				       unsigned int ifidx, unsigned int nr,
				       unsigned long got,
				       struct list_head *frames)
{
	struct exmap_entry *entries = ctx->ifaces[ifidx].entries;
	unsigned long need = 0, left;
	unsigned int i;

	exmap_pt_collect(ctx->mm, ctx->area_start, entries, nr, NULL, NULL);
	for (i = 0; i < nr; i++) {
		entries[i].res = entries[i].len - entries[i].res;
		need += entries[i].res;
	}
	if (got < need)
		got += exmap_pool_get(ctx, ifidx, need - got, frames, true);

	left = got;
	for (i = 0; i < nr; i++) {
		if (entries[i].res > left) {
			entries[i].res = -ENOMEM;
			continue;
		}
		left -= entries[i].res;
		entries[i].res = 0;
	}
	return got;
}

static void exmap_alloc(struct exmap_ctx *ctx, unsigned int ifidx,
			unsigned int nr)
{
	struct exmap_entry *entries = ctx->ifaces[ifidx].entries;
	unsigned long want = 0, got, mapped;
	LIST_HEAD(frames);
	unsigned int i;

	for (i = 0; i < nr; i++)
		want += entries[i].len;
	got = exmap_pool_get_free(ctx, ifidx, want, &frames);
	if (got < want)
		got = exmap_alloc_short(ctx, ifidx, nr, got, &frames);

	mapped = exmap_pt_install(ctx->mm, ctx->area_start, entries, nr,
				  &frames, NULL, NULL);
	atomic_long_add(mapped, &ctx->pool.in_use);
	atomic64_add(mapped, &ctx->stats.alloc_pages);
	exmap_pool_put(ctx, ifidx, &frames, got - mapped);
}

static void exmap_free(struct exmap_ctx *ctx, unsigned int ifidx,
		       unsigned int nr)
{
	struct exmap_entry *entries = ctx->ifaces[ifidx].entries;
	struct mm_struct *mm = ctx->mm;
	struct vm_area_struct *vma;
	unsigned long freed = 0;
	LIST_HEAD(frames);
	unsigned int i;
	int err;

	exmap_tlb_batch_begin(mm);
	err = exmap_pt_clear(mm, ctx->area_start, entries, nr, &frames, &vma);
	for (i = 0; i < nr; i++)
		freed += entries[i].res;
	if (freed && mm_has_notifiers(mm)) {
		/* Secondary MMUs (KVM, SVA) must hear of every entry. */
		for (i = 0; i < nr; i++)
			exmap_tlb_notify(mm, exmap_entry_addr(ctx,
							      entries[i].page),
					 entries[i].len);
	}
	exmap_tlb_batch_end(mm, vma, freed);
	if (freed)
		atomic64_inc(&ctx->stats.tlb_flushes);
	if (err) {
		/* Walking a gap in the page tables needed memory. */
		for (i = 0; i < nr; i++) {
			if (entries[i].res < entries[i].len)
				entries[i].res = err;
		}
	}

	atomic_long_sub(freed, &ctx->pool.in_use);
	atomic64_add(freed, &ctx->stats.free_pages);
	exmap_pool_put(ctx, ifidx, &frames, freed);
}

static long exmap_action_locked(struct exmap_ctx *ctx, unsigned int ifidx,
				const struct exmap_action *act)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct mm_struct *mm = current->mm;
	bool io = act->opcode == EXMAP_OP_READ || act->opcode == EXMAP_OP_WRITE;
	bool whole;
	long ret;

	ret = exmap_vec_load(ctx, iface, act->nr);
	if (ret)
		return ret;

	/*
	 * While the area is whole every loaded entry lies in it: the VMA
	 * lookups (costly next to a one-page call) are skipped, and READ and
	 * WRITE need no mmap_lock before their I/O at all.
	 */
	whole = exmap_area_whole(ctx);
	if (!io || !whole) {
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		/* Under the lock, a whole area can only be going away. */
		whole = exmap_area_whole(ctx);
		if (!whole && !exmap_vec_vma(ctx, mm, iface, act->nr)) {
			ret = -EINVAL;
			goto out_unlock;
		}
	}

	switch (act->opcode) {
	case EXMAP_OP_ALLOC:
	case EXMAP_OP_FREE:
		if (act->opcode == EXMAP_OP_ALLOC)
			exmap_alloc(ctx, ifidx, act->nr);
		else
			exmap_free(ctx, ifidx, act->nr);
		if (whole)
			exmap_entries_recheck(ctx, mm, iface->entries, act->nr,
					      -EINVAL);
		mmap_read_unlock(mm);
		break;
	default:
		/* No mmap_lock across I/O; io.c takes it when it must. */
		if (!whole)
			mmap_read_unlock(mm);
		if (!iface->io_space)
			iface->io_space = exmap_io_space_alloc();
		ret = exmap_io_sync(ctx, ifidx, act->opcode == EXMAP_OP_WRITE,
				    iface->entries, act->nr, iface->io_space);
		if (ret)
			return ret;
	}

	exmap_vec_store(iface, act->nr);
	return exmap_count_failed(iface->entries, act->nr);

out_unlock:
	mmap_read_unlock(mm);
	return ret;
}

/* Arguments other than the vector have been checked by the caller. */
long exmap_action(struct exmap_ctx *ctx, const struct exmap_action *act)
{
	struct exmap_interface *iface = &ctx->ifaces[act->interface];
	long ret;

	/* The area belongs to one process: a forked child has none. */
	if (smp_load_acquire(&ctx->mm) != current->mm)
		return -ENXIO;

	if (mutex_lock_killable(&iface->lock))
		return -EINTR;
	ret = exmap_action_locked(ctx, act->interface, act);
	mutex_unlock(&iface->lock);
	return ret;
}
