// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * The fallback backend's READ and WRITE: what a careful buffer manager does
 * without the module. Every entry of a vector is started at once through
 * the interface's io_uring, straight into (or out of) the area's anonymous
 * memory, and each entry finishes on its own as its requests complete, so
 * a caller can release a page as soon as its data is there. A vector of
 * one run is a plain pread or pwrite: a ring buys nothing for one request.
 *
 * READ reads only the unmapped runs of an entry (mapped pages keep their
 * data) and marks the pages mapped only once all of them arrived: a failed
 * or short read leaves the whole entry unmapped, as on the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fallback.h"

/* user_data of a request: the entry, and the run's offset and length. */
static uint64_t run_tag(unsigned int k, unsigned int off, unsigned int len)
{
	return k | (uint64_t)off << 16 | (uint64_t)len << 32;
}

static off_t store_offset(struct exmap *x, uint64_t page)
{
	return (off_t)(x->opts.backing_offset + page * FB_PAGE);
}

/* What a transfer of @want bytes that moved @got (or -errno) leaves. */
static int16_t io_result(ssize_t got, size_t want, int short_err)
{
	if (got < 0)
		return (int16_t)got;
	return got == (ssize_t)want ? 0 : (int16_t)-short_err;
}

/* Unmapped pages read zeros: drop what a failed read left in them. */
static void drop_unmapped(struct exmap *x, const struct exmap_iov *e)
{
	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		if (!fb_page_mapped(x, p))
			madvise(x->area + p * FB_PAGE, FB_PAGE, MADV_DONTNEED);
}

/* Every request of READ entry @k is back: map its pages, or fail it. */
static void read_finish(struct exmap_if *i, unsigned int k)
{
	struct exmap *x = i->x;
	struct exmap_async *as = i->as;
	struct exmap_iov *e = &i->vec[k];
	unsigned long got = 0;

	if (as->err[k]) {
		drop_unmapped(x, e);
		atomic_fetch_sub(&x->in_use, as->taken[k]);
		e->res = as->err[k];
		return;
	}
	for (uint64_t p = e->page; p < (uint64_t)e->page + e->len; p++)
		got += fb_page_mark(x, p, 1);
	/* Another thread mapped some of them meanwhile. */
	atomic_fetch_sub(&x->in_use, as->taken[k] - got);
	atomic_fetch_add(&x->alloc_pages, got);
	atomic_fetch_add(&x->read_pages, got);
	e->res = (int16_t)got;
}

static void write_finish(struct exmap_if *i, unsigned int k)
{
	struct exmap_iov *e = &i->vec[k];

	if (i->as->err[k]) {
		e->res = i->as->err[k];
		return;
	}
	atomic_fetch_add(&i->x->write_pages, e->len);
	e->res = (int16_t)e->len;
}

/*
 * One run of @n pages from @first for entry @k: a request in the ring, or
 * done here and now when @sync.
 */
static void start_run(struct exmap_if *i, unsigned int k, uint64_t first,
		      unsigned int n, bool write, bool sync)
{
	struct exmap *x = i->x;
	struct exmap_async *as = i->as;
	char *buf = x->area + first * FB_PAGE;
	size_t bytes = n * FB_PAGE;
	struct io_uring_sqe *sqe;

	if (sync) {
		ssize_t r = write ? pwrite(x->opts.backing_fd, buf, bytes,
					   store_offset(x, first)) :
				    pread(x->opts.backing_fd, buf, bytes,
					  store_offset(x, first));

		if (!as->err[k])
			as->err[k] = io_result(r < 0 ? -errno : r, bytes,
					       write ? EIO : ENODATA);
		return;
	}
	sqe = exmap_async_sqe(i);
	if (write)
		io_uring_prep_write(sqe, 0, buf, bytes, store_offset(x, first));
	else
		io_uring_prep_read(sqe, 0, buf, bytes, store_offset(x, first));
	/* The backing fd is the ring's registered file 0. */
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, run_tag(k, first - i->vec[k].page, n));
	as->left[k]++;
}

/* Starts READ entry @k: its unmapped runs. */
static void read_start(struct exmap_if *i, unsigned int k, bool sync)
{
	struct exmap *x = i->x;
	struct exmap_async *as = i->as;
	struct exmap_iov *e = &i->vec[k];
	uint64_t end = (uint64_t)e->page + e->len, p = e->page, run;
	unsigned long need = fb_count_unmapped(x, e);

	if (fb_pool_take(x, need)) {
		e->res = -ENOMEM;
		exmap_async_finish(i, k);
		return;
	}
	as->taken[k] = (uint16_t)need;
	while (p < end) {
		if (fb_page_mapped(x, p)) {
			p++;
			continue;
		}
		for (run = p; run < end && !fb_page_mapped(x, run); run++)
			;
		start_run(i, k, p, run - p, false, sync);
		p = run;
	}
	if (!as->left[k]) {
		read_finish(i, k);
		exmap_async_finish(i, k);
	}
}

/* Starts WRITE entry @k: all its pages must be mapped. */
static void write_start(struct exmap_if *i, unsigned int k, bool sync)
{
	struct exmap_iov *e = &i->vec[k];

	if (fb_count_unmapped(i->x, e)) {
		e->res = -EFAULT;
		exmap_async_finish(i, k);
		return;
	}
	start_run(i, k, e->page, e->len, true, sync);
	if (!i->as->left[k]) {
		write_finish(i, k);
		exmap_async_finish(i, k);
	}
}

/* A vector that is a single run at most: one request, so no ring. */
static bool one_request(struct exmap_if *i)
{
	const struct exmap_iov *e = &i->vec[0];
	uint64_t end = (uint64_t)e->page + e->len;
	unsigned int runs = 0;

	if (i->nr != 1)
		return false;
	for (uint64_t p = e->page; p < end && runs < 2; p++)
		runs += !fb_page_mapped(i->x, p) &&
			(p == e->page || fb_page_mapped(i->x, p - 1));
	return runs < 2;
}

int fb_io_submit(struct exmap_if *i, unsigned int opcode)
{
	struct exmap_async *as = i->as;
	bool sync = !as->have_ring || one_request(i);

	for (unsigned int k = 0; k < i->nr; k++) {
		as->left[k] = 0;
		as->err[k] = 0;
		if (opcode == EXMAP_OP_READ)
			read_start(i, k, sync);
		else
			write_start(i, k, sync);
	}
	atomic_fetch_add(opcode == EXMAP_OP_READ ? &i->x->read_calls :
						   &i->x->write_calls, 1);
	return 0;
}

int fb_io_complete(struct exmap_if *i, const struct io_uring_cqe *cqe)
{
	struct exmap_async *as = i->as;
	unsigned int k = cqe->user_data & 0xffff;
	unsigned int n = (cqe->user_data >> 32) & 0xffff;
	bool write = as->opcode == EXMAP_OP_WRITE;

	if (!as->err[k])
		as->err[k] = io_result(cqe->res, n * FB_PAGE,
				       write ? EIO : ENODATA);
	if (--as->left[k])
		return -1;
	if (write)
		write_finish(i, k);
	else
		read_finish(i, k);
	return (int)k;
}
