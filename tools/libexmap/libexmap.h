/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * libexmap: a thin C library over /dev/exmap, with a fallback backend of
 * plain Linux calls for machines without the module.
 *
 * Errors are returned as -errno, never through errno. Calls on one
 * interface (struct exmap_if) must come from one thread at a time; give
 * each thread its own.
 *
 *   struct exmap_opts o = { .area_pages = N, .pool_pages = P,
 *                           .nr_interfaces = T, .backing_fd = fd };
 *   struct exmap *x;
 *   exmap_create(&x, &o);
 *   char *area = exmap_area(x);
 *   struct exmap_if *i = exmap_interface(x, 0);
 *   exmap_vec_add(i, page, 1);
 *   exmap_read(i);                  page now mapped and filled
 *   ... area[page * 4096] ...
 *   exmap_vec_add(i, page, 1);
 *   exmap_free(i);
 *   exmap_destroy(x);
 *
 * See docs/libexmap.md.
 */
#ifndef LIBEXMAP_H
#define LIBEXMAP_H

#include <stddef.h>
#include <stdint.h>

#include <linux/exmap.h>

#ifdef __cplusplus
extern "C" {
#endif

enum exmap_backend {
	/* The module if /dev/exmap exists, else the fallback. */
	EXMAP_BACKEND_AUTO = 0,
	/* /dev/exmap only. */
	EXMAP_BACKEND_KERNEL = 1,
	/* Anonymous memory, pread/pwrite and madvise(MADV_DONTNEED). */
	EXMAP_BACKEND_FALLBACK = 2,
};

/*
 * Options of struct exmap_opts. EXMAP_OPT_REWIRE: the fallback backend
 * builds its area from the pages of a memfd, one mapping per page, so that
 * exmap_alias() and exmap_move() work without the module (the classic way
 * to rewire; see docs/libexmap.md). The kernel backend needs no option.
 */
#define EXMAP_OPT_REWIRE	(1U << 0)

struct exmap_opts {
	size_t area_pages;		/* pages of the area (4 KiB each) */
	size_t pool_pages;		/* most frames at once (kernel backend) */
	unsigned int nr_interfaces;	/* one per thread */
	int backing_fd;			/* O_DIRECT fd, or -1 */
	uint64_t backing_offset;	/* byte offset of area page 0 */
	enum exmap_backend backend;
	unsigned int flags;		/* EXMAP_OPT_* */
};

struct exmap;
struct exmap_if;

/* Creates a context and maps its area; 0 or -errno. */
int exmap_create(struct exmap **out, const struct exmap_opts *opts);
/* Unmaps everything and releases the context. */
void exmap_destroy(struct exmap *x);

/* The area: page p lies at exmap_area(x) + p * EXMAP_PAGE_SIZE. */
void *exmap_area(struct exmap *x);
enum exmap_backend exmap_backend_of(struct exmap *x);
const char *exmap_backend_name(enum exmap_backend b);

/* Interface @idx (< nr_interfaces), or NULL. */
struct exmap_if *exmap_interface(struct exmap *x, unsigned int idx);

/* The vector of an interface: up to EXMAP_VEC_MAX entries. */
void exmap_vec_reset(struct exmap_if *i);
/* Appends an entry; 0, or -ENOSPC when the vector is full. */
int exmap_vec_add(struct exmap_if *i, uint32_t page, uint16_t len);
unsigned int exmap_vec_len(struct exmap_if *i);
/* Entry @k after a call: its page, length and result. */
const struct exmap_iov *exmap_vec_entry(struct exmap_if *i, unsigned int k);

/*
 * Run the vector: each returns the number of entries that failed (0: all
 * done; see each entry's res) or -errno when the call was refused. The
 * vector is left as it was, results filled in; exmap_vec_reset() empties it.
 */
int exmap_alloc(struct exmap_if *i);
int exmap_free(struct exmap_if *i);
int exmap_read(struct exmap_if *i);
int exmap_write(struct exmap_if *i);

/*
 * Rewiring. An interface's vector holds either exmap_vec_add() entries or
 * exmap_rewire_add() entries (up to EXMAP_REWIRE_VEC_MAX), not both:
 * adding the other kind before exmap_vec_reset() gives -EBUSY.
 * exmap_alias() maps the frame of each mapped source page at its
 * destination page too; exmap_move() moves it there and unmaps the source.
 * Both return as exmap_alloc() does; each entry's res is the pages
 * rewired, -ENOENT (a source page unmapped) or -EEXIST (a destination page
 * mapped). The fallback backend needs EXMAP_OPT_REWIRE for them
 * (-EOPNOTSUPP without).
 */
int exmap_rewire_add(struct exmap_if *i, uint32_t src, uint32_t dst,
		     uint16_t len);
unsigned int exmap_rewire_len(struct exmap_if *i);
const struct exmap_rewire *exmap_rewire_entry(struct exmap_if *i,
					      unsigned int k);
int exmap_alias(struct exmap_if *i);
int exmap_move(struct exmap_if *i);
/*
 * Each exmap_vec_add() entry's res becomes the number of its pages that
 * are mapped (@flags EXMAP_ACTION_QUERY_SHARED: whose frame is mapped at
 * another page too). Changes nothing.
 */
int exmap_query(struct exmap_if *i, unsigned int flags);

/*
 * Asynchronous READ and WRITE, for a caller that wants each entry as soon
 * as its own I/O is done (a buffer manager releases a page's latch then):
 * exmap_read_submit() and exmap_write_submit() start every entry of the
 * vector at once and return the number of entries started, or -errno when
 * the call was refused and nothing started (-EINVAL, -EBADF as for the
 * synchronous calls; -EBUSY while entries of an earlier submit are not
 * all reaped; -EOPNOTSUPP on the kernel backend without io_uring). exmap_reap() waits for the next entry to finish and returns
 * its index in the vector, its res filled in as the synchronous call would
 * fill it; -ENOENT when none is in flight. Until every started entry has
 * been reaped, leave the vector as it is and make no other call on the
 * interface. The kernel backend sends one io_uring command per entry; the
 * fallback reads and writes the area with io_uring.
 */
int exmap_read_submit(struct exmap_if *i);
int exmap_write_submit(struct exmap_if *i);
int exmap_reap(struct exmap_if *i);

/* Counters; the fallback backend counts what it can. 0 or -errno. */
int exmap_get_stats(struct exmap *x, struct exmap_stats *st);
/* The same and the counters added since (struct exmap_stats2). */
int exmap_get_stats2(struct exmap *x, struct exmap_stats2 *st);

#ifdef __cplusplus
}
#endif

#endif
