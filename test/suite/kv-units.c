// SPDX-License-Identifier: GPL-2.0
/*
 * Description: exmap-kv's own logic on the host: CRC-32C, slotted pages
 * (insert, remove, compaction, splits, the page checker catching damage),
 * the log's record placement and CRC chain, the log written and scanned
 * back (group commit, wrap-around, a torn end, stale records), and the
 * B+tree against a model (random puts, overwrites, deletes, overflow
 * values, scans, the tree checker) on the buffer pool with a pool far
 * smaller than the data. Runs on the fallback backend on the host, and
 * on both backends in the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/kv/crc32c.h"
#include "../../tools/kv/kvlog.h"
#include "../../tools/kv/kvnode.h"
#include "../../tools/kv/kvtree.h"

static enum exmap_backend backend;
static char store[256];

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void test_crc32c(void **state)
{
	char buf[1000];

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c(0, "", 0), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	/* Continuing a CRC equals one pass, at any split. */
	for (size_t cut = 0; cut < sizeof(buf); cut += 97)
		assert_int_equal(crc32c(crc32c(0, buf, cut), buf + cut,
					sizeof(buf) - cut),
				 crc32c(0, buf, sizeof(buf)));
}

static size_t mkkey(uint8_t *k, uint64_t n, size_t len)
{
	/* Big-endian number first: keys sort as the numbers do. */
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(n >> (56 - 8 * i));
	for (size_t i = 8; i < len; i++)
		k[i] = (uint8_t)(n + i);
	return len;
}

static void test_node_insert_remove(void **state)
{
	uint8_t page[KVN_PAGE] __attribute__((aligned(8))), key[KV_KEY_MAX];
	uint8_t val[600];
	unsigned int n = 0;
	bool exact;

	(void)state;
	kvn_init(page, KVN_LEAF);
	assert_null(kvn_check(page));
	assert_int_equal(kvn_free(page), KVN_USABLE);
	/* Odd numbers, in a scattered order, until the page is full. */
	for (uint64_t i = 0;; i++) {
		uint64_t num = ((i * 37) % 101) * 2 + 1;
		size_t klen = mkkey(key, num, 8 + i % 40);
		int at = kvn_search(page, key, klen, &exact);

		assert_true(at >= 0);
		assert_false(exact);
		memset(val, (int)num, sizeof(val));
		if (!kvn_insert(page, at, key, klen, val, 20 + i % 50, 0)) {
			assert_true(kvn_free(page) <
				    kvn_record_size(klen, 20 + i % 50));
			break;
		}
		n++;
		assert_null(kvn_check(page));
	}
	assert_int_equal(((struct kvn_hdr *)page)->count, n);
	assert_true(n > 40);
	/* Every key is found where it sorts; even numbers are not. */
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *k, *v;
		size_t klen, vlen;
		uint64_t num = 0;

		k = kvn_key(page, i, &klen);
		for (int b = 0; b < 8; b++)
			num = num << 8 | k[b];
		assert_int_equal(kvn_search(page, k, klen, &exact), i);
		assert_true(exact);
		v = kvn_val(page, i, &vlen);
		assert_int_equal(v[0], (uint8_t)num);
		mkkey(key, num + 1, 8);
		kvn_search(page, key, 8, &exact);
		assert_false(exact);
	}
	/* Removing makes holes; compaction gives them back. */
	for (unsigned int i = 1; i < ((struct kvn_hdr *)page)->count; i++)
		kvn_remove(page, i);
	assert_null(kvn_check(page));
	assert_true(((struct kvn_hdr *)page)->frag > 0);
	{
		size_t before = kvn_free(page);

		kvn_compact(page);
		assert_null(kvn_check(page));
		assert_int_equal(((struct kvn_hdr *)page)->frag, 0);
		assert_int_equal(kvn_free(page), before);
	}
	/* A record too large for what is left is refused, page unchanged. */
	{
		uint8_t copy[KVN_PAGE];

		while (kvn_insert(page, ((struct kvn_hdr *)page)->count,
				  key, mkkey(key, 1000 + n++, 500), val, 400,
				  0))
			;
		memcpy(copy, page, KVN_PAGE);
		assert_false(kvn_insert(page, ((struct kvn_hdr *)page)->count,
					key, mkkey(key, 5000, 500), val, 490,
					0));
		assert_memory_equal(copy, page, KVN_PAGE);
	}
}

/* Fills a page with records of random sizes up to the inline limit. */
static void fill(uint8_t *page, uint16_t kind, uint64_t base)
{
	uint8_t key[KV_KEY_MAX], val[KVN_RECORD_MAX];

	kvn_init(page, kind);
	memset(val, 0xab, sizeof(val));
	for (uint64_t i = 0;; i++) {
		size_t klen = 8 + rnd() % (KV_KEY_MAX - 8);
		size_t vlen = kind == KVN_INNER ? 8 :
			      rnd() % (KVN_RECORD_MAX - KVN_SLOT - klen + 1);

		mkkey(key, base + i, klen);
		if (!kvn_insert(page, i, key, klen, val, vlen, 0))
			return;
	}
}

static void test_node_split(void **state)
{
	uint8_t l[KVN_PAGE] __attribute__((aligned(8)));
	uint8_t r[KVN_PAGE] __attribute__((aligned(8)));
	uint8_t sep[KV_KEY_MAX];

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct kvn_hdr *lh = (void *)l, *rh = (void *)r;
		unsigned int n;
		size_t seplen, klen;
		const uint8_t *k;

		fill(l, KVN_LEAF, round * 1000);
		n = lh->count;
		seplen = kvn_split_leaf(l, r, sep);
		assert_null(kvn_check(l));
		assert_null(kvn_check(r));
		assert_int_equal(lh->count + rh->count, n);
		/* The separator is left's last key, below right's first. */
		k = kvn_key(l, lh->count - 1, &klen);
		assert_int_equal(kvn_keycmp(k, klen, sep, seplen), 0);
		k = kvn_key(r, 0, &klen);
		assert_true(kvn_keycmp(k, klen, sep, seplen) > 0);
		/* Each half takes the largest record there is. */
		assert_true(kvn_free(l) >= KVN_RECORD_MAX);
		assert_true(kvn_free(r) >= KVN_RECORD_MAX);

		fill(l, KVN_INNER, round * 1000);
		for (unsigned int i = 0; i < lh->count; i++)
			kvn_set_child(l, i, 100 + i);
		lh->upper = 99;
		n = lh->count;
		seplen = kvn_split_inner(l, r, sep);
		assert_null(kvn_check(l));
		assert_null(kvn_check(r));
		/* One slot went up; its child became left's upper. */
		assert_int_equal(lh->count + rh->count + 1, n);
		assert_int_equal(lh->upper, 100 + lh->count);
		assert_int_equal(rh->upper, 99);
		assert_int_equal(kvn_child(r, 0), 100 + lh->count + 1);
		k = kvn_key(r, 0, &klen);
		assert_true(kvn_keycmp(k, klen, sep, seplen) > 0);
		k = kvn_key(l, lh->count - 1, &klen);
		assert_true(kvn_keycmp(k, klen, sep, seplen) < 0);
		assert_true(kvn_free(l) >= KVN_RECORD_MAX);
		assert_true(kvn_free(r) >= KVN_RECORD_MAX);
	}
}

/* The page checker notices each kind of damage. */
static void test_node_check(void **state)
{
	uint8_t page[KVN_PAGE] __attribute__((aligned(8))), copy[KVN_PAGE];
	struct kvn_hdr *h = (void *)page;
	struct kvn_slot *s = kvn_slots(page);

	(void)state;
	fill(page, KVN_LEAF, 0);
	assert_null(kvn_check(page));
	memcpy(copy, page, KVN_PAGE);

	h->kind = 7;
	assert_string_equal(kvn_check(page), "not a node");
	memcpy(page, copy, KVN_PAGE);
	h->count = KVN_MAX_SLOTS + 1;
	assert_non_null(kvn_check(page));
	memcpy(page, copy, KVN_PAGE);
	s[1].off = KVN_PAGE - 2;
	assert_string_equal(kvn_check(page), "payload outside the payload area");
	memcpy(page, copy, KVN_PAGE);
	s[1] = s[0];
	assert_string_equal(kvn_check(page), "keys not ascending");
	memcpy(page, copy, KVN_PAGE);
	h->frag += 8;
	assert_string_equal(kvn_check(page), "hole count wrong");
	memcpy(page, copy, KVN_PAGE);
	s[0].flags = KVN_OVERFLOW;
	assert_non_null(kvn_check(page));
	memcpy(page, copy, KVN_PAGE);
	s[0].klen = 0;
	assert_non_null(kvn_check(page));
	/* A torn slot: readers get NULL instead of an address off the page. */
	memcpy(page, copy, KVN_PAGE);
	{
		size_t len;
		bool exact;

		s[2].off = 0xfff0;
		assert_null(kvn_key(page, 2, &len));
		assert_null(kvn_key(page, h->count, &len));
		h->count = 0xffff;
		assert_int_equal(kvn_search(page, "x", 1, &exact), -1);
	}
}

static void test_log_place_and_chain(void **state)
{
	struct kvl_rec a = { .type = KVL_PUT, .klen = 1, .len = 3, .lsn = 0 };
	struct kvl_rec b = a;

	(void)state;
	assert_int_equal(kvl_size(0), 24);
	assert_int_equal(kvl_size(1), 32);
	assert_int_equal(kvl_size(8), 32);
	/* Fits: stays; does not fit: the next lap. */
	assert_int_equal(kvl_place(100, 64, 4096), 100);
	assert_int_equal(kvl_place(4096 - 64, 64, 4096), 4096 - 64);
	assert_int_equal(kvl_place(4096 - 56, 64, 4096), 4096);
	assert_int_equal(kvl_place(3 * 4096 + 8, 64, 4096), 3 * 4096 + 8);
	/* The chain: same record, other predecessor, other CRC. */
	b.lsn = 32;
	assert_int_not_equal(kvl_crc(1, &a, "abc"), kvl_crc(2, &a, "abc"));
	assert_int_not_equal(kvl_crc(1, &a, "abc"), kvl_crc(1, &b, "abc"));
	assert_int_not_equal(kvl_crc(1, &a, "abc"), kvl_crc(1, &a, "abd"));
	a.epoch = 1;
	assert_int_not_equal(kvl_crc(1, &a, "abc"), kvl_crc(1, &b, "abc"));
}

#define LOG_PAGES	256	/* the ring: 1 MiB */

static int open_log(struct kv_log **log, int *fd)
{
	struct kv_log_opts o = {
		.backend = backend, .dev_pages = 2 + LOG_PAGES,
		.region_first = 2, .region_pages = LOG_PAGES,
		.buffer_pages = 64,
	};

	*fd = open(store, O_RDWR | O_DIRECT);
	if (*fd < 0 && backend == EXMAP_BACKEND_FALLBACK)
		*fd = open(store, O_RDWR);
	assert_true(*fd >= 0);
	o.fd = *fd;
	return kv_log_open(log, &o);
}

static size_t rec_len(uint64_t n)
{
	/* Mostly small, some near the largest record. */
	return n % 13 == 0 ? KVL_PAYLOAD_MAX - n % 300 : 1 + (n * 7919) % 900;
}

static void rec_fill(uint8_t *buf, uint64_t n, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(n * 31 + i);
}

#define LOG_RECS	400

/* Where each record went, and the CRC before it. */
static uint64_t rec_at[LOG_RECS + 1];
static uint32_t chain_before[LOG_RECS + 1];

/* Appends records n0 .. n1-1, with contents of generation @gen. */
static void append_range(struct kv_log *log, uint64_t n0, uint64_t n1,
			 uint64_t gen)
{
	static uint8_t buf[KVL_PAYLOAD_MAX];
	uint64_t end = 0;

	for (uint64_t n = n0; n < n1; n++) {
		struct iovec iov = { buf, rec_len(n) };
		uint64_t start;

		rec_fill(buf, n + gen, rec_len(n));
		chain_before[n] = log->chain;
		assert_int_equal(kv_log_append(log, KVL_PUT, 1, &iov, 1,
					       &start, &end), 0);
		assert_true(end > start);
		rec_at[n] = start;
	}
	rec_at[n1] = end;
	chain_before[n1] = log->chain;
	assert_int_equal(kv_log_wait(log, end), 0);
	assert_true(kv_log_durable(log) >= end);
}

/*
 * Scans from record n0's place and expects records n0 .. n1-1 (contents
 * of generation @gen), then the end. Returns where it ended.
 */
static uint64_t scan_expect(struct kv_log *log, uint64_t n0, uint64_t n1,
			    uint64_t gen)
{
	static uint8_t want[KVL_PAYLOAD_MAX];
	struct kvl_scan sc;
	struct kvl_rec r;
	const void *p;

	kvl_scan_begin(&sc, rec_at[n0], chain_before[n0]);
	for (uint64_t n = n0; n < n1; n++) {
		assert_int_equal(kvl_scan_next(log, &sc, &r, &p), 1);
		assert_int_equal(r.type, KVL_PUT);
		assert_int_equal(r.len, rec_len(n));
		assert_int_equal(r.lsn, rec_at[n]);
		rec_fill(want, n + gen, r.len);
		assert_memory_equal(p, want, r.len);
	}
	assert_int_equal(kvl_scan_next(log, &sc, &r, &p), 0);
	kvl_scan_end(log, &sc);
	return sc.lsn;
}

static int notified;

static void on_durable(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&notified, 1, __ATOMIC_RELAXED);
}

/* Damages one byte of the store at @off. */
static void poke(off_t off)
{
	int fd = open(store, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static off_t dev_off(uint64_t lsn)
{
	return (off_t)(2 + (lsn / KVL_PAGE) % LOG_PAGES) * KVL_PAGE +
	       lsn % KVL_PAGE;
}

/*
 * Records written in groups come back in order, also across laps of the
 * ring (skip records); the scan stops where they end: at a damaged
 * record, at records a restart left behind (an older run's, which no
 * longer chain), and with another store's seed at once.
 */
static void test_log_roundtrip(void **state)
{
	struct kv_log *log;
	int fd;

	(void)state;
	rec_at[0] = 0;
	chain_before[0] = 12345;
	assert_int_equal(open_log(&log, &fd), 0);
	notified = 0;
	assert_int_equal(kv_log_start(log, 0, chain_before[0], 1, 0,
				      on_durable, NULL), 0);
	append_range(log, 0, 40, 0);
	assert_true(notified > 0);
	assert_true(atomic_load(&log->stats.groups) >= 1);
	kv_log_close(log);
	close(fd);

	assert_int_equal(open_log(&log, &fd), 0);
	assert_int_equal(scan_expect(log, 0, 40, 0), rec_at[40]);
	chain_before[0] = 54321;
	scan_expect(log, 0, 0, 0);
	chain_before[0] = 12345;

	/* A restart after record 19: 20 .. 24 again, different. */
	assert_int_equal(kv_log_start(log, rec_at[20], chain_before[20], 2, 0,
				      NULL, NULL), 0);
	append_range(log, 20, 25, 1);
	kv_log_close(log);
	close(fd);
	assert_int_equal(open_log(&log, &fd), 0);
	{
		struct kvl_scan sc;
		struct kvl_rec r;
		const void *p;
		unsigned int n = 0;

		kvl_scan_begin(&sc, 0, chain_before[0]);
		while (kvl_scan_next(log, &sc, &r, &p) == 1)
			n++;
		kvl_scan_end(log, &sc);
		assert_int_equal(n, 25);
		assert_int_equal(sc.lsn, rec_at[25]);
	}

	/* Several laps of the ring, then from a record of the last lap. */
	assert_int_equal(kv_log_start(log, rec_at[25], chain_before[25], 3,
				      0, NULL, NULL), 0);
	for (uint64_t n = 25; n < LOG_RECS; n += 25) {
		/* The tail follows: the oldest records are let go. */
		log->tail = rec_at[n > 100 ? n - 100 : 0];
		append_range(log, n, n + 25, 1);
	}
	assert_true(rec_at[LOG_RECS] > 2 * LOG_PAGES * KVL_PAGE);
	kv_log_close(log);
	close(fd);
	assert_int_equal(open_log(&log, &fd), 0);
	assert_int_equal(scan_expect(log, LOG_RECS - 60, LOG_RECS, 1),
			 rec_at[LOG_RECS]);

	/* A damaged byte ends the log before the record that holds it. */
	poke(dev_off(rec_at[LOG_RECS - 10] + KVL_HDR + 3));
	scan_expect(log, LOG_RECS - 60, LOG_RECS - 10, 1);
	poke(dev_off(rec_at[LOG_RECS - 30]));
	scan_expect(log, LOG_RECS - 60, LOG_RECS - 30, 1);

	/* An append that would overwrite the tail is refused. */
	assert_int_equal(kv_log_start(log, rec_at[LOG_RECS], 0, 4,
				      rec_at[LOG_RECS] - 100, NULL, NULL), 0);
	{
		static uint8_t buf[KVL_PAYLOAD_MAX];
		struct iovec iov = { buf, sizeof(buf) };
		uint64_t start, e;
		int ret = 0, k;

		for (k = 0; k < 100 && !ret; k++)
			ret = kv_log_append(log, KVL_PUT, 1, &iov, 1, &start,
					    &e);
		assert_int_equal(ret, -ENOSPC);
		assert_true(k > 5);
	}
	kv_log_close(log);
	close(fd);
}

#define T_KEYS		3000
#define T_POOL		40

static bool m_present[T_KEYS];
static uint32_t m_gen[T_KEYS], m_vlen[T_KEYS];

static size_t tkey(uint8_t *k, uint64_t num)
{
	return mkkey(k, num, 8 + (num * 13) % (KV_KEY_MAX - 7));
}

static size_t tvlen(uint64_t r)
{
	switch (r % 20) {
	case 0:
		return 1000 + r % 20000;	/* overflow */
	case 1:
		return r % 3 ? 0 : KV_VALUE_MAX - r % 5;
	default:
		return r % 400;
	}
}

static void tval(uint8_t *v, uint64_t num, uint32_t gen, size_t len)
{
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(num * 7 + gen * 13 + i * 3 + (i >> 8));
}

static struct bufpool *tree_pool(struct bp_thread *t)
{
	struct bp_opts o = {
		.device = store, .area_pages = 4096, .pool_pages = T_POOL,
		.threads = 1, .backend = backend,
	};
	struct bufpool *bp;

	assert_int_equal(bp_install_fault_handler(), 0);
	assert_int_equal(bp_open(&bp, &o), 0);
	bp_thread_init(bp, t, 0);
	return bp;
}

static void check_tree(struct kv_tree *tr, struct bp_thread *t)
{
	struct kvt_check_result r;
	int ret = kvt_check(tr, t, &r);

	if (ret)
		fail_msg("tree check: %s", r.why);
	assert_int_equal(r.keys, tr->keys);
}

/* Compares a scan of [lo, hi) (hi == T_KEYS: no end) with the model. */
static void check_scan(struct kv_tree *tr, struct bp_thread *t, uint64_t lo,
		       uint64_t hi, unsigned int max)
{
	static uint8_t out[KV_SCAN_BYTES], v[KV_VALUE_MAX];
	uint8_t from[KV_KEY_MAX], to[KV_KEY_MAX];
	struct kvt_scan sc = {
		.from = from, .flen = tkey(from, lo), .to = to,
		.tlen = tkey(to, hi), .max_pairs = max,
		.max_bytes = sizeof(out), .out = out,
	};
	uint64_t num = lo;
	size_t off = 0;

	if (hi == T_KEYS)
		sc.to = NULL;
	kvt_scan(tr, t, &sc);
	for (unsigned int i = 0; i < sc.count; i++) {
		struct kv_pair pair;
		uint8_t k[KV_KEY_MAX];
		size_t klen;

		while (num < hi && !m_present[num])
			num++;
		assert_true(num < hi);
		memcpy(&pair, out + off, sizeof(pair));
		klen = tkey(k, num);
		assert_int_equal(pair.klen, klen);
		assert_memory_equal(out + off + sizeof(pair), k, klen);
		assert_int_equal(pair.vlen, m_vlen[num]);
		tval(v, num, m_gen[num], pair.vlen);
		assert_memory_equal(out + off + sizeof(pair) + klen, v,
				    pair.vlen);
		off += sizeof(pair) + pair.klen + pair.vlen;
		num++;
	}
	assert_int_equal(off, sc.out_len);
	while (num < hi && !m_present[num])
		num++;
	/* Stopped early only at a limit. */
	assert_true(num == hi || sc.more);
	if (sc.more)
		assert_true(sc.count == max ||
			    off + sizeof(struct kv_pair) + KV_KEY_MAX +
			    KV_VALUE_MAX > sizeof(out));
}

/*
 * Random puts, overwrites and deletes of keys 8 to 512 bytes long with
 * values from empty to the largest (overflow pages), on a pool of 40
 * pages: every value reads back, scans match the model, and the checker
 * passes along the way and after a reopen.
 */
static void test_tree_model(void **state)
{
	static uint8_t v[KV_VALUE_MAX];
	struct bp_thread t;
	struct bufpool *bp = tree_pool(&t);
	uint8_t k[KV_KEY_MAX];
	struct kv_tree tr;
	uint64_t lsn = 0, root;

	(void)state;
	memset(m_present, 0, sizeof(m_present));
	assert_int_equal(kvt_create(&tr, bp, &t), 0);
	/* Fewer under emulation: the tree still grows three levels. */
	int ops = getenv("EXMAP_VM") ? 4000 : 12000;

	for (int op = 0; op < ops; op++) {
		uint64_t r = rnd(), num = r % T_KEYS;
		size_t klen = tkey(k, num);

		lsn += 100;
		if (r % 7 == 0) {
			uint64_t leaf_lsn;
			int ret = kvt_del(&tr, &t, k, klen, lsn, &leaf_lsn);

			assert_int_equal(ret, m_present[num] ? 0 : -ENOENT);
			m_present[num] = false;
		} else {
			size_t vlen = tvlen(r >> 20);

			m_gen[num]++;
			m_vlen[num] = vlen;
			tval(v, num, m_gen[num], vlen);
			assert_true(kvt_pages_left(&tr) >=
				    kvt_put_pages(&tr, vlen));
			kvt_put(&tr, &t, k, klen, v, vlen, lsn);
			m_present[num] = true;
		}
		if (op % 3000 == 2999)
			check_tree(&tr, &t);
	}
	assert_true(atomic_load(&bp->stats.evictions) > 100);
	assert_true(tr.height >= 3);
	/* Freed overflow pages are reused; some are left at the end of the
	 * long run. */
	if (ops == 12000)
		assert_true(tr.nfree > 0);
	check_tree(&tr, &t);
	for (uint64_t num = 0; num < T_KEYS; num++) {
		struct kvt_get g = { .key = k, .klen = tkey(k, num),
				     .buf = v };

		kvt_get(&tr, &t, &g);
		assert_int_equal(g.found, m_present[num]);
		if (g.found) {
			static uint8_t want[KV_VALUE_MAX];

			assert_int_equal(g.vlen, m_vlen[num]);
			tval(want, num, m_gen[num], g.vlen);
			assert_memory_equal(g.buf, want, g.vlen);
			assert_true(g.lsn > 0 && g.lsn <= lsn);
		}
	}
	check_scan(&tr, &t, 0, T_KEYS, KV_SCAN_MAX);
	check_scan(&tr, &t, 100, 200, KV_SCAN_MAX);
	check_scan(&tr, &t, 1000, 2500, 7);
	check_scan(&tr, &t, 2999, T_KEYS, 5);
	check_scan(&tr, &t, 500, 500, 5);

	/* Batched lookups find the same. */
	for (uint64_t base = 0; base < T_KEYS; base += BP_EVICT_BATCH) {
		static uint8_t bufs[BP_EVICT_BATCH][KV_VALUE_MAX];
		static uint8_t keys[BP_EVICT_BATCH][KV_KEY_MAX];
		struct kvt_get g[BP_EVICT_BATCH];
		unsigned int n = 0;

		for (uint64_t num = base; num < base + BP_EVICT_BATCH &&
		     num < T_KEYS; num++, n++)
			g[n] = (struct kvt_get){
				.key = keys[n], .klen = tkey(keys[n], num),
				.buf = bufs[n] };
		kvt_get_many(&tr, &t, g, n);
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(g[i].found, m_present[base + i]);
			if (g[i].found)
				assert_int_equal(g[i].vlen,
						 m_vlen[base + i]);
		}
	}

	/* Reopened from the device, the tree is the same. */
	root = tr.root;
	{
		uint64_t h = tr.height, keys = tr.keys, nfree = tr.nfree;
		uint64_t *fl = malloc(nfree * sizeof(*fl));

		memcpy(fl, tr.free, nfree * sizeof(*fl));
		kvt_destroy(&tr);
		assert_int_equal(bp_close(bp), 0);
		{
			struct bp_opts o = {
				.device = store, .area_pages = 4096,
				.pool_pages = T_POOL, .threads = 1,
				.backend = backend, .reuse = true,
			};

			assert_int_equal(bp_open(&bp, &o), 0);
			bp_thread_init(bp, &t, 0);
		}
		kvt_init(&tr, bp, root, h, keys);
		assert_int_equal(kvt_free_add(&tr, fl, nfree), 0);
		free(fl);
	}
	check_tree(&tr, &t);
	check_scan(&tr, &t, 0, T_KEYS, KV_SCAN_MAX);
	kvt_destroy(&tr);
	assert_int_equal(bp_close(bp), 0);
}

/* The checker finds a lost page, a page used twice, a bad separator. */
static void test_tree_checker(void **state)
{
	struct bp_thread t;
	struct bufpool *bp = tree_pool(&t);
	struct kvt_check_result r;
	uint8_t k[KV_KEY_MAX], v[300] = { 0 };
	struct kv_tree tr;
	struct kvn_hdr *root;
	uint64_t child;

	(void)state;
	assert_int_equal(kvt_create(&tr, bp, &t), 0);
	for (uint64_t num = 0; num < 200; num++)
		kvt_put(&tr, &t, k, mkkey(k, num, 40), v, sizeof(v), 1);
	check_tree(&tr, &t);
	assert_true(tr.height == 2);

	/* A page on the free list that the tree still uses. (The tree is
	 * far smaller than the pool: its pages stay resident.) */
	bp_fix_s(&t, tr.root);
	bp_unfix_s(&t, tr.root);
	root = (void *)bp_addr(bp, tr.root);
	child = kvn_child(root, 0);
	assert_int_equal(kvt_free_add(&tr, &child, 1), 0);
	assert_int_equal(kvt_check(&tr, &t, &r), -EUCLEAN);
	assert_non_null(strstr(r.why, "used twice"));
	tr.nfree--;
	/* A page neither used nor free. */
	bp_set_next_page(bp, bp_next_page(bp) + 1);
	assert_int_equal(kvt_check(&tr, &t, &r), -EUCLEAN);
	assert_non_null(strstr(r.why, "allocated"));
	bp_set_next_page(bp, bp_next_page(bp) - 1);
	/* A separator below the keys of its child. */
	{
		size_t len;
		uint8_t *sep = (uint8_t *)kvn_key(root, 0, &len);

		sep[7] ^= 0xff;		/* a different number */
		assert_int_equal(kvt_check(&tr, &t, &r), -EUCLEAN);
		sep[7] ^= 0xff;
	}
	/* A wrong key count. */
	tr.keys++;
	assert_int_equal(kvt_check(&tr, &t, &r), -EUCLEAN);
	assert_non_null(strstr(r.why, "keys"));
	tr.keys--;
	check_tree(&tr, &t);
	kvt_destroy(&tr);
	assert_int_equal(bp_close(bp), 0);
}

static int setup_store(void **state)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	int fd;

	(void)state;
	snprintf(store, sizeof(store), "%s/kv-units-XXXXXX",
		 dir ? dir : "/tmp");
	fd = mkstemp(store);
	if (fd < 0 || ftruncate(fd, 16 << 20) || close(fd))
		return -1;
	return 0;
}

static int remove_store(void **state)
{
	(void)state;
	unlink(store);
	return 0;
}

/* Leaves of a tree of @n keys put in ascending or in scattered order. */
static uint64_t leaves_after_load(uint64_t n, bool ascending)
{
	struct bp_thread t;
	struct bufpool *bp = tree_pool(&t);
	struct kvt_check_result r;
	uint8_t k[KV_KEY_MAX], v[100] = { 0 };
	struct kv_tree tr;

	assert_int_equal(kvt_create(&tr, bp, &t), 0);
	for (uint64_t i = 0; i < n; i++) {
		/* 7919 is prime and does not divide n: a permutation. */
		uint64_t num = ascending ? i : i * 7919 % n;

		kvt_put(&tr, &t, k, mkkey(k, num, 40), v, sizeof(v), 1);
	}
	assert_int_equal(kvt_check(&tr, &t, &r), 0);
	assert_int_equal(r.keys, n);
	kvt_destroy(&tr);
	assert_int_equal(bp_close(bp), 0);
	return r.leaves;
}

/*
 * A load in key order fills its leaves (a split past the last key leaves
 * the left page full); split in the middle, they would be half empty, more
 * leaves than scattered inserts give (about two thirds full).
 */
static void test_tree_ascending_fill(void **state)
{
	uint64_t asc = leaves_after_load(3000, true);
	uint64_t scattered = leaves_after_load(3000, false);

	(void)state;
	printf("leaves: %llu ascending, %llu scattered\n",
	       (unsigned long long)asc, (unsigned long long)scattered);
	assert_true(asc * 5 < scattered * 4);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_node_insert_remove),
		cmocka_unit_test(test_node_split),
		cmocka_unit_test(test_node_check),
		cmocka_unit_test(test_log_place_and_chain),
	};
	const struct CMUnitTest io[] = {
		cmocka_unit_test_setup_teardown(test_log_roundtrip,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_tree_model,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_tree_checker,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_tree_ascending_fill,
						setup_store, remove_store),
	};
	int failed;

	failed = cmocka_run_group_tests_name("kv-units", pure, NULL, NULL);
	/* The host runs the fallback; the guest, slower, exmap only. */
	backend = EXMAP_BACKEND_FALLBACK;
	if (!getenv("EXMAP_VM"))
		failed += cmocka_run_group_tests_name("kv-io-fallback", io,
						      NULL, NULL);
	if (access("/dev/exmap", F_OK) == 0 && getenv("EXMAP_TEST_DIR")) {
		backend = EXMAP_BACKEND_KERNEL;
		failed += cmocka_run_group_tests_name("kv-io-exmap", io,
						      NULL, NULL);
	}
	return failed ? 1 : 0;
}
