// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Bloom filter maps (5.16+): add = bpf_map_push_elem(flags), check = bpf_map_peek_elem
 * (0: maybe present, -ENOENT: absent). The value is an input for both; it goes
 * through the scratch map (no packet access for these helpers).
 */
#define MC_WANT_SCRATCH
#include "request.h"

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(key_size, 0);
	__uint(value_size, 4);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} target SEC(".maps");

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
