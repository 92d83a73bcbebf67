// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtree.h"

static struct kvn_hdr *node(struct kv_tree *tr, uint64_t pid)
{
	return (struct kvn_hdr *)bp_addr(tr->bp, pid);
}

/* A page is nonsense although its reader validated it: stop here. */
static void corrupt(uint64_t pid, const char *what)
{
	fprintf(stderr, "exmap-kv: page %llu: %s; the store is damaged\n",
		(unsigned long long)pid, what);
	abort();
}

void kvt_init(struct kv_tree *tr, struct bufpool *bp, uint64_t root,
	      uint64_t height, uint64_t keys)
{
	*tr = (struct kv_tree){ .bp = bp, .root = root, .height = height,
				.keys = keys };
}

void kvt_destroy(struct kv_tree *tr)
{
	free(tr->free);
	tr->free = NULL;
	tr->nfree = tr->free_cap = 0;
}

int kvt_free_add(struct kv_tree *tr, const uint64_t *pids, size_t n)
{
	if (tr->nfree + n > tr->free_cap) {
		size_t cap = (tr->nfree + n) * 2 + 64;
		uint64_t *f = realloc(tr->free, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		tr->free = f;
		tr->free_cap = cap;
	}
	memcpy(tr->free + tr->nfree, pids, n * sizeof(*pids));
	tr->nfree += n;
	return 0;
}

uint64_t kvt_pages_left(const struct kv_tree *tr)
{
	return tr->bp->area_pages - bp_next_page(tr->bp) + tr->nfree;
}

static unsigned int ovf_pages(size_t vlen)
{
	return (vlen + KVN_PAGE - 1) / KVN_PAGE;
}

static bool inline_fits(size_t klen, size_t vlen)
{
	return kvn_record_size(klen, vlen) <= KVN_RECORD_MAX;
}

uint64_t kvt_put_pages(const struct kv_tree *tr, size_t vlen)
{
	/* A split at every level, and a new level. */
	return ovf_pages(vlen) + tr->height + 1;
}

/* A page for the writer, latched exclusively, contents undefined. */
static uint64_t page_alloc(struct kv_tree *tr, struct bp_thread *t)
{
	uint64_t pid;

	if (tr->nfree) {
		pid = tr->free[--tr->nfree];
		bp_fix_new(t, pid);
		return pid;
	}
	if (bp_next_page(tr->bp) >= tr->bp->area_pages)
		corrupt(0, "out of pages although checked");
	return bp_alloc_page(t);
}

int kvt_create(struct kv_tree *tr, struct bufpool *bp, struct bp_thread *t)
{
	kvt_init(tr, bp, 0, 1, 0);
	tr->root = page_alloc(tr, t);
	kvn_init(node(tr, tr->root), KVN_LEAF);
	bp_unfix_x(t, tr->root, true);
	return 0;
}

/* ---- readers ---- */

struct ovf_copy {
	struct kvn_ovf d;
	uint64_t pid[KVN_OVF_PAGES];
};

/*
 * Copies a found leaf record's value into @buf: inline, or the overflow
 * descriptor into @o for the caller to follow. False on a torn read.
 */
static bool copy_record(const void *page, unsigned int i, uint8_t *buf,
			size_t *vlen, struct ovf_copy *o, bool *ovf)
{
	const struct kvn_slot *s = &kvn_slots((void *)page)[i];
	const uint8_t *v;
	size_t len;

	v = kvn_val(page, i, &len);
	if (!v)
		return false;
	*ovf = s->flags & KVN_OVERFLOW;
	if (!*ovf) {
		if (len > KV_VALUE_MAX)
			return false;
		memcpy(buf, v, len);
		*vlen = len;
		return true;
	}
	if (len < sizeof(o->d) || len > sizeof(*o))
		return false;
	memcpy(o, v, len);
	if (o->d.pages > KVN_OVF_PAGES || o->d.len > KV_VALUE_MAX ||
	    o->d.pages != ovf_pages(o->d.len) ||
	    len != kvn_ovf_size(o->d.pages))
		return false;
	*vlen = o->d.len;
	return true;
}

/*
 * Reads an overflow value's pages into @buf, each validated. With @probe,
 * stops at the first evicted one and names it in *missing. False when a
 * page changed under it.
 */
static bool read_overflow(struct bp_thread *t, const struct ovf_copy *o,
			  uint8_t *buf, bool probe, uint64_t *missing)
{
	for (uint32_t k = 0; k < o->d.pages; k++) {
		uint64_t pid = o->pid[k], seen;
		size_t n = o->d.len - (size_t)k * KVN_PAGE;

		if (!pid || pid >= t->bp->area_pages)
			return false;
		if (probe && bp_evicted(t, pid)) {
			*missing = pid;
			return true;
		}
		if (!bp_opt_begin(t, pid, &seen))
			return false;
		memcpy(buf + (size_t)k * KVN_PAGE, bp_addr(t->bp, pid),
		       n < KVN_PAGE ? n : KVN_PAGE);
		if (!bp_opt_valid(t, pid, seen))
			return false;
	}
	return true;
}

struct get_arg {
	struct kv_tree *tr;
	struct kvt_get *g;
};

/*
 * Descends inner nodes from the root to the leaf for @key (with @after:
 * for the keys just above @key); with @probe it
 * stops at an evicted page (*leaf = 0, *missing set). On success the leaf
 * is latched optimistically (*seen). Optionally records the tightest
 * upper fence (the separator above the leaf) into @fence.
 */
static bool descend(struct kv_tree *tr, struct bp_thread *t, const void *key,
		    size_t klen, bool after, bool probe, uint64_t *missing,
		    uint64_t *leaf, uint64_t *seen, uint8_t *fence,
		    size_t *fence_len)
{
	uint64_t pid = tr->root;

	*leaf = 0;
	for (unsigned int depth = 0;; depth++) {
		const struct kvn_hdr *n = node(tr, pid);
		uint16_t kind;
		uint64_t next;
		bool exact;
		int i;

		if (depth > KVT_MAX_HEIGHT || !pid ||
		    pid >= tr->bp->area_pages)
			return false;
		if (probe && bp_evicted(t, pid)) {
			*missing = pid;
			return true;
		}
		if (!bp_opt_begin(t, pid, seen))
			return false;
		kind = n->kind;
		if (kind == KVN_LEAF) {
			*leaf = pid;
			return true;
		}
		i = kvn_search(n, key, klen, &exact);
		if (kind != KVN_INNER || i < 0) {
			if (bp_opt_valid(t, pid, *seen))
				corrupt(pid, "not a node");
			return false;
		}
		/* Keys equal to a separator lie left of it. */
		if (after && exact)
			i++;
		next = kvn_child(n, i);
		if (fence && (unsigned int)i < n->count) {
			size_t len;
			const uint8_t *k = kvn_key(n, i, &len);

			if (!k || len > KV_KEY_MAX)
				return false;
			memcpy(fence, k, len);
			*fence_len = len;
		}
		if (!bp_opt_valid(t, pid, *seen))
			return false;
		pid = next;
	}
}

static bool get_fn(struct bp_thread *t, void *arg)
{
	struct get_arg *a = arg;
	struct kvt_get *g = a->g;
	struct ovf_copy o;
	uint64_t leaf, seen;
	bool exact, ovf = false;
	const void *n;
	int i;

	g->missing = 0;
	g->found = false;
	if (!descend(a->tr, t, g->key, g->klen, false, g->probe, &g->missing,
		     &leaf, &seen, NULL, NULL))
		return false;
	if (!leaf)
		return true;		/* probe: stopped at g->missing */
	n = node(a->tr, leaf);
	i = kvn_search(n, g->key, g->klen, &exact);
	if (i < 0)
		return false;
	g->lsn = ((const struct kvn_hdr *)n)->lsn;
	if (exact && !copy_record(n, i, g->buf, &g->vlen, &o, &ovf))
		return false;
	if (!bp_opt_valid(t, leaf, seen))
		return false;
	g->found = exact;
	if (!ovf)
		return true;
	if (!read_overflow(t, &o, g->buf, g->probe, &g->missing))
		return false;
	if (g->missing)
		return true;
	/* The pages were the value's only if the leaf still names them. */
	return bp_opt_valid(t, leaf, seen);
}

void kvt_get(struct kv_tree *tr, struct bp_thread *t, struct kvt_get *g)
{
	struct get_arg a = { .tr = tr, .g = g };

	g->probe = false;
	bp_optimistic(t, get_fn, &a);
}

void kvt_get_many(struct kv_tree *tr, struct bp_thread *t, struct kvt_get *g,
		  unsigned int n)
{
	uint64_t missing[BP_EVICT_BATCH];
	unsigned int m = 0;

	if (n > BP_EVICT_BATCH)
		n = BP_EVICT_BATCH;
	for (unsigned int k = 0; k < n; k++) {
		struct get_arg a = { .tr = tr, .g = &g[k] };

		g[k].probe = true;
		bp_optimistic(t, get_fn, &a);
		if (g[k].missing)
			missing[m++] = g[k].missing;
	}
	if (m)
		bp_prefetch(t, missing, m);
	for (unsigned int k = 0; k < n; k++) {
		struct get_arg a = { .tr = tr, .g = &g[k] };

		g[k].probe = false;
		if (g[k].missing)
			bp_optimistic(t, get_fn, &a);
	}
}

struct scan_arg {
	struct kv_tree *tr;
	struct kvt_scan *s;
	uint8_t cursor[KV_KEY_MAX];	/* where this step starts */
	size_t clen;
	bool exclusive;			/* keys > cursor (else >=) */
	uint8_t fence[KV_KEY_MAX];	/* the leaf's upper fence */
	size_t flen;
	bool has_fence;
	bool done;
	size_t mark_len;		/* the output before this leaf */
	unsigned int mark_count;
	uint8_t val[KV_VALUE_MAX];
};

/* One leaf of a scan: its pairs in range, as far as the limits allow. */
static bool scan_fn(struct bp_thread *t, void *arg)
{
	struct scan_arg *a = arg;
	struct kvt_scan *s = a->s;
	size_t flen = SIZE_MAX;
	uint64_t leaf, seen, missing, lsn;
	const struct kvn_hdr *n;
	bool exact, stop = false, more = false;
	int i;

	/* A restart (a fault included) starts the leaf over. */
	s->out_len = a->mark_len;
	s->count = a->mark_count;
	if (!descend(a->tr, t, a->cursor, a->clen, a->exclusive, false,
		     &missing, &leaf, &seen, a->fence, &flen))
		return false;
	n = node(a->tr, leaf);
	i = kvn_search(n, a->cursor, a->clen, &exact);
	if (i < 0)
		return false;
	if (exact && a->exclusive)
		i++;
	lsn = n->lsn;
	for (; i < n->count; i++) {
		struct kv_pair pair = { 0 };
		struct ovf_copy o;
		const uint8_t *k;
		size_t klen, vlen;
		bool ovf;

		k = kvn_key(n, i, &klen);
		if (!k || klen > KV_KEY_MAX)
			return false;
		if (s->to && kvn_keycmp(k, klen, s->to, s->tlen) >= 0) {
			stop = true;
			break;
		}
		if (s->count == s->max_pairs) {
			stop = more = true;
			break;
		}
		if (!copy_record(n, i, a->val, &vlen, &o, &ovf))
			return false;
		if (s->out_len + sizeof(pair) + klen + vlen > s->max_bytes) {
			stop = more = true;
			break;
		}
		if (ovf && !read_overflow(t, &o, a->val, false, &missing))
			return false;
		pair.klen = klen;
		pair.vlen = vlen;
		memcpy(s->out + s->out_len, &pair, sizeof(pair));
		memcpy(s->out + s->out_len + sizeof(pair), k, klen);
		memcpy(s->out + s->out_len + sizeof(pair) + klen, a->val, vlen);
		s->out_len += sizeof(pair) + klen + vlen;
		s->count++;
	}
	if (!bp_opt_valid(t, leaf, seen))
		return false;
	if (lsn > s->lsn)
		s->lsn = lsn;
	s->more = more;
	a->has_fence = flen != SIZE_MAX;
	a->done = stop || !a->has_fence;
	if (!a->done) {
		memcpy(a->cursor, a->fence, flen);
		a->clen = flen;
		a->exclusive = true;
	}
	return true;
}

void kvt_scan(struct kv_tree *tr, struct bp_thread *t, struct kvt_scan *s)
{
	struct scan_arg *a = malloc(sizeof(*a));

	if (!a)
		abort();
	a->tr = tr;
	a->s = s;
	a->clen = s->flen;
	memcpy(a->cursor, s->from, s->flen);
	a->exclusive = false;
	a->done = false;
	s->out_len = 0;
	s->count = 0;
	s->more = false;
	s->lsn = 0;
	while (!a->done) {
		a->mark_len = s->out_len;
		a->mark_count = s->count;
		bp_optimistic(t, scan_fn, a);
	}
	free(a);
}

/* ---- the writer ---- */

/*
 * One change: the path to the key's leaf and the pages it holds latched.
 * A split keeps the page it splits latched until the parent points to the
 * new half, so that no reader finds a key missing in between; everything
 * is unlatched together at the end.
 */
struct wctx {
	struct kv_tree *tr;
	struct bp_thread *t;
	uint64_t lsn;
	unsigned int n;				/* levels; the leaf is n - 1 */
	uint64_t pid[KVT_MAX_HEIGHT + 1];
	unsigned int idx[KVT_MAX_HEIGHT + 1];	/* the child taken */
	unsigned int nheld;
	uint64_t held[2 * KVT_MAX_HEIGHT + 4];
};

static struct kvn_hdr *latch(struct wctx *w, uint64_t pid)
{
	for (unsigned int k = 0; k < w->nheld; k++)
		if (w->held[k] == pid)
			return node(w->tr, pid);
	bp_fix_x(w->t, pid);
	w->held[w->nheld++] = pid;
	return node(w->tr, pid);
}

/* A fresh page for the change, latched. */
static struct kvn_hdr *latch_new(struct wctx *w, uint64_t *pid)
{
	*pid = page_alloc(w->tr, w->t);
	w->held[w->nheld++] = *pid;
	return node(w->tr, *pid);
}

static void release(struct wctx *w)
{
	for (unsigned int k = 0; k < w->nheld; k++) {
		node(w->tr, w->held[k])->lsn = w->lsn;
		bp_unfix_x(w->t, w->held[k], true);
	}
	w->nheld = 0;
}

/* The path to @key's leaf, read under shared latches. */
static void find_path(struct wctx *w, const void *key, size_t klen)
{
	uint64_t pid = w->tr->root;

	w->n = 0;
	for (;;) {
		const struct kvn_hdr *n = (void *)bp_fix_s(w->t, pid);
		bool exact;
		int i = 0;

		if (w->n > KVT_MAX_HEIGHT)
			corrupt(pid, "tree too deep");
		w->pid[w->n] = pid;
		if (n->kind != KVN_LEAF) {
			i = kvn_search(n, key, klen, &exact);
			if (n->kind != KVN_INNER || i < 0)
				corrupt(pid, "not a node");
		}
		w->idx[w->n++] = i;
		bp_unfix_s(w->t, pid);
		if (n->kind == KVN_LEAF)
			return;
		pid = kvn_child(n, i);
	}
}

/*
 * Gives the root room for whatever one change brings it (@need bytes):
 * if it lacks that, its contents move to a new child and it becomes an
 * inner node pointing there, one level up. The root keeps its page.
 */
static void root_room(struct wctx *w, size_t need)
{
	struct kv_tree *tr = w->tr;
	struct kvn_hdr *root = node(tr, tr->root), *c;
	uint64_t cpid;

	bp_fix_s(w->t, tr->root);
	if (kvn_free(root) >= need) {
		bp_unfix_s(w->t, tr->root);
		return;
	}
	bp_unfix_s(w->t, tr->root);
	root = latch(w, tr->root);
	c = latch_new(w, &cpid);
	memcpy(c, root, KVN_PAGE);
	kvn_init(root, KVN_INNER);
	root->upper = cpid;
	tr->height++;
	release(w);
}

static void add_separator(struct wctx *w, unsigned int level,
			  const uint8_t *sep, size_t seplen, uint64_t left,
			  uint64_t right);

/*
 * Splits the inner node at @level of the path; the path then names the
 * half that holds its child.
 */
static void split_inner(struct wctx *w, unsigned int level)
{
	uint8_t sep[KV_KEY_MAX];
	uint64_t lpid = w->pid[level], rpid;
	struct kvn_hdr *l = latch(w, lpid), *r = latch_new(w, &rpid);
	unsigned int m, idx = w->idx[level];
	size_t seplen;

	seplen = kvn_split_inner(l, r, sep);
	m = l->count;
	add_separator(w, level - 1, sep, seplen, lpid, rpid);
	if (idx > m) {
		w->pid[level] = rpid;
		w->idx[level] = idx - m - 1;
	}
}

/*
 * Into the inner node at @level of the path, which points to @left at
 * idx[level]: @sep bounds @left from now on, and @right takes the old
 * pointer's place.
 */
static void add_separator(struct wctx *w, unsigned int level,
			  const uint8_t *sep, size_t seplen, uint64_t left,
			  uint64_t right)
{
	struct kvn_hdr *n = latch(w, w->pid[level]);

	if (kvn_free(n) < kvn_record_size(seplen, sizeof(left))) {
		if (level == 0)
			corrupt(w->pid[0], "root without room");
		split_inner(w, level);
		n = latch(w, w->pid[level]);
	}
	if (kvn_child(n, w->idx[level]) != left)
		corrupt(w->pid[level], "path lost its child");
	if (!kvn_insert(n, w->idx[level], sep, seplen, &left, sizeof(left),
			0))
		corrupt(w->pid[level], "no room after a split");
	kvn_set_child(n, w->idx[level] + 1, right);
}

/* Inserts a record into the path's leaf, splitting it if need be. */
static void leaf_insert(struct wctx *w, const void *key, size_t klen,
			const void *val, size_t vlen, uint16_t flags)
{
	uint64_t lpid = w->pid[w->n - 1], rpid;
	struct kvn_hdr *l = latch(w, lpid), *r, *target;
	uint8_t sep[KV_KEY_MAX];
	size_t seplen;
	bool exact;
	int i = kvn_search(l, key, klen, &exact);

	if (kvn_insert(l, i, key, klen, val, vlen, flags))
		return;
	if (w->n < 2)
		corrupt(lpid, "root leaf without room");
	r = latch_new(w, &rpid);
	/* Past the last key (an ascending load): keep the left leaf full. */
	if (i == (int)l->count && l->count > 0)
		seplen = kvn_split_leaf_at_end(l, r, sep);
	else
		seplen = kvn_split_leaf(l, r, sep);
	add_separator(w, w->n - 2, sep, seplen, lpid, rpid);
	target = kvn_keycmp(key, klen, sep, seplen) <= 0 ? l : r;
	i = kvn_search(target, key, klen, &exact);
	if (!kvn_insert(target, i, key, klen, val, vlen, flags))
		corrupt(lpid, "no room after a split");
}

/* Writes a large value into fresh overflow pages; fills in @o. */
static void write_overflow(struct kv_tree *tr, struct bp_thread *t,
			   const uint8_t *val, size_t vlen,
			   struct ovf_copy *o)
{
	o->d.len = vlen;
	o->d.pages = ovf_pages(vlen);
	for (uint32_t k = 0; k < o->d.pages; k++) {
		size_t n = vlen - (size_t)k * KVN_PAGE;
		char *p;

		o->pid[k] = page_alloc(tr, t);
		p = bp_addr(tr->bp, o->pid[k]);
		if (n < KVN_PAGE) {
			memset(p + n, 0, KVN_PAGE - n);
		} else {
			n = KVN_PAGE;
		}
		memcpy(p, val + (size_t)k * KVN_PAGE, n);
		bp_unfix_x(t, o->pid[k], true);
	}
}

/*
 * Removes slot @i of the latched leaf; its overflow pages (if any) go to
 * @freed (at most KVN_OVF_PAGES). Returns how many.
 */
static unsigned int remove_record(struct kvn_hdr *leaf, unsigned int i,
				  uint64_t *freed)
{
	const struct kvn_slot *s = &kvn_slots(leaf)[i];
	unsigned int n = 0;

	if (s->flags & KVN_OVERFLOW) {
		struct ovf_copy o;
		size_t len;

		memcpy(&o, kvn_val(leaf, i, &len), s->vlen);
		n = o.d.pages;
		memcpy(freed, o.pid, n * sizeof(*freed));
	}
	kvn_remove(leaf, i);
	return n;
}

void kvt_put(struct kv_tree *tr, struct bp_thread *t, const void *key,
	     size_t klen, const void *val, size_t vlen, uint64_t lsn)
{
	struct wctx w = { .tr = tr, .t = t, .lsn = lsn };
	uint64_t freed[KVN_OVF_PAGES];
	unsigned int nfreed = 0;
	struct ovf_copy o;
	struct kvn_hdr *leaf;
	bool exact, ovf = !inline_fits(klen, vlen);
	size_t rlen = ovf ? kvn_ovf_size(ovf_pages(vlen)) : vlen;
	int i;

	if (tr->height == 1)
		root_room(&w, kvn_record_size(klen, rlen));
	else
		root_room(&w, kvn_record_size(KV_KEY_MAX, sizeof(uint64_t)));
	if (ovf) {
		write_overflow(tr, t, val, vlen, &o);
		val = &o;
	}
	find_path(&w, key, klen);
	leaf = latch(&w, w.pid[w.n - 1]);
	i = kvn_search(leaf, key, klen, &exact);
	if (exact)
		nfreed = remove_record(leaf, i, freed);
	else
		tr->keys++;
	leaf_insert(&w, key, klen, val, rlen, ovf ? KVN_OVERFLOW : 0);
	release(&w);
	if (nfreed && kvt_free_add(tr, freed, nfreed))
		corrupt(0, "no memory for the free list");
}

bool kvt_contains(struct kv_tree *tr, struct bp_thread *t, const void *key,
		  size_t klen, uint64_t *leaf_lsn)
{
	struct wctx w = { .tr = tr, .t = t };
	struct kvn_hdr *leaf;
	bool exact;

	find_path(&w, key, klen);
	leaf = (void *)bp_fix_s(t, w.pid[w.n - 1]);
	kvn_search(leaf, key, klen, &exact);
	*leaf_lsn = leaf->lsn;
	bp_unfix_s(t, w.pid[w.n - 1]);
	return exact;
}

int kvt_del(struct kv_tree *tr, struct bp_thread *t, const void *key,
	    size_t klen, uint64_t lsn, uint64_t *leaf_lsn)
{
	struct wctx w = { .tr = tr, .t = t, .lsn = lsn };
	uint64_t freed[KVN_OVF_PAGES];
	struct kvn_hdr *leaf;
	unsigned int nfreed;
	bool exact;
	int i;

	find_path(&w, key, klen);
	leaf = (void *)bp_fix_s(t, w.pid[w.n - 1]);
	i = kvn_search(leaf, key, klen, &exact);
	*leaf_lsn = leaf->lsn;
	bp_unfix_s(t, w.pid[w.n - 1]);
	if (!exact)
		return -ENOENT;
	leaf = latch(&w, w.pid[w.n - 1]);
	nfreed = remove_record(leaf, i, freed);
	release(&w);
	*leaf_lsn = lsn;
	tr->keys--;
	if (nfreed && kvt_free_add(tr, freed, nfreed))
		corrupt(0, "no memory for the free list");
	return 0;
}
