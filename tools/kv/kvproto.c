// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <string.h>

#include "kvproto.h"

/* KV_OK, or why a request whose header reads @h is refused. */
static uint8_t check(const struct kv_req *h)
{
	uint32_t klen_max = KV_KEY_MAX, vlen_max = 0;
	bool key_needed = true;

	if (h->flags || h->resv)
		return KV_EINVAL;
	switch (h->op) {
	case KV_OP_GET:
	case KV_OP_DELETE:
		break;
	case KV_OP_PUT:
		vlen_max = KV_VALUE_MAX;
		break;
	case KV_OP_SCAN:
		key_needed = false;
		vlen_max = KV_KEY_MAX;
		if (!h->arg || h->arg > KV_SCAN_MAX)
			return KV_EINVAL;
		break;
	case KV_OP_STATS:
		klen_max = 0;
		key_needed = false;
		break;
	default:
		return KV_EINVAL;
	}
	if (h->klen > klen_max || h->vlen > vlen_max)
		return h->klen > KV_KEY_MAX || h->vlen > KV_VALUE_MAX ?
		       KV_EMSGSIZE : KV_EINVAL;
	if (key_needed && !h->klen)
		return KV_EINVAL;
	if (h->op != KV_OP_SCAN && h->arg)
		return KV_EINVAL;
	return KV_OK;
}

enum kv_verdict kv_parse(const uint8_t *buf, size_t len, struct kv_parsed *p)
{
	if (len < sizeof(p->h))
		return KV_NEED_MORE;
	memcpy(&p->h, buf, sizeof(p->h));
	if (p->h.magic != KV_MAGIC)
		return KV_BAD_STREAM;
	p->size = sizeof(p->h) + (uint64_t)p->h.klen + p->h.vlen;
	p->status = check(&p->h);
	if (p->status)
		return KV_REJECT;
	if (len < p->size)
		return KV_NEED_MORE;
	p->key = buf + sizeof(p->h);
	p->val = p->key + p->h.klen;
	return KV_REQUEST;
}

void kv_resp_header(struct kv_resp *out, uint8_t op, uint8_t status,
		    uint16_t flags, uint32_t len, uint32_t count)
{
	*out = (struct kv_resp){ .magic = KV_MAGIC, .op = op,
				 .status = status, .flags = flags, .len = len,
				 .count = count };
}
