//! Names a case file may use for kernel constants: map types, flags and errnos.
//!
//! Every table here mirrors `include/uapi/linux/bpf.h` (and `errno.h` / the kernel-internal
//! `include/linux/errno.h` for ENOTSUPP), so a case never carries a bare number.

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

/// `enum bpf_map_type`, snake_case without the `BPF_MAP_TYPE_` prefix.
pub const MAP_TYPES: Table = Table {
    what: "map type",
    entries: &[
        ("hash", 1),
        ("array", 2),
        ("prog_array", 3),
        ("perf_event_array", 4),
        ("percpu_hash", 5),
        ("percpu_array", 6),
        ("stack_trace", 7),
        ("cgroup_array", 8),
        ("lru_hash", 9),
        ("lru_percpu_hash", 10),
        ("lpm_trie", 11),
        ("array_of_maps", 12),
        ("hash_of_maps", 13),
        ("devmap", 14),
        ("sockmap", 15),
        ("cpumap", 16),
        ("xskmap", 17),
        ("sockhash", 18),
        ("cgroup_storage", 19),
        ("reuseport_sockarray", 20),
        ("percpu_cgroup_storage", 21),
        ("queue", 22),
        ("stack", 23),
        ("sk_storage", 24),
        ("devmap_hash", 25),
        ("struct_ops", 26),
        ("ringbuf", 27),
        ("inode_storage", 28),
        ("task_storage", 29),
        ("bloom_filter", 30),
        ("user_ringbuf", 31),
        ("cgrp_storage", 32),
        ("arena", 33),
    ],
};

/// `BPF_F_*` flags valid in `map_flags` of BPF_MAP_CREATE.
pub const MAP_FLAGS: Table = Table {
    what: "map flag",
    entries: &[
        ("no_prealloc", 1 << 0),
        ("no_common_lru", 1 << 1),
        ("numa_node", 1 << 2),
        ("rdonly", 1 << 3),
        ("wronly", 1 << 4),
        ("stack_build_id", 1 << 5),
        ("zero_seed", 1 << 6),
        ("rdonly_prog", 1 << 7),
        ("wronly_prog", 1 << 8),
        ("clone", 1 << 9),
        ("mmapable", 1 << 10),
        ("preserve_elems", 1 << 11),
        ("inner_map", 1 << 12),
        ("link", 1 << 13),
        ("path_fd", 1 << 14),
        ("vtype_btf_obj_fd", 1 << 15),
        ("token_fd", 1 << 16),
        ("segv_on_fault", 1 << 17),
        ("no_user_conv", 1 << 18),
    ],
};

/// Flags of BPF_MAP_UPDATE_ELEM / LOOKUP_ELEM / LOOKUP_AND_DELETE_ELEM and the batch
/// `elem_flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`.
pub const ELEM_FLAGS: Table = Table {
    what: "element flag",
    entries: &[("any", 0), ("noexist", 1), ("exist", 2), ("lock", 4)],
};

/// Errno names a step may expect or report. ENOTSUPP (524) is kernel-internal but leaks
/// out of bpf(2) for several map types, so it is listed.
pub const ERRNOS: Table = Table {
    what: "errno",
    entries: &[
        ("EPERM", 1),
        ("ENOENT", 2),
        ("ESRCH", 3),
        ("EINTR", 4),
        ("EIO", 5),
        ("ENXIO", 6),
        ("E2BIG", 7),
        ("ENOEXEC", 8),
        ("EBADF", 9),
        ("EAGAIN", 11),
        ("ENOMEM", 12),
        ("EACCES", 13),
        ("EFAULT", 14),
        ("EBUSY", 16),
        ("EEXIST", 17),
        ("EXDEV", 18),
        ("ENODEV", 19),
        ("ENOTDIR", 20),
        ("EISDIR", 21),
        ("EINVAL", 22),
        ("ENFILE", 23),
        ("EMFILE", 24),
        ("ENOTTY", 25),
        ("EFBIG", 27),
        ("ENOSPC", 28),
        ("EROFS", 30),
        ("EMLINK", 31),
        ("ERANGE", 34),
        ("EDEADLK", 35),
        ("ENAMETOOLONG", 36),
        ("ENOSYS", 38),
        ("ENOTEMPTY", 39),
        ("ELOOP", 40),
        ("ENODATA", 61),
        ("EOVERFLOW", 75),
        ("EBADFD", 77),
        ("ENOTSOCK", 88),
        ("EOPNOTSUPP", 95),
        ("ENOBUFS", 105),
        ("ETIMEDOUT", 110),
        ("ECANCELED", 125),
        ("ENOTSUPP", 524),
    ],
};

/// The name of an errno number; numbers outside the table become `errno<N>` so a result
/// is always recorded, and a reviewer sees the raw value.
pub fn errno_name(errno: i32) -> String {
    match ERRNOS.name(errno as u64) {
        Some(name) => name.to_string(),
        None => format!("errno{errno}"),
    }
}

/// The `BPF_MAP_TYPE_*` number of a map type name.
pub fn map_type_name(ty: u32) -> String {
    match MAP_TYPES.name(ty as u64) {
        Some(name) => name.to_string(),
        None => format!("map_type{ty}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_and_have_no_duplicates() {
        for table in [&MAP_TYPES, &MAP_FLAGS, &ELEM_FLAGS, &ERRNOS] {
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
        assert_eq!(errno_name(17), "EEXIST");
        assert_eq!(errno_name(524), "ENOTSUPP");
        assert_eq!(errno_name(4095), "errno4095");
    }
}
