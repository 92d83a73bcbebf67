// SPDX-License-Identifier: GPL-2.0
/*
 * EXMAP_IOC_ACTION: check the call, load the interface's vector, run the
 * opcode on it (alloc.c for ALLOC and FREE, io.c for READ and WRITE,
 * rewire.c for ALIAS, MOVE and QUERY) and store each entry's result.
 *
 * A call is refused as a whole (-errno, nothing changed) when its arguments
 * or any entry are malformed. Past that point every entry gets a result of
 * its own: pages changed, or -errno; the call returns how many entries
 * failed.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "exmap.h"

/* The arguments other than the vector, in the order docs/api.md gives. */
static int exmap_action_prep(struct exmap_ctx *ctx,
			     const struct exmap_action *act)
{
	bool rewire = act->opcode == EXMAP_OP_ALIAS ||
		      act->opcode == EXMAP_OP_MOVE;
	u32 flags = act->opcode == EXMAP_OP_QUERY ?
		    EXMAP_ACTION_QUERY_SHARED : 0;
	int ret = exmap_gate_ready(ctx);

	if (ret)
		return ret;
	if (act->flags & ~flags || act->opcode >= EXMAP_OP_MAX ||
	    act->interface >= ctx->nr_interfaces || !act->nr ||
	    act->nr > (rewire ? EXMAP_REWIRE_VEC_MAX : EXMAP_VEC_MAX))
		return -EINVAL;
	ret = exmap_gate_io(ctx, act->opcode);
	if (ret)
		return ret;
	return exmap_gate_caller(ctx);
}

/*
 * Copies the first @nr entries of the interface's vector into the kernel
 * copy and checks each against the area's size. On a bad entry, marks it in
 * the user's vector and returns -EINVAL. Each entry is read with one load,
 * so a concurrent writer of the page cannot make it half old, half new.
 */
static int exmap_vec_load(struct exmap_ctx *ctx,
			  struct exmap_interface *iface, unsigned int nr)
{
	struct exmap_iov *vec = exmap_interface_vec(iface);
	struct exmap_entry *e;
	unsigned int i;
	u64 raw;

	BUILD_BUG_ON(sizeof(struct exmap_iov) != sizeof(u64));
	lockdep_assert_held(&iface->lock);
	if (!vec)
		return -ENOMEM;
	if (!iface->entries) {
		iface->entries = kmalloc_array(EXMAP_VEC_MAX,
					       sizeof(*iface->entries),
					       GFP_KERNEL_ACCOUNT);
		if (!iface->entries)
			return -ENOMEM;
	}

	for (i = 0, e = iface->entries; i < nr; i++, e++) {
		raw = READ_ONCE(*(u64 *)&vec[i]);
		memcpy(e, &raw, sizeof(*e));
		e->res = 0;
		if (!exmap_run_in_area(ctx, e->page, e->len)) {
			WRITE_ONCE(vec[i].res, -EINVAL);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Checks that each entry lies in one live piece of the area (part of it may
 * have been unmapped or split); on the first that does not, marks it in the
 * user's vector and returns -EINVAL. Called with mmap_lock held.
 */
static int exmap_vec_check_live(struct exmap_ctx *ctx,
				struct exmap_interface *iface,
				struct mm_struct *mm, unsigned int nr)
{
	struct exmap_iov *vec = page_address(iface->vec_page);
	unsigned int i = exmap_entries_outside(ctx, mm, iface->entries, nr);

	lockdep_assert_held(&iface->lock);
	if (i == nr)
		return 0;
	WRITE_ONCE(vec[i].res, -EINVAL);
	return -EINVAL;
}

/* Writes each entry's result and returns how many failed. */
static long exmap_vec_store(struct exmap_interface *iface, unsigned int nr)
{
	struct exmap_iov *vec = page_address(iface->vec_page);
	struct exmap_entry *e = iface->entries;
	unsigned int i, failed = 0;

	lockdep_assert_held(&iface->lock);
	for (i = 0; i < nr; i++, e++) {
		WRITE_ONCE(vec[i].res, e->res);
		failed += e->res < 0;
	}
	return failed;
}

/*
 * ALLOC, FREE and QUERY run under mmap_lock for the whole call: the area's
 * VMAs stay as they are while the PTEs change. While the area is whole,
 * one lookup finds the VMA that holds every entry; otherwise each entry
 * must lie in one piece of the area, or the call is refused.
 */
static long exmap_action_map(struct exmap_ctx *ctx, unsigned int ifidx,
			     const struct exmap_action *act)
{
	unsigned int nr = act->nr;
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = exmap_area_whole_vma(ctx, mm);
	if (!vma) {
		ret = exmap_vec_check_live(ctx, iface, mm, nr);
		if (ret) {
			mmap_read_unlock(mm);
			return ret;
		}
	}
	if (act->opcode == EXMAP_OP_ALLOC)
		exmap_alloc(ctx, ifidx, vma, iface->entries, nr);
	else if (act->opcode == EXMAP_OP_FREE)
		exmap_free(ctx, ifidx, vma, iface->entries, nr);
	else
		exmap_query(ctx, ifidx, iface->entries, nr,
			    act->flags & EXMAP_ACTION_QUERY_SHARED);
	mmap_read_unlock(mm);
	return 0;
}

/*
 * READ and WRITE hold no mmap_lock across their I/O; io.c takes it for
 * the steps that need it. While the area is not whole, the entries are
 * checked first, so that a call into a hole is refused before any I/O.
 */
static long exmap_action_io(struct exmap_ctx *ctx, unsigned int ifidx,
			    unsigned int opcode, unsigned int nr)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct mm_struct *mm = current->mm;
	int ret;

	if (!exmap_area_whole(ctx)) {
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		ret = exmap_vec_check_live(ctx, iface, mm, nr);
		mmap_read_unlock(mm);
		if (ret)
			return ret;
	}
	if (!iface->io_space)
		iface->io_space = exmap_io_space_alloc();
	return exmap_io_sync(ctx, ifidx, opcode == EXMAP_OP_WRITE,
			     iface->entries, nr, iface->io_space,
			     &iface->stats);
}

long exmap_action(struct exmap_ctx *ctx, const struct exmap_action *act)
{
	struct exmap_interface *iface;
	long ret = exmap_action_prep(ctx, act);

	if (ret)
		return ret;
	iface = &ctx->ifaces[act->interface];
	if (mutex_lock_killable(&iface->lock))
		return -EINTR;
	if (act->opcode == EXMAP_OP_ALIAS || act->opcode == EXMAP_OP_MOVE) {
		ret = exmap_rewire(ctx, act->interface,
				   act->opcode == EXMAP_OP_MOVE, act->nr);
		goto out;
	}
	ret = exmap_vec_load(ctx, iface, act->nr);
	if (ret)
		goto out;
	if (act->opcode == EXMAP_OP_READ || act->opcode == EXMAP_OP_WRITE)
		ret = exmap_action_io(ctx, act->interface, act->opcode,
				      act->nr);
	else
		ret = exmap_action_map(ctx, act->interface, act);
	if (!ret)
		ret = exmap_vec_store(iface, act->nr);
out:
	mutex_unlock(&iface->lock);
	return ret;
}
