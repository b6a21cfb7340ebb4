//! Replication state shared by both roles (Redis's `replication.c`
//! globals): the replication ids and offset, the backlog, the command
//! stream on its way to replicas, and where this server's master is.
//!
//! The stream is what the AOF gets, in the same effect form: a call's
//! commands are encoded once into `unsent` (and the backlog) when the
//! call ends, and `before_sleep` copies `unsent` into each replica's
//! reply buffer, so a replica's output is written like any client's. A
//! replica that is still being sent its snapshot gets the stream into a
//! held buffer that follows the snapshot.
//!
//! Offsets are Redis's: `offset` counts every byte of stream ever fed;
//! the backlog holds the last `repl-backlog-size` of them, its first byte
//! numbered `first_offset` (counting from 1).

pub mod backlog;
pub mod link;
pub mod transfer;

use crate::propagate::Argv;
use backlog::Backlog;
use std::time::Instant;

/// Where a replica client is in its synchronization (Redis's
/// `SLAVE_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sent REPLCONF, not PSYNC yet: not a replica.
    Handshake,
    /// Asked for a full sync; waits for a snapshot to start.
    WaitBgsave,
    /// Its snapshot is being produced or sent; the stream is held.
    Transfer,
    /// Gets the stream as it happens.
    Online,
}

/// The master side's view of one replica (the replica fields of Redis's
/// `client`).
pub struct ReplicaInfo {
    pub phase: Phase,
    /// `REPLCONF listening-port` and `ip-address`.
    pub listening_port: u16,
    pub announced_ip: Option<String>,
    /// `REPLCONF capa eof`: reads a snapshot of unknown length.
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// The last offset the replica acknowledged, and when.
    pub ack_offset: u64,
    pub ack_time: Instant,
    /// Stream fed while the snapshot was on its way; follows it.
    pub held: Vec<u8>,
    /// Since when it has been waiting for a snapshot (for the diskless
    /// sync delay).
    pub waiting_since: Instant,
    /// Sent a snapshot of unknown length: the stream waits for its first
    /// ACK, which says it has read the end (a replica that reads to disk
    /// looks for the end mark at the end of a read).
    pub hold_until_ack: bool,
    /// Came by SYNC: no `+FULLRESYNC` line before the snapshot.
    pub old_sync: bool,
    /// Since when its socket has been full during a diskless snapshot.
    pub stalled_since: Option<Instant>,
    /// The snapshot file is being sent (after the child wrote it).
    pub sending_file: bool,
    /// `REPLCONF rdb-filter-only`: what the snapshot it gets leaves out.
    pub filter: RdbFilter,
}

/// Parts of a snapshot a replica asked to leave out (Redis's
/// `SLAVE_REQ_RDB_EXCLUDE_*`): `redis-cli --functions-rdb` wants the
/// functions alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdbFilter {
    pub no_data: bool,
    pub no_functions: bool,
}

impl RdbFilter {
    pub fn any(&self) -> bool {
        self.no_data || self.no_functions
    }
}

impl ReplicaInfo {
    pub fn new(phase: Phase) -> Self {
        let now = Instant::now();
        ReplicaInfo {
            phase,
            listening_port: 0,
            announced_ip: None,
            capa_eof: false,
            capa_psync2: false,
            ack_offset: 0,
            ack_time: now,
            held: Vec::new(),
            waiting_since: now,
            hold_until_ack: false,
            old_sync: false,
            stalled_since: None,
            sending_file: false,
            filter: RdbFilter::default(),
        }
    }

    /// The state name `INFO replication` shows.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            Phase::Handshake | Phase::WaitBgsave => "wait_bgsave",
            // While the child writes (to disk, or to the replicas through
            // the pipe), Redis says wait_bgsave; send_bulk is the file.
            Phase::Transfer if self.sending_file => "send_bulk",
            Phase::Transfer => "wait_bgsave",
            Phase::Online => "online",
        }
    }
}

/// This server's master, when it is a replica (`REPLICAOF host port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// The replica side's link to its master (Redis's `repl_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (again).
    Connect,
    /// The TCP connection is being made.
    Connecting,
    /// Connected; PING, AUTH, REPLCONF and PSYNC on their way.
    Handshake,
    /// Receiving the snapshot.
    Transfer,
    /// Following the stream.
    Connected,
}

/// A coordinated failover (`FAILOVER`) under way.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The replica to hand over to; any that catches up when None.
    pub target: Option<MasterAddr>,
    pub deadline: Option<Instant>,
    pub force: bool,
    /// Writes are paused and the replicas asked for their offsets; once
    /// one has all of the stream this server becomes its replica.
    pub in_progress: bool,
}

pub struct Replication {
    pub replid: String,
    /// The id this server had before its last change of role, and the
    /// first offset that id is no longer valid for (PSYNC2 after a
    /// failover); `second_offset` is -1 when there is none.
    pub replid2: String,
    pub second_offset: i64,
    /// Every byte of stream fed so far (`master_repl_offset`).
    pub offset: u64,
    pub backlog: Option<Backlog>,
    /// Stream fed since `before_sleep` last handed it to the replicas.
    pub unsent: Vec<u8>,
    /// Where a call's commands are encoded before they are fed.
    scratch: Vec<u8>,
    /// The database the stream last SELECTed.
    pub selected_db: Option<usize>,
    /// Slab keys of the replica clients, in the order they attached.
    pub replicas: Vec<usize>,
    /// When the last replica left, for `repl-backlog-ttl`.
    pub no_replicas_since: Option<Instant>,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Replicas that asked for a full sync since the loop last looked:
    /// (slab key, client id). A disk snapshot on its way may take them.
    pub sync_requests: Vec<(usize, u64)>,
    /// Clients blocked in WAIT: (slab key, client id).
    pub waiting: Vec<(usize, u64)>,
    /// A WAIT blocked: ask the replicas for their offsets before sleeping.
    pub get_ack_wanted: bool,
    /// A replica acknowledged: blocked WAITs are looked at again.
    pub acks_arrived: bool,
    /// A blocked WAIT runs again because its time is up: it answers.
    pub wait_timed_out: bool,
    /// The master asked for an ACK (`REPLCONF GETACK`).
    pub ack_requested: bool,
    /// REPLICAOF changed the master: the loop drops the old link.
    pub relink: bool,
    pub failover: Option<Failover>,
    /// FAILOVER ABORT: why, for the loop to end the failover.
    pub failover_abort: Option<String>,
    /// `min-replicas-to-write`, kept here for the per-command test.
    pub min_replicas_to_write: u64,
    /// The master this server replicates, if any.
    pub master: Option<MasterAddr>,
    pub link: LinkState,
    /// The master's client, once the link carries the stream.
    pub master_key: Option<usize>,
    /// The database the master's stream was in when its client last ran
    /// a command: a link that continues starts there (Redis's cached
    /// master keeps its database).
    pub master_stream_db: usize,
    /// When the link to the master last went down; None until it was up.
    pub link_down_since: Option<Instant>,
    /// This replica holds a history a master may continue (Redis's
    /// "cached master"): its own, when it was a master or loaded one at
    /// start, or the last master's once a sync succeeded. Without one it
    /// asks for a full resync (`PSYNC ? -1`).
    pub resumable: bool,
    /// The snapshot coming from the master: bytes read, bytes expected
    /// (None until the end mark), when bytes last came.
    pub sync_progress: Option<(u64, Option<u64>, Instant)>,
    /// The id and offset `+FULLRESYNC` gave, taken on once the snapshot
    /// that follows is loaded.
    pub transfer_master: Option<(String, u64)>,
    /// The command stream currently applied comes from the master: its
    /// commands are not fed to the stream again (their bytes are).
    pub applying_master_stream: bool,
}

impl Default for Replication {
    fn default() -> Self {
        let now = Instant::now();
        Replication {
            replid: crate::state::random_hex_id(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: None,
            unsent: Vec::new(),
            scratch: Vec::new(),
            selected_db: None,
            replicas: Vec::new(),
            no_replicas_since: Some(now),
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            sync_requests: Vec::new(),
            waiting: Vec::new(),
            get_ack_wanted: false,
            acks_arrived: false,
            wait_timed_out: false,
            ack_requested: false,
            relink: false,
            failover: None,
            failover_abort: None,
            min_replicas_to_write: 0,
            master: None,
            link: LinkState::Connect,
            master_key: None,
            master_stream_db: 0,
            link_down_since: None,
            resumable: false,
            sync_progress: None,
            transfer_master: None,
            applying_master_stream: false,
        }
    }
}

impl Replication {
    /// Whether the stream is being recorded: a backlog exists once a
    /// replica attached (or this server is a replica).
    pub fn recording(&self) -> bool {
        self.backlog.is_some()
    }

    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Creates the backlog if there is none (`createReplicationBacklog`):
    /// its first byte will be the next one fed.
    pub fn ensure_backlog(&mut self, size: u64) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(size as usize, self.offset + 1));
            // The stream must start with a SELECT.
            self.selected_db = None;
            self.publish_position();
        }
    }

    /// Tells snapshots where the stream stands (none without a backlog):
    /// call after the id changes or the backlog comes or goes.
    pub fn publish_position(&self) {
        let position = self.recording().then(|| crate::rdb::ReplPosition {
            stream_db: self.selected_db.unwrap_or(0),
            id: self.replid.clone(),
            offset: self.offset,
        });
        crate::persist::set_repl_position(position);
    }

    /// Appends raw stream bytes: the backlog, the offset and what goes to
    /// the replicas next.
    pub fn feed(&mut self, bytes: &[u8]) {
        if let Some(backlog) = &mut self.backlog {
            backlog.append(bytes);
            self.offset += bytes.len() as u64;
            crate::persist::set_repl_offset(self.offset, None);
            if !self.replicas.is_empty() {
                self.unsent.extend_from_slice(bytes);
            }
        }
    }

    /// Feeds one call's commands, with a SELECT where the database
    /// changes, in MULTI/EXEC when a transaction produced several. A
    /// replica feeds only its master's stream, which it passes on as it
    /// came: its own writes (a writable replica's) stay its own, as in
    /// Redis's `replicationFeedSlaves`.
    pub fn feed_commands(&mut self, commands: &[(usize, Argv)], wrap: bool) {
        if self.applying_master_stream || self.is_replica() || !self.recording() {
            return;
        }
        // Encoded in a buffer kept for the purpose: no allocation per write.
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        crate::propagate::encode_call(&mut bytes, commands, wrap, &mut self.selected_db);
        self.feed(&bytes);
        self.scratch = bytes;
        crate::persist::set_repl_offset(self.offset, self.selected_db);
    }

    /// A new history begins (`changeReplicationId` with
    /// `shiftReplicationId`): the old id stays valid up to this offset, so
    /// replicas of the old master can continue with this one.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::state::random_hex_id());
        self.second_offset = self.offset as i64 + 1;
        self.publish_position();
    }

    /// Forgets the second id (`clearReplicationId2`).
    pub fn clear_replid2(&mut self) {
        self.replid2 = "0".repeat(40);
        self.second_offset = -1;
    }

    /// Whether a PSYNC for `replid` at `offset` (the next byte the replica
    /// needs) can be served from the backlog (`masterTryPartialResynchronization`).
    pub fn can_continue(&self, replid: &str, offset: u64) -> bool {
        let id_ok = replid == self.replid
            || (replid == self.replid2
                && self.second_offset >= 0
                && offset <= self.second_offset as u64);
        id_ok && self.backlog.as_ref().is_some_and(|b| b.covers(offset))
    }

    /// Takes up the stream position a snapshot recorded, loaded at start
    /// (Redis's `loadDataFromDisk` with `rdbSaveInfo`): a replica asks its
    /// master to continue from it; a master keeps it as its second id, so
    /// its old replicas can continue, and its backlog starts there with
    /// the DELs for the keys it found expired. Without a position the
    /// DELs count in the offset but no backlog is kept.
    pub fn restore_position(
        &mut self,
        position: Option<crate::rdb::ReplPosition>,
        expired_feed: Option<crate::persist::ExpiredFeed>,
        backlog_size: u64,
    ) {
        let Some(position) = position else {
            if let Some(feed) = expired_feed.filter(|_| !self.is_replica()) {
                self.offset += feed.fed();
            }
            return;
        };
        if self.is_replica() {
            self.replid = position.id;
            self.master_stream_db = position.stream_db;
            self.resumable = true;
        } else {
            self.replid2 = position.id;
            self.second_offset = position.offset as i64 + 1;
            self.no_replicas_since = Some(Instant::now());
        }
        self.offset = position.offset;
        self.backlog = None;
        match expired_feed.filter(|_| !self.is_replica()) {
            Some(feed) => {
                self.offset += feed.fed();
                let mut stream = feed.stream;
                stream.rebase(position.offset);
                stream.resize(backlog_size as usize);
                self.backlog = Some(stream);
                self.selected_db = feed.selected_db;
            }
            None => self.ensure_backlog(backlog_size),
        }
        self.publish_position();
    }

    /// A FAILOVER has chosen its replica and follows it.
    pub fn handing_over(&self) -> bool {
        self.failover.as_ref().is_some_and(|f| f.in_progress)
    }

    /// `master_failover_state` in INFO.
    pub fn failover_state(&self) -> &'static str {
        match &self.failover {
            None => "no-failover",
            Some(f) if f.in_progress => "failover-in-progress",
            Some(_) => "waiting-for-sync",
        }
    }

    /// Lists a client as a replica.
    pub fn attach(&mut self, key: usize) {
        if !self.replicas.contains(&key) {
            self.replicas.push(key);
        }
        self.no_replicas_since = None;
    }

    /// A replica client is gone.
    pub fn detach(&mut self, key: usize) {
        self.replicas.retain(|&k| k != key);
        if self.replicas.is_empty() {
            self.no_replicas_since = Some(Instant::now());
        }
    }

    /// Becomes a replica of `addr` (`replicationSetMaster`). A master's own
    /// history is where it asks its new master to continue from.
    pub fn set_master(&mut self, addr: MasterAddr) {
        if self.master.is_none() {
            self.resumable = true;
        }
        self.master = Some(addr);
        crate::oom_score::set_role(true);
        self.link = LinkState::Connect;
        self.relink = true;
        self.link_down_since = None;
    }

    /// Becomes a master (`replicationUnsetMaster`): a new id, the old one
    /// kept for the replicas that follow this server to continue.
    pub fn unset_master(&mut self) {
        self.master = None;
        self.resumable = false;
        crate::oom_score::set_role(false);
        self.shift_replid();
        self.relink = true;
        self.selected_db = None;
    }

    /// Replicas that acknowledged `offset` or more (`replicationCountAcksByOffset`).
    pub fn acked(&self, clients: &slab::Slab<crate::client::Client>, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter_map(|&k| clients.get(k)?.replica.as_deref())
            .filter(|r| r.phase == Phase::Online && r.ack_offset >= offset)
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag` seconds old
    /// (`repl_good_slaves_count`).
    pub fn good_replicas(
        &self,
        clients: &slab::Slab<crate::client::Client>,
        max_lag: u64,
    ) -> usize {
        self.replicas
            .iter()
            .filter_map(|&k| clients.get(k)?.replica.as_deref())
            .filter(|r| r.phase == Phase::Online && r.ack_time.elapsed().as_secs() <= max_lag)
            .count()
    }
}
