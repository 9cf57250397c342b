//! The guest side of the runner contract: what `mapconform guest` sets up in a fresh VM
//! before it runs the cases (see README "Runner contract").
//!
//! A minimal-root guest (see [`crate::vm::root`]) has no init system: nothing mounts bpffs
//! and nothing brings the loopback interface up, which the `traffic` steps send on.

use anyhow::{Context, Result};
use std::path::Path;

use crate::case::{load_bundle, BundledCase, Library};

/// The cases the host bundled into one file (see [`crate::case::bundle`]).
pub fn read_bundle(file: &Path) -> Result<Library> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let cases: Vec<BundledCase> =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a case bundle", file.display()))?;
    Ok(load_bundle(&cases))
}

/// Mounts bpffs (pins and program binding need it) and brings `lo` up.
pub fn prepare() -> Result<()> {
    crate::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
    bring_up("lo").context("bringing up lo")?;
    Ok(())
}

/// Sets IFF_UP on interface `name` (SIOCGIFFLAGS / SIOCSIFFLAGS), if it is not up yet.
pub fn bring_up(name: &str) -> std::io::Result<()> {
    // SAFETY: a plain socket call; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
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
