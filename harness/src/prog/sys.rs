//! The few raw bpf(2) calls this layer needs beyond aya (pin an fd, map info, lookup).

use std::{
    ffi::CString,
    io,
    mem,
    os::{
        fd::{AsRawFd as _, BorrowedFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
};

use aya_obj::generated::{bpf_attr, bpf_cmd, bpf_map_info};

fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i64> {
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            mem::size_of::<bpf_attr>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// BPF_OBJ_PIN: pins `fd` at `path` (which must be on a bpffs).
pub(crate) fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut attr: bpf_attr = unsafe { mem::zeroed() };
    let a = unsafe { &mut attr.__bindgen_anon_4 };
    a.pathname = c.as_ptr() as u64;
    a.bpf_fd = fd.as_raw_fd() as u32;
    sys_bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map(drop)
}

/// What the kernel says about a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelMapInfo {
    pub id: u32,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
}

/// BPF_OBJ_GET_INFO_BY_FD on a map fd.
pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<KernelMapInfo> {
    let mut info: bpf_map_info = unsafe { mem::zeroed() };
    let mut attr: bpf_attr = unsafe { mem::zeroed() };
    let a = unsafe { &mut attr.info };
    a.bpf_fd = fd.as_raw_fd() as u32;
    a.info_len = mem::size_of::<bpf_map_info>() as u32;
    a.info = &mut info as *mut _ as u64;
    sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(KernelMapInfo {
        id: info.id,
        map_type: info.type_,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        map_flags: info.map_flags,
    })
}

/// BPF_MAP_LOOKUP_ELEM into `value` (which must hold the whole value: for per-CPU
/// maps round_up(value_size, 8) * possible CPUs).
pub(crate) fn map_lookup(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut attr: bpf_attr = unsafe { mem::zeroed() };
    let a = unsafe { &mut attr.__bindgen_anon_2 };
    a.map_fd = fd.as_raw_fd() as u32;
    a.key = key.as_ptr() as u64;
    a.__bindgen_anon_1.value = value.as_mut_ptr() as u64;
    sys_bpf(bpf_cmd::BPF_MAP_LOOKUP_ELEM, &mut attr).map(drop)
}
