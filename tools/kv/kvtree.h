/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap-kv's B+tree: variable-length keys and values in slotted pages
 * (kvnode.h) over the buffer pool, values too large for a leaf in
 * overflow pages.
 *
 * Readers take no latch: they descend optimistically (bufpool.h) and
 * restart when a page changed or went away under them. There is one
 * writer at a time (the store's write lock); it finds its path with shared
 * latches, which readers do not notice, and latches exclusively only the
 * pages it changes. Splits go bottom-up along that path; a full root moves
 * its contents down, so the root keeps its page for good. Deletes leave
 * pages as they are (no merging): an emptied leaf stays in the tree.
 *
 * Pages come from the free list (pages freed by deletes and overwrites)
 * or, when it is empty, from the pool's never-used pages. The free list
 * lives in memory; the store saves it with each checkpoint.
 */
#ifndef KV_TREE_H
#define KV_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bufpool/bufpool.h"
#include "kvnode.h"

#define KVT_MAX_HEIGHT	24

struct kv_tree {
	struct bufpool *bp;
	uint64_t root;
	/* The writer's (under the store's write lock). */
	uint64_t height;		/* levels; 1: the root is a leaf */
	uint64_t keys;
	uint64_t *free;
	size_t nfree, free_cap;
};

/* A tree whose root is @root (a page that exists). */
void kvt_init(struct kv_tree *tr, struct bufpool *bp, uint64_t root,
	      uint64_t height, uint64_t keys);
void kvt_destroy(struct kv_tree *tr);
/* A new empty tree: allocates the root page (a leaf). */
int kvt_create(struct kv_tree *tr, struct bufpool *bp, struct bp_thread *t);

/* One point lookup. */
struct kvt_get {
	const void *key;
	size_t klen;
	uint8_t *buf;		/* KV_VALUE_MAX bytes: the value */
	size_t vlen;
	uint64_t lsn;		/* the leaf's: when its last change was */
	bool found;
	/* internal */
	uint64_t missing;
	bool probe;
};

void kvt_get(struct kv_tree *tr, struct bp_thread *t, struct kvt_get *g);
/*
 * Up to BP_EVICT_BATCH lookups at once: each goes as far as memory goes,
 * then the pages they miss are read in with one call (bp_prefetch()), then
 * they finish.
 */
void kvt_get_many(struct kv_tree *tr, struct bp_thread *t, struct kvt_get *g,
		  unsigned int n);

/* A range scan's request and result. */
struct kvt_scan {
	const void *from, *to;	/* [from, to); to == NULL: no end */
	size_t flen, tlen;
	unsigned int max_pairs;
	size_t max_bytes;
	uint8_t *out;		/* max_bytes: struct kv_pair, key, value, ... */
	size_t out_len;
	unsigned int count;
	bool more;		/* stopped at a limit */
	uint64_t lsn;		/* the newest leaf change it saw */
};

void kvt_scan(struct kv_tree *tr, struct bp_thread *t, struct kvt_scan *s);

/* Pages a PUT of a @vlen-byte value may take, at most. */
uint64_t kvt_put_pages(const struct kv_tree *tr, size_t vlen);
/* Pages that can still be allocated. */
uint64_t kvt_pages_left(const struct kv_tree *tr);
/*
 * Inserts or replaces; the caller checked kvt_pages_left() against
 * kvt_put_pages(). Every page it changes gets @lsn.
 */
void kvt_put(struct kv_tree *tr, struct bp_thread *t, const void *key,
	     size_t klen, const void *val, size_t vlen, uint64_t lsn);
/*
 * Removes a key: 0, or -ENOENT with the tree unchanged. *leaf_lsn: the
 * leaf's LSN after the call.
 */
int kvt_del(struct kv_tree *tr, struct bp_thread *t, const void *key,
	    size_t klen, uint64_t lsn, uint64_t *leaf_lsn);

/* The writer's look: is @key there? *leaf_lsn: its leaf's LSN. */
bool kvt_contains(struct kv_tree *tr, struct bp_thread *t, const void *key,
		  size_t klen, uint64_t *leaf_lsn);

/* Adds pages to the free list (recovery). 0 or -ENOMEM. */
int kvt_free_add(struct kv_tree *tr, const uint64_t *pids, size_t n);

struct kvt_check_result {
	uint64_t leaves, inners, overflow, keys, free_pages, height;
	char why[160];		/* empty: consistent */
};

/*
 * Walks the whole tree with shared latches, with no writer at work:
 * every node's own invariants, keys within the separators above them,
 * all leaves at one depth, every page (nodes, overflow, free list) used
 * once and below the pool's next page and none lost, the key count.
 * 0, or -EUCLEAN with r->why saying what is wrong.
 */
int kvt_check(struct kv_tree *tr, struct bp_thread *t,
	      struct kvt_check_result *r);

#endif
