//! [`load_redirect`]: the `mc_redirect_pkt` program (ebpf/redirect.c) bound to a device
//! map, for the `redirect` step. Attaching it to an interface is the executor's (one
//! rtnetlink request, `exec::devices`); the program is unloaded when the value is dropped.

use std::os::fd::{AsFd, BorrowedFd};

use aya::{programs::ProgramError, programs::Xdp, Ebpf};

use super::{bind::load_bound, error::one_line, objects, MapRef, ProgError};

/// The loaded program.
pub struct Loaded(Ebpf);

impl Loaded {
    pub fn fd(&self) -> Result<BorrowedFd<'_>, ProgError> {
        let prog = self.0.program(objects::REDIRECT_PKT.program).expect("present after load");
        prog.fd()
            .map(|fd| fd.as_fd())
            .map_err(|e: ProgramError| ProgError::Other(one_line(&e)))
    }
}

/// Loads `mc_redirect_pkt` with `map` as its target and `key` as REDIRECT_KEY.
pub fn load_redirect(map: &MapRef<'_>, key: u32) -> Result<Loaded, ProgError> {
    let mut ebpf = load_bound(objects::REDIRECT_PKT, map.fd, &[("REDIRECT_KEY", &key.to_ne_bytes())])?;
    // load_bound loaded it as XDP; the type check is only for the error path.
    let _: &mut Xdp = ebpf
        .program_mut(objects::REDIRECT_PKT.program)
        .expect("program present after load")
        .try_into()
        .map_err(|e: ProgramError| ProgError::Other(one_line(&e)))?;
    Ok(Loaded(ebpf))
}
