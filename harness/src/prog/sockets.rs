//! Programs attached to a socket map (sockmap, sockhash): an sk_skb or sk_msg program of
//! `ebpf/sockets.c`, bound to the map it redirects into, attached with BPF_PROG_ATTACH
//! (target: the map) and detached when the [`AttachedProg`] is dropped, whatever happened.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use aya::Ebpf;

use super::{bind::load_bound, error::one_line, objects, ProgError};
use crate::bpf::sys;

/// A program attached to a socket map. Dropping it detaches the program (BPF_PROG_DETACH)
/// and unloads it; the map's own fd is kept until then, so the detach always finds it.
pub struct AttachedProg {
    ebpf: Ebpf,
    program: &'static str,
    map: OwnedFd,
    attach_type: u32,
    /// Detach only what this step attached: a failed attach must never detach a program
    /// an earlier step attached with the same attach type.
    attached: bool,
}

impl std::fmt::Debug for AttachedProg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttachedProg({} as {})", self.program, self.attach_type)
    }
}

impl AttachedProg {
    /// How many of this program's verdicts were SK_DROP so far (`dropped` in
    /// `ebpf/sockets.c`, in the `.bss` map aya made for this load); 0 if it cannot be read.
    pub fn drops(&self) -> u64 {
        let Some(map) = self.ebpf.map(".bss") else { return 0 };
        aya::maps::Array::<_, u64>::try_from(map)
            .and_then(|bss| bss.get(&0, 0))
            .unwrap_or(0)
    }

    fn prog_fd(&self) -> Result<BorrowedFd<'_>, ProgError> {
        let prog = self
            .ebpf
            .program(self.program)
            .ok_or_else(|| ProgError::Other(format!("no program {}", self.program)))?;
        let fd = prog.fd().map_err(|e| ProgError::Other(one_line(&e)))?;
        Ok(fd.as_fd())
    }
}

impl Drop for AttachedProg {
    fn drop(&mut self) {
        if !self.attached {
            return;
        }
        if let Ok(prog) = self.prog_fd() {
            // The kernel's answer does not matter here: the map going away drops its
            // programs too (sock_map_release_progs()).
            let _ = sys::prog_attach(self.map.as_fd(), prog, self.attach_type, true);
        }
    }
}

/// Why an attach did not happen: the program did not load (a [`ProgError`]), or the
/// kernel refused BPF_PROG_ATTACH (its errno).
#[derive(Debug)]
pub enum AttachError {
    Prog(ProgError),
    Attach(std::io::Error),
}

/// Loads `program` of `ebpf/sockets.c` bound to `map` with its redirect key and flags, and
/// attaches it to `map` as `attach_type`.
pub fn attach_to_map(
    map: BorrowedFd<'_>,
    program: &'static str,
    attach_type: u32,
    key: u32,
    flags: u64,
) -> Result<AttachedProg, AttachError> {
    let map = map
        .try_clone_to_owned()
        .map_err(|e| AttachError::Prog(ProgError::Other(format!("dup of the map fd: {e}"))))?;
    let (key, flags) = (key.to_ne_bytes(), flags.to_ne_bytes());
    let globals: [(&'static str, &[u8]); 2] = [("REDIRECT_KEY", &key), ("REDIRECT_FLAGS", &flags)];
    let ebpf = load_bound(objects::socket_program(program), map.as_fd(), &globals).map_err(AttachError::Prog)?;
    let mut attached = AttachedProg {
        ebpf,
        program,
        map,
        attach_type,
        attached: false,
    };
    let prog = attached.prog_fd().map_err(AttachError::Prog)?;
    sys::prog_attach(attached.map.as_fd(), prog, attach_type, false).map_err(AttachError::Attach)?;
    attached.attached = true;
    Ok(attached)
}
