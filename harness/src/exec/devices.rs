//! The device objects of a case: a veth pair (rtnetlink) and an AF_XDP socket bound to one
//! of its queues, plus how device-map values read back (`{ifindex: v}`, `{program: p}`).
//!
//! Everything here lives in the case's private network namespace (see
//! [`super::run_case`]); the pair is deleted when its object is dropped, and would go with
//! the namespace anyway.
use crate::case::MapDef;
use crate::outcome::Shown;
use crate::uapi::MapType;
use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// A veth pair, both ends up; deleted on drop.
pub(super) struct Veth {
    pub ifindex: u32,
    pub peer_ifindex: u32,
    pub name: String,
    /// The packet socket of the pair's `redirect` steps, made at the first one and kept
    /// for the case (closing an AF_PACKET socket waits for an RCU grace period,
    /// `packet_release()`; one per case instead of two per step).
    frames: std::cell::OnceCell<PacketSocket>,
    /// `redirect` steps run on the pair so far: each one's frames carry its number, so a
    /// frame of an earlier step that arrives late is never counted for a later one.
    steps: std::cell::Cell<u32>,
}

static PAIRS: AtomicU32 = AtomicU32::new(0);

impl Veth {
    pub(super) fn make() -> io::Result<Veth> {
        // Names are per namespace, but a twin of a differential case makes its own pair in
        // the same one: a process-wide counter keeps them apart.
        let n = PAIRS.fetch_add(1, Ordering::Relaxed);
        let (name, peer) = (format!("mcv{n}a"), format!("mcv{n}b"));
        let request = new_veth_request(&name, &peer);
        match rtnetlink(&request) {
            // No veth driver: the guest's minimal root has no modprobe for the kernel's
            // request_module(), so load the module from its tree and try once more.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                load_veth_module()?;
                rtnetlink(&request)?;
            }
            other => other?,
        }
        // From here the pair exists: it is deleted by drop if bringing it up fails.
        let veth = Veth {
            ifindex: ifindex(&name)?,
            peer_ifindex: ifindex(&peer)?,
            name,
            frames: std::cell::OnceCell::new(),
            steps: std::cell::Cell::new(0),
        };
        crate::prog::netns::bring_up(&veth.name)?;
        crate::prog::netns::bring_up(&peer)?;
        Ok(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting one end deletes both.
        let _ = rtnetlink(&del_link_request(self.ifindex));
    }
}

/// finit_module of `drivers/net/veth.ko` (or `.ko.xz`, 5.17+: MODULE_INIT_COMPRESSED_FILE)
/// from the running kernel's module tree; already loaded is fine.
fn load_veth_module() -> io::Result<()> {
    const MODULE_INIT_COMPRESSED_FILE: libc::c_int = 4;
    let dir = format!("/lib/modules/{}/kernel/drivers/net", super::kernel_release());
    for (file, flags) in [("veth.ko", 0), ("veth.ko.xz", MODULE_INIT_COMPRESSED_FILE)] {
        let Ok(module) = std::fs::File::open(format!("{dir}/{file}")) else {
            continue;
        };
        // SAFETY: a plain syscall on an fd this function owns, with an empty argument string.
        let r = unsafe { libc::syscall(libc::SYS_finit_module, module.as_raw_fd(), c"".as_ptr(), flags) };
        let e = io::Error::last_os_error();
        return if r == 0 || e.raw_os_error() == Some(libc::EEXIST) { Ok(()) } else { Err(e) };
    }
    Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
}

fn ifindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: c is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

// ---- rtnetlink messages (pure: bytes only) ----

const VETH_INFO_PEER: u16 = 1;
/// struct ifinfomsg, all zero: AF_UNSPEC, no index, no flags.
const IFINFOMSG: [u8; 16] = [0; 16];

/// One netlink attribute (header + payload, padded to 4).
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(4));
    out.extend((len as u16).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(payload);
    out.resize(len.next_multiple_of(4), 0);
    out
}

fn name_attr(name: &str) -> Vec<u8> {
    let mut z = name.as_bytes().to_vec();
    z.push(0);
    attr(libc::IFLA_IFNAME, &z)
}

fn message(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let len = 16 + body.len();
    let mut out = Vec::with_capacity(len);
    out.extend((len as u32).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend((flags | (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    out.extend(1u32.to_ne_bytes()); // seq
    out.extend(0u32.to_ne_bytes()); // pid: the kernel
    out.extend(body);
    out
}

/// RTM_NEWLINK of a veth `name` whose peer is `peer` (`ip link add NAME type veth peer PEER`).
fn new_veth_request(name: &str, peer: &str) -> Vec<u8> {
    let peer_info = attr(VETH_INFO_PEER, &[&IFINFOMSG[..], &name_attr(peer)].concat());
    let link_info = [attr(libc::IFLA_INFO_KIND, b"veth\0"), attr(libc::IFLA_INFO_DATA, &peer_info)].concat();
    let body = [&IFINFOMSG[..], &name_attr(name), &attr(libc::IFLA_LINKINFO, &link_info)].concat();
    message(
        libc::RTM_NEWLINK,
        (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
        &body,
    )
}

/// RTM_SETLINK of IFLA_XDP {IFLA_XDP_FD, IFLA_XDP_FLAGS: XDP_FLAGS_SKB_MODE} on `ifindex`:
/// attach a program in generic mode (fd -1: detach).
fn set_xdp_request(ifindex: u32, prog_fd: i32) -> Vec<u8> {
    const IFLA_XDP: u16 = 43;
    const IFLA_XDP_FD: u16 = 1;
    const IFLA_XDP_FLAGS: u16 = 3;
    const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
    let mut info = IFINFOMSG;
    info[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    let xdp = [
        attr(IFLA_XDP_FD, &prog_fd.to_ne_bytes()),
        attr(IFLA_XDP_FLAGS, &XDP_FLAGS_SKB_MODE.to_ne_bytes()),
    ]
    .concat();
    message(libc::RTM_SETLINK, 0, &[&info[..], &attr(IFLA_XDP, &xdp)].concat())
}

/// A generic-mode XDP attachment on a veth end, detached on drop.
pub(super) struct XdpAttached(u32);

impl XdpAttached {
    pub(super) fn attach(ifindex: u32, prog_fd: i32) -> io::Result<XdpAttached> {
        rtnetlink(&set_xdp_request(ifindex, prog_fd)).map(|()| XdpAttached(ifindex))
    }
}

impl Drop for XdpAttached {
    fn drop(&mut self) {
        let _ = rtnetlink(&set_xdp_request(self.0, -1));
    }
}

fn del_link_request(ifindex: u32) -> Vec<u8> {
    let mut info = IFINFOMSG;
    info[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    message(libc::RTM_DELLINK, 0, &info)
}

/// Sends one request on a fresh NETLINK_ROUTE socket and reads its ack (an NLMSG_ERROR
/// whose error is 0, or the kernel's errno).
fn rtnetlink(request: &[u8]) -> io::Result<()> {
    // SAFETY: a plain socket call; the fd is owned right after.
    let fd = check(unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
    })?;
    // SAFETY: socket returned a new fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: request is valid for reading its length; the kernel routes it (pid 0).
    check(unsafe { libc::send(sock.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) as i32 })?;
    let mut reply = [0u8; 4096];
    // SAFETY: reply is valid for writing its length.
    let n = check(unsafe { libc::recv(sock.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) as i32 })?;
    ack_errno(&reply[..n as usize])
}

/// The errno of an NLMSG_ERROR reply (0: the request succeeded).
fn ack_errno(reply: &[u8]) -> io::Result<()> {
    let field = |at: usize| reply.get(at..at + 4).map(|b| i32::from_ne_bytes(b.try_into().unwrap()));
    let kind = reply.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    match (kind, field(16)) {
        (Some(k), Some(0)) if k == libc::NLMSG_ERROR as u16 => Ok(()),
        (Some(k), Some(e)) if k == libc::NLMSG_ERROR as u16 => Err(io::Error::from_raw_os_error(-e)),
        _ => Err(io::Error::other("rtnetlink: no ack in the reply")),
    }
}

fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

// ---- AF_XDP ----

/// Frames of the umem (chunk size 4096, the page size: aligned mode on every kernel).
const UMEM_FRAMES: usize = 16;
const FRAME: usize = 4096;
/// Entries of the fill, completion and rx rings (a power of two).
const RING: u32 = 64;

/// An AF_XDP socket with a registered umem, fill/completion/rx rings, bound to a queue.
/// Field order matters: the socket is closed before its umem memory is unmapped.
pub(super) struct Xsk {
    pub fd: OwnedFd,
    umem: Umem,
    /// The interface it is bound to.
    pub ifindex: u32,
}

struct Umem(*mut libc::c_void);

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: the mapping made in Umem::new, of that length, unmapped once.
        unsafe { libc::munmap(self.0, UMEM_FRAMES * FRAME) };
    }
}

impl Umem {
    fn new() -> io::Result<Umem> {
        // SAFETY: an anonymous private mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                UMEM_FRAMES * FRAME,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Umem(p))
    }
}

impl Xsk {
    /// socket(AF_XDP), XDP_UMEM_REG, ring sizes, bind to `queue` of `ifindex` (copy mode:
    /// veth has no zero-copy).
    pub(super) fn make(ifindex: u32, queue: u32) -> io::Result<Xsk> {
        // SAFETY: a plain socket call; the fd is owned right after.
        let fd = check(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: socket returned a new fd that nothing else owns.
        let xsk = Xsk {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            umem: Umem::new()?,
            ifindex,
        };
        // SAFETY: xdp_umem_reg is plain data; all-zero is valid.
        let mut reg: libc::xdp_umem_reg = unsafe { std::mem::zeroed() };
        reg.addr = xsk.umem.0 as u64;
        reg.len = (UMEM_FRAMES * FRAME) as u64;
        reg.chunk_size = FRAME as u32;
        xsk.setsockopt(libc::XDP_UMEM_REG, &reg)?;
        for ring in [libc::XDP_UMEM_FILL_RING, libc::XDP_UMEM_COMPLETION_RING, libc::XDP_RX_RING] {
            xsk.setsockopt(ring, &RING)?;
        }
        // SAFETY: sockaddr_xdp is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_xdp = unsafe { std::mem::zeroed() };
        addr.sxdp_family = libc::AF_XDP as u16;
        addr.sxdp_flags = libc::XDP_COPY;
        addr.sxdp_ifindex = ifindex;
        addr.sxdp_queue_id = queue;
        // SAFETY: addr is a valid sockaddr_xdp of the size given.
        check(unsafe {
            libc::bind(
                xsk.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as u32,
            )
        })?;
        Ok(xsk)
    }

    /// Frames the socket dropped on receive (XDP_STATISTICS `rx_dropped`): `__xsk_rcv()`
    /// counts each frame it finds no fill-ring buffer for, and this socket's fill ring is
    /// never filled. The first three fields (`xdp_statistics_v1`) are what every kernel
    /// since 4.18 fills in; a kernel that refuses the call counts as none.
    pub(super) fn rx_dropped(&self) -> u64 {
        // SAFETY: xdp_statistics_v1 is plain data; all-zero is valid.
        let mut stats: libc::xdp_statistics_v1 = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::xdp_statistics_v1>() as u32;
        // SAFETY: stats and len are valid for writing their sizes during the call.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                (&mut stats as *mut libc::xdp_statistics_v1).cast(),
                &mut len,
            )
        };
        if ret < 0 {
            0
        } else {
            stats.rx_dropped
        }
    }

    fn setsockopt<T>(&self, name: i32, value: &T) -> io::Result<()> {
        // SAFETY: value is a valid T of the size given; the kernel only reads it.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                name,
                (value as *const T).cast(),
                size_of::<T>() as u32,
            )
        })
        .map(|_| ())
    }
}

// ---- reading device-map values back ----

/// Names for what a device or program map's value holds: an interface index and a
/// program id, as the case's objects (`{ifindex: v}`, `{program: p}`). Ids change every
/// run; interface indices are the case namespace's own.
pub(super) trait Names {
    fn interface(&self, ifindex: u32) -> String;
    fn program(&self, id: u32) -> String;
}

/// How a syscall lookup of a device, CPU or program map reads back, or `None` for other
/// maps (and sizes that hold no such value).
pub(super) fn show_value(def: &MapDef, bytes: &[u8], names: &dyn Names) -> Option<Shown> {
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let program = |id: u32| if id == 0 { "none".to_string() } else { names.program(id) };
    let t = def.map_type;
    if t == MapType::PROG_ARRAY && bytes.len() == 4 {
        return Some(Shown::Program {
            program: program(u32_at(0)?),
        });
    }
    if t == MapType::DEVMAP || t == MapType::DEVMAP_HASH {
        let ifindex = Shown::Interface {
            ifindex: names.interface(u32_at(0)?),
        };
        return match bytes.len() {
            4 => Some(ifindex),
            8 => Some(Shown::Fields(vec![ifindex, Shown::Program { program: program(u32_at(4)?) }])),
            _ => None,
        };
    }
    if t == MapType::CPUMAP && bytes.len() == 8 {
        return Some(Shown::Fields(vec![
            Shown::Int(u64::from(u32_at(0)?)),
            Shown::Program {
                program: program(u32_at(4)?),
            },
        ]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_veth_request_nests_the_peer_in_linkinfo_data() {
        let req = new_veth_request("a", "b");
        // nlmsghdr length covers everything; RTM_NEWLINK; ifinfomsg; IFLA_IFNAME "a\0" padded.
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize, req.len());
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), libc::RTM_NEWLINK);
        assert_eq!(&req[32..40], &[6, 0, 3, 0, b'a', 0, 0, 0]);
        // IFLA_LINKINFO { KIND "veth\0" (9 → 12), DATA { PEER { ifinfomsg, IFNAME "b\0" } } }
        assert_eq!(u16::from_ne_bytes([req[42], req[43]]), libc::IFLA_LINKINFO);
        assert_eq!(&req[44..53], &[9, 0, 1, 0, b'v', b'e', b't', b'h', 0]);
        assert_eq!(req.len(), 16 + 16 + 8 + 4 + 12 + 4 + 4 + 16 + 8);
    }

    #[test]
    fn an_ack_is_errno_zero() {
        let mut reply = vec![0u8; 36];
        reply[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        assert!(ack_errno(&reply).is_ok());
        reply[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(ack_errno(&reply).unwrap_err().raw_os_error(), Some(libc::EEXIST));
    }
}

// ---- the `redirect` step: frames over the veth pair ----

/// The EtherType of the frames the `redirect` step sends (IEEE 802 local experimental);
/// the XDP program redirects only these.
const ETH_P_REDIRECT: u16 = 0x88b5;
/// `sll_pkttype` of a frame the socket's own interface sent.
const PACKET_OUTGOING: u8 = 4;

/// An AF_PACKET socket for frames of [`ETH_P_REDIRECT`] on every interface of the case's
/// namespace: it sends on one interface and tells by `sll_ifindex` where each frame was
/// received. Never bound: a bind re-registers the protocol hook, one more grace period.
struct PacketSocket {
    fd: OwnedFd,
}

/// Frames of one step received on a pair, by where they arrived.
#[derive(Default)]
struct Arrived {
    at_peer: usize,
    passed: usize,
}

impl PacketSocket {
    fn open() -> io::Result<PacketSocket> {
        let proto = ETH_P_REDIRECT.to_be();
        // SAFETY: a plain socket call; the fd is owned right after.
        let fd = check(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, proto as i32)
        })?;
        // SAFETY: socket returned a new fd that nothing else owns.
        Ok(PacketSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_REDIRECT.to_be();
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].fill(0xff);
        // SAFETY: frame and addr are valid for reading their sizes.
        check(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            ) as i32
        })
        .map(|_| ())
    }

    /// Adds the frames received so far that carry `magic` to `into`: on `veth`'s peer
    /// (redirected out of `veth`) or on `veth` itself (passed to its stack); not the copies
    /// of what this socket sent.
    fn count(&self, magic: &[u8], veth: &Veth, into: &mut Arrived) {
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: sockaddr_ll is plain data; all-zero is valid.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: buf, from and len are valid for writing their sizes.
            let got = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if got < 0 {
                return;
            }
            if from.sll_pkttype == PACKET_OUTGOING || !buf[..got as usize].windows(magic.len()).any(|w| w == magic) {
                continue;
            }
            match from.sll_ifindex as u32 {
                i if i == veth.peer_ifindex => into.at_peer += 1,
                i if i == veth.ifindex => into.passed += 1,
                _ => {}
            }
        }
    }
}

/// One frame: broadcast destination, a local source address, [`ETH_P_REDIRECT`], `magic`,
/// padded to the 60-byte Ethernet minimum.
fn frame(magic: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend([0x02, 0, 0, 0, 0, 1]);
    f.extend(ETH_P_REDIRECT.to_be_bytes());
    f.extend(magic);
    f.resize(60, 0);
    f
}

/// How long a `redirect` step waits for frames it cannot account for yet.
const FRAME_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends `packets` frames on `veth`'s peer; the XDP program attached to `veth` (see
/// `prog::redirect`) redirects them; counts what arrives back on the peer and what
/// `veth`'s own stack receives (passed). The wait ends as soon as every frame is accounted
/// for: arrived at the peer, passed, or dropped by one of `sockets` (the case's AF_XDP
/// sockets on `veth`, which drop what they have no fill-ring buffer for). Only a frame
/// that goes somewhere else costs the whole [`FRAME_WAIT`].
pub(super) fn send_and_count(veth: &Veth, packets: u32, sockets: &[&Xsk]) -> io::Result<crate::outcome::FrameCounts> {
    let step = veth.steps.get();
    veth.steps.set(step + 1);
    let mut magic = b"mapconform-redirect-".to_vec();
    magic.extend(step.to_be_bytes());
    let socket = match veth.frames.get() {
        Some(s) => s,
        None => {
            let opened = PacketSocket::open()?;
            veth.frames.get_or_init(|| opened)
        }
    };
    let dropped = || sockets.iter().map(|s| s.rx_dropped()).sum::<u64>();
    let dropped_before = dropped();
    for _ in 0..packets {
        socket.send(veth.peer_ifindex, &frame(&magic))?;
    }
    let mut arrived = Arrived::default();
    let deadline = std::time::Instant::now() + FRAME_WAIT;
    loop {
        socket.count(&magic, veth, &mut arrived);
        let accounted = (arrived.at_peer + arrived.passed) as u64 + dropped().saturating_sub(dropped_before);
        if accounted >= u64::from(packets) || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(crate::outcome::FrameCounts {
        sent: u64::from(packets),
        at_peer: arrived.at_peer as u64,
        passed: arrived.passed as u64,
    })
}
