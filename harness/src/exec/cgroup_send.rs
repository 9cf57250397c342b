//! `send_from_cgroup`: traffic from a process inside a case's cgroup. A socket's cgroup is
//! fixed when the socket is created, and the harness itself never changes cgroups, so a
//! child is made directly in the cgroup (clone3 with CLONE_INTO_CGROUP, 5.7+). The child
//! makes a receiving UDP socket on 127.0.0.1 and a sending one (both in the cgroup: its
//! egress and ingress programs see the packets), sends, receives, reports the two counts
//! through a pipe and exits; the parent reaps it before returning, whatever happened.
//!
//! The harness is multithreaded (loader threads), so the child only makes raw system
//! calls on memory prepared before the clone: no allocation, no locks.
use crate::outcome::CgroupPackets;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes, include/uapi/linux/sched.h).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// How long the child waits for a packet that has not arrived (loopback delivers during
/// `sendto` itself; this only bounds a kernel that drops them).
const RECV_TIMEOUT_US: libc::suseconds_t = 100_000;

/// Sends `packets` from a child in the cgroup of `cgroup_fd`: the counts, or the errno of
/// the clone (the kernel refusing the cgroup) or of the child's first failing call.
pub(super) fn send_from_cgroup(cgroup_fd: RawFd, packets: u32) -> io::Result<CgroupPackets> {
    let mut pipe = [0i32; 2];
    // SAFETY: pipe writes two fds into the array; they are owned at once.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two new fds nothing else owns.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with no stack is a fork: the child continues here on a copy of the
    // address space and runs only `child` (raw system calls on prepared memory) then _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, size_of::<CloneArgs>()) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the child: see `child`.
        unsafe { child(write_end.as_raw_fd(), packets) }
    }
    drop(write_end);
    let status = reap(pid as libc::pid_t)?;
    let mut counts = [0u8; 8];
    // SAFETY: reads at most 8 bytes into the array.
    let got = unsafe { libc::read(read_end.as_raw_fd(), counts.as_mut_ptr().cast(), counts.len()) };
    if got != 8 {
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            0
        };
        return Err(if code > 0 {
            io::Error::from_raw_os_error(code)
        } else {
            io::Error::other(format!("the child in the cgroup ended with status {status:#x}"))
        });
    }
    Ok(CgroupPackets {
        sent: u32::from_le_bytes(counts[..4].try_into().expect("4 bytes")),
        received: u32::from_le_bytes(counts[4..].try_into().expect("4 bytes")),
    })
}

fn reap(pid: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; status is valid for writing.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Ends the child with the errno of the call that just failed.
unsafe fn fail() -> ! {
    libc::_exit(*libc::__errno_location())
}

/// The child: exits 0 after writing `[sent, received]` (u32 LE each) to `report`, or exits
/// with the errno of its first failing call.
///
/// # Safety
/// Only in the child of a fork-like clone: never returns.
unsafe fn child(report: RawFd, packets: u32) -> ! {
    let rx = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
    let tx = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
    if rx < 0 || tx < 0 {
        fail();
    }
    let mut addr: libc::sockaddr_in = zeroed();
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let sa = (&mut addr as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
    if libc::bind(rx, sa, len) != 0 || libc::getsockname(rx, sa, &mut len) != 0 {
        fail();
    }
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: RECV_TIMEOUT_US,
    };
    let tv = (&timeout as *const libc::timeval).cast();
    if libc::setsockopt(
        rx,
        libc::SOL_SOCKET,
        libc::SO_RCVTIMEO,
        tv,
        size_of::<libc::timeval>() as u32,
    ) != 0
    {
        fail();
    }
    let payload = *b"mapconf\0";
    let mut buf = [0u8; 8];
    let (mut sent, mut received) = (0u32, 0u32);
    for _ in 0..packets {
        if libc::sendto(tx, payload.as_ptr().cast(), payload.len(), 0, sa, len) == payload.len() as isize {
            sent += 1;
        }
    }
    for _ in 0..sent {
        if libc::recv(rx, buf.as_mut_ptr().cast(), buf.len(), 0) < 0 {
            break;
        }
        received += 1;
    }
    let mut counts = [0u8; 8];
    counts[..4].copy_from_slice(&sent.to_le_bytes());
    counts[4..].copy_from_slice(&received.to_le_bytes());
    if libc::write(report, counts.as_ptr().cast(), counts.len()) != 8 {
        fail();
    }
    libc::_exit(0)
}
