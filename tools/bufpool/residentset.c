// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "residentset.h"

static uint64_t rs_hash(uint64_t k)
{
	/* A 64-bit mix (xorshift-multiply): page ids are dense. */
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

int rs_init(struct resident_set *rs, uint64_t max_pages)
{
	uint64_t cap = 16;

	/* At most half full, so probes stay short. */
	while (cap < 2 * max_pages)
		cap <<= 1;
	rs->slots = malloc(cap * sizeof(*rs->slots));
	if (!rs->slots)
		return -ENOMEM;
	for (uint64_t i = 0; i < cap; i++)
		atomic_init(&rs->slots[i], RS_EMPTY);
	rs->mask = cap - 1;
	atomic_init(&rs->hand, 0);
	return 0;
}

void rs_destroy(struct resident_set *rs)
{
	free((void *)rs->slots);
	rs->slots = NULL;
}

void rs_insert(struct resident_set *rs, uint64_t page)
{
	uint64_t pos = rs_hash(page) & rs->mask;

	for (;;) {
		uint64_t cur = atomic_load(&rs->slots[pos]);

		if ((cur == RS_EMPTY || cur == RS_TOMBSTONE) &&
		    atomic_compare_exchange_strong(&rs->slots[pos], &cur,
						   page))
			return;
		pos = (pos + 1) & rs->mask;
	}
}

/*
 * Probes end at an empty slot, or after the whole table: tombstones are
 * reused by inserts but never cleared, so after long use there may be no
 * empty slot left.
 */
bool rs_remove(struct resident_set *rs, uint64_t page)
{
	uint64_t pos = rs_hash(page) & rs->mask;

	for (uint64_t probes = 0; probes <= rs->mask; probes++) {
		uint64_t cur = atomic_load(&rs->slots[pos]);

		if (cur == RS_EMPTY)
			return false;
		if (cur == page &&
		    atomic_compare_exchange_strong(&rs->slots[pos], &cur,
						   RS_TOMBSTONE))
			return true;
		pos = (pos + 1) & rs->mask;
	}
	return false;
}

bool rs_contains(struct resident_set *rs, uint64_t page)
{
	uint64_t pos = rs_hash(page) & rs->mask;

	for (uint64_t probes = 0; probes <= rs->mask; probes++) {
		uint64_t cur = atomic_load(&rs->slots[pos]);

		if (cur == RS_EMPTY)
			return false;
		if (cur == page)
			return true;
		pos = (pos + 1) & rs->mask;
	}
	return false;
}

void rs_clock(struct resident_set *rs, uint64_t n,
	      bool (*fn)(uint64_t page, void *arg), void *arg)
{
	uint64_t start = atomic_fetch_add(&rs->hand, n);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t cur = atomic_load(&rs->slots[(start + i) & rs->mask]);

		if (cur == RS_EMPTY || cur == RS_TOMBSTONE)
			continue;
		if (!fn(cur, arg))
			return;
	}
}

void rs_walk(struct resident_set *rs, bool (*fn)(uint64_t page, void *arg),
	     void *arg)
{
	for (uint64_t i = 0; i <= rs->mask; i++) {
		uint64_t cur = atomic_load(&rs->slots[i]);

		if (cur == RS_EMPTY || cur == RS_TOMBSTONE)
			continue;
		if (!fn(cur, arg))
			return;
	}
}
