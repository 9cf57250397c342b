// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_for_each_map_elem (5.13+): ret = number of elements visited (the helper's
 * return), aux = sum of the first min(8, value_size) bytes of each value read
 * as a little-endian u64 (for per-CPU maps: the slot of the CPU running it).
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_HASH, 4);

struct fe_ctx {
	__u64 sum;
};

static long visit(void *map, const void *key, void *value, void *ctx)
{
	struct fe_ctx *c = ctx;
	const __u8 *v = value;
	__u64 x = 0;
	__u32 n = VALUE_SIZE;
	__u32 i;

	if (n >= 8) {
		x = *(const __u64 *)v;
	} else {
		for (i = 0; i < n && i < 8; i++)
			x |= (__u64)v[i] << (8 * i);
	}
	c->sum += x;
	return 0;
}

SEC("xdp")
int mc_for_each(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	struct fe_ctx c = { 0 };
	long ret;

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;

	switch (req->op) {
	case MC_OP_FOR_EACH:
		ret = bpf_for_each_map_elem(&target, visit, &c, req->flags);
		req->aux = c.sum;
		return mc_done(req, ret);
	default:
		return XDP_DROP;
	}
}
