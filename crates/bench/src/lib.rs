//! `oxistack bench`: load generator and benchmark suites for an oxistack
//! server (or anything else speaking the same OpenStack APIs).
//!
//! The binary exposes [`BenchArgs`] as `oxistack bench <suite> …` and calls
//! [`run`]. Each suite measures a few request kinds for a fixed time at a
//! fixed concurrency and prints a human-readable report followed by a
//! Markdown block (with the exact command line) ready to paste into
//! `BENCHMARKS.md`.
//!
//! # Layout
//!
//! * [`load`] — the reusable closed-loop load generator: N workers, one
//!   keep-alive connection each, a request-factory closure, latencies in a
//!   [`histogram::Histogram`], errors grouped by kind.
//! * [`rss`] — the server's memory from `/proc/PID/status`, sampled while
//!   load runs.
//! * [`report`] — tables (text and Markdown) and number formatting.
//! * [`clouds`] — the few `clouds.yaml` fields a suite needs for credentials.
//! * [`disk`] — what the image and object suites share: the `dd` baseline,
//!   dropping the page cache, one streamed transfer, the rounds of
//!   baseline-then-service, and the medians and verdicts of the comparison.
//! * [`cpu`] — the server's CPU-seconds per GiB uploaded (bench client,
//!   `curl -T`, and the `openssl dgst` floor).
//! * [`identity`] — the Keystone suite: token issue and validation.
//! * [`image`] — the Glance suite: large image upload/download throughput
//!   against `dd`.
//! * [`lists`] — paged identity and image lists and one-user writes with
//!   a large store.
//! * [`network`] — the Neutron suite: port creates, paged and full port
//!   lists with 10,000 ports.
//! * [`object`] — the Swift suite: 4 KiB PUT/GET rates, large object
//!   throughput against `dd`.
//! * [`compute`] — the Nova suite: server create → ACTIVE (one at a time
//!   and 100 at once) and `server list --long` with 1,000 servers.
//! * [`dataplane`] — the network data plane (root only): an in-process
//!   cloud and a network-role agent in `oxb-` namespaces; cold convergence
//!   of 1,000 ports and port create → ACTIVE. The binary starts the cloud
//!   for it (a [`dataplane::StartCloud`]).
//!
//! A new request-rate suite is one more file: build a [`load::Target`], call
//! [`load::run`] per phase with a closure that makes each request, wrap it in
//! an [`rss::Sampler`], render with [`report::Table`], and add a variant to
//! [`Suite`]. A new suite comparing large transfers with the disk
//! implements [`disk::Service`] (its requests) and lets
//! [`disk::run_rounds`] and [`disk::table`] do the rest.
//!
//! # Why a raw hyper client
//!
//! Each worker drives its own [`hyper::client::conn::http1`] connection over
//! a plain `tokio::net::TcpStream` instead of going through a pooled client
//! (hyper-util's legacy `Client`, or reqwest on top of it):
//!
//! * **Least work per request on the client side.** Client and server share
//!   the same few cores here, so every microsecond the load generator spends
//!   is taken from the server being measured. A pooled client adds a pool
//!   lookup, locking, checkout/return bookkeeping, URI-to-connection routing
//!   and (for reqwest) redirect, proxy and header-map layers on each request.
//!   The raw connection is just "encode, write, read, parse".
//! * **Exactly the concurrency asked for.** A pool may open more connections
//!   than workers, or reuse them in a different order; here worker *i* owns
//!   connection *i* for the whole run (re-opened only if it breaks), so
//!   `--concurrency 8` means 8 keep-alive connections and 8 requests in
//!   flight, no more, no fewer.
//! * **Honest errors.** Nothing is retried behind our back: a broken
//!   connection, a timeout or a non-2xx answer is counted and reported, never
//!   hidden by a transparent retry.
//! * **No extra dependencies.** hyper is already in the workspace; reqwest
//!   (with its TLS stack) would not be.

pub mod clouds;
pub mod compute;
pub mod cpu;
pub mod dataplane;
pub mod disk;
pub mod histogram;
pub mod identity;
pub mod image;
pub mod lists;
pub mod load;
pub mod network;
pub mod object;
pub mod report;
pub mod rss;

pub use compute::ComputeArgs;
pub use identity::IdentityArgs;
pub use image::ImageArgs;
pub use lists::ListsArgs;
pub use network::NetworkArgs;
pub use object::ObjectArgs;

/// Arguments of `oxistack bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The benchmark suite to run.
    #[command(subcommand)]
    pub suite: Suite,
}

/// The benchmark suites.
#[derive(clap::Subcommand, Debug)]
pub enum Suite {
    /// Keystone: token issue (password and token methods), token validation,
    /// and the server's memory.
    Identity(IdentityArgs),
    /// Glance: upload and download throughput of one large image against
    /// `dd` on the same disk (medians over rounds), and the server's memory
    /// while streaming.
    Image(ImageArgs),
    /// Swift: 4 KiB PUT and GET rates, large object PUT/GET throughput
    /// against `dd` on the same disk (medians over rounds), and the server's
    /// memory while streaming.
    Object(ObjectArgs),
    /// Lists and writes with a large store: `GET /v3/users?limit=100`,
    /// `GET /v2/images?limit=25` and creating one user, after seeding
    /// 10,000 users and 10,000 images (p95 latencies against 20 ms).
    Lists(ListsArgs),
    /// Neutron: `POST /v2.0/ports` rate on one network with a /16 subnet,
    /// then `GET /v2.0/ports?limit=100` and the full unpaginated list with
    /// 10,000 ports in the store, and the server's memory.
    Network(NetworkArgs),
    /// Nova: server create → ACTIVE p50/p95 one at a time and 100 at once,
    /// then `server list --long`'s request with 1,000 servers, and the
    /// server's memory (with `oxistack up --compute-driver fake`).
    Compute(ComputeArgs),
    /// Network data plane (root only; needs no running cloud): cold
    /// convergence of 1,000 ports on one host and port create → ACTIVE
    /// p50/p95, with an in-process cloud (`dataplane = linux`) and a
    /// network-role agent in namespaces it makes and removes (`oxb-…`).
    Dataplane(dataplane::DataplaneArgs),
}

/// Run the chosen suite and print its report on stdout (progress on
/// stderr). `dataplane` starts the in-process cloud of the data-plane
/// suite (the binary's; this crate cannot depend on it).
pub async fn run(args: BenchArgs, dataplane: dataplane::StartCloud) -> anyhow::Result<()> {
    match args.suite {
        Suite::Identity(a) => identity::run(a).await,
        Suite::Image(a) => image::run(a).await,
        Suite::Object(a) => object::run(a).await,
        Suite::Lists(a) => lists::run(a).await,
        Suite::Network(a) => network::run(a).await,
        Suite::Compute(a) => compute::run(a).await,
        Suite::Dataplane(a) => dataplane::run(a, dataplane).await,
    }
}
