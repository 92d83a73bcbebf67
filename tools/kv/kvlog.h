/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap-kv's redo log: a ring of pages on the store's device, written
 * through an exmap context of its own (WRITE, then fdatasync) by one
 * committer thread that takes whatever records are there at once: group
 * commit.
 *
 * A position in the log (an LSN) is a byte offset in an endless stream;
 * the ring holds it at page region_first + (lsn / 4096) % region_pages.
 * A record is a 24-byte header and a payload, 8-byte aligned, and never
 * crosses the end of the ring: a SKIP record (or, when fewer than 24 bytes
 * are left, nothing) fills the rest of the lap. Each record's CRC-32C
 * covers its header and payload and starts from the previous record's CRC
 * (a chain): the valid log ends at the first record that does not chain,
 * so a torn write, stale data from an earlier lap or from a previous store
 * on the device, or records that a crash cut off all end it.
 *
 * The same context reads and writes the store's other raw pages (the
 * superblocks) one page at a time.
 */
#ifndef KV_LOG_H
#define KV_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../libexmap/libexmap.h"
#include "kv-proto.h"

#define KVL_PAGE	4096u

enum kvl_type {
	KVL_PUT = 1,		/* key (klen bytes), then the value */
	KVL_DEL = 2,		/* key */
	KVL_CKPT = 3,		/* a checkpoint begins: struct kvl_ckpt */
	KVL_PAGE_IMAGE = 4,	/* u64 page id, then the page */
	KVL_FREE = 5,		/* part of the free-page list: u64 page ids */
	KVL_CKPT_END = 6,	/* the checkpoint is complete: u64 its LSN */
	KVL_SKIP = 7,		/* the rest of the lap is unused */
};

struct kvl_rec {
	uint32_t crc;		/* of the rest of the header and the payload,
				 * from the previous record's crc */
	uint8_t type;
	uint8_t resv;
	uint16_t klen;
	uint32_t len;		/* payload bytes */
	uint32_t epoch;		/* the store's run that wrote it */
	uint64_t lsn;		/* this record's position */
};

/* What a checkpoint's KVL_CKPT record says about the tree. */
struct kvl_ckpt {
	uint64_t root;
	uint64_t next_page;	/* first page never allocated */
	uint64_t keys;
	uint64_t height;
	uint64_t images;	/* KVL_PAGE_IMAGE records that follow */
	uint64_t free_pages;	/* page ids in the KVL_FREE records */
};

#define KVL_HDR		sizeof(struct kvl_rec)
#define KVL_PAYLOAD_MAX	(KV_KEY_MAX + KV_VALUE_MAX)
#define KVL_FREE_PER_REC 500u	/* page ids per KVL_FREE record */

static inline uint64_t kvl_size(uint64_t payload)
{
	return (KVL_HDR + payload + 7) & ~7ULL;
}

/* Where a record of @size bytes goes when the log ends at @head. */
uint64_t kvl_place(uint64_t head, uint64_t size, uint64_t region_bytes);
/* The chained CRC of a record (SKIP: of its header only). */
uint32_t kvl_crc(uint32_t prev, const struct kvl_rec *r, const void *payload);

struct kv_log_opts {
	int fd;			/* the store */
	enum exmap_backend backend;
	uint64_t dev_pages;	/* the device's size in pages */
	uint64_t region_first;	/* the ring's first page */
	uint64_t region_pages;
	unsigned int buffer_pages; /* log pages in memory at most */
};

struct kv_log_stats {
	atomic_ulong records, bytes, groups, pages_written;
};

struct kv_log {
	struct exmap *x;
	char *area;
	int fd;
	uint64_t region_first, region_pages, region_bytes;
	unsigned int buffer_pages;
	struct exmap_if *app_if;	/* appender, scanner, raw pages */
	struct exmap_if *com_if;	/* committer */

	/* The appender's, under the store's write lock. */
	uint64_t head;
	uint32_t chain;
	uint32_t rec_prev;		/* the CRC before the last record */
	uint32_t epoch;
	uint64_t tail;			/* oldest LSN still needed */
	uint64_t map_lpn;		/* log pages [free_lpn, map_lpn) mapped */

	pthread_mutex_t lock;
	pthread_cond_t more;		/* published moved, or stop */
	pthread_cond_t done;		/* durable moved, or pages freed */
	uint64_t published;		/* records complete up to here */
	_Atomic uint64_t durable;	/* on stable storage up to here */
	uint64_t free_lpn;
	int error;			/* sticky: the device failed */
	bool stop, running;
	pthread_t committer;
	void (*notify)(void *arg);
	void *notify_arg;
	struct kv_log_stats stats;
};

int kv_log_open(struct kv_log **out, const struct kv_log_opts *o);
/* Stops the committer once it has written every record; releases all. */
void kv_log_close(struct kv_log *log);

/* One raw page of the device (appender's interface). 0 or -errno. */
int kv_log_read_page(struct kv_log *log, uint64_t page, void *buf);
/* Writes it and fdatasync()s. */
int kv_log_write_page(struct kv_log *log, uint64_t page, const void *buf);

/* Recovery: walks the valid records from @lsn, whose predecessor's CRC
 * was @chain. */
struct kvl_scan {
	uint64_t lsn;			/* the next record's place */
	uint32_t chain;
	uint64_t win_lpn, win_n;	/* the log pages mapped */
	uint64_t last_lsn;		/* the record returned last */
	uint32_t last_prev;		/* ... and the CRC before it */
};

void kvl_scan_begin(struct kvl_scan *sc, uint64_t lsn, uint32_t chain);
/*
 * The next valid record: 1, with *payload valid until the next call; 0 at
 * the end of the valid log; -errno when the device fails.
 */
int kvl_scan_next(struct kv_log *log, struct kvl_scan *sc,
		  struct kvl_rec *rec, const void **payload);
void kvl_scan_end(struct kv_log *log, struct kvl_scan *sc);

/*
 * Appending starts at @head (after the last valid record, whose CRC was
 * @chain), with records of run @epoch; LSNs below @tail are not needed.
 * Starts the committer; @notify(arg) runs on it each time durable moves.
 */
int kv_log_start(struct kv_log *log, uint64_t head, uint32_t chain,
		 uint32_t epoch, uint64_t tail, void (*notify)(void *arg),
		 void *arg);
/*
 * Appends a record whose payload is @parts; one appender at a time.
 * Fills in its place (@start) and end (@end). Waits while the log's
 * buffer is full. -ENOSPC if it would overwrite LSNs at or after the tail
 * (the caller checkpoints before that), -EIO after a device failure.
 */
int kv_log_append(struct kv_log *log, uint8_t type, uint16_t klen,
		  const struct iovec *parts, int nparts, uint64_t *start,
		  uint64_t *end);
/* Waits until everything before @lsn is on stable storage. 0 or -EIO. */
int kv_log_wait(struct kv_log *log, uint64_t lsn);

static inline uint64_t kv_log_durable(struct kv_log *log)
{
	return atomic_load(&log->durable);
}

#endif
