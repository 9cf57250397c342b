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
    /// The objects this one is made from.
    pub fn uses(&self) -> Vec<usize> {
        match self {
            ObjectKind::Udp | ObjectKind::TcpListener => Vec::new(),
            ObjectKind::TcpClient { to } => vec![*to],
            ObjectKind::TcpAccepted { from } => vec![*from],
            ObjectKind::Veth | ObjectKind::Program(_) | ObjectKind::PerfEvent { .. } => Vec::new(),
            ObjectKind::Xsk { dev, .. } => vec![*dev],
        }
    }

    /// Whether this object is a network interface (what `{ifindex: NAME}` and `xsk` need).
    pub fn is_interface(&self) -> bool {
        matches!(self, ObjectKind::Veth)
    }

    /// Whether this object is a listening TCP socket (what `tcp_client` and `tcp_accepted`
    /// need).
    pub fn is_listener(&self) -> bool {
        matches!(self, ObjectKind::TcpListener)
    }
}

/// The kind's name as a case file writes it, with its arguments by object name.
pub struct Described<'a>(pub &'a ObjectKind, pub &'a [ObjectDef]);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |i: &usize| self.1.get(*i).map_or("?", |o| o.name.as_str());
        match self.0 {
            ObjectKind::Udp => write!(f, "udp"),
            ObjectKind::TcpListener => write!(f, "tcp_listener"),
            ObjectKind::TcpClient { to } => write!(f, "{{tcp_client: {{to: {}}}}}", name(to)),
            ObjectKind::TcpAccepted { from } => write!(f, "{{tcp_accepted: {{from: {}}}}}", name(from)),
            ObjectKind::Veth => write!(f, "veth"),
            ObjectKind::Program(kind) => write!(f, "{{program: {}}}", kind.name()),
            ObjectKind::PerfEvent { cpu } => write!(f, "{{perf_event: {{cpu: {cpu}}}}}"),
            ObjectKind::Xsk { dev, queue } => write!(f, "{{xsk: {{dev: {}, queue: {queue}}}}}", name(dev)),
        }
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
pub(super) struct PerfEventArgs {
    pub cpu: u32,
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
        RawObject::TcpClient(a) => ObjectKind::TcpClient {
            to: find(&a.to, ObjectKind::is_listener, "a tcp_listener")?,
        },
        RawObject::TcpAccepted(a) => ObjectKind::TcpAccepted {
            from: find(&a.from, ObjectKind::is_listener, "a tcp_listener")?,
        },
        RawObject::Veth => ObjectKind::Veth,
        RawObject::Program(kind) => ObjectKind::Program(*kind),
        RawObject::PerfEvent(a) => ObjectKind::PerfEvent { cpu: a.cpu },
        RawObject::Xsk(a) => ObjectKind::Xsk {
            dev: find(&a.dev, ObjectKind::is_interface, "a veth")?,
            queue: a.queue,
        },
    })
}
