//! [`count_traffic`]: the xdp_stats program on real packets over `lo`.

use std::{net::UdpSocket, time::Duration};

use aya::programs::{ProgramError, Xdp, XdpMode};

use super::{bind::load_bound, error::one_line, objects, MapRef, ProgError};
use crate::bpf::sys;

/// XDP actions, i.e. the indexes of `xdp_stats_map`:
/// XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT.
pub const XDP_ACTIONS: usize = 5;

/// `struct datarec` of the xdp_stats program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataRec {
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

/// Payload of each test datagram (UDP): on `lo`, each counted frame is
/// 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + PAYLOAD bytes.
pub const PAYLOAD: usize = 32;
/// Bytes the program counts per datagram.
pub const FRAME_BYTES: u64 = 14 + 20 + 8 + PAYLOAD as u64;

const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;

/// Attaches the xdp_stats program, bound to `map` (an array of `struct datarec`
/// indexed by XDP action, usually PERCPU_ARRAY with 5 entries), to `lo` in generic
/// (SKB) mode; sends `packets` UDP datagrams to a fresh 127.0.0.1 port, waiting for
/// each to arrive; detaches; and reads the map back (per-CPU slots summed; a missing
/// key reads as zero). The program counts only IPv4/UDP to 127.0.0.1:that port, so
/// unrelated traffic on `lo` does not change the result, and generic XDP runs once per
/// received packet: the expected result is `packets` at XDP_PASS.
///
/// All of it happens in a private network namespace ([`super::netns`]): never on the
/// host's own `lo`, and nothing stays attached if the harness dies mid-step.
pub fn count_traffic(map: &MapRef<'_>, packets: u32) -> Result<[DataRec; XDP_ACTIONS], ProgError> {
    super::netns::in_private_netns(|| count_in_this_netns(map, packets))
        .map_err(|e| ProgError::Other(format!("a private network namespace for the traffic: {e}")))?
}

fn count_in_this_netns(map: &MapRef<'_>, packets: u32) -> Result<[DataRec; XDP_ACTIONS], ProgError> {
    let other = |what: &str, e: std::io::Error| ProgError::Other(format!("{what}: {e}"));
    let rx = UdpSocket::bind("127.0.0.1:0").map_err(|e| other("bind receiver", e))?;
    rx.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| other("set timeout", e))?;
    let port = rx.local_addr().map_err(|e| other("local_addr", e))?.port();
    let tx = UdpSocket::bind("127.0.0.1:0").map_err(|e| other("bind sender", e))?;

    let mut ebpf = load_bound(objects::XDP_STATS, map.fd, &[("FILTER_DPORT", &port.to_ne_bytes())])?;
    let prog: &mut Xdp = ebpf
        .program_mut(objects::XDP_STATS.program)
        .expect("program present after load")
        .try_into()
        .map_err(|e: ProgramError| ProgError::Other(one_line(&e)))?;
    let link = prog
        .attach("lo", XdpMode::Skb)
        .map_err(|e| ProgError::Other(format!("attaching XDP (generic) to lo: {}", one_line(&e))))?;

    let sent = (|| {
        let payload = [0x5au8; PAYLOAD];
        let mut buf = [0u8; 2 * PAYLOAD];
        for i in 0..packets {
            tx.send_to(&payload, ("127.0.0.1", port))
                .map_err(|e| other("send", e))?;
            rx.recv(&mut buf)
                .map_err(|e| other(&format!("receiving datagram {i}"), e))?;
        }
        Ok(())
    })();
    let detached = prog
        .detach(link)
        .map_err(|e| ProgError::Other(format!("detach: {}", one_line(&e))));
    drop(ebpf);
    sent?;
    detached?;
    read_stats(map)
}

fn read_stats(map: &MapRef<'_>) -> Result<[DataRec; XDP_ACTIONS], ProgError> {
    let percpu = matches!(
        map.map_type,
        BPF_MAP_TYPE_PERCPU_ARRAY | BPF_MAP_TYPE_PERCPU_HASH | BPF_MAP_TYPE_LRU_PERCPU_HASH
    );
    let ncpus = if percpu {
        aya::util::nr_cpus().map_err(|(p, e)| ProgError::Other(format!("{p}: {e}")))?
    } else {
        1
    };
    let stride = if percpu {
        (map.value_size as usize).div_ceil(8) * 8
    } else {
        map.value_size as usize
    };
    if (map.value_size as usize) < 16 {
        return Err(ProgError::Other(format!(
            "value_size {} < sizeof(struct datarec)",
            map.value_size
        )));
    }
    let mut out = [DataRec::default(); XDP_ACTIONS];
    let handle = sys::MapHandle::from_borrowed(map.fd)
        .map_err(|e| ProgError::Other(format!("BPF_OBJ_GET_INFO_BY_FD on the stats map: {e}")))?;
    let mut buf = vec![0u8; (stride * ncpus).max(handle.value_len())];
    for (action, rec) in out.iter_mut().enumerate() {
        let key = (action as u32).to_ne_bytes();
        match handle.lookup(Some(&key), &mut buf, crate::uapi::ElemFlags::ANY) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(crate::uapi::Errno::ENOENT) => continue,
            Err(e) => return Err(ProgError::Other(format!("lookup of action {action}: {e}"))),
        }
        for cpu in 0..ncpus {
            let v = &buf[cpu * stride..];
            rec.rx_packets += u64::from_ne_bytes(v[0..8].try_into().unwrap());
            rec.rx_bytes += u64::from_ne_bytes(v[8..16].try_into().unwrap());
        }
    }
    Ok(out)
}
