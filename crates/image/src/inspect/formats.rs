//! The formats the inspector recognises: where each keeps its magic, its
//! virtual size, and what makes it unsafe. Layouts follow qemu's block
//! drivers and oslo.utils' inspector; offsets are commented where used.

use super::{InspectError, Inspector};

pub const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
/// End of the VHDX region table (64 KiB at 192 KiB).
pub const VHDX_REGION_END: usize = 256 * 1024;
const VHDX_METADATA_GUID: &str = "8B7CA206-4790-4B9A-B8FE-575F050F886E";
const VHDX_VDS_GUID: &str = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
/// The VHDX metadata table: a 32-byte header and up to 2047 entries.
const VHDX_META_TABLE_LEN: usize = 32 * 2048;
const VMDK_GD_AT_END: u64 = u64::MAX;
const VMDK_DESC_OFFSET: u64 = 0x200;
const VMDK_DESC_MAX: usize = (1 << 20) - 1;

/// One format the data matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub name: &'static str,
    pub virtual_size: Option<u64>,
    /// Set when the format's safety checks fail.
    pub unsafe_reason: Option<String>,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn malformed(format: &str, reason: impl Into<String>) -> InspectError {
    InspectError::Malformed {
        format: format.to_string(),
        reason: reason.into(),
    }
}

/// Every format the data matches (raw is the absence of a match).
pub fn detect(ins: &Inspector) -> Result<Vec<Detected>, InspectError> {
    let head = ins.head();
    let mut found = Vec::new();
    if head.starts_with(QCOW2_MAGIC) {
        found.push(qcow2(head)?);
    }
    if head.starts_with(b"QED\0") {
        let mut d = Detected::new("qed", None);
        d.unsafe_reason = Some("is a format no one should run (QED)".into());
        found.push(d);
    }
    if head.starts_with(b"conectix") && head.len() >= 512 {
        // VHD (qemu's vpc): big-endian disk size at 40 in the footer that
        // dynamic disks copy to the start of the file.
        found.push(Detected::new("vhd", be_u64(head, 40)));
    }
    if head.starts_with(b"vhdxfile") {
        let size = ins.vhdx_virtual_size().map_err(|e| malformed("vhdx", e))?;
        found.push(Detected::new("vhdx", Some(size)));
    }
    if is_vdi(head) {
        // VirtualBox VDI: little-endian disk size at 0x170.
        found.push(Detected::new("vdi", le_u64(head, 0x170)));
    }
    if let Some(d) = iso(head) {
        found.push(d);
    }
    if let Some(d) = vmdk(head, ins.tail())? {
        found.push(d);
    }
    Ok(found)
}

/// qcow2 header (big-endian): version at 4, backing file offset at 8,
/// size at 24, v3 incompatible features at 72.
fn qcow2(head: &[u8]) -> Result<Detected, InspectError> {
    if head.len() < 104 {
        return Err(malformed("qcow2", "the header is truncated"));
    }
    let mut d = Detected::new("qcow2", be_u64(head, 24));
    if let Err(InspectError::Unsafe { reason, .. }) = qcow2_safety(head) {
        d.unsafe_reason = Some(reason);
    }
    Ok(d)
}

/// The qcow2 safety checks, readable from the first 104 bytes.
pub fn qcow2_safety(head: &[u8]) -> Result<(), InspectError> {
    let refuse = |reason: &str| {
        Err(InspectError::Unsafe {
            format: "qcow2".into(),
            reason: reason.into(),
        })
    };
    if be_u64(head, 8).is_some_and(|off| off != 0) {
        return refuse("has a backing file");
    }
    match be_u32(head, 4) {
        Some(2) => Ok(()),
        Some(3) => {
            let features = be_u64(head, 72).unwrap_or(0);
            // Bit 2 of the incompatible features: an external data file
            // holds the guest data, wherever it names.
            if features & (1 << 2) != 0 {
                return refuse("has an external data file");
            }
            // Bits 0-4 are the features qemu knows (dirty, corrupt, data
            // file, compression type, extended L2); anything else may
            // change how the file is read.
            if features & !0x1f != 0 {
                return refuse("has unknown incompatible features");
            }
            Ok(())
        }
        _ => refuse("has an unsupported version"),
    }
}

pub fn qed_refusal() -> InspectError {
    InspectError::Unsafe {
        format: "qed".into(),
        reason: "is a format no one should run (QED)".into(),
    }
}

/// The MBR partition table check of oslo.utils' `GPTInspector`
/// (`check_mbr_partitions`), for data no other format claims. Data is an
/// MBR (or GPT's protective MBR) when it ends its first sector with
/// 0x55AA and is not a FAT volume boot record (two FATs, fixed-disk media
/// descriptor 0xF8). Four 16-byte entries from 446: boot flag at 0,
/// start CHS at 1-3, type at 4, start LBA (LE) at 8. Returns why the
/// table is refused, in upstream's words, or `None` when it is valid or
/// the data is no MBR at all.
pub fn mbr_unsafe_reason(head: &[u8]) -> Option<String> {
    const PTE_START: usize = 446;
    let sector = head.get(..512)?;
    if le_u16(sector, 510) != Some(0xaa55) {
        return None;
    }
    if sector[0x10] == 2 && sector[0x15] == 0xf8 {
        return None;
    }
    let mut used = Vec::new();
    let mut gpt = false;
    for (i, pte) in sector[PTE_START..PTE_START + 64]
        .chunks_exact(16)
        .enumerate()
    {
        if pte[0] != 0x00 && pte[0] != 0x80 {
            return Some(format!("MBR PTE {i} has invalid boot flag"));
        }
        if pte[4] != 0 {
            used.push(i);
        }
        if pte[4] == 0xee {
            gpt = true;
            if pte[1..4] != [0x00, 0x02, 0x00] {
                return Some("GPT MBR has invalid start CHS".into());
            }
            if le_u32(pte, 8) != Some(1) {
                return Some("GPT MBR has invalid start LBA".into());
            }
        }
    }
    if gpt && used != [0] {
        return Some("GPT MBR defines invalid extra partitions".into());
    }
    if used.is_empty() {
        return Some("GPT MBR has no partitions defined".into());
    }
    None
}

pub fn is_vdi(head: &[u8]) -> bool {
    head.len() >= 512 && le_u32(head, 0x40) == Some(0xbeda_107f)
}

/// ISO 9660 / UDF: a volume descriptor signature at 32 KiB + 1; the
/// primary descriptor holds block count (LE at 80) and block size (LE at
/// 128).
fn iso(head: &[u8]) -> Option<Detected> {
    let desc = head.get(32 * 1024..34 * 1024)?;
    let sig = &desc[1..6];
    if sig != b"CD001" && sig != b"NSR02" && sig != b"NSR03" {
        return None;
    }
    let size = if desc[0] == 1 {
        let block = u64::from(le_u16(desc, 128)?);
        let blocks = u64::from(le_u32(desc, 80)?);
        Some(block * blocks)
    } else {
        None
    };
    Some(Detected::new("iso", size))
}

/// VMDK: a hosted sparse extent (`KDMV` header, little-endian: version
/// at 4, capacity in sectors at 12, descriptor offset/size in sectors at
/// 28/36, grain directory offset at 56) with its descriptor embedded, or
/// a bare text descriptor.
fn vmdk(head: &[u8], tail: &[u8]) -> Result<Option<Detected>, InspectError> {
    if head.starts_with(b"KDMV") {
        if head.len() < 512 {
            return Err(malformed("vmdk", "the header is truncated"));
        }
        let version = le_u32(head, 4).unwrap_or(0);
        if !(1..=3).contains(&version) {
            return Err(malformed("vmdk", format!("unsupported version {version}")));
        }
        let desc_off = le_u64(head, 28).unwrap_or(0).saturating_mul(512);
        let desc_len = le_u64(head, 36).unwrap_or(0).saturating_mul(512);
        if desc_off != VMDK_DESC_OFFSET {
            return Err(malformed(
                "vmdk",
                "the descriptor is not where qemu reads it",
            ));
        }
        let desc_len = usize::try_from(desc_len)
            .unwrap_or(usize::MAX)
            .min(VMDK_DESC_MAX);
        let start = 512usize;
        let end = (start + desc_len).min(head.len());
        let mut desc = &head[start..end];
        if let Some(nul) = desc.iter().position(|b| *b == 0) {
            desc = &desc[..nul];
        }
        let capacity = le_u64(head, 12).unwrap_or(0).saturating_mul(512);
        let mut d = Detected::new("vmdk", None);
        match check_descriptor(desc) {
            Ok(()) => d.virtual_size = Some(capacity),
            Err(reason) => d.unsafe_reason = Some(reason),
        }
        if d.unsafe_reason.is_none() && le_u64(head, 56) == Some(VMDK_GD_AT_END) {
            if let Err(reason) = check_footer(head, tail) {
                d.unsafe_reason = Some(reason);
            }
        }
        return Ok(Some(d));
    }
    // A text descriptor (qemu opens these too): recognised by its
    // createType line in otherwise printable text.
    let first = &head[..head.len().min(512)];
    let text = first
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if !text || first.is_empty() {
        return Ok(None);
    }
    let lower = String::from_utf8_lossy(&head[..head.len().min(VMDK_DESC_MAX)]).to_lowercase();
    if !lower.contains("createtype=\"") {
        return Ok(None);
    }
    let mut d = Detected::new("vmdk", None);
    d.unsafe_reason =
        Some("is a descriptor without data: its extents point to files outside the image".into());
    Ok(Some(d))
}

/// Oslo's descriptor rules, plus: extents must be SPARSE and their file
/// names may not leave the directory.
fn check_descriptor(desc: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(desc) else {
        return Err("has a descriptor that is not text".into());
    };
    let text = text.to_lowercase();
    let create_type = text
        .split("createtype=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|t| t.len() < 64)
        .unwrap_or("formatnotfound");
    if create_type != "monolithicsparse" && create_type != "streamoptimized" {
        return Err(format!(
            "has subformat {create_type:?}, whose data lives in other files"
        ));
    }
    let mut extents = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("ddb") {
            continue;
        }
        let first = line.split(' ').next().unwrap_or("");
        if line.contains('=') && !line.split('=').next().unwrap_or("").contains(' ') {
            continue;
        }
        if matches!(first, "rw" | "rdonly" | "noaccess") {
            extents += 1;
            // RW <sectors> <type> "<file>" [offset]
            let kind = line.split_whitespace().nth(2).unwrap_or("");
            if kind != "sparse" {
                return Err(format!("has a {kind:?} extent, outside the image"));
            }
            if line.contains('/') || line.contains('\\') {
                return Err("has an extent naming a path outside the image".into());
            }
            continue;
        }
        return Err("has a descriptor line qemu would not expect".into());
    }
    if extents == 0 {
        return Err("has no extents".into());
    }
    Ok(())
}

/// A stream-optimized VMDK whose grain directory is at the end carries a
/// footer that qemu reads instead of the header: it must agree with the
/// header and be followed by the end-of-stream marker.
fn check_footer(head: &[u8], tail: &[u8]) -> Result<(), String> {
    if tail.len() < 1536 {
        return Err("has a footer past the end of the data".into());
    }
    let footer = &tail[512..1024];
    let same = |at: usize, n: usize| head.get(at..at + n) == footer.get(at..at + n);
    if !(same(0, 4) && same(4, 4) && same(28, 8) && same(36, 8)) {
        return Err("has a footer that disagrees with its header".into());
    }
    if le_u64(footer, 56) == Some(VMDK_GD_AT_END) {
        return Err("has a footer pointing to another footer".into());
    }
    let marker_ok = |m: &[u8], typ: u32, val_zero: bool| {
        (!val_zero || le_u64(m, 0) == Some(0))
            && le_u32(m, 8) == Some(0)
            && le_u32(m, 12) == Some(typ)
            && m[16..512].iter().all(|b| *b == 0)
    };
    if !marker_ok(&tail[..512], 3, false) {
        return Err("has an invalid footer marker".into());
    }
    if !marker_ok(&tail[1024..1536], 0, true) {
        return Err("has an invalid end-of-stream marker".into());
    }
    Ok(())
}

/// A Microsoft GUID (mixed-endian) as text.
fn guid(b: &[u8]) -> String {
    let d1 = le_u32(b, 0).unwrap_or(0);
    let d2 = le_u16(b, 4).unwrap_or(0);
    let d3 = le_u16(b, 6).unwrap_or(0);
    let rest: Vec<String> = b[8..16].iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{d1:08X}-{d2:04X}-{d3:04X}-{}-{}",
        rest[..2].concat(),
        rest[2..].concat()
    )
}

/// The VHDX region table at 192 KiB (`regi`, entry count at 8, 32-byte
/// entries from 16: GUID, file offset, length) → where the metadata
/// region starts and how much of it to keep.
pub fn vhdx_meta_region(head: &[u8]) -> Result<Option<(u64, usize)>, String> {
    let table = head
        .get(192 * 1024..VHDX_REGION_END)
        .ok_or("the region table is truncated")?;
    if le_u32(table, 0) != Some(0x6967_6572) {
        return Err("the region table signature is missing".into());
    }
    let count = le_u32(table, 8).unwrap_or(0) as usize;
    if count >= 2048 {
        return Err(format!("the region table claims {count} entries"));
    }
    for i in 0..count {
        let e = table
            .get(16 + i * 32..16 + (i + 1) * 32)
            .ok_or("a region entry is truncated")?;
        if guid(&e[..16]) == VHDX_METADATA_GUID {
            let offset = le_u64(e, 16).unwrap_or(0);
            return Ok(Some((offset, VHDX_META_TABLE_LEN)));
        }
    }
    Ok(None)
}

/// The VHDX metadata table (`metadata`, entry count at 10, 32-byte
/// entries from 32: GUID, offset within the region) → where the virtual
/// disk size item is, relative to the region.
pub fn vhdx_vds_item(meta: &[u8]) -> Result<Option<u32>, String> {
    if meta.get(..8) != Some(b"metadata".as_slice()) {
        return Err("the metadata region signature is missing".into());
    }
    let count = le_u16(meta, 10).unwrap_or(0) as usize;
    if count >= 2048 {
        return Err(format!("the metadata table claims {count} entries"));
    }
    for i in 0..count {
        let e = meta
            .get(32 + i * 32..32 + (i + 1) * 32)
            .ok_or("a metadata entry is truncated")?;
        if guid(&e[..16]) == VHDX_VDS_GUID {
            return Ok(le_u32(e, 16));
        }
    }
    Ok(None)
}
