// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Socket maps (sockmap, sockhash, reuseport_sockarray) from the program side.
 *
 * - mc_sock_lookup and mc_sock_delete (XDP, through BPF_PROG_TEST_RUN with the request
 *   record): bpf_map_lookup_elem, which returns a referenced socket that must be released
 *   (bpf_sk_release; ret = 1 found / 0 NULL), and bpf_map_delete_elem. Two programs, so
 *   a kernel that refuses one helper on a map type refuses only that one.
 * - mc_sock_update (XDP): bpf_map_update_elem(&target, key, sk, flags) with the socket a
 *   lookup of the key in req->value found (the program side can only store a socket it
 *   holds). No socket there: XDP_DROP, the request is not executed.
 * - mc_skb_redirect_{map,hash} (sk_skb stream verdict) and mc_msg_redirect_{map,hash}
 *   (sk_msg verdict), attached to the map by the harness: every skb / message is
 *   redirected to the socket at key REDIRECT_KEY with REDIRECT_FLAGS (BPF_F_INGRESS or 0)
 *   through bpf_sk_redirect_map / bpf_sk_redirect_hash / bpf_msg_redirect_map /
 *   bpf_msg_redirect_hash. The helper returns the verdict (SK_PASS, or SK_DROP when the
 *   key holds no socket that may be redirected to).
 * - mc_skb_parser (sk_skb stream parser): the whole skb is one message.
 * - `dropped` (.bss): how many verdicts of this load were SK_DROP. The harness reads it
 *   to end a `send` step's wait at once when the data was dropped (nothing of it can
 *   arrive anywhere then) instead of waiting out its whole deadline.
 *
 * `target` is the usual placeholder, bound to the case's map by the loader.
 */
#include "request.h"

MC_TARGET_MAP(BPF_MAP_TYPE_SOCKMAP, 4);

/* Set by the loader from the attach step (.rodata, frozen: constants to the verifier). */
volatile const __u32 REDIRECT_KEY = 0;
volatile const __u64 REDIRECT_FLAGS = 0;

__u64 dropped = 0;

/* The verdict, counted in `dropped` when it is SK_DROP. */
static __always_inline int mc_verdict(int verdict)
{
	if (verdict == SK_DROP)
		__sync_fetch_and_add(&dropped, 1);
	return verdict;
}

/* The request if it is one whole record for `op`, its outputs cleared; else NULL. */
static __always_inline struct mc_req *mc_sock_request(struct xdp_md *ctx, __u32 op)
{
	struct mc_req *req = mc_request(ctx);

	if (!req || req->op != op)
		return NULL;
	req->len = 0;
	req->aux = 0;
	return req;
}

SEC("xdp")
int mc_sock_lookup(struct xdp_md *ctx)
{
	struct mc_req *req = mc_sock_request(ctx, MC_OP_LOOKUP);
	struct bpf_sock *sk;

	if (!req)
		return XDP_ABORTED;
	sk = bpf_map_lookup_elem(&target, req->key);
	if (!sk)
		return mc_done(req, 0);
	bpf_sk_release(sk);
	return mc_done(req, 1);
}

SEC("xdp")
int mc_sock_delete(struct xdp_md *ctx)
{
	struct mc_req *req = mc_sock_request(ctx, MC_OP_DELETE);

	if (!req)
		return XDP_ABORTED;
	return mc_done(req, bpf_map_delete_elem(&target, req->key));
}

SEC("xdp")
int mc_sock_update(struct xdp_md *ctx)
{
	struct mc_req *req = mc_sock_request(ctx, MC_OP_UPDATE);
	struct bpf_sock *sk;
	long ret;

	if (!req)
		return XDP_ABORTED;
	sk = bpf_map_lookup_elem(&target, req->value);
	if (!sk)
		return XDP_DROP;
	ret = bpf_map_update_elem(&target, req->key, sk, req->flags);
	bpf_sk_release(sk);
	return mc_done(req, ret);
}

SEC("sk_skb/stream_verdict")
int mc_skb_redirect_map(struct __sk_buff *skb)
{
	return mc_verdict(bpf_sk_redirect_map(skb, &target, REDIRECT_KEY, REDIRECT_FLAGS));
}

SEC("sk_skb/stream_verdict")
int mc_skb_redirect_hash(struct __sk_buff *skb)
{
	__u32 key = REDIRECT_KEY;

	return mc_verdict(bpf_sk_redirect_hash(skb, &target, &key, REDIRECT_FLAGS));
}

SEC("sk_skb/stream_parser")
int mc_skb_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_msg")
int mc_msg_redirect_map(struct sk_msg_md *msg)
{
	return mc_verdict(bpf_msg_redirect_map(msg, &target, REDIRECT_KEY, REDIRECT_FLAGS));
}

SEC("sk_msg")
int mc_msg_redirect_hash(struct sk_msg_md *msg)
{
	__u32 key = REDIRECT_KEY;

	return mc_verdict(bpf_msg_redirect_hash(msg, &target, &key, REDIRECT_FLAGS));
}
