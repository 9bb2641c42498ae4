//! Test hosts as network namespaces, for the root-gated tests (see
//! [`crate::root`]): a [`TestNet`] creates uniquely named namespaces
//! ([`TestHost`]), veth pairs between them, bridges, addresses, runs
//! commands inside with `ip netns exec`, and on drop — also when the test
//! fails or panics — stops what it started there and deletes every link
//! and namespace it made.
//!
//! Names are `oxt-<pid>-<n>-<label>`. A test killed outright (no drop)
//! leaves its namespaces behind; the next [`TestNet::new`] deletes those
//! whose process is gone. Traffic stays inside the namespaces: nothing
//! here touches the host's own interfaces or routes, so tests never reach
//! the host's uplink.

use anyhow::{bail, ensure, Context, Result};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Prefix of every namespace made here, for the sweep and leak checks.
pub const PREFIX: &str = "oxt-";

/// Namespaces made by this process so far, to keep names unique when
/// tests run in parallel threads.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A network namespace standing in for a host. A cheap handle; the
/// [`TestNet`] that made it owns the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestHost {
    name: String,
}

impl TestHost {
    /// The namespace's name (for `ip netns exec NAME` / `ip -n NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `args` inside the namespace and returns its output, whatever
    /// its exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        ensure!(!args.is_empty(), "no command to run in {}", self.name);
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("ip netns exec {} {args:?}", self.name))
    }

    /// Runs `args` inside the namespace; its stdout, or an error with its
    /// stderr when it fails.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.exec(args)?;
        if !out.status.success() {
            bail!(
                "in {}: {args:?} failed ({}): {}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip <args>` against this namespace (`ip -n NAME …`).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Adds `cidr` (e.g. `192.0.2.1/24`) to `dev` and brings `dev` up.
    pub fn add_address(&self, dev: &str, cidr: &str) -> Result<()> {
        self.ip(&["addr", "add", cidr, "dev", dev])?;
        self.ip(&["link", "set", dev, "up"])?;
        Ok(())
    }

    /// The names of the links in the namespace.
    pub fn links(&self) -> Result<Vec<String>> {
        link_names(&self.ip(&["-o", "link", "show"])?)
    }
}

/// Runs `ip args`; its stdout, or an error with its stderr.
fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running ip {args:?}"))?;
    if !out.status.success() {
        bail!(
            "ip {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Link names from `ip -o link show` lines (`2: name@peer: <…> …`).
fn link_names(listing: &str) -> Result<Vec<String>> {
    listing
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let name = l
                .split(':')
                .nth(1)
                .map(str::trim)
                .with_context(|| format!("unexpected ip link line: {l}"))?;
            Ok(name.split('@').next().unwrap_or(name).to_string())
        })
        .collect()
}

/// The names of every network namespace on the machine.
pub fn namespaces() -> Result<Vec<String>> {
    // `ip netns list` adds " (id: N)" to namespaces that have one.
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The hosts, links and processes of one test; all removed on drop.
#[derive(Debug)]
pub struct TestNet {
    hosts: Vec<TestHost>,
    /// (namespace, device) of each veth end made, deleted before the
    /// namespaces so nothing depends on namespace teardown.
    links: Vec<(String, String)>,
    children: Vec<Child>,
}

impl TestNet {
    /// An empty test network. Sweeps namespaces left by test processes
    /// that no longer exist.
    pub fn new() -> Result<TestNet> {
        sweep_stale()?;
        Ok(TestNet {
            hosts: Vec::new(),
            links: Vec::new(),
            children: Vec::new(),
        })
    }

    /// A new namespace with loopback up; `label` (letters, digits, `-`)
    /// ends its name.
    pub fn host(&mut self, label: &str) -> Result<TestHost> {
        ensure!(
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "bad host label {label:?}"
        );
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{label}", std::process::id());
        ip(&["netns", "add", &name])?;
        let host = TestHost { name };
        // Recorded before anything else can fail, so drop removes it.
        self.hosts.push(host.clone());
        host.ip(&["link", "set", "lo", "up"])?;
        Ok(host)
    }

    /// A veth pair: `a_dev` in `a`, `b_dev` in `b`, both down and without
    /// addresses. Created directly inside the namespaces, so the host's
    /// own namespace never holds either end.
    pub fn veth(&mut self, a: &TestHost, a_dev: &str, b: &TestHost, b_dev: &str) -> Result<()> {
        ensure!(
            a_dev.len() < 16 && b_dev.len() < 16,
            "interface names are at most 15 bytes"
        );
        ip(&[
            "link", "add", "name", a_dev, "netns", &a.name, "type", "veth", "peer", "name", b_dev,
            "netns", &b.name,
        ])?;
        self.links.push((a.name.clone(), a_dev.to_string()));
        self.links.push((b.name.clone(), b_dev.to_string()));
        Ok(())
    }

    /// A Linux bridge `name` in `host`, up (a switch between the veth
    /// ends [`TestNet::attach`]ed to it).
    pub fn bridge(&mut self, host: &TestHost, name: &str) -> Result<()> {
        ensure!(name.len() < 16, "interface names are at most 15 bytes");
        host.ip(&["link", "add", "name", name, "type", "bridge"])?;
        self.links.push((host.name.clone(), name.to_string()));
        host.ip(&["link", "set", name, "up"])?;
        Ok(())
    }

    /// A tap device `name` in `host` (for a QEMU started there), down.
    pub fn tap(&mut self, host: &TestHost, name: &str) -> Result<()> {
        ensure!(name.len() < 16, "interface names are at most 15 bytes");
        host.ip(&["tuntap", "add", "dev", name, "mode", "tap"])?;
        self.links.push((host.name.clone(), name.to_string()));
        Ok(())
    }

    /// Plugs `dev` of `host` into bridge `bridge` there and brings it up.
    pub fn attach(&mut self, host: &TestHost, dev: &str, bridge: &str) -> Result<()> {
        host.ip(&["link", "set", dev, "master", bridge])?;
        host.ip(&["link", "set", dev, "up"])?;
        Ok(())
    }

    /// Starts `args` inside `host` in the background (a server, say); it
    /// is killed on drop.
    pub fn spawn(&mut self, host: &TestHost, args: &[&str]) -> Result<()> {
        ensure!(!args.is_empty(), "no command to start in {}", host.name);
        let child = Command::new("ip")
            .args(["netns", "exec", &host.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {args:?} in {}", host.name))?;
        self.children.push(child);
        Ok(())
    }

    /// The namespaces this network made (and has not yet removed).
    pub fn hosts(&self) -> &[TestHost] {
        &self.hosts
    }

    /// Stops the processes, deletes the links and then the namespaces;
    /// the first error, after trying everything.
    pub fn remove(&mut self) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        for mut child in self.children.drain(..) {
            // `ip netns exec` execs the command, so this is the program.
            let _ = child.kill();
            let _ = child.wait();
        }
        for (ns, dev) in self.links.drain(..) {
            // Deleting one end of a veth deletes its peer: not there is fine.
            let still = ip(&["-n", &ns, "-o", "link", "show", "dev", &dev]).is_ok();
            if still {
                if let Err(e) = ip(&["-n", &ns, "link", "del", "dev", &dev]) {
                    first.get_or_insert(e);
                }
            }
        }
        for host in self.hosts.drain(..) {
            if let Err(e) = ip(&["netns", "del", &host.name]) {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            // Drop cannot fail; the leak check in the test (or the next
            // sweep) catches what is left.
            eprintln!("test network not fully removed: {e:#}");
        }
    }
}

/// Deletes namespaces named by a test process that is gone.
fn sweep_stale() -> Result<()> {
    for ns in namespaces()? {
        let Some(rest) = ns.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            ip(&["netns", "del", &ns])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn link_names_from_ip_output() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n\
                   7: ve-a@if6: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN\n";
        assert_eq!(link_names(out).unwrap(), vec!["lo", "ve-a"]);
        assert!(link_names("garbage").is_err());
    }
}
