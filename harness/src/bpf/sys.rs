//! The raw bpf(2) calls aya 0.14 does not offer with runtime sizes: map create with every
//! attribute, element ops on byte slices (NULL key allowed), get_next_key from any key,
//! lookup_and_delete on any map, freeze, batch ops, pin/get and map info.
//!
//! Each call fills the matching member of `union bpf_attr` (from aya-obj's generated uapi
//! bindings) and returns the kernel's errno untouched: no client-side check may hide what
//! the kernel would say about the *arguments*. What the harness does check is its own
//! memory: element and batch calls exist only as methods of [`MapHandle`], which knows the
//! map's real sizes (BPF_OBJ_GET_INFO_BY_FD, not a case's declaration) and refuses, before
//! the syscall, any buffer smaller than what the kernel will read or write
//! ([`CallError::Buffer`]). The only `unsafe` is the syscall itself and the union accesses,
//! all private to this file.
use crate::uapi::{ElemFlags, Errno, MapFlags, MapType};
use aya_obj::generated::{bpf_attr, bpf_cmd, bpf_map_info};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

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
    /// BTF of the key and value types (`btf_fd`, 0 ids for none) and, for struct_ops, the
    /// id of the kernel's value type in vmlinux BTF.
    pub btf_fd: Option<BorrowedFd<'a>>,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
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
    u.btf_fd = a.btf_fd.map_or(0, |fd| fd.as_raw_fd() as u32);
    u.btf_key_type_id = a.btf_key_type_id;
    u.btf_value_type_id = a.btf_value_type_id;
    u.btf_vmlinux_value_type_id = a.btf_vmlinux_value_type_id;
    if let Some(name) = a.name {
        for (dst, src) in u.map_name.iter_mut().zip(name.bytes().take(15)) {
            *dst = src as libc::c_char;
        }
    }
    sys_bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr).map(owned)
}

/// BPF_BTF_LOAD of a BTF blob. On refusal, the errno and the first line of the kernel's
/// verifier log that says why (asked for again with a log buffer).
pub fn btf_load(blob: &[u8]) -> Result<OwnedFd, (io::Error, String)> {
    let load = |log: Option<&mut [u8]>| {
        let mut attr = zeroed();
        // SAFETY: writing plain integers into the BTF-load member of the union.
        let u = unsafe { &mut attr.__bindgen_anon_7 };
        u.btf = blob.as_ptr() as u64;
        u.btf_size = blob.len() as u32;
        if let Some(log) = log {
            u.btf_log_buf = log.as_mut_ptr() as u64;
            u.btf_log_size = log.len() as u32;
            u.btf_log_level = 1;
        }
        sys_bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr).map(owned)
    };
    load(None).map_err(|e| {
        let mut log = vec![0u8; 4096];
        let _ = load(Some(&mut log));
        let text = String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)]).into_owned();
        let why = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        (e, why)
    })
}

/// Loads and closes a two-instruction socket filter (`r0 = 0; exit`). The verifier's
/// first run parses the kernel's own BTF, and only then do older kernels (5.10) know the
/// ids of their struct_ops value types (`bpf_struct_ops_init()` runs from
/// `btf_parse_vmlinux()`): loaders always load programs before struct_ops maps, so the
/// harness does this once before creating one.
pub fn load_trivial_program() -> io::Result<()> {
    // BPF_ALU64 | BPF_MOV | BPF_K (r0 = 0), then BPF_JMP | BPF_EXIT.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the prog-load member of the union; insns and
    // license outlive the call.
    let u = unsafe { &mut attr.__bindgen_anon_3 };
    u.prog_type = aya_obj::generated::bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
    u.insn_cnt = insns.len() as u32;
    u.insns = insns.as_ptr() as u64;
    u.license = license.as_ptr() as u64;
    sys_bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr).map(|fd| drop(owned(fd)))
}

/// A map's attributes as the kernel reports them (BPF_OBJ_GET_INFO_BY_FD), never as a
/// case declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapInfo {
    pub map_type: MapType,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: MapFlags,
}

impl MapInfo {
    pub fn of(fd: BorrowedFd) -> io::Result<MapInfo> {
        let i = map_info(fd)?;
        Ok(MapInfo {
            map_type: MapType(i.type_),
            id: i.id,
            key_size: i.key_size,
            value_size: i.value_size,
            max_entries: i.max_entries,
            map_flags: MapFlags(i.map_flags),
        })
    }

    /// Bytes of one value as bpf(2) moves it for this map — the kernel's
    /// `bpf_map_value_size()`: per-CPU maps one `round_up(value_size, 8)` slot per possible
    /// CPU, fd maps (map-in-map, prog array, …) a u32, every other map `value_size`.
    pub fn value_len(&self, possible_cpus: usize) -> usize {
        let size = self.value_size as usize;
        if self.map_type.is_percpu() {
            size.div_ceil(8) * 8 * possible_cpus
        } else if self.map_type.is_fd_map() {
            size.max(4)
        } else {
            size
        }
    }

    /// Bytes of a batch token (`in_batch`/`out_batch`): a u32 bucket for hash maps, a key
    /// for the generic (array) batch code.
    pub fn batch_token_len(&self) -> usize {
        (self.key_size as usize).max(4)
    }
}

impl std::fmt::Display for MapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} key_size {} value_size {} max_entries {}",
            self.map_type, self.key_size, self.value_size, self.max_entries
        )
    }
}

/// Why a bounded call did not return normally.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The kernel's answer.
    #[error("{0}")]
    Kernel(Errno),
    /// A buffer too small for what the kernel would read or write for this map: the call
    /// was not made. A harness bug or a case whose maps are not what it declares, never a
    /// kernel behaviour.
    #[error("{what} buffer has {len} bytes, the kernel needs {need} for this map ({info}); call not made")]
    Buffer {
        what: &'static str,
        len: usize,
        need: usize,
        info: MapInfo,
    },
}

impl CallError {
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CallError::Kernel(e) => Some(*e),
            CallError::Buffer { .. } => None,
        }
    }
}

fn kernel(r: io::Result<i64>) -> Result<(), CallError> {
    r.map(|_| ()).map_err(|e| CallError::Kernel(Errno::of(&e)))
}

/// A map fd with its real attributes. Every element and batch call goes through it and
/// checks each buffer against the sizes the kernel will use *before* the syscall, so a
/// lookup can never make the kernel write past a buffer, whatever a case declares.
#[derive(Debug)]
pub struct MapHandle {
    fd: OwnedFd,
    info: MapInfo,
    possible_cpus: usize,
}

/// The number of possible CPUs, read once: the slot count of per-CPU values.
fn cached_possible_cpus() -> io::Result<usize> {
    static CPUS: OnceLock<usize> = OnceLock::new();
    if let Some(n) = CPUS.get() {
        return Ok(*n);
    }
    let n = possible_cpus()?;
    Ok(*CPUS.get_or_init(|| n))
}

impl MapHandle {
    /// Take ownership of a map fd and ask the kernel what the map is.
    pub fn open(fd: OwnedFd) -> io::Result<MapHandle> {
        let info = MapInfo::of(fd.as_fd())?;
        Ok(MapHandle {
            fd,
            info,
            possible_cpus: cached_possible_cpus()?,
        })
    }

    /// A handle on a borrowed fd (a duplicate is taken).
    pub fn from_borrowed(fd: BorrowedFd) -> io::Result<MapHandle> {
        MapHandle::open(fd.try_clone_to_owned()?)
    }

    pub fn try_clone(&self) -> io::Result<MapHandle> {
        Ok(MapHandle {
            fd: self.fd.try_clone()?,
            info: self.info,
            possible_cpus: self.possible_cpus,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    pub fn key_len(&self) -> usize {
        self.info.key_size as usize
    }

    /// See [`MapInfo::value_len`].
    pub fn value_len(&self) -> usize {
        self.info.value_len(self.possible_cpus)
    }

    fn check(&self, what: &'static str, len: usize, need: usize) -> Result<(), CallError> {
        if len >= need {
            Ok(())
        } else {
            Err(CallError::Buffer {
                what,
                len,
                need,
                info: self.info,
            })
        }
    }

    /// `key: None` is NULL (queue, stack, bloom filter); a key has at least `key_size` bytes.
    fn check_key(&self, key: Option<&[u8]>) -> Result<(), CallError> {
        key.map_or(Ok(()), |k| self.check("key", k.len(), self.key_len()))
    }

    fn elem(&self, cmd: bpf_cmd, key: Option<&[u8]>, value: u64, flags: u64) -> Result<(), CallError> {
        let mut attr = zeroed();
        // SAFETY: writing plain integers into the element-op member of the union.
        let u = unsafe { &mut attr.__bindgen_anon_2 };
        u.map_fd = self.fd.as_raw_fd() as u32;
        u.key = ptr(key);
        u.__bindgen_anon_1.value = value;
        u.flags = flags;
        kernel(sys_bpf(cmd, &mut attr))
    }

    /// BPF_MAP_UPDATE_ELEM (`key: None`: push on a queue/stack, add to a bloom filter).
    pub fn update(&self, key: Option<&[u8]>, value: &[u8], flags: ElemFlags) -> Result<(), CallError> {
        self.check_key(key)?;
        self.check("value", value.len(), self.value_len())?;
        self.elem(bpf_cmd::BPF_MAP_UPDATE_ELEM, key, value.as_ptr() as u64, flags.0)
    }

    /// BPF_MAP_LOOKUP_ELEM into `value` (per-CPU: every slot). For a bloom filter (`key:
    /// None`), `value` holds the value to check on input.
    pub fn lookup(&self, key: Option<&[u8]>, value: &mut [u8], flags: ElemFlags) -> Result<(), CallError> {
        self.check_key(key)?;
        self.check("value", value.len(), self.value_len())?;
        self.elem(bpf_cmd::BPF_MAP_LOOKUP_ELEM, key, value.as_mut_ptr() as u64, flags.0)
    }

    pub fn delete(&self, key: Option<&[u8]>) -> Result<(), CallError> {
        self.check_key(key)?;
        self.elem(bpf_cmd::BPF_MAP_DELETE_ELEM, key, 0, 0)
    }

    /// BPF_MAP_LOOKUP_AND_DELETE_ELEM (`key: None`: pop from a queue/stack).
    pub fn lookup_and_delete(&self, key: Option<&[u8]>, value: &mut [u8], flags: ElemFlags) -> Result<(), CallError> {
        self.check_key(key)?;
        self.check("value", value.len(), self.value_len())?;
        self.elem(
            bpf_cmd::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            key,
            value.as_mut_ptr() as u64,
            flags.0,
        )
    }

    /// BPF_MAP_GET_NEXT_KEY; `key: None` asks for the first key.
    pub fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), CallError> {
        self.check_key(key)?;
        self.check("next key", next.len(), self.key_len())?;
        self.elem(bpf_cmd::BPF_MAP_GET_NEXT_KEY, key, next.as_mut_ptr() as u64, 0)
    }

    pub fn freeze(&self) -> Result<(), CallError> {
        self.elem(bpf_cmd::BPF_MAP_FREEZE, None, 0, 0)
    }

    /// `ptrs`: in_batch, out_batch, keys, values (0 for NULL), checked by the callers.
    fn batch(&self, cmd: bpf_cmd, ptrs: [u64; 4], count: u32, flags: ElemFlags) -> (u32, Result<(), CallError>) {
        let mut attr = zeroed();
        // SAFETY: writing plain integers into the batch member of the union.
        let b = unsafe { &mut attr.batch };
        b.map_fd = self.fd.as_raw_fd() as u32;
        let [in_batch, out_batch, keys, values] = ptrs;
        b.in_batch = in_batch;
        b.out_batch = out_batch;
        b.keys = keys;
        b.values = values;
        b.count = count;
        b.elem_flags = flags.0;
        let res = kernel(sys_bpf(cmd, &mut attr));
        // SAFETY: reading back the integer the kernel wrote.
        (unsafe { attr.batch.count }, res)
    }

    /// `count` elements of `len` bytes each.
    fn check_batch(&self, what: &'static str, len: usize, count: u32, each: usize) -> Result<(), CallError> {
        self.check(what, len, (count as usize).saturating_mul(each))
    }

    /// BPF_MAP_UPDATE_BATCH of `count` keys and values. Returns how many elements the
    /// kernel processed (`count` out), also on error.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        flags: ElemFlags,
    ) -> (u32, Result<(), CallError>) {
        let checked = self
            .check_batch("batch keys", keys.len(), count, self.key_len())
            .and_then(|()| self.check_batch("batch values", values.len(), count, self.value_len()));
        if let Err(e) = checked {
            return (0, Err(e));
        }
        let ptrs = [0, 0, keys.as_ptr() as u64, values.as_ptr() as u64];
        self.batch(bpf_cmd::BPF_MAP_UPDATE_BATCH, ptrs, count, flags)
    }

    /// BPF_MAP_DELETE_BATCH of `count` keys.
    pub fn delete_batch(&self, keys: &[u8], count: u32, flags: ElemFlags) -> (u32, Result<(), CallError>) {
        if let Err(e) = self.check_batch("batch keys", keys.len(), count, self.key_len()) {
            return (0, Err(e));
        }
        let ptrs = [0, 0, keys.as_ptr() as u64, 0];
        self.batch(bpf_cmd::BPF_MAP_DELETE_BATCH, ptrs, count, flags)
    }

    /// One BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH) call of up to `count`
    /// elements, continuing from `in_batch` (None: from the start). ENOENT means "no more
    /// elements" and may come with a count.
    pub fn lookup_batch(&self, and_delete: bool, io: LookupBatch<'_>, flags: ElemFlags) -> (u32, Result<(), CallError>) {
        let token = self.info.batch_token_len();
        let checked = io
            .in_batch
            .map_or(Ok(()), |b| self.check("in_batch", b.len(), token))
            .and_then(|()| self.check("out_batch", io.out_batch.len(), token))
            .and_then(|()| self.check_batch("batch keys", io.keys.len(), io.count, self.key_len()))
            .and_then(|()| self.check_batch("batch values", io.values.len(), io.count, self.value_len()));
        if let Err(e) = checked {
            return (0, Err(e));
        }
        let cmd = if and_delete {
            bpf_cmd::BPF_MAP_LOOKUP_AND_DELETE_BATCH
        } else {
            bpf_cmd::BPF_MAP_LOOKUP_BATCH
        };
        let ptrs = [
            ptr(io.in_batch),
            io.out_batch.as_mut_ptr() as u64,
            io.keys.as_mut_ptr() as u64,
            io.values.as_mut_ptr() as u64,
        ];
        self.batch(cmd, ptrs, io.count, flags)
    }
}

/// The buffers of one lookup batch call.
pub struct LookupBatch<'a> {
    pub in_batch: Option<&'a [u8]>,
    pub out_batch: &'a mut [u8],
    pub keys: &'a mut [u8],
    pub values: &'a mut [u8],
    pub count: u32,
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

/// BPF_PROG_ATTACH / BPF_PROG_DETACH of program `prog` to the object `target` (a socket
/// map: `sock_map_get_from_fd()` / `sock_map_prog_detach()`) as `attach_type`.
pub fn prog_attach(target: BorrowedFd, prog: BorrowedFd, attach_type: u32, detach: bool) -> io::Result<()> {
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the prog attach/detach member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_5 };
    u.__bindgen_anon_1.target_fd = target.as_raw_fd() as u32;
    u.attach_bpf_fd = prog.as_raw_fd() as u32;
    u.attach_type = attach_type;
    let cmd = if detach {
        bpf_cmd::BPF_PROG_DETACH
    } else {
        bpf_cmd::BPF_PROG_ATTACH
    };
    sys_bpf(cmd, &mut attr).map(|_| ())
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
    map_info_reported(fd).map(|(info, _)| info)
}

/// BPF_OBJ_GET_INFO_BY_FD and the number of bytes the kernel filled in: its own struct's
/// size when smaller than ours (5.10's `struct bpf_map_info` ends before `map_extra`), so
/// a field past that length was not reported, rather than reported as 0.
pub fn map_info_reported(fd: BorrowedFd) -> io::Result<(bpf_map_info, usize)> {
    // SAFETY: bpf_map_info is plain integers.
    let mut info: bpf_map_info = unsafe { std::mem::zeroed() };
    let mut attr = zeroed();
    // SAFETY: writing plain integers into the info member of the union.
    let u = unsafe { &mut attr.info };
    u.bpf_fd = fd.as_raw_fd() as u32;
    u.info_len = std::mem::size_of::<bpf_map_info>() as u32;
    u.info = &mut info as *mut _ as u64;
    sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    // SAFETY: reading back the integer the kernel wrote.
    let len = unsafe { attr.info.info_len } as usize;
    Ok((info, len.min(std::mem::size_of::<bpf_map_info>())))
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
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(super::parse_cpu_list("0"), Some(1));
        assert_eq!(super::parse_cpu_list("0-1"), Some(2));
        assert_eq!(super::parse_cpu_list("0-3,5"), Some(6));
        assert_eq!(super::parse_cpu_list("x"), None);
    }

    fn array(value_size: u32) -> MapHandle {
        let attr = CreateAttr {
            map_type: MapType::ARRAY.0,
            key_size: 4,
            value_size,
            max_entries: 2,
            ..Default::default()
        };
        MapHandle::open(map_create(&attr).expect("bpf(2) needs root or CAP_BPF")).unwrap()
    }

    /// The bounded layer refuses, before the syscall, any buffer smaller than the map's
    /// real sizes: the 64 KiB value of a map looked up into 4 bytes is never written.
    #[test]
    fn buffers_are_checked_against_the_maps_real_sizes() {
        let big = array(65536);
        assert_eq!(big.info().value_size, 65536);
        let mut small = [0u8; 4];
        let err = big
            .lookup(Some(&0u32.to_le_bytes()), &mut small, ElemFlags::ANY)
            .unwrap_err();
        assert!(
            matches!(
                err,
                CallError::Buffer {
                    what: "value",
                    len: 4,
                    need: 65536,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            big.update(Some(&[0u8; 2]), &vec![0; 65536], ElemFlags::ANY).is_err(),
            "short key"
        );
        assert!(big.get_next_key(None, &mut [0u8; 3]).is_err(), "short next key");
        let (n, res) = big.update_batch(&[0u8; 8], &vec![0; 65536], 2, ElemFlags::ANY);
        assert!(
            n == 0
                && matches!(
                    res,
                    Err(CallError::Buffer {
                        what: "batch values",
                        ..
                    })
                )
        );
        let (mut out, mut keys, mut values) = ([0u8; 8], [0u8; 8], vec![0u8; 65536]);
        let io = LookupBatch {
            in_batch: None,
            out_batch: &mut out,
            keys: &mut keys,
            values: &mut values,
            count: 2,
        };
        assert!(matches!(big.lookup_batch(false, io, ElemFlags::ANY).1, Err(CallError::Buffer { .. })));
        // Right-sized buffers reach the kernel, whose answers are untouched.
        let mut value = vec![0u8; 65536];
        big.lookup(Some(&0u32.to_le_bytes()), &mut value, ElemFlags::ANY)
            .unwrap();
        let err = big
            .lookup(Some(&9u32.to_le_bytes()), &mut value, ElemFlags::ANY)
            .unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
    }

    #[test]
    fn per_cpu_values_need_a_slot_per_possible_cpu() {
        let info = MapInfo {
            map_type: MapType::PERCPU_HASH,
            id: 0,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: MapFlags::default(),
        };
        assert_eq!(info.value_len(2), 16);
        let outer = MapInfo {
            map_type: MapType::ARRAY_OF_MAPS,
            value_size: 0,
            ..info
        };
        assert_eq!(outer.value_len(2), 4, "fd maps move a u32");
    }
}
