//! A map's memory mapped into the harness (`mmap(2)` of a map fd: BPF_F_MMAPABLE arrays,
//! ring buffers, user ring buffers, arenas), and byte access to it that cannot crash the
//! harness.
//!
//! Reads and writes go through `process_vm_readv`/`process_vm_writev` on the harness's own
//! address space, not through plain loads and stores: the kernel walks the same mapping
//! (same pages, same protection, faulting pages in like a store would), but a fault — a
//! write to a read-only mapping, an arena page that may not be faulted in — comes back as
//! EFAULT instead of a SIGSEGV that would end every case after it. Accesses outside the
//! mapping are refused before any call (they would touch unrelated memory).
use crate::uapi::Prot;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The mmap(2)/mprotect(2) bits of a [`Prot`] (the same values: checked in `uapi`).
fn prot_bits(prot: Prot) -> i32 {
    prot.0 as i32
}

/// The page size of the running kernel (4096 on x86-64).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// One `mmap(2)` of a map fd, `MAP_SHARED` (`shared: false` asks for `MAP_PRIVATE`, which
/// the kernel refuses for maps), unmapped when dropped.
#[derive(Debug)]
pub struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    /// `mmap(hint, len, prot, MAP_SHARED, fd, offset)`; the kernel's errno untouched. `hint`
    /// (0: none) is only a hint (no MAP_FIXED): an arena's `get_unmapped_area` wants its
    /// fixed user address there.
    pub fn map(fd: BorrowedFd, hint: usize, len: usize, prot: Prot, offset: u64, shared: bool) -> io::Result<Mapping> {
        let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        let offset = libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh mapping at an address the kernel chooses (a hint without
        // MAP_FIXED never replaces existing memory of this process). The mapping is only
        // ever accessed through process_vm_readv/writev below, within [addr, addr + len).
        let addr = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                len,
                prot_bits(prot),
                flags,
                fd.as_raw_fd(),
                offset,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            addr: addr as usize,
            len,
        })
    }

    /// Where the kernel put the mapping (never part of a result).
    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `mprotect(2)` of the whole mapping (the kernel refuses PROT_WRITE with EACCES where
    /// it cleared VM_MAYWRITE at mmap time).
    pub fn protect(&self, prot: Prot) -> io::Result<()> {
        // SAFETY: changes the protection of this mapping only; nothing dereferences it.
        if unsafe { libc::mprotect(self.addr as *mut libc::c_void, self.len, prot_bits(prot)) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `[offset, offset + len)` inside the mapping, or why not.
    fn range(&self, offset: usize, len: usize) -> Result<usize, String> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.addr + offset),
            _ => Err(format!(
                "bytes {offset}..{} are outside the {}-byte mapping",
                offset.saturating_add(len),
                self.len
            )),
        }
    }

    /// Copy `buf.len()` bytes from `offset`. `Ok(Err(errno))` is the kernel refusing the
    /// access (EFAULT); the outer `Err` an access outside the mapping.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<io::Result<()>, String> {
        self.transfer(offset, buf.as_mut_ptr(), buf.len(), false)
    }

    /// Copy `data` to `offset`, like [`Mapping::read`].
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<io::Result<()>, String> {
        self.transfer(offset, data.as_ptr() as *mut u8, data.len(), true)
    }

    /// `len` bytes between our buffer at `local` and the mapping at `offset`, through the
    /// page tables (process_vm_writev when `to_mapping`, else process_vm_readv).
    fn transfer(&self, offset: usize, local: *mut u8, len: usize, to_mapping: bool) -> Result<io::Result<()>, String> {
        let remote = self.range(offset, len)?;
        let local = libc::iovec {
            iov_base: local as *mut libc::c_void,
            iov_len: len,
        };
        let far = libc::iovec {
            iov_base: remote as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: `local` is a buffer of the caller's of that length (only read when
        // writing to the mapping); the remote range is inside our mapping and reached
        // through the page tables, a fault reported as EFAULT.
        let n = unsafe {
            if to_mapping {
                libc::process_vm_writev(libc::getpid(), &local, 1, &far, 1, 0)
            } else {
                libc::process_vm_readv(libc::getpid(), &local, 1, &far, 1, 0)
            }
        };
        Ok(transferred(n, len))
    }
}

/// A process_vm_* return: all bytes moved, or the errno (a partial move is a fault at the
/// first page it could not reach).
fn transferred(n: isize, want: usize) -> io::Result<()> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else if n as usize == want {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EFAULT))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the range mmap returned; nothing refers to it afterwards.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}
