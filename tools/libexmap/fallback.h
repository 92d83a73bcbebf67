/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * The fallback backend's bookkeeping, shared by its ALLOC/FREE part
 * (fallback.c) and its READ/WRITE part (fallback-io.c): which pages are
 * "mapped", and the pool's count of pages in use.
 */
#ifndef LIBEXMAP_FALLBACK_H
#define LIBEXMAP_FALLBACK_H

#include <errno.h>

#include "libexmap-int.h"

#define FB_PAGE	EXMAP_PAGE_SIZE

static inline int fb_page_mapped(struct exmap *x, uint64_t p)
{
	return (atomic_load(&x->mapped[p / 64]) >> (p % 64)) & 1;
}

/* Sets (or clears) bit @p; true if this call changed it. */
static inline int fb_page_mark(struct exmap *x, uint64_t p, int set)
{
	uint64_t bit = 1ULL << (p % 64), old;

	if (set)
		old = atomic_fetch_or(&x->mapped[p / 64], bit);
	else
		old = atomic_fetch_and(&x->mapped[p / 64], ~bit);
	return !!(old & bit) != set;
}

static inline unsigned long fb_count_unmapped(struct exmap *x,
					      const struct exmap_iov *e)
{
	unsigned long n = 0;

	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		n += !fb_page_mapped(x, p);
	return n;
}

/* Takes @need pages out of the pool, or fails without taking any. */
static inline int fb_pool_take(struct exmap *x, unsigned long need)
{
	unsigned long prev = atomic_fetch_add(&x->in_use, need);

	if (prev + need > x->opts.pool_pages) {
		atomic_fetch_sub(&x->in_use, need);
		return -ENOMEM;
	}
	return 0;
}

/* READ and WRITE (fallback-io.c): start every entry of the vector. */
int fb_io_submit(struct exmap_if *i, unsigned int opcode);
int fb_io_complete(struct exmap_if *i, const struct io_uring_cqe *cqe);

#endif
