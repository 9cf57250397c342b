//! The BPF objects built from `ebpf/*.c` by build.rs, embedded in the binary.

use super::Family;

macro_rules! object {
    ($name:literal) => {
        aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/", $name, ".o"))
    };
}

/// One compiled ELF: its bytes, the XDP program's name and the name of the map
/// declaration the harness binds the case's map to.
#[derive(Clone, Copy, Debug)]
pub struct Object {
    pub elf: &'static [u8],
    pub program: &'static str,
    pub map: &'static str,
}

pub const KEYED: Object = Object {
    elf: object!("keyed"),
    program: "mc_keyed",
    map: "target",
};
pub const QUEUE_STACK: Object = Object {
    elf: object!("queue_stack"),
    program: "mc_queue_stack",
    map: "target",
};
pub const BLOOM: Object = Object {
    elf: object!("bloom"),
    program: "mc_bloom",
    map: "target",
};
pub const RINGBUF: Object = Object {
    elf: object!("ringbuf"),
    program: "mc_ringbuf",
    map: "target",
};
pub const FOR_EACH: Object = Object {
    elf: object!("for_each"),
    program: "mc_for_each",
    map: "target",
};
pub const PERCPU_LOOKUP: Object = Object {
    elf: object!("percpu_lookup"),
    program: "mc_percpu_lookup",
    map: "target",
};
pub const REDIRECT: Object = Object {
    elf: object!("redirect"),
    program: "mc_redirect",
    map: "target",
};
pub const TAIL_CALL: Object = Object {
    elf: object!("tail_call"),
    program: "mc_tail_call",
    map: "target",
};
pub const PERF_OUTPUT: Object = Object {
    elf: object!("perf_output"),
    program: "mc_perf_output",
    map: "target",
};
/// The `redirect` step's program: same ELF as [`REDIRECT`], run on real frames.
pub const REDIRECT_PKT: Object = Object {
    elf: object!("redirect"),
    program: "mc_redirect_pkt",
    map: "target",
};
/// The programs a case declares as objects (`program: xdp`, …); no map.
pub const FD_PROGS: &[u8] = object!("fd_progs");

pub const XDP_STATS: Object = Object {
    elf: object!("xdp_stats"),
    program: "mc_xdp_stats",
    map: "xdp_stats_map",
};

/// Every embedded object (the helper families and the traffic counter).
#[cfg(test)]
pub const ALL: [Object; 11] = [
    REDIRECT_PKT,
    KEYED,
    QUEUE_STACK,
    BLOOM,
    RINGBUF,
    FOR_EACH,
    PERCPU_LOOKUP,
    REDIRECT,
    TAIL_CALL,
    PERF_OUTPUT,
    XDP_STATS,
];

pub fn for_family(family: Family) -> Object {
    match family {
        Family::Keyed => KEYED,
        Family::QueueStack => QUEUE_STACK,
        Family::Bloom => BLOOM,
        Family::Ringbuf => RINGBUF,
        Family::ForEach => FOR_EACH,
        Family::PercpuLookup => PERCPU_LOOKUP,
        Family::Redirect => REDIRECT,
        Family::TailCall => TAIL_CALL,
        Family::PerfOutput => PERF_OUTPUT,
    }
}

#[cfg(test)]
mod tests {
    use super::ALL;

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
