// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A cgroup_skb program counting packets in whatever cgroup_storage or
 * percpu_cgroup_storage map is bound to `target`: bpf_get_local_storage() gives
 * the storage of the cgroup (and, with a 16-byte key, the attach type) the program
 * runs for; its first 8 bytes are a counter. The count after this packet is also
 * written to skb->cb[0], which BPF_PROG_TEST_RUN hands back in the __sk_buff it
 * copies out (the test run's storage is a temporary one: net/bpf/test_run.c).
 * Section "cgroup/skb": no expected attach type, so one load attaches to ingress or
 * egress. Always returns 1 (let the packet through).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__uint(key_size, 16);
	__uint(value_size, 8);
	__uint(max_entries, 0);
} target SEC(".maps");

SEC("cgroup/skb")
int mc_cgroup_count(struct __sk_buff *skb)
{
	__u64 *count = bpf_get_local_storage(&target, 0);

	*count += 1;
	skb->cb[0] = (__u32)*count;
	return 1;
}

char _license[] SEC("license") = "GPL";
