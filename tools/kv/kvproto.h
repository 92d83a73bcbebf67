/* SPDX-License-Identifier: GPL-2.0 */
/* The server's reading of requests (kv-proto.h), as pure functions. */
#ifndef KV_PROTO_PARSE_H
#define KV_PROTO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "kv-proto.h"

/* The largest valid request, header included. */
#define KV_REQ_MAX	(sizeof(struct kv_req) + KV_KEY_MAX + KV_VALUE_MAX)

enum kv_verdict {
	KV_NEED_MORE,	/* not a whole request yet */
	KV_REQUEST,	/* a valid request of `size` bytes */
	KV_REJECT,	/* framed but invalid: answer `status`, skip `size` */
	KV_BAD_STREAM,	/* not this protocol: answer EPROTO and close */
};

struct kv_parsed {
	struct kv_req h;
	const uint8_t *key, *val;	/* KV_REQUEST: into the buffer */
	uint64_t size;			/* the whole request's bytes */
	uint8_t status;			/* KV_REJECT: KV_EINVAL, ... */
};

/* Reads the request at the start of @buf (@len bytes there). */
enum kv_verdict kv_parse(const uint8_t *buf, size_t len, struct kv_parsed *p);

/* Writes a response header for @op into @out. */
void kv_resp_header(struct kv_resp *out, uint8_t op, uint8_t status,
		    uint16_t flags, uint32_t len, uint32_t count);

#endif
