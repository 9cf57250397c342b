//! Turning a compressed x86 kernel image (bzImage / vmlinuz) into the uncompressed `vmlinux`
//! ELF, which QEMU boots through its faster PVH entry point.

use std::io::Read;

use anyhow::{bail, Context, Result};

/// Compression of the payload inside a bzImage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    Lz4,
    Bzip2,
    Lzma,
    Lzo,
}

impl Compression {
    const MAGICS: [(Compression, &'static [u8]); 7] = [
        (Compression::Gzip, &[0x1f, 0x8b, 0x08]),
        (Compression::Xz, &[0xfd, b'7', b'z', b'X', b'Z', 0x00]),
        (Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
        (Compression::Lz4, &[0x02, 0x21, 0x4c, 0x18]),
        (Compression::Bzip2, b"BZh"),
        (Compression::Lzma, &[0x5d, 0x00, 0x00]),
        (Compression::Lzo, &[0x89, b'L', b'Z', b'O']),
    ];

    /// The format whose magic `data` starts with.
    pub fn detect(data: &[u8]) -> Option<Compression> {
        Self::MAGICS.iter().find(|(_, m)| data.starts_with(m)).map(|(c, _)| *c)
    }
}

pub const ELF_MAGIC: &[u8] = b"\x7fELF";

fn le16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Whether `image` carries the x86 boot protocol header (`HdrS`).
pub fn is_bzimage(image: &[u8]) -> bool {
    image.get(0x202..0x206) == Some(b"HdrS")
}

/// Finds the compressed payload of a bzImage: from the boot header's `payload_offset` /
/// `payload_length` (boot protocol 2.08+).
pub fn find_payload(image: &[u8]) -> Result<(Compression, &[u8])> {
    if !is_bzimage(image) {
        bail!("not a bzImage (no HdrS boot header)");
    }
    let version = le16(image, 0x206).unwrap_or(0);
    if version < 0x208 {
        bail!("boot protocol {version:#x} predates payload fields (need 2.08+)");
    }
    let setup_sects = match image[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let start = (setup_sects + 1) * 512 + le32(image, 0x248).context("short header")? as usize;
    let len = le32(image, 0x24c).context("short header")? as usize;
    let payload = image
        .get(start..start + len)
        .with_context(|| format!("payload {start:#x}+{len:#x} lies outside the image"))?;
    let comp = Compression::detect(payload).with_context(|| {
        format!(
            "unknown payload compression (magic {:02x?})",
            &payload[..payload.len().min(6)]
        )
    })?;
    Ok((comp, payload))
}

/// Decompresses one kernel payload. Trailing bytes after the stream (the kernel appends the
/// uncompressed size) are ignored.
pub fn decompress(comp: Compression, payload: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() * 4);
    match comp {
        Compression::Gzip => {
            flate2::read::GzDecoder::new(payload).read_to_end(&mut out)?;
        }
        Compression::Xz => out = xz_single_stream(payload)?,
        Compression::Zstd => {
            zstd::stream::read::Decoder::with_buffer(payload)?
                .single_frame()
                .read_to_end(&mut out)?;
        }
        Compression::Lz4 => out = lz4_legacy(payload)?,
        other => bail!("{other:?}-compressed kernels are not supported"),
    }
    Ok(out)
}

/// One xz stream; data after its end (the kernel's size trailer) is ignored, which
/// `xz2::read::XzDecoder` does not allow.
fn xz_single_stream(data: &[u8]) -> Result<Vec<u8>> {
    let mut s = xz2::stream::Stream::new_stream_decoder(u64::MAX, 0)?;
    let mut out = Vec::with_capacity(data.len() * 5);
    loop {
        if out.capacity() - out.len() < 1 << 20 {
            out.reserve(16 << 20);
        }
        let before = s.total_in() as usize;
        let status = s.process_vec(&data[before..], &mut out, xz2::stream::Action::Finish)?;
        if status == xz2::stream::Status::StreamEnd {
            return Ok(out);
        }
        if s.total_in() as usize == before && out.capacity() > out.len() {
            bail!("xz stream truncated");
        }
    }
}

/// The lz4 "legacy" frame the kernel uses: magic, then `u32 len` + block, blocks of at most
/// 8 MiB decompressed; the appended size word ends the list.
fn lz4_legacy(data: &[u8]) -> Result<Vec<u8>> {
    const MAGIC: u32 = 0x184c2102;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= data.len() {
        let word = le32(data, pos).unwrap();
        pos += 4;
        if word == MAGIC {
            continue;
        }
        let len = word as usize;
        let Some(block) = data.get(pos..pos + len) else { break }; // size trailer
        out.extend(lz4_flex::block::decompress(block, 8 << 20).context("lz4 block")?);
        pos += len;
    }
    Ok(out)
}

/// The uncompressed vmlinux ELF of a kernel image: a bzImage is unpacked, an ELF is returned
/// as is. The result is checked for the ELF magic.
pub fn to_vmlinux(image: &[u8]) -> Result<Vec<u8>> {
    if image.starts_with(ELF_MAGIC) {
        return Ok(image.to_vec());
    }
    let (comp, payload) = find_payload(image)?;
    let elf = decompress(comp, payload).with_context(|| format!("decompressing {comp:?} payload"))?;
    if !elf.starts_with(ELF_MAGIC) {
        bail!("decompressed {comp:?} payload is not an ELF file");
    }
    Ok(elf)
}

/// The kernel release (`uname -r`) of a bzImage (from its header) or a vmlinux (from the
/// `Linux version` banner).
pub fn kernel_release(image: &[u8]) -> Option<String> {
    if is_bzimage(image) {
        let off = le16(image, 0x20e)? as usize + 0x200;
        let s = image.get(off..)?;
        let end = s.iter().position(|&b| b == 0 || b == b' ')?;
        return String::from_utf8(s[..end].to_vec()).ok().filter(|r| !r.is_empty());
    }
    let pat = b"Linux version ";
    let mut from = 0;
    while let Some(i) = image[from..].windows(pat.len()).position(|w| w == pat) {
        let s = &image[from + i + pat.len()..];
        let end = s.iter().position(|&b| b == b' ' || b == 0).unwrap_or(s.len());
        // skip the printf format "Linux version %s"
        if end > 0 && s[0] != b'%' {
            return String::from_utf8(s[..end].to_vec()).ok();
        }
        from += i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A synthetic bzImage: 2 setup sectors + boot sector, header fields pointing at `payload`.
    fn fake_bzimage(payload: &[u8], payload_offset: usize) -> Vec<u8> {
        let setup_sects = 2u8;
        let pm_start = (setup_sects as usize + 1) * 512;
        let mut img = vec![0u8; pm_start + payload_offset];
        img[0x1f1] = setup_sects;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img[0x20e..0x210].copy_from_slice(&(0x300u16 - 0x200).to_le_bytes());
        img[0x300..0x311].copy_from_slice(b"9.9.9-test (x@y)\0");
        img[0x248..0x24c].copy_from_slice(&(payload_offset as u32).to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        img.extend_from_slice(payload);
        img.extend_from_slice(&[0xaa; 100]); // trailing stuff after the payload
        img
    }

    fn fake_elf() -> Vec<u8> {
        let mut e = ELF_MAGIC.to_vec();
        e.extend((0..50_000u32).map(|i| (i % 251) as u8));
        e.extend_from_slice(b"Linux version 9.9.9-test (x@y) #1\0");
        e
    }

    fn with_size_trailer(mut v: Vec<u8>, n: usize) -> Vec<u8> {
        v.extend_from_slice(&(n as u32).to_le_bytes());
        v
    }

    #[test]
    fn detects_and_unpacks_each_format() {
        let elf = fake_elf();
        let xz = {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&elf).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&elf[..], 3).unwrap();
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&elf).unwrap();
            e.finish().unwrap()
        };
        let lz4 = {
            let block = lz4_flex::block::compress(&elf);
            let mut v = 0x184c2102u32.to_le_bytes().to_vec();
            v.extend_from_slice(&(block.len() as u32).to_le_bytes());
            v.extend_from_slice(&block);
            v
        };
        for (want, blob) in [
            (Compression::Xz, xz),
            (Compression::Zstd, zst),
            (Compression::Gzip, gz),
            (Compression::Lz4, lz4),
        ] {
            let img = fake_bzimage(&with_size_trailer(blob, elf.len()), 0x123);
            let (c, _) = find_payload(&img).unwrap();
            assert_eq!(c, want);
            assert_eq!(to_vmlinux(&img).unwrap(), elf, "{want:?}");
            assert_eq!(kernel_release(&img).as_deref(), Some("9.9.9-test"));
        }
        assert_eq!(kernel_release(&elf).as_deref(), Some("9.9.9-test"));
        assert_eq!(to_vmlinux(&elf).unwrap(), elf);
    }

    #[test]
    fn rejects_garbage() {
        assert!(find_payload(&[0u8; 4096]).is_err());
        let img = fake_bzimage(b"not compressed at all", 0);
        let err = find_payload(&img).unwrap_err().to_string();
        assert!(err.contains("unknown payload compression"), "{err}");
        // compressed, but not an ELF inside
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(b"hello").unwrap();
            e.finish().unwrap()
        };
        let err = to_vmlinux(&fake_bzimage(&gz, 0)).unwrap_err().to_string();
        assert!(err.contains("not an ELF"), "{err}");
    }
}
