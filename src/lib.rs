//! rudis: a Redis-compatible server on a single-threaded readiness loop.
//!
//! Read top-down: `server` (the loop) → `client` (one connection) →
//! `protocol` (RESP in and out) → `cmd` (the command table and handlers).
//! `config` is the settings table; `state` what commands share.

pub mod acl;
pub mod alloc;
pub mod aof;
pub mod aof_load;
pub mod child_info;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod cmdstats;
pub mod coalesce;
pub mod config;
pub mod config_load;
pub mod config_pending;
pub mod config_rewrite;
pub mod crash;
pub mod daemon;
pub mod db;
pub mod errors;
pub mod evict;
pub mod float;
pub mod glob;
pub mod latency;
pub mod lazyfree;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod oom_score;
pub mod persist;
pub mod proctitle;
pub mod propagate;
pub mod protocol;
pub mod pubsub;
pub mod rdb;
pub mod repl;
pub mod scripting;
pub mod server;
pub mod signals;
pub mod slowlog;
pub mod state;
pub mod stream;
pub mod tls;
pub mod tracking;

/// The Redis feature level rudis implements; clients gate features on the
/// `redis_version` INFO field and the HELLO reply.
pub const REDIS_VERSION: &str = "7.0.15";
