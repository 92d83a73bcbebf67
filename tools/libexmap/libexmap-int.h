/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/* libexmap internals shared by the common code and the two backends. */
#ifndef LIBEXMAP_INT_H
#define LIBEXMAP_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include <liburing.h>

#include "libexmap.h"

/*
 * An interface's asynchronous READ or WRITE in progress (exmap_*_submit,
 * exmap_reap), and the synchronous batches the fallback runs the same way.
 * Set up on first use: an interface that never does I/O costs nothing.
 */
struct exmap_async {
	struct io_uring ring;
	bool have_ring;		/* false: io_uring is unavailable here */
	unsigned int opcode;	/* EXMAP_OP_READ or EXMAP_OP_WRITE */
	unsigned int started;	/* entries started and not yet reaped */
	unsigned int sqes;	/* requests in the ring not yet completed */
	/* Entries finished but not yet handed out by exmap_reap(). */
	uint16_t done[EXMAP_VEC_MAX];
	unsigned int ndone;
	/* Fallback, per entry: requests left, frames taken, first error. */
	uint16_t left[EXMAP_VEC_MAX];
	uint16_t taken[EXMAP_VEC_MAX];
	int16_t err[EXMAP_VEC_MAX];
};

struct exmap_if {
	struct exmap *x;
	unsigned int idx;
	unsigned int nr;
	unsigned int nr_rewire;	/* exmap_rewire_add() entries */
	unsigned int flags;	/* of the call being made (QUERY) */
	struct exmap_iov *vec;	/* the kernel's page, or fallback_vec */
	struct exmap_iov *fallback_vec;
	struct exmap_async *as;	/* NULL until the first I/O that needs it */
};

struct exmap_ops {
	int (*create)(struct exmap *x);
	void (*destroy)(struct exmap *x);
	int (*action)(struct exmap_if *i, unsigned int opcode);
	int (*stats)(struct exmap *x, struct exmap_stats2 *st);
	/*
	 * Starts every entry of the vector (validated by the caller): puts
	 * requests in the ring, or finishes an entry at once with
	 * exmap_async_finish(). Returns 0 or -errno (nothing started).
	 */
	int (*submit)(struct exmap_if *i, unsigned int opcode);
	/*
	 * One completion of a request the backend put in the ring: the
	 * index of the entry it finished, or -1 if the entry has requests
	 * still in flight.
	 */
	int (*complete)(struct exmap_if *i, const struct io_uring_cqe *cqe);
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

/* The interface's async state, set up if need be; NULL: out of memory. */
struct exmap_async *exmap_async_get(struct exmap_if *i);
/* A request slot in the ring, submitting what is queued when it is full. */
struct io_uring_sqe *exmap_async_sqe(struct exmap_if *i);
/* Entry @k is finished (its res set): exmap_reap() will hand it out. */
void exmap_async_finish(struct exmap_if *i, unsigned int k);
/* Waits for every started entry: the number that failed, or -errno. */
int exmap_async_wait_all(struct exmap_if *i);
/* Checks every entry of the vector against the area: 0 or -EINVAL. */
int exmap_vec_check(struct exmap_if *i);
void exmap_async_release(struct exmap_if *i);

#endif
