// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap's fallback backend, for machines without the module: what a
 * buffer manager does with plain Linux calls. The area is anonymous memory;
 * READ is pread into it, WRITE is pwrite from it, FREE is
 * madvise(MADV_DONTNEED) per entry (one TLB shootdown each).
 *
 * It keeps the module's semantics so that callers behave the same on both:
 * a bitmap says which pages are "mapped"; ALLOC and READ skip mapped pages,
 * and an entry fails whole with ENOMEM when it would take more than
 * pool_pages pages in use. Only one thing differs: touching an unmapped page
 * does not fault, it reads zeros (the memory is anonymous).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libexmap-int.h"

#define PAGE	EXMAP_PAGE_SIZE

static int page_mapped(struct exmap *x, uint64_t p)
{
	return (atomic_load(&x->mapped[p / 64]) >> (p % 64)) & 1;
}

/* Sets (or clears) bit @p; true if this call changed it. */
static int page_mark(struct exmap *x, uint64_t p, int set)
{
	uint64_t bit = 1ULL << (p % 64), old;

	if (set)
		old = atomic_fetch_or(&x->mapped[p / 64], bit);
	else
		old = atomic_fetch_and(&x->mapped[p / 64], ~bit);
	return !!(old & bit) != set;
}

static unsigned long count_unmapped(struct exmap *x, const struct exmap_iov *e)
{
	unsigned long n = 0;

	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		n += !page_mapped(x, p);
	return n;
}

static void fallback_destroy(struct exmap *x)
{
	if (x->area)
		munmap(x->area, x->opts.area_pages * PAGE);
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
	p = mmap(NULL, x->opts.area_pages * PAGE, PROT_READ | PROT_WRITE,
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

/* Takes @need pages out of the pool, or fails without taking any. */
static int pool_take(struct exmap *x, unsigned long need)
{
	unsigned long prev = atomic_fetch_add(&x->in_use, need);

	if (prev + need > x->opts.pool_pages) {
		atomic_fetch_sub(&x->in_use, need);
		return -ENOMEM;
	}
	return 0;
}

static int do_alloc(struct exmap *x, const struct exmap_iov *e)
{
	unsigned long need = count_unmapped(x, e), got = 0;

	if (pool_take(x, need))
		return -ENOMEM;
	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		got += page_mark(x, p, 1);
	/* Another thread mapped some of them meanwhile. */
	atomic_fetch_sub(&x->in_use, need - got);
	atomic_fetch_add(&x->alloc_pages, got);
	return (int)got;
}

static int do_free(struct exmap *x, const struct exmap_iov *e)
{
	unsigned long freed = 0;

	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		freed += page_mark(x, p, 0);
	if (freed) {
		if (madvise(x->area + e->page * PAGE, e->len * PAGE,
			    MADV_DONTNEED))
			return -errno;
		atomic_fetch_add(&x->flushes, 1);
	}
	atomic_fetch_sub(&x->in_use, freed);
	atomic_fetch_add(&x->free_pages, freed);
	return (int)freed;
}

static int read_run(struct exmap *x, uint64_t first, uint64_t n)
{
	ssize_t r = pread(x->opts.backing_fd, x->area + first * PAGE, n * PAGE,
			  x->opts.backing_offset + first * PAGE);

	if (r == (ssize_t)(n * PAGE))
		return 0;
	madvise(x->area + first * PAGE, n * PAGE, MADV_DONTNEED);
	return r < 0 ? -errno : -ENODATA;
}

/* Reads the unmapped runs of the entry; all or nothing. */
static int do_read(struct exmap *x, const struct exmap_iov *e)
{
	uint64_t end = (uint64_t)e->page + e->len, p = e->page, run;
	unsigned long need = count_unmapped(x, e), got = 0;
	int ret;

	if (pool_take(x, need))
		return -ENOMEM;
	while (p < end) {
		if (page_mapped(x, p)) {
			p++;
			continue;
		}
		for (run = p; run < end && !page_mapped(x, run); run++)
			;
		ret = read_run(x, p, run - p);
		if (ret) {
			atomic_fetch_sub(&x->in_use, need - got);
			return ret;
		}
		for (; p < run; p++)
			got += page_mark(x, p, 1);
	}
	atomic_fetch_sub(&x->in_use, need - got);
	atomic_fetch_add(&x->alloc_pages, got);
	atomic_fetch_add(&x->read_pages, got);
	return (int)got;
}

static int do_write(struct exmap *x, const struct exmap_iov *e)
{
	ssize_t w;

	if (count_unmapped(x, e))
		return -EFAULT;
	w = pwrite(x->opts.backing_fd, x->area + e->page * PAGE, e->len * PAGE,
		   x->opts.backing_offset + e->page * PAGE);
	if (w != (ssize_t)(e->len * PAGE))
		return w < 0 ? -errno : -EIO;
	atomic_fetch_add(&x->write_pages, e->len);
	return e->len;
}

static int fallback_action(struct exmap_if *i, unsigned int opcode)
{
	struct exmap *x = i->x;
	int failed = 0, res;

	if (opcode >= EXMAP_OP_MAX)
		return -EINVAL;
	/* Anonymous memory cannot be mapped twice: see memfd.c. */
	if (opcode == EXMAP_OP_ALIAS || opcode == EXMAP_OP_MOVE)
		return -EOPNOTSUPP;
	for (unsigned int k = 0; k < i->nr; k++) {
		struct exmap_iov *e = &i->vec[k];

		if (!e->len || e->len > EXMAP_ENTRY_MAX_PAGES ||
		    (uint64_t)e->page + e->len > x->opts.area_pages) {
			e->res = -EINVAL;
			return -EINVAL;
		}
	}
	if ((opcode == EXMAP_OP_READ || opcode == EXMAP_OP_WRITE) &&
	    x->opts.backing_fd < 0)
		return -EBADF;
	if (opcode == EXMAP_OP_WRITE &&
	    (fcntl(x->opts.backing_fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return -EBADF;

	for (unsigned int k = 0; k < i->nr; k++) {
		struct exmap_iov *e = &i->vec[k];

		switch (opcode) {
		case EXMAP_OP_ALLOC:
			res = do_alloc(x, e);
			break;
		case EXMAP_OP_FREE:
			res = do_free(x, e);
			break;
		case EXMAP_OP_READ:
			res = do_read(x, e);
			break;
		case EXMAP_OP_QUERY:
			/* No page shares its memory with another here. */
			res = i->flags ? 0 : e->len - count_unmapped(x, e);
			break;
		default:
			res = do_write(x, e);
			break;
		}
		e->res = (int16_t)res;
		failed += res < 0;
	}
	if (opcode == EXMAP_OP_READ)
		atomic_fetch_add(&x->read_calls, 1);
	if (opcode == EXMAP_OP_WRITE)
		atomic_fetch_add(&x->write_calls, 1);
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
};
