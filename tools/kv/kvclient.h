/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * libexmapkv: a client of exmap-kvd (docs/kv.md). One struct kvc is one
 * connection; use it from one thread at a time. Every call returns 0 (or
 * a count) or -errno: -ENOENT (no such key), -EMSGSIZE (key or value over
 * the limits), -ENOSPC (the store is full), -EINVAL, -EIO (the server's
 * device failed), -EPROTO or -ECONNRESET (the connection is unusable).
 *
 *   struct kvc *c;
 *   kvc_connect(&c, "/run/exmap-kv.sock");
 *   kvc_put(c, "k", 1, "v", 1);          returns once the PUT is durable
 *   kvc_get(c, "k", 1, buf, sizeof(buf), &len);
 *   kvc_close(c);
 *
 * Pipelining: queue requests with kvc_send(), then take the replies in
 * the same order with kvc_recv().
 */
#ifndef KV_CLIENT_H
#define KV_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kv-proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kvc;

int kvc_connect(struct kvc **out, const char *path);
void kvc_close(struct kvc *c);

int kvc_put(struct kvc *c, const void *key, size_t klen, const void *val,
	    size_t vlen);
/* The value goes to @buf; -ENOBUFS (with *vlen set) if @cap is short. */
int kvc_get(struct kvc *c, const void *key, size_t klen, void *buf,
	    size_t cap, size_t *vlen);
int kvc_del(struct kvc *c, const void *key, size_t klen);

/* Called for each pair of a scan; non-zero stops it (and is returned). */
typedef int (*kvc_scan_fn)(void *arg, const void *key, size_t klen,
			   const void *val, size_t vlen);
/*
 * The pairs with keys in [from, to) (tlen 0: no end) in key order, at
 * most @max (0: all), across as many SCAN requests as it takes. Returns
 * the number of pairs.
 */
long kvc_scan(struct kvc *c, const void *from, size_t flen, const void *to,
	      size_t tlen, size_t max, kvc_scan_fn fn, void *arg);
/* The server's counters as "name value" lines, NUL-terminated. */
int kvc_stats(struct kvc *c, char *buf, size_t cap);

struct kvc_reply {
	uint8_t op;
	uint8_t status;			/* KV_OK or an errno value */
	uint16_t flags;			/* KV_RESP_MORE */
	uint32_t count;			/* SCAN: pairs */
	const uint8_t *data;		/* valid until the next kvc_recv() */
	size_t len;
};

/* Queues a request (@arg: SCAN's pair limit). */
int kvc_send(struct kvc *c, uint8_t op, const void *key, size_t klen,
	     const void *val, size_t vlen, uint32_t arg);
/* Sends what is queued. */
int kvc_flush(struct kvc *c);
/* The next reply, in request order (sends what is queued first). */
int kvc_recv(struct kvc *c, struct kvc_reply *r);

#ifdef __cplusplus
}
#endif

#endif
