// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_map_lookup_percpu_elem (5.19+): the value of one CPU's slot of a per-CPU map.
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_PERCPU_HASH, 4);

SEC("xdp")
int mc_percpu_lookup(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	void *val;

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;

	switch (req->op) {
	case MC_OP_LOOKUP_PERCPU:
		val = bpf_map_lookup_percpu_elem(&target, req->key, req->cpu);
		if (!val)
			return mc_done(req, 0);
		mc_copy_out(req, val);
		return mc_done(req, 1);
	default:
		return XDP_DROP;
	}
}
