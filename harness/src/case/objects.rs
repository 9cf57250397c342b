//! Kernel objects other than maps that a case makes and refers to: sockets, and (as the
//! network, storage and program map types need them) interfaces, cgroups, programs and
//! perf events. A map of sockets, devices or programs stores *fds* of such objects, so a
//! case declares them in `objects:` and writes `{fd: NAME}` where a key or value is one.
//!
//! ```yaml
//! objects:
//!   l: tcp_listener              # a kind without arguments is its name
//!   c: {tcp_client: {to: l}}     # arguments name earlier objects
//!   p: {tcp_accepted: {from: l}}
//! ```
//!
//! Objects are made before the case's maps, in declaration order, each as a recorded
//! `make NAME` result (a kernel that refuses one shows its errno there); the steps that
//! use an object that could not be made are `{not_run: …}`. Everything is closed or
//! removed when the case ends, and a case with objects runs in a private network
//! namespace of its own, so its sockets and interfaces never meet the host's.
//!
//! This module is the pure part: the kinds as a case file writes them ([`RawObject`],
//! checked by serde, `deny_unknown_fields`) and as the executor gets them ([`ObjectKind`],
//! references resolved to indices). Making them is `crate::exec::objects`.
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// One declared object: its name and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDef {
    pub name: String,
    pub kind: ObjectKind,
}

/// What an object is, with references to other objects as indices into `Case::objects`
/// (always earlier ones: validation checks it).
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectKind {
    /// An IPv4 UDP socket bound to 127.0.0.1, port chosen by the kernel.
    Udp,
    /// An IPv4 TCP socket bound to 127.0.0.1 and listening (backlog 8).
    TcpListener,
    /// An IPv4 TCP socket connected to the listener `to` (established once `connect` returns:
    /// loopback completes the handshake at once).
    TcpClient { to: usize },
    /// The socket `accept` returns on the listener `from` for its oldest pending connection.
    TcpAccepted { from: usize },
    /// A pidfd of the harness's own process (`pidfd_open(getpid())`): task_storage keys.
    Pidfd,
    /// An O_RDONLY fd of an empty file made in a private temporary folder: inode_storage keys.
    File,
    /// An O_RDONLY fd of a new, empty cgroup (v2) made for the case and removed after it:
    /// cgrp_storage keys, cgroup_array values.
    Cgroup,
    /// An O_RDONLY fd of the cgroup v2 hierarchy's root, which every task is under (the
    /// "yes" answer of bpf_current_task_under_cgroup); never removed.
    RootCgroup,
    /// Sockets for the socket map types: see [`SocketKind`].
    Socket(SocketKind),
    // ---- devices, programs and perf events (devmap, cpumap, xskmap, prog_array,
    // perf_event_array): made by `crate::exec::devices` and `crate::exec::perf` ----
    /// A veth pair in the case's network namespace, both ends up. `{ifindex: NAME}` is the
    /// first end's interface index, `{fd: NAME}` has no meaning (no fd).
    Veth,
    /// A loaded BPF program (its fd), from `ebpf/fd_progs.c`.
    Program(ProgKind),
    /// perf_event_open of PERF_COUNT_SW_BPF_OUTPUT on `cpu` (any task), its ring mmapped
    /// so records written by bpf_perf_event_output can be read back.
    PerfEvent { cpu: u32 },
    /// An AF_XDP socket with a registered umem, fill/completion/rx rings, bound to queue
    /// `queue` of the veth `dev`'s first end.
    Xsk { dev: usize, queue: u32 },
}

/// The socket kinds the socket maps (sockmap, sockhash, reuseport_sockarray) need beyond
/// the basic four: other states, protocols and families, and SO_REUSEPORT groups.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketKind {
    /// A TCP socket never bound or connected (state TCP_CLOSE).
    TcpUnbound,
    /// A UDP socket never bound (not hashed).
    UdpUnbound,
    /// A UDP socket bound to 127.0.0.1 and connected to the UDP socket `to`.
    UdpConnected { to: usize },
    /// An IPv6 UDP socket bound to ::1.
    Udp6,
    /// An IPv6 TCP socket bound to ::1, listening.
    Tcp6Listener,
    /// One end of socketpair(AF_UNIX, SOCK_STREAM); its peer is `unix_peer`.
    UnixStream,
    /// One end of socketpair(AF_UNIX, SOCK_DGRAM).
    UnixDgram,
    /// The other end of the unix socketpair `of`.
    UnixPeer { of: usize },
    /// A UDP socket with SO_REUSEPORT bound to 127.0.0.1 (a new port: a new group).
    UdpReuseport,
    /// A TCP socket with SO_REUSEPORT bound to 127.0.0.1 and listening.
    TcpReuseportListener,
    /// A socket like `as` (udp_reuseport or tcp_reuseport_listener) with SO_REUSEPORT,
    /// bound to the same port: it joins the same reuseport group.
    SamePort { as_: usize },
}

/// The programs a `program:` object can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgKind {
    /// BPF_PROG_TYPE_XDP, returns XDP_TX (so a tail call into it shows as that action).
    Xdp,
    /// XDP with expected_attach_type BPF_XDP_DEVMAP (a devmap entry's program), returns XDP_PASS.
    XdpDevmap,
    /// XDP with expected_attach_type BPF_XDP_CPUMAP (a cpumap entry's program), returns XDP_PASS.
    XdpCpumap,
    /// BPF_PROG_TYPE_SOCKET_FILTER, returns 0: another program type.
    SocketFilter,
}

impl ProgKind {
    pub fn name(self) -> &'static str {
        match self {
            ProgKind::Xdp => "xdp",
            ProgKind::XdpDevmap => "xdp_devmap",
            ProgKind::XdpCpumap => "xdp_cpumap",
            ProgKind::SocketFilter => "socket_filter",
        }
    }
}

impl ObjectKind {
    /// Whether this object is a network interface (what `{ifindex: NAME}` and `xsk` need).
    pub fn is_interface(&self) -> bool {
        matches!(self, ObjectKind::Veth)
    }

    /// Whether this object is a listening IPv4 TCP socket (what `tcp_client` and
    /// `tcp_accepted` need).
    pub fn is_listener(&self) -> bool {
        matches!(
            self,
            ObjectKind::TcpListener | ObjectKind::Socket(SocketKind::TcpReuseportListener)
        )
    }

    /// A bound IPv4 UDP socket (what `udp_connected` connects to).
    pub fn is_bound_udp(&self) -> bool {
        matches!(self, ObjectKind::Udp | ObjectKind::Socket(SocketKind::UdpReuseport))
    }

    /// One end of a unix socketpair made by `unix_stream` or `unix_dgram`.
    pub fn is_unix_pair(&self) -> bool {
        matches!(self, ObjectKind::Socket(SocketKind::UnixStream | SocketKind::UnixDgram))
    }

    /// The first socket of a reuseport group (what `same_port` joins).
    pub fn is_reuseport(&self) -> bool {
        matches!(
            self,
            ObjectKind::Socket(SocketKind::UdpReuseport | SocketKind::TcpReuseportListener)
        )
    }
}

impl ObjectKind {
    /// The kind as a case file writes it: its bare name, or `{KIND: {ARG: NAME}}` with each
    /// object it refers to written by `name` (plain in step labels, quoted in rendered YAML).
    pub fn written(&self, name: impl Fn(usize) -> String) -> String {
        match self {
            ObjectKind::Udp => "udp".into(),
            ObjectKind::TcpListener => "tcp_listener".into(),
            ObjectKind::Pidfd => "pidfd".into(),
            ObjectKind::File => "file".into(),
            ObjectKind::Cgroup => "cgroup".into(),
            ObjectKind::RootCgroup => "root_cgroup".into(),
            ObjectKind::TcpClient { to } => format!("{{tcp_client: {{to: {}}}}}", name(*to)),
            ObjectKind::TcpAccepted { from } => format!("{{tcp_accepted: {{from: {}}}}}", name(*from)),
            ObjectKind::Socket(s) => match s {
                SocketKind::UdpConnected { to } => format!("{{udp_connected: {{to: {}}}}}", name(*to)),
                SocketKind::UnixPeer { of } => format!("{{unix_peer: {{of: {}}}}}", name(*of)),
                SocketKind::SamePort { as_ } => format!("{{same_port: {{as: {}}}}}", name(*as_)),
                bare => bare.bare_name().unwrap_or("?").into(),
            },
            ObjectKind::Veth => "veth".into(),
            ObjectKind::Program(kind) => format!("{{program: {}}}", kind.name()),
            ObjectKind::PerfEvent { cpu } => format!("{{perf_event: {{cpu: {cpu}}}}}"),
            ObjectKind::Xsk { dev, queue } => format!("{{xsk: {{dev: {}, queue: {queue}}}}}", name(*dev)),
        }
    }
}

/// The kind as a case file writes it, its arguments by plain object name (step labels).
pub struct Described<'a>(pub &'a ObjectKind, pub &'a [ObjectDef]);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let objects = self.1;
        f.write_str(&self.0.written(|i| objects.get(i).map_or("?".into(), |o| o.name.clone())))
    }
}

impl SocketKind {
    /// The case-file name of a kind without arguments.
    pub fn bare_name(&self) -> Option<&'static str> {
        Some(match self {
            SocketKind::TcpUnbound => "tcp_unbound",
            SocketKind::UdpUnbound => "udp_unbound",
            SocketKind::Udp6 => "udp6",
            SocketKind::Tcp6Listener => "tcp6_listener",
            SocketKind::UnixStream => "unix_stream",
            SocketKind::UnixDgram => "unix_dgram",
            SocketKind::UdpReuseport => "udp_reuseport",
            SocketKind::TcpReuseportListener => "tcp_reuseport_listener",
            SocketKind::UdpConnected { .. } | SocketKind::UnixPeer { .. } | SocketKind::SamePort { .. } => return None,
        })
    }
}

// ---- as written: serde checks the kinds and their arguments ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct To {
    pub to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct From {
    pub from: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Of {
    pub of: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PerfEventArgs {
    pub cpu: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct As {
    #[serde(rename = "as")]
    pub as_: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct XskArgs {
    pub dev: Spanned<String>,
    #[serde(default)]
    pub queue: u32,
}

/// Every object kind, by its name in the case file: `udp` or `{tcp_client: {to: l}}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawObject {
    Udp,
    TcpListener,
    TcpClient(To),
    TcpAccepted(From),
    Pidfd,
    File,
    Cgroup,
    RootCgroup,
    TcpUnbound,
    UdpUnbound,
    UdpConnected(To),
    Udp6,
    Tcp6Listener,
    UnixStream,
    UnixDgram,
    UnixPeer(Of),
    UdpReuseport,
    TcpReuseportListener,
    SamePort(As),
    Veth,
    Program(ProgKind),
    PerfEvent(PerfEventArgs),
    Xsk(XskArgs),
}

/// Resolves the object names a raw kind refers to: `earlier(reference, fits, what)` gives
/// the index of an earlier object that `fits`, or why not (`what` names the kind wanted).
/// The error comes with the reference it is about.
pub(super) fn resolve<'r>(
    raw: &'r RawObject,
    mut earlier: impl FnMut(&Spanned<String>, fn(&ObjectKind) -> bool, &str) -> Result<usize, String>,
) -> Result<ObjectKind, (&'r Spanned<String>, String)> {
    let mut find = |r: &'r Spanned<String>, fits, what| earlier(r, fits, what).map_err(|why| (r, why));
    Ok(match raw {
        RawObject::Udp => ObjectKind::Udp,
        RawObject::TcpListener => ObjectKind::TcpListener,
        RawObject::Pidfd => ObjectKind::Pidfd,
        RawObject::File => ObjectKind::File,
        RawObject::Cgroup => ObjectKind::Cgroup,
        RawObject::RootCgroup => ObjectKind::RootCgroup,
        RawObject::TcpClient(a) => ObjectKind::TcpClient {
            to: find(&a.to, ObjectKind::is_listener, "a tcp_listener")?,
        },
        RawObject::TcpAccepted(a) => ObjectKind::TcpAccepted {
            from: find(&a.from, ObjectKind::is_listener, "a tcp_listener")?,
        },
        RawObject::TcpUnbound => ObjectKind::Socket(SocketKind::TcpUnbound),
        RawObject::UdpUnbound => ObjectKind::Socket(SocketKind::UdpUnbound),
        RawObject::UdpConnected(a) => ObjectKind::Socket(SocketKind::UdpConnected {
            to: find(&a.to, ObjectKind::is_bound_udp, "a udp or udp_reuseport socket")?,
        }),
        RawObject::Udp6 => ObjectKind::Socket(SocketKind::Udp6),
        RawObject::Tcp6Listener => ObjectKind::Socket(SocketKind::Tcp6Listener),
        RawObject::UnixStream => ObjectKind::Socket(SocketKind::UnixStream),
        RawObject::UnixDgram => ObjectKind::Socket(SocketKind::UnixDgram),
        RawObject::UnixPeer(a) => ObjectKind::Socket(SocketKind::UnixPeer {
            of: find(&a.of, ObjectKind::is_unix_pair, "a unix_stream or unix_dgram socket")?,
        }),
        RawObject::UdpReuseport => ObjectKind::Socket(SocketKind::UdpReuseport),
        RawObject::TcpReuseportListener => ObjectKind::Socket(SocketKind::TcpReuseportListener),
        RawObject::SamePort(a) => ObjectKind::Socket(SocketKind::SamePort {
            as_: find(
                &a.as_,
                ObjectKind::is_reuseport,
                "a udp_reuseport or tcp_reuseport_listener",
            )?,
        }),
        RawObject::Veth => ObjectKind::Veth,
        RawObject::Program(kind) => ObjectKind::Program(*kind),
        RawObject::PerfEvent(a) => ObjectKind::PerfEvent { cpu: a.cpu },
        RawObject::Xsk(a) => ObjectKind::Xsk {
            dev: find(&a.dev, ObjectKind::is_interface, "a veth")?,
            queue: a.queue,
        },
    })
}
