//! A BPF filesystem to pin maps in, so that aya's loader can reuse them by path.

use std::{
    ffi::CString,
    io,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::ProgError;

/// `BPF_FS_MAGIC` from <linux/magic.h>.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Where bpffs normally lives.
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";
/// Fallback mount point when /sys/fs/bpf cannot be used.
pub const PRIVATE_BPFFS: &str = "/run/mapconform-bpffs";

static MOUNT_LOCK: Mutex<()> = Mutex::new(());

/// Whether `path` is the root of (or inside) a mounted bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    st.f_type as i64 == BPF_FS_MAGIC
}

fn mount_bpffs(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    let target =
        CString::new(path.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            c"mode=0700".as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns a directory on a bpffs, mounting one if needed: /sys/fs/bpf if it already
/// is bpffs; else mount bpffs there (as systemd would; test VMs have none); else mount a
/// private bpffs at [`PRIVATE_BPFFS`]. Needs root (CAP_SYS_ADMIN) when it must mount.
pub fn ensure_bpffs() -> Result<PathBuf, ProgError> {
    let _guard = MOUNT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let default = Path::new(DEFAULT_BPFFS);
    if is_bpffs(default) {
        return Ok(default.to_path_buf());
    }
    let private = Path::new(PRIVATE_BPFFS);
    if is_bpffs(private) {
        return Ok(private.to_path_buf());
    }
    let first = match mount_bpffs(default) {
        Ok(()) if is_bpffs(default) => return Ok(default.to_path_buf()),
        Ok(()) => "mounted but statfs does not report bpffs".to_string(),
        Err(e) => e.to_string(),
    };
    match mount_bpffs(private) {
        Ok(()) if is_bpffs(private) => Ok(private.to_path_buf()),
        Ok(()) => Err(ProgError::Other(format!(
            "mounted bpffs at {PRIVATE_BPFFS} but statfs does not report bpffs"
        ))),
        Err(e) => Err(ProgError::Other(format!(
            "no bpffs: mounting at {DEFAULT_BPFFS} failed ({first}), at {PRIVATE_BPFFS} failed ({e})"
        ))),
    }
}
