//! The programs a case declares as objects (`program: xdp`, …, from `ebpf/fd_progs.c`):
//! loaded on their own, held for their fd (a prog_array, devmap or cpumap value) and id
//! (what a syscall lookup of those maps returns), unloaded on drop.

use std::os::fd::{AsFd, BorrowedFd};

use aya::{
    programs::{ProgramError, SocketFilter, Xdp},
    Ebpf,
};

use super::{bind::load_error, error::one_line, objects::FD_PROGS, ProgError};

pub struct FdProgram {
    ebpf: Ebpf,
    program: &'static str,
    pub id: u32,
}

impl FdProgram {
    /// Loads `program` of fd_progs.c (its section says its type and attach type).
    pub fn load(program: &'static str) -> Result<FdProgram, ProgError> {
        let other = |e: &(dyn std::error::Error + 'static)| ProgError::Other(one_line(e));
        // The shared loader: one kernel BTF parse per run (see `bind::load_object`).
        let mut ebpf = super::bind::load_object(FD_PROGS, &[], None).map_err(|e| ProgError::Load {
            errno: super::error::errno_of(&e),
            reason: one_line(&e),
        })?;
        let prog = ebpf
            .program_mut(program)
            .ok_or_else(|| ProgError::Other(format!("no program {program} in fd_progs.o")))?;
        let loaded = match prog {
            aya::programs::Program::SocketFilter(_) => {
                let p: &mut SocketFilter = prog.try_into().map_err(|e: ProgramError| other(&e))?;
                p.load()
            }
            _ => {
                let p: &mut Xdp = prog.try_into().map_err(|e: ProgramError| other(&e))?;
                p.load()
            }
        };
        loaded.map_err(load_error)?;
        let id = ebpf
            .program(program)
            .expect("present above")
            .info()
            .map_err(|e| other(&e))?
            .id();
        Ok(FdProgram { ebpf, program, id })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ebpf
            .program(self.program)
            .and_then(|p| p.fd().ok())
            .expect("a loaded program has an fd")
            .as_fd()
    }
}
