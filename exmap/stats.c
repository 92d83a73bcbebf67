// SPDX-License-Identifier: GPL-2.0
/*
 * The counters behind EXMAP_IOC_STATS and fdinfo.
 *
 * ACTION counts in its interface's own counters, under the interface lock
 * and with plain adds: two threads on two interfaces never write the same
 * cache line. The paths that hold no interface lock (io_uring commands,
 * the pread/pwrite shortcut, stealing, reclaim after munmap) count in the
 * context's atomic counters. STATS sums both, without a lock: a snapshot
 * taken while calls run may be a moment out of date, one taken while none
 * runs is exact.
 */
#include <linux/string.h>

#include "exmap.h"

/* I/O done: into @c when the caller holds its interface's lock. */
void exmap_count_io(struct exmap_ctx *ctx, struct exmap_counters *c,
		    bool write, unsigned long pages)
{
	struct exmap_shared_counters *s = &ctx->stats;

	if (c && write) {
		c->write_pages += pages;
		c->write_calls++;
	} else if (c) {
		c->read_pages += pages;
		c->read_calls++;
	} else if (write) {
		atomic64_add(pages, &s->write_pages);
		atomic64_inc(&s->write_calls);
	} else {
		atomic64_add(pages, &s->read_pages);
		atomic64_inc(&s->read_calls);
	}
}

/* Pages mapped: into @c when the caller holds its interface's lock. */
void exmap_count_mapped(struct exmap_ctx *ctx, struct exmap_counters *c,
			unsigned long pages)
{
	if (c)
		c->mapped += pages;
	else
		atomic64_add(pages, &ctx->stats.mapped);
}

void exmap_stats_fill(struct exmap_ctx *ctx, struct exmap_stats2 *st2)
{
	struct exmap_shared_counters *s = &ctx->stats;
	struct exmap_stats *st = &st2->base;
	const struct exmap_counters *c;
	u64 mapped, unmapped, released, reclaimed;
	unsigned long taken;
	unsigned int i;

	memset(st2, 0, sizeof(*st2));
	mapped = atomic64_read(&s->mapped);
	reclaimed = atomic64_read(&s->reclaimed);
	unmapped = 0;
	released = 0;
	st2->aliased_frames = max_t(s64, atomic64_read(&s->shared), 0);
	st->steals = atomic64_read(&s->steals);
	st->read_pages = atomic64_read(&s->read_pages);
	st->read_calls = atomic64_read(&s->read_calls);
	st->write_pages = atomic64_read(&s->write_pages);
	st->write_calls = atomic64_read(&s->write_calls);
	for (i = 0; i < ctx->nr_interfaces; i++) {
		c = &ctx->ifaces[i].stats;
		mapped += READ_ONCE(c->mapped);
		unmapped += READ_ONCE(c->unmapped);
		released += READ_ONCE(c->released);
		st2->alias_pages += READ_ONCE(c->alias_pages);
		st2->move_pages += READ_ONCE(c->move_pages);
		st2->query_calls += READ_ONCE(c->query_calls);
		st->tlb_flushes += READ_ONCE(c->tlb_flushes);
		st->read_pages += READ_ONCE(c->read_pages);
		st->read_calls += READ_ONCE(c->read_calls);
		st->write_pages += READ_ONCE(c->write_pages);
		st->write_calls += READ_ONCE(c->write_calls);
	}
	/*
	 * A frame is taken before it is mapped and counted, and taken never
	 * shrinks: read it last. Counts read while calls run may be out of
	 * step with each other for a moment; keep in use within 0 .. taken.
	 */
	smp_rmb();
	taken = exmap_pool_nr_taken(ctx);

	st->pool_size = ctx->pool.size;
	st->frames_taken = taken;
	st->alloc_pages = mapped;
	st->free_pages = unmapped;
	if (mapped < released + reclaimed)
		st->frames_in_use = 0;
	else
		st->frames_in_use = min_t(u64, mapped - released - reclaimed,
					  taken);
	st->frames_free = taken - st->frames_in_use;
}
