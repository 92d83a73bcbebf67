// SPDX-License-Identifier: GPL-2.0
/*
 * The frame pool of one context.
 *
 * Frames are taken from the system lazily, up to the pool size, and are
 * given back only when the context is released: a buffer manager frees and
 * allocates the same number of pages all day long, and the page allocator
 * would only slow that down.
 *
 * Free frames sit on stacks (struct exmap_frames, linked through the
 * frames themselves): one per interface, so that a thread that frees and
 * allocates on its own interface touches no shared cache line, and a global
 * one. An interface that collects more than it needs hands its whole stack
 * to the global one in one splice; an interface that runs dry takes from
 * its own stack, then the global one, then the system, and last steals from
 * other interfaces.
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

/* Moves all of @from onto @to, in one step. */
static void exmap_frames_splice(struct exmap_frames *from,
				struct exmap_frames *to)
{
	if (!from->nr)
		return;
	*exmap_frame_link(from->tail) = to->head;
	if (!to->head)
		to->tail = from->tail;
	to->head = from->head;
	to->nr += from->nr;
	*from = EXMAP_FRAMES_INIT;
}

/*
 * Moves up to @want frames from @from onto @to; returns how many. All of
 * @from moves in one step; part of it costs a walk over the frames moved,
 * which their taker touches next anyway.
 */
static unsigned long exmap_frames_cut(struct exmap_frames *from,
				      unsigned long want,
				      struct exmap_frames *to)
{
	struct page *first = from->head, *last = first;
	unsigned long n;

	if (!want || !from->nr)
		return 0;
	if (want >= from->nr) {
		n = from->nr;
		exmap_frames_splice(from, to);
		return n;
	}
	for (n = 1; n < want; n++)
		last = *exmap_frame_link(last);
	from->head = *exmap_frame_link(last);
	from->nr -= want;
	*exmap_frame_link(last) = to->head;
	if (!to->head)
		to->tail = last;
	to->head = first;
	to->nr += want;
	return want;
}

void exmap_pool_init(struct exmap_ctx *ctx, unsigned long size)
{
	struct exmap_pool *pool = &ctx->pool;

	pool->size = size;
	spin_lock_init(&pool->lock);
	pool->free = EXMAP_FRAMES_INIT;
	mutex_init(&pool->grow_lock);
	xa_init(&pool->frames);
	pool->taken = 0;
	xa_init(&pool->aliases);
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
	xa_destroy(&pool->aliases);
	atomic_long_sub(pool->taken, &exmap_frames_held);
	pool->taken = 0;
}

unsigned long exmap_pool_nr_taken(struct exmap_ctx *ctx)
{
	return READ_ONCE(ctx->pool.taken);
}

static unsigned long exmap_take_local(struct exmap_interface *iface,
				      unsigned long want,
				      struct exmap_frames *out)
{
	unsigned long n;

	if (!READ_ONCE(iface->free.nr))
		return 0;
	spin_lock(&iface->free_lock);
	n = exmap_frames_cut(&iface->free, want, out);
	spin_unlock(&iface->free_lock);
	return n;
}

static unsigned long exmap_take_global(struct exmap_pool *pool,
				       unsigned long want,
				       struct exmap_frames *out)
{
	unsigned long n;

	if (!READ_ONCE(pool->free.nr))
		return 0;
	spin_lock(&pool->lock);
	n = exmap_frames_cut(&pool->free, want, out);
	spin_unlock(&pool->lock);
	return n;
}

/*
 * Takes up to @want fresh frames from the system, within the pool size and
 * the system's reserve (see limits.c).
 */
static unsigned long exmap_grow(struct exmap_pool *pool, unsigned long want,
				struct exmap_frames *out)
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
		exmap_frames_push(out, page);
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
				 unsigned long want, struct exmap_frames *out)
{
	unsigned long n = 0;
	unsigned int i, victim;

	for (i = 1; i < ctx->nr_interfaces && n < want; i++) {
		victim = (ifidx + i) % ctx->nr_interfaces;
		n += exmap_take_local(&ctx->ifaces[victim], want - n, out);
	}
	if (n)
		atomic64_add(n, &ctx->stats.steals);
	return n;
}

/*
 * Takes up to @want free frames for interface @ifidx and pushes them onto
 * @out: from its own stack, the global one, the system (only if
 * @may_grow: it may sleep) and the other interfaces, in that order. The
 * frames are unmapped. Returns how many it took; fewer than @want: the
 * pool is exhausted (or would have had to grow).
 */
unsigned long exmap_pool_get(struct exmap_ctx *ctx, unsigned int ifidx,
			     unsigned long want, struct exmap_frames *out,
			     bool may_grow)
{
	unsigned long n;

	n = exmap_take_local(&ctx->ifaces[ifidx], want, out);
	if (n < want)
		n += exmap_take_global(&ctx->pool, want - n, out);
	if (n < want && may_grow)
		n += exmap_grow(&ctx->pool, want - n, out);
	if (n < want)
		n += exmap_steal(ctx, ifidx, want - n, out);
	/*
	 * An interface may have spilled its stack to the global one after the
	 * look at the global stack and before the look at the interface.
	 */
	if (n < want)
		n += exmap_take_global(&ctx->pool, want - n, out);
	return n;
}

/*
 * Gives the unmapped frames on @frames back to interface @ifidx and empties
 * @frames. The caller has made sure no TLB can still reach them.
 */
void exmap_pool_put(struct exmap_ctx *ctx, unsigned int ifidx,
		    struct exmap_frames *frames)
{
	struct exmap_interface *iface = &ctx->ifaces[ifidx];
	struct exmap_pool *pool = &ctx->pool;

	if (!frames->nr)
		return;

	spin_lock(&iface->free_lock);
	exmap_frames_splice(frames, &iface->free);
	/*
	 * The spill happens under both locks: frames that were on no stack
	 * for a moment would make a concurrent ALLOC that finds every stack
	 * short fail with -ENOMEM although the pool has them.
	 */
	if (iface->free.nr > EXMAP_LOCAL_MAX) {
		spin_lock(&pool->lock);
		exmap_frames_splice(&iface->free, &pool->free);
		spin_unlock(&pool->lock);
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
	struct exmap_frames freed = EXMAP_FRAMES_INIT;
	struct exmap_pool *pool = &ctx->pool;
	unsigned long idx, at;
	struct page *page;

	xa_for_each(&pool->frames, idx, page) {
		if (!exmap_frame_index(page, &at) || at < first || at >= end)
			continue;
		exmap_frame_set_unmapped(page);
		exmap_frames_push(&freed, page);
	}
	exmap_alias_reclaim(ctx, first, end, &freed);
	if (!freed.nr)
		return;

	atomic64_add(freed.nr, &ctx->stats.reclaimed);
	spin_lock(&pool->lock);
	exmap_frames_splice(&freed, &pool->free);
	spin_unlock(&pool->lock);
}
