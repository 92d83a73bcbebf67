// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap: context creation, interfaces and vectors, and the asynchronous
 * READ and WRITE that both backends run through an io_uring per interface;
 * the backends do the work (kernel.c: the module, fallback.c and
 * fallback-io.c: plain Linux calls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libexmap-int.h"

const char *exmap_backend_name(enum exmap_backend b)
{
	switch (b) {
	case EXMAP_BACKEND_KERNEL:
		return "exmap";
	case EXMAP_BACKEND_FALLBACK:
		return "fallback";
	default:
		return "auto";
	}
}

static int exmap_validate(const struct exmap_opts *o)
{
	if (!o->area_pages || o->area_pages > EXMAP_AREA_MAX_PAGES ||
	    !o->pool_pages || !o->nr_interfaces ||
	    o->nr_interfaces > EXMAP_MAX_INTERFACES ||
	    o->backing_offset % EXMAP_PAGE_SIZE ||
	    (o->backing_fd < 0 && o->backing_offset) ||
	    o->backend > EXMAP_BACKEND_FALLBACK ||
	    o->flags & ~EXMAP_OPT_REWIRE)
		return -EINVAL;
	return 0;
}

int exmap_create(struct exmap **out, const struct exmap_opts *opts)
{
	enum exmap_backend backend = opts->backend;
	struct exmap *x;
	int ret;

	ret = exmap_validate(opts);
	if (ret)
		return ret;
	if (backend == EXMAP_BACKEND_AUTO)
		backend = access("/dev/exmap", F_OK) == 0 ?
			  EXMAP_BACKEND_KERNEL : EXMAP_BACKEND_FALLBACK;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->opts = *opts;
	x->backend = backend;
	if (backend == EXMAP_BACKEND_KERNEL)
		x->ops = &exmap_kernel_ops;
	else if (opts->flags & EXMAP_OPT_REWIRE)
		x->ops = &exmap_memfd_ops;
	else
		x->ops = &exmap_fallback_ops;
	x->fd = -1;
	x->ifs = calloc(opts->nr_interfaces, sizeof(*x->ifs));
	if (!x->ifs) {
		free(x);
		return -ENOMEM;
	}
	for (unsigned int k = 0; k < opts->nr_interfaces; k++) {
		x->ifs[k].x = x;
		x->ifs[k].idx = k;
	}
	ret = x->ops->create(x);
	if (ret) {
		free(x->ifs);
		free(x);
		return ret;
	}
	*out = x;
	return 0;
}

void exmap_destroy(struct exmap *x)
{
	if (!x)
		return;
	/* I/O still in flight would land in memory about to be unmapped. */
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++)
		exmap_async_release(&x->ifs[k]);
	x->ops->destroy(x);
	free(x->ifs);
	free(x);
}

void *exmap_area(struct exmap *x)
{
	return x->area;
}

enum exmap_backend exmap_backend_of(struct exmap *x)
{
	return x->backend;
}

struct exmap_if *exmap_interface(struct exmap *x, unsigned int idx)
{
	return idx < x->opts.nr_interfaces ? &x->ifs[idx] : NULL;
}

void exmap_vec_reset(struct exmap_if *i)
{
	i->nr = 0;
	i->nr_rewire = 0;
}

int exmap_vec_add(struct exmap_if *i, uint32_t page, uint16_t len)
{
	if (i->nr_rewire)
		return -EBUSY;
	if (i->nr == EXMAP_VEC_MAX)
		return -ENOSPC;
	i->vec[i->nr] = (struct exmap_iov){ .page = page, .len = len };
	i->nr++;
	return 0;
}

unsigned int exmap_vec_len(struct exmap_if *i)
{
	return i->nr;
}

const struct exmap_iov *exmap_vec_entry(struct exmap_if *i, unsigned int k)
{
	return k < i->nr ? &i->vec[k] : NULL;
}

static bool exmap_async_busy(struct exmap_if *i)
{
	return i->as && i->as->started;
}

static int exmap_run(struct exmap_if *i, unsigned int opcode)
{
	if (!exmap_if_nr(i, opcode))
		return 0;
	if (exmap_async_busy(i))
		return -EBUSY;
	return i->x->ops->action(i, opcode);
}

int exmap_alloc(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_ALLOC);
}

int exmap_free(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_FREE);
}

static int exmap_submit(struct exmap_if *i, unsigned int opcode);

/*
 * The module's READ and WRITE are one ACTION each (and the memfd fallback's
 * one locked call); the fallback starts every entry at once through its
 * ring and waits for all of them.
 */
static int exmap_io(struct exmap_if *i, unsigned int opcode)
{
	int ret;

	if (i->x->backend == EXMAP_BACKEND_KERNEL || !i->x->ops->submit)
		return exmap_run(i, opcode);
	ret = exmap_submit(i, opcode);
	return ret < 0 ? ret : exmap_async_wait_all(i);
}

int exmap_read(struct exmap_if *i)
{
	return exmap_io(i, EXMAP_OP_READ);
}

int exmap_write(struct exmap_if *i)
{
	return exmap_io(i, EXMAP_OP_WRITE);
}

int exmap_vec_check(struct exmap_if *i)
{
	for (unsigned int k = 0; k < i->nr; k++) {
		struct exmap_iov *e = &i->vec[k];

		if (!e->len || e->len > EXMAP_ENTRY_MAX_PAGES ||
		    (uint64_t)e->page + e->len > i->x->opts.area_pages) {
			e->res = -EINVAL;
			return -EINVAL;
		}
	}
	return 0;
}

struct exmap_async *exmap_async_get(struct exmap_if *i)
{
	struct io_uring_params p = { .flags = IORING_SETUP_COOP_TASKRUN };
	struct exmap_async *as = i->as;
	int fd;

	if (as)
		return as;
	as = calloc(1, sizeof(*as));
	if (!as)
		return NULL;
	/* A backend without asynchronous I/O finishes entries as it starts. */
	if (!i->x->ops->submit) {
		i->as = as;
		return as;
	}
	/* COOP_TASKRUN: completions wait for the next reap, no interrupt. */
	as->have_ring =
		io_uring_queue_init_params(EXMAP_VEC_MAX, &as->ring, &p) == 0 ||
		io_uring_queue_init(EXMAP_VEC_MAX, &as->ring, 0) == 0;
	/* Without io_uring (disabled, or an old kernel) entries run in turn. */
	if (as->have_ring) {
		fd = i->x->backend == EXMAP_BACKEND_KERNEL ? i->x->fd :
		     i->x->opts.backing_fd;
		/* Registered: no file lookup per request. */
		if (fd < 0 || io_uring_register_files(&as->ring, &fd, 1)) {
			io_uring_queue_exit(&as->ring);
			as->have_ring = false;
		}
	}
	i->as = as;
	return as;
}

struct io_uring_sqe *exmap_async_sqe(struct exmap_if *i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&i->as->ring);

	if (!sqe) {
		io_uring_submit(&i->as->ring);
		sqe = io_uring_get_sqe(&i->as->ring);
	}
	/* The submission queue was just emptied: it has room. */
	if (!sqe)
		abort();
	i->as->sqes++;
	return sqe;
}

void exmap_async_finish(struct exmap_if *i, unsigned int k)
{
	i->as->done[i->as->ndone++] = (uint16_t)k;
}

static int exmap_submit(struct exmap_if *i, unsigned int opcode)
{
	struct exmap_async *as;
	int ret;

	if (!i->nr)
		return 0;
	if (exmap_async_busy(i))
		return -EBUSY;
	ret = exmap_vec_check(i);
	if (ret)
		return ret;
	if (i->x->opts.backing_fd < 0 ||
	    (opcode == EXMAP_OP_WRITE &&
	     (fcntl(i->x->opts.backing_fd, F_GETFL) & O_ACCMODE) == O_RDONLY))
		return -EBADF;
	as = exmap_async_get(i);
	if (!as)
		return -ENOMEM;
	as->opcode = opcode;
	as->ndone = 0;
	if (!i->x->ops->submit) {
		/* One synchronous call; then every entry is done. */
		ret = i->x->ops->action(i, opcode);
		if (ret < 0)
			return ret;
		for (unsigned int k = 0; k < i->nr; k++)
			exmap_async_finish(i, k);
		ret = 0;
	} else {
		ret = i->x->ops->submit(i, opcode);
	}
	if (ret)
		return ret;
	as->started = i->nr;
	if (as->have_ring && as->sqes) {
		ret = io_uring_submit(&as->ring);
		/* A ring that takes no requests cannot recover: give up. */
		if (ret < 0)
			abort();
	}
	return (int)i->nr;
}

int exmap_read_submit(struct exmap_if *i)
{
	return exmap_submit(i, EXMAP_OP_READ);
}

int exmap_write_submit(struct exmap_if *i)
{
	return exmap_submit(i, EXMAP_OP_WRITE);
}

int exmap_reap(struct exmap_if *i)
{
	struct exmap_async *as = i->as;

	if (!exmap_async_busy(i))
		return -ENOENT;
	while (!as->ndone) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		int ret;

		/* Without a ring every entry finished when it was started. */
		if (!as->have_ring)
			return -EIO;
		ret = io_uring_submit_and_wait(&as->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		io_uring_for_each_cqe(&as->ring, head, cqe) {
			int k = i->x->ops->complete(i, cqe);

			seen++;
			as->sqes--;
			if (k >= 0)
				exmap_async_finish(i, k);
		}
		io_uring_cq_advance(&as->ring, seen);
	}
	as->started--;
	return as->done[--as->ndone];
}

int exmap_async_wait_all(struct exmap_if *i)
{
	int failed = 0, k;

	while ((k = exmap_reap(i)) >= 0)
		failed += i->vec[k].res < 0;
	return k == -ENOENT ? failed : k;
}

void exmap_async_release(struct exmap_if *i)
{
	if (!i->as)
		return;
	while (exmap_reap(i) >= 0)
		;
	if (i->as->have_ring)
		io_uring_queue_exit(&i->as->ring);
	free(i->as);
	i->as = NULL;
}

int exmap_get_stats(struct exmap *x, struct exmap_stats *st)
{
	struct exmap_stats2 st2;
	int ret = exmap_get_stats2(x, &st2);

	*st = st2.base;
	return ret;
}

int exmap_get_stats2(struct exmap *x, struct exmap_stats2 *st)
{
	memset(st, 0, sizeof(*st));
	return x->ops->stats(x, st);
}

int exmap_rewire_add(struct exmap_if *i, uint32_t src, uint32_t dst,
		     uint16_t len)
{
	struct exmap_rewire *rw = (struct exmap_rewire *)i->vec;

	if (i->nr)
		return -EBUSY;
	if (i->nr_rewire == EXMAP_REWIRE_VEC_MAX)
		return -ENOSPC;
	rw[i->nr_rewire++] = (struct exmap_rewire){
		.src = src, .dst = dst, .len = len,
	};
	return 0;
}

unsigned int exmap_rewire_len(struct exmap_if *i)
{
	return i->nr_rewire;
}

const struct exmap_rewire *exmap_rewire_entry(struct exmap_if *i,
					      unsigned int k)
{
	return k < i->nr_rewire ? &((struct exmap_rewire *)i->vec)[k] : NULL;
}

int exmap_alias(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_ALIAS);
}

int exmap_move(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_MOVE);
}

int exmap_query(struct exmap_if *i, unsigned int flags)
{
	int ret;

	if (flags & ~EXMAP_ACTION_QUERY_SHARED)
		return -EINVAL;
	i->flags = flags;
	ret = exmap_run(i, EXMAP_OP_QUERY);
	i->flags = 0;
	return ret;
}
