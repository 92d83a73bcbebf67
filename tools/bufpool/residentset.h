/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The resident set: which pages are in memory, as an open-addressing hash
 * set of page ids that several threads change at once, and that the clock
 * walks in batches to pick eviction victims.
 */
#ifndef BUFPOOL_RESIDENTSET_H
#define BUFPOOL_RESIDENTSET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RS_EMPTY	UINT64_MAX
#define RS_TOMBSTONE	(UINT64_MAX - 1)

struct resident_set {
	_Atomic uint64_t *slots;
	uint64_t mask;			/* capacity - 1, a power of two */
	atomic_uint_fast64_t hand;	/* the clock's position */
};

/* Room for @max_pages resident at once; 0 or -ENOMEM. */
int rs_init(struct resident_set *rs, uint64_t max_pages);
void rs_destroy(struct resident_set *rs);

/* Adds @page, which must not be in the set. */
void rs_insert(struct resident_set *rs, uint64_t page);
/* Removes @page; false if it was not there. */
bool rs_remove(struct resident_set *rs, uint64_t page);
bool rs_contains(struct resident_set *rs, uint64_t page);

/*
 * Advances the clock over @n slots and calls @fn for each page found there;
 * @fn returns false to stop early. Threads calling it at once see disjoint
 * slots.
 */
void rs_clock(struct resident_set *rs, uint64_t n,
	      bool (*fn)(uint64_t page, void *arg), void *arg);

/* Calls @fn for every page in the set, without moving the clock. */
void rs_walk(struct resident_set *rs, bool (*fn)(uint64_t page, void *arg),
	     void *arg);

#endif
