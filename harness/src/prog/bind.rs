//! Loading an object with its map declaration bound to an existing map.
//!
//! The map is pinned in a fresh directory on bpffs and aya's loader is pointed at the
//! pin (`EbpfLoader::map_pin_path`, the counterpart of libbpf's `bpf_map__reuse_fd`).
//! aya 0.14 then just BPF_OBJ_GETs the pin; it does not compare the pinned map's
//! type/key/value size with the ELF's declaration (libbpf would refuse a mismatch),
//! so one placeholder declaration binds any map. The pin is removed as soon as the
//! object is loaded: from then on the loaded program holds the map.
//!
//! Because a missing pin would make aya silently create (and pin) a new map of the
//! declared type, the binding is checked afterwards: the kernel's list of maps used by
//! the loaded program must contain the given map's id.

use std::{
    collections::HashMap,
    os::fd::BorrowedFd,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    sync::Mutex,
};

use aya::{
    programs::{Program, ProgramError},
    Ebpf, EbpfError, EbpfLoader,
};

use super::{
    bpffs::ensure_bpffs,
    error::{errno_of, one_line, verifier_reason},
    objects::Object,
    ProgError,
};
use crate::bpf::sys;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// One loader for every object and every thread, reused for every load: `EbpfLoader::new()`
/// parses the running kernel's BTF (/sys/kernel/btf/vmlinux, several MB) each time it is
/// called, measured as most of a program load (~20 ms on the host, ~140 ms in a TCG guest).
/// One per object, or per thread (the traffic steps run on threads of their own), parsed it
/// again for each: about ten times per run. [`load_object`] is its only user.
static LOADER: Mutex<Option<Loader>> = Mutex::new(None);

struct Loader {
    aya: EbpfLoader<'static>,
    /// Every global some load has set, with its default (zero) value: the loader keeps
    /// them all.
    globals: HashMap<&'static str, &'static [u8]>,
}

/// Loads `elf` with the shared loader: `globals` set in .rodata, and the map declaration
/// `pin.0` (if any) bound to the map pinned at `pin.1`. Every object the harness loads
/// (the request programs, `fd_progs.o`, `declared.o`) goes through here.
pub(crate) fn load_object(
    elf: &[u8],
    globals: &[(&'static str, &[u8])],
    pin: Option<(&'static str, &Path)>,
) -> Result<Ebpf, EbpfError> {
    let mut shared = LOADER.lock().unwrap_or_else(|e| e.into_inner());
    let loader = shared.get_or_insert_with(|| {
        let mut aya = loader_without_kernel_btf();
        // aya needs the kernel's BTF only for CO-RE relocations, and the objects have
        // none (`objects::tests::no_core_relocations`, `declared::tests` check).
        aya.btf(None);
        Loader {
            aya,
            globals: HashMap::new(),
        }
    });
    // Each call replaces the value a name had. A global an earlier load set goes back
    // to zero, every `volatile const`'s default in ebpf/ (one object may declare a
    // global another sets: sockets.c's XDP programs and its REDIRECT_KEY), and need
    // not exist here; this load's own must.
    for (name, zero) in &loader.globals {
        loader.aya.override_global(name, *zero, false);
    }
    for (name, bytes) in globals {
        loader.aya.override_global(name, intern(bytes), true);
        loader.globals.insert(name, intern(&vec![0; bytes.len()]));
    }
    if let Some((map, path)) = pin {
        loader.aya.map_pin_path(map, path.to_path_buf());
    }
    loader.aya.load(elf)
}

/// An `EbpfLoader` made without reading the kernel's BTF. aya 0.14 has no constructor that
/// skips it: `EbpfLoader::new()` always parses /sys/kernel/btf/vmlinux (measured: 27 ms on
/// the host, ~450 ms of a TCG guest's session) only for `.btf(None)` to drop it. So it is
/// made on a thread of its own, in a private mount namespace (`unshare(CLONE_NEWNS)`, every
/// mount made private so nothing propagates out) with an empty tmpfs over /sys/kernel/btf,
/// where aya finds no BTF. The namespace goes with the thread; the process's own view of
/// /sys never changes. Should any of it fail, the loader is made the ordinary way.
fn loader_without_kernel_btf() -> EbpfLoader<'static> {
    let made = std::thread::spawn(|| {
        // SAFETY: plain calls on this thread's own namespaces, with valid C strings.
        let hidden = unsafe {
            libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                && libc::mount(
                    c"none".as_ptr(),
                    c"/sys/kernel/btf".as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_RDONLY,
                    std::ptr::null(),
                ) == 0
        };
        hidden.then(EbpfLoader::new)
    })
    .join();
    match made {
        Ok(Some(loader)) => loader,
        _ => EbpfLoader::new(),
    }
}

/// A `'static` copy of a global's value, for the reused loaders. Values are few and small
/// (a map's value size, a port), so each distinct one is kept for the life of the process.
fn intern(bytes: &[u8]) -> &'static [u8] {
    static POOL: Mutex<Vec<&'static [u8]>> = Mutex::new(Vec::new());
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = pool.iter().find(|v| **v == bytes) {
        return known;
    }
    let leaked: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    pool.push(leaked);
    leaked
}

/// A private pin directory, removed (with whatever is left in it) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> Result<Self, ProgError> {
        let root = ensure_bpffs()?;
        let dir = root.join(format!(
            "mapconform-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| ProgError::Other(format!("mkdir {}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Maps aya's program-load error to [`ProgError::Load`] with the verifier's reason.
pub(crate) fn load_error(err: ProgramError) -> ProgError {
    match err {
        ProgramError::LoadError { io_error, verifier_log } => {
            let log = verifier_log.to_string();
            // For whoever has to teach verifier_reason() a new kernel's log format.
            if let Some(dir) = std::env::var_os("MAPCONFORM_VERIFIER_LOG_DIR") {
                let file = std::path::Path::new(&dir).join(format!("verifier-{}.log", std::process::id()));
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{log}\n=====\n").as_bytes()));
            }
            ProgError::Load {
                errno: io_error.raw_os_error(),
                reason: verifier_reason(&log).unwrap_or_else(|| io_error.to_string()),
            }
        }
        other => ProgError::Load {
            errno: errno_of(&other),
            reason: one_line(&other),
        },
    }
}

/// Loads `object` (ELF + its XDP program) with its map bound to `map_fd`.
/// `globals` are `volatile const` values set in .rodata before load.
pub(crate) fn load_bound(
    object: Object,
    map_fd: BorrowedFd<'_>,
    globals: &[(&'static str, &[u8])],
) -> Result<Ebpf, ProgError> {
    let info =
        sys::map_info(map_fd).map_err(|e| ProgError::Other(format!("BPF_OBJ_GET_INFO_BY_FD on the map: {e}")))?;
    let dir = PinDir::new()?;
    let pin = dir.0.join(object.map);
    sys::obj_pin(map_fd, &pin).map_err(|e| ProgError::Other(format!("pinning the map at {}: {e}", pin.display())))?;

    let loaded = load_object(object.elf, globals, Some((object.map, &pin)));
    drop(dir); // unpin: the loaded object (if any) holds the map now
    let mut ebpf = loaded.map_err(|e| ProgError::Load {
        errno: errno_of(&e),
        reason: one_line(&e),
    })?;

    let prog = ebpf
        .program_mut(object.program)
        .ok_or_else(|| ProgError::Other(format!("no program {} in the object", object.program)))?;
    // XDP for the test-run families, a raw tracepoint for get_stackid, sk_skb/sk_msg for
    // the programs attached to socket maps, cgroup_skb for cgroup storage.
    match prog {
        Program::Xdp(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        Program::SkSkb(p) => p.load(),
        Program::SkMsg(p) => p.load(),
        Program::CgroupSkb(p) => p.load(),
        _ => {
            return Err(ProgError::Other(format!(
                "{}: not a program type the harness loads",
                object.program
            )))
        }
    }
    .map_err(load_error)?;
    let prog_info = prog.info();

    // Check that the kernel bound the program to the given map (and not to a map aya
    // might have created from the declaration).
    let ids = prog_info
        .and_then(|i| i.map_ids())
        .map_err(|e| ProgError::Other(format!("reading the program's map ids: {}", one_line(&e))))?;
    if let Some(ids) = ids {
        // A program that uses no map at all (a stream parser) has nothing to bind.
        if !ids.is_empty() && !ids.contains(&info.id) {
            return Err(ProgError::Other(format!(
                "binding failed: program {} uses maps {ids:?}, not map id {}",
                object.program, info.id
            )));
        }
    }
    Ok(ebpf)
}
