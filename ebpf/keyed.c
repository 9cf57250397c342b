// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Keyed maps: bpf_map_lookup_elem / bpf_map_update_elem / bpf_map_delete_elem
 * on whatever map is bound to `target` (hash, array, percpu, lru, lpm_trie, ...).
 * The declaration below is only a placeholder: the loader reuses the pinned map
 * handed in by the harness, and the verifier checks against that real map.
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_HASH, 4);

SEC("xdp")
int mc_keyed(struct xdp_md *ctx)
{
	struct mc_req *req = mc_request(ctx);
	void *val;

	if (!req)
		return XDP_ABORTED;
	req->len = 0;
	req->aux = 0;

	switch (req->op) {
	case MC_OP_LOOKUP:
		val = bpf_map_lookup_elem(&target, req->key);
		if (!val)
			return mc_done(req, 0);
		mc_copy_out(req, val);
		return mc_done(req, 1);
	case MC_OP_UPDATE:
		return mc_done(req, bpf_map_update_elem(&target, req->key, req->value, req->flags));
	case MC_OP_DELETE:
		return mc_done(req, bpf_map_delete_elem(&target, req->key));
	default:
		return XDP_DROP;
	}
}
