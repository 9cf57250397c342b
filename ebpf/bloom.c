// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Bloom filter maps (5.16+): add = bpf_map_push_elem(flags), check = bpf_map_peek_elem
 * (0: maybe present, -ENOENT: absent). The value is an input for both; it goes
 * through the scratch map (no packet access for these helpers).
 */
#define MC_WANT_SCRATCH
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_BLOOM_FILTER, 0);

SEC("xdp")
int mc_bloom(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	__u8 *buf;

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;
	buf = mc_stage_value(req);
	if (!buf)
		return XDP_ABORTED;

	switch (req->op) {
	case MC_OP_PUSH:
		return mc_done(req, bpf_map_push_elem(&target, buf, req->flags));
	case MC_OP_PEEK:
		return mc_done(req, bpf_map_peek_elem(&target, buf));
	default:
		return XDP_DROP;
	}
}
