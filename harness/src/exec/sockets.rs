//! What the socket maps (sockmap, sockhash, reuseport_sockarray) need of the executor:
//! the socket objects beyond the basic four, the socket cookies their lookups return
//! (shown as the object they belong to), the `attach_to_map` step and the `send` step.
//!
//! Everything here runs in the case's private network namespace (a case with objects
//! always does), so its sockets only ever talk to each other over that namespace's `lo`.
use super::objects::{bind_loopback, check, local_addr, Objects, Unmade};
use super::{HarnessError, Outcome};
use crate::case::sockets::{Attach, Send, SockProgram};
use crate::case::{ObjectDef, SocketKind};
use crate::outcome::Shown;
use crate::prog::sockets::{attach_to_map, AttachError, AttachedProg};
use crate::uapi::{Errno, MapType};
use std::collections::BTreeMap;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// How long `send` waits for the bytes to arrive somewhere. Delivery on `lo` (a redirect
/// through the psock backlog included) takes well under this even under TCG; the wait ends
/// as soon as every byte has arrived, or as soon as a verdict program of the case dropped
/// what was sent, so only bytes lost some other way cost the whole wait.
const ARRIVAL_WAIT: Duration = Duration::from_millis(300);

/// The maps whose syscall lookups return a socket cookie (u64) rather than what was stored.
pub(super) fn holds_sockets(t: MapType) -> bool {
    matches!(t, MapType::SOCKMAP | MapType::SOCKHASH | MapType::REUSEPORT_SOCKARRAY)
}

fn socket_of(family: i32, kind: i32) -> io::Result<OwnedFd> {
    // SAFETY: a plain call; the fd is owned right after.
    let fd = check(unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_int_option(fd: &OwnedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: value is an int of the size given, read by the kernel during the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as u32,
        )
    })
    .map(|_| ())
}

fn get_option<T: Copy>(fd: RawFd, level: i32, name: i32, value: T) -> io::Result<T> {
    let mut value = value;
    let mut len = size_of::<T>() as u32;
    // SAFETY: value and len are valid for writing; the kernel writes at most len bytes.
    check(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut T).cast(), &mut len) })?;
    Ok(value)
}

fn listen(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: a plain call on an fd the caller owns.
    check(unsafe { libc::listen(fd.as_raw_fd(), 8) }).map(|_| ())
}

/// Binds (or connects) `fd` to the IPv4 address `addr`.
fn to_addr(fd: &OwnedFd, addr: &libc::sockaddr_in, connect: bool) -> io::Result<()> {
    let (p, len) = (
        (addr as *const libc::sockaddr_in).cast(),
        size_of::<libc::sockaddr_in>() as u32,
    );
    // SAFETY: addr is a valid sockaddr_in of the size given.
    check(unsafe {
        if connect {
            libc::connect(fd.as_raw_fd(), p, len)
        } else {
            libc::bind(fd.as_raw_fd(), p, len)
        }
    })
    .map(|_| ())
}

fn bind_loopback6(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_in6 = unsafe { zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_addr.s6_addr = std::net::Ipv6Addr::LOCALHOST.octets();
    // SAFETY: addr is a valid sockaddr_in6 of the size given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in6).cast(),
            size_of::<libc::sockaddr_in6>() as u32,
        )
    })
    .map(|_| ())
}

/// A socket with SO_REUSEPORT of `kind` (stream: listening) bound to `addr` (port 0: a new one).
fn reuseport(kind: i32, addr: Option<libc::sockaddr_in>) -> Result<OwnedFd, Unmade> {
    let nonblock = if kind == libc::SOCK_STREAM {
        libc::SOCK_NONBLOCK
    } else {
        0
    };
    let fd = socket_of(libc::AF_INET, kind | nonblock)?;
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    match addr {
        Some(addr) => to_addr(&fd, &addr, false)?,
        None => bind_loopback(&fd)?,
    }
    if kind == libc::SOCK_STREAM {
        listen(&fd)?;
    }
    Ok(fd)
}

/// Makes the socket object `index` of kind `kind` (its references are earlier objects).
pub(super) fn make(index: usize, kind: &SocketKind, objects: &mut Objects) -> Result<OwnedFd, Unmade> {
    Ok(match kind {
        SocketKind::TcpUnbound => socket_of(libc::AF_INET, libc::SOCK_STREAM)?,
        SocketKind::UdpUnbound => socket_of(libc::AF_INET, libc::SOCK_DGRAM)?,
        SocketKind::UdpConnected { to } => {
            let addr = local_addr(objects.raw(*to)?)?;
            let fd = socket_of(libc::AF_INET, libc::SOCK_DGRAM)?;
            bind_loopback(&fd)?;
            to_addr(&fd, &addr, true)?;
            fd
        }
        SocketKind::Udp6 => {
            let fd = socket_of(libc::AF_INET6, libc::SOCK_DGRAM)?;
            bind_loopback6(&fd)?;
            fd
        }
        SocketKind::Tcp6Listener => {
            let fd = socket_of(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
            bind_loopback6(&fd)?;
            listen(&fd)?;
            fd
        }
        SocketKind::UnixStream | SocketKind::UnixDgram => {
            let kind = if *kind == SocketKind::UnixStream {
                libc::SOCK_STREAM
            } else {
                libc::SOCK_DGRAM
            };
            let mut pair = [0; 2];
            // SAFETY: pair has room for the two fds socketpair writes.
            check(unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) })?;
            // SAFETY: socketpair returned two new fds that nothing else owns.
            let (end, peer) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
            objects.peers.insert(index, peer);
            end
        }
        SocketKind::UnixPeer { of } => {
            objects.raw(*of)?;
            objects
                .peers
                .remove(of)
                .ok_or_else(|| Unmade::Needs("its peer is another object already".into()))?
        }
        SocketKind::UdpReuseport => reuseport(libc::SOCK_DGRAM, None)?,
        SocketKind::TcpReuseportListener => reuseport(libc::SOCK_STREAM, None)?,
        SocketKind::SamePort { as_ } => {
            let first = objects.raw(*as_)?;
            let kind = get_option(first, libc::SOL_SOCKET, libc::SO_TYPE, 0i32)?;
            reuseport(kind, Some(local_addr(first)?))?
        }
    })
}

/// The socket cookie of `fd` (SO_COOKIE, made on first use: the same value bpf(2) lookups
/// of socket maps return).
fn cookie(fd: RawFd) -> io::Result<u64> {
    get_option(fd, libc::SOL_SOCKET, libc::SO_COOKIE, 0u64)
}

/// A socket map's lookup value: the cookie of one of the case's objects, shown by name
/// (cookies change every run), or a cookie of no object of the case.
pub(super) fn show_cookie(bytes: &[u8], objects: &Objects, defs: &[ObjectDef]) -> Shown {
    let value = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
    let owner = defs
        .iter()
        .enumerate()
        .find(|(i, _)| objects.raw(*i).ok().and_then(|fd| cookie(fd).ok()) == Some(value));
    Shown::Cookie {
        cookie: owner.map_or_else(|| "(a socket outside the case)".into(), |(_, d)| d.name.clone()),
    }
}

/// `attach_to_map`: the program for the map's type (the `_map` or `_hash` helpers),
/// attached; `Err` outcome when it did not load or the kernel refused the attach.
pub(super) fn attach(map: BorrowedFd, map_type: MapType, a: &Attach) -> Result<AttachedProg, Outcome> {
    let hash = map_type == MapType::SOCKHASH;
    let program = match (a.program, hash) {
        (SockProgram::SkSkbRedirect, false) => "mc_skb_redirect_map",
        (SockProgram::SkSkbRedirect, true) => "mc_skb_redirect_hash",
        (SockProgram::SkMsgRedirect, false) => "mc_msg_redirect_map",
        (SockProgram::SkMsgRedirect, true) => "mc_msg_redirect_hash",
        (SockProgram::SkSkbParser, _) => "mc_skb_parser",
    };
    attach_to_map(map, program, a.attach_type.0 as u32, a.key, a.flags.0).map_err(|e| match e {
        AttachError::Attach(e) => Outcome::Errno(Errno::of(&e)),
        AttachError::Prog(e) => match super::prog_error(e) {
            Ok(outcome) => outcome,
            Err(why) => Outcome::NotRun(why.to_string()),
        },
    })
}

/// `send`: the bytes written on `from` (non-blocking), then whatever arrives on each
/// watched object within [`ARRIVAL_WAIT`], as text by object name. `drops` counts the
/// SK_DROP verdicts of the case's socket-map programs: one more after the send means the
/// data was dropped, and nothing of it can arrive any more (every part of one send meets
/// the same program and the same map contents, so every part has the same verdict).
pub(super) fn send(send: &Send, objects: &Objects, drops: &dyn Fn() -> u64) -> Result<Outcome, HarnessError> {
    let fd_of = |o: &crate::case::data::ObjectName| match o.index.map(|i| objects.raw(i)) {
        Some(Ok(fd)) => Ok(fd),
        Some(Err(Unmade::Needs(why))) => Err(why),
        Some(Err(Unmade::Kernel(e))) => Err(e.to_string()),
        None => Err(format!("object {} was not resolved by validation", o.name)),
    };
    let from = match fd_of(&send.from) {
        Ok(fd) => fd,
        Err(why) => return Ok(Outcome::NotRun(why)),
    };
    let mut watched = Vec::new();
    for o in &send.watch {
        match fd_of(o) {
            Ok(fd) => watched.push((o.name.clone(), fd)),
            Err(why) => return Ok(Outcome::NotRun(why)),
        }
    }
    let drops_before = drops();
    // SAFETY: data is valid for reading data.len() bytes during the call.
    let sent = unsafe {
        libc::send(
            from,
            send.data.as_ptr().cast(),
            send.data.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if sent < 0 {
        return Ok(Outcome::Errno(Errno::of(&io::Error::last_os_error())));
    }
    let dropped = || drops() > drops_before;
    Ok(Outcome::Arrived(collect_arrivals(&watched, sent as usize, &dropped)))
}

/// How often the wait looks at `dropped` while nothing arrives.
const DROP_CHECK: Duration = Duration::from_millis(2);

/// Reads what arrives on `watched` until `expected` bytes arrived in all, `dropped()` says
/// nothing more will, or the wait ends.
fn collect_arrivals(
    watched: &[(String, RawFd)],
    expected: usize,
    dropped: &dyn Fn() -> bool,
) -> BTreeMap<String, String> {
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); watched.len()];
    // A socket that cannot be read (a listener, a stream at its end) is polled no more:
    // poll skips negative fds.
    let mut fds: Vec<RawFd> = watched.iter().map(|(_, fd)| *fd).collect();
    let deadline = Instant::now() + ARRIVAL_WAIT;
    while got.iter().map(Vec::len).sum::<usize>() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || dropped() {
            break;
        }
        let mut polls: Vec<libc::pollfd> = fds
            .iter()
            .map(|fd| libc::pollfd {
                fd: *fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: polls is a valid array of polls.len() pollfds for the call.
        let ready = unsafe {
            libc::poll(
                polls.as_mut_ptr(),
                polls.len() as libc::nfds_t,
                left.min(DROP_CHECK).as_millis() as i32 + 1,
            )
        };
        if ready <= 0 {
            continue;
        }
        for (i, p) in polls.iter().enumerate().filter(|(_, p)| p.revents & libc::POLLIN != 0) {
            let mut buf = [0u8; 4096];
            // SAFETY: buf is valid for writing buf.len() bytes during the call.
            let n = unsafe { libc::recv(p.fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n > 0 {
                got[i].extend_from_slice(&buf[..n as usize]);
            } else {
                fds[i] = -1;
            }
        }
    }
    watched
        .iter()
        .zip(got)
        .map(|((name, _), bytes)| (name.clone(), String::from_utf8_lossy(&bytes).into_owned()))
        .collect()
}
