//! The raw bpf(2) calls aya 0.14 does not offer with runtime sizes: map create with every
//! attribute, element ops on byte slices (NULL key allowed), get_next_key from any key,
//! lookup_and_delete on any map, freeze, batch ops, pin/get and map info.
//!
//! Each call fills the matching member of `union bpf_attr` (from aya-obj's generated uapi
//! bindings) and returns the kernel's errno untouched: no client-side check may hide what
//! the kernel would say.
use aya_obj::generated::{bpf_attr, bpf_cmd, bpf_map_info};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i64> {
    // SAFETY: attr is a valid, zero-initialised bpf_attr that lives across the call; every
    // pointer stored in it refers to a buffer the caller keeps alive for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn zeroed() -> bpf_attr {
    // SAFETY: bpf_attr is a plain C union of integers; all-zero is its documented default
    // (the kernel requires unused tail bytes to be zero).
    unsafe { std::mem::zeroed() }
}

fn ptr(buf: Option<&[u8]>) -> u64 {
    buf.map_or(0, |b| b.as_ptr() as u64)
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Attributes of BPF_MAP_CREATE.
#[derive(Debug, Clone, Default)]
pub struct CreateAttr<'a> {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    /// Raw, so a case can also pass an invalid fd (-1) on purpose.
    pub inner_map_fd: Option<u32>,
    pub numa_node: u32,
    pub name: Option<&'a str>,
    pub map_extra: u64,
}

pub fn map_create(a: &CreateAttr) -> io::Result<OwnedFd> {
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the map-create member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_1 };
    u.map_type = a.map_type;
    u.key_size = a.key_size;
    u.value_size = a.value_size;
    u.max_entries = a.max_entries;
    u.map_flags = a.map_flags;
    u.inner_map_fd = a.inner_map_fd.unwrap_or(0);
    u.numa_node = a.numa_node;
    u.map_extra = a.map_extra;
    if let Some(name) = a.name {
        for (dst, src) in u.map_name.iter_mut().zip(name.bytes().take(15)) {
            *dst = src as libc::c_char;
        }
    }
    sys_bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr).map(owned)
}

/// The element commands: `key` may be NULL (queue, stack, bloom filter).
fn elem(cmd: bpf_cmd, fd: BorrowedFd, key: Option<&[u8]>, value: u64, flags: u64) -> io::Result<()> {
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the element-op member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_2 };
    u.map_fd = fd.as_raw_fd() as u32;
    u.key = ptr(key);
    u.__bindgen_anon_1.value = value;
    u.flags = flags;
    sys_bpf(cmd, &mut attr).map(|_| ())
}

pub fn map_update(fd: BorrowedFd, key: Option<&[u8]>, value: &[u8], flags: u64) -> io::Result<()> {
    elem(bpf_cmd::BPF_MAP_UPDATE_ELEM, fd, key, value.as_ptr() as u64, flags)
}

/// `value` must be large enough for the map's value (per-CPU: every slot).
/// For a bloom filter, `value` holds the value to check on input.
pub fn map_lookup(fd: BorrowedFd, key: Option<&[u8]>, value: &mut [u8], flags: u64) -> io::Result<()> {
    elem(bpf_cmd::BPF_MAP_LOOKUP_ELEM, fd, key, value.as_mut_ptr() as u64, flags)
}

pub fn map_delete(fd: BorrowedFd, key: Option<&[u8]>) -> io::Result<()> {
    elem(bpf_cmd::BPF_MAP_DELETE_ELEM, fd, key, 0, 0)
}

pub fn map_lookup_and_delete(fd: BorrowedFd, key: Option<&[u8]>, value: &mut [u8], flags: u64) -> io::Result<()> {
    elem(
        bpf_cmd::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
        fd,
        key,
        value.as_mut_ptr() as u64,
        flags,
    )
}

/// `key: None` asks for the first key.
pub fn map_get_next_key(fd: BorrowedFd, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<()> {
    elem(bpf_cmd::BPF_MAP_GET_NEXT_KEY, fd, key, next.as_mut_ptr() as u64, 0)
}

pub fn map_freeze(fd: BorrowedFd) -> io::Result<()> {
    elem(bpf_cmd::BPF_MAP_FREEZE, fd, None, 0, 0)
}

/// One batch call. Returns how many elements the kernel processed (`count` out), also on
/// error: ENOENT from lookup batch means "no more elements" and may come with a count.
pub struct BatchIo<'a> {
    pub in_batch: Option<&'a [u8]>,
    pub out_batch: Option<&'a mut [u8]>,
    pub keys: *mut u8,
    pub values: *mut u8,
    pub count: u32,
    pub elem_flags: u64,
}

pub fn map_batch(cmd: bpf_cmd, fd: BorrowedFd, io: BatchIo) -> (u32, io::Result<()>) {
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the batch member of the union.
    let b = unsafe { &mut attr.batch };
    b.map_fd = fd.as_raw_fd() as u32;
    b.in_batch = ptr(io.in_batch);
    b.out_batch = io.out_batch.map_or(0, |o| o.as_mut_ptr() as u64);
    b.keys = io.keys as u64;
    b.values = io.values as u64;
    b.count = io.count;
    b.elem_flags = io.elem_flags;
    let res = sys_bpf(cmd, &mut attr).map(|_| ());
    // SAFETY: reading back the integer the kernel wrote.
    (unsafe { attr.batch.count }, res)
}

fn path_attr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

pub fn obj_pin(fd: BorrowedFd, path: &Path) -> io::Result<()> {
    let c = path_attr(path)?;
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the obj pin/get member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_4 };
    u.pathname = c.as_ptr() as u64;
    u.bpf_fd = fd.as_raw_fd() as u32;
    sys_bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map(|_| ())
}

pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = path_attr(path)?;
    let mut attr = zeroed();
    // SAFETY: as in obj_pin.
    let u = unsafe { &mut attr.__bindgen_anon_4 };
    u.pathname = c.as_ptr() as u64;
    sys_bpf(bpf_cmd::BPF_OBJ_GET, &mut attr).map(owned)
}

pub fn map_info(fd: BorrowedFd) -> io::Result<bpf_map_info> {
    // SAFETY: bpf_map_info is plain integers.
    let mut info: bpf_map_info = unsafe { std::mem::zeroed() };
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the info member of the union.
    let u = unsafe { &mut attr.info };
    u.bpf_fd = fd.as_raw_fd() as u32;
    u.info_len = std::mem::size_of::<bpf_map_info>() as u32;
    u.info = &mut info as *mut _ as u64;
    sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info)
}

pub fn map_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the get-fd-by-id member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_6 };
    u.__bindgen_anon_1.map_id = id;
    sys_bpf(bpf_cmd::BPF_MAP_GET_FD_BY_ID, &mut attr).map(owned)
}

/// Number of possible CPUs: the slot count of per-CPU values in bpf(2).
pub fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    parse_cpu_list(text.trim()).ok_or_else(|| io::Error::other(format!("cannot parse cpu list `{}`", text.trim())))
}

/// `0-3,5` → 5 CPUs (the kernel counts up to the highest id + 1 for per-CPU slots).
pub fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut highest = None;
    for part in text.split(',') {
        let last = part.rsplit('-').next()?.trim().parse::<usize>().ok()?;
        highest = Some(highest.map_or(last, |h: usize| h.max(last)));
    }
    highest.map(|h| h + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists() {
        assert_eq!(super::parse_cpu_list("0"), Some(1));
        assert_eq!(super::parse_cpu_list("0-1"), Some(2));
        assert_eq!(super::parse_cpu_list("0-3,5"), Some(6));
        assert_eq!(super::parse_cpu_list("x"), None);
    }
}
