// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Ring buffer (5.8+): bpf_ringbuf_output(map, value, len, flags); the data goes
 * through the scratch map (no packet access). The harness reads the record back.
 */
#define MC_WANT_SCRATCH
#include "request.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} target SEC(".maps");

SEC("xdp")
int mc_ringbuf(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	__u8 *buf;
	__u32 len;

	if (!req)
		return XDP_ABORTED;
	len = req->len;
	req->len = 0;
	req->aux = 0;
	buf = mc_stage_value(req);
	if (!buf)
		return XDP_ABORTED;

	switch (req->op) {
	case MC_OP_RINGBUF_OUTPUT:
		if (len > MC_MAX_VALUE)
			return XDP_DROP;
		return mc_done(req, bpf_ringbuf_output(&target, buf, len, req->flags));
	default:
		return XDP_DROP;
	}
}
