/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * The exmap-kv wire protocol: what a client sends to exmap-kvd over its
 * Unix stream socket and what it gets back. docs/kv.md is the reference.
 *
 * A request is a 16-byte header followed by klen bytes of key and vlen
 * bytes of value (SCAN: the end key); a response is a 16-byte header
 * followed by len bytes of payload. All fields are little-endian. Requests
 * may be pipelined: a connection's responses come in the order of its
 * requests.
 */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#include <stdint.h>

#define KV_MAGIC	0x766b		/* "kv" in memory order */

#define KV_KEY_MAX	512		/* bytes of a key, at least 1 */
#define KV_VALUE_MAX	65536		/* bytes of a value, 0 allowed */
#define KV_SCAN_MAX	4096		/* pairs in one SCAN response */
#define KV_SCAN_BYTES	(256 * 1024)	/* payload of one SCAN response */
#define KV_STATS_BYTES	4096		/* payload of a STATS response */

enum kv_op {
	KV_OP_GET = 1,
	KV_OP_PUT = 2,
	KV_OP_DELETE = 3,
	KV_OP_SCAN = 4,
	KV_OP_STATS = 5,
};

/*
 * struct kv_req - a request header (16 bytes).
 *
 * @magic:	KV_MAGIC. Anything else: the stream is not this protocol;
 *		the server answers EPROTO and closes the connection.
 * @op:		enum kv_op.
 * @flags:	must be zero.
 * @klen:	GET, PUT, DELETE: key length, 1 .. KV_KEY_MAX. SCAN: length
 *		of the first key (0: from the smallest). STATS: 0.
 * @resv:	must be zero.
 * @vlen:	PUT: value length, 0 .. KV_VALUE_MAX. SCAN: length of the end
 *		key, 0 .. KV_KEY_MAX (0: no end). Others: 0.
 * @arg:	SCAN: most pairs to return, 1 .. KV_SCAN_MAX. Others: 0.
 */
struct kv_req {
	uint16_t magic;
	uint8_t op;
	uint8_t flags;
	uint16_t klen;
	uint16_t resv;
	uint32_t vlen;
	uint32_t arg;
};

/* Response status: 0 or one of these errno values (Linux numbering). */
#define KV_OK		0
#define KV_ENOENT	2	/* GET, DELETE: no such key */
#define KV_EIO		5	/* the store failed: outcome unknown */
#define KV_ENOSPC	28	/* PUT: the store is full; nothing changed */
#define KV_EINVAL	22	/* bad op, flags, reserved field or lengths */
#define KV_EMSGSIZE	90	/* key or value over the limits */
#define KV_EPROTO	71	/* not this protocol: connection closed */

/* Response flag: SCAN stopped at a limit; more pairs may be in range. */
#define KV_RESP_MORE	1

/*
 * struct kv_resp - a response header (16 bytes).
 *
 * @magic:	KV_MAGIC.
 * @op:		the request's op.
 * @status:	KV_OK or an error above; errors carry no payload.
 * @flags:	KV_RESP_MORE.
 * @resv:	zero.
 * @len:	payload bytes. GET: the value. SCAN: @count pairs, each a
 *		struct kv_pair and its key and value bytes. STATS: text,
 *		"name value" lines.
 * @count:	SCAN: pairs in the payload. Others: 0.
 */
struct kv_resp {
	uint16_t magic;
	uint8_t op;
	uint8_t status;
	uint16_t flags;
	uint16_t resv;
	uint32_t len;
	uint32_t count;
};

/* One pair of a SCAN response; the key, then the value, follow it. */
struct kv_pair {
	uint16_t klen;
	uint16_t resv;
	uint32_t vlen;
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the wire format is the host's: little-endian");
_Static_assert(sizeof(struct kv_req) == 16, "request header");
_Static_assert(sizeof(struct kv_resp) == 16, "response header");
_Static_assert(sizeof(struct kv_pair) == 8, "scan pair header");

#endif
