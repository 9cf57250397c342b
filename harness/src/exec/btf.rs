//! A map's `btf:` made real before BPF_MAP_CREATE: the case's key/value types loaded with
//! BPF_BTF_LOAD (the fd is kept by the runner and closed with the case), and a struct_ops
//! value type's id read from the running kernel's BTF (`/sys/kernel/btf/vmlinux`, parsed
//! once per process) — ids differ from kernel to kernel and never appear in a case.
use crate::bpf::sys;
use crate::case::btf::MapBtf;
use aya_obj::btf::{Btf, BtfKind};
use std::os::fd::OwnedFd;
use std::sync::OnceLock;

/// What BPF_MAP_CREATE gets from a map's `btf:`.
#[derive(Default)]
pub(super) struct Loaded {
    pub fd: Option<OwnedFd>,
    pub key_type_id: u32,
    pub value_type_id: u32,
    pub vmlinux_value_type_id: u32,
}

/// Loads the map's BTF. `Err` says why the map cannot be created as declared: the
/// kernel refused the BTF (its errno and log line), or the running kernel's BTF has no
/// such struct — the step's `{not_run: …}`.
pub(super) fn load(btf: &MapBtf) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    if let Some(blob) = btf.blob() {
        let fd = sys::btf_load(&blob.bytes).map_err(|(e, log)| {
            let errno = crate::uapi::Errno::of(&e);
            format!("BPF_BTF_LOAD refused the map's BTF: {errno} ({log})")
        })?;
        loaded.fd = Some(fd);
        loaded.key_type_id = blob.key_type_id;
        loaded.value_type_id = blob.value_type_id;
    }
    if let Some(name) = &btf.vmlinux_value {
        loaded.vmlinux_value_type_id = vmlinux_struct_id(name)?;
        kernel_btf_parsed()?;
    }
    Ok(loaded)
}

/// Makes the kernel parse its own BTF (once per process; see
/// [`sys::load_trivial_program`]), so a struct_ops map's result does not depend on whether
/// an earlier case happened to load a program.
fn kernel_btf_parsed() -> Result<(), String> {
    static PARSED: OnceLock<Result<(), String>> = OnceLock::new();
    PARSED
        .get_or_init(|| sys::load_trivial_program().map_err(|e| format!("loading a trivial program first: {e}")))
        .clone()
}

fn vmlinux() -> Result<&'static Btf, String> {
    static VMLINUX: OnceLock<Result<Btf, String>> = OnceLock::new();
    VMLINUX
        .get_or_init(|| Btf::from_sys_fs().map_err(|e| format!("reading /sys/kernel/btf/vmlinux: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// The id of `struct NAME` in the running kernel's BTF.
fn vmlinux_struct_id(name: &str) -> Result<u32, String> {
    vmlinux()?
        .id_by_type_name_kind(name, BtfKind::Struct)
        .map_err(|_| format!("this kernel's BTF has no struct {name}"))
}
