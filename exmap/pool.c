// SPDX-License-Identifier: GPL-2.0
/*
 * The frame pool of one context.
 *
 * Frames are taken from the system lazily, up to the pool size, and are
 * given back only when the context is released: a buffer manager frees and
 * allocates the same number of pages all day long, and the page allocator
 * would only slow that down.
 *
 * Free frames live on per-interface lists so that a thread that frees and
 * allocates on its own interface touches no shared cache line. An interface
 * that collects more than it needs hands its whole list to the global list
 * in one splice; an interface that runs dry takes from its own list, then
 * the global list, then the system, and last steals from other interfaces.
 *
 * Lock order: an interface's free_lock, then the pool lock; neither is held
 * while allocating.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>

#include "exmap.h"

/* An interface keeps at most this many free frames for itself. */
#define EXMAP_LOCAL_MAX		(2 * EXMAP_VEC_MAX)

/*
 * Fresh frames are zeroed (no data crosses contexts), charged to the
 * caller's memory cgroup, and fail quietly instead of calling the OOM killer:
 * the caller gets -ENOMEM for the entry and decides what to evict.
 */
#define EXMAP_FRAME_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT | \
			 __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

void exmap_pool_init(struct exmap_ctx *ctx, unsigned long size)
{
	struct exmap_pool *pool = &ctx->pool;

	pool->size = size;
	spin_lock_init(&pool->lock);
	INIT_LIST_HEAD(&pool->free);
	pool->nr_free = 0;
	mutex_init(&pool->grow_lock);
	xa_init(&pool->frames);
	pool->taken = 0;
	atomic_long_set(&pool->in_use, 0);
}

/* Called at release, when no VMA maps any frame any more. */
void exmap_pool_destroy(struct exmap_ctx *ctx)
{
	struct exmap_pool *pool = &ctx->pool;
	struct page *page;
	unsigned long idx;

	xa_for_each(&pool->frames, idx, page) {
		exmap_frame_set_unmapped(page);
		__free_page(page);
	}
	xa_destroy(&pool->frames);
	atomic_long_sub(pool->taken, &exmap_frames_held);
	pool->taken = 0;
}

unsigned long exmap_pool_nr_taken(struct exmap_ctx *ctx)
{
	return READ_ONCE(ctx->pool.taken);
}

/* Moves up to @want frames from @from to the tail of @out. */
static unsigned long exmap_list_take(struct list_head *from,
				     unsigned long *nr_from,
				     unsigned long want, struct list_head *out)
{
	struct list_head *pos;
	unsigned long n;

	if (!*nr_from || !want)
		return 0;
	if (want >= *nr_from) {
		n = *nr_from;
		list_splice_tail_init(from, out);
	} else {
		LIST_HEAD(cut);

		n = 0;
		list_for_each(pos, from) {
			if (++n == want)
				break;
		}
		list_cut_position(&cut, from, pos);
		list_splice_tail(&cut, out);
	}
	*nr_from -= n;
	return n;
}

static unsigned long exmap_take_local(struct exmap_interface *iface,
				      unsigned long want,
				      struct list_head *out)
{
	unsigned long n;

	spin_lock(&iface->free_lock);
	n = exmap_list_take(&iface->free, &iface->nr_free, want, out);
	spin_unlock(&iface->free_lock);
	return n;
}

static unsigned long exmap_take_global(struct exmap_pool *pool,
				       unsigned long want,
				       struct list_head *out)
{
	unsigned long n;

	if (!READ_ONCE(pool->nr_free))
		return 0;
	spin_lock(&pool->lock);
	n = exmap_list_take(&pool->free, &pool->nr_free, want, out);
	spin_unlock(&pool->lock);
	return n;
}

/*
 * Takes up to @want fresh frames from the system, within the pool size and
 * the system's reserve (see limits.c).
 */
static unsigned long exmap_grow(struct exmap_pool *pool, unsigned long want,
				struct list_head *out)
{
	unsigned long n = 0, allowed = 0;
	struct page *page;

	if (READ_ONCE(pool->taken) >= pool->size)
		return 0;

	mutex_lock(&pool->grow_lock);
	while (n < want && pool->taken < pool->size) {
		if (fatal_signal_pending(current))
			break;
		/* Asked again as it runs out: others allocate and free too. */
		if (n == allowed) {
			allowed = n + min_t(unsigned long, EXMAP_VEC_MAX,
					    exmap_grow_allowance());
			if (n == allowed)
				break;
		}
		page = alloc_page(EXMAP_FRAME_GFP);
		if (!page)
			break;
		if (xa_err(xa_store(&pool->frames, pool->taken, page,
				    GFP_KERNEL_ACCOUNT))) {
			__free_page(page);
			break;
		}
		exmap_frame_set_unmapped(page);
		list_add_tail(&page->lru, out);
		/* Readers outside grow_lock only compare it with the size. */
		WRITE_ONCE(pool->taken, pool->taken + 1);
		n++;
		if (!(n % EXMAP_VEC_MAX))
			cond_resched();
	}
	mutex_unlock(&pool->grow_lock);
	atomic_long_add(n, &exmap_frames_held);
	return n;
}

static unsigned long exmap_steal(struct exmap_ctx *ctx, unsigned int ifidx,
				 unsigned long want, struct list_head *out)
{
	unsigned long n = 0;
	unsigned int i, victim;

	for (i = 1; i < ctx->nr_interfaces && n < want; i++) {
		victim = (ifidx + i) % ctx->nr_interfaces;
		if (!READ_ONCE(ctx->ifaces[victim].nr_free))
			continue;
		n += exmap_take_local(&ctx->ifaces[victim], want - n, out);
	}
	if (n)
		atomic64_add(n, &ctx->stats.steals);
	return n;
}

/*
 * Takes up to @want free frames for interface @ifidx from the free lists
 * only, and appends them to @out. The frames are unmapped and not counted
 * as in use. Returns how many it took.
 */
unsigned long exmap_pool_get_free(struct exmap_ctx *ctx, unsigned int ifidx,
				  unsigned long want, struct list_head *out)
{
	unsigned long n;

	n = exmap_take_local(&ctx->ifaces[ifidx], want, out);
	if (n < want)
		n += exmap_take_global(&ctx->pool, want - n, out);
	return n;
}

/*
 * Like exmap_pool_get_free(), but when the free lists run dry also takes
 * fresh frames from the system (up to the pool size; only if @may_sleep)
 * and then steals from other interfaces. Fewer than @want: the pool is
 * exhausted (or would have had to sleep).
 */
unsigned long exmap_pool_get(struct exmap_ctx *ctx, unsigned int ifidx,
			     unsigned long want, struct list_head *out,
			     bool may_sleep)
{
	unsigned long n;

	n = exmap_pool_get_free(ctx, ifidx, want, out);
	if (n < want && may_sleep)
		n += exmap_grow(&ctx->pool, want - n, out);
	if (n < want)
		n += exmap_steal(ctx, ifidx, want - n, out);
	/*
	 * An interface may have spilled its list to the global one after the
	 * look at the global list and before the look at the interface.
	 */
	if (n < want)
		n += exmap_take_global(&ctx->pool, want - n, out);
	return n;
}

/*
 * Gives @nr unmapped frames back to interface @ifidx. The caller has made
 * sure no TLB can still reach them.
 */
void exmap_pool_put(struct exmap_ctx *ctx, unsigned int ifidx,
		    struct list_head *frames, unsigned long nr)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct exmap_pool *pool = &ctx->pool;

	if (!nr)
		return;

	spin_lock(&iface->free_lock);
	list_splice_init(frames, &iface->free);
	iface->nr_free += nr;
	/*
	 * The spill happens under both locks: frames that were on no list
	 * for a moment would make a concurrent ALLOC that finds every list
	 * short fail with -ENOMEM although the pool has them.
	 */
	if (iface->nr_free > EXMAP_LOCAL_MAX) {
		spin_lock(&pool->lock);
		list_splice_init(&iface->free, &pool->free);
		pool->nr_free += iface->nr_free;
		spin_unlock(&pool->lock);
		iface->nr_free = 0;
	}
	spin_unlock(&iface->free_lock);
}

/*
 * Part of the area went away (munmap, exit): the kernel has cleared its PTEs
 * and flushed the TLB, so the frames recorded there are free again. The
 * range is already detached from the mm (munmap may have downgraded
 * mmap_lock to read), so no ALLOC or FREE can reach it any more; frames
 * they change elsewhere meanwhile are outside [first, end) either way.
 * @first and @end are area page indices.
 */
void exmap_pool_reclaim(struct exmap_ctx *ctx, unsigned long first,
			unsigned long end)
{
	struct exmap_pool *pool = &ctx->pool;
	unsigned long idx, mapped, n = 0;
	struct page *page;
	LIST_HEAD(freed);

	xa_for_each(&pool->frames, idx, page) {
		mapped = page_private(page);
		if (!mapped || mapped - 1 < first || mapped - 1 >= end)
			continue;
		exmap_frame_set_unmapped(page);
		list_add(&page->lru, &freed);
		n++;
	}
	if (!n)
		return;

	atomic_long_sub(n, &pool->in_use);
	spin_lock(&pool->lock);
	list_splice(&freed, &pool->free);
	pool->nr_free += n;
	spin_unlock(&pool->lock);
}
