/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/* libexmap internals shared by the common code and the two backends. */
#ifndef LIBEXMAP_INT_H
#define LIBEXMAP_INT_H

#include <stdatomic.h>

#include "libexmap.h"

struct exmap_if {
	struct exmap *x;
	unsigned int idx;
	unsigned int nr;
	unsigned int nr_rewire;	/* exmap_rewire_add() entries */
	unsigned int flags;	/* of the call being made (QUERY) */
	struct exmap_iov *vec;	/* the kernel's page, or fallback_vec */
	struct exmap_iov *fallback_vec;
};

struct exmap_ops {
	int (*create)(struct exmap *x);
	void (*destroy)(struct exmap *x);
	int (*action)(struct exmap_if *i, unsigned int opcode);
	int (*stats)(struct exmap *x, struct exmap_stats2 *st);
};

struct exmap {
	enum exmap_backend backend;
	const struct exmap_ops *ops;
	struct exmap_opts opts;
	char *area;
	struct exmap_if *ifs;

	/* kernel backend */
	int fd;

	/* fallback backend with EXMAP_OPT_REWIRE (memfd.c) */
	struct exmap_memfd *memfd;

	/* fallback backend: one bit per page, set while "mapped" */
	_Atomic uint64_t *mapped;
	atomic_ulong in_use;
	atomic_ulong alloc_pages, free_pages, flushes;
	atomic_ulong read_pages, read_calls, write_pages, write_calls;
};

extern const struct exmap_ops exmap_kernel_ops;
extern const struct exmap_ops exmap_fallback_ops;
extern const struct exmap_ops exmap_memfd_ops;

/* The entries an action works on: rewires for ALIAS and MOVE. */
static inline unsigned int exmap_if_nr(const struct exmap_if *i,
				       unsigned int opcode)
{
	return opcode == EXMAP_OP_ALIAS || opcode == EXMAP_OP_MOVE ?
	       i->nr_rewire : i->nr;
}

#endif
