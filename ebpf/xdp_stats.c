// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The classic xdp_stats program: counts packets and bytes per XDP action in
 * `xdp_stats_map` (struct datarec, indexed by action). For deterministic
 * results it only counts IPv4/UDP packets to 127.0.0.1:FILTER_DPORT (set at load
 * time), so whatever else crosses the interface is passed but not counted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct datarec {
	__u64 rx_packets;
	__u64 rx_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct datarec);
	__uint(max_entries, 5);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_stats_map SEC(".maps");

volatile const __u16 FILTER_DPORT = 0; /* host byte order */

SEC("xdp")
int mc_xdp_stats(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	struct datarec *rec;
	__u32 action = XDP_PASS;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    ip->daddr != bpf_htonl(0x7f000001) || (ip->frag_off & bpf_htons(0x3fff)))
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(FILTER_DPORT))
		return XDP_PASS;

	rec = bpf_map_lookup_elem(&xdp_stats_map, &action);
	if (!rec)
		return XDP_ABORTED;
	__sync_fetch_and_add(&rec->rx_packets, 1);
	__sync_fetch_and_add(&rec->rx_bytes, (__u64)(data_end - data));
	return action;
}

char LICENSE[] SEC("license") = "GPL";
