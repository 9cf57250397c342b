//! A private network namespace for the steps that send real packets.
//!
//! `traffic` attaches an XDP program to `lo` and sends on it. Run on the host (`run --host`,
//! `tests/host.rs`) that would be the developer's own loopback, and a crash mid-step would
//! leave the program attached. So the step runs on a thread of its own that first moves
//! into a new network namespace (network namespaces are per thread: `unshare` affects only
//! the caller), brings that namespace's `lo` up, and does everything there. When the thread
//! ends the namespace goes away, and with it anything attached to its interfaces — whatever
//! happened in between.

use std::io;

/// Runs `f` on a new thread inside a new, private network namespace whose `lo` is up.
pub fn in_private_netns<T: Send>(f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: a plain syscall; it changes only this thread's network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            bring_up("lo")?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the traffic thread panicked")))
    })
}

/// Sets IFF_UP on interface `name` (SIOCGIFFLAGS / SIOCSIFFLAGS), if it is not up yet.
pub fn bring_up(name: &str) -> std::io::Result<()> {
    // SAFETY: a plain socket call; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socket returned a new fd that nothing else owns.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq that outlives both calls; the kernel reads the name and
    // reads/writes ifru_flags.
    unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = req.ifr_ifru.ifru_flags;
        if flags & libc::IFF_UP as libc::c_short != 0 {
            return Ok(());
        }
        req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::in_private_netns;

    /// Needs root (CAP_SYS_ADMIN), like the rest of the program tests.
    #[test]
    fn the_closure_runs_in_another_namespace_with_lo_up() {
        let outer = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let inner = in_private_netns(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
            .expect("unshare(CLONE_NEWNET) as root");
        assert_ne!(inner, outer, "the closure ran in the caller's network namespace");
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            outer,
            "the caller stays where it was"
        );
        // lo is up there: a datagram to itself goes out (a down lo gives ENETUNREACH)
        let up = in_private_netns(|| {
            std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"x", s.local_addr()?))
        })
        .unwrap();
        assert!(up.is_ok(), "lo is up in the private namespace: {up:?}");
    }
}
