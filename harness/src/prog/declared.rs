//! Maps declared in a BPF object and created by the loader: the second creation path.
//!
//! `ebpf/declared.c` declares maps the way libbpf and aya users do (BTF-defined,
//! `SEC(".maps")`). A case map with `elf: NAME` is not made with BPF_MAP_CREATE by the
//! executor: aya's loader loads the object, which creates every map it declares (with the
//! object's BTF loaded into the kernel, the BTF key/value type ids, the declaration's name
//! truncated to 15 bytes, and its `map_flags`), and the case keeps the one it names — like
//! libbpf's `bpf_object__find_map_fd_by_name()`. The other maps go with the loader's
//! handle. Comparing such a map with the same declaration made by BPF_MAP_CREATE shows
//! what a loader adds.

use super::{
    bind::load_object,
    bpffs::ensure_bpffs,
    error::{errno_of, one_line},
};
use crate::bpf::sys;
use std::os::fd::OwnedFd;

static DECLARED: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/declared.o"));

/// The declarations of `ebpf/declared.c` (a unit test checks the list against the object).
pub use crate::case::names::DECLARED_MAPS as NAMES;

/// Why the loader gave no map.
#[derive(Debug)]
pub enum NotCreated {
    /// The kernel refused a map or the object's BTF: its errno is the result.
    Kernel(i32),
    /// Anything else (the object, bpffs): a harness problem.
    Other(String),
}

/// Loads the object and returns an fd of its map `name`. The object declares no global
/// and no map another object binds, so the harness's shared loader (`bind::load_object`,
/// one kernel BTF parse per run) loads it as it is.
pub fn create(name: &str) -> Result<OwnedFd, NotCreated> {
    let mut ebpf = load_object(DECLARED, &[], None).map_err(|e| match errno_of(&e) {
        Some(errno) => NotCreated::Kernel(errno),
        None => NotCreated::Other(one_line(&e)),
    })?;
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| NotCreated::Other(format!("ebpf/declared.c declares no map {name}")))?;
    // aya's `Map` gives its fd per variant; a pin is one call for all of them. The pin
    // lives only between these two calls, in a folder of this process.
    let dir = ensure_bpffs()
        .map_err(|e| NotCreated::Other(e.to_string()))?
        .join(format!("mapconform-declared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| NotCreated::Other(format!("mkdir {}: {e}", dir.display())))?;
    let pin = dir.join(name);
    let got = map
        .pin(&pin)
        .map_err(|e| NotCreated::Other(one_line(&e)))
        .and_then(|()| sys::obj_get(&pin).map_err(|e| NotCreated::Other(format!("BPF_OBJ_GET {}: {e}", pin.display()))));
    let _ = std::fs::remove_file(&pin);
    let _ = std::fs::remove_dir(&dir);
    got
}

#[cfg(test)]
mod tests {
    use super::{DECLARED, NAMES};

    #[test]
    fn names_are_the_objects_declarations() {
        let obj = aya_obj::Object::parse(DECLARED).expect("declared.o parses");
        let mut declared: Vec<&str> = obj.maps.keys().map(|k| k.as_str()).filter(|k| !k.starts_with('.')).collect();
        declared.sort();
        let mut names = NAMES.to_vec();
        names.sort();
        assert_eq!(declared, names);
        assert!(!obj.has_btf_relocations(), "declared.o has CO-RE relocations");
    }
}
