// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Programs a case declares as `objects:` (`program: xdp`, …): their fds are the values of
 * prog_array, devmap and cpumap entries. Each does nothing but return: the `xdp` one
 * returns XDP_TX, so a tail call into it shows as the run's action.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int mc_obj_xdp(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* expected_attach_type BPF_XDP_DEVMAP (5.8): a devmap entry's program */
SEC("xdp/devmap")
int mc_obj_xdp_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* expected_attach_type BPF_XDP_CPUMAP (5.9): a cpumap entry's program */
SEC("xdp/cpumap")
int mc_obj_xdp_cpumap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* another program type, for prog_array's owner-type rule */
SEC("socket")
int mc_obj_socket_filter(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
