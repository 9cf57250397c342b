// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_tail_call(ctx, prog_array, key) through the prog_array bound to `target`. A tail
 * call that succeeds never returns: the run's XDP action is the callee's (the harness's
 * `xdp` program object returns XDP_TX). One that fails (empty slot, key past the end)
 * falls through to `return XDP_DROP`. The request record is only read for the key.
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_PROG_ARRAY, 4);

SEC("xdp")
int mc_tail_call(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);

	if (!req || req->op != MC_OP_TAIL_CALL)
		return XDP_ABORTED;
	bpf_tail_call(ctx, &target, *(__u32 *)req->key);
	return XDP_DROP;
}
