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

pub const CGROUP_SKB: Object = Object {
    elf: object!("cgroup_skb"),
    program: "mc_cgroup_count",
    map: "target",
    kind: ProgramKind::CgroupSkb,
};

/// Every embedded object (the helper families, the traffic counter, the cgroup program).
#[cfg(test)]
pub const ALL: [Object; 10] = [
    KEYED,
    QUEUE_STACK,
    BLOOM,
    RINGBUF,
    FOR_EACH,
    PERCPU_LOOKUP,
    USER_RINGBUF,
    XDP_STATS,
    STACKID,
    CGROUP_SKB,
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
        Family::UserRingbuf => USER_RINGBUF,
    }
}

#[cfg(test)]
mod tests {
    use super::{ProgramKind, ALL, XDP_STATS};
    use std::collections::HashMap;

    /// Every object shares one loader, which keeps the globals of earlier loads (see
    /// `bind::load_bound`): each object must declare its own globals and none of the
    /// others', which are then passed as optional.
    #[test]
    fn each_object_declares_only_its_own_globals() {
        // name, size: the `volatile const`s the harness sets (programs.rs, traffic.rs)
        let globals = [("VALUE_SIZE", 4), ("FILTER_DPORT", 2)];
        for object in ALL {
            // The stack id and cgroup programs copy nothing out of their map: no global.
            let own = match object.kind {
                ProgramKind::RawTracepoint | ProgramKind::CgroupSkb => "",
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
