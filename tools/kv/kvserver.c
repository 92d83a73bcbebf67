// SPDX-License-Identifier: GPL-2.0
/* exmap-kvd's workers and connections; see kvserver.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvproto.h"
#include "kvserver.h"

#define IN_CAP		(128 * 1024)
#define OUT_HIGH	(1 << 20)	/* unsent output: stop taking requests */
#define BATCH		BP_EVICT_BATCH

_Static_assert(KV_REQ_MAX <= IN_CAP, "a whole request fits the buffer");

struct held {
	size_t end;		/* response bytes up to here ... */
	uint64_t lsn;		/* ... wait for the log to reach this */
};

struct conn {
	int fd;
	uint32_t events;
	uint8_t *in;
	size_t in_len, pos;
	uint64_t skip;		/* bytes of a refused request to discard */
	uint8_t *out;
	size_t out_len, out_cap, sent, ready;
	struct held *held;
	size_t held_first, held_n, held_cap;
	bool eof, hup, closing, in_round;
	struct conn *next, *prev, *round_next;
};

struct kv_worker {
	struct kv_server *srv;
	unsigned int id;
	pthread_t tid;
	int ep, efd;
	struct bp_thread t;
	pthread_mutex_t mbox_lock;
	int *mbox;
	size_t nmbox, mbox_cap;
	struct conn *conns;
	atomic_ulong held;		/* responses waiting, all conns */
	struct kvt_get batch[BATCH];
	struct conn *owner[BATCH];
	uint8_t *vbuf;			/* BATCH values */
	uint8_t *scanbuf;
	char stats[KV_STATS_BYTES];
};

/* ---- output ---- */

static bool reserve(struct conn *c, size_t n)
{
	if (c->sent && c->sent == c->out_len) {
		c->out_len = c->sent = c->ready = 0;
	} else if (c->sent > c->out_cap / 2) {
		memmove(c->out, c->out + c->sent, c->out_len - c->sent);
		for (size_t k = 0; k < c->held_n; k++)
			c->held[(c->held_first + k) % c->held_cap].end -=
				c->sent;
		c->out_len -= c->sent;
		c->ready -= c->sent;
		c->sent = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = (c->out_len + n) * 2;
		uint8_t *p = realloc(c->out, cap);

		if (!p)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	return true;
}

/* What is durable now may be sent; held responses wait their turn. */
static void release(struct kv_worker *w, struct conn *c)
{
	uint64_t durable = kv_log_durable(w->srv->store->log);

	while (c->held_n) {
		struct held *h = &c->held[c->held_first];

		if (h->lsn > durable)
			break;
		c->ready = h->end;
		c->held_first = (c->held_first + 1) % c->held_cap;
		c->held_n--;
		atomic_fetch_sub(&w->held, 1);
	}
}

static bool hold(struct kv_worker *w, struct conn *c, uint64_t lsn)
{
	if (!c->held_n && lsn <= kv_log_durable(w->srv->store->log)) {
		c->ready = c->out_len;
		return true;
	}
	if (c->held_n == c->held_cap) {
		size_t cap = c->held_cap ? 2 * c->held_cap : 64;
		struct held *h = malloc(cap * sizeof(*h));

		if (!h)
			return false;
		for (size_t k = 0; k < c->held_n; k++)
			h[k] = c->held[(c->held_first + k) % c->held_cap];
		free(c->held);
		c->held = h;
		c->held_cap = cap;
		c->held_first = 0;
	}
	c->held[(c->held_first + c->held_n) % c->held_cap] =
		(struct held){ .end = c->out_len, .lsn = lsn };
	c->held_n++;
	atomic_fetch_add(&w->held, 1);
	return true;
}

/*
 * Queues a response with @plen bytes of payload from @payload, to go out
 * once the log is durable up to @lsn (0: at once).
 */
static void respond(struct kv_worker *w, struct conn *c, uint8_t op,
		    uint8_t status, uint16_t flags, const void *payload,
		    uint32_t plen, uint32_t count, uint64_t lsn)
{
	struct kv_resp r;

	kv_resp_header(&r, op, status, flags, plen, count);
	if (!reserve(c, sizeof(r) + plen)) {
		c->closing = true;	/* out of memory: drop the client */
		return;
	}
	memcpy(c->out + c->out_len, &r, sizeof(r));
	if (plen)
		memcpy(c->out + c->out_len + sizeof(r), payload, plen);
	c->out_len += sizeof(r) + plen;
	if (!hold(w, c, lsn))
		c->closing = true;
}

static void flush(struct conn *c)
{
	while (c->sent < c->ready) {
		ssize_t n = send(c->fd, c->out + c->sent, c->ready - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->sent += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		c->hup = true;		/* the client is gone */
		return;
	}
}

/* ---- requests ---- */

static uint8_t status_of(int err)
{
	switch (err) {
	case 0:
		return KV_OK;
	case -ENOENT:
		return KV_ENOENT;
	case -ENOSPC:
		return KV_ENOSPC;
	case -EMSGSIZE:
		return KV_EMSGSIZE;
	case -EINVAL:
		return KV_EINVAL;
	default:
		return KV_EIO;
	}
}

static void respond_get(struct kv_worker *w, struct conn *c,
			const struct kvt_get *g)
{
	if (g->found)
		respond(w, c, KV_OP_GET, KV_OK, 0, g->buf, g->vlen, 0, g->lsn);
	else
		respond(w, c, KV_OP_GET, KV_ENOENT, 0, NULL, 0, 0, g->lsn);
}

static void stats(struct kv_worker *w, struct conn *c)
{
	struct kv_server *srv = w->srv;
	size_t n = kv_store_stats_text(srv->store, w->stats,
				       sizeof(w->stats));

#define S(x) ((unsigned long long)atomic_load(&srv->stats.x))
	n += snprintf(w->stats + n, sizeof(w->stats) - n,
		      "workers %u\nconnections %llu\nrequests %llu\n"
		      "rejected %llu\nbad_streams %llu\ncut_requests %llu\n"
		      "get_batches %llu\nbatched_gets %llu\n",
		      srv->nworkers, S(connections), S(requests), S(rejected),
		      S(bad_streams), S(cut_requests), S(batches),
		      S(batched_gets));
#undef S
	if (n >= sizeof(w->stats))
		n = sizeof(w->stats) - 1;
	respond(w, c, KV_OP_STATS, KV_OK, 0, w->stats, n, 0, 0);
}

static void execute(struct kv_worker *w, struct conn *c,
		    const struct kv_parsed *p)
{
	struct kv_store *s = w->srv->store;
	uint64_t lsn = 0;
	int ret;

	atomic_fetch_add(&w->srv->stats.requests, 1);
	switch (p->h.op) {
	case KV_OP_GET: {
		struct kvt_get g = { .key = p->key, .klen = p->h.klen,
				     .buf = w->vbuf };

		kv_get_many(s, &w->t, &g, 1);
		respond_get(w, c, &g);
		return;
	}
	case KV_OP_PUT:
		ret = kv_put(s, &w->t, p->key, p->h.klen, p->val, p->h.vlen,
			     &lsn);
		break;
	case KV_OP_DELETE:
		ret = kv_del(s, &w->t, p->key, p->h.klen, &lsn);
		break;
	case KV_OP_SCAN: {
		struct kvt_scan sc = {
			.from = p->key, .flen = p->h.klen,
			.to = p->h.vlen ? p->val : NULL, .tlen = p->h.vlen,
			.max_pairs = p->h.arg, .max_bytes = KV_SCAN_BYTES,
			.out = w->scanbuf,
		};

		kv_scan(s, &w->t, &sc);
		respond(w, c, KV_OP_SCAN, KV_OK, sc.more ? KV_RESP_MORE : 0,
			sc.out, sc.out_len, sc.count, sc.lsn);
		return;
	}
	default:
		stats(w, c);
		return;
	}
	if (ret == -EIO) {
		/* The device failed: no answer can be trusted any more. */
		atomic_store(&w->srv->stop, true);
		c->closing = true;
	}
	respond(w, c, p->h.op, status_of(ret), 0, NULL, 0, 0,
		ret == -ENOSPC || ret == -EMSGSIZE ? 0 : lsn);
}

/* Works through what @c has sent, from c->pos on. */
static void process(struct kv_worker *w, struct conn *c)
{
	struct kv_server *srv = w->srv;

	while (!c->closing && c->out_len - c->sent < OUT_HIGH) {
		struct kv_parsed p;
		size_t avail = c->in_len - c->pos;

		if (c->skip) {
			size_t n = c->skip < avail ? c->skip : avail;

			c->pos += n;
			c->skip -= n;
			if (c->skip)
				break;
			continue;
		}
		switch (kv_parse(c->in + c->pos, avail, &p)) {
		case KV_NEED_MORE:
			goto out;
		case KV_REJECT:
			atomic_fetch_add(&srv->stats.rejected, 1);
			respond(w, c, p.h.op, p.status, 0, NULL, 0, 0, 0);
			if (p.size <= avail) {
				c->pos += p.size;
			} else {
				c->skip = p.size - avail;
				c->pos = c->in_len;
			}
			break;
		case KV_BAD_STREAM:
			atomic_fetch_add(&srv->stats.bad_streams, 1);
			respond(w, c, p.h.op, KV_EPROTO, 0, NULL, 0, 0, 0);
			c->closing = true;
			c->pos = c->in_len;
			break;
		case KV_REQUEST:
			execute(w, c, &p);
			c->pos += p.size;
			break;
		}
	}
out:
	memmove(c->in, c->in + c->pos, c->in_len - c->pos);
	c->in_len -= c->pos;
	c->pos = 0;
}

/* The GETs at the front of each ready connection, as one batch. */
static void batch_gets(struct kv_worker *w, struct conn *round)
{
	unsigned int n = 0;

	for (struct conn *c = round; c && n < BATCH; c = c->round_next) {
		struct kv_parsed p;

		if (c->skip || c->closing)
			continue;
		while (n < BATCH &&
		       kv_parse(c->in + c->pos, c->in_len - c->pos, &p) ==
		       KV_REQUEST && p.h.op == KV_OP_GET) {
			w->batch[n] = (struct kvt_get){
				.key = p.key, .klen = p.h.klen,
				.buf = w->vbuf + (size_t)n * KV_VALUE_MAX };
			w->owner[n++] = c;
			c->pos += p.size;
		}
	}
	if (!n)
		return;
	kv_get_many(w->srv->store, &w->t, w->batch, n);
	atomic_fetch_add(&w->srv->stats.batches, 1);
	atomic_fetch_add(&w->srv->stats.batched_gets, n);
	atomic_fetch_add(&w->srv->stats.requests, n);
	for (unsigned int k = 0; k < n; k++)
		respond_get(w, w->owner[k], &w->batch[k]);
}

/* ---- connections ---- */

static void conn_close(struct kv_worker *w, struct conn *c)
{
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->in_len || c->skip)
		atomic_fetch_add(&w->srv->stats.cut_requests, 1);
	atomic_fetch_sub(&w->held, c->held_n);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in);
	free(c->out);
	free(c->held);
	free(c);
}

static void conn_add(struct kv_worker *w, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

	if (c)
		c->in = malloc(IN_CAP);
	if (!c || !c->in) {
		if (c)
			free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->events = ev.events;
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev)) {
		free(c->in);
		free(c);
		close(fd);
		return;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	atomic_fetch_add(&w->srv->stats.connections, 1);
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	if (c->eof || c->closing || c->in_len == IN_CAP)
		return;
	n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);
	if (n > 0)
		c->in_len += n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EINTR)
		c->hup = true;
}

/* After a round: close it, or watch what it waits for. */
static void conn_settle(struct kv_worker *w, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	bool done_sending = c->sent == c->out_len;

	if (c->hup || ((c->eof || c->closing) && done_sending)) {
		conn_close(w, c);
		return;
	}
	if (!c->eof && !c->closing && c->in_len < IN_CAP &&
	    c->out_len - c->sent < OUT_HIGH)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (c->sent < c->ready)
		ev.events |= EPOLLOUT;
	if (ev.events != c->events) {
		epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = ev.events;
	}
}

static void adopt(struct kv_worker *w)
{
	int fds[64];
	size_t n;

	do {
		pthread_mutex_lock(&w->mbox_lock);
		n = w->nmbox < 64 ? w->nmbox : 64;
		w->nmbox -= n;
		memcpy(fds, w->mbox + w->nmbox, n * sizeof(int));
		pthread_mutex_unlock(&w->mbox_lock);
		for (size_t k = 0; k < n; k++)
			conn_add(w, fds[k]);
	} while (n);
}

static struct conn *round_add(struct conn *round, struct conn *c)
{
	if (c->in_round)
		return round;
	c->in_round = true;
	c->round_next = round;
	return c;
}

static void *worker_main(void *arg)
{
	struct kv_worker *w = arg;
	struct kv_server *srv = w->srv;
	struct epoll_event evs[64];

	while (!atomic_load(&srv->stop)) {
		int n = epoll_wait(w->ep, evs, 64, -1);
		struct conn *round = NULL, *next;

		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			uint64_t v;

			if (!c) {
				if (read(w->efd, &v, sizeof(v)) < 0)
					v = 0;
				adopt(w);
				/* The log moved: held responses may go. */
				for (c = w->conns; c; c = c->next)
					if (c->held_n)
						round = round_add(round, c);
				continue;
			}
			if (evs[k].events & (EPOLLHUP | EPOLLERR))
				c->hup = true;
			if (evs[k].events & (EPOLLIN | EPOLLRDHUP))
				conn_read(c);
			round = round_add(round, c);
		}
		batch_gets(w, round);
		for (struct conn *c = round; c; c = next) {
			next = c->round_next;
			c->in_round = false;
			process(w, c);
			release(w, c);
			flush(c);
			conn_settle(w, c);
		}
	}
	while (w->conns)
		conn_close(w, w->conns);
	return NULL;
}

/* ---- the server ---- */

void kv_server_notify(void *arg)
{
	struct kv_server *srv = arg;
	uint64_t one = 1;

	if (srv->store && srv->store->log->error)
		atomic_store(&srv->stop, true);
	for (unsigned int i = 0; i < srv->nworkers; i++) {
		struct kv_worker *w = &srv->workers[i];

		if (atomic_load(&w->held) || atomic_load(&srv->stop))
			if (write(w->efd, &one, sizeof(one)) < 0)
				continue;
	}
}

int kv_server_listen(struct kv_server *srv, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		/* Someone answers there: a live server. Else it is stale. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ret = connect(probe, (struct sockaddr *)&a, sizeof(a));
		close(probe);
		if (!ret) {
			close(fd);
			return -EADDRINUSE;
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			goto fail;
	}
	if (listen(fd, 512))
		goto fail;
	srv->lfd = fd;
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int kv_server_start(struct kv_server *srv, struct kv_store *s, unsigned int n)
{
	srv->store = s;
	srv->workers = calloc(n, sizeof(*srv->workers));
	if (!srv->workers)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct kv_worker *w = &srv->workers[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		w->srv = srv;
		w->id = i;
		pthread_mutex_init(&w->mbox_lock, NULL);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		w->vbuf = malloc((size_t)BATCH * KV_VALUE_MAX);
		w->scanbuf = malloc(KV_SCAN_BYTES);
		if (w->ep < 0 || w->efd < 0 || !w->vbuf || !w->scanbuf ||
		    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) ||
		    kv_store_thread(s, &w->t, i))
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (pthread_create(&srv->workers[i].tid, NULL, worker_main,
				   &srv->workers[i]))
			return -EAGAIN;
		/* Only started workers are woken and joined. */
		srv->nworkers = i + 1;
	}
	return 0;
}

static void hand_over(struct kv_server *srv, int fd)
{
	struct kv_worker *w = &srv->workers[srv->next_worker++ %
					    srv->nworkers];
	uint64_t one = 1;

	pthread_mutex_lock(&w->mbox_lock);
	if (w->nmbox == w->mbox_cap) {
		size_t cap = w->mbox_cap ? 2 * w->mbox_cap : 64;
		int *m = realloc(w->mbox, cap * sizeof(int));

		if (!m) {
			pthread_mutex_unlock(&w->mbox_lock);
			close(fd);
			return;
		}
		w->mbox = m;
		w->mbox_cap = cap;
	}
	w->mbox[w->nmbox++] = fd;
	pthread_mutex_unlock(&w->mbox_lock);
	if (write(w->efd, &one, sizeof(one)) < 0)
		return;
}

void kv_server_accept_loop(struct kv_server *srv, int stop_fd)
{
	struct pollfd p[2] = { { .fd = srv->lfd, .events = POLLIN },
			       { .fd = stop_fd, .events = POLLIN } };

	while (!atomic_load(&srv->stop)) {
		int fd;

		/* A timeout: a worker may have stopped the server. */
		if (poll(p, stop_fd >= 0 ? 2 : 1, 200) <= 0)
			continue;
		if (p[1].revents)
			break;
		fd = accept4(srv->lfd, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			hand_over(srv, fd);
	}
}

void kv_server_stop(struct kv_server *srv)
{
	uint64_t one = 1;

	atomic_store(&srv->stop, true);
	for (unsigned int i = 0; i < srv->nworkers; i++)
		if (write(srv->workers[i].efd, &one, sizeof(one)) < 0)
			continue;
	for (unsigned int i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i].tid, NULL);
	if (srv->lfd >= 0)
		close(srv->lfd);
	srv->lfd = -1;
}

void kv_server_destroy(struct kv_server *srv)
{
	for (unsigned int i = 0; srv->workers && i < srv->nworkers; i++) {
		struct kv_worker *w = &srv->workers[i];

		for (size_t k = 0; k < w->nmbox; k++)
			close(w->mbox[k]);
		free(w->mbox);
		free(w->vbuf);
		free(w->scanbuf);
		close(w->ep);
		close(w->efd);
	}
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
}
