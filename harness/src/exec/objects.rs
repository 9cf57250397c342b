//! Making a case's `objects:` (sockets, …) and holding their fds while the case runs.
//!
//! Each object is made in declaration order before the case's maps; what the kernel
//! answers is the `make NAME` result. The fds are owned here and closed when the case's
//! runner is dropped, whatever happened. Network objects live in the case's private
//! network namespace (see [`super::run_case`]), so they never reach the host's interfaces.
use super::devices::{self, Veth, Xsk};
use super::perf::PerfEvent;
use super::{HarnessError, Outcome};
use crate::case::objects::{Described, ProgKind};
use crate::case::{CgroupCall, ObjectDef, ObjectKind, Op};
use crate::prog::fd_progs::FdProgram;
use crate::prog::ProgError;
use crate::uapi::Errno;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One object made: an fd (sockets), or a device, program or perf event that owns its
/// fd and what else it needs (a mapping, a loaded object, an interface to delete).
pub(super) enum Made {
    Fd(OwnedFd),
    Veth(Veth),
    Xsk(Xsk),
    Program(FdProgram),
    Perf(PerfEvent),
}

impl Made {
    fn fd(&self) -> Option<RawFd> {
        match self {
            Made::Fd(fd) => Some(fd.as_raw_fd()),
            Made::Veth(_) => None,
            Made::Xsk(x) => Some(x.fd.as_raw_fd()),
            Made::Program(p) => Some(p.fd().as_raw_fd()),
            Made::Perf(p) => Some(p.fd.as_raw_fd()),
        }
    }
}

/// The objects of one case: each one made, or why it is not.
pub(super) struct Objects {
    // Declared first, so dropped first: the fds close before the folders and cgroups they
    // point into are removed.
    fds: Vec<Option<Made>>,
    missing: Vec<String>,
    names: Vec<String>,
    /// What the objects live in (temporary folders, cgroups), removed after the fds close.
    homes: Vec<Home>,
    /// The other end of each unix socketpair made, by the object's index, until a
    /// `unix_peer` takes it (closed with the case otherwise).
    pub(super) peers: std::collections::HashMap<usize, OwnedFd>,
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
            names: defs.iter().map(|o| o.name.clone()).collect(),
            missing: defs
                .iter()
                .map(|o| format!("object {} is not made yet", o.name))
                .collect(),
            homes: Vec::new(),
            peers: Default::default(),
        }
    }

    fn made(&self, index: usize) -> Result<&Made, String> {
        match self.fds.get(index) {
            Some(Some(made)) => Ok(made),
            Some(None) => Err(self.missing[index].clone()),
            None => Err(format!("object #{index} was not resolved by validation")),
        }
    }

    /// `Err` (why) when object `index` was not made.
    pub(super) fn made_or_why(&self, index: usize) -> Result<(), String> {
        self.made(index).map(|_| ())
    }

    /// The fd of object `index`, as the u32 an fd-holding map takes.
    pub(super) fn fd(&self, index: usize) -> Result<u32, String> {
        let made = self.made(index)?;
        made.fd()
            .map(|fd| fd as u32)
            .ok_or_else(|| format!("object {} is a veth: it has no fd (`{{ifindex: NAME}}` is its index)", self.names[index]))
    }

    /// The interface index of object `index` (a veth's first end).
    pub(super) fn ifindex(&self, index: usize) -> Result<u32, String> {
        match self.made(index)? {
            Made::Veth(v) => Ok(v.ifindex),
            _ => Err(format!("object {} is not a veth", self.names[index])),
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
        // SAFETY: statfs is plain data; fstatfs writes it whole on success.
        let mut fs: libc::statfs = unsafe { zeroed() };
        // SAFETY: as above.
        check(unsafe { libc::fstatfs(fd, &mut fs) }).map_err(|e| format!("fstatfs of a cgroup: {e}"))?;
        // Only a cgroup v2 directory's inode number is a cgroup id (CGROUP2_SUPER_MAGIC).
        if fs.f_type != 0x6367_7270 {
            return Err(format!("object {} is not a cgroup", self.names[index]));
        }
        Ok(st.st_ino)
    }

    /// The name of the cgroup object whose id is `id`, if the case has one.
    pub(super) fn cgroup_named(&self, id: u64) -> Option<&str> {
        (0..self.names.len())
            .find(|i| self.cgroup_id(*i).ok() == Some(id))
            .map(|i| self.names[i].as_str())
    }

    /// The fd of a plain-fd object (a cgroup), borrowed (for calls that take one: attach,
    /// clone3).
    pub(super) fn borrowed(&self, index: usize) -> Result<std::os::fd::BorrowedFd<'_>, String> {
        use std::os::fd::AsFd;
        match self.made(index)? {
            Made::Fd(fd) => Ok(fd.as_fd()),
            _ => Err(format!("object {} is not a cgroup", self.names[index])),
        }
    }

    /// The veth object `index`.
    pub(super) fn veth(&self, index: usize) -> Result<&Veth, String> {
        match self.made(index)? {
            Made::Veth(v) => Ok(v),
            _ => Err(format!("object {} is not a veth", self.names[index])),
        }
    }

    /// The case's AF_XDP sockets bound to interface `ifindex`.
    pub(super) fn xsks_on(&self, ifindex: u32) -> Vec<&Xsk> {
        self.fds
            .iter()
            .filter_map(|m| match m {
                Some(Made::Xsk(x)) if x.ifindex == ifindex => Some(x),
                _ => None,
            })
            .collect()
    }

    /// The perf events of the case (where bpf_perf_event_output records are read back).
    pub(super) fn perf_events(&self) -> impl Iterator<Item = &PerfEvent> {
        self.fds.iter().filter_map(|m| match m {
            Some(Made::Perf(p)) => Some(p),
            _ => None,
        })
    }

    /// Makes every object in order; returns each one's label and result.
    pub(super) fn make_all(&mut self, defs: &[ObjectDef]) -> Vec<(String, Outcome)> {
        defs.iter()
            .enumerate()
            .map(|(i, def)| {
                let label = format!("make {} {}", def.name, Described(&def.kind, defs));
                let result = match self.make(i, &def.kind) {
                    Ok(made) => {
                        self.fds[i] = Some(made);
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

    pub(super) fn raw(&self, index: usize) -> Result<RawFd, Unmade> {
        match self.fds.get(index) {
            Some(Some(made)) => made.fd().ok_or_else(|| Unmade::Needs(format!("object #{index} has no fd"))),
            _ => Err(Unmade::Needs(
                self.missing.get(index).cloned().unwrap_or_default(),
            )),
        }
    }

    fn make(&mut self, index: usize, kind: &ObjectKind) -> Result<Made, Unmade> {
        Ok(match kind {
            ObjectKind::Veth => Made::Veth(Veth::make()?),
            ObjectKind::Xsk { dev, queue } => {
                let ifindex = self.ifindex(*dev).map_err(Unmade::Needs)?;
                Made::Xsk(Xsk::make(ifindex, *queue)?)
            }
            ObjectKind::Program(kind) => match FdProgram::load(program_name(*kind)) {
                Ok(p) => Made::Program(p),
                Err(ProgError::Load { errno: Some(e), .. }) => return Err(Unmade::Kernel(io::Error::from_raw_os_error(e))),
                Err(e) => return Err(Unmade::Needs(format!("loading the program: {e}"))),
            },
            ObjectKind::PerfEvent { cpu } => Made::Perf(PerfEvent::open(*cpu)?),
            other => Made::Fd(self.make_fd(index, other)?),
        })
    }

    /// The objects that are an fd and nothing else: sockets, a pidfd, a file, a cgroup.
    fn make_fd(&mut self, index: usize, kind: &ObjectKind) -> Result<OwnedFd, Unmade> {
        Ok(match kind {
            ObjectKind::Socket(kind) => super::sockets::make(index, kind, self)?,
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
            ObjectKind::RootCgroup => std::fs::File::open(super::cgroups::root()?)?.into(),
            other => return Err(Unmade::Needs(format!("{other:?} is not made by make_fd"))),
        })
    }
}

/// The function of `ebpf/fd_progs.c` a `program:` object loads.
fn program_name(kind: ProgKind) -> &'static str {
    match kind {
        ProgKind::Xdp => "mc_obj_xdp",
        ProgKind::XdpDevmap => "mc_obj_xdp_devmap",
        ProgKind::XdpCpumap => "mc_obj_xdp_cpumap",
        ProgKind::SocketFilter => "mc_obj_socket_filter",
    }
}

impl devices::Names for Objects {
    fn interface(&self, ifindex: u32) -> String {
        let veth = self.fds.iter().zip(&self.names).find_map(|(m, name)| match m {
            Some(Made::Veth(v)) if v.ifindex == ifindex => Some(name.clone()),
            Some(Made::Veth(v)) if v.peer_ifindex == ifindex => Some(format!("{name} peer")),
            _ => None,
        });
        // Index 1 is lo in every network namespace.
        veth.unwrap_or_else(|| if ifindex == 1 { "lo".into() } else { ifindex.to_string() })
    }

    fn program(&self, id: u32) -> String {
        let program = self.fds.iter().zip(&self.names).find_map(|(m, name)| match m {
            Some(Made::Program(p)) if p.id == id => Some(name.clone()),
            _ => None,
        });
        program.unwrap_or_else(|| "(a program outside the case)".into())
    }
}

/// Why an object was not made: the kernel refused (a result), or what it is made from is
/// missing.
pub(super) enum Unmade {
    Kernel(io::Error),
    Needs(String),
}

impl From<io::Error> for Unmade {
    fn from(e: io::Error) -> Self {
        Unmade::Kernel(e)
    }
}

pub(super) fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(super) fn socket(kind: i32) -> io::Result<OwnedFd> {
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

pub(super) fn bind_loopback(fd: &OwnedFd) -> io::Result<()> {
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

pub(super) fn local_addr(fd: RawFd) -> io::Result<libc::sockaddr_in> {
    let mut addr = loopback_any_port();
    let mut len = size_of::<libc::sockaddr_in>() as u32;
    // SAFETY: addr and len are valid for writing; the kernel writes at most len bytes.
    check(unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) })?;
    Ok(addr)
}

/// A step on objects alone (one that names no map): `send`. `drops` counts the SK_DROP
/// verdicts of the programs the case attached to its socket maps so far.
pub(super) fn execute(op: &Op, objects: &Objects, drops: &dyn Fn() -> u64) -> Result<Outcome, HarnessError> {
    match op {
        Op::Send(send) => super::sockets::send(send, objects, drops),
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
        other => {
            let step = other.describe(&[]);
            Err(HarnessError::Setup(format!(
                "`{step}` names no map and is no step on objects"
            )))
        }
    }
}
