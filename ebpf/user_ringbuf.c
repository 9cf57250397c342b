// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * User ring buffer (6.1+): bpf_user_ringbuf_drain(map, callback, ctx, flags) drains the
 * records user space committed. ret = the helper's return (records drained, or -errno);
 * aux = the sum over records of their first 8 bytes as a little-endian u64 (of a shorter
 * record its first 4, 2 or 1 bytes: bpf_dynptr_read() wants a constant length and a 6.1
 * program cannot ask a dynptr for its size); value/len = those bytes of the first record.
 */
#include "request.h"

/* Declared as a RINGBUF: aya 0.14 refuses to load an ELF declaring a USER_RINGBUF (an
 * "unsupported" map type), and the placeholder is replaced by the case's map anyway (the
 * verifier checks the real map: see README "Binding the case's map"). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} target SEC(".maps");

struct drain_ctx {
	__u64 sum;
	__u64 first;
	__u32 first_len;
	__u32 seen;
};

static long drain_one(struct bpf_dynptr *record, void *ctx)
{
	struct drain_ctx *c = ctx;
	__u64 x = 0;
	__u32 n = 0;

	if (bpf_dynptr_read(&x, 8, record, 0, 0) == 0)
		n = 8;
	else if (bpf_dynptr_read(&x, 4, record, 0, 0) == 0)
		n = 4;
	else if (bpf_dynptr_read(&x, 2, record, 0, 0) == 0)
		n = 2;
	else if (bpf_dynptr_read(&x, 1, record, 0, 0) == 0)
		n = 1;
	c->sum += x;
	if (c->seen == 0) {
		c->first = x;
		c->first_len = n;
	}
	c->seen++;
	return 0;
}

SEC("xdp")
int mc_user_ringbuf(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	struct drain_ctx c = { 0 };
	long ret;
	int i;

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;

	switch (req->op) {
	case MC_OP_USER_RINGBUF_DRAIN:
		ret = bpf_user_ringbuf_drain(&target, drain_one, &c, req->flags);
		req->aux = c.sum;
		if (c.seen) {
			for (i = 0; i < 8; i++)
				req->value[i] = (c.first >> (8 * i)) & 0xff;
			req->len = c.first_len & 15;
		}
		return mc_done(req, ret);
	default:
		return XDP_DROP;
	}
}
