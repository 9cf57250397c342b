//! Cgroups a case makes (`cgroup` objects): a new, empty directory on the cgroup v2
//! hierarchy, mounted first where nothing mounted it (a minimal-root guest has no init
//! system). Each is removed when its case ends, whatever happened ([`CaseCgroup`]'s drop).
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Where the harness mounts cgroup v2 when no cgroup2 mount exists.
const PRIVATE_CGROUP2: &str = "/run/mapconform-cgroup2";

static MOUNT_LOCK: Mutex<()> = Mutex::new(());

/// The mount point of a cgroup v2 hierarchy, from `/proc/self/mountinfo` (field 5 is the
/// mount point; the filesystem type follows the ` - ` separator).
fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split_whitespace().nth(4)?;
        (right.split_whitespace().next() == Some("cgroup2")).then(|| PathBuf::from(mount_point))
    })
}

/// A cgroup v2 mount, made at [`PRIVATE_CGROUP2`] if there is none.
fn ensure_cgroup2() -> io::Result<PathBuf> {
    let _guard = MOUNT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = cgroup2_mount() {
        return Ok(found);
    }
    std::fs::create_dir_all(PRIVATE_CGROUP2)?;
    // SAFETY: constant NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            c"cgroup2".as_ptr(),
            c"/run/mapconform-cgroup2".as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PathBuf::from(PRIVATE_CGROUP2))
}

/// A cgroup made for one case; removed (rmdir) when dropped. Nothing ever joins it here,
/// so it is empty and the rmdir succeeds once the fds on it are closed.
pub(super) struct CaseCgroup {
    path: PathBuf,
}

/// The root of the cgroup v2 hierarchy (mounted first if nothing mounted one).
pub(super) fn root() -> io::Result<PathBuf> {
    ensure_cgroup2()
}

impl CaseCgroup {
    pub(super) fn make() -> io::Result<CaseCgroup> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = ensure_cgroup2()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("mapconform-{}-{n}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(CaseCgroup { path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CaseCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.path) {
            eprintln!("mapconform: removing cgroup {}: {e}", self.path.display());
        }
    }
}
