/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exmap-kv store: the B+tree (kvtree.h) in a no-steal buffer pool, a
 * redo log (kvlog.h) and checkpoints, on one block device or file:
 *
 *   page 0, 1      superblocks (the newer valid one counts)
 *   log pages      the log's ring
 *   data pages     the buffer pool's area: the tree's pages
 *
 * A PUT or DELETE is applied to the tree and appended to the log under
 * the write lock; it is durable once the log is (kv_log_durable()). Dirty
 * pages never reach their place on the device between checkpoints, so the
 * device holds the tree as of the last checkpoint. A checkpoint appends
 * the image of every dirty page and the tree's metadata to the log, waits
 * for them, writes the pages in place, and only then points the
 * superblock at itself. Recovery applies the newest complete checkpoint
 * in the log and replays the PUTs and DELETEs after it. See docs/kv.md.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvlog.h"
#include "kvtree.h"

#define KV_SUPER_MAGIC	0x31766b70616d7865ULL	/* "exmapkv1" */
#define KV_VERSION	1

struct kv_super {
	uint64_t magic;
	uint32_t version;
	uint32_t crc;		/* CRC-32C of the struct with crc = 0 */
	uint64_t seq;		/* slot seq % 2; the larger valid one wins */
	uint64_t store_id;	/* random, from the format */
	uint64_t dev_pages;
	uint64_t log_first, log_pages;
	uint64_t data_first, data_pages;
	uint64_t ckpt_lsn;	/* the checkpoint recovery starts from */
	uint32_t ckpt_chain;	/* the log's CRC before that record */
	uint32_t epoch;		/* runs since the format */
	uint64_t resv[4];
};

struct kv_format_opts {
	const char *path;
	uint64_t size;		/* a file: its new size; 0: as it is */
	uint64_t log_pages;	/* 0: a sixteenth of the device */
	enum exmap_backend backend;
};

/* Lays out a new, empty store on @o->path (a file is created). */
int kv_format(const struct kv_format_opts *o);

struct kv_store_opts {
	const char *path;
	enum exmap_backend backend;
	uint64_t pool_pages;
	unsigned int threads;	/* bp_thread ids 0 .. threads-1 are the
				 * caller's */
	void (*notify)(void *arg);	/* the durable end moved */
	void *notify_arg;
};

struct kv_store_stats {
	atomic_ulong gets, puts, dels, scans, not_found, enospc;
	atomic_ulong checkpoints, ckpt_pages;
};

struct kv_store {
	int fd;
	enum exmap_backend backend;
	struct kv_super sb;
	struct kv_log *log;
	struct bufpool *bp;
	struct kv_tree tree;
	struct bp_thread own;		/* recovery and close */
	pthread_mutex_t wlock;		/* one writer at a time */
	uint64_t dirty_max;		/* checkpoint before more are dirty */
	uint64_t *ckpt_pids;		/* pool_pages entries */
	uint64_t recovered_records;
	uint64_t changes;		/* PUT, DELETE since the checkpoint */
	int error;			/* sticky -EIO: no more writes */
	void (*notify)(void *arg);
	void *notify_arg;
	struct kv_store_stats stats;
};

/* Opens the store on @o->path and recovers it. 0 or -errno. */
int kv_store_open(struct kv_store **out, const struct kv_store_opts *o);
/* Checkpoints (unless the device failed) and releases everything. */
int kv_store_close(struct kv_store *s);

int kv_store_thread(struct kv_store *s, struct bp_thread *t, unsigned int id);

/*
 * A PUT: 0 with *lsn the end of its log record (durable once the log is
 * there), -EMSGSIZE (key or value over the limits), -ENOSPC (the store
 * cannot take what it may need; nothing changed), -EIO (the device
 * failed: nothing more is written).
 */
int kv_put(struct kv_store *s, struct bp_thread *t, const void *key,
	   size_t klen, const void *val, size_t vlen, uint64_t *lsn);
/* A DELETE: 0 or -ENOENT (*lsn: what the answer depends on), -EMSGSIZE,
 * -EIO. */
int kv_del(struct kv_store *s, struct bp_thread *t, const void *key,
	   size_t klen, uint64_t *lsn);
/* Lookups and scans take no lock; their lsn says what they saw. */
void kv_get_many(struct kv_store *s, struct bp_thread *t, struct kvt_get *g,
		 unsigned int n);
void kv_scan(struct kv_store *s, struct bp_thread *t, struct kvt_scan *sc);

/* A checkpoint now (takes the write lock). */
int kv_checkpoint(struct kv_store *s, struct bp_thread *t);
/* The tree checker, under the write lock. */
int kv_store_check(struct kv_store *s, struct bp_thread *t,
		   struct kvt_check_result *r);
/* "name value" lines; returns the length. */
size_t kv_store_stats_text(struct kv_store *s, char *buf, size_t cap);

#endif
