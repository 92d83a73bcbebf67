// SPDX-License-Identifier: GPL-2.0
/*
 * The store: format, open and recovery, checkpoints, and the operations
 * that tie the tree to the log. See kvstore.h for the design.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "kvstore.h"

#define KV_LOG_BUFFER	512	/* log pages in memory at most */
#define KV_MIN_DATA	64	/* data pages a store needs at least */
#define KV_MIN_DIRTY	16	/* a checkpoint for fewer is a bad deal */

static const uint64_t image_rec = (KVL_HDR + 8 + KVL_PAGE + 7) & ~7ULL;

_Static_assert(sizeof(struct kv_super) <= KVL_PAGE, "superblock");

static void say(const char *fmt, const char *what, int err)
{
	fprintf(stderr, "exmap-kv: ");
	fprintf(stderr, fmt, what);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
}

static uint32_t super_crc(const struct kv_super *sb)
{
	struct kv_super c = *sb;

	c.crc = 0;
	return crc32c(0, &c, sizeof(c));
}

static bool super_valid(const struct kv_super *sb)
{
	return sb->magic == KV_SUPER_MAGIC && sb->version == KV_VERSION &&
	       sb->crc == super_crc(sb);
}

static int write_super(struct kv_log *log, struct kv_super *sb)
{
	static __thread char page[KVL_PAGE] __attribute__((aligned(4096)));

	memset(page, 0, sizeof(page));
	sb->crc = super_crc(sb);
	memcpy(page, sb, sizeof(*sb));
	return kv_log_write_page(log, sb->seq % 2, page);
}

/* The newer of the two valid superblocks (pread: nothing is set up yet). */
static int read_super(int fd, struct kv_super *out)
{
	char *page;
	bool found = false;
	int ret = 0;

	if (posix_memalign((void **)&page, 4096, 2 * KVL_PAGE))
		return -ENOMEM;
	switch (pread(fd, page, 2 * KVL_PAGE, 0)) {
	case 2 * KVL_PAGE:
		break;
	case -1:
		ret = -errno;
		goto out;
	default:
		ret = -EUCLEAN;		/* too small to be a store */
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		struct kv_super sb;

		memcpy(&sb, page + k * KVL_PAGE, sizeof(sb));
		if (super_valid(&sb) && sb.seq % 2 == (uint64_t)k &&
		    (!found || sb.seq > out->seq)) {
			*out = sb;
			found = true;
		}
	}
	if (!found)
		ret = -EUCLEAN;
out:
	free(page);
	return ret;
}

static int open_dev(const char *path, bool create, enum exmap_backend b)
{
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
	int fd = open(path, flags | O_DIRECT, 0600);

	/* tmpfs has no O_DIRECT; the fallback can do without it. */
	if (fd < 0 && errno == EINVAL && b == EXMAP_BACKEND_FALLBACK)
		fd = open(path, flags, 0600);
	return fd < 0 ? -errno : fd;
}

static int dev_pages(int fd, uint64_t *pages)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes))
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		bytes = st.st_size;
	} else {
		return -EINVAL;
	}
	*pages = bytes / KVL_PAGE;
	return 0;
}

/* Log bytes a checkpoint of @dirty pages and @nfree free pages takes. */
static uint64_t ckpt_bytes(uint64_t dirty, uint64_t nfree)
{
	uint64_t free_recs = (nfree + KVL_FREE_PER_REC - 1) / KVL_FREE_PER_REC;

	return kvl_size(sizeof(struct kvl_ckpt)) + dirty * image_rec +
	       free_recs * kvl_size(KVL_FREE_PER_REC * 8) + kvl_size(8) +
	       2 * kvl_size(KVL_PAYLOAD_MAX);	/* a skip at a lap's end */
}

static void on_durable(void *arg)
{
	struct kv_store *s = arg;

	if (s->notify)
		s->notify(s->notify_arg);
}

/* The log context and the buffer pool for @s->sb. */
static int setup(struct kv_store *s, const char *path, uint64_t pool_pages,
		 unsigned int threads, bool fresh)
{
	const struct kv_super *sb = &s->sb;
	struct kv_log_opts lo = {
		.fd = s->fd, .backend = s->backend, .dev_pages = sb->dev_pages,
		.region_first = sb->log_first, .region_pages = sb->log_pages,
		.buffer_pages = KV_LOG_BUFFER,
	};
	struct bp_opts bo = {
		.device = path, .backing_offset = sb->data_first * KVL_PAGE,
		.area_pages = sb->data_pages, .pool_pages = pool_pages,
		.threads = threads + 1, .backend = s->backend,
		.reuse = !fresh, .no_steal = true,
	};
	uint64_t region = sb->log_pages * KVL_PAGE, avail;
	int ret;

	if (lo.buffer_pages > sb->log_pages / 4)
		lo.buffer_pages = sb->log_pages / 4;
	avail = region / 3;
	if (avail < ckpt_bytes(KV_MIN_DIRTY, sb->data_pages)) {
		say("%s: the log is too small for the data", path, 0);
		return -EINVAL;
	}
	avail -= ckpt_bytes(0, sb->data_pages);
	s->dirty_max = avail / image_rec;
	if (s->dirty_max > pool_pages / 2)
		s->dirty_max = pool_pages / 2;
	if (s->dirty_max < KV_MIN_DIRTY) {
		say("%s: the pool is too small (at least 32 pages)", path, 0);
		return -EINVAL;
	}
	s->ckpt_pids = malloc(pool_pages * sizeof(*s->ckpt_pids));
	if (!s->ckpt_pids)
		return -ENOMEM;
	ret = kv_log_open(&s->log, &lo);
	if (ret)
		return ret;
	ret = bp_install_fault_handler();
	if (!ret)
		ret = bp_open(&s->bp, &bo);
	if (ret)
		return ret;
	bp_thread_init(s->bp, &s->own, threads);
	return 0;
}

static void teardown(struct kv_store *s)
{
	if (s->log)
		kv_log_close(s->log);
	if (s->bp)
		bp_close(s->bp);
	kvt_destroy(&s->tree);
	free(s->ckpt_pids);
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->wlock);
	free(s);
}

static struct kv_store *store_alloc(void)
{
	struct kv_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	pthread_mutex_init(&s->wlock, NULL);
	return s;
}

static int append(struct kv_store *s, uint8_t type, uint16_t klen,
		  const struct iovec *iov, int n, uint64_t *start,
		  uint64_t *end)
{
	int ret = kv_log_append(s->log, type, klen, iov, n, start, end);

	if (ret == -ENOSPC)
		say("%s", "the log overran its tail (a bug)", 0);
	if (ret)
		s->error = -EIO;
	return ret ? -EIO : 0;
}

/* Under the write lock: see kvstore.h. */
static int checkpoint_locked(struct kv_store *s, struct bp_thread *t)
{
	struct kv_tree *tr = &s->tree;
	struct kvl_ckpt m = {
		.root = tr->root, .next_page = bp_next_page(s->bp),
		.keys = tr->keys, .height = tr->height,
		.free_pages = tr->nfree,
	};
	uint64_t start, end, unused;
	struct iovec iov[2];
	uint32_t prev;
	size_t n;
	int ret;

	if (s->error)
		return s->error;
	n = bp_dirty_list(s->bp, s->ckpt_pids, s->bp->pool_pages);
	m.images = n;
	iov[0] = (struct iovec){ &m, sizeof(m) };
	ret = append(s, KVL_CKPT, 0, iov, 1, &start, &end);
	if (ret)
		return ret;
	prev = s->log->rec_prev;
	for (size_t k = 0; k < n && !ret; k++) {
		iov[0] = (struct iovec){ &s->ckpt_pids[k], 8 };
		iov[1] = (struct iovec){ bp_addr(s->bp, s->ckpt_pids[k]),
					 KVL_PAGE };
		ret = append(s, KVL_PAGE_IMAGE, 0, iov, 2, &unused, &end);
	}
	for (size_t k = 0; k < tr->nfree && !ret; k += KVL_FREE_PER_REC) {
		size_t c = tr->nfree - k < KVL_FREE_PER_REC ?
			   tr->nfree - k : KVL_FREE_PER_REC;

		iov[0] = (struct iovec){ tr->free + k, c * 8 };
		ret = append(s, KVL_FREE, 0, iov, 1, &unused, &end);
	}
	iov[0] = (struct iovec){ &start, 8 };
	if (!ret)
		ret = append(s, KVL_CKPT_END, 0, iov, 1, &unused, &end);
	if (!ret)
		ret = kv_log_wait(s->log, end);
	if (!ret)
		ret = bp_write_back(t, s->ckpt_pids, n);
	if (!ret) {
		s->sb.seq++;
		s->sb.ckpt_lsn = start;
		s->sb.ckpt_chain = prev;
		ret = write_super(s->log, &s->sb);
	}
	if (ret) {
		s->error = -EIO;
		return -EIO;
	}
	s->log->tail = start;
	s->changes = 0;
	atomic_fetch_add(&s->stats.checkpoints, 1);
	atomic_fetch_add(&s->stats.ckpt_pages, n);
	return 0;
}

/* Checkpoints first if a change of @pages pages and @bytes of log would
 * pass the dirty limit or leave the next checkpoint no room. */
static int make_room(struct kv_store *s, struct bp_thread *t, uint64_t pages,
		     uint64_t bytes)
{
	uint64_t dirty = atomic_load(&s->bp->dirty_pages) + pages;
	uint64_t live = s->log->head - s->log->tail + kvl_size(bytes);

	if (dirty > s->dirty_max ||
	    live + ckpt_bytes(dirty, s->tree.nfree + pages) >
	    s->log->region_bytes)
		return checkpoint_locked(s, t);
	return 0;
}

int kv_format(const struct kv_format_opts *o)
{
	struct kv_store *s = store_alloc();
	uint64_t pages, seed;
	struct stat st;
	int ret;

	if (!s)
		return -ENOMEM;
	s->backend = o->backend;
	ret = s->fd = open_dev(o->path, true, o->backend);
	if (ret < 0)
		goto out;
	if (fstat(s->fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (o->size && S_ISREG(st.st_mode)) {
		/*
		 * Allocated now: overwrites then cannot fail for space.
		 * Through a buffered descriptor: where the file system has
		 * no fallocate, glibc writes single bytes, which O_DIRECT
		 * refuses.
		 */
		int fd = open(o->path, O_RDWR | O_CLOEXEC);

		ret = fd < 0 || ftruncate(fd, o->size) ? -errno : 0;
		if (!ret)
			ret = -posix_fallocate(fd, 0, o->size);
		if (!ret && fsync(fd))
			ret = -errno;
		if (fd >= 0)
			close(fd);
		if (ret)
			goto out;
	}
	ret = dev_pages(s->fd, &pages);
	if (ret)
		goto out;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	s->sb = (struct kv_super){
		.magic = KV_SUPER_MAGIC, .version = KV_VERSION,
		.store_id = seed, .dev_pages = pages, .log_first = 2,
		.log_pages = o->log_pages ? o->log_pages : pages / 16,
		.ckpt_chain = (uint32_t)(seed >> 17), .epoch = 1,
	};
	if (!o->log_pages && s->sb.log_pages < 256)
		s->sb.log_pages = 256;
	if (!o->log_pages && s->sb.log_pages > 65536)
		s->sb.log_pages = 65536;
	s->sb.data_first = 2 + s->sb.log_pages;
	if (pages < s->sb.data_first + KV_MIN_DATA) {
		say("%s: too small for a store", o->path, 0);
		ret = -EINVAL;
		goto out;
	}
	s->sb.data_pages = pages - s->sb.data_first;
	ret = setup(s, o->path, 64, 0, true);
	if (ret)
		goto out;
	{
		static char zero[KVL_PAGE] __attribute__((aligned(4096)));

		/* An older store's superblocks must not survive. */
		ret = kv_log_write_page(s->log, 0, zero);
		if (!ret)
			ret = kv_log_write_page(s->log, 1, zero);
	}
	if (!ret)
		ret = kvt_create(&s->tree, s->bp, &s->own);
	if (!ret)
		ret = kv_log_start(s->log, 0, s->sb.ckpt_chain, s->sb.epoch, 0,
				   NULL, NULL);
	if (!ret)
		ret = checkpoint_locked(s, &s->own);
out:
	teardown(s);
	return ret < 0 ? ret : 0;
}

/* ---- recovery ---- */

struct batch {
	uint64_t lsn, images, frees;
	uint32_t prev;
	bool open, complete;
};

struct survey {
	struct batch last;		/* the newest complete checkpoint */
	uint64_t end;			/* after the last record to keep */
	uint32_t end_chain;
	uint64_t records;		/* PUT and DELETE after `last` */
	bool dropped;			/* an unfinished checkpoint at the end */
};

static int damaged(const char *what, uint64_t lsn)
{
	fprintf(stderr, "exmap-kv: the log is damaged at %llu: %s\n",
		(unsigned long long)lsn, what);
	return -EUCLEAN;
}

/* Pass 1: where the valid log ends and its newest whole checkpoint. */
static int survey_log(struct kv_store *s, struct survey *v)
{
	struct kvl_scan sc;
	struct batch b = { 0 };
	struct kvl_rec r;
	const void *p;
	int ret;

	memset(v, 0, sizeof(*v));
	kvl_scan_begin(&sc, s->sb.ckpt_lsn, s->sb.ckpt_chain);
	while ((ret = kvl_scan_next(s->log, &sc, &r, &p)) == 1) {
		if (!v->last.complete && !b.open && r.type != KVL_CKPT) {
			ret = damaged("no checkpoint where the superblock says",
				      r.lsn);
			break;
		}
		switch (r.type) {
		case KVL_CKPT: {
			struct kvl_ckpt m;

			if (b.open || r.len != sizeof(m))
				return damaged("bad checkpoint", r.lsn);
			memcpy(&m, p, sizeof(m));
			b = (struct batch){ .lsn = r.lsn, .prev = sc.last_prev,
					    .images = m.images,
					    .frees = m.free_pages,
					    .open = true };
			break;
		}
		case KVL_PAGE_IMAGE:
			if (!b.open || !b.images || r.len != 8 + KVL_PAGE)
				return damaged("stray page image", r.lsn);
			b.images--;
			break;
		case KVL_FREE:
			if (!b.open || r.len % 8 || r.len / 8 > b.frees)
				return damaged("stray free list", r.lsn);
			b.frees -= r.len / 8;
			break;
		case KVL_CKPT_END: {
			uint64_t at;

			memcpy(&at, p, 8);
			if (!b.open || b.images || b.frees || r.len != 8 ||
			    at != b.lsn)
				return damaged("checkpoint end without its start",
					       r.lsn);
			b.open = false;
			b.complete = true;
			v->last = b;
			v->records = 0;
			break;
		}
		case KVL_PUT:
		case KVL_DEL:
			if (b.open)
				return damaged("change inside a checkpoint",
					       r.lsn);
			v->records++;
			break;
		default:
			return damaged("unknown record", r.lsn);
		}
		if (!b.open) {
			v->end = sc.lsn;
			v->end_chain = sc.chain;
		}
	}
	kvl_scan_end(s->log, &sc);
	if (ret < 0)
		return ret;
	if (!v->last.complete)
		return damaged("the superblock's checkpoint is incomplete",
			       s->sb.ckpt_lsn);
	v->dropped = b.open;
	return 0;
}

/* Pass 2: applies the checkpoint, then replays the changes after it. */
static int replay(struct kv_store *s, const struct survey *v)
{
	struct kv_tree *tr = &s->tree;
	struct bp_thread *t = &s->own;
	struct kvl_scan sc;
	struct kvl_rec r;
	const void *p;
	int ret = 0;

	kvl_scan_begin(&sc, v->last.lsn, v->last.prev);
	while (sc.lsn != v->end && !ret) {
		const uint8_t *b;
		uint64_t lsn, pid, unused;

		ret = kvl_scan_next(s->log, &sc, &r, &p);
		if (ret != 1) {
			ret = ret ? ret : damaged("changed under recovery",
						  sc.lsn);
			break;
		}
		ret = 0;
		b = p;
		lsn = r.lsn + kvl_size(r.len);
		switch (r.type) {
		case KVL_CKPT: {
			struct kvl_ckpt m;

			memcpy(&m, p, sizeof(m));
			if (!m.root || m.root >= m.next_page ||
			    m.next_page > s->sb.data_pages || !m.height ||
			    m.height > KVT_MAX_HEIGHT)
				return damaged("bad tree metadata", r.lsn);
			kvt_destroy(tr);
			kvt_init(tr, s->bp, m.root, m.height, m.keys);
			bp_set_next_page(s->bp, m.next_page);
			break;
		}
		case KVL_PAGE_IMAGE:
			memcpy(&pid, p, 8);
			if (!pid || pid >= bp_next_page(s->bp))
				return damaged("page image out of range", r.lsn);
			memcpy(bp_fix_new(t, pid), b + 8, KVL_PAGE);
			bp_unfix_x(t, pid, true);
			break;
		case KVL_FREE:
			ret = kvt_free_add(tr, p, r.len / 8);
			break;
		case KVL_CKPT_END: {
			size_t n = bp_dirty_list(s->bp, s->ckpt_pids,
						 s->bp->pool_pages);

			/* Its pages in place, then the superblock on it. */
			ret = bp_write_back(t, s->ckpt_pids, n);
			s->sb.seq++;
			s->sb.ckpt_lsn = v->last.lsn;
			s->sb.ckpt_chain = v->last.prev;
			s->sb.epoch++;
			if (!ret)
				ret = write_super(s->log, &s->sb);
			break;
		}
		case KVL_PUT:
			if (atomic_load(&s->bp->dirty_pages) +
			    kvt_put_pages(tr, r.len - r.klen) + 8 >
			    s->bp->pool_pages) {
				say("%s", "the pool is too small to replay the log",
				    0);
				return -ENOMEM;
			}
			if (kvt_pages_left(tr) < kvt_put_pages(tr, r.len - r.klen))
				return damaged("replay ran out of pages", r.lsn);
			kvt_put(tr, t, b, r.klen, b + r.klen, r.len - r.klen,
				lsn);
			s->recovered_records++;
			break;
		case KVL_DEL:
			kvt_del(tr, t, b, r.klen, lsn, &unused);
			s->recovered_records++;
			break;
		}
	}
	kvl_scan_end(s->log, &sc);
	return ret;
}

int kv_store_open(struct kv_store **out, const struct kv_store_opts *o)
{
	struct kv_store *s = store_alloc();
	struct survey v;
	uint64_t pages;
	int ret;

	if (!s)
		return -ENOMEM;
	s->backend = o->backend;
	s->notify = o->notify;
	s->notify_arg = o->notify_arg;
	ret = s->fd = open_dev(o->path, false, o->backend);
	if (ret >= 0)
		ret = dev_pages(s->fd, &pages);
	if (!ret) {
		ret = read_super(s->fd, &s->sb);
		if (ret == -EUCLEAN)
			say("%s: no exmap-kv store (no valid superblock)",
			    o->path, 0);
	}
	if (!ret && (s->sb.dev_pages > pages ||
		     s->sb.data_first + s->sb.data_pages > s->sb.dev_pages ||
		     s->sb.log_first + s->sb.log_pages > s->sb.data_first)) {
		say("%s: the superblock does not fit the device", o->path, 0);
		ret = -EUCLEAN;
	}
	if (!ret)
		ret = setup(s, o->path, o->pool_pages, o->threads, false);
	if (!ret)
		ret = survey_log(s, &v);
	if (!ret)
		ret = replay(s, &v);
	if (!ret)
		ret = kv_log_start(s->log, v.end, v.end_chain, s->sb.epoch,
				   s->sb.ckpt_lsn, on_durable, s);
	/* The replayed state becomes the base of the next recovery. */
	if (!ret && (v.records || v.dropped))
		ret = checkpoint_locked(s, &s->own);
	if (ret) {
		teardown(s);
		return ret;
	}
	*out = s;
	return 0;
}

int kv_store_close(struct kv_store *s)
{
	int ret;

	pthread_mutex_lock(&s->wlock);
	ret = s->error;
	if (!ret && (atomic_load(&s->bp->dirty_pages) || s->changes))
		ret = checkpoint_locked(s, &s->own);
	pthread_mutex_unlock(&s->wlock);
	teardown(s);
	return ret;
}

int kv_store_thread(struct kv_store *s, struct bp_thread *t, unsigned int id)
{
	return bp_thread_init(s->bp, t, id);
}

int kv_put(struct kv_store *s, struct bp_thread *t, const void *key,
	   size_t klen, const void *val, size_t vlen, uint64_t *lsn)
{
	struct iovec iov[2] = { { (void *)key, klen }, { (void *)val, vlen } };
	uint64_t pages, start;
	int ret;

	if (!klen || klen > KV_KEY_MAX || vlen > KV_VALUE_MAX)
		return -EMSGSIZE;
	pthread_mutex_lock(&s->wlock);
	pages = kvt_put_pages(&s->tree, vlen);
	ret = s->error;
	if (!ret && kvt_pages_left(&s->tree) < pages) {
		atomic_fetch_add(&s->stats.enospc, 1);
		ret = -ENOSPC;
	}
	if (!ret)
		ret = make_room(s, t, pages, klen + vlen);
	if (!ret)
		ret = append(s, KVL_PUT, klen, iov, 2, &start, lsn);
	if (!ret) {
		kvt_put(&s->tree, t, key, klen, val, vlen, *lsn);
		s->changes++;
		atomic_fetch_add(&s->stats.puts, 1);
	}
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

int kv_del(struct kv_store *s, struct bp_thread *t, const void *key,
	   size_t klen, uint64_t *lsn)
{
	struct iovec iov = { (void *)key, klen };
	uint64_t start, unused;
	int ret;

	if (!klen || klen > KV_KEY_MAX)
		return -EMSGSIZE;
	pthread_mutex_lock(&s->wlock);
	ret = s->error;
	if (!ret && !kvt_contains(&s->tree, t, key, klen, lsn)) {
		atomic_fetch_add(&s->stats.not_found, 1);
		ret = -ENOENT;
	}
	if (!ret)
		ret = make_room(s, t, 1, klen);
	if (!ret)
		ret = append(s, KVL_DEL, klen, &iov, 1, &start, lsn);
	if (!ret) {
		kvt_del(&s->tree, t, key, klen, *lsn, &unused);
		s->changes++;
		atomic_fetch_add(&s->stats.dels, 1);
	}
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

void kv_get_many(struct kv_store *s, struct bp_thread *t, struct kvt_get *g,
		 unsigned int n)
{
	if (n == 1)
		kvt_get(&s->tree, t, g);
	else
		kvt_get_many(&s->tree, t, g, n);
	atomic_fetch_add(&s->stats.gets, n);
}

void kv_scan(struct kv_store *s, struct bp_thread *t, struct kvt_scan *sc)
{
	kvt_scan(&s->tree, t, sc);
	atomic_fetch_add(&s->stats.scans, 1);
}

int kv_checkpoint(struct kv_store *s, struct bp_thread *t)
{
	int ret;

	pthread_mutex_lock(&s->wlock);
	ret = checkpoint_locked(s, t);
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

int kv_store_check(struct kv_store *s, struct bp_thread *t,
		   struct kvt_check_result *r)
{
	int ret;

	pthread_mutex_lock(&s->wlock);
	ret = kvt_check(&s->tree, t, r);
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

size_t kv_store_stats_text(struct kv_store *s, char *buf, size_t cap)
{
	struct bufpool *bp = s->bp;
	struct kv_log *log = s->log;
	size_t n;

	pthread_mutex_lock(&s->wlock);
#define U(x) ((unsigned long long)(x))
	n = snprintf(buf, cap,
		"backend %s\nkeys %llu\nheight %llu\ndata_pages %llu\n"
		"pages_free %llu\npool_pages %llu\nresident %llu\n"
		"dirty_pages %llu\ndirty_max %llu\nmisses %llu\n"
		"evictions %llu\nread_bytes %llu\nwritten_bytes %llu\n"
		"restarts %llu\nlog_pages %llu\nlog_head %llu\n"
		"log_durable %llu\nlog_tail %llu\nlog_records %llu\n"
		"log_groups %llu\nlog_pages_written %llu\ncheckpoints %llu\n"
		"checkpoint_pages %llu\ngets %llu\nputs %llu\ndeletes %llu\n"
		"scans %llu\nnot_found %llu\nenospc %llu\n"
		"recovered_records %llu\nepoch %llu\n",
		exmap_backend_name(exmap_backend_of(bp->x)),
		U(s->tree.keys), U(s->tree.height), U(s->sb.data_pages),
		U(kvt_pages_left(&s->tree)), U(bp->pool_pages),
		U(atomic_load(&bp->resident)), U(atomic_load(&bp->dirty_pages)),
		U(s->dirty_max), U(atomic_load(&bp->stats.misses)),
		U(atomic_load(&bp->stats.evictions)),
		U(atomic_load(&bp->stats.read_bytes)),
		U(atomic_load(&bp->stats.written_bytes)),
		U(atomic_load(&bp->stats.restarts)), U(s->sb.log_pages),
		U(log->head), U(kv_log_durable(log)), U(log->tail),
		U(atomic_load(&log->stats.records)),
		U(atomic_load(&log->stats.groups)),
		U(atomic_load(&log->stats.pages_written)),
		U(atomic_load(&s->stats.checkpoints)),
		U(atomic_load(&s->stats.ckpt_pages)),
		U(atomic_load(&s->stats.gets)), U(atomic_load(&s->stats.puts)),
		U(atomic_load(&s->stats.dels)), U(atomic_load(&s->stats.scans)),
		U(atomic_load(&s->stats.not_found)),
		U(atomic_load(&s->stats.enospc)), U(s->recovered_records),
		U(s->sb.epoch));
#undef U
	pthread_mutex_unlock(&s->wlock);
	return n < cap ? n : cap - 1;
}
