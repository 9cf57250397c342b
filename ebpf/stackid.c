// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bpf_get_stackid() into whatever stack_trace map is bound to `target`, from a raw
 * tracepoint program: XDP programs cannot call it (it is a tracing helper), and a
 * raw_tp program runs under BPF_PROG_TEST_RUN without attaching to anything, so the
 * stack it records is the kernel's own test-run call chain (the same on every run of a
 * kernel). The return value is the helper's: the stack id, or a negative errno.
 * The flags (skip count | BPF_F_*) come in as the run's first argument, so one load
 * serves every step on a map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(max_entries, 1);
} target SEC(".maps");

SEC("raw_tp")
int mc_stackid(__u64 *ctx)
{
	/* The flags are the test run's first tracepoint argument. */
	return bpf_get_stackid(ctx, &target, ctx[0]);
}

char _license[] SEC("license") = "GPL";
