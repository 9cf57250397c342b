//! The kernel's vocabulary, typed: map types, map flags, element flags and errnos.
//!
//! A leaf module (it imports nothing of the crate): the case model, the results and the
//! bpf(2) layer all speak these types instead of bare numbers. Values are the kernel's own
//! (`include/uapi/linux/bpf.h`, `errno.h`); `tests` checks them against aya-obj's generated
//! uapi bindings and libc, and — for the two map types newer than aya-obj 0.3 — against
//! the values read from the kernels' BTF (see [`MapType::INSN_ARRAY`]).
use std::fmt;

/// A name ↔ number table, with the list of valid names for error messages.
pub struct Table {
    pub what: &'static str,
    pub entries: &'static [(&'static str, u64)],
}

impl Table {
    pub fn value(&self, name: &str) -> Option<u64> {
        self.entries.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn name(&self, value: u64) -> Option<&'static str> {
        self.entries.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
    }

    /// The names of the (non-zero) entries whose bits are all set in `bits`.
    pub fn set_bits(&self, bits: u64) -> Vec<&'static str> {
        self.entries
            .iter()
            .filter(|(_, v)| *v != 0 && bits & v == *v)
            .map(|(n, _)| *n)
            .collect()
    }

    /// The valid names, comma separated, for "expected one of …" messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.entries.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }

    /// `Ok(value)` or an error message listing what would have been valid.
    pub fn lookup(&self, name: &str) -> Result<u64, String> {
        self.value(name)
            .ok_or_else(|| format!("unknown {} `{name}`, expected one of: {}", self.what, self.names()))
    }
}

/// `enum bpf_attach_type`: the cgroup_skb attach points a case can attach to (and the
/// `attach_type` of a 16-byte cgroup_storage key). Values read from every matrix kernel's
/// BTF (BPF_CGROUP_INET_INGRESS = 0, BPF_CGROUP_INET_EGRESS = 1) and checked in `tests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttachType(pub u32);

impl AttachType {
    pub const CGROUP_INET_INGRESS: AttachType = AttachType(0);
    pub const CGROUP_INET_EGRESS: AttachType = AttachType(1);
}

pub const ATTACH_TYPES: Table = Table {
    what: "attach type",
    entries: &[
        ("cgroup_inet_ingress", AttachType::CGROUP_INET_INGRESS.0 as u64),
        ("cgroup_inet_egress", AttachType::CGROUP_INET_EGRESS.0 as u64),
    ],
};

impl fmt::Display for AttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ATTACH_TYPES.name(self.0 as u64) {
            Some(name) => f.write_str(name),
            None => write!(f, "attach_type{}", self.0),
        }
    }
}

/// `enum bpf_map_type`. A newtype, not a Rust enum: the kernel may report a type this
/// crate does not know (a map got from a pin or by id), and that must stay representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapType(pub u32);

macro_rules! map_types {
    ($($konst:ident = $value:literal, $name:literal;)*) => {
        impl MapType {
            $(pub const $konst: MapType = MapType($value);)*
        }
        /// Every map type a case may name: snake_case without the `BPF_MAP_TYPE_` prefix.
        pub const MAP_TYPES: Table = Table {
            what: "map type",
            entries: &[$(($name, $value)),*],
        };
    };
}

map_types! {
    HASH = 1, "hash";
    ARRAY = 2, "array";
    PROG_ARRAY = 3, "prog_array";
    PERF_EVENT_ARRAY = 4, "perf_event_array";
    PERCPU_HASH = 5, "percpu_hash";
    PERCPU_ARRAY = 6, "percpu_array";
    STACK_TRACE = 7, "stack_trace";
    CGROUP_ARRAY = 8, "cgroup_array";
    LRU_HASH = 9, "lru_hash";
    LRU_PERCPU_HASH = 10, "lru_percpu_hash";
    LPM_TRIE = 11, "lpm_trie";
    ARRAY_OF_MAPS = 12, "array_of_maps";
    HASH_OF_MAPS = 13, "hash_of_maps";
    DEVMAP = 14, "devmap";
    SOCKMAP = 15, "sockmap";
    CPUMAP = 16, "cpumap";
    XSKMAP = 17, "xskmap";
    SOCKHASH = 18, "sockhash";
    CGROUP_STORAGE = 19, "cgroup_storage";
    REUSEPORT_SOCKARRAY = 20, "reuseport_sockarray";
    PERCPU_CGROUP_STORAGE = 21, "percpu_cgroup_storage";
    QUEUE = 22, "queue";
    STACK = 23, "stack";
    SK_STORAGE = 24, "sk_storage";
    DEVMAP_HASH = 25, "devmap_hash";
    STRUCT_OPS = 26, "struct_ops";
    RINGBUF = 27, "ringbuf";
    INODE_STORAGE = 28, "inode_storage";
    TASK_STORAGE = 29, "task_storage";
    BLOOM_FILTER = 30, "bloom_filter";
    USER_RINGBUF = 31, "user_ringbuf";
    CGRP_STORAGE = 32, "cgrp_storage";
    ARENA = 33, "arena";
    // Newer than aya-obj 0.3's bindings. Read from the 7.2 and 7.3 kernels' BTF with
    // `bpftool btf dump file ~/.cache/mapconform/kernels/7.3/vmlinux format c`:
    //     BPF_MAP_TYPE_ARENA = 33,
    //     BPF_MAP_TYPE_INSN_ARRAY = 34,
    //     BPF_MAP_TYPE_RHASH = 35,
    //     __MAX_BPF_MAP_TYPE = 36,
    // (6.12's BTF ends at ARENA = 33, __MAX_BPF_MAP_TYPE = 34.)
    INSN_ARRAY = 34, "insn_array";
    RHASH = 35, "rhash";
}

impl MapType {
    /// Values are one 8-byte aligned slot per possible CPU in bpf(2) (the kernel's
    /// `bpf_map_value_size()`: PERCPU_HASH, LRU_PERCPU_HASH, PERCPU_ARRAY, PERCPU_CGROUP_STORAGE).
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PERCPU_HASH | MapType::PERCPU_ARRAY | MapType::LRU_PERCPU_HASH | MapType::PERCPU_CGROUP_STORAGE
        )
    }

    /// Outer maps whose syscall lookups return map ids.
    pub fn is_map_in_map(self) -> bool {
        matches!(self, MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS)
    }

    /// Maps whose syscall values are fds in and ids out (the kernel's `IS_FD_MAP()`): their
    /// lookups write a u32 whatever `value_size` says.
    pub fn is_fd_map(self) -> bool {
        matches!(
            self,
            MapType::PROG_ARRAY
                | MapType::PERF_EVENT_ARRAY
                | MapType::CGROUP_ARRAY
                | MapType::ARRAY_OF_MAPS
                | MapType::HASH_OF_MAPS
        )
    }

    /// The case-file name (`hash`), if this crate knows the type.
    pub fn name(self) -> Option<&'static str> {
        MAP_TYPES.name(self.0 as u64)
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "map_type{}", self.0),
        }
    }
}

/// `map_flags` of BPF_MAP_CREATE (`BPF_F_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MapFlags(pub u32);

macro_rules! bit_table {
    ($ty:ident, $table:ident, $what:literal, $($konst:ident = $value:expr, $name:literal;)*) => {
        impl $ty {
            $(pub const $konst: $ty = $ty($value);)*
        }
        pub const $table: Table = Table {
            what: $what,
            entries: &[$(($name, $value as u64)),*],
        };
    };
}

bit_table! { MapFlags, MAP_FLAGS, "map flag",
    NO_PREALLOC = 1 << 0, "no_prealloc";
    NO_COMMON_LRU = 1 << 1, "no_common_lru";
    NUMA_NODE = 1 << 2, "numa_node";
    RDONLY = 1 << 3, "rdonly";
    WRONLY = 1 << 4, "wronly";
    STACK_BUILD_ID = 1 << 5, "stack_build_id";
    ZERO_SEED = 1 << 6, "zero_seed";
    RDONLY_PROG = 1 << 7, "rdonly_prog";
    WRONLY_PROG = 1 << 8, "wronly_prog";
    CLONE = 1 << 9, "clone";
    MMAPABLE = 1 << 10, "mmapable";
    PRESERVE_ELEMS = 1 << 11, "preserve_elems";
    INNER_MAP = 1 << 12, "inner_map";
    LINK = 1 << 13, "link";
    PATH_FD = 1 << 14, "path_fd";
    VTYPE_BTF_OBJ_FD = 1 << 15, "vtype_btf_obj_fd";
    TOKEN_FD = 1 << 16, "token_fd";
    SEGV_ON_FAULT = 1 << 17, "segv_on_fault";
    NO_USER_CONV = 1 << 18, "no_user_conv";
}

/// `flags` of the element commands and `elem_flags` of the batch commands:
/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ElemFlags(pub u64);

bit_table! { ElemFlags, ELEM_FLAGS, "element flag",
    ANY = 0, "any";
    NOEXIST = 1, "noexist";
    EXIST = 2, "exist";
    LOCK = 4, "lock";
}

/// Flags of the bpf_ringbuf_output() helper: `BPF_RB_NO_WAKEUP`, `BPF_RB_FORCE_WAKEUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RingbufFlags(pub u64);

bit_table! { RingbufFlags, RINGBUF_FLAGS, "ring buffer flag",
    NO_WAKEUP = 1, "no_wakeup";
    FORCE_WAKEUP = 2, "force_wakeup";
}

/// `flags` of bpf_get_stackid() above the skip count (BPF_F_SKIP_FIELD_MASK, 0xff):
/// `enum { BPF_F_SKIP_FIELD_MASK = 255, BPF_F_USER_STACK = 256, … }`, read from the 5.10 and
/// 7.3 kernels' BTF (same values).
pub struct StackidFlags(pub u64);

bit_table! { StackidFlags, STACKID_FLAGS, "bpf_get_stackid flag",
    USER_STACK = 256, "user_stack";
    FAST_STACK_CMP = 512, "fast_stack_cmp";
    REUSE_STACKID = 1024, "reuse_stackid";
    USER_BUILD_ID = 2048, "user_build_id";
}

/// `prot` of mmap(2)/mprotect(2) for a map's memory: `PROT_READ`, `PROT_WRITE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Prot(pub u64);

bit_table! { Prot, PROT, "protection",
    READ = 1, "read";
    WRITE = 2, "write";
}

impl Prot {
    /// `read|write`, `read`, … (`none` for PROT_NONE).
    pub fn names(self) -> String {
        let names = PROT.set_bits(self.0);
        if names.is_empty() {
            "none".into()
        } else {
            names.join("|")
        }
    }
}

impl MapFlags {
    /// The `BPF_F_*` names of the set bits; bits without a name as `0x…`.
    pub fn names(self) -> Vec<String> {
        let bits = self.0 as u64;
        let mut names: Vec<String> = MAP_FLAGS.set_bits(bits).into_iter().map(String::from).collect();
        let known = MAP_FLAGS.entries.iter().fold(0, |all, (_, v)| all | v);
        if bits & !known != 0 {
            names.push(format!("{:#x}", bits & !known));
        }
        names
    }
}

// ---- socket maps: attach types and redirect flags (the `attach_to_map` step) ----

/// `enum bpf_attach_type` values a program may be attached to a sockmap/sockhash with
/// (BPF_PROG_ATTACH with the map as target): `sock_map_prog_update()` in net/core/sock_map.c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SockAttachType(pub u64);

bit_table! { SockAttachType, SOCK_ATTACH_TYPES, "socket map attach type",
    SK_SKB_STREAM_PARSER = 4, "sk_skb_stream_parser";
    SK_SKB_STREAM_VERDICT = 5, "sk_skb_stream_verdict";
    SK_MSG_VERDICT = 7, "sk_msg_verdict";
    SK_SKB_VERDICT = 38, "sk_skb_verdict";
}

/// Flags of bpf_sk_redirect_map() and friends: `BPF_F_INGRESS` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RedirectFlags(pub u64);

bit_table! { RedirectFlags, REDIRECT_FLAGS, "redirect flag",
    INGRESS = 1, "ingress";
}

impl ElemFlags {
    /// `noexist`, `exist|lock`, … (`any` for none).
    pub fn names(self) -> String {
        let mut names = Vec::new();
        match self.0 & 3 {
            0 => {}
            1 => names.push("noexist"),
            2 => names.push("exist"),
            _ => names.push("noexist|exist"),
        }
        if self.0 & ElemFlags::LOCK.0 != 0 {
            names.push("lock");
        }
        if names.is_empty() {
            "any".into()
        } else {
            names.join("|")
        }
    }
}

/// An errno as the kernel returns it (positive). Written by name (`EEXIST`); numbers
/// without a name are written `errno<N>` so a result is always recorded and a reviewer
/// sees the raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($konst:ident = $value:literal;)*) => {
        impl Errno {
            $(pub const $konst: Errno = Errno($value);)*
        }
        /// Errno names a step may expect or report. ENOTSUPP (524) is kernel-internal but
        /// leaks out of bpf(2) for several map types, so it is listed.
        pub const ERRNOS: Table = Table {
            what: "errno",
            entries: &[$((stringify!($konst), $value)),*],
        };
    };
}

errnos! {
    EPERM = 1;
    ENOENT = 2;
    ESRCH = 3;
    EINTR = 4;
    EIO = 5;
    ENXIO = 6;
    E2BIG = 7;
    ENOEXEC = 8;
    EBADF = 9;
    EAGAIN = 11;
    ENOMEM = 12;
    EACCES = 13;
    EFAULT = 14;
    EBUSY = 16;
    EEXIST = 17;
    EXDEV = 18;
    ENODEV = 19;
    ENOTDIR = 20;
    EISDIR = 21;
    EINVAL = 22;
    ENFILE = 23;
    EMFILE = 24;
    ENOTTY = 25;
    EFBIG = 27;
    ENOSPC = 28;
    EROFS = 30;
    EMLINK = 31;
    ERANGE = 34;
    EDEADLK = 35;
    ENAMETOOLONG = 36;
    ENOSYS = 38;
    ENOTEMPTY = 39;
    ELOOP = 40;
    ENODATA = 61;
    EOVERFLOW = 75;
    EBADFD = 77;
    ENOTSOCK = 88;
    EOPNOTSUPP = 95;
    ENOBUFS = 105;
    ETIMEDOUT = 110;
    ECANCELED = 125;
    ENOTSUPP = 524;
}

impl Errno {
    /// The errno of an `io::Error` from a syscall (0 if it carries none).
    pub fn of(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(0))
    }

    /// `EEXIST`, or `errno<N>` for a number without a name.
    pub fn name(self) -> String {
        match ERRNOS.name(self.0 as u64) {
            Some(name) => name.to_string(),
            None => format!("errno{}", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Errno {
    type Err = String;
    /// A name of [`ERRNOS`] or `errno<N>`.
    fn from_str(s: &str) -> Result<Errno, String> {
        if let Some(n) = s.strip_prefix("errno").and_then(|n| n.parse::<i32>().ok()) {
            return Ok(Errno(n));
        }
        ERRNOS.lookup(s).map(|v| Errno(v as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aya_obj::generated as g;
    use aya_obj::generated::bpf_map_type as t;

    #[test]
    fn attach_types_match_aya_obj_uapi() {
        use aya_obj::generated::bpf_attach_type as a;
        assert_eq!(AttachType::CGROUP_INET_INGRESS.0, a::BPF_CGROUP_INET_INGRESS as u32);
        assert_eq!(AttachType::CGROUP_INET_EGRESS.0, a::BPF_CGROUP_INET_EGRESS as u32);
    }

    #[test]
    fn map_types_match_aya_obj_uapi_and_the_kernels_btf() {
        let aya = [
            (MapType::HASH, t::BPF_MAP_TYPE_HASH),
            (MapType::ARRAY, t::BPF_MAP_TYPE_ARRAY),
            (MapType::PROG_ARRAY, t::BPF_MAP_TYPE_PROG_ARRAY),
            (MapType::PERF_EVENT_ARRAY, t::BPF_MAP_TYPE_PERF_EVENT_ARRAY),
            (MapType::PERCPU_HASH, t::BPF_MAP_TYPE_PERCPU_HASH),
            (MapType::PERCPU_ARRAY, t::BPF_MAP_TYPE_PERCPU_ARRAY),
            (MapType::STACK_TRACE, t::BPF_MAP_TYPE_STACK_TRACE),
            (MapType::CGROUP_ARRAY, t::BPF_MAP_TYPE_CGROUP_ARRAY),
            (MapType::LRU_HASH, t::BPF_MAP_TYPE_LRU_HASH),
            (MapType::LRU_PERCPU_HASH, t::BPF_MAP_TYPE_LRU_PERCPU_HASH),
            (MapType::LPM_TRIE, t::BPF_MAP_TYPE_LPM_TRIE),
            (MapType::ARRAY_OF_MAPS, t::BPF_MAP_TYPE_ARRAY_OF_MAPS),
            (MapType::HASH_OF_MAPS, t::BPF_MAP_TYPE_HASH_OF_MAPS),
            (MapType::DEVMAP, t::BPF_MAP_TYPE_DEVMAP),
            (MapType::SOCKMAP, t::BPF_MAP_TYPE_SOCKMAP),
            (MapType::CPUMAP, t::BPF_MAP_TYPE_CPUMAP),
            (MapType::XSKMAP, t::BPF_MAP_TYPE_XSKMAP),
            (MapType::SOCKHASH, t::BPF_MAP_TYPE_SOCKHASH),
            (MapType::CGROUP_STORAGE, t::BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED),
            (MapType::REUSEPORT_SOCKARRAY, t::BPF_MAP_TYPE_REUSEPORT_SOCKARRAY),
            (MapType::PERCPU_CGROUP_STORAGE, t::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE),
            (MapType::QUEUE, t::BPF_MAP_TYPE_QUEUE),
            (MapType::STACK, t::BPF_MAP_TYPE_STACK),
            (MapType::SK_STORAGE, t::BPF_MAP_TYPE_SK_STORAGE),
            (MapType::DEVMAP_HASH, t::BPF_MAP_TYPE_DEVMAP_HASH),
            (MapType::STRUCT_OPS, t::BPF_MAP_TYPE_STRUCT_OPS),
            (MapType::RINGBUF, t::BPF_MAP_TYPE_RINGBUF),
            (MapType::INODE_STORAGE, t::BPF_MAP_TYPE_INODE_STORAGE),
            (MapType::TASK_STORAGE, t::BPF_MAP_TYPE_TASK_STORAGE),
            (MapType::BLOOM_FILTER, t::BPF_MAP_TYPE_BLOOM_FILTER),
            (MapType::USER_RINGBUF, t::BPF_MAP_TYPE_USER_RINGBUF),
            (MapType::CGRP_STORAGE, t::BPF_MAP_TYPE_CGRP_STORAGE),
            (MapType::ARENA, t::BPF_MAP_TYPE_ARENA),
        ];
        for (ours, theirs) in aya {
            assert_eq!(ours.0, theirs as u32, "{ours}");
        }
        // aya-obj 0.3 stops at ARENA; the next two are from the 7.2/7.3 BTF (comment above).
        assert_eq!(t::__MAX_BPF_MAP_TYPE as u32, MapType::INSN_ARRAY.0);
        assert_eq!((MapType::INSN_ARRAY.0, MapType::RHASH.0), (34, 35));
        // Every type 1..=35 has exactly one name, in order: 35 rows in `coverage`.
        assert_eq!(MAP_TYPES.entries.len(), 35);
        for (i, (_, v)) in MAP_TYPES.entries.iter().enumerate() {
            assert_eq!(*v, i as u64 + 1);
        }
    }

    #[test]
    fn flags_match_aya_obj_uapi() {
        let map = [
            (MapFlags::NO_PREALLOC, g::BPF_F_NO_PREALLOC),
            (MapFlags::NO_COMMON_LRU, g::BPF_F_NO_COMMON_LRU),
            (MapFlags::NUMA_NODE, g::BPF_F_NUMA_NODE),
            (MapFlags::RDONLY, g::BPF_F_RDONLY),
            (MapFlags::WRONLY, g::BPF_F_WRONLY),
            (MapFlags::STACK_BUILD_ID, g::BPF_F_STACK_BUILD_ID),
            (MapFlags::ZERO_SEED, g::BPF_F_ZERO_SEED),
            (MapFlags::RDONLY_PROG, g::BPF_F_RDONLY_PROG),
            (MapFlags::WRONLY_PROG, g::BPF_F_WRONLY_PROG),
            (MapFlags::CLONE, g::BPF_F_CLONE),
            (MapFlags::MMAPABLE, g::BPF_F_MMAPABLE),
            (MapFlags::PRESERVE_ELEMS, g::BPF_F_PRESERVE_ELEMS),
            (MapFlags::INNER_MAP, g::BPF_F_INNER_MAP),
            (MapFlags::LINK, g::BPF_F_LINK),
            (MapFlags::PATH_FD, g::BPF_F_PATH_FD),
            (MapFlags::VTYPE_BTF_OBJ_FD, g::BPF_F_VTYPE_BTF_OBJ_FD),
            (MapFlags::TOKEN_FD, g::BPF_F_TOKEN_FD),
            (MapFlags::SEGV_ON_FAULT, g::BPF_F_SEGV_ON_FAULT),
            (MapFlags::NO_USER_CONV, g::BPF_F_NO_USER_CONV),
        ];
        for (ours, theirs) in map {
            assert_eq!(ours.0, theirs, "{ours:?}");
        }
        assert_eq!(MAP_FLAGS.entries.len(), map.len());
        let elem = [
            (ElemFlags::ANY, g::BPF_ANY),
            (ElemFlags::NOEXIST, g::BPF_NOEXIST),
            (ElemFlags::EXIST, g::BPF_EXIST),
            (ElemFlags::LOCK, g::BPF_F_LOCK),
        ];
        for (ours, theirs) in elem {
            assert_eq!(ours.0, theirs as u64, "{ours:?}");
        }
        assert_eq!(ElemFlags(6).names(), "exist|lock");
        assert_eq!(RingbufFlags::NO_WAKEUP.0, g::BPF_RB_NO_WAKEUP as u64);
        assert_eq!(RingbufFlags::FORCE_WAKEUP.0, g::BPF_RB_FORCE_WAKEUP as u64);
        use aya_obj::generated::bpf_attach_type as at;
        assert_eq!(
            SockAttachType::SK_SKB_STREAM_PARSER.0,
            at::BPF_SK_SKB_STREAM_PARSER as u64
        );
        assert_eq!(
            SockAttachType::SK_SKB_STREAM_VERDICT.0,
            at::BPF_SK_SKB_STREAM_VERDICT as u64
        );
        assert_eq!(SockAttachType::SK_MSG_VERDICT.0, at::BPF_SK_MSG_VERDICT as u64);
        assert_eq!(SockAttachType::SK_SKB_VERDICT.0, at::BPF_SK_SKB_VERDICT as u64);
        assert_eq!(RedirectFlags::INGRESS.0, g::BPF_F_INGRESS as u64);
        assert_eq!(ElemFlags(0).names(), "any");
        assert_eq!(
            (Prot::READ.0 as i32, Prot::WRITE.0 as i32),
            (libc::PROT_READ, libc::PROT_WRITE)
        );
        assert_eq!((Prot(3).names(), Prot(0).names()), ("read|write".into(), "none".into()));
        assert_eq!(
            MapFlags(1 << 10 | 1 << 7 | 1 << 31).names(),
            ["rdonly_prog", "mmapable", "0x80000000"]
        );
    }

    #[test]
    fn errnos_match_libc() {
        let libc = [
            (Errno::EPERM, libc::EPERM),
            (Errno::ENOENT, libc::ENOENT),
            (Errno::E2BIG, libc::E2BIG),
            (Errno::EBADF, libc::EBADF),
            (Errno::ENOMEM, libc::ENOMEM),
            (Errno::EFAULT, libc::EFAULT),
            (Errno::EBUSY, libc::EBUSY),
            (Errno::EEXIST, libc::EEXIST),
            (Errno::EINVAL, libc::EINVAL),
            (Errno::ENOSPC, libc::ENOSPC),
            (Errno::ERANGE, libc::ERANGE),
            (Errno::ENAMETOOLONG, libc::ENAMETOOLONG),
            (Errno::ENOTEMPTY, libc::ENOTEMPTY),
            (Errno::ELOOP, libc::ELOOP),
            (Errno::EOVERFLOW, libc::EOVERFLOW),
            (Errno::EOPNOTSUPP, libc::EOPNOTSUPP),
            (Errno::ECANCELED, libc::ECANCELED),
        ];
        for (ours, theirs) in libc {
            assert_eq!(ours.0, theirs, "{ours}");
        }
        for (name, v) in ERRNOS.entries {
            assert_eq!(name.parse::<Errno>(), Ok(Errno(*v as i32)));
            assert_eq!(Errno(*v as i32).to_string(), *name);
        }
        assert_eq!(Errno(4095).to_string(), "errno4095");
        assert_eq!("errno4095".parse::<Errno>(), Ok(Errno(4095)));
        assert!("EWHAT".parse::<Errno>().is_err());
    }
}
