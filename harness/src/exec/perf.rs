//! `perf_event` objects: a PERF_COUNT_SW_BPF_OUTPUT event on one CPU (any task), the fd a
//! perf_event_array holds, with its ring mmapped so the records bpf_perf_event_output
//! writes can be read back. Unmapped and closed on drop.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{fence, Ordering};

// include/uapi/linux/perf_event.h (stable ABI since 4.4 for what is used here)
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_RECORD_SAMPLE: u32 = 9;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// bpf_perf_event_output's index flag: the CPU the program runs on.
pub(super) const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;
/// `struct perf_event_attr` up to PERF_ATTR_SIZE_VER0 (64 bytes): every kernel takes it.
const ATTR_SIZE_VER0: u32 = 64;
/// Offsets in `struct perf_event_mmap_page`: data_head, data_tail, data_offset, data_size.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
/// Data pages after the metadata page (a power of two).
const DATA_PAGES: usize = 1;

pub(super) struct PerfEvent {
    pub fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    page: usize,
}

impl Drop for PerfEvent {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, of that length, unmapped once (the fd is
        // closed after this, as a field).
        unsafe { libc::munmap(self.ring.cast(), self.ring_len) };
    }
}

/// The first 64 bytes of `struct perf_event_attr`, little-endian.
fn attr_bytes() -> [u8; ATTR_SIZE_VER0 as usize] {
    let mut a = [0u8; ATTR_SIZE_VER0 as usize];
    a[0..4].copy_from_slice(&PERF_TYPE_SOFTWARE.to_le_bytes()); // type
    a[4..8].copy_from_slice(&ATTR_SIZE_VER0.to_le_bytes()); // size
    a[8..16].copy_from_slice(&PERF_COUNT_SW_BPF_OUTPUT.to_le_bytes()); // config
    a[16..24].copy_from_slice(&1u64.to_le_bytes()); // sample_period
    a[24..32].copy_from_slice(&PERF_SAMPLE_RAW.to_le_bytes()); // sample_type
    // read_format 0; flags 0 (enabled, not inherited); wakeup_events 1
    a[48..52].copy_from_slice(&1u32.to_le_bytes());
    a
}

impl PerfEvent {
    /// perf_event_open(attr, pid -1, cpu, group -1, CLOEXEC), then mmap of its ring.
    pub(super) fn open(cpu: u32) -> io::Result<PerfEvent> {
        let attr = attr_bytes();
        // SAFETY: attr holds `size` valid bytes of a perf_event_attr; the kernel reads them.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                -1 as libc::pid_t,
                cpu as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: perf_event_open returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let ring_len = page * (1 + DATA_PAGES);
        // SAFETY: a shared mapping of the event's ring; the result is checked.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(PerfEvent {
            fd,
            ring: ring.cast(),
            ring_len,
            page,
        })
    }

    /// Takes every record in the ring: the raw data of each PERF_RECORD_SAMPLE (as the
    /// kernel wrote it: its size is padded so the record is 8-byte aligned), and moves
    /// data_tail past them.
    pub(super) fn take_samples(&self) -> Vec<Vec<u8>> {
        let data_len = self.page * DATA_PAGES;
        // SAFETY: data_head and data_tail are u64 fields of the metadata page, mapped for
        // the life of self; the kernel writes data_head, user space data_tail.
        let (head, tail) = unsafe {
            let head = std::ptr::read_volatile(self.ring.add(DATA_HEAD).cast::<u64>());
            (head, std::ptr::read_volatile(self.ring.add(DATA_TAIL).cast::<u64>()))
        };
        fence(Ordering::Acquire);
        let mut bytes = Vec::with_capacity((head - tail) as usize);
        for off in tail..head {
            // SAFETY: the data area is `data_len` bytes after the metadata page; the offset
            // wraps within it.
            bytes.push(unsafe { *self.ring.add(self.page + (off as usize % data_len)) });
        }
        fence(Ordering::Release);
        // SAFETY: as above; this tells the kernel the records were consumed.
        unsafe { std::ptr::write_volatile(self.ring.add(DATA_TAIL).cast::<u64>(), head) };
        samples(&bytes)
    }
}

/// The raw data of the PERF_RECORD_SAMPLE records in `bytes` (header: u32 type, u16 misc,
/// u16 size; then u32 raw size and the raw bytes). Other records are skipped.
fn samples(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let size = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize;
        if size < 8 || at + size > bytes.len() {
            break;
        }
        if kind == PERF_RECORD_SAMPLE && size >= 12 {
            let raw = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let end = (at + 12 + raw).min(at + size);
            out.push(bytes[at + 12..end].to_vec());
        }
        at += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_record_gives_its_raw_data() {
        // type 9, misc 0, size 16; raw size 4; data; then a non-sample record of 8 bytes.
        let mut b = vec![9, 0, 0, 0, 0, 0, 16, 0, 4, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd];
        b.extend([2, 0, 0, 0, 0, 0, 8, 0]);
        assert_eq!(samples(&b), vec![vec![0xaa, 0xbb, 0xcc, 0xdd]]);
        assert_eq!(&attr_bytes()[0..12], &[1, 0, 0, 0, 64, 0, 0, 0, 10, 0, 0, 0]);
    }
}
