//! The steps of the socket maps (sockmap, sockhash), as a case writes them and as the
//! executor gets them: `attach_to_map` (a program attached to the map, BPF_PROG_ATTACH
//! with the map as target) and `send` (bytes sent on one object, what arrives on others).
//!
//! ```yaml
//! - attach_to_map: {map: sm, program: sk_skb_redirect, attach_type: sk_skb_stream_verdict, key: 1, flags: ingress}
//! - send: {from: c0, data: "ping", watch: [p0, p1, c1]}
//! ```
//!
//! Pure: the executor is `crate::exec::sockets`.
use super::data::ObjectName;
use super::steps::Flags;
use crate::uapi::{RedirectFlags, SockAttachType};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The programs of `ebpf/sockets.c` a case may attach to a socket map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SockProgram {
    /// sk_skb stream verdict: bpf_sk_redirect_map (sockmap) / bpf_sk_redirect_hash (sockhash)
    /// of every skb to the socket at `key`, with `flags`.
    SkSkbRedirect,
    /// sk_skb stream parser: the whole skb is one message.
    SkSkbParser,
    /// sk_msg verdict: bpf_msg_redirect_map / bpf_msg_redirect_hash of every message.
    SkMsgRedirect,
}

impl SockProgram {
    pub const ALL: [SockProgram; 3] = [
        SockProgram::SkSkbRedirect,
        SockProgram::SkSkbParser,
        SockProgram::SkMsgRedirect,
    ];

    /// The program a case names, or what it could have named.
    pub fn from_name(name: &str) -> Result<SockProgram, String> {
        Self::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            format!("unknown socket program `{name}`, expected one of: {}", names.join(", "))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SockProgram::SkSkbRedirect => "sk_skb_redirect",
            SockProgram::SkSkbParser => "sk_skb_parser",
            SockProgram::SkMsgRedirect => "sk_msg_redirect",
        }
    }
}

/// `attach_to_map`: which program, how, and where it redirects to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attach {
    pub program: SockProgram,
    pub attach_type: SockAttachType,
    /// The key the program redirects to (a u32: sockmap keys, sockhash keys of 4 bytes).
    pub key: u32,
    pub flags: RedirectFlags,
}

/// `send`: bytes written on `from`, and the objects whose arrivals are reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub from: ObjectName,
    pub data: Vec<u8>,
    pub watch: Vec<ObjectName>,
}

impl Send {
    pub fn describe(&self) -> String {
        let watch: Vec<&str> = self.watch.iter().map(|o| o.name.as_str()).collect();
        format!(
            "send {:?} from {} watching {}",
            String::from_utf8_lossy(&self.data),
            self.from.name,
            watch.join(",")
        )
    }
}

// ---- as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAttach {
    pub map: Spanned<String>,
    pub program: Spanned<String>,
    pub attach_type: Spanned<String>,
    #[serde(default)]
    pub key: u32,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSend {
    pub from: Spanned<String>,
    pub data: String,
    pub watch: Vec<Spanned<String>>,
}
