//! Making a case's `objects:` (sockets, …) and holding their fds while the case runs.
//!
//! Each object is made in declaration order before the case's maps; what the kernel
//! answers is the `make NAME` result. The fds are owned here and closed when the case's
//! runner is dropped, whatever happened. Network objects live in the case's private
//! network namespace (see [`super::run_case`]), so they never reach the host's interfaces.
use super::{HarnessError, Outcome};
use crate::case::objects::Described;
use crate::case::{CgroupCall, ObjectDef, ObjectKind, Op};
use crate::uapi::Errno;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The objects of one case: an fd for each one made, or why there is none.
pub(super) struct Objects {
    // Declared first, so dropped first: the fds close before the folders and cgroups they
    // point into are removed.
    fds: Vec<Option<OwnedFd>>,
    missing: Vec<String>,
    /// What the objects live in (temporary folders, cgroups), removed after the fds close.
    homes: Vec<Home>,
}

/// Where an object lives, removed when the case ends: held only for its `Drop` (the
/// folder's removal, the cgroup's rmdir), never read.
enum Home {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    Cgroup(#[allow(dead_code)] super::cgroups::CaseCgroup),
}

impl Objects {
    pub(super) fn new(defs: &[ObjectDef]) -> Objects {
        Objects {
            fds: defs.iter().map(|_| None).collect(),
            missing: defs
                .iter()
                .map(|o| format!("object {} is not made yet", o.name))
                .collect(),
            homes: Vec::new(),
        }
    }

    /// The fd of object `index`, as the u32 an fd-holding map takes.
    pub(super) fn fd(&self, index: usize) -> Result<u32, String> {
        match self.fds.get(index) {
            Some(Some(fd)) => Ok(fd.as_raw_fd() as u32),
            Some(None) => Err(self.missing[index].clone()),
            None => Err(format!("object #{index} was not resolved by validation")),
        }
    }

    /// The id of cgroup object `index`: its directory's inode number, which is the
    /// kernfs node id `cgroup_id()` returns (64-bit inode numbers on x86-64).
    pub(super) fn cgroup_id(&self, index: usize) -> Result<u64, String> {
        let fd = self.raw(index).map_err(|e| match e {
            Unmade::Needs(why) => why,
            Unmade::Kernel(e) => e.to_string(),
        })?;
        // SAFETY: stat is plain data; fstat writes it whole on success.
        let mut st: libc::stat = unsafe { zeroed() };
        // SAFETY: fd is open for the life of this call; st is valid for writing.
        check(unsafe { libc::fstat(fd, &mut st) }).map_err(|e| format!("fstat of a cgroup: {e}"))?;
        Ok(st.st_ino)
    }

    /// The object's fd, borrowed (for calls that take one: attach, clone3).
    pub(super) fn borrowed(&self, index: usize) -> Result<std::os::fd::BorrowedFd<'_>, String> {
        use std::os::fd::AsFd;
        match self.fds.get(index) {
            Some(Some(fd)) => Ok(fd.as_fd()),
            _ => Err(self.missing.get(index).cloned().unwrap_or_default()),
        }
    }

    /// Makes every object in order; returns each one's label and result.
    pub(super) fn make_all(&mut self, defs: &[ObjectDef]) -> Vec<(String, Outcome)> {
        defs.iter()
            .enumerate()
            .map(|(i, def)| {
                let label = format!("make {} {}", def.name, Described(&def.kind, defs));
                let result = match self.make(&def.kind) {
                    Ok(fd) => {
                        self.fds[i] = Some(fd);
                        Outcome::Ok
                    }
                    Err(Unmade::Kernel(e)) => {
                        let outcome = Outcome::Errno(Errno::of(&e));
                        self.missing[i] = format!("object {} was not made ({outcome})", def.name);
                        outcome
                    }
                    Err(Unmade::Needs(why)) => {
                        self.missing[i] = format!("object {} was not made: {why}", def.name);
                        Outcome::NotRun(why)
                    }
                };
                (label, result)
            })
            .collect()
    }

    fn raw(&self, index: usize) -> Result<RawFd, Unmade> {
        match self.fds.get(index) {
            Some(Some(fd)) => Ok(fd.as_raw_fd()),
            _ => Err(Unmade::Needs(
                self.missing.get(index).cloned().unwrap_or_default(),
            )),
        }
    }

    fn make(&mut self, kind: &ObjectKind) -> Result<OwnedFd, Unmade> {
        Ok(match kind {
            ObjectKind::Udp => {
                let fd = socket(libc::SOCK_DGRAM)?;
                bind_loopback(&fd)?;
                fd
            }
            ObjectKind::TcpListener => {
                // Non-blocking, so a `tcp_accepted` with nothing pending is EAGAIN, not a hang.
                let fd = socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
                bind_loopback(&fd)?;
                // SAFETY: a plain call on an fd this function owns.
                check(unsafe { libc::listen(fd.as_raw_fd(), 8) })?;
                fd
            }
            ObjectKind::TcpClient { to } => {
                let addr = local_addr(self.raw(*to)?)?;
                let fd = socket(libc::SOCK_STREAM)?;
                // SAFETY: addr is a valid sockaddr_in of the size given.
                check(unsafe {
                    libc::connect(
                        fd.as_raw_fd(),
                        (&addr as *const libc::sockaddr_in).cast(),
                        size_of::<libc::sockaddr_in>() as u32,
                    )
                })?;
                fd
            }
            ObjectKind::TcpAccepted { from } => {
                let listener = self.raw(*from)?;
                // SAFETY: NULL address arguments are allowed; the returned fd is owned at once.
                let fd = check(unsafe {
                    libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
                })?;
                // SAFETY: accept4 returned a new fd that nothing else owns.
                unsafe { OwnedFd::from_raw_fd(fd) }
            }
            ObjectKind::Pidfd => {
                // SAFETY: a plain syscall; the fd it returns is owned at once.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
                let fd = check(fd as i32)?;
                // SAFETY: pidfd_open returned a new fd that nothing else owns.
                unsafe { OwnedFd::from_raw_fd(fd) }
            }
            ObjectKind::File => {
                let dir = tempfile::Builder::new().prefix("mapconform-file-").tempdir()?;
                let path = dir.path().join("f");
                std::fs::write(&path, b"")?;
                let file = std::fs::File::open(&path)?;
                self.homes.push(Home::Folder(dir));
                file.into()
            }
            ObjectKind::Cgroup => {
                let cgroup = super::cgroups::CaseCgroup::make()?;
                let dir = std::fs::File::open(cgroup.path());
                self.homes.push(Home::Cgroup(cgroup));
                dir?.into()
            }
        })
    }
}

/// Why an object was not made: the kernel refused (a result), or what it is made from is
/// missing.
enum Unmade {
    Kernel(io::Error),
    Needs(String),
}

impl From<io::Error> for Unmade {
    fn from(e: io::Error) -> Self {
        Unmade::Kernel(e)
    }
}

fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn socket(kind: i32) -> io::Result<OwnedFd> {
    // SAFETY: a plain call; the fd is owned right after.
    let fd = check(unsafe { libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn loopback_any_port() -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_in = unsafe { zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    addr
}

fn bind_loopback(fd: &OwnedFd) -> io::Result<()> {
    let addr = loopback_any_port();
    // SAFETY: addr is a valid sockaddr_in of the size given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        )
    })?;
    Ok(())
}

fn local_addr(fd: RawFd) -> io::Result<libc::sockaddr_in> {
    let mut addr = loopback_any_port();
    let mut len = size_of::<libc::sockaddr_in>() as u32;
    // SAFETY: addr and len are valid for writing; the kernel writes at most len bytes.
    check(unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) })?;
    Ok(addr)
}

/// A step on objects alone (one that names no map): `send_from_cgroup`.
pub(super) fn execute(op: &Op, objects: &Objects) -> Result<Outcome, HarnessError> {
    match op {
        Op::Cgroup {
            call: CgroupCall::Send { cgroup, packets },
        } => {
            let fd = match objects.borrowed(cgroup.index) {
                Ok(fd) => fd,
                Err(why) => return Ok(Outcome::NotRun(why)),
            };
            Ok(match super::cgroup_send::send_from_cgroup(fd.as_raw_fd(), *packets) {
                Ok(counts) => Outcome::CgroupPackets(counts),
                Err(e) if e.raw_os_error().is_some() => Outcome::Errno(Errno::of(&e)),
                Err(e) => return Err(HarnessError::Setup(e.to_string())),
            })
        }
        _ => {
            let step = op.describe(&[]);
            Err(HarnessError::Setup(format!("`{step}` names no map and is no step on objects")))
        }
    }
}
