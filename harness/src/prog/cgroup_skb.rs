//! The cgroup_skb program of `ebpf/cgroup_skb.c` bound to a case's cgroup_storage (or
//! percpu_cgroup_storage) map: attached to a cgroup with a BPF link, or run under
//! BPF_PROG_TEST_RUN. One load per map, kept (with its links) until [`CgroupSkbs`] is
//! dropped, which detaches every link and unloads the program.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;

use aya::programs::{CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, TestRun, TestRunOptions};
use aya::Ebpf;

use super::{bind::load_bound, error::one_line, objects::CGROUP_SKB, ProgError};
use crate::bpf::sys;
use crate::uapi::AttachType;

/// The programs and links of one case, by map id and (map id, cgroup object, attach type).
#[derive(Default)]
pub struct CgroupSkbs {
    loaded: HashMap<u32, Result<Ebpf, ProgError>>,
    links: HashMap<(u32, usize, AttachType), aya::programs::cgroup_skb::CgroupSkbLinkId>,
}

/// What one test run gave: the program's return value and `skb->cb[0]`, where it wrote its
/// counter.
pub struct CgroupSkbRun {
    pub retval: u32,
    pub count: u32,
}

/// Offset of `cb[0]` in `struct __sk_buff` (twelve `__u32` before it on every matrix
/// kernel's BTF), and a context buffer larger than any kernel's `struct __sk_buff`.
const CB0: usize = 48;
const SK_BUFF_OUT: usize = 512;

/// Ethernet (EtherType IPv4) + IPv4 127.0.0.1 -> 127.0.0.1 UDP + 8 payload bytes; the
/// checksums are not checked on this path.
const FRAME: [u8; 50] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, // Ethernet
    0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, // IPv4, DF
    0x30, 0x39, 0x30, 0x39, 0, 16, 0, 0, // UDP 12345 -> 12345
    b'm', b'a', b'p', b'c', b'o', b'n', b'f', 0,
];

impl CgroupSkbs {
    fn program(&mut self, map: BorrowedFd<'_>) -> Result<(u32, &mut CgroupSkb), ProgError> {
        let id = sys::map_info(map)
            .map_err(|e| ProgError::Other(format!("BPF_OBJ_GET_INFO_BY_FD on the map: {e}")))?
            .id;
        let loaded = self
            .loaded
            .entry(id)
            .or_insert_with(|| load_bound(CGROUP_SKB, map, &[]));
        let ebpf = loaded.as_mut().map_err(|e| e.clone())?;
        let program = ebpf
            .program_mut(CGROUP_SKB.program)
            .expect("program present after load");
        let program: &mut CgroupSkb = program.try_into().map_err(|e| ProgError::Other(one_line(&e)))?;
        Ok((id, program))
    }

    /// Attaches the program bound to `map` to `cgroup` (object `cgroup_index`). A refused
    /// attach is `ProgError::Run` with the kernel's errno.
    pub fn attach(
        &mut self,
        map: BorrowedFd<'_>,
        cgroup: BorrowedFd<'_>,
        cgroup_index: usize,
        attach_type: AttachType,
    ) -> Result<(), ProgError> {
        let (id, program) = self.program(map)?;
        let kind = if attach_type == AttachType::CGROUP_INET_INGRESS {
            CgroupSkbAttachType::Ingress
        } else {
            CgroupSkbAttachType::Egress
        };
        let link =
            program
                .attach(cgroup, kind, CgroupAttachMode::Single)
                .map_err(|e| match super::error::errno_of(&e) {
                    Some(errno) => ProgError::Run { errno },
                    None => ProgError::Other(one_line(&e)),
                })?;
        // A second attach of the same triple replaced nothing: the kernel refused it above
        // (EEXIST), so an entry here is always the live link.
        self.links.insert((id, cgroup_index, attach_type), link);
        Ok(())
    }

    /// Detaches what [`Self::attach`] made for this triple; `Ok(false)` when nothing is attached.
    pub fn detach(
        &mut self,
        map: BorrowedFd<'_>,
        cgroup_index: usize,
        attach_type: AttachType,
    ) -> Result<bool, ProgError> {
        let (id, _) = self.program(map)?;
        let Some(link) = self.links.remove(&(id, cgroup_index, attach_type)) else {
            return Ok(false);
        };
        let (_, program) = self.program(map)?;
        program.detach(link).map_err(|e| ProgError::Other(one_line(&e)))?;
        Ok(true)
    }

    /// One BPF_PROG_TEST_RUN of the program bound to `map`, `repeat` times over one
    /// Ethernet + IPv4 + UDP frame (the kernel wants at least ETH_HLEN bytes).
    pub fn test_run(&mut self, map: BorrowedFd<'_>, repeat: u32) -> Result<CgroupSkbRun, ProgError> {
        let (_, program) = self.program(map)?;
        let mut ctx = vec![0u8; SK_BUFF_OUT];
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(&FRAME),
                ctx_out: Some(&mut ctx),
                repeat,
                ..TestRunOptions::new()
            })
            .map_err(|e| match super::error::errno_of(&e) {
                Some(errno) => ProgError::Run { errno },
                None => ProgError::Other(one_line(&e)),
            })?;
        let count = u32::from_le_bytes(ctx[CB0..CB0 + 4].try_into().expect("4 bytes"));
        Ok(CgroupSkbRun {
            retval: result.return_value,
            count,
        })
    }
}
