// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Maps declared in a BPF object, the way libbpf and aya users write them:
 * BTF-defined (SEC(".maps"), __uint/__type) and created by the loader when the
 * object is loaded — the suite's second creation path beside BPF_MAP_CREATE
 * (`elf:` in a case's map declaration, harness/src/prog/declared.rs).
 *
 * The loader (aya 0.14, like libbpf) loads this object's BTF into the kernel and
 * passes btf_fd / btf_key_type_id / btf_value_type_id for the types that take
 * them, names each map after its declaration (truncated to the kernel's 15
 * bytes), and passes __uint(map_flags, ...) as written. No program: the object
 * only declares maps, so a kernel's verifier never decides what is created.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* A value holding a bpf_spin_lock: BPF_F_LOCK lookups and updates from user
 * space need the lock's offset, which the kernel finds only in the value's BTF. */
struct locked_value {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 counter;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} decl_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} decl_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} decl_noprealloc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct locked_value);
	__uint(max_entries, 4);
} decl_lock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct locked_value);
	__uint(max_entries, 2);
} decl_lock_array SEC(".maps");

/* Longer than the kernel's 15-byte map_name: the loader truncates it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} decl_name_longer_than_15 SEC(".maps");

/* A queue has no key: loaders pass no BTF ids for it (libbpf issue 355). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__type(value, __u32);
	__uint(max_entries, 4);
} decl_queue SEC(".maps");

char _license[] SEC("license") = "GPL";
