// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_redirect_map(map, key, flags) on a devmap, devmap_hash, cpumap or xskmap bound to
 * `target` (4.14+; the placeholder type below is only a declaration, see request.h).
 * Under BPF_PROG_TEST_RUN the redirect itself is not carried out: the step observes the
 * helper's return, XDP_REDIRECT when the key has an entry, else the action in the low
 * bits of `flags` (5.10: any `flags` above XDP_TX gives XDP_ABORTED).
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_DEVMAP, 4);

SEC("xdp")
int mc_redirect(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;
	if (req->op != MC_OP_REDIRECT_MAP)
		return XDP_DROP;
	return mc_done(req, bpf_redirect_map(&target, *(__u32 *)req->key, req->flags));
}

/*
 * On real traffic (the `redirect` step): frames of the harness's EtherType are
 * redirected with bpf_redirect_map(&target, REDIRECT_KEY, XDP_PASS) — a key without an
 * entry passes them to the stack —, everything else passes untouched.
 */
volatile const __u32 REDIRECT_KEY = 0;
#define MC_ETH_P_REDIRECT 0x88b5 /* IEEE 802 local experimental */

SEC("xdp")
int mc_redirect_pkt(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *eth = data;

	if (data + 14 > data_end)
		return XDP_PASS;
	if (eth[12] != (MC_ETH_P_REDIRECT >> 8) || eth[13] != (MC_ETH_P_REDIRECT & 0xff))
		return XDP_PASS;
	return bpf_redirect_map(&target, REDIRECT_KEY, XDP_PASS);
}
