// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Queue / stack maps: bpf_map_push_elem (flags) / bpf_map_pop_elem / bpf_map_peek_elem
 * (helpers since 4.20). Values go through the scratch map (no packet access).
 */
#define MC_WANT_SCRATCH
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_QUEUE, 0);

SEC("xdp")
int mc_queue_stack(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	__u8 *buf;
	long ret;

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
	case MC_OP_POP:
		ret = bpf_map_pop_elem(&target, buf);
		if (ret == 0)
			mc_copy_out(req, buf);
		return mc_done(req, ret);
	case MC_OP_PEEK:
		ret = bpf_map_peek_elem(&target, buf);
		if (ret == 0)
			mc_copy_out(req, buf);
		return mc_done(req, ret);
	default:
		return XDP_DROP;
	}
}
