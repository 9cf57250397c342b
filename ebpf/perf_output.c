// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_perf_event_output(ctx, perf_event_array, flags, data, len) (XDP: 4.18) on the map
 * bound to `target`; the data goes through the scratch map (no packet access). The
 * harness reads the record back from the perf event's mmapped ring.
 */
#define MC_WANT_SCRATCH
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4);

SEC("xdp")
int mc_perf_output(struct xdp_md *ctx)
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
	if (!buf || req->op != MC_OP_PERF_EVENT_OUTPUT || len > MC_MAX_VALUE)
		return XDP_DROP;
	return mc_done(req, bpf_perf_event_output(ctx, &target, req->flags, buf, len));
}
