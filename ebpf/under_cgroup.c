// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_current_task_under_cgroup(map, index) on whatever cgroup_array map is bound to
 * `target`, from a raw tracepoint program run under BPF_PROG_TEST_RUN: it is a tracing
 * helper (bpf_tracing_func_proto() in kernel/trace/bpf_trace.c), so XDP cannot call it,
 * and under a test run `current` is the harness's own task. The return value is the
 * helper's: 1 (under the cgroup's hierarchy), 0 (not), -E2BIG (index past max_entries)
 * or -EAGAIN (an empty slot). The index comes in as the run's first argument, so one load
 * serves every step on a map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 1);
} target SEC(".maps");

SEC("raw_tp")
int mc_under_cgroup(__u64 *ctx)
{
	return bpf_current_task_under_cgroup(&target, (__u32)ctx[0]);
}

char _license[] SEC("license") = "GPL";
