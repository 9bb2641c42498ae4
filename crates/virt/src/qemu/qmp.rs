//! A small QMP client (the QEMU Machine Protocol): one JSON object per
//! line over the guest's Unix socket. It reads the greeting, leaves
//! capabilities negotiation mode with `qmp_capabilities`, then runs
//! commands tagged with an `id` and waits for the answer carrying that
//! id. Asynchronous events that arrive meanwhile are kept (see
//! [`Qmp::events`]) and otherwise skipped. Every read is bounded by the
//! client's timeout, so a QEMU that hangs cannot hang the caller.

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP timed out waiting for {0}")]
    Timeout(String),
    #[error("QMP connection closed by QEMU")]
    Closed,
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    /// QEMU answered the command with an error object.
    #[error("QMP {command} failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
}

/// At most this many events are kept; older ones are dropped.
const MAX_EVENTS: usize = 256;

/// One negotiated QMP session.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    timeout: Duration,
    events: Vec<Value>,
    /// The `QMP.version.qemu` object of the greeting.
    version: Value,
}

impl Qmp {
    /// Connects to a QMP socket and negotiates capabilities.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
            .await
            .map_err(|_| QmpError::Timeout(format!("connect to {}", path.display())))??;
        Qmp::handshake(stream, timeout).await
    }

    /// Negotiates over an already connected stream (tests use a pair).
    pub async fn handshake(stream: UnixStream, timeout: Duration) -> Result<Qmp, QmpError> {
        let (r, w) = stream.into_split();
        let mut qmp = Qmp {
            reader: BufReader::new(r),
            writer: w,
            next_id: 1,
            timeout,
            events: Vec::new(),
            version: Value::Null,
        };
        let greeting = qmp.read_message("the greeting").await?;
        let Some(banner) = greeting.get("QMP") else {
            return Err(QmpError::Protocol(format!(
                "expected a greeting, got {greeting}"
            )));
        };
        qmp.version = banner
            .get("version")
            .and_then(|v| v.get("qemu"))
            .cloned()
            .unwrap_or(Value::Null);
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// QEMU's version from the greeting (`{"major":7,"minor":2,"micro":0}`).
    pub fn version(&self) -> &Value {
        &self.version
    }

    /// The events received so far, oldest first.
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// Runs `command` and returns its `return` value.
    pub async fn execute(&mut self, command: &str, args: Option<Value>) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "execute": command, "id": id });
        if let Some(args) = args {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string();
        line.push('\n');
        let what = format!("the answer to {command}");
        tokio::time::timeout(self.timeout, self.writer.write_all(line.as_bytes()))
            .await
            .map_err(|_| QmpError::Timeout(format!("sending {command}")))??;
        loop {
            let reply = self.read_message(&what).await?;
            if reply.get("event").is_some() {
                self.record_event(reply);
                continue;
            }
            // An answer to someone else's id (none here: one session per
            // connection) is not ours; skip it rather than misread it.
            if reply.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(ret) = reply.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = reply.get("error") {
                let field = |k: &str| {
                    err.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: field("class"),
                    desc: field("desc"),
                });
            }
            return Err(QmpError::Protocol(format!(
                "answer without return or error: {reply}"
            )));
        }
    }

    /// Waits up to `wait` for an event named `name` for which `matches`
    /// holds (one already received counts).
    pub async fn wait_event(
        &mut self,
        name: &str,
        matches: impl Fn(&Value) -> bool,
        wait: Duration,
    ) -> Result<Value, QmpError> {
        if let Some(ev) = self
            .events
            .iter()
            .find(|e| e["event"] == name && matches(e))
        {
            return Ok(ev.clone());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(QmpError::Timeout(format!("event {name}")));
            }
            let msg = match tokio::time::timeout(left, read_line(&mut self.reader)).await {
                Ok(r) => r?,
                Err(_) => return Err(QmpError::Timeout(format!("event {name}"))),
            };
            if msg.get("event").is_some() {
                self.record_event(msg.clone());
                if msg["event"] == name && matches(&msg) {
                    return Ok(msg);
                }
            }
        }
    }

    fn record_event(&mut self, ev: Value) {
        tracing::debug!(event = %ev, "QMP event");
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(0);
        }
        self.events.push(ev);
    }

    async fn read_message(&mut self, what: &str) -> Result<Value, QmpError> {
        tokio::time::timeout(self.timeout, read_line(&mut self.reader))
            .await
            .map_err(|_| QmpError::Timeout(what.to_string()))?
    }
}

/// Reads one non-empty line as a JSON object.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Result<Value, QmpError> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(QmpError::Closed);
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| QmpError::Protocol(format!("bad JSON {line:?}: {e}")))?;
        if !v.is_object() {
            return Err(QmpError::Protocol(format!("not an object: {line}")));
        }
        return Ok(v);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncBufReadExt;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#;

    /// A scripted QMP peer: sends the greeting, then for each command it
    /// reads, writes the lines `answer` gives for it (`{id}` replaced).
    fn peer(
        answer: impl Fn(&Value) -> Vec<String> + Send + 'static,
    ) -> (UnixStream, tokio::task::JoinHandle<Vec<Value>>) {
        let (a, b) = UnixStream::pair().unwrap();
        let task = tokio::spawn(async move {
            let (r, mut w) = b.into_split();
            let mut r = BufReader::new(r);
            w.write_all(format!("{GREETING}\r\n").as_bytes())
                .await
                .unwrap();
            let mut seen = Vec::new();
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                let cmd: Value = serde_json::from_str(line.trim()).unwrap();
                for out in answer(&cmd) {
                    let out = out.replace("{id}", &cmd["id"].to_string());
                    if w.write_all(format!("{out}\r\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
                seen.push(cmd);
                line.clear();
            }
            seen
        });
        (a, task)
    }

    #[tokio::test]
    async fn negotiates_then_runs_commands_skipping_events() {
        let (s, task) = peer(|cmd| match cmd["execute"].as_str().unwrap() {
            "qmp_capabilities" => vec![r#"{"return": {}, "id": {id}}"#.into()],
            "query-status" => vec![
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#.into(),
                r#"{"return": {}, "id": 999}"#.into(),
                r#"{"return": {"status": "paused", "running": false}, "id": {id}}"#.into(),
            ],
            _ => vec![
                r#"{"error": {"class": "CommandNotFound", "desc": "nope"}, "id": {id}}"#.into(),
            ],
        });
        let mut qmp = Qmp::handshake(s, Duration::from_secs(5)).await.unwrap();
        assert_eq!(qmp.version()["major"], 7);
        let st = qmp.execute("query-status", None).await.unwrap();
        assert_eq!(st["status"], "paused");
        assert_eq!(qmp.events().len(), 1);
        assert_eq!(qmp.events()[0]["event"], "STOP");
        let ev = qmp
            .wait_event("STOP", |_| true, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(ev["event"], "STOP");
        match qmp
            .execute("frobnicate", Some(json!({"x": 1})))
            .await
            .unwrap_err()
        {
            QmpError::Command { class, desc, .. } => {
                assert_eq!(class, "CommandNotFound");
                assert_eq!(desc, "nope");
            }
            e => panic!("unexpected {e:?}"),
        }
        drop(qmp);
        let seen = task.await.unwrap();
        let names: Vec<_> = seen.iter().map(|c| c["execute"].clone()).collect();
        assert_eq!(
            names,
            vec![
                json!("qmp_capabilities"),
                json!("query-status"),
                json!("frobnicate")
            ]
        );
        assert_eq!(seen[2]["arguments"], json!({"x": 1}));
        // Ids are distinct and increasing.
        assert!(seen[2]["id"].as_u64() > seen[1]["id"].as_u64());
    }

    #[tokio::test]
    async fn a_silent_peer_times_out() {
        let (s, task) = peer(|cmd| match cmd["execute"].as_str().unwrap() {
            "qmp_capabilities" => vec![r#"{"return": {}, "id": {id}}"#.into()],
            _ => vec![],
        });
        let mut qmp = Qmp::handshake(s, Duration::from_millis(100)).await.unwrap();
        let e = qmp.execute("query-status", None).await.unwrap_err();
        assert!(matches!(e, QmpError::Timeout(_)), "{e:?}");
        let e = qmp
            .wait_event("SHUTDOWN", |_| true, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, QmpError::Timeout(_)), "{e:?}");
        drop(qmp);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn garbage_and_hangups_are_errors() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_r, mut w) = b.into_split();
        w.write_all(b"{\"return\": {}}\n").await.unwrap();
        let e = Qmp::handshake(a, Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, QmpError::Protocol(_)), "{e:?}");

        let (a, b) = UnixStream::pair().unwrap();
        let (_r, mut w) = b.into_split();
        w.write_all(b"not json\n").await.unwrap();
        let e = Qmp::handshake(a, Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, QmpError::Protocol(_)), "{e:?}");

        let (s, task) = peer(|cmd| match cmd["execute"].as_str().unwrap() {
            "qmp_capabilities" => vec![r#"{"return": {}, "id": {id}}"#.into()],
            // `quit`: QEMU may close before answering.
            _ => vec![],
        });
        let mut qmp = Qmp::handshake(s, Duration::from_secs(5)).await.unwrap();
        task.abort();
        let _ = task.await;
        let e = qmp.execute("quit", None).await.unwrap_err();
        assert!(
            matches!(e, QmpError::Closed | QmpError::Io(_)),
            "unexpected {e:?}"
        );
    }
}
