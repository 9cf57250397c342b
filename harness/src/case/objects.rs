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
}

impl ObjectKind {
    /// Whether this object is a listening TCP socket (what `tcp_client` and `tcp_accepted`
    /// need).
    pub fn is_listener(&self) -> bool {
        matches!(self, ObjectKind::TcpListener)
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
            ObjectKind::TcpClient { to } => format!("{{tcp_client: {{to: {}}}}}", name(*to)),
            ObjectKind::TcpAccepted { from } => format!("{{tcp_accepted: {{from: {}}}}}", name(*from)),
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
        RawObject::TcpClient(a) => ObjectKind::TcpClient {
            to: find(&a.to, ObjectKind::is_listener, "a tcp_listener")?,
        },
        RawObject::TcpAccepted(a) => ObjectKind::TcpAccepted {
            from: find(&a.from, ObjectKind::is_listener, "a tcp_listener")?,
        },
    })
}
