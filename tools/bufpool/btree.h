/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A B+tree of 8-byte keys and values over the buffer pool. Lookups are
 * optimistic (no latch, version validation, restart on change or fault);
 * inserts are serialised among themselves and latch the nodes they change
 * exclusively; updates latch the leaf. The root stays at one page id for
 * good (kept in the pool's metadata).
 */
#ifndef BUFPOOL_BTREE_H
#define BUFPOOL_BTREE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bufpool.h"

#define BT_FANOUT	255

struct bt_node {
	uint16_t leaf;
	uint16_t count;
	uint32_t pad;
	uint64_t upper;			/* inner: child for keys > keys[count-1] */
	uint64_t keys[BT_FANOUT];
	uint64_t vals[BT_FANOUT];	/* leaf: values; inner: children */
};

struct btree {
	struct bufpool *bp;
	uint64_t root;
	pthread_mutex_t insert_lock;
};

/* Opens the tree kept in @bp (creating an empty one the first time). */
int bt_open(struct btree *bt, struct bufpool *bp, struct bp_thread *t);
void bt_insert(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t val);
bool bt_lookup(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t *val);

#define BT_BATCH_MAX	BP_EVICT_BATCH

/*
 * Looks up @n keys (at most BT_BATCH_MAX) at once: each descends as far as
 * memory goes, the pages missing then are read in with one call
 * (bp_prefetch()), and the lookups that stopped finish. Fills in @vals and
 * @found; returns how many were found.
 */
unsigned int bt_lookup_many(struct btree *bt, struct bp_thread *t,
			    const uint64_t *keys, unsigned int n,
			    uint64_t *vals, bool *found);
/* Replaces the value of an existing key; false if it is not there. */
bool bt_update(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t val);

#endif
