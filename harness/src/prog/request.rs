//! The request/response record exchanged with the test programs through
//! BPF_PROG_TEST_RUN: the Rust mirror of `ebpf/request.h` (see there for the table).
//!
//! Pure code (no syscalls), unit-tested below.

/// Largest key a request can carry (bytes).
pub const MAX_KEY: usize = 256;
/// Largest value a request can carry (bytes).
pub const MAX_VALUE: usize = 1024;
/// Size of the whole record = size of the test_run packet.
pub const REQ_SIZE: usize = 1320;
/// `magic` of a request.
pub const MAGIC_REQ: u32 = 0x5152_434d;
/// `magic` after the program has executed the op.
pub const MAGIC_DONE: u32 = 0x454e_4f44;

const OFF_MAGIC: usize = 0;
const OFF_OP: usize = 4;
const OFF_FLAGS: usize = 8;
const OFF_CPU: usize = 16;
const OFF_LEN: usize = 20;
const OFF_RET: usize = 24;
const OFF_AUX: usize = 32;
const OFF_KEY: usize = 40;
const OFF_VALUE: usize = OFF_KEY + MAX_KEY;
const _: () = assert!(OFF_VALUE + MAX_VALUE == REQ_SIZE);

/// `enum mc_op` of request.h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum OpCode {
    Lookup = 1,
    Update = 2,
    Delete = 3,
    Push = 4,
    Pop = 5,
    Peek = 6,
    RingbufOutput = 7,
    ForEach = 8,
    LookupPercpu = 9,
    UserRingbufDrain = 10,
    RedirectMap = 11,
    TailCall = 12,
    PerfEventOutput = 13,
}

/// One request, before encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub op: OpCode,
    pub flags: u64,
    pub cpu: u32,
    /// Ring buffer output: bytes of `value` to emit (0 otherwise).
    pub len: u32,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// What the program wrote back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The helper's return code (pointer-returning helpers: 1 = non-NULL, 0 = NULL).
    pub ret: i64,
    /// for_each: sum of the first min(8, value_size) bytes of each value.
    pub aux: u64,
    /// The output bytes (`len` first bytes of `value[]`); empty when none.
    pub value: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("key of {0} bytes exceeds the harness limit of {MAX_KEY}")]
    KeyTooLong(usize),
    #[error("value of {0} bytes exceeds the harness limit of {MAX_VALUE}")]
    ValueTooLong(usize),
    #[error("response of {0} bytes is shorter than the {REQ_SIZE}-byte record")]
    Short(usize),
    #[error("program did not run the op (magic {0:#x})")]
    NotDone(u32),
    #[error("program reported {0} output bytes, more than {MAX_VALUE}")]
    BadLen(u32),
}

impl Request<'_> {
    /// Encodes the request as the test_run packet.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        if self.key.len() > MAX_KEY {
            return Err(CodecError::KeyTooLong(self.key.len()));
        }
        if self.value.len() > MAX_VALUE {
            return Err(CodecError::ValueTooLong(self.value.len()));
        }
        let mut buf = vec![0u8; REQ_SIZE];
        buf[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC_REQ.to_le_bytes());
        buf[OFF_OP..OFF_OP + 4].copy_from_slice(&(self.op as u32).to_le_bytes());
        buf[OFF_FLAGS..OFF_FLAGS + 8].copy_from_slice(&self.flags.to_le_bytes());
        buf[OFF_CPU..OFF_CPU + 4].copy_from_slice(&self.cpu.to_le_bytes());
        buf[OFF_LEN..OFF_LEN + 4].copy_from_slice(&self.len.to_le_bytes());
        buf[OFF_KEY..OFF_KEY + self.key.len()].copy_from_slice(self.key);
        buf[OFF_VALUE..OFF_VALUE + self.value.len()].copy_from_slice(self.value);
        Ok(buf)
    }
}

fn u32_at(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(buf[off..off + 4].try_into().unwrap())
}
fn u64_at(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(buf[off..off + 8].try_into().unwrap())
}

/// Decodes the packet returned in data_out.
pub fn decode(buf: &[u8]) -> Result<Response, CodecError> {
    if buf.len() < REQ_SIZE {
        return Err(CodecError::Short(buf.len()));
    }
    let magic = u32_at(buf, OFF_MAGIC);
    if magic != MAGIC_DONE {
        return Err(CodecError::NotDone(magic));
    }
    let len = u32_at(buf, OFF_LEN);
    if len as usize > MAX_VALUE {
        return Err(CodecError::BadLen(len));
    }
    Ok(Response {
        ret: u64_at(buf, OFF_RET) as i64,
        aux: u64_at(buf, OFF_AUX),
        value: buf[OFF_VALUE..OFF_VALUE + len as usize].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_layout() {
        let req = Request {
            op: OpCode::Update,
            flags: 0x0102_0304_0506_0708,
            cpu: 3,
            len: 5,
            key: &[0xaa, 0xbb],
            value: &[1, 2, 3],
        };
        let b = req.encode().unwrap();
        assert_eq!(b.len(), REQ_SIZE);
        assert_eq!(&b[0..4], b"MCRQ");
        assert_eq!(&b[4..8], &[2, 0, 0, 0]);
        assert_eq!(&b[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[16..20], &[3, 0, 0, 0]);
        assert_eq!(&b[20..24], &[5, 0, 0, 0]);
        assert!(b[24..40].iter().all(|&x| x == 0));
        assert_eq!(&b[40..43], &[0xaa, 0xbb, 0]);
        assert_eq!(&b[296..300], &[1, 2, 3, 0]);
    }

    #[test]
    fn encode_limits() {
        let big = vec![0u8; MAX_KEY + 1];
        let r = Request {
            op: OpCode::Lookup,
            flags: 0,
            cpu: 0,
            len: 0,
            key: &big,
            value: &[],
        };
        assert_eq!(r.encode(), Err(CodecError::KeyTooLong(MAX_KEY + 1)));
        let big = vec![0u8; MAX_VALUE + 1];
        let r = Request {
            op: OpCode::Push,
            flags: 0,
            cpu: 0,
            len: 0,
            key: &[],
            value: &big,
        };
        assert_eq!(r.encode(), Err(CodecError::ValueTooLong(MAX_VALUE + 1)));
        let max_k = vec![1u8; MAX_KEY];
        let max_v = vec![2u8; MAX_VALUE];
        let r = Request {
            op: OpCode::Update,
            flags: 0,
            cpu: 0,
            len: 0,
            key: &max_k,
            value: &max_v,
        };
        let b = r.encode().unwrap();
        assert_eq!(b[OFF_VALUE - 1], 1);
        assert_eq!(b[REQ_SIZE - 1], 2);
    }

    fn done_packet(ret: i64, aux: u64, out: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; REQ_SIZE];
        b[0..4].copy_from_slice(&MAGIC_DONE.to_le_bytes());
        b[20..24].copy_from_slice(&(out.len() as u32).to_le_bytes());
        b[24..32].copy_from_slice(&ret.to_le_bytes());
        b[32..40].copy_from_slice(&aux.to_le_bytes());
        b[296..296 + out.len()].copy_from_slice(out);
        b
    }

    #[test]
    fn decode_response() {
        let r = decode(&done_packet(-2, 0, &[])).unwrap();
        assert_eq!(
            r,
            Response {
                ret: -2,
                aux: 0,
                value: vec![]
            }
        );
        let r = decode(&done_packet(1, 77, &[9, 8, 7])).unwrap();
        assert_eq!(
            r,
            Response {
                ret: 1,
                aux: 77,
                value: vec![9, 8, 7]
            }
        );
    }

    #[test]
    fn decode_errors() {
        assert_eq!(decode(&[0u8; 10]), Err(CodecError::Short(10)));
        let mut b = done_packet(0, 0, &[]);
        b[0..4].copy_from_slice(&MAGIC_REQ.to_le_bytes());
        assert_eq!(decode(&b), Err(CodecError::NotDone(MAGIC_REQ)));
        let mut b = done_packet(0, 0, &[]);
        b[20..24].copy_from_slice(&2000u32.to_le_bytes());
        assert_eq!(decode(&b), Err(CodecError::BadLen(2000)));
    }
}
