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

struct exmap_opts {
	size_t area_pages;		/* pages of the area (4 KiB each) */
	size_t pool_pages;		/* most frames at once (kernel backend) */
	unsigned int nr_interfaces;	/* one per thread */
	int backing_fd;			/* O_DIRECT fd, or -1 */
	uint64_t backing_offset;	/* byte offset of area page 0 */
	enum exmap_backend backend;
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

/* Counters; the fallback backend counts what it can. 0 or -errno. */
int exmap_get_stats(struct exmap *x, struct exmap_stats *st);

#ifdef __cplusplus
}
#endif

#endif
