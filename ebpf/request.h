/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * mapconform: the request/response record exchanged with the test programs
 * through BPF_PROG_TEST_RUN. Mirrored in harness/src/prog/request.rs.
 *
 * The whole test_run packet (data_in) is one `struct mc_req`, little-endian,
 * naturally aligned, no padding (MC_REQ_SIZE bytes). The program executes the
 * op in place and the kernel hands the modified packet back in data_out.
 *
 *   off  size  field   dir  meaning
 *     0     4  magic   in   MC_MAGIC_REQ; the program sets MC_MAGIC_DONE when the op ran
 *     4     4  op      in   enum mc_op
 *     8     8  flags   in   the helper's `flags` argument (update/push/ringbuf/for_each)
 *    16     4  cpu     in   cpu argument of bpf_map_lookup_percpu_elem
 *    20     4  len     in   ringbuf output: bytes of value[] to emit
 *                      out  bytes of value[] that the program wrote as output (0 = none)
 *    24     8  ret     out  the helper's return code (s64); pointer-returning helpers
 *                           (lookup, lookup_percpu) give 1 for non-NULL, 0 for NULL
 *    32     8  aux     out  for_each: sum of the first min(8, value_size) bytes
 *                           (little-endian u64) of each visited value
 *    40   256  key     in   key bytes (only the map's key_size first bytes matter)
 *   296  1024  value   in/out  value bytes (input for update/push/bloom/ringbuf,
 *                           output for lookup/pop/peek/lookup_percpu)
 *  1320        end
 *
 * The packet is also used directly as the key/value buffer of the helpers: the
 * verifier accepts packet pointers for map key/value arguments, and the bounds
 * check on the whole record covers any key_size <= 256 / value_size <= 1024.
 */
#ifndef MAPCONFORM_REQUEST_H
#define MAPCONFORM_REQUEST_H

#include <linux/types.h>

#define MC_MAX_KEY 256
#define MC_MAX_VALUE 1024

#define MC_MAGIC_REQ 0x5152434dU  /* "MCRQ" */
#define MC_MAGIC_DONE 0x454e4f44U /* "DONE" */

enum mc_op {
	MC_OP_LOOKUP = 1,
	MC_OP_UPDATE = 2,
	MC_OP_DELETE = 3,
	MC_OP_PUSH = 4,
	MC_OP_POP = 5,
	MC_OP_PEEK = 6,
	MC_OP_RINGBUF_OUTPUT = 7,
	MC_OP_FOR_EACH = 8,
	MC_OP_LOOKUP_PERCPU = 9,
	MC_OP_USER_RINGBUF_DRAIN = 10,
	MC_OP_REDIRECT_MAP = 11,
	MC_OP_TAIL_CALL = 12,
	MC_OP_PERF_EVENT_OUTPUT = 13,
};

struct mc_req {
	__u32 magic;
	__u32 op;
	__u64 flags;
	__u32 cpu;
	__u32 len;
	__s64 ret;
	__u64 aux;
	__u8 key[MC_MAX_KEY];
	__u8 value[MC_MAX_VALUE];
};

#define MC_REQ_SIZE 1320

#ifdef __bpf__
_Static_assert(sizeof(struct mc_req) == MC_REQ_SIZE, "mc_req layout");
_Static_assert(__builtin_offsetof(struct mc_req, key) == 40, "mc_req layout");
_Static_assert(__builtin_offsetof(struct mc_req, value) == 296, "mc_req layout");

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * Set by the loader (EbpfLoader::set_global) to the bound map's value_size.
 * It lives in .rodata, which aya creates read-only for programs and freezes,
 * so the verifier treats it as a known constant: that is what lets a program
 * copy exactly value_size bytes out of a map value of any size.
 */
volatile const __u32 VALUE_SIZE = 0;

/*
 * The map a program operates on. Only a placeholder: the loader reuses the pinned map the
 * harness hands in (by name, `target`), and the verifier checks every access against that
 * real map, whatever type and sizes are declared here.
 */
#define MC_TARGET_MAP(map_type, ksize)                  \
	struct {                                        \
		__uint(type, map_type);                 \
		__uint(key_size, ksize);                \
		__uint(value_size, 4);                  \
		__uint(max_entries, 1);                 \
		__uint(pinning, LIBBPF_PIN_BY_NAME);    \
	} target SEC(".maps")

/* Returns the request if the packet holds a whole one, else NULL. */
static __always_inline struct mc_req *mc_request(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct mc_req *req = data;

	if (data + sizeof(*req) > data_end)
		return NULL;
	if (req->magic != MC_MAGIC_REQ)
		return NULL;
	return req;
}

/* Copies value_size bytes of a map value into req->value and sets req->len. */
static __always_inline void mc_copy_out(struct mc_req *req, const __u8 *src)
{
	__u32 n = VALUE_SIZE;
	__u32 i;

	if (n > MC_MAX_VALUE)
		n = MC_MAX_VALUE;
	for (i = 0; i < n; i++)
		req->value[i] = src[i];
	req->len = n;
}

/*
 * Helpers without packet access (push/pop/peek, ringbuf_output) cannot take packet
 * pointers ("helper access to the packet is not allowed"), and 1 KiB does not fit on
 * the 512-byte stack: those programs stage values in this one-slot per-CPU scratch map.
 * Define MC_WANT_SCRATCH before including this header to get it.
 */
#ifdef MC_WANT_SCRATCH
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MC_MAX_VALUE);
	__uint(max_entries, 1);
} mc_scratch SEC(".maps");

/* The scratch buffer, holding a copy of the whole req->value[] (NULL: cannot happen). */
static __always_inline __u8 *mc_stage_value(struct mc_req *req)
{
	__u32 zero = 0;
	__u64 *dst = bpf_map_lookup_elem(&mc_scratch, &zero);
	const __u64 *src = (const __u64 *)req->value;
	int i;

	if (!dst)
		return NULL;
	for (i = 0; i < MC_MAX_VALUE / 8; i++)
		dst[i] = src[i];
	return (__u8 *)dst;
}
#endif

static __always_inline int mc_done(struct mc_req *req, __s64 ret)
{
	req->ret = ret;
	req->magic = MC_MAGIC_DONE;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
#endif /* __bpf__ */

#endif /* MAPCONFORM_REQUEST_H */
