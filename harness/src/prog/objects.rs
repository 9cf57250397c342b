//! The BPF objects built from `ebpf/*.c` by build.rs, embedded in the binary.

use super::Family;

macro_rules! object {
    ($name:literal) => {
        aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/", $name, ".o"))
    };
}

/// One compiled ELF: its bytes, its program's name and type, and the name of the map
/// declaration the harness binds the case's map to.
#[derive(Clone, Copy, Debug)]
pub struct Object {
    pub elf: &'static [u8],
    pub program: &'static str,
    pub map: &'static str,
    pub kind: ProgramKind,
}

/// The program type of an object's program: how it is loaded and run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramKind {
    /// XDP, run with a request packet (`request.h`).
    Xdp,
    /// A raw tracepoint, run with BPF_PROG_TEST_RUN's zeroed argument context.
    RawTracepoint,
    /// cgroup_skb: attached to a cgroup, or run with a frame under BPF_PROG_TEST_RUN.
    CgroupSkb,
    /// sk_skb or sk_msg, attached to a socket map and run by traffic (never test-run).
    SocketMap,
}

pub const KEYED: Object = Object {
    elf: object!("keyed"),
    program: "mc_keyed",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const QUEUE_STACK: Object = Object {
    elf: object!("queue_stack"),
    program: "mc_queue_stack",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const BLOOM: Object = Object {
    elf: object!("bloom"),
    program: "mc_bloom",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const RINGBUF: Object = Object {
    elf: object!("ringbuf"),
    program: "mc_ringbuf",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const FOR_EACH: Object = Object {
    elf: object!("for_each"),
    program: "mc_for_each",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const PERCPU_LOOKUP: Object = Object {
    elf: object!("percpu_lookup"),
    program: "mc_percpu_lookup",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const USER_RINGBUF: Object = Object {
    elf: object!("user_ringbuf"),
    program: "mc_user_ringbuf",
    map: "target",
    kind: ProgramKind::Xdp,
};
/// `ebpf/sockets.c`: socket map lookup and delete from XDP (test run), and the sk_skb/sk_msg
/// programs attached to socket maps (see [`socket_program`]).
pub const SOCK_LOOKUP: Object = Object {
    elf: object!("sockets"),
    program: "mc_sock_lookup",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const SOCK_DELETE: Object = Object {
    program: "mc_sock_delete",
    ..SOCK_LOOKUP
};
pub const SOCK_UPDATE: Object = Object {
    program: "mc_sock_update",
    ..SOCK_LOOKUP
};

/// A program of `ebpf/sockets.c` by name (`mc_skb_redirect_map`, …), bound like the rest.
pub fn socket_program(program: &'static str) -> Object {
    Object {
        program,
        kind: ProgramKind::SocketMap,
        ..SOCK_LOOKUP
    }
}
pub const REDIRECT: Object = Object {
    elf: object!("redirect"),
    program: "mc_redirect",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const TAIL_CALL: Object = Object {
    elf: object!("tail_call"),
    program: "mc_tail_call",
    map: "target",
    kind: ProgramKind::Xdp,
};
pub const PERF_OUTPUT: Object = Object {
    elf: object!("perf_output"),
    program: "mc_perf_output",
    map: "target",
    kind: ProgramKind::Xdp,
};
/// The `redirect` step's program: same ELF as [`REDIRECT`], run on real frames.
pub const REDIRECT_PKT: Object = Object {
    elf: object!("redirect"),
    program: "mc_redirect_pkt",
    map: "target",
    kind: ProgramKind::Xdp,
};
/// The programs a case declares as objects (`program: xdp`, …); no map.
pub const FD_PROGS: &[u8] = object!("fd_progs");

pub const XDP_STATS: Object = Object {
    elf: object!("xdp_stats"),
    program: "mc_xdp_stats",
    map: "xdp_stats_map",
    kind: ProgramKind::Xdp,
};
pub const STACKID: Object = Object {
    elf: object!("stackid"),
    program: "mc_stackid",
    map: "target",
    kind: ProgramKind::RawTracepoint,
};
pub const UNDER_CGROUP: Object = Object {
    elf: object!("under_cgroup"),
    program: "mc_under_cgroup",
    map: "target",
    kind: ProgramKind::RawTracepoint,
};

pub const CGROUP_SKB: Object = Object {
    elf: object!("cgroup_skb"),
    program: "mc_cgroup_count",
    map: "target",
    kind: ProgramKind::CgroupSkb,
};

/// Every embedded object (the helper families, the traffic counter, the cgroup program).
#[cfg(test)]
pub const ALL: [Object; 18] = [
    KEYED,
    QUEUE_STACK,
    BLOOM,
    RINGBUF,
    FOR_EACH,
    PERCPU_LOOKUP,
    USER_RINGBUF,
    SOCK_LOOKUP,
    SOCK_DELETE,
    SOCK_UPDATE,
    XDP_STATS,
    STACKID,
    UNDER_CGROUP,
    CGROUP_SKB,
    REDIRECT,
    TAIL_CALL,
    PERF_OUTPUT,
    REDIRECT_PKT,
];

pub fn for_family(family: Family) -> Object {
    match family {
        Family::Keyed => KEYED,
        Family::QueueStack => QUEUE_STACK,
        Family::Bloom => BLOOM,
        Family::Ringbuf => RINGBUF,
        Family::ForEach => FOR_EACH,
        Family::PercpuLookup => PERCPU_LOOKUP,
        Family::Stackid => STACKID,
        Family::UnderCgroup => UNDER_CGROUP,
        Family::UserRingbuf => USER_RINGBUF,
        Family::SockLookup => SOCK_LOOKUP,
        Family::SockDelete => SOCK_DELETE,
        Family::SockUpdate => SOCK_UPDATE,
        Family::Redirect => REDIRECT,
        Family::TailCall => TAIL_CALL,
        Family::PerfOutput => PERF_OUTPUT,
    }
}

#[cfg(test)]
mod tests {
    use super::{ProgramKind, ALL, XDP_STATS};
    use std::collections::HashMap;

    /// Every object shares one loader, which keeps the globals of earlier loads (see
    /// `bind::load_bound`): each object must declare the globals its loads set.
    #[test]
    fn each_object_declares_only_its_own_globals() {
        // name, size: the `volatile const`s the harness sets (programs.rs, traffic.rs)
        let globals = [("VALUE_SIZE", 4), ("FILTER_DPORT", 2)];
        for object in ALL {
            // The stack id and cgroup programs copy nothing out of their map: no global.
            let own = match object.kind {
                ProgramKind::RawTracepoint | ProgramKind::SocketMap | ProgramKind::CgroupSkb => "",
                ProgramKind::Xdp if object.program == XDP_STATS.program => "FILTER_DPORT",
                ProgramKind::Xdp => "VALUE_SIZE",
            };
            for (name, size) in globals {
                let mut obj = aya_obj::Object::parse(object.elf).expect("embedded object parses");
                let data = vec![0u8; size];
                let declared = obj.patch_map_data(HashMap::from([(name, (&data[..], true))])).is_ok();
                assert_eq!(declared, name == own, "{} and {name}", object.program);
            }
        }
    }

    /// The shared loader puts a global an earlier load set back to zero for the next
    /// object (`bind::load_bound`): right only while zero is every global's default.
    #[test]
    fn every_global_defaults_to_zero() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ebpf");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("ebpf/ is readable") {
            let path = entry.expect("a directory entry").path();
            if !matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            for line in text.lines().filter(|l| l.trim_start().starts_with("volatile const")) {
                seen += 1;
                let code = line.split("/*").next().unwrap_or(line).trim_end();
                assert!(code.ends_with("= 0;"), "{}: {line}", path.display());
            }
        }
        assert!(seen > 0, "no volatile const found in {}", dir.display());
    }

    /// The loader is told not to parse the kernel's BTF (see `bind::load_bound`): that is
    /// only right while no object needs CO-RE relocations against it.
    #[test]
    fn no_core_relocations() {
        for object in ALL {
            let obj = aya_obj::Object::parse(object.elf).expect("embedded object parses");
            assert!(
                !obj.has_btf_relocations(),
                "{} has CO-RE relocations: load it with the kernel's BTF",
                object.program
            );
            assert!(obj.programs.contains_key(object.program), "{} missing", object.program);
        }
    }
}
