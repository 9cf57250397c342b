//! An append-only log in memory that the guest writes and the host reads after the VM is
//! gone, even when the guest kernel crashed: a file in the host's rwdir that QEMU maps
//! into the guest as the shared memory of an `ivshmem-plain` PCI device (BAR 2), which the
//! guest maps through sysfs (`/sys/bus/pci/devices/*/resource2`).
//!
//! The guest runner's progress marks go here: a mark written to the 9p rwdir is a round
//! trip to QEMU's 9p server (~1.8 ms under TCG, twice per case), a store to this
//! memory is on the host at once and costs no exit at all.
//!
//! Layout: [`MAGIC`] (8 bytes, written by the host), the log's length (u64, little endian,
//! stored by the guest after the bytes it covers), then the log from [`HEADER`] on. A guest
//! that dies mid-append leaves the length at the last whole append.

use std::io;
use std::path::Path;

/// The file's first 8 bytes, so the guest uses no other ivshmem device by mistake.
pub const MAGIC: &[u8; 8] = b"MCLOG001";
/// Where the log starts.
pub const HEADER: usize = 64;
/// The shared memory's size (ivshmem wants a power of two; the file is sparse): 16 MiB, for
/// ~250 KB of marks in a 273-case run.
pub const SIZE: u64 = 16 << 20;
/// The file's name in the rwdir.
pub const FILE: &str = "marks.shm";
/// ivshmem's PCI vendor and device ids (QEMU `hw/misc/ivshmem.c`: PCI_VENDOR_ID_IVSHMEM
/// is Red Hat's 0x1af4, PCI_DEVICE_ID_IVSHMEM 0x1110).
const PCI_ID: (&str, &str) = ("0x1af4", "0x1110");

/// Makes the (sparse) file at `path` with an empty log.
pub fn create(path: &Path) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    file.set_len(SIZE)?;
    use std::os::unix::fs::FileExt;
    file.write_all_at(MAGIC, 0)?;
    file.write_all_at(&0u64.to_le_bytes(), 8)
}

/// The log in the file at `path` (empty if there is none, or it is not one).
pub fn read(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return String::new();
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let end = HEADER.saturating_add(len).min(bytes.len());
    String::from_utf8_lossy(&bytes[HEADER..end]).into_owned()
}

/// The QEMU options that give a guest the file at `path` as ivshmem memory, or `None` where
/// the path would need quoting: vng hands `--qemu-opts` to a shell and QEMU splits options
/// at commas.
pub fn qemu_opts(path: &Path) -> Option<String> {
    let p = path.to_str()?;
    let plain = p.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.+".contains(c));
    plain.then(|| {
        format!(
            "-object memory-backend-file,id=mapconform-log,size={SIZE},mem-path={p},share=on \
             -device ivshmem-plain,memdev=mapconform-log"
        )
    })
}

/// The guest's end: the shared memory mapped from sysfs.
pub struct GuestLog {
    base: *mut u8,
    size: usize,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; `append` takes `&mut self`.
unsafe impl Send for GuestLog {}

impl GuestLog {
    /// The log of the first ivshmem device whose memory starts with [`MAGIC`]; `None` if
    /// there is none (a host run, a boot without the device).
    pub fn open() -> Option<GuestLog> {
        let devices = std::fs::read_dir("/sys/bus/pci/devices").ok()?;
        devices.flatten().find_map(|d| {
            let id = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap_or_default();
            if (id("vendor").trim(), id("device").trim()) != PCI_ID {
                return None;
            }
            // `resource2`, not `resource2_wc`: an uncached mapping keeps every store in order
            // and out of write-combining buffers when the kernel dies; the log is a few
            // hundred KB a run, so its speed under KVM does not matter
            GuestLog::map(&d.path().join("resource2"))
        })
    }

    /// Its own mmap, not `bpf::mmap::Mapping`'s: that one reaches its memory only through
    /// process_vm_writev, and a sysfs BAR mapping is VM_IO | VM_PFNMAP (io_remap_pfn_range),
    /// which get_user_pages refuses with EFAULT (mm/gup.c `check_vma_flags()`). Plain
    /// stores are the only way in.
    fn map(resource: &Path) -> Option<GuestLog> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new().read(true).write(true).open(resource).ok()?;
        let size = usize::try_from(file.metadata().ok()?.len()).ok()?.min(SIZE as usize);
        if size <= HEADER {
            return None;
        }
        // SAFETY: a fresh shared mapping of the BAR; nothing else in this process maps it,
        // and it stays mapped for the life of the value (unmapped in Drop).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let log = GuestLog {
            base: base.cast(),
            size,
            len: 0,
        };
        // SAFETY: base..base+size is mapped and at least HEADER bytes long.
        let head = unsafe { std::slice::from_raw_parts(log.base, 16) };
        (&head[..8] == MAGIC && head[8..16] == [0; 8]).then_some(log)
    }

    /// Appends `text`; `false` if it does not fit (nothing is written then).
    pub fn append(&mut self, text: &[u8]) -> bool {
        let Some(end) = HEADER.checked_add(self.len).and_then(|s| s.checked_add(text.len())) else {
            return false;
        };
        if end > self.size {
            return false;
        }
        // SAFETY: HEADER+len..end lies inside the mapping (checked above) and the length
        // word at 8..16 is 8-byte aligned (the mapping is page aligned).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.base.add(HEADER + self.len), text.len());
            self.len += text.len();
            let length = &*(self.base.add(8) as *const std::sync::atomic::AtomicU64);
            // Release: the bytes are in memory before the length that covers them.
            length.store((self.len as u64).to_le(), std::sync::atomic::Ordering::Release);
        }
        true
    }
}

impl Drop for GuestLog {
    fn drop(&mut self) {
        // SAFETY: base/size are the mapping made in `map`.
        unsafe { libc::munmap(self.base.cast(), self.size) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_reads_what_was_appended_up_to_the_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), SIZE);
        assert_eq!(read(&path), "");
        // as a guest appends: the bytes, then the length
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"{\"a\":1}\n{\"b\"", HEADER as u64).unwrap();
        file.write_all_at(&8u64.to_le_bytes(), 8).unwrap();
        assert_eq!(read(&path), "{\"a\":1}\n", "a torn append past the length is not read");
        assert_eq!(read(&dir.path().join("missing")), "");
        std::fs::write(&path, b"not a log at all, long enough to hold a header............").unwrap();
        assert_eq!(read(&path), "");
    }

    #[test]
    fn only_plain_paths_become_qemu_options() {
        let opts = qemu_opts(Path::new("/tmp/mapconform-1/6.12/marks.shm")).unwrap();
        assert!(
            opts.contains("mem-path=/tmp/mapconform-1/6.12/marks.shm,share=on"),
            "{opts}"
        );
        assert!(opts.contains(&format!("size={SIZE}")), "{opts}");
        assert!(qemu_opts(Path::new("/tmp/a b/marks.shm")).is_none());
        assert!(qemu_opts(Path::new("/tmp/a,b/marks.shm")).is_none());
    }
}
