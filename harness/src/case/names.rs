//! Names a case file may use for kernel constants: map types, flags and errnos.
//!
//! The tables themselves are the kernel's vocabulary and live in [`crate::uapi`] (checked
//! there against aya-obj's uapi bindings and the kernels' BTF), so a case never carries a
//! bare number and the harness never spells one.
pub use crate::uapi::{Table, ELEM_FLAGS, ERRNOS, MAP_FLAGS, MAP_TYPES, PROT, RINGBUF_FLAGS, STACKID_FLAGS};

/// The map declarations of `ebpf/declared.c` a case map may name with `elf:` (created by
/// the loader; `prog::declared` checks this list against the object).
pub const DECLARED_MAPS: &[&str] = &[
    "decl_hash",
    "decl_array",
    "decl_noprealloc",
    "decl_lock_hash",
    "decl_lock_array",
    "decl_name_longer_than_15",
    "decl_queue",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::Errno;

    #[test]
    fn tables_round_trip_and_have_no_duplicates() {
        for table in [&MAP_TYPES, &MAP_FLAGS, &ELEM_FLAGS, &RINGBUF_FLAGS, &STACKID_FLAGS, &PROT, &ERRNOS] {
            for (name, value) in table.entries {
                assert_eq!(table.value(name), Some(*value), "{name}");
                assert_eq!(table.name(*value), Some(*name), "{name}");
            }
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = MAP_TYPES.lookup("hsah").unwrap_err();
        assert!(
            err.starts_with("unknown map type `hsah`, expected one of: hash, array,"),
            "{err}"
        );
        assert!(err.ends_with("arena, insn_array, rhash"), "{err}");
        assert_eq!(Errno(17).to_string(), "EEXIST");
        assert_eq!(Errno(524).to_string(), "ENOTSUPP");
        assert_eq!(Errno(4095).to_string(), "errno4095");
    }
}
