// SPDX-License-Identifier: LGPL-2.1 OR MIT
/* libexmapkv: see kvclient.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvclient.h"

struct kvc {
	int fd;
	uint8_t *out;
	size_t out_len, out_cap;
	uint8_t *in;
	size_t in_len, in_cap, in_used;	/* in_used: the last reply's bytes */
};

int kvc_connect(struct kvc **out, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct kvc *c;
	int ret;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
		ret = -errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void kvc_close(struct kvc *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->out);
	free(c->in);
	free(c);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *p;

	if (need <= *cap)
		return 0;
	p = realloc(*buf, need * 2);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = need * 2;
	return 0;
}

int kvc_send(struct kvc *c, uint8_t op, const void *key, size_t klen,
	     const void *val, size_t vlen, uint32_t arg)
{
	struct kv_req h = { .magic = KV_MAGIC, .op = op, .klen = klen,
			    .vlen = vlen, .arg = arg };
	int ret;

	/* Lengths that do not fit the header cannot be sent at all. */
	if (klen > UINT16_MAX || vlen > UINT32_MAX)
		return -EMSGSIZE;
	ret = grow(&c->out, &c->out_cap, c->out_len + sizeof(h) + klen + vlen);
	if (ret)
		return ret;
	memcpy(c->out + c->out_len, &h, sizeof(h));
	if (klen)
		memcpy(c->out + c->out_len + sizeof(h), key, klen);
	if (vlen)
		memcpy(c->out + c->out_len + sizeof(h) + klen, val, vlen);
	c->out_len += sizeof(h) + klen + vlen;
	return 0;
}

/* Takes in what the server has sent so far, without waiting. */
static int take_in(struct kvc *c)
{
	for (;;) {
		ssize_t r;
		int ret = grow(&c->in, &c->in_cap, c->in_len + 65536);

		if (ret)
			return ret;
		r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
			 MSG_DONTWAIT);
		if (r > 0) {
			c->in_len += r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return r < 0 ? -errno : -ECONNRESET;
	}
}

int kvc_flush(struct kvc *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLOUT };
		ssize_t n;
		int ret;

		/*
		 * Replies are read while requests are written: a server
		 * that cannot get rid of its replies stops reading, and
		 * both would wait for ever.
		 */
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p.revents & POLLIN) {
			ret = take_in(c);
			if (ret)
				return ret;
		}
		if (!(p.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		n = send(c->fd, c->out + done, c->out_len - done,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n < 0 && errno != EPIPE ? -errno : -ECONNRESET;
		done += n;
	}
	c->out_len = 0;
	return 0;
}

/* Reads until @n bytes are buffered. */
static int fill(struct kvc *c, size_t n)
{
	int ret = grow(&c->in, &c->in_cap, n);

	if (ret)
		return ret;
	while (c->in_len < n) {
		ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
				 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		c->in_len += r;
	}
	return 0;
}

int kvc_recv(struct kvc *c, struct kvc_reply *r)
{
	struct kv_resp h;
	int ret;

	if (c->out_len) {
		ret = kvc_flush(c);
		if (ret)
			return ret;
	}
	/* Drop the reply returned last. */
	memmove(c->in, c->in + c->in_used, c->in_len - c->in_used);
	c->in_len -= c->in_used;
	c->in_used = 0;
	ret = fill(c, sizeof(h));
	if (ret)
		return ret;
	memcpy(&h, c->in, sizeof(h));
	if (h.magic != KV_MAGIC || h.len > KV_SCAN_BYTES + KV_VALUE_MAX)
		return -EPROTO;
	ret = fill(c, sizeof(h) + h.len);
	if (ret)
		return ret;
	*r = (struct kvc_reply){ .op = h.op, .status = h.status,
				 .flags = h.flags, .count = h.count,
				 .data = c->in + sizeof(h), .len = h.len };
	c->in_used = sizeof(h) + h.len;
	return 0;
}

/* One request, one reply; its status as -errno. */
static int call(struct kvc *c, uint8_t op, const void *key, size_t klen,
		const void *val, size_t vlen, uint32_t arg,
		struct kvc_reply *r)
{
	int ret = kvc_send(c, op, key, klen, val, vlen, arg);

	if (!ret)
		ret = kvc_recv(c, r);
	if (ret)
		return ret;
	if (r->op != op)
		return -EPROTO;
	return -(int)r->status;
}

int kvc_put(struct kvc *c, const void *key, size_t klen, const void *val,
	    size_t vlen)
{
	struct kvc_reply r;

	return call(c, KV_OP_PUT, key, klen, val, vlen, 0, &r);
}

int kvc_get(struct kvc *c, const void *key, size_t klen, void *buf,
	    size_t cap, size_t *vlen)
{
	struct kvc_reply r;
	int ret = call(c, KV_OP_GET, key, klen, NULL, 0, 0, &r);

	if (ret)
		return ret;
	*vlen = r.len;
	if (r.len > cap)
		return -ENOBUFS;
	memcpy(buf, r.data, r.len);
	return 0;
}

int kvc_del(struct kvc *c, const void *key, size_t klen)
{
	struct kvc_reply r;

	return call(c, KV_OP_DELETE, key, klen, NULL, 0, 0, &r);
}

long kvc_scan(struct kvc *c, const void *from, size_t flen, const void *to,
	      size_t tlen, size_t max, kvc_scan_fn fn, void *arg)
{
	uint8_t cursor[KV_KEY_MAX + 1];
	size_t clen = flen, n = 0;

	if (flen > KV_KEY_MAX)
		return -EMSGSIZE;
	memcpy(cursor, from, flen);
	for (;;) {
		size_t want = max && max - n < KV_SCAN_MAX ? max - n :
							     KV_SCAN_MAX;
		struct kvc_reply r;
		size_t off = 0;
		int ret;

		ret = call(c, KV_OP_SCAN, cursor, clen, to, tlen, want, &r);
		if (ret)
			return ret;
		for (uint32_t i = 0; i < r.count; i++) {
			struct kv_pair p;

			if (off + sizeof(p) > r.len)
				return -EPROTO;
			memcpy(&p, r.data + off, sizeof(p));
			if (p.klen > KV_KEY_MAX ||
			    off + sizeof(p) + p.klen + p.vlen > r.len)
				return -EPROTO;
			ret = fn ? fn(arg, r.data + off + sizeof(p), p.klen,
				      r.data + off + sizeof(p) + p.klen,
				      p.vlen) : 0;
			if (ret)
				return ret;
			/* The next request starts just after this key. */
			memcpy(cursor, r.data + off + sizeof(p), p.klen);
			clen = p.klen;
			off += sizeof(p) + p.klen + p.vlen;
			n++;
		}
		if (!(r.flags & KV_RESP_MORE) || (max && n >= max))
			return n;
		if (!r.count)
			return -EPROTO;
		/* The smallest key above the last: it with a 0 byte. */
		if (clen == KV_KEY_MAX) {
			/* No key lies between; go on from its successor. */
			while (clen && cursor[clen - 1] == 0xff)
				clen--;
			if (!clen)
				return n;
			cursor[clen - 1]++;
		} else {
			cursor[clen++] = 0;
		}
	}
}

int kvc_stats(struct kvc *c, char *buf, size_t cap)
{
	struct kvc_reply r;
	int ret = call(c, KV_OP_STATS, NULL, 0, NULL, 0, 0, &r);
	size_t n;

	if (ret)
		return ret;
	if (!cap)
		return -ENOBUFS;
	n = r.len < cap - 1 ? r.len : cap - 1;
	memcpy(buf, r.data, n);
	buf[n] = 0;
	return (int)n;
}
