// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <string.h>

#include "btree.h"

_Static_assert(sizeof(struct bt_node) == BP_PAGE, "a node is a page");

/* First slot whose key is >= @key (count if none). */
static unsigned int bt_search(const struct bt_node *n, uint64_t key)
{
	unsigned int lo = 0, hi = n->count;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (n->keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t bt_child(const struct bt_node *n, uint64_t key)
{
	unsigned int k = bt_search(n, key);

	return k < n->count ? n->vals[k] : n->upper;
}

int bt_open(struct btree *bt, struct bufpool *bp, struct bp_thread *t)
{
	struct bt_node *root;

	bt->bp = bp;
	pthread_mutex_init(&bt->insert_lock, NULL);
	if (bp->meta->user[0]) {
		bt->root = bp->meta->user[0];
		return 0;
	}
	bt->root = bp_alloc_page(t);
	root = (struct bt_node *)bp_addr(bp, bt->root);
	memset(root, 0, sizeof(*root));
	root->leaf = 1;
	bp_unfix_x(t, bt->root, true);
	bp->meta->user[0] = bt->root;
	return 0;
}

/*
 * Splits the full child @cpid of the latched inner node @parent: the upper
 * half moves to a new page; the separator goes into the parent, which has
 * room. Both children stay latched by the caller's rules: @cpid is latched
 * on entry and exit; the new page is unlatched here.
 */
static void bt_split_child(struct bp_thread *t, struct bt_node *parent,
			   struct bt_node *child, uint64_t cpid)
{
	uint64_t npid = bp_alloc_page(t);
	struct bt_node *right = (struct bt_node *)bp_addr(t->bp, npid);
	unsigned int half = child->count / 2, k;
	uint64_t sep;

	memset(right, 0, sizeof(*right));
	right->leaf = child->leaf;
	if (child->leaf) {
		/* left keeps [0, half), right gets [half, count) */
		right->count = child->count - half;
		memcpy(right->keys, child->keys + half,
		       right->count * sizeof(uint64_t));
		memcpy(right->vals, child->vals + half,
		       right->count * sizeof(uint64_t));
		child->count = half;
		sep = child->keys[half - 1];
	} else {
		/* keys[half] moves up; its child becomes left's upper. */
		right->count = child->count - half - 1;
		memcpy(right->keys, child->keys + half + 1,
		       right->count * sizeof(uint64_t));
		memcpy(right->vals, child->vals + half + 1,
		       right->count * sizeof(uint64_t));
		right->upper = child->upper;
		sep = child->keys[half];
		child->upper = child->vals[half];
		child->count = half;
	}
	/* In the parent: separator -> left, and the old pointer -> right. */
	k = bt_search(parent, sep);
	memmove(parent->keys + k + 1, parent->keys + k,
		(parent->count - k) * sizeof(uint64_t));
	memmove(parent->vals + k + 1, parent->vals + k,
		(parent->count - k) * sizeof(uint64_t));
	parent->keys[k] = sep;
	parent->vals[k] = cpid;
	if (k + 1 <= parent->count)
		parent->vals[k + 1] = npid;
	else
		parent->upper = npid;
	parent->count++;
	bp_unfix_x(t, npid, true);
}

void bt_insert(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t val)
{
	struct bt_node *node, *child;
	uint64_t pid = bt->root, cpid;
	unsigned int k;

	pthread_mutex_lock(&bt->insert_lock);
	node = (struct bt_node *)bp_fix_x(t, pid);
	if (node->count == BT_FANOUT) {
		/* Full root: its contents move down, the root stays put. */
		uint64_t npid = bp_alloc_page(t);
		struct bt_node *moved = (struct bt_node *)bp_addr(t->bp, npid);

		memcpy(moved, node, sizeof(*node));
		memset(node, 0, sizeof(*node));
		node->upper = npid;
		bt_split_child(t, node, moved, npid);
		bp_unfix_x(t, npid, true);
	}
	while (!node->leaf) {
		cpid = bt_child(node, key);
		child = (struct bt_node *)bp_fix_x(t, cpid);
		if (child->count == BT_FANOUT) {
			bt_split_child(t, node, child, cpid);
			/* The key may now belong to the new right page. */
			bp_unfix_x(t, cpid, true);
			cpid = bt_child(node, key);
			child = (struct bt_node *)bp_fix_x(t, cpid);
		}
		bp_unfix_x(t, pid, true);
		pid = cpid;
		node = child;
	}
	k = bt_search(node, key);
	if (k < node->count && node->keys[k] == key) {
		node->vals[k] = val;
	} else {
		memmove(node->keys + k + 1, node->keys + k,
			(node->count - k) * sizeof(uint64_t));
		memmove(node->vals + k + 1, node->vals + k,
			(node->count - k) * sizeof(uint64_t));
		node->keys[k] = key;
		node->vals[k] = val;
		node->count++;
	}
	bp_unfix_x(t, pid, true);
	pthread_mutex_unlock(&bt->insert_lock);
}

struct bt_lookup {
	struct btree *bt;
	uint64_t key;
	uint64_t val;
	uint64_t leaf;
	uint64_t missing;	/* probe: the first page not in memory */
	bool probe;		/* stop at an evicted page, read nothing in */
	bool found;
};

/*
 * An optimistic descent; on success fills in the leaf and the result. With
 * l->probe it reads no page in: it stops at the first evicted page on the
 * way and names it in l->missing (page 0, the pool's metadata, is never a
 * node: 0 means none).
 */
static bool bt_descend(struct bp_thread *t, void *arg)
{
	struct bt_lookup *l = arg;
	uint64_t pid = l->bt->root, seen, next;

	l->missing = 0;
	for (;;) {
		const struct bt_node *n;
		unsigned int k;

		if (l->probe && bp_evicted(t, pid)) {
			l->missing = pid;
			return true;
		}
		if (!bp_opt_begin(t, pid, &seen))
			return false;
		n = (const struct bt_node *)bp_addr(t->bp, pid);
		if (n->count > BT_FANOUT)
			return false;	/* torn read: validation would fail */
		if (n->leaf) {
			k = bt_search(n, l->key);
			l->found = k < n->count && n->keys[k] == l->key;
			l->val = l->found ? n->vals[k] : 0;
			l->leaf = pid;
			return bp_opt_valid(t, pid, seen);
		}
		next = bt_child(n, l->key);
		if (!bp_opt_valid(t, pid, seen))
			return false;
		pid = next;
	}
}

unsigned int bt_lookup_many(struct btree *bt, struct bp_thread *t,
			    const uint64_t *keys, unsigned int n,
			    uint64_t *vals, bool *found)
{
	struct bt_lookup l[BT_BATCH_MAX];
	uint64_t missing[BT_BATCH_MAX];
	unsigned int m = 0, hits = 0;

	if (n > BT_BATCH_MAX)
		n = BT_BATCH_MAX;
	for (unsigned int i = 0; i < n; i++) {
		l[i] = (struct bt_lookup){ .bt = bt, .key = keys[i],
					   .probe = true };
		bp_optimistic(t, bt_descend, &l[i]);
		if (l[i].missing)
			missing[m++] = l[i].missing;
	}
	if (m)
		bp_prefetch(t, missing, m);
	for (unsigned int i = 0; i < n; i++) {
		l[i].probe = false;
		if (l[i].missing)
			bp_optimistic(t, bt_descend, &l[i]);
		vals[i] = l[i].val;
		found[i] = l[i].found;
		hits += l[i].found;
	}
	return hits;
}

bool bt_lookup(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t *val)
{
	struct bt_lookup l = { .bt = bt, .key = key };

	bp_optimistic(t, bt_descend, &l);
	*val = l.val;
	return l.found;
}

bool bt_update(struct btree *bt, struct bp_thread *t, uint64_t key,
	       uint64_t val)
{
	struct bt_lookup l = { .bt = bt, .key = key };

	for (;;) {
		struct bt_node *leaf;
		unsigned int k;

		bp_optimistic(t, bt_descend, &l);
		if (!l.found)
			return false;
		leaf = (struct bt_node *)bp_fix_x(t, l.leaf);
		k = bt_search(leaf, key);
		if (leaf->leaf && k < leaf->count && leaf->keys[k] == key) {
			leaf->vals[k] = val;
			bp_unfix_x(t, l.leaf, true);
			return true;
		}
		/* The key moved (a split) between the descent and the latch. */
		bp_unfix_x(t, l.leaf, false);
	}
}
