// SPDX-License-Identifier: GPL-2.0
/*
 * The redo log. The appender (one thread at a time, under the store's
 * write lock) ALLOCs the ring's pages as the log grows, copies records
 * into them and publishes the new end; the committer WRITEs every page
 * from the durable end to the published end with one call, fdatasync()s
 * the device, moves the durable end and FREEs the pages it has left
 * behind. While it writes, the next group gathers.
 *
 * The page holding the durable end is written again with the next group;
 * its bytes before that end are the same in both writes, so a write torn
 * at sector boundaries cannot damage records already acknowledged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "kvlog.h"

#define KVL_WINDOW	64	/* pages the scanner maps at once */

_Static_assert(sizeof(struct kvl_rec) == 24, "record header");
_Static_assert(KVL_HDR + KVL_PAYLOAD_MAX + 8 <= (KVL_WINDOW - 1) * KVL_PAGE,
	       "a record fits the scanner's window");

uint64_t kvl_place(uint64_t head, uint64_t size, uint64_t region_bytes)
{
	uint64_t left = region_bytes - head % region_bytes;

	return size <= left ? head : head + left;
}

uint32_t kvl_crc(uint32_t prev, const struct kvl_rec *r, const void *payload)
{
	uint32_t crc = crc32c(prev, (const char *)r + sizeof(r->crc),
			      KVL_HDR - sizeof(r->crc));

	if (r->type != KVL_SKIP && r->len)
		crc = crc32c(crc, payload, r->len);
	return crc;
}

static uint64_t area_page(struct kv_log *log, uint64_t lpn)
{
	return log->region_first + lpn % log->region_pages;
}

static char *lsn_addr(struct kv_log *log, uint64_t lsn)
{
	return log->area + area_page(log, lsn / KVL_PAGE) * KVL_PAGE +
	       lsn % KVL_PAGE;
}

/* Adds log pages [lpn, lpn + n) to @i's vector, split at the ring's end. */
static int add_pages(struct kv_log *log, struct exmap_if *i, uint64_t lpn,
		     uint64_t n)
{
	while (n) {
		uint64_t first = area_page(log, lpn), run = n;

		if (run > log->region_first + log->region_pages - first)
			run = log->region_first + log->region_pages - first;
		if (run > EXMAP_ENTRY_MAX_PAGES)
			run = EXMAP_ENTRY_MAX_PAGES;
		if (exmap_vec_add(i, (uint32_t)first, (uint16_t)run))
			return -E2BIG;
		lpn += run;
		n -= run;
	}
	return 0;
}

/* Runs @op on log pages [lpn, lpn + n). 0 or -errno. */
static int pages_op(struct kv_log *log, struct exmap_if *i,
		    int (*op)(struct exmap_if *), uint64_t lpn, uint64_t n)
{
	int ret;

	exmap_vec_reset(i);
	ret = add_pages(log, i, lpn, n);
	if (!ret && n)
		ret = op(i);
	if (ret > 0) {
		for (unsigned int k = 0; k < exmap_vec_len(i); k++)
			if (exmap_vec_entry(i, k)->res < 0)
				return exmap_vec_entry(i, k)->res;
		return -EIO;
	}
	return ret;
}

/* One raw device page through @i. */
static int raw_op(struct kv_log *log, int (*op)(struct exmap_if *),
		  uint64_t page)
{
	struct exmap_if *i = log->app_if;
	int ret;

	exmap_vec_reset(i);
	exmap_vec_add(i, (uint32_t)page, 1);
	ret = op(i);
	if (ret > 0)
		ret = exmap_vec_entry(i, 0)->res < 0 ?
		      exmap_vec_entry(i, 0)->res : -EIO;
	return ret;
}

int kv_log_read_page(struct kv_log *log, uint64_t page, void *buf)
{
	int ret = raw_op(log, exmap_read, page);

	if (!ret)
		memcpy(buf, log->area + page * KVL_PAGE, KVL_PAGE);
	raw_op(log, exmap_free, page);
	return ret;
}

int kv_log_write_page(struct kv_log *log, uint64_t page, const void *buf)
{
	int ret = raw_op(log, exmap_alloc, page);

	if (!ret) {
		memcpy(log->area + page * KVL_PAGE, buf, KVL_PAGE);
		ret = raw_op(log, exmap_write, page);
	}
	if (!ret && fdatasync(log->fd))
		ret = -errno;
	raw_op(log, exmap_free, page);
	return ret;
}

int kv_log_open(struct kv_log **out, const struct kv_log_opts *o)
{
	struct exmap_opts xo = {
		.area_pages = o->dev_pages,
		/* The scanner's window, or the buffer and a record's pages. */
		.pool_pages = o->buffer_pages + KVL_WINDOW + 2,
		.nr_interfaces = 2,
		.backing_fd = o->fd,
		.backend = o->backend,
	};
	struct kv_log *log;
	int ret;

	if (o->region_pages < 4 * KVL_WINDOW || o->buffer_pages < KVL_WINDOW ||
	    o->region_first + o->region_pages > o->dev_pages)
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	ret = exmap_create(&log->x, &xo);
	if (ret) {
		free(log);
		return ret;
	}
	log->area = exmap_area(log->x);
	log->fd = o->fd;
	log->region_first = o->region_first;
	log->region_pages = o->region_pages;
	log->region_bytes = o->region_pages * KVL_PAGE;
	log->buffer_pages = o->buffer_pages;
	log->app_if = exmap_interface(log->x, 0);
	log->com_if = exmap_interface(log->x, 1);
	pthread_mutex_init(&log->lock, NULL);
	pthread_cond_init(&log->more, NULL);
	pthread_cond_init(&log->done, NULL);
	*out = log;
	return 0;
}

void kvl_scan_begin(struct kvl_scan *sc, uint64_t lsn, uint32_t chain)
{
	*sc = (struct kvl_scan){ .lsn = lsn, .chain = chain };
}

void kvl_scan_end(struct kv_log *log, struct kvl_scan *sc)
{
	if (sc->win_n)
		pages_op(log, log->app_if, exmap_free, sc->win_lpn, sc->win_n);
	sc->win_n = 0;
}

/* Maps log bytes [lsn, lsn + len), which lie in one lap, for reading. */
static int scan_window(struct kv_log *log, struct kvl_scan *sc, uint64_t lsn,
		       uint64_t len)
{
	uint64_t first = lsn / KVL_PAGE, last = (lsn + len - 1) / KVL_PAGE;
	uint64_t lap_end = (first / log->region_pages + 1) * log->region_pages;
	int ret;

	if (sc->win_n && first >= sc->win_lpn &&
	    last < sc->win_lpn + sc->win_n)
		return 0;
	kvl_scan_end(log, sc);
	sc->win_lpn = first;
	sc->win_n = lap_end - first < KVL_WINDOW ? lap_end - first : KVL_WINDOW;
	ret = pages_op(log, log->app_if, exmap_read, sc->win_lpn, sc->win_n);
	if (ret)
		kvl_scan_end(log, sc);
	return ret;
}

int kvl_scan_next(struct kv_log *log, struct kvl_scan *sc,
		  struct kvl_rec *rec, const void **payload)
{
	for (;;) {
		uint64_t lsn = kvl_place(sc->lsn, KVL_HDR, log->region_bytes);
		uint64_t left = log->region_bytes - lsn % log->region_bytes;
		const char *p;
		int ret;

		ret = scan_window(log, sc, lsn, KVL_HDR);
		if (ret)
			return ret;
		memcpy(rec, lsn_addr(log, lsn), KVL_HDR);
		if (rec->lsn != lsn || !rec->type || rec->type > KVL_SKIP)
			return 0;
		if (rec->type == KVL_SKIP) {
			if (KVL_HDR + (uint64_t)rec->len != left ||
			    kvl_crc(sc->chain, rec, NULL) != rec->crc)
				return 0;
			sc->chain = rec->crc;
			sc->lsn = lsn + left;
			continue;
		}
		if (rec->len > KVL_PAYLOAD_MAX || kvl_size(rec->len) > left ||
		    rec->klen > rec->len)
			return 0;
		ret = scan_window(log, sc, lsn, kvl_size(rec->len));
		if (ret)
			return ret;
		p = lsn_addr(log, lsn);
		if (kvl_crc(sc->chain, rec, p + KVL_HDR) != rec->crc)
			return 0;
		sc->last_lsn = lsn;
		sc->last_prev = sc->chain;
		sc->chain = rec->crc;
		sc->lsn = lsn + kvl_size(rec->len);
		*payload = p + KVL_HDR;
		return 1;
	}
}

/* The committer: writes each group, makes it durable, tells the store. */
static void *committer_main(void *arg)
{
	struct kv_log *log = arg;

	pthread_mutex_lock(&log->lock);
	for (;;) {
		uint64_t from, to, first, n, done_lpn;
		int ret;

		while (!log->stop && !log->error &&
		       log->published == atomic_load(&log->durable))
			pthread_cond_wait(&log->more, &log->lock);
		from = atomic_load(&log->durable);
		to = log->published;
		if (log->error || (log->stop && from == to))
			break;
		pthread_mutex_unlock(&log->lock);

		first = from / KVL_PAGE;
		n = (to + KVL_PAGE - 1) / KVL_PAGE - first;
		ret = pages_op(log, log->com_if, exmap_write, first, n);
		if (!ret && fdatasync(log->fd))
			ret = -errno;
		atomic_fetch_add(&log->stats.groups, 1);
		atomic_fetch_add(&log->stats.pages_written, n);

		/* Pages wholly before the end are not touched again. */
		done_lpn = to / KVL_PAGE;
		if (!ret && done_lpn > log->free_lpn)
			ret = pages_op(log, log->com_if, exmap_free,
				       log->free_lpn, done_lpn - log->free_lpn);
		pthread_mutex_lock(&log->lock);
		if (ret) {
			log->error = -EIO;
		} else {
			if (done_lpn > log->free_lpn)
				log->free_lpn = done_lpn;
			/*
			 * Sequentially consistent, as the workers' count of
			 * waiting responses is: a worker that adds one and
			 * then finds the log short is woken (kvserver.c).
			 */
			atomic_store(&log->durable, to);
		}
		pthread_cond_broadcast(&log->done);
		pthread_mutex_unlock(&log->lock);
		if (log->notify)
			log->notify(log->notify_arg);
		pthread_mutex_lock(&log->lock);
	}
	pthread_cond_broadcast(&log->done);
	pthread_mutex_unlock(&log->lock);
	if (log->notify)
		log->notify(log->notify_arg);
	return NULL;
}

int kv_log_start(struct kv_log *log, uint64_t head, uint32_t chain,
		 uint32_t epoch, uint64_t tail, void (*notify)(void *arg),
		 void *arg)
{
	log->head = head;
	log->chain = chain;
	log->epoch = epoch;
	log->tail = tail;
	log->published = head;
	atomic_store(&log->durable, head);
	log->free_lpn = head / KVL_PAGE;
	log->map_lpn = log->free_lpn;
	log->notify = notify;
	log->notify_arg = arg;
	log->stop = false;
	/* The partial page at the head holds valid records: read it in. */
	if (head % KVL_PAGE) {
		int ret = pages_op(log, log->app_if, exmap_read, log->free_lpn,
				   1);

		if (ret)
			return ret;
		log->map_lpn++;
	}
	if (pthread_create(&log->committer, NULL, committer_main, log))
		return -EAGAIN;
	log->running = true;
	return 0;
}

/* Maps log pages up to and including @last_lpn, within the buffer. */
static int map_to(struct kv_log *log, uint64_t last_lpn)
{
	uint64_t n = last_lpn + 1 - log->map_lpn;
	int ret;

	if (last_lpn < log->map_lpn)
		return 0;
	pthread_mutex_lock(&log->lock);
	while (!log->error && last_lpn + 1 - log->free_lpn > log->buffer_pages)
		pthread_cond_wait(&log->done, &log->lock);
	ret = log->error;
	pthread_mutex_unlock(&log->lock);
	if (ret)
		return ret;
	ret = pages_op(log, log->app_if, exmap_alloc, log->map_lpn, n);
	if (ret)
		return ret;
	log->map_lpn = last_lpn + 1;
	return 0;
}

/* Writes a record at the head (already placed) and moves the head. */
static int put_record(struct kv_log *log, struct kvl_rec *r,
		      const struct iovec *parts, int nparts)
{
	uint64_t size = r->type == KVL_SKIP ? KVL_HDR + r->len :
					      kvl_size(r->len);
	char *p;
	int ret;

	ret = map_to(log, (log->head + size - 1) / KVL_PAGE);
	if (ret)
		return ret;
	p = lsn_addr(log, log->head);
	r->lsn = log->head;
	r->epoch = log->epoch;
	for (int k = 0, off = KVL_HDR; k < nparts; k++) {
		memcpy(p + off, parts[k].iov_base, parts[k].iov_len);
		off += parts[k].iov_len;
	}
	if (r->type != KVL_SKIP)
		memset(p + KVL_HDR + r->len, 0, size - KVL_HDR - r->len);
	r->crc = kvl_crc(log->chain, r, p + KVL_HDR);
	memcpy(p, r, KVL_HDR);
	log->chain = r->crc;
	log->head += size;
	atomic_fetch_add(&log->stats.bytes, size);
	return 0;
}

int kv_log_append(struct kv_log *log, uint8_t type, uint16_t klen,
		  const struct iovec *parts, int nparts, uint64_t *start,
		  uint64_t *end)
{
	struct kvl_rec r = { .type = type, .klen = klen };
	uint64_t len = 0, at, left;
	int ret;

	for (int k = 0; k < nparts; k++)
		len += parts[k].iov_len;
	if (len > KVL_PAYLOAD_MAX || klen > len)
		return -EINVAL;
	at = kvl_place(log->head, kvl_size(len), log->region_bytes);
	if (at + kvl_size(len) - log->tail > log->region_bytes)
		return -ENOSPC;
	left = log->region_bytes - log->head % log->region_bytes;
	if (at != log->head) {
		if (left >= KVL_HDR) {
			struct kvl_rec skip = { .type = KVL_SKIP,
						.len = left - KVL_HDR };

			ret = put_record(log, &skip, NULL, 0);
			if (ret)
				return ret;
		} else {
			log->head = at;		/* the scanner skips it too */
		}
	}
	r.len = len;
	*start = log->head;
	log->rec_prev = log->chain;
	ret = put_record(log, &r, parts, nparts);
	if (ret)
		return ret;
	*end = log->head;
	atomic_fetch_add(&log->stats.records, 1);
	pthread_mutex_lock(&log->lock);
	log->published = log->head;
	pthread_cond_signal(&log->more);
	pthread_mutex_unlock(&log->lock);
	return 0;
}

int kv_log_wait(struct kv_log *log, uint64_t lsn)
{
	int ret;

	pthread_mutex_lock(&log->lock);
	while (!log->error && atomic_load(&log->durable) < lsn)
		pthread_cond_wait(&log->done, &log->lock);
	ret = atomic_load(&log->durable) >= lsn ? 0 : log->error;
	pthread_mutex_unlock(&log->lock);
	return ret;
}

void kv_log_close(struct kv_log *log)
{
	if (log->running) {
		pthread_mutex_lock(&log->lock);
		log->stop = true;
		pthread_cond_signal(&log->more);
		pthread_mutex_unlock(&log->lock);
		pthread_join(log->committer, NULL);
	}
	exmap_destroy(log->x);
	pthread_mutex_destroy(&log->lock);
	pthread_cond_destroy(&log->more);
	pthread_cond_destroy(&log->done);
	free(log);
}
