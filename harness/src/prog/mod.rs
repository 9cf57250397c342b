//! BPF-program side of mapconform: XDP programs (C, `ebpf/`) that operate on a map
//! chosen at run time, loaded with aya 0.14 and run with BPF_PROG_TEST_RUN
//! ([`Programs::run`]) or on real traffic ([`count_traffic`]).
//!
//! The API takes a map fd plus its attributes and returns plain data; it reports the
//! kernel's own return codes and makes no client-side check that could hide them.
//! See `ebpf/README.md` for the programs, the request layout and the binding.

mod bind;
pub mod bpffs;
mod cgroup_skb;
pub mod declared;
mod error;
pub mod fd_progs;
pub mod netns;
mod objects;
mod programs;
pub mod redirect;
pub mod request;
pub mod sockets;
mod traffic;

use std::os::fd::BorrowedFd;

pub use bpffs::ensure_bpffs;
pub use cgroup_skb::{CgroupSkbRun, CgroupSkbs};
pub use error::{verifier_reason, ProgError};
pub use programs::{preload, Preloaded, Programs};
pub use traffic::{count_traffic, DataRec, FRAME_BYTES, PAYLOAD, XDP_ACTIONS};

/// A map created by the executor, with the attributes it was created with.
#[derive(Clone, Copy, Debug)]
pub struct MapRef<'a> {
    pub fd: BorrowedFd<'a>,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// One program (one ELF) per helper family, so that a kernel lacking a helper only
/// fails that family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// bpf_map_lookup_elem / update_elem / delete_elem (any keyed map, LPM included).
    Keyed,
    /// bpf_map_push_elem / pop_elem / peek_elem on queue and stack maps (4.20+).
    QueueStack,
    /// push (add) / peek (check) on bloom filters (5.16+).
    Bloom,
    /// bpf_ringbuf_output (5.8+).
    Ringbuf,
    /// bpf_for_each_map_elem (5.13+).
    ForEach,
    /// bpf_map_lookup_percpu_elem (5.19+).
    PercpuLookup,
    /// bpf_get_stackid from a raw tracepoint program (stack_trace maps).
    Stackid,
    /// bpf_current_task_under_cgroup from a raw tracepoint program (cgroup_array maps).
    UnderCgroup,
    /// bpf_user_ringbuf_drain (6.1+).
    UserRingbuf,
    /// lookup (a referenced socket, released) on sockmap, sockhash and reuseport_sockarray.
    SockLookup,
    /// delete on the same.
    SockDelete,
    /// update on the same, with a socket a lookup in the map found.
    SockUpdate,
    /// bpf_redirect_map on devmap, devmap_hash, cpumap, xskmap (4.14+).
    Redirect,
    /// bpf_tail_call through a prog_array.
    TailCall,
    /// bpf_perf_event_output on a perf_event_array (XDP: 4.18+).
    PerfOutput,
}

/// One helper call, executed by a test program on the bound map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgOp {
    /// bpf_map_lookup_elem. ret: 1 found / 0 NULL; data: the value when found.
    Lookup { key: Vec<u8> },
    /// bpf_map_update_elem. ret: the helper's return.
    Update { key: Vec<u8>, value: Vec<u8>, flags: u64 },
    /// bpf_map_delete_elem. ret: the helper's return.
    Delete { key: Vec<u8> },
    /// bpf_map_push_elem on a queue/stack. ret: the helper's return.
    Push { value: Vec<u8>, flags: u64 },
    /// bpf_map_pop_elem. ret: the helper's return; data: the value when ret == 0.
    Pop,
    /// bpf_map_peek_elem. ret: the helper's return; data: the value when ret == 0.
    Peek,
    /// bpf_map_push_elem on a bloom filter. ret: the helper's return.
    BloomAdd { value: Vec<u8>, flags: u64 },
    /// bpf_map_peek_elem on a bloom filter. ret: 0 (maybe present) or -ENOENT.
    BloomCheck { value: Vec<u8> },
    /// bpf_ringbuf_output(data, flags). ret: the helper's return; data: the oldest
    /// unconsumed record in the ring after the run (read with aya's RingBuf), if any —
    /// unless `keep`, which leaves the ring as the program left it.
    RingbufOutput { data: Vec<u8>, flags: u64, keep: bool },
    /// bpf_for_each_map_elem (flags 0). ret: elements visited; sum: see [`ProgOutcome`].
    ForEach,
    /// bpf_for_each_map_elem with explicit flags (the kernel wants 0; others: -EINVAL).
    ForEachFlags { flags: u64 },
    /// bpf_map_lookup_percpu_elem. ret: 1 found / 0 NULL; data: that CPU's value.
    LookupPercpu { key: Vec<u8>, cpu: u32 },
    /// bpf_get_stackid(ctx, map, flags) from a raw tracepoint. ret: the id or -errno.
    GetStackid { flags: u64 },
    /// bpf_current_task_under_cgroup(map, index) from a raw tracepoint. ret: 1, 0 or -errno.
    CurrentTaskUnderCgroup { index: u32 },
    /// bpf_user_ringbuf_drain(flags). ret: records drained or -errno; sum: the sum of each
    /// record's first 8 (4, 2, 1) bytes; data: those bytes of the first record.
    UserRingbufDrain { flags: u64 },
    /// bpf_map_lookup_elem on a socket map (then bpf_sk_release). ret: 1 found / 0 NULL.
    SockLookup { key: Vec<u8> },
    /// bpf_map_delete_elem on a socket map. ret: the helper's return.
    SockDelete { key: Vec<u8> },
    /// bpf_map_update_elem on a socket map with the socket found at `source` (a key of the
    /// same map). ret: the helper's return.
    SockUpdate { key: Vec<u8>, source: Vec<u8>, flags: u64 },
    /// bpf_redirect_map(key, flags). ret: the helper's return (an XDP action).
    RedirectMap { key: Vec<u8>, flags: u64 },
    /// bpf_tail_call(key). ret: the run's XDP action — the callee's, or XDP_DROP when
    /// the call fell through.
    TailCall { key: Vec<u8> },
    /// bpf_perf_event_output(flags, data). ret: the helper's return; the record is read
    /// back by the caller, from the perf event's own ring.
    PerfEventOutput { data: Vec<u8>, flags: u64 },
}

impl ProgOp {
    /// The program family that executes this op.
    pub fn family(&self) -> Family {
        match self {
            Self::Lookup { .. } | Self::Update { .. } | Self::Delete { .. } => Family::Keyed,
            Self::Push { .. } | Self::Pop | Self::Peek => Family::QueueStack,
            Self::BloomAdd { .. } | Self::BloomCheck { .. } => Family::Bloom,
            Self::RingbufOutput { .. } => Family::Ringbuf,
            Self::ForEach | Self::ForEachFlags { .. } => Family::ForEach,
            Self::LookupPercpu { .. } => Family::PercpuLookup,
            Self::GetStackid { .. } => Family::Stackid,
            Self::CurrentTaskUnderCgroup { .. } => Family::UnderCgroup,
            Self::UserRingbufDrain { .. } => Family::UserRingbuf,
            Self::SockLookup { .. } => Family::SockLookup,
            Self::SockDelete { .. } => Family::SockDelete,
            Self::SockUpdate { .. } => Family::SockUpdate,
            Self::RedirectMap { .. } => Family::Redirect,
            Self::TailCall { .. } => Family::TailCall,
            Self::PerfEventOutput { .. } => Family::PerfOutput,
        }
    }
}

/// What the kernel did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgOutcome {
    /// The helper's return code; for the pointer-returning lookups, 1 (non-NULL) or 0 (NULL).
    pub ret: i64,
    /// Output bytes: the looked-up/popped/peeked value, or the ring buffer record.
    pub data: Option<Vec<u8>>,
    /// for_each only: sum over visited elements of the first min(8, value_size) bytes
    /// of the value as a little-endian u64 (wrapping); per-CPU maps: the running CPU's slot.
    pub sum: Option<u64>,
}
