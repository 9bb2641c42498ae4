//! Reading objects: an object's bytes as a list of [`Piece`]s (one file
//! for a plain object, the segments for a large one), cut to the
//! requested `Range`s (a single range, or several as
//! `multipart/byteranges`), after the conditional headers (`If-Match`,
//! `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`) as swob
//! evaluates them.

use super::Request;
use bytes::Bytes;
use std::sync::Arc;

/// Where a piece's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file opened when the reply was planned: a concurrent overwrite
    /// or delete cannot take it away mid-read.
    Open(Arc<std::fs::File>),
    /// A file opened when its turn comes (segments of large objects).
    Path(std::path::PathBuf),
}

/// A run of bytes of a reply body.
#[derive(Debug, Clone)]
pub enum Piece {
    File {
        source: Source,
        offset: u64,
        len: u64,
    },
    Data(Bytes),
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::File { len, .. } => *len,
            Piece::Data(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bytes `[start, end)` of the concatenation of `pieces`.
pub fn slice(pieces: &[Piece], start: u64, end: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    for p in pieces {
        let len = p.len();
        let (lo, hi) = (pos, pos + len);
        pos = hi;
        if hi <= start || lo >= end {
            continue;
        }
        let from = start.max(lo) - lo;
        let to = end.min(hi) - lo;
        out.push(match p {
            Piece::File { source, offset, .. } => Piece::File {
                source: source.clone(),
                offset: offset + from,
                len: to - from,
            },
            Piece::Data(b) => {
                let (f, t) = (
                    usize::try_from(from).unwrap_or(0),
                    usize::try_from(to).unwrap_or(0),
                );
                Piece::Data(b.slice(f..t))
            }
        });
    }
    out
}

/// What conditionals compare against.
#[derive(Debug, Clone)]
pub struct Validators {
    pub etag: String,
    /// Whole seconds of `Last-Modified`.
    pub last_modified: i64,
}

/// swob's `_get_conditional_response_status`: 304 or 412 (as
/// [`Selection::NotModified`] and [`Selection::PreconditionFailed`]), or
/// `None` to go on.
pub fn conditional(req: &Request, v: &Validators) -> Option<Selection> {
    if let Some(m) = req.header("if-none-match") {
        if crate::http::Match::parse(m).contains(&v.etag) {
            return Some(Selection::NotModified);
        }
    }
    if let Some(m) = req.header("if-match") {
        if !crate::http::Match::parse(m).contains(&v.etag) {
            return Some(Selection::PreconditionFailed);
        }
    }
    if let Some(since) = req
        .header("if-modified-since")
        .and_then(crate::http::parse_http_date)
    {
        if v.last_modified <= since {
            return Some(Selection::NotModified);
        }
    }
    if let Some(since) = req
        .header("if-unmodified-since")
        .and_then(crate::http::parse_http_date)
    {
        if v.last_modified > since {
            return Some(Selection::PreconditionFailed);
        }
    }
    None
}

/// What a GET or HEAD of object data answers, after the conditionals
/// and then `Range` (as swob evaluates them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// 304.
    NotModified,
    /// 412.
    PreconditionFailed,
    /// A `HEAD`: the headers and the whole length, no data.
    Head,
    /// 416: no requested range overlaps the object.
    Unsatisfiable,
    /// All of it.
    Whole,
    /// One range, `[start, end)`.
    Range(u64, u64),
    /// Several ranges, sent as `multipart/byteranges`.
    Ranges(Vec<(u64, u64)>),
}

/// Plans the answer to `req` for an object of `total` bytes.
pub fn select(req: &Request, v: &Validators, total: u64) -> Selection {
    if let Some(stop) = conditional(req, v) {
        return stop;
    }
    if req.is_head() {
        return Selection::Head;
    }
    let ranges = req
        .header("range")
        .and_then(crate::http::parse_range)
        .map(|specs| crate::http::ranges_for_length(&specs, total));
    match ranges {
        Some(r) if r.is_empty() => Selection::Unsatisfiable,
        // A zero-byte object asked for its last bytes: the whole (empty)
        // object, as swob, Apache and nginx answer.
        Some(_) if total == 0 => Selection::Whole,
        Some(r) if r.len() == 1 => Selection::Range(r[0].0, r[0].1),
        Some(r) => Selection::Ranges(r),
        None => Selection::Whole,
    }
}

/// The `multipart/byteranges` body of `ranges` of `pieces` (each part
/// headed by `content_type` and its `Content-Range`), separated by
/// `boundary`.
pub fn multipart(
    pieces: &[Piece],
    ranges: &[(u64, u64)],
    content_type: &str,
    total: u64,
    boundary: &str,
) -> Vec<Piece> {
    let mut body = Vec::new();
    for &(s, e) in ranges {
        body.push(Piece::Data(Bytes::from(format!(
            "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            crate::http::content_range(s, e, total)
        ))));
        body.extend(slice(pieces, s, e));
        body.push(Piece::Data(Bytes::from_static(b"\r\n")));
    }
    body.push(Piece::Data(Bytes::from(format!("--{boundary}--"))));
    body
}

/// Bodies up to this size are read in one go; larger ones stream.
pub const SMALL_BODY: u64 = 1 << 20;
/// Feeds the bytes of `pieces` to `emit` in order; stops early when
/// `emit` says so (the reader went away).
pub fn read_pieces(pieces: &[Piece], mut emit: impl FnMut(Bytes) -> bool) -> std::io::Result<()> {
    for p in pieces {
        match p {
            Piece::Data(b) => {
                if !emit(b.clone()) {
                    return Ok(());
                }
            }
            Piece::File {
                source: Source::Open(f),
                offset,
                len,
            } => common::datafile::read_range(f, *offset, *len, &mut emit)?,
            Piece::File {
                source: Source::Path(path),
                offset,
                len,
            } => {
                let f = std::fs::File::open(path)?;
                common::datafile::read_range(&f, *offset, *len, &mut emit)?;
            }
        }
    }
    Ok(())
}

/// Reads small `pieces` whole, on the blocking pool.
pub async fn read_all(pieces: Vec<Piece>) -> std::io::Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        read_pieces(&pieces, |b| {
            out.extend_from_slice(&b);
            true
        })?;
        Ok(Bytes::from(out))
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Reads `pieces` on a blocking thread into a bounded channel (see
/// [`common::datafile::spawn_reader`]).
pub fn spawn_reader(pieces: Vec<Piece>) -> tokio::sync::mpsc::Receiver<std::io::Result<Bytes>> {
    common::datafile::spawn_reader(move |emit| read_pieces(&pieces, emit))
}

/// Total length of `pieces`.
pub fn total_len(pieces: &[Piece]) -> u64 {
    pieces.iter().map(Piece::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(parts: &[&'static [u8]]) -> Vec<Piece> {
        parts
            .iter()
            .map(|p| Piece::Data(Bytes::from_static(p)))
            .collect()
    }

    fn flat(pieces: &[Piece]) -> Vec<u8> {
        let mut v = Vec::new();
        for p in pieces {
            if let Piece::Data(b) = p {
                v.extend_from_slice(b);
            }
        }
        v
    }

    fn request(method: &str, headers: &[(&'static str, &str)]) -> Request {
        let mut h = axum::http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, axum::http::HeaderValue::from_str(v).unwrap());
        }
        Request {
            method: method.parse().unwrap(),
            path: crate::names::SwiftPath {
                account: "AUTH_a".into(),
                container: Some("c".into()),
                object: Some("o".into()),
            },
            headers: h,
            query: common::http::QueryMap::default(),
            caller: super::super::Caller::Anonymous,
            temp_url: None,
        }
    }

    #[test]
    fn selects_after_conditionals_then_ranges() {
        let v = Validators {
            etag: "abc".into(),
            last_modified: 1_000_000,
        };
        let sel =
            |m: &str, h: &[(&'static str, &str)], total: u64| select(&request(m, h), &v, total);
        assert_eq!(sel("GET", &[], 10), Selection::Whole);
        assert_eq!(sel("HEAD", &[("range", "bytes=0-1")], 10), Selection::Head);
        // Conditionals come before HEAD and Range.
        assert_eq!(
            sel("HEAD", &[("if-none-match", "\"abc\"")], 10),
            Selection::NotModified
        );
        assert_eq!(
            sel(
                "GET",
                &[("if-match", "\"xyz\""), ("range", "bytes=0-1")],
                10
            ),
            Selection::PreconditionFailed
        );
        let later = crate::http::http_date(2_000_000);
        assert_eq!(
            sel("GET", &[("if-modified-since", &later)], 10),
            Selection::NotModified
        );
        assert_eq!(
            sel("GET", &[("range", "bytes=2-4")], 10),
            Selection::Range(2, 5)
        );
        assert_eq!(
            sel("GET", &[("range", "bytes=-3")], 10),
            Selection::Range(7, 10)
        );
        assert_eq!(
            sel("GET", &[("range", "bytes=0-0,5-6")], 10),
            Selection::Ranges(vec![(0, 1), (5, 7)])
        );
        assert_eq!(
            sel("GET", &[("range", "bytes=20-30")], 10),
            Selection::Unsatisfiable
        );
        // The last bytes of an empty object: the whole (empty) object.
        assert_eq!(sel("GET", &[("range", "bytes=-5")], 0), Selection::Whole);
    }

    #[test]
    fn multipart_bodies_head_each_range() {
        let p = data(&[b"abcdefgh"]);
        let body = multipart(&p, &[(0, 2), (6, 8)], "text/plain", 8, "B");
        assert_eq!(
            String::from_utf8(flat(&body)).unwrap(),
            "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/8\r\n\r\nab\r\n\
             --B\r\nContent-Type: text/plain\r\nContent-Range: bytes 6-7/8\r\n\r\ngh\r\n--B--"
        );
    }

    #[test]
    fn slices_across_pieces() {
        let p = data(&[b"abc", b"defg", b"h"]);
        assert_eq!(flat(&slice(&p, 0, 8)), b"abcdefgh");
        assert_eq!(flat(&slice(&p, 2, 5)), b"cde");
        assert_eq!(flat(&slice(&p, 7, 8)), b"h");
        assert_eq!(slice(&p, 3, 7).len(), 1);
        assert!(slice(&p, 8, 8).is_empty());
    }
}
