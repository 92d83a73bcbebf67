// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap: context creation, interfaces and vectors; the backends do the
 * work (kernel.c: the module, fallback.c: plain Linux calls).
 */
#define _GNU_SOURCE
#include <errno.h>
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

static int exmap_run(struct exmap_if *i, unsigned int opcode)
{
	if (!exmap_if_nr(i, opcode))
		return 0;
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

int exmap_read(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_READ);
}

int exmap_write(struct exmap_if *i)
{
	return exmap_run(i, EXMAP_OP_WRITE);
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
