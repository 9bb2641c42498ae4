//! Format inspection while image data streams in: the job of Glance's
//! format inspector (oslo.utils `imageutils.format_inspector`), done in one
//! pass without buffering the image.
//!
//! [`Inspector`] is fed every chunk of an upload in order. It keeps only
//! what the formats it knows need: the first [`HEAD_LEN`] bytes (every
//! header and the VMDK descriptor live there), the last [`TAIL_LEN`] bytes
//! (a stream-optimized VMDK's footer) and, for VHDX, the metadata region
//! and virtual-size item wherever the region table says they are. At the
//! end, [`Inspector::verdict`] says what the data really is, its virtual
//! size, and whether it may be stored under the declared `disk_format`.
//!
//! The rules are Glance's (`glance/location.py` `set_data`): content must
//! match the declared format, except that anything may be declared `raw`
//! and formats nobody can inspect (`ami`, `aki`, `ari`, `ploop`) accept
//! unrecognised content; whatever format is detected must pass its safety
//! checks (no qcow2 backing or external data file, no unknown qcow2
//! incompatible features, only self-contained VMDK subformats, no QED,
//! a valid MBR partition table on a partitioned raw disk);
//! content matching two formats at once is refused. Two rules are stricter
//! than upstream, because both let an image name data outside itself: a
//! VMDK that is only a descriptor (all its extents are other files) is
//! refused, and VMDK extent names may contain neither `/` nor `\`.

mod formats;
#[cfg(test)]
mod tests;

use formats::Detected;

/// Bytes kept from the start of the stream: a VMDK descriptor may fill
/// the first MiB after its 512-byte header, and every other header (ISO's
/// volume descriptor at 32 KiB, VHDX's region table at 192 KiB) is inside.
pub const HEAD_LEN: usize = (1 << 20) + 512;
/// Bytes kept from the end: a stream-optimized VMDK's footer marker,
/// footer and end-of-stream marker.
pub const TAIL_LEN: usize = 1536;

/// Disk formats Glance accepts (`[image_format] disk_formats`).
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
/// Container formats Glance accepts (`[image_format] container_formats`).
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
/// Formats whose content can be recognised; any other declared format
/// (`ami`, `aki`, `ari`, `ploop`) takes whatever is not recognisable.
const INSPECTABLE: &[&str] = &["raw", "qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso"];

/// Why content was refused. Every message says what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("Image disk_format {declared} does not match the uploaded data, which is {detected}.")]
    Mismatch { declared: String, detected: String },
    #[error("Image failed safety checks: {format} {reason}.")]
    Unsafe { format: String, reason: String },
    #[error("Image data is ambiguous: it matches several formats ({0}).")]
    Multiple(String),
    #[error("Image data is not a valid {format} image: {reason}.")]
    Malformed { format: String, reason: String },
}

/// What the data is and how big the disk it describes is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub format: String,
    /// Bytes of virtual disk; `None` when the format does not say (the
    /// uninspectable `ami`/`aki`/`ari`).
    pub virtual_size: Option<u64>,
}

/// A region of the stream to capture once its offset is known.
#[derive(Debug, Clone)]
struct Capture {
    offset: u64,
    len: usize,
    data: Vec<u8>,
    /// Data before `offset + data.len()` went by before we knew we wanted
    /// it; the region can never complete.
    missed: bool,
}

impl Capture {
    fn new(offset: u64, len: usize) -> Self {
        Capture {
            offset,
            len,
            data: Vec::new(),
            missed: false,
        }
    }

    fn complete(&self) -> bool {
        self.data.len() == self.len
    }

    /// Takes the part of `chunk` (which starts at `start`) that continues
    /// the region. Idempotent: feeding the same chunk twice adds nothing.
    fn feed(&mut self, chunk: &[u8], start: u64) {
        if self.complete() || self.missed {
            return;
        }
        let want = self.offset + self.data.len() as u64;
        let end = start + chunk.len() as u64;
        if want < start {
            self.missed = true;
            return;
        }
        if want >= end {
            return;
        }
        let from = usize::try_from(want - start).unwrap_or(usize::MAX);
        let take = (self.len - self.data.len()).min(chunk.len().saturating_sub(from));
        self.data.extend_from_slice(&chunk[from..from + take]);
    }
}

/// The streaming inspector; feed it with [`Inspector::eat`], then ask for
/// the [`Inspector::verdict`].
#[derive(Debug)]
pub struct Inspector {
    pos: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
    vhdx_meta: Option<Capture>,
    vhdx_vds: Option<Capture>,
    /// A VHDX structure error seen while streaming, reported if the data
    /// turns out to be VHDX.
    vhdx_error: Option<String>,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    pub fn new() -> Self {
        Inspector {
            pos: 0,
            head: Vec::new(),
            tail: Vec::new(),
            vhdx_meta: None,
            vhdx_vds: None,
            vhdx_error: None,
        }
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Presents the next chunk of the stream.
    pub fn eat(&mut self, chunk: &[u8]) {
        let start = self.pos;
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() >= TAIL_LEN {
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - TAIL_LEN..]);
        } else {
            self.tail.extend_from_slice(chunk);
            if self.tail.len() > TAIL_LEN {
                let cut = self.tail.len() - TAIL_LEN;
                self.tail.drain(..cut);
            }
        }
        self.pos += chunk.len() as u64;
        self.track_vhdx(chunk, start);
    }

    /// VHDX keeps its virtual size at offsets only known from earlier
    /// structures; set up captures as soon as those are readable, and feed
    /// them the current chunk too in case they start inside it.
    fn track_vhdx(&mut self, chunk: &[u8], start: u64) {
        if !self.head.starts_with(b"vhdxfile") || self.vhdx_error.is_some() {
            return;
        }
        if self.vhdx_meta.is_none() && self.head.len() >= formats::VHDX_REGION_END {
            match formats::vhdx_meta_region(&self.head) {
                Ok(Some((offset, len))) => self.vhdx_meta = Some(Capture::new(offset, len)),
                Ok(None) => self.vhdx_error = Some("no metadata region".into()),
                Err(e) => self.vhdx_error = Some(e),
            }
        }
        if let Some(meta) = &mut self.vhdx_meta {
            meta.feed(chunk, start);
            if meta.offset + (meta.len as u64) <= HEAD_LEN as u64 && !meta.complete() {
                // Entirely inside what the head already holds.
                let from = usize::try_from(meta.offset).unwrap_or(usize::MAX);
                if let Some(bytes) = self.head.get(from..from + meta.len) {
                    meta.data = bytes.to_vec();
                }
            }
            if meta.complete() && self.vhdx_vds.is_none() {
                match formats::vhdx_vds_item(&meta.data) {
                    Ok(Some(rel)) => {
                        let mut vds = Capture::new(meta.offset + u64::from(rel), 8);
                        vds.feed(&self.head, 0);
                        vds.feed(chunk, start);
                        self.vhdx_vds = Some(vds);
                    }
                    Ok(None) => self.vhdx_error = Some("no virtual disk size item".into()),
                    Err(e) => self.vhdx_error = Some(e),
                }
            }
        }
        if let Some(vds) = &mut self.vhdx_vds {
            vds.feed(chunk, start);
        }
        if self.vhdx_meta.as_ref().is_some_and(|m| m.missed)
            || self.vhdx_vds.as_ref().is_some_and(|v| v.missed)
        {
            self.vhdx_error = Some("metadata lies before the region table".into());
        }
    }

    /// A verdict reachable before the end of the stream: data already
    /// seen contradicts the declared format, or is a format that fails its
    /// safety checks whatever follows. Lets an upload stop early instead
    /// of storing gigabytes it will refuse.
    pub fn early_verdict(&self, disk_format: &str) -> Option<InspectError> {
        let head = &self.head;
        if head.len() < 512 {
            return None;
        }
        if head.starts_with(formats::QCOW2_MAGIC) {
            if let Err(e) = formats::qcow2_safety(head) {
                return Some(e);
            }
        }
        if head.starts_with(b"QED\0") {
            return Some(formats::qed_refusal());
        }
        let magic_at_start = match disk_format {
            "qcow2" => Some(head.starts_with(formats::QCOW2_MAGIC)),
            "vhdx" => Some(head.starts_with(b"vhdxfile")),
            "vdi" => Some(formats::is_vdi(head)),
            _ => None,
        };
        match magic_at_start {
            Some(false) => Some(InspectError::Mismatch {
                declared: disk_format.to_string(),
                detected: "not that format".into(),
            }),
            _ => None,
        }
    }

    /// The decision once the whole stream has been seen, for an image
    /// declared `disk_format` in `container_format`.
    pub fn verdict(
        &self,
        disk_format: &str,
        container_format: &str,
    ) -> Result<Verdict, InspectError> {
        let detected = formats::detect(self)?;
        let names: Vec<&str> = detected.iter().map(|d| d.name).collect();
        let found = match detected.len() {
            0 => None,
            1 => detected.into_iter().next(),
            _ if names.iter().all(|n| *n == "vmdk" || *n == "iso") && names.contains(&"iso") => {
                // Never seen in practice, but like ISO+GPT upstream, an
                // ISO is the one format allowed to carry other headers.
                detected.into_iter().find(|d| d.name == "iso")
            }
            _ => return Err(InspectError::Multiple(names.join(", "))),
        };
        // Whatever was found must be safe, whatever it was declared as:
        // a qcow2 with a backing file is dangerous even when called raw.
        if let Some(d) = &found {
            if let Some(reason) = &d.unsafe_reason {
                return Err(InspectError::Unsafe {
                    format: d.name.to_string(),
                    reason: reason.clone(),
                });
            }
        }
        // Data no other format claims may still be a partitioned disk;
        // upstream calls that format `gpt` and refuses an invalid MBR
        // partition table (a boot flag other than 0x00/0x80, a malformed
        // protective entry) whatever the image was declared as.
        if found.is_none() {
            if let Some(reason) = formats::mbr_unsafe_reason(self.head()) {
                return Err(InspectError::Unsafe {
                    format: "gpt".into(),
                    reason,
                });
            }
        }
        // Container formats other than bare wrap the disk (OVF/OVA tar,
        // compressed, docker): only the safety of recognised content is
        // checked, as upstream inspects bare containers only.
        if container_format != "bare" {
            return Ok(Verdict {
                format: found.map_or("raw", |d| d.name).to_string(),
                virtual_size: None,
            });
        }
        match found {
            Some(d) if d.name == disk_format => Ok(Verdict {
                format: d.name.to_string(),
                virtual_size: d.virtual_size,
            }),
            Some(d) if disk_format == "raw" => {
                tracing::warn!(detected = d.name, "image declared raw holds another format");
                Ok(Verdict {
                    format: "raw".into(),
                    virtual_size: Some(self.pos),
                })
            }
            Some(d) => Err(InspectError::Mismatch {
                declared: disk_format.to_string(),
                detected: d.name.to_string(),
            }),
            None if disk_format == "raw" => Ok(Verdict {
                format: "raw".into(),
                virtual_size: Some(self.pos),
            }),
            None if !INSPECTABLE.contains(&disk_format) => Ok(Verdict {
                format: disk_format.to_string(),
                virtual_size: None,
            }),
            None => Err(InspectError::Mismatch {
                declared: disk_format.to_string(),
                detected: "raw (no known format)".into(),
            }),
        }
    }

    fn head(&self) -> &[u8] {
        &self.head
    }

    fn tail(&self) -> &[u8] {
        &self.tail
    }

    fn vhdx_virtual_size(&self) -> Result<u64, String> {
        if let Some(e) = &self.vhdx_error {
            return Err(e.clone());
        }
        match &self.vhdx_vds {
            Some(v) if v.complete() => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v.data);
                Ok(u64::from_le_bytes(b))
            }
            _ => Err("the virtual disk size item is past the end of the data".into()),
        }
    }
}

impl Detected {
    fn new(name: &'static str, virtual_size: Option<u64>) -> Self {
        Detected {
            name,
            virtual_size,
            unsafe_reason: None,
        }
    }
}
