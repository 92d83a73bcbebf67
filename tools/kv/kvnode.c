// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "kvnode.h"

_Static_assert(sizeof(struct kvn_hdr) == 32, "node header");
_Static_assert(sizeof(struct kvn_slot) == 8, "slot");
/* The largest inner entry fits any split half, with room to spare. */
_Static_assert(KVN_SLOT + KV_KEY_MAX + 8 <= KVN_RECORD_MAX, "inner entry");
/* A record with its value moved out always fits inline. */
_Static_assert(KVN_SLOT + KV_KEY_MAX + sizeof(struct kvn_ovf) +
	       KVN_OVF_PAGES * 8 <= KVN_RECORD_MAX, "overflow record");

static struct kvn_hdr *hdr(void *page)
{
	return page;
}

static const struct kvn_hdr *chdr(const void *page)
{
	return page;
}

static const struct kvn_slot *cslots(const void *page)
{
	return (const struct kvn_slot *)((const char *)page + KVN_HDR);
}

void kvn_init(void *page, uint16_t kind)
{
	memset(page, 0, KVN_PAGE);
	hdr(page)->kind = kind;
	hdr(page)->data = KVN_PAGE;
}

static size_t contiguous(const void *page)
{
	const struct kvn_hdr *h = chdr(page);

	return h->data - KVN_HDR - h->count * KVN_SLOT;
}

size_t kvn_free(const void *page)
{
	return contiguous(page) + chdr(page)->frag;
}

/* Slot @i, or NULL when the page does not hold it (torn). */
static const struct kvn_slot *slot_ok(const void *page, unsigned int i)
{
	const struct kvn_hdr *h = chdr(page);
	const struct kvn_slot *s;
	uint16_t count = h->count;

	if (count > KVN_MAX_SLOTS || i >= count)
		return NULL;
	s = &cslots(page)[i];
	if (s->off < KVN_HDR || (size_t)s->off + s->klen + s->vlen > KVN_PAGE)
		return NULL;
	return s;
}

const uint8_t *kvn_key(const void *page, unsigned int i, size_t *klen)
{
	const struct kvn_slot *s = slot_ok(page, i);

	if (!s)
		return NULL;
	*klen = s->klen;
	return (const uint8_t *)page + s->off;
}

const uint8_t *kvn_val(const void *page, unsigned int i, size_t *vlen)
{
	const struct kvn_slot *s = slot_ok(page, i);

	if (!s)
		return NULL;
	*vlen = s->vlen;
	return (const uint8_t *)page + s->off + s->klen;
}

int kvn_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int kvn_search(const void *page, const void *key, size_t klen, bool *exact)
{
	unsigned int lo = 0, hi = chdr(page)->count, n = hi;
	const uint8_t *k;
	size_t len;

	*exact = false;
	if (n > KVN_MAX_SLOTS)
		return -1;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		k = kvn_key(page, mid, &len);
		if (!k)
			return -1;
		if (kvn_keycmp(k, len, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n) {
		k = kvn_key(page, lo, &len);
		if (!k)
			return -1;
		*exact = !kvn_keycmp(k, len, key, klen);
	}
	return (int)lo;
}

uint64_t kvn_child(const void *page, unsigned int i)
{
	const uint8_t *v;
	uint64_t pid;
	size_t len;

	if (i == chdr(page)->count)
		return chdr(page)->upper;
	v = kvn_val(page, i, &len);
	if (!v || len != sizeof(pid))
		return 0;
	memcpy(&pid, v, sizeof(pid));
	return pid;
}

void kvn_set_child(void *page, unsigned int i, uint64_t pid)
{
	size_t len;

	if (i == hdr(page)->count)
		hdr(page)->upper = pid;
	else
		memcpy((void *)kvn_val(page, i, &len), &pid, sizeof(pid));
}

bool kvn_insert(void *page, unsigned int i, const void *key, size_t klen,
		const void *val, size_t vlen, uint16_t flags)
{
	struct kvn_hdr *h = hdr(page);
	struct kvn_slot *s = kvn_slots(page);
	size_t need = kvn_record_size(klen, vlen);

	if (i > h->count || klen > KV_KEY_MAX || need > KVN_USABLE)
		return false;
	if (contiguous(page) < need) {
		if (kvn_free(page) < need)
			return false;
		kvn_compact(page);
	}
	h->data -= klen + vlen;
	memcpy((char *)page + h->data, key, klen);
	if (vlen)
		memcpy((char *)page + h->data + klen, val, vlen);
	memmove(&s[i + 1], &s[i], (h->count - i) * KVN_SLOT);
	s[i] = (struct kvn_slot){ .off = h->data, .klen = klen, .vlen = vlen,
				  .flags = flags };
	h->count++;
	return true;
}

void kvn_remove(void *page, unsigned int i)
{
	struct kvn_hdr *h = hdr(page);
	struct kvn_slot *s = kvn_slots(page);
	size_t size = s[i].klen + s[i].vlen;

	if (s[i].off == h->data)
		h->data += size;	/* the lowest payload: no hole */
	else
		h->frag += size;
	memmove(&s[i], &s[i + 1], (h->count - i - 1) * KVN_SLOT);
	h->count--;
}

void kvn_compact(void *page)
{
	struct kvn_hdr *h = hdr(page);
	struct kvn_slot *s = kvn_slots(page);
	char old[KVN_PAGE];
	uint16_t data = KVN_PAGE;

	memcpy(old, page, KVN_PAGE);
	for (unsigned int i = 0; i < h->count; i++) {
		size_t size = s[i].klen + s[i].vlen;

		data -= size;
		memcpy((char *)page + data, old + s[i].off, size);
		s[i].off = data;
	}
	memset((char *)page + KVN_HDR + h->count * KVN_SLOT, 0,
	       data - KVN_HDR - h->count * KVN_SLOT);
	h->data = data;
	h->frag = 0;
}

/* Appends slot @i of @from to @to (which has room: it is half empty). */
static void append_from(void *to, const void *from, unsigned int i)
{
	const struct kvn_slot *s = &cslots(from)[i];
	const char *p = (const char *)from + s->off;

	kvn_insert(to, hdr(to)->count, p, s->klen, p + s->klen, s->vlen,
		   s->flags);
}

/* The first slot that ends past half of the page's record bytes. */
static unsigned int middle(const void *page)
{
	const struct kvn_slot *s = cslots(page);
	unsigned int n = chdr(page)->count, i;
	size_t total = 0, acc = 0;

	for (i = 0; i < n; i++)
		total += kvn_record_size(s[i].klen, s[i].vlen);
	for (i = 0; i < n; i++) {
		acc += kvn_record_size(s[i].klen, s[i].vlen);
		if (acc > total / 2)
			break;
	}
	return i;
}

/* Rebuilds @page with slots [0, n) of its old contents @old. */
static void keep_first(void *page, const void *old, unsigned int n)
{
	kvn_init(page, chdr(old)->kind);
	hdr(page)->lsn = chdr(old)->lsn;
	for (unsigned int i = 0; i < n; i++)
		append_from(page, old, i);
}

size_t kvn_split_leaf(void *left, void *right, uint8_t *sep)
{
	unsigned int n = hdr(left)->count, m = middle(left);
	char old[KVN_PAGE];
	const uint8_t *k;
	size_t len;

	/* Left gets [0, m), at least one slot; right the rest. */
	if (m < 1)
		m = 1;
	if (m > n - 1)
		m = n - 1;
	memcpy(old, left, KVN_PAGE);
	kvn_init(right, KVN_LEAF);
	hdr(right)->lsn = hdr(left)->lsn;
	for (unsigned int i = m; i < n; i++)
		append_from(right, old, i);
	keep_first(left, old, m);
	k = kvn_key(left, m - 1, &len);
	memcpy(sep, k, len);
	return len;
}

size_t kvn_split_leaf_at_end(void *left, void *right, uint8_t *sep)
{
	const uint8_t *k;
	size_t len;

	kvn_init(right, KVN_LEAF);
	hdr(right)->lsn = hdr(left)->lsn;
	k = kvn_key(left, hdr(left)->count - 1, &len);
	memcpy(sep, k, len);
	return len;
}

size_t kvn_split_inner(void *left, void *right, uint8_t *sep)
{
	unsigned int n = hdr(left)->count, m = middle(left);
	char old[KVN_PAGE];
	const uint8_t *k;
	size_t len;

	/* Slot m moves up; both halves keep at least one slot. */
	if (m < 1)
		m = 1;
	if (m > n - 2)
		m = n - 2;
	memcpy(old, left, KVN_PAGE);
	kvn_init(right, KVN_INNER);
	hdr(right)->lsn = hdr(left)->lsn;
	for (unsigned int i = m + 1; i < n; i++)
		append_from(right, old, i);
	hdr(right)->upper = hdr(left)->upper;
	keep_first(left, old, m);
	hdr(left)->upper = kvn_child(old, m);
	k = kvn_key(old, m, &len);
	memcpy(sep, k, len);
	return len;
}

struct extent {
	uint16_t off, end;
};

static int extent_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

static const char *check_record(const struct kvn_slot *s, const uint8_t *v,
				bool leaf)
{
	struct kvn_ovf ovf;

	if (s->klen < 1 || s->klen > KV_KEY_MAX)
		return "key length out of range";
	if (!leaf)
		return s->vlen == 8 && !s->flags ? NULL : "bad inner entry";
	if (s->flags & ~KVN_OVERFLOW)
		return "unknown slot flags";
	if (kvn_record_size(s->klen, s->vlen) > KVN_RECORD_MAX)
		return "inline record too large";
	if (!(s->flags & KVN_OVERFLOW))
		return NULL;
	if (s->vlen < sizeof(ovf))
		return "overflow descriptor too short";
	memcpy(&ovf, v, sizeof(ovf));
	if (ovf.len > KV_VALUE_MAX || !ovf.pages ||
	    ovf.pages != (ovf.len + KVN_PAGE - 1) / KVN_PAGE ||
	    s->vlen != kvn_ovf_size(ovf.pages))
		return "bad overflow descriptor";
	return NULL;
}

const char *kvn_check(const void *page)
{
	const struct kvn_hdr *h = chdr(page);
	const struct kvn_slot *s = cslots(page);
	struct extent ext[KVN_MAX_SLOTS];
	size_t used = 0;
	bool leaf = h->kind == KVN_LEAF;

	if (h->kind != KVN_LEAF && h->kind != KVN_INNER)
		return "not a node";
	if (h->count > KVN_MAX_SLOTS || h->data > KVN_PAGE ||
	    h->data < KVN_HDR + h->count * KVN_SLOT)
		return "slots and payloads overlap";
	for (unsigned int i = 0; i < h->count; i++) {
		const char *why;

		if (s[i].off < h->data ||
		    (size_t)s[i].off + s[i].klen + s[i].vlen > KVN_PAGE)
			return "payload outside the payload area";
		why = check_record(&s[i], (const uint8_t *)page + s[i].off +
				   s[i].klen, leaf);
		if (why)
			return why;
		if (i && kvn_keycmp((const char *)page + s[i - 1].off,
				    s[i - 1].klen, (const char *)page + s[i].off,
				    s[i].klen) >= 0)
			return "keys not ascending";
		ext[i] = (struct extent){ s[i].off,
					  s[i].off + s[i].klen + s[i].vlen };
		used += s[i].klen + s[i].vlen;
	}
	qsort(ext, h->count, sizeof(*ext), extent_cmp);
	for (unsigned int i = 1; i < h->count; i++)
		if (ext[i].off < ext[i - 1].end)
			return "payloads overlap";
	if (used + h->frag != KVN_PAGE - h->data)
		return "hole count wrong";
	return NULL;
}
