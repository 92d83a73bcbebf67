// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap's fallback backend, for machines without the module: what a
 * buffer manager does with plain Linux calls. The area is anonymous memory;
 * FREE is madvise(MADV_DONTNEED) per entry (one TLB shootdown each); READ
 * and WRITE go through io_uring (fallback-io.c).
 *
 * It keeps the module's semantics so that callers behave the same on both:
 * a bitmap says which pages are "mapped"; ALLOC and READ skip mapped pages,
 * and an entry fails whole with ENOMEM when it would take more than
 * pool_pages pages in use. Only one thing differs: touching an unmapped page
 * does not fault, it reads zeros (the memory is anonymous).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fallback.h"

static void fallback_destroy(struct exmap *x)
{
	if (x->area)
		munmap(x->area, x->opts.area_pages * FB_PAGE);
	free((void *)x->mapped);
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++)
		free(x->ifs[k].fallback_vec);
}

static int fallback_create(struct exmap *x)
{
	void *p;

	x->mapped = calloc((x->opts.area_pages + 63) / 64, sizeof(uint64_t));
	if (!x->mapped)
		return -ENOMEM;
	p = mmap(NULL, x->opts.area_pages * FB_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fallback_destroy(x);
		return -ENOMEM;
	}
	x->area = p;
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++) {
		x->ifs[k].fallback_vec = calloc(EXMAP_VEC_MAX,
						sizeof(struct exmap_iov));
		if (!x->ifs[k].fallback_vec) {
			fallback_destroy(x);
			return -ENOMEM;
		}
		x->ifs[k].vec = x->ifs[k].fallback_vec;
	}
	return 0;
}

static int do_alloc(struct exmap *x, const struct exmap_iov *e)
{
	unsigned long need = fb_count_unmapped(x, e), got = 0;

	if (fb_pool_take(x, need))
		return -ENOMEM;
	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		got += fb_page_mark(x, p, 1);
	/* Another thread mapped some of them meanwhile. */
	atomic_fetch_sub(&x->in_use, need - got);
	atomic_fetch_add(&x->alloc_pages, got);
	return (int)got;
}

static int do_free(struct exmap *x, const struct exmap_iov *e)
{
	unsigned long freed = 0;

	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		freed += fb_page_mark(x, p, 0);
	if (freed) {
		if (madvise(x->area + e->page * FB_PAGE, e->len * FB_PAGE,
			    MADV_DONTNEED))
			return -errno;
		atomic_fetch_add(&x->flushes, 1);
	}
	atomic_fetch_sub(&x->in_use, freed);
	atomic_fetch_add(&x->free_pages, freed);
	return (int)freed;
}

/* ALLOC, FREE and QUERY; READ and WRITE run as fb_io_submit() and a wait. */
static int fallback_action(struct exmap_if *i, unsigned int opcode)
{
	struct exmap *x = i->x;
	int failed = 0, res, ret;

	/* Anonymous memory cannot be mapped twice: see memfd.c. */
	if (opcode == EXMAP_OP_ALIAS || opcode == EXMAP_OP_MOVE)
		return -EOPNOTSUPP;
	if (opcode != EXMAP_OP_ALLOC && opcode != EXMAP_OP_FREE &&
	    opcode != EXMAP_OP_QUERY)
		return -EINVAL;
	ret = exmap_vec_check(i);
	if (ret)
		return ret;
	for (unsigned int k = 0; k < i->nr; k++) {
		struct exmap_iov *e = &i->vec[k];

		if (opcode == EXMAP_OP_ALLOC)
			res = do_alloc(x, e);
		else if (opcode == EXMAP_OP_FREE)
			res = do_free(x, e);
		else	/* QUERY: no page shares its memory with another here */
			res = i->flags ? 0 : e->len - fb_count_unmapped(x, e);
		e->res = (int16_t)res;
		failed += res < 0;
	}
	return failed;
}

static int fallback_stats(struct exmap *x, struct exmap_stats2 *st2)
{
	struct exmap_stats *st = &st2->base;

	st->pool_size = x->opts.pool_pages;
	st->frames_in_use = atomic_load(&x->in_use);
	st->frames_taken = st->frames_in_use;
	st->alloc_pages = atomic_load(&x->alloc_pages);
	st->free_pages = atomic_load(&x->free_pages);
	st->tlb_flushes = atomic_load(&x->flushes);
	st->read_pages = atomic_load(&x->read_pages);
	st->read_calls = atomic_load(&x->read_calls);
	st->write_pages = atomic_load(&x->write_pages);
	st->write_calls = atomic_load(&x->write_calls);
	return 0;
}

const struct exmap_ops exmap_fallback_ops = {
	.create = fallback_create,
	.destroy = fallback_destroy,
	.action = fallback_action,
	.stats = fallback_stats,
	.submit = fb_io_submit,
	.complete = fb_io_complete,
};
