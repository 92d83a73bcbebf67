// SPDX-License-Identifier: GPL-2.0
/*
 * deque: a double-ended queue of 64-byte items whose items lie at
 * consecutive addresses, so that item i is at base + i * 64: random access
 * is one address computation and one load. Its storage grows at both ends
 * by rewiring pages instead of copying items: pages that pops have emptied
 * at one end are moved (MOVE) to the end that grows, GROW pages a call;
 * only when there are none does it ALLOC fresh ones. The virtual area is
 * far larger than the deque, so the items drift through it and are never
 * copied; should they reach its edge, the live pages are moved back to the
 * middle, again without a copy.
 *
 * The same deque runs on exmap (libexmap's kernel backend) and on
 * libexmap's memfd fallback (one mmap per page, mremap per MOVE), beside a
 * chunked deque, the design of std::deque: a map of pointers to 4 KiB
 * blocks, with emptied blocks kept for reuse (no malloc in the steady
 * state).
 *
 * Measured after one untimed round of each (so that pages and blocks
 * exist and the first-touch faults are behind): a queue (push_back then
 * pop_front, N items each), a stack at the front (push_front then
 * pop_back), and N random reads of a deque of N items; items/s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/libexmap/libexmap.h"
#include "bench-util.h"
#include "rewire.h"

#define ITEM		64
#define PER_PAGE	(PAGE / ITEM)
#define GROW		256			/* pages a call */
#define WINDOW		(1UL << 26)		/* pages of address space */

struct item {
	uint64_t v[ITEM / 8];
};

/* The rewiring deque: items [head, tail) in pages [lo, hi), all mapped. */
struct rdeque {
	struct exmap *x;
	struct exmap_if *i;
	char *base;
	uint64_t head, tail;	/* item indices from the area's start */
	uint64_t lo, hi;	/* mapped pages */
};

static void rd_call(struct rdeque *d, int (*fn)(struct exmap_if *))
{
	int ret = fn(d->i);

	if (ret)
		die(ret < 0 ? "deque: call refused" : "deque: entry failed");
	exmap_vec_reset(d->i);
}

static int rd_open(struct rdeque *d, enum exmap_backend b, size_t items)
{
	struct exmap_opts o = {
		.area_pages = WINDOW, .pool_pages = items / PER_PAGE + 4 * GROW,
		.nr_interfaces = 1, .backing_fd = -1, .backend = b,
		.flags = EXMAP_OPT_REWIRE,
	};

	memset(d, 0, sizeof(*d));
	if (exmap_create(&d->x, &o))
		return -1;
	d->i = exmap_interface(d->x, 0);
	d->base = exmap_area(d->x);
	d->lo = d->hi = WINDOW / 2;
	d->head = d->tail = d->lo * PER_PAGE;
	return 0;
}

static void rd_close(struct rdeque *d)
{
	exmap_destroy(d->x);
}

/*
 * Gives the end that grows @n more pages: moves empty pages from the
 * other end if it has GROW of them, else maps fresh ones.
 */
static void rd_grow(struct rdeque *d, int back)
{
	uint64_t empty_front = d->head / PER_PAGE - d->lo;
	uint64_t empty_back = d->hi - (d->tail + PER_PAGE - 1) / PER_PAGE;
	uint64_t spare = back ? empty_front : empty_back;
	uint64_t at = back ? d->hi : d->lo - GROW;

	if (at < GROW || at + 2 * GROW > WINDOW)
		die("deque: drifted to the edge of the area");
	if (spare >= GROW) {
		uint32_t from = back ? d->lo : d->hi - GROW;

		for (uint32_t k = 0; k < GROW; k += EXMAP_ENTRY_MAX_PAGES)
			exmap_rewire_add(d->i, from + k, at + k,
					 GROW - k < EXMAP_ENTRY_MAX_PAGES ?
					 GROW - k : EXMAP_ENTRY_MAX_PAGES);
		rd_call(d, exmap_move);
		if (back)
			d->lo += GROW;
		else
			d->hi -= GROW;
	} else {
		exmap_vec_add(d->i, at, GROW);
		rd_call(d, exmap_alloc);
	}
	if (back)
		d->hi += GROW;
	else
		d->lo -= GROW;
}

static inline struct item *rd_at(struct rdeque *d, uint64_t idx)
{
	return (struct item *)(d->base + idx * ITEM);
}

static inline void rd_push_back(struct rdeque *d, const struct item *it)
{
	if (d->tail == d->hi * PER_PAGE)
		rd_grow(d, 1);
	*rd_at(d, d->tail++) = *it;
}

static inline void rd_push_front(struct rdeque *d, const struct item *it)
{
	if (d->head == d->lo * PER_PAGE)
		rd_grow(d, 0);
	*rd_at(d, --d->head) = *it;
}

static inline uint64_t rd_pop_front(struct rdeque *d)
{
	return rd_at(d, d->head++)->v[0];
}

static inline uint64_t rd_pop_back(struct rdeque *d)
{
	return rd_at(d, --d->tail)->v[0];
}

static inline uint64_t rd_get(struct rdeque *d, uint64_t i)
{
	return rd_at(d, d->head + i)->v[0];
}

/* The chunked deque: blocks of 4 KiB through a map of pointers. */
struct cdeque {
	struct item **map;
	uint64_t nblocks;	/* map size */
	uint64_t head, tail;	/* item indices from map[0] */
	struct item **spare;	/* emptied blocks, for reuse */
	uint64_t nspare, spare_cap;
};

static void cd_open(struct cdeque *d)
{
	memset(d, 0, sizeof(*d));
	d->nblocks = 64;
	d->map = calloc(d->nblocks, sizeof(*d->map));
	d->spare_cap = 1024;
	d->spare = malloc(d->spare_cap * sizeof(*d->spare));
	if (!d->map || !d->spare)
		die("malloc");
	d->head = d->tail = d->nblocks / 2 * PER_PAGE;
}

static void cd_close(struct cdeque *d)
{
	for (uint64_t b = 0; b < d->nblocks; b++)
		free(d->map[b]);
	for (uint64_t k = 0; k < d->nspare; k++)
		free(d->spare[k]);
	free(d->map);
	free(d->spare);
}

static struct item *cd_block(struct cdeque *d)
{
	void *p;

	if (d->nspare)
		return d->spare[--d->nspare];
	if (posix_memalign(&p, PAGE, PAGE))
		die("posix_memalign");
	return p;
}

static void cd_unblock(struct cdeque *d, uint64_t b)
{
	if (d->nspare == d->spare_cap) {
		d->spare_cap *= 2;
		d->spare = realloc(d->spare, d->spare_cap * sizeof(*d->spare));
		if (!d->spare)
			die("realloc");
	}
	d->spare[d->nspare++] = d->map[b];
	d->map[b] = NULL;
}

/* The map is full at one end: recentre it, twice as large if need be. */
static void cd_remap(struct cdeque *d)
{
	uint64_t first = d->head / PER_PAGE;
	uint64_t used = (d->tail + PER_PAGE - 1) / PER_PAGE - first + 1;
	uint64_t size = used * 4 > d->nblocks ? d->nblocks * 2 : d->nblocks;
	uint64_t at = (size - used) / 2;
	struct item **map = calloc(size, sizeof(*map));

	if (!map)
		die("calloc");
	memcpy(map + at, d->map + first, used * sizeof(*map));
	free(d->map);
	d->map = map;
	d->nblocks = size;
	d->head += (at - first) * PER_PAGE;
	d->tail += (at - first) * PER_PAGE;
}

static inline void cd_push_back(struct cdeque *d, const struct item *it)
{
	uint64_t b = d->tail / PER_PAGE;

	if (b >= d->nblocks - 1) {
		cd_remap(d);
		b = d->tail / PER_PAGE;
	}
	if (!d->map[b])
		d->map[b] = cd_block(d);
	d->map[b][d->tail++ % PER_PAGE] = *it;
}

static inline void cd_push_front(struct cdeque *d, const struct item *it)
{
	uint64_t b;

	if (d->head < PER_PAGE + 1)
		cd_remap(d);
	b = (d->head - 1) / PER_PAGE;
	if (!d->map[b])
		d->map[b] = cd_block(d);
	d->head--;
	d->map[b][d->head % PER_PAGE] = *it;
}

static inline uint64_t cd_pop_front(struct cdeque *d)
{
	uint64_t b = d->head / PER_PAGE;
	uint64_t v = d->map[b][d->head++ % PER_PAGE].v[0];

	if (d->head % PER_PAGE == 0 || d->head == d->tail)
		cd_unblock(d, b);
	return v;
}

static inline uint64_t cd_pop_back(struct cdeque *d)
{
	uint64_t v, b;

	d->tail--;
	b = d->tail / PER_PAGE;
	v = d->map[b][d->tail % PER_PAGE].v[0];
	if (d->tail % PER_PAGE == 0 || d->head == d->tail)
		cd_unblock(d, b);
	return v;
}

static inline uint64_t cd_get(struct cdeque *d, uint64_t i)
{
	uint64_t j = d->head + i;

	return d->map[j / PER_PAGE][j % PER_PAGE].v[0];
}

/* The three workloads, written once for both deques. */
#define DEQUE_WORKLOADS(P, D)						\
static uint64_t P##_queue(D *d, uint64_t n)				\
{									\
	struct item it = { { 0 } };					\
	uint64_t sum = 0;						\
									\
	for (uint64_t k = 0; k < n; k++) {				\
		it.v[0] = k;						\
		P##_push_back(d, &it);					\
	}								\
	for (uint64_t k = 0; k < n; k++)				\
		sum += P##_pop_front(d);				\
	return sum;							\
}									\
									\
static uint64_t P##_stack(D *d, uint64_t n)				\
{									\
	struct item it = { { 0 } };					\
	uint64_t sum = 0;						\
									\
	for (uint64_t k = 0; k < n; k++) {				\
		it.v[0] = k;						\
		P##_push_front(d, &it);					\
	}								\
	for (uint64_t k = 0; k < n; k++)				\
		sum += P##_pop_back(d);					\
	return sum;							\
}									\
									\
static uint64_t P##_random(D *d, uint64_t n, uint64_t seed)		\
{									\
	uint64_t sum = 0;						\
									\
	for (uint64_t k = 0; k < n; k++) {				\
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; \
		sum += P##_get(d, (seed >> 33) % n);			\
	}								\
	return sum;							\
}

DEQUE_WORKLOADS(rd, struct rdeque)
DEQUE_WORKLOADS(cd, struct cdeque)

/* Runs @what until @secs have passed, at least twice; items/s. */
#define TIMED(o, items_var, secs_var, body)				\
	do {								\
		double t0_ = now(), t_;					\
		items_var = 0;						\
		do {							\
			body;						\
			t_ = now() - t0_;				\
		} while (t_ < (o)->seconds || items_var < 2);		\
		secs_var = t_;						\
	} while (0)

static void deque_report(const struct rw_opts *o, const char *impl,
			 const char *load, uint64_t n, double items,
			 double secs)
{
	rw_report(o, "deque", load, impl, n, items, secs, NULL, 0);
}

/* The three timed workloads on an open deque, for either kind. */
#define DEQUE_RUN(P, D)							\
static void P##_run(const struct rw_opts *o, D *d, const char *impl,	\
		    uint64_t n)						\
{									\
	const uint64_t expect = n * (n - 1) / 2;			\
	struct item one = { { 1 } };					\
	double items, secs;						\
									\
	/* A round each first: pages and blocks exist, faults are done. */\
	if (P##_queue(d, n) != expect || P##_stack(d, n) != expect)	\
		die("deque: warm-up lost an item");			\
	TIMED(o, items, secs, {						\
		if (P##_queue(d, n) != expect)				\
			die("deque: queue lost an item");		\
		items += 2.0 * n;					\
	});								\
	deque_report(o, impl, "queue", n, items, secs);			\
	TIMED(o, items, secs, {						\
		if (P##_stack(d, n) != expect)				\
			die("deque: stack lost an item");		\
		items += 2.0 * n;					\
	});								\
	deque_report(o, impl, "stack-front", n, items, secs);		\
	for (uint64_t k = 0; k < n; k++)				\
		P##_push_back(d, &one);					\
	TIMED(o, items, secs, {						\
		if (P##_random(d, n, (uint64_t)items + 1) != n)		\
			die("deque: random read wrong");		\
		items += n;						\
	});								\
	deque_report(o, impl, "random", n, items, secs);		\
}

DEQUE_RUN(rd, struct rdeque)
DEQUE_RUN(cd, struct cdeque)

void rw_deque(const struct rw_opts *o)
{
	uint64_t n = o->quick ? 1 << 16 : 1 << 20;
	struct rdeque rd;
	struct cdeque cd;

	if (!rd_open(&rd, EXMAP_BACKEND_KERNEL, n)) {
		rd_run(o, &rd, "exmap", n);
		rd_close(&rd);
	}
	if (!rd_open(&rd, EXMAP_BACKEND_FALLBACK, n)) {
		rd_run(o, &rd, "memfd", n);
		rd_close(&rd);
	}
	cd_open(&cd);
	cd_run(o, &cd, "chunked", n);
	cd_close(&cd);
}
