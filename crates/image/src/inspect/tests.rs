//! Inspector tests on crafted images: headers written by hand for each
//! format and each unsafe layout, and real images made by `qemu-img`
//! (skipped, loudly, where qemu-img is not installed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn inspect_chunked(data: &[u8], chunk: usize) -> Inspector {
    let mut i = Inspector::new();
    for c in data.chunks(chunk.max(1)) {
        i.eat(c);
    }
    i
}

/// Checks the verdict is the same however the data is chunked.
fn verdict(data: &[u8], disk: &str) -> Result<Verdict, InspectError> {
    let whole = inspect_chunked(data, data.len().max(1)).verdict(disk, "bare");
    for size in [1usize, 511, 4096, 65_536] {
        if data.len() > 4 << 20 && size < 4096 {
            continue;
        }
        assert_eq!(
            inspect_chunked(data, size).verdict(disk, "bare"),
            whole,
            "chunk size {size}"
        );
    }
    whole
}

fn qcow2_header(version: u32, backing: u64, features: u64, size: u64) -> Vec<u8> {
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"QFI\xfb");
    h[4..8].copy_from_slice(&version.to_be_bytes());
    h[8..16].copy_from_slice(&backing.to_be_bytes());
    h[20..24].copy_from_slice(&16u32.to_be_bytes());
    h[24..32].copy_from_slice(&size.to_be_bytes());
    h[72..80].copy_from_slice(&features.to_be_bytes());
    h
}

fn unsafe_reason(r: Result<Verdict, InspectError>) -> String {
    match r {
        Err(InspectError::Unsafe { reason, .. }) => reason,
        other => panic!("expected a safety refusal, got {other:?}"),
    }
}

#[test]
fn raw_is_anything_and_its_size() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let v = verdict(&data, "raw").unwrap();
    assert_eq!(v.format, "raw");
    assert_eq!(v.virtual_size, Some(100_000));
    assert!(matches!(
        verdict(&data, "qcow2"),
        Err(InspectError::Mismatch { .. })
    ));
    // Empty data is raw of size zero.
    assert_eq!(verdict(&[], "raw").unwrap().virtual_size, Some(0));
}

#[test]
fn qcow2_by_hand() {
    let v = verdict(&qcow2_header(3, 0, 0, 1 << 30), "qcow2").unwrap();
    assert_eq!(v.virtual_size, Some(1 << 30));
    assert!(verdict(&qcow2_header(2, 0, 0, 512), "qcow2").is_ok());
    // Dirty and corrupt bits are known features, not unsafe.
    assert!(verdict(&qcow2_header(3, 0, 0b11, 512), "qcow2").is_ok());
    assert!(unsafe_reason(verdict(&qcow2_header(3, 4096, 0, 512), "qcow2")).contains("backing"));
    assert!(unsafe_reason(verdict(&qcow2_header(3, 0, 4, 512), "qcow2")).contains("data file"));
    assert!(unsafe_reason(verdict(&qcow2_header(3, 0, 1 << 7, 512), "qcow2")).contains("unknown"));
    assert!(unsafe_reason(verdict(&qcow2_header(1, 0, 0, 512), "qcow2")).contains("version"));
    // Calling an unsafe qcow2 raw does not make it safe.
    assert!(unsafe_reason(verdict(&qcow2_header(3, 4096, 0, 512), "raw")).contains("backing"));
    // A safe qcow2 declared raw is stored as raw.
    assert_eq!(
        verdict(&qcow2_header(3, 0, 0, 512), "raw").unwrap().format,
        "raw"
    );
    // Declared vmdk, is qcow2.
    match verdict(&qcow2_header(3, 0, 0, 512), "vmdk") {
        Err(InspectError::Mismatch { declared, detected }) => {
            assert_eq!((declared.as_str(), detected.as_str()), ("vmdk", "qcow2"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn early_verdicts_stop_bad_uploads() {
    let mut i = Inspector::new();
    i.eat(&qcow2_header(3, 4096, 0, 512)[..600]);
    assert!(matches!(
        i.early_verdict("qcow2"),
        Some(InspectError::Unsafe { .. })
    ));
    let mut i = Inspector::new();
    i.eat(&[0u8; 600]);
    assert!(matches!(
        i.early_verdict("qcow2"),
        Some(InspectError::Mismatch { .. })
    ));
    assert_eq!(i.early_verdict("raw"), None);
    let mut i = Inspector::new();
    i.eat(&qcow2_header(3, 0, 0, 512)[..100]);
    assert_eq!(i.early_verdict("qcow2"), None, "not enough data yet");
}

#[test]
fn hidden_second_header_is_refused() {
    // A qcow2 header with an ISO volume descriptor at 32 KiB.
    let mut data = qcow2_header(3, 0, 0, 1 << 20);
    data.resize(64 * 1024, 0);
    data[32 * 1024] = 1;
    data[32 * 1024 + 1..32 * 1024 + 6].copy_from_slice(b"CD001");
    assert!(matches!(
        verdict(&data, "qcow2"),
        Err(InspectError::Multiple(_))
    ));
}

#[test]
fn vhd_vdi_iso_qed_by_hand() {
    let mut vhd = vec![0u8; 1024];
    vhd[..8].copy_from_slice(b"conectix");
    vhd[40..48].copy_from_slice(&(7u64 << 20).to_be_bytes());
    assert_eq!(verdict(&vhd, "vhd").unwrap().virtual_size, Some(7 << 20));

    let mut vdi = vec![0u8; 1024];
    vdi[0x40..0x44].copy_from_slice(&0xbeda_107fu32.to_le_bytes());
    vdi[0x170..0x178].copy_from_slice(&(3u64 << 20).to_le_bytes());
    assert_eq!(verdict(&vdi, "vdi").unwrap().virtual_size, Some(3 << 20));

    let mut iso = vec![0u8; 40 * 1024];
    let d = 32 * 1024;
    iso[d] = 1;
    iso[d + 1..d + 6].copy_from_slice(b"CD001");
    iso[d + 80..d + 84].copy_from_slice(&20u32.to_le_bytes());
    iso[d + 128..d + 130].copy_from_slice(&2048u16.to_le_bytes());
    assert_eq!(verdict(&iso, "iso").unwrap().virtual_size, Some(20 * 2048));

    let mut qed = vec![0u8; 1024];
    qed[..4].copy_from_slice(b"QED\0");
    assert!(unsafe_reason(verdict(&qed, "raw")).contains("QED"));
}

/// A 64 KiB disk whose first sector is an MBR with `entries` as
/// (boot flag, type, start CHS, start LBA) in its partition table.
fn mbr_disk(entries: &[(u8, u8, [u8; 3], u32)]) -> Vec<u8> {
    let mut d = vec![0u8; 64 * 1024];
    for (i, (boot, kind, chs, lba)) in entries.iter().enumerate() {
        let at = 446 + 16 * i;
        d[at] = *boot;
        d[at + 1..at + 4].copy_from_slice(chs);
        d[at + 4] = *kind;
        d[at + 8..at + 12].copy_from_slice(&lba.to_le_bytes());
        d[at + 12..at + 16].copy_from_slice(&100u32.to_le_bytes());
    }
    d[510] = 0x55;
    d[511] = 0xaa;
    d
}

fn gpt_reason(r: Result<Verdict, InspectError>) -> String {
    match r {
        Err(InspectError::Unsafe { format, reason }) => {
            assert_eq!(format, "gpt");
            reason
        }
        other => panic!("expected an MBR refusal, got {other:?}"),
    }
}

#[test]
fn valid_mbr_tables_are_raw() {
    let linux = (0x80, 0x83, [0x20, 0x21, 0x00], 2048);
    let swap = (0x00, 0x82, [0xfe, 0xff, 0xff], 1 << 20);
    for disk in [
        mbr_disk(&[linux]),
        mbr_disk(&[linux, swap]),
        mbr_disk(&[(0x00, 0x00, [0; 3], 0), linux]),
        // GPT's protective MBR: one 0xEE entry from CHS 0/2/0, LBA 1.
        mbr_disk(&[(0x00, 0xee, [0x00, 0x02, 0x00], 1)]),
    ] {
        let v = verdict(&disk, "raw").unwrap();
        assert_eq!(
            (v.format.as_str(), v.virtual_size),
            ("raw", Some(64 * 1024))
        );
    }
}

#[test]
fn invalid_mbr_tables_are_refused() {
    let linux = (0x80, 0x83, [0x20, 0x21, 0x00], 2048);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            mbr_disk(&[(0x01, 0x83, [0x20, 0x21, 0x00], 2048)]),
            "MBR PTE 0 has invalid boot flag",
        ),
        (
            mbr_disk(&[linux, linux, (0x7f, 0x00, [0; 3], 0)]),
            "MBR PTE 2 has invalid boot flag",
        ),
        (
            mbr_disk(&[(0x00, 0xee, [0x00, 0x01, 0x00], 1)]),
            "GPT MBR has invalid start CHS",
        ),
        (
            mbr_disk(&[(0x00, 0xee, [0x00, 0x02, 0x00], 2)]),
            "GPT MBR has invalid start LBA",
        ),
        (
            mbr_disk(&[(0x00, 0xee, [0x00, 0x02, 0x00], 1), linux]),
            "GPT MBR defines invalid extra partitions",
        ),
        (
            mbr_disk(&[linux, (0x00, 0xee, [0x00, 0x02, 0x00], 1)]),
            "GPT MBR defines invalid extra partitions",
        ),
        (mbr_disk(&[]), "GPT MBR has no partitions defined"),
    ];
    for (disk, want) in cases {
        assert_eq!(gpt_reason(verdict(&disk, "raw")), want);
        // Whatever it is declared as, and in whatever container.
        assert_eq!(gpt_reason(verdict(&disk, "ami")), want);
        assert_eq!(
            gpt_reason(inspect_chunked(&disk, 4096).verdict("raw", "ovf")),
            want
        );
    }
    let e = verdict(&mbr_disk(&[(0x01, 0x83, [0; 3], 63)]), "raw").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Image failed safety checks: gpt MBR PTE 0 has invalid boot flag."
    );
}

#[test]
fn what_is_not_an_mbr_is_not_checked() {
    // No 0x55AA signature: the same bytes are just raw data.
    let mut disk = mbr_disk(&[(0x01, 0x83, [0; 3], 63)]);
    disk[510] = 0;
    assert!(verdict(&disk, "raw").is_ok());
    // A FAT volume boot record (two FATs, fixed-disk media descriptor)
    // ends with the same signature but has no partition table.
    let mut fat = mbr_disk(&[]);
    fat[0x10] = 2;
    fat[0x15] = 0xf8;
    fat[446..510].fill(0x4f);
    assert!(verdict(&fat, "raw").is_ok());
    // A hybrid ISO carries an MBR; as upstream, the ISO is what is checked.
    let mut iso = mbr_disk(&[(0x01, 0x83, [0; 3], 63)]);
    let d = 32 * 1024;
    iso[d] = 1;
    iso[d + 1..d + 6].copy_from_slice(b"CD001");
    iso[d + 80..d + 84].copy_from_slice(&32u32.to_le_bytes());
    iso[d + 128..d + 130].copy_from_slice(&2048u16.to_le_bytes());
    assert_eq!(verdict(&iso, "iso").unwrap().format, "iso");
    // Shorter than a sector: nothing to read a table from.
    assert!(verdict(&[0x55, 0xaa], "raw").is_ok());
}

fn ms_guid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
    out[4..6].copy_from_slice(&[b[5], b[4]]);
    out[6..8].copy_from_slice(&[b[7], b[6]]);
    out[8..].copy_from_slice(&b[8..]);
    out
}

/// A VHDX with its metadata region at `meta_at`.
fn vhdx(meta_at: usize, size: u64) -> Vec<u8> {
    let mut v = vec![0u8; meta_at + 128 * 1024];
    v[..8].copy_from_slice(b"vhdxfile");
    let rt = 192 * 1024;
    v[rt..rt + 4].copy_from_slice(&0x6967_6572u32.to_le_bytes());
    v[rt + 8..rt + 12].copy_from_slice(&2u32.to_le_bytes());
    // Entry 0: some other region; entry 1: metadata.
    v[rt + 16..rt + 32].copy_from_slice(&ms_guid("2DC27766-F623-4200-9D64-115E9BFD4A08"));
    let e = rt + 48;
    v[e..e + 16].copy_from_slice(&ms_guid("8B7CA206-4790-4B9A-B8FE-575F050F886E"));
    v[e + 16..e + 24].copy_from_slice(&(meta_at as u64).to_le_bytes());
    v[meta_at..meta_at + 8].copy_from_slice(b"metadata");
    v[meta_at + 10..meta_at + 12].copy_from_slice(&2u16.to_le_bytes());
    let m1 = meta_at + 32;
    v[m1..m1 + 16].copy_from_slice(&ms_guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B"));
    let m2 = meta_at + 64;
    v[m2..m2 + 16].copy_from_slice(&ms_guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8"));
    v[m2 + 16..m2 + 20].copy_from_slice(&(96 * 1024u32).to_le_bytes());
    let vds = meta_at + 96 * 1024;
    v[vds..vds + 8].copy_from_slice(&size.to_le_bytes());
    v
}

#[test]
fn vhdx_metadata_inside_and_beyond_the_head() {
    assert_eq!(
        verdict(&vhdx(512 * 1024, 5 << 30), "vhdx")
            .unwrap()
            .virtual_size,
        Some(5 << 30)
    );
    assert_eq!(
        verdict(&vhdx(3 << 20, 6 << 30), "vhdx")
            .unwrap()
            .virtual_size,
        Some(6 << 30)
    );
    // Truncated before the size item: not a valid VHDX.
    let v = vhdx(3 << 20, 6 << 30);
    assert!(matches!(
        verdict(&v[..(3 << 20) + 1024], "vhdx"),
        Err(InspectError::Malformed { .. })
    ));
}

fn vmdk(desc: &str, capacity_sectors: u64, gd_at_end: bool) -> Vec<u8> {
    let mut v = vec![0u8; 64 * 1024];
    v[..4].copy_from_slice(b"KDMV");
    v[4..8].copy_from_slice(&(if gd_at_end { 3u32 } else { 1 }).to_le_bytes());
    v[12..20].copy_from_slice(&capacity_sectors.to_le_bytes());
    v[28..36].copy_from_slice(&1u64.to_le_bytes());
    v[36..44].copy_from_slice(&20u64.to_le_bytes());
    if gd_at_end {
        v[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    v[512..512 + desc.len()].copy_from_slice(desc.as_bytes());
    v
}

fn descriptor(create_type: &str, extent: &str) -> String {
    format!(
        "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
         createType=\"{create_type}\"\n\n# Extent description\n{extent}\n\n\
         # The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n"
    )
}

#[test]
fn vmdk_by_hand() {
    let ok = vmdk(
        &descriptor("monolithicSparse", "RW 2048 SPARSE \"disk.vmdk\""),
        2048,
        false,
    );
    assert_eq!(verdict(&ok, "vmdk").unwrap().virtual_size, Some(2048 * 512));
    let escape = vmdk(
        &descriptor("monolithicSparse", "RW 2048 SPARSE \"../../etc/shadow\""),
        2048,
        false,
    );
    assert!(unsafe_reason(verdict(&escape, "vmdk")).contains("outside"));
    let flat = vmdk(
        &descriptor("monolithicFlat", "RW 2048 FLAT \"other-image\" 0"),
        2048,
        false,
    );
    assert!(unsafe_reason(verdict(&flat, "vmdk")).contains("subformat"));
    let flat_extent = vmdk(
        &descriptor("monolithicSparse", "RW 2048 FLAT \"other-image\" 0"),
        2048,
        false,
    );
    assert!(unsafe_reason(verdict(&flat_extent, "vmdk")).contains("FLAT".to_lowercase().as_str()));
    let junk = vmdk(
        &descriptor(
            "monolithicSparse",
            "RW 2048 SPARSE \"d.vmdk\"\nrm -rf everything",
        ),
        2048,
        false,
    );
    assert!(unsafe_reason(verdict(&junk, "vmdk")).contains("line"));
    let none = vmdk(&descriptor("monolithicSparse", ""), 2048, false);
    assert!(unsafe_reason(verdict(&none, "vmdk")).contains("no extents"));
    // A descriptor-only file: every extent is another file.
    let text = descriptor("monolithicSparse", "RW 2048 SPARSE \"another-image\"");
    assert!(unsafe_reason(verdict(text.as_bytes(), "vmdk")).contains("outside"));
}

#[test]
fn vmdk_stream_optimized_footer() {
    let desc = descriptor("streamOptimized", "RW 2048 SPARSE \"s.vmdk\"");
    let mut good = vmdk(&desc, 2048, true);
    let header = good[..512].to_vec();
    let mut footer = vec![0u8; 1536];
    footer[12..16].copy_from_slice(&3u32.to_le_bytes());
    footer[512..1024].copy_from_slice(&header);
    footer[512 + 56..512 + 64].copy_from_slice(&4096u64.to_le_bytes());
    good.extend_from_slice(&footer);
    assert!(verdict(&good, "vmdk").is_ok());
    // The footer points at yet another footer.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1024 + 56..n - 1024 + 64].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(unsafe_reason(verdict(&bad, "vmdk")).contains("another footer"));
    // No end-of-stream marker.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8] = 9;
    assert!(unsafe_reason(verdict(&bad, "vmdk")).contains("end-of-stream"));
}

#[test]
fn uninspectable_formats_take_unrecognised_data() {
    let data = vec![0x5au8; 10_000];
    for f in ["ami", "aki", "ari"] {
        let v = verdict(&data, f).unwrap();
        assert_eq!((v.format.as_str(), v.virtual_size), (f, None));
    }
    assert!(matches!(
        verdict(&qcow2_header(3, 0, 0, 512), "ami"),
        Err(InspectError::Mismatch { .. })
    ));
    // Non-bare containers: only safety counts.
    let i = inspect_chunked(&qcow2_header(3, 0, 0, 512), 4096);
    assert!(i.verdict("raw", "ovf").is_ok());
    let i = inspect_chunked(&qcow2_header(3, 1, 0, 512), 4096);
    assert!(i.verdict("raw", "ovf").is_err());
}

// --- real images from qemu-img ------------------------------------------

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn qemu_img(args: &[&str]) -> bool {
    match std::process::Command::new("qemu-img").args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!(
            "qemu-img {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => false,
    }
}

fn have_qemu_img() -> bool {
    let ok = std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("qemu-img not installed (Debian: qemu-utils): skipping the qemu-img images");
    }
    ok
}

#[test]
fn images_made_by_qemu_img() {
    if !have_qemu_img() {
        return;
    }
    let dir =
        Scratch(std::env::temp_dir().join(format!("oxistack-inspect-{}", common::ids::hex_id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let p = |n: &str| dir.0.join(n).display().to_string();
    let size = "3M";
    let cases: &[(&str, &[&str])] = &[
        ("qcow2", &["-f", "qcow2"]),
        ("vmdk", &["-f", "vmdk"]),
        ("vhd", &["-f", "vpc"]),
        ("vhdx", &["-f", "vhdx"]),
        ("vdi", &["-f", "vdi"]),
    ];
    for (format, fmt_args) in cases {
        let file = p(&format!("disk.{format}"));
        let mut args = vec!["create", "-q"];
        args.extend_from_slice(fmt_args);
        args.push(&file);
        args.push(size);
        assert!(qemu_img(&args));
        let data = std::fs::read(&file).unwrap();
        let v = verdict(&data, format).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(v.format, *format);
        if *format == "vhd" {
            // vpc rounds the size to its CHS geometry.
            assert!(v.virtual_size.unwrap() >= 3 << 20 && v.virtual_size.unwrap() < 4 << 20);
        } else {
            assert_eq!(v.virtual_size, Some(3 << 20), "{format}");
        }
        // Declared as the wrong format: refused.
        let wrong = if *format == "qcow2" { "vmdk" } else { "qcow2" };
        assert!(verdict(&data, wrong).is_err(), "{format} declared {wrong}");
    }

    // A stream-optimized VMDK, with its footer.
    let raw = p("base.raw");
    assert!(qemu_img(&["create", "-q", "-f", "raw", &raw, "2M"]));
    let so = p("so.vmdk");
    assert!(qemu_img(&[
        "convert",
        "-q",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        &raw,
        &so
    ]));
    assert_eq!(
        verdict(&std::fs::read(&so).unwrap(), "vmdk")
            .unwrap()
            .virtual_size,
        Some(2 << 20)
    );

    // A monolithicFlat VMDK: the descriptor names the data file.
    let flat = p("flat.vmdk");
    assert!(qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-o",
        "subformat=monolithicFlat",
        &flat,
        "1M"
    ]));
    assert!(unsafe_reason(verdict(&std::fs::read(&flat).unwrap(), "vmdk")).contains("outside"));

    // qcow2 with a backing file, and with an external data file.
    let backed = p("backed.qcow2");
    assert!(qemu_img(&[
        "create", "-q", "-f", "qcow2", "-b", &raw, "-F", "raw", &backed
    ]));
    assert!(unsafe_reason(verdict(&std::fs::read(&backed).unwrap(), "qcow2")).contains("backing"));
    let with_data = p("datafile.qcow2");
    let data_file = format!("data_file={}", p("external.raw"));
    assert!(qemu_img(&[
        "create", "-q", "-f", "qcow2", "-o", &data_file, &with_data, "1M"
    ]));
    assert!(
        unsafe_reason(verdict(&std::fs::read(&with_data).unwrap(), "qcow2")).contains("data file")
    );
}
