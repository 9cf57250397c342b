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
/// `ebpf/sockets.c`: socket map lookup and delete from XDP (test run), and the sk_skb/sk_msg
/// programs attached to socket maps (see [`socket_program`]).
pub const SOCK_LOOKUP: Object = Object {
    elf: object!("sockets"),
    program: "mc_sock_lookup",
    map: "target",
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
    Object { program, ..SOCK_LOOKUP }
}

pub const XDP_STATS: Object = Object {
    elf: object!("xdp_stats"),
    program: "mc_xdp_stats",
    map: "xdp_stats_map",
};

/// Every embedded object (the helper families and the traffic counter).
#[cfg(test)]
pub const ALL: [Object; 10] = [
    KEYED,
    QUEUE_STACK,
    BLOOM,
    RINGBUF,
    FOR_EACH,
    PERCPU_LOOKUP,
    SOCK_LOOKUP,
    SOCK_DELETE,
    SOCK_UPDATE,
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
        Family::SockLookup => SOCK_LOOKUP,
        Family::SockDelete => SOCK_DELETE,
        Family::SockUpdate => SOCK_UPDATE,
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
