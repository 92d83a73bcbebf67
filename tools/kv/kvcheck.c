// SPDX-License-Identifier: GPL-2.0
/* The tree checker: walks every page the tree owns (kvtree.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtree.h"

struct chk {
	struct kv_tree *tr;
	struct bp_thread *t;
	struct kvt_check_result *r;
	uint8_t *seen;			/* a bit per page */
	uint64_t next_page, used;
	uint64_t leaf_depth;
};

static int fail(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->r->why, sizeof(c->r->why), fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

static int mark(struct chk *c, uint64_t pid, const char *what)
{
	if (!pid || pid >= c->next_page)
		return fail(c, "%s page %llu outside [1, %llu)", what,
			    (unsigned long long)pid,
			    (unsigned long long)c->next_page);
	if (c->seen[pid / 8] & (1u << (pid % 8)))
		return fail(c, "%s page %llu used twice", what,
			    (unsigned long long)pid);
	c->seen[pid / 8] |= 1u << (pid % 8);
	c->used++;
	return 0;
}

struct bound {
	const uint8_t *key;	/* NULL: unbounded */
	size_t len;
};

static int walk(struct chk *c, uint64_t pid, uint64_t depth,
		struct bound low, struct bound high)
{
	uint8_t *page = malloc(KVN_PAGE);
	const struct kvn_hdr *h = (void *)page;
	const char *why;
	int ret;

	if (!page)
		return -ENOMEM;
	ret = mark(c, pid, "node");
	if (ret)
		goto out;
	memcpy(page, bp_fix_s(c->t, pid), KVN_PAGE);
	bp_unfix_s(c->t, pid);
	why = kvn_check(page);
	if (why) {
		ret = fail(c, "node %llu: %s", (unsigned long long)pid, why);
		goto out;
	}
	for (unsigned int i = 0; i < h->count; i++) {
		size_t len;
		const uint8_t *k = kvn_key(page, i, &len);

		if ((low.key && kvn_keycmp(k, len, low.key, low.len) <= 0) ||
		    (high.key && kvn_keycmp(k, len, high.key, high.len) > 0)) {
			ret = fail(c, "node %llu: key %u outside its parent's "
				   "separators", (unsigned long long)pid, i);
			goto out;
		}
	}
	if (h->kind == KVN_LEAF) {
		if (c->leaf_depth == UINT64_MAX)
			c->leaf_depth = depth;
		if (depth != c->leaf_depth) {
			ret = fail(c, "leaf %llu at depth %llu, others at %llu",
				   (unsigned long long)pid,
				   (unsigned long long)depth,
				   (unsigned long long)c->leaf_depth);
			goto out;
		}
		c->r->leaves++;
		c->r->keys += h->count;
		for (unsigned int i = 0; i < h->count && !ret; i++) {
			const struct kvn_slot *s = &kvn_slots(page)[i];
			struct kvn_ovf d;
			uint64_t opid;
			size_t len;
			const uint8_t *v = kvn_val(page, i, &len);

			if (!(s->flags & KVN_OVERFLOW))
				continue;
			memcpy(&d, v, sizeof(d));
			for (uint32_t k = 0; k < d.pages && !ret; k++) {
				memcpy(&opid, v + sizeof(d) + k * 8, 8);
				ret = mark(c, opid, "overflow");
				c->r->overflow++;
			}
		}
		goto out;
	}
	c->r->inners++;
	for (unsigned int i = 0; i <= h->count && !ret; i++) {
		struct bound lo = low, hi = high;

		if (i > 0)
			lo.key = kvn_key(page, i - 1, &lo.len);
		if (i < h->count)
			hi.key = kvn_key(page, i, &hi.len);
		ret = walk(c, kvn_child(page, i), depth + 1, lo, hi);
	}
out:
	free(page);
	return ret;
}

int kvt_check(struct kv_tree *tr, struct bp_thread *t,
	      struct kvt_check_result *r)
{
	struct chk c = { .tr = tr, .t = t, .r = r,
			 .next_page = bp_next_page(tr->bp),
			 .leaf_depth = UINT64_MAX };
	struct bound none = { 0 };
	int ret;

	memset(r, 0, sizeof(*r));
	c.seen = calloc((tr->bp->area_pages + 7) / 8, 1);
	if (!c.seen)
		return -ENOMEM;
	ret = walk(&c, tr->root, 0, none, none);
	for (size_t k = 0; k < tr->nfree && !ret; k++)
		ret = mark(&c, tr->free[k], "free");
	r->free_pages = tr->nfree;
	r->height = c.leaf_depth + 1;
	if (!ret && c.used != c.next_page - 1)
		ret = fail(&c, "%llu pages in use or free, %llu allocated",
			   (unsigned long long)c.used,
			   (unsigned long long)c.next_page - 1);
	if (!ret && r->keys != tr->keys)
		ret = fail(&c, "%llu keys found, %llu counted",
			   (unsigned long long)r->keys,
			   (unsigned long long)tr->keys);
	if (!ret && r->height != tr->height)
		ret = fail(&c, "height %llu, recorded %llu",
			   (unsigned long long)r->height,
			   (unsigned long long)tr->height);
	free(c.seen);
	return ret;
}
