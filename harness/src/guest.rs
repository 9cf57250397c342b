//! The guest side of the runner contract: what `mapconform guest` sets up in a fresh VM
//! before it runs the cases (see README "Runner contract").
//!
//! A minimal-root guest (see [`crate::vm::root`]) has no init system: nothing mounts bpffs
//! and nothing brings the loopback interface up, which the `traffic` steps send on.

use anyhow::{Context, Result};
use std::path::Path;

use crate::case::{load_bundle, BundledCase, Case, Library};
use crate::exec;
use crate::outcome::RunReport;

/// What the guest prints on its console before each case and once at the end, so that the
/// host can show how far a kernel is (see [`parse_progress`]). Results never travel this
/// way: only the report file counts (README "Runner contract").
const PROGRESS: &str = "mapconform-guest: case ";

pub fn progress_line(done: usize, total: usize, case: &str) -> String {
    format!("{PROGRESS}{done}/{total} {case}").trim_end().to_string()
}

/// `(done, total, next case)` from a console line the guest printed with [`progress_line`].
/// The console interleaves kernel messages, so the marker may come anywhere in the line.
pub fn parse_progress(line: &str) -> Option<(usize, usize, String)> {
    let rest = &line[line.find(PROGRESS)? + PROGRESS.len()..];
    let (count, case) = rest.trim_end().split_once(' ').unwrap_or((rest.trim_end(), ""));
    let (done, total) = count.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?, case.to_string()))
}

/// Runs `cases` like [`exec::run_all`], calling `progress(done, total, next case)` before
/// each case and once after the last.
pub fn run_with_progress(cases: &[Case], mut progress: impl FnMut(usize, usize, &str)) -> std::io::Result<RunReport> {
    // run_all on nothing does the per-process setup (CPU pinning, memlock) and reads the
    // kernel's facts; the cases then run one by one on this thread.
    let mut report = exec::run_all(&[])?;
    let env = exec::Env {
        possible_cpus: report.possible_cpus,
    };
    for (i, case) in cases.iter().enumerate() {
        progress(i, cases.len(), &case.id);
        report.cases.push(exec::run_case(case, env));
    }
    progress(cases.len(), cases.len(), "");
    Ok(report)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_survive_the_console() {
        let line = progress_line(3, 131, "hash/freeze");
        assert_eq!(parse_progress(&line), Some((3, 131, "hash/freeze".into())));
        // a kernel message glued in front, a CR from the serial console behind
        let noisy = format!("[    4.2] virtio_net: x{line}\r\n");
        assert_eq!(parse_progress(&noisy), Some((3, 131, "hash/freeze".into())));
        assert_eq!(
            parse_progress(&progress_line(131, 131, "")),
            Some((131, 131, String::new()))
        );
        assert_eq!(parse_progress("mapconform-guest: case x/y"), None);
        assert_eq!(parse_progress("Linux version 6.12"), None);
    }
}
