/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slotted pages: the nodes of exmap-kv's B+tree, 4 KiB each.
 *
 *   | header | slot 0 | slot 1 | ... -> free <- ... | payload 1 | payload 0 |
 *
 * Slots are sorted by key and grow from the front; payloads (the key, then
 * the value) grow from the back. A removed payload leaves a hole counted
 * in frag until the page is compacted. A leaf's value is either inline or,
 * with KVN_OVERFLOW, a struct kvn_ovf naming the overflow pages that hold
 * it. An inner node's value is the 8-byte page id of the child that holds
 * the keys up to and including the slot's key; hdr.upper holds the rest.
 *
 * Readers may look at a page while a writer changes it (optimistic reads:
 * they validate afterwards), so every accessor that a reader uses checks
 * its offsets against the page and fails instead of reading outside it.
 */
#ifndef KV_NODE_H
#define KV_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv-proto.h"

#define KVN_PAGE	4096u
#define KVN_LEAF	0x4c76		/* "vL" */
#define KVN_INNER	0x4976		/* "vI" */

#define KVN_OVERFLOW	1		/* slot flag: value in overflow pages */

/*
 * The largest leaf record (slot, key and value) kept inline; a larger one
 * has its value moved to overflow pages. Small enough that splitting a
 * full page at its middle byte always leaves room for one more record.
 */
#define KVN_RECORD_MAX	1000u
#define KVN_OVF_PAGES	(KV_VALUE_MAX / KVN_PAGE)

struct kvn_hdr {
	uint16_t kind;		/* KVN_LEAF or KVN_INNER */
	uint16_t count;		/* slots */
	uint16_t data;		/* lowest payload offset */
	uint16_t frag;		/* bytes of holes among the payloads */
	uint32_t resv;
	uint32_t resv2;
	uint64_t upper;		/* inner: child for keys above every slot */
	uint64_t lsn;		/* log position of the last change */
};

struct kvn_slot {
	uint16_t off;		/* payload offset: key, then value */
	uint16_t klen;
	uint16_t vlen;
	uint16_t flags;
};

/* A value in overflow pages: its length and the pages, in order. */
struct kvn_ovf {
	uint32_t len;
	uint32_t pages;
	uint64_t pid[];
};

#define KVN_HDR		sizeof(struct kvn_hdr)
#define KVN_SLOT	sizeof(struct kvn_slot)
#define KVN_USABLE	(KVN_PAGE - KVN_HDR)
/* The most slots a page can hold (empty keys and values). */
#define KVN_MAX_SLOTS	(KVN_USABLE / KVN_SLOT)

static inline struct kvn_slot *kvn_slots(void *page)
{
	return (struct kvn_slot *)((char *)page + KVN_HDR);
}

static inline size_t kvn_ovf_size(uint32_t pages)
{
	return sizeof(struct kvn_ovf) + pages * sizeof(uint64_t);
}

void kvn_init(void *page, uint16_t kind);
/* Bytes free for new records (holes included). */
size_t kvn_free(const void *page);
/* Bytes a record takes: its slot, key and value. */
static inline size_t kvn_record_size(size_t klen, size_t vlen)
{
	return KVN_SLOT + klen + vlen;
}

/*
 * Slot @i's key and value, or NULL if the slot points outside the page
 * (a torn read: only an optimistic reader can see that).
 */
const uint8_t *kvn_key(const void *page, unsigned int i, size_t *klen);
const uint8_t *kvn_val(const void *page, unsigned int i, size_t *vlen);

int kvn_keycmp(const void *a, size_t alen, const void *b, size_t blen);

/*
 * The first slot whose key is >= @key (count if none); *exact says whether
 * it is equal. -1 on a torn page.
 */
int kvn_search(const void *page, const void *key, size_t klen, bool *exact);

/* Inner node: the child for slot @i, or hdr.upper for i == count. */
uint64_t kvn_child(const void *page, unsigned int i);
void kvn_set_child(void *page, unsigned int i, uint64_t pid);

/*
 * Inserts a record at slot @i (keys stay sorted: the caller found @i with
 * kvn_search). False, with the page unchanged, if it does not fit.
 */
bool kvn_insert(void *page, unsigned int i, const void *key, size_t klen,
		const void *val, size_t vlen, uint16_t flags);
void kvn_remove(void *page, unsigned int i);
/* Rewrites the payloads without holes. */
void kvn_compact(void *page);

/*
 * Splits the full leaf @left: its upper half by bytes moves to the empty
 * page @right. Copies the separator (left's new last key) to @sep and
 * returns its length.
 */
size_t kvn_split_leaf(void *left, void *right, uint8_t *sep);
/*
 * "Splits" the full leaf @left for a record that goes after its last one:
 * @left stays full and @right starts empty, so that keys inserted in
 * ascending order (a load) fill their leaves instead of leaving each half
 * empty. Copies the separator (left's last key) to @sep; returns its
 * length.
 */
size_t kvn_split_leaf_at_end(void *left, void *right, uint8_t *sep);
/*
 * Splits the inner node @left: the middle slot's key moves up (copied to
 * @sep, length returned), its child becomes left's upper, the slots after
 * it and the old upper go to the empty page @right.
 */
size_t kvn_split_inner(void *left, void *right, uint8_t *sep);

/*
 * Checks a page's own invariants: kind, slots and payloads inside the
 * page and not overlapping, frag equal to the holes, keys strictly
 * ascending and within the limits, inline records and overflow
 * descriptors of legal size. Returns NULL or what is wrong.
 */
const char *kvn_check(const void *page);

#endif
