//! The loop's side of replication (Redis's `replication.c` handlers and
//! `replicationCron`): handing the stream to replicas, full syncs, and,
//! on a replica, the link to the master. What the commands decide is in
//! `state.repl`; this module moves the bytes.

use super::*;
use crate::repl::link::{Handshake, Hello, Step};
use crate::repl::transfer::{Pumped, Source, Transfer};
use crate::repl::{LinkState, Phase};

/// The pipe a diskless snapshot comes through, and the link to the master
/// before it becomes a client.
pub(super) const REPL_PIPE: Token = Token(LISTENER_BASE - MAX_LISTENERS - 1);
pub(super) const MASTER_LINK: Token = Token(LISTENER_BASE - MAX_LISTENERS - 2);

/// How often the replication cron runs (Redis's is once a second).
const CRON_PERIOD: Duration = Duration::from_secs(1);

/// The loop's replication state that holds descriptors.
pub(super) struct ReplLoop {
    pub transfer: Option<Transfer>,
    pub link: Option<Handshake>,
    last_cron: Instant,
    last_ping: Instant,
    /// The transfer can go on without waiting for an event.
    pub busy: bool,
}

impl Default for ReplLoop {
    fn default() -> Self {
        ReplLoop {
            transfer: None,
            link: None,
            last_cron: Instant::now(),
            last_ping: Instant::now(),
            busy: false,
        }
    }
}

impl Server {
    /// `replicaof <host> <port>` in the config: start as a replica.
    pub(super) fn replicaof_at_start(&mut self) {
        let setting = crate::config::pending_text(&self.state.config, "replicaof").to_string();
        let mut words = setting.split_whitespace();
        if let (Some(host), Some(Ok(port))) = (words.next(), words.next().map(str::parse::<u16>)) {
            self.state.repl.set_master(crate::repl::MasterAddr {
                host: host.to_string(),
                port,
            });
            // A replica from the start has no history of its own to offer
            // unless its snapshot recorded one (just below).
            self.state.repl.resumable = false;
        }
        let position = self.state.persist.loaded_position.take();
        let expired_feed = self.state.persist.loaded_expired_feed.take();
        if position.is_some() || expired_feed.is_some() {
            let size = crate::config::pending_u64(&self.state.config, "repl-backlog-size");
            self.state
                .repl
                .restore_position(position, expired_feed, size);
            self.state.refresh_expired_logs();
        }
    }

    /// Before sleeping: stream to the replicas, transfers, WAIT.
    pub(super) fn replication_before_sleep(&mut self) {
        if self.state.repl.failover.is_some() {
            self.update_failover();
        }
        if self.state.repl.relink {
            self.state.repl.relink = false;
            self.relink();
        }
        if std::mem::take(&mut self.state.repl.get_ack_wanted)
            && !self.state.repl.replicas.is_empty()
        {
            let mut getack = Vec::new();
            crate::propagate::encode_command(&mut getack, &[&b"REPLCONF"[..], b"GETACK", b"*"]);
            self.state.repl.feed(&getack);
        }
        if !self.state.repl.unsent.is_empty() {
            self.distribute_stream();
        }
        if std::mem::take(&mut self.state.repl.acks_arrived) && !self.state.repl.waiting.is_empty()
        {
            self.serve_waiters();
        }
        if !self.state.repl.sync_requests.is_empty() {
            self.place_sync_requests();
        }
        if self.repl.transfer.is_none() {
            self.start_transfer_if_due();
        }
        if self.repl.transfer.is_some() {
            self.pump_transfer();
        }
    }

    /// Moves a FAILOVER on (Redis's `updateFailoverStatus`): once the
    /// target (or any replica) acknowledged the whole stream, this server
    /// becomes its replica; past the timeout it gives up, or with FORCE
    /// hands over anyway.
    fn update_failover(&mut self) {
        if let Some(why) = self.state.repl.failover_abort.take() {
            self.abort_failover(&why);
            return;
        }
        let Some(failover) = self.state.repl.failover.clone() else {
            return;
        };
        // Once handed over, the failover waits for the target's answer to
        // PSYNC, whatever the time (Redis's FAILOVER_IN_PROGRESS).
        if failover.in_progress {
            return;
        }
        let timed_out = failover.deadline.is_some_and(|d| Instant::now() >= d);
        let chosen = if timed_out {
            match failover.target.clone().filter(|_| failover.force) {
                Some(target) => {
                    info!(
                        "FAILOVER to {}:{} time out exceeded, failing over.",
                        target.host, target.port
                    );
                    target
                }
                None => return self.abort_failover("Replica never caught up before timeout"),
            }
        } else {
            let repl = &self.state.repl;
            let synced = repl.replicas.iter().find_map(|&k| {
                let client = self.clients.get(k)?;
                let info = client.replica.as_deref()?;
                let addr = crate::repl::MasterAddr {
                    host: crate::cmd::replica_ip(client),
                    port: info.listening_port,
                };
                let wanted = failover.target.as_ref().is_none_or(|t| *t == addr);
                (wanted && info.phase == Phase::Online && info.ack_offset == repl.offset)
                    .then_some(addr)
            });
            let Some(addr) = synced else {
                return;
            };
            info!(
                "Failover target {}:{} is synced, failing over.",
                addr.host, addr.port
            );
            addr
        };
        if let Some(f) = self.state.repl.failover.as_mut() {
            f.in_progress = true;
        }
        self.state.repl.set_master(chosen);
        for key in self.state.repl.replicas.clone() {
            self.close(key, Closing::Now);
        }
    }

    /// Ends a FAILOVER that did not make it: back to master if it had
    /// started following the target, and writes resume.
    fn abort_failover(&mut self, why: &str) {
        warn!("FAILOVER aborted: {why}");
        let in_progress = self.state.repl.handing_over();
        if in_progress && self.state.repl.is_replica() {
            self.state.repl.unset_master();
        }
        self.end_failover();
    }

    /// The failover is over: writes resume.
    fn end_failover(&mut self) {
        self.state.repl.failover = None;
        if let Some(pause) = self.state.pause.as_mut() {
            pause.until = Instant::now();
        }
    }

    /// Copies the stream fed since the last round to every replica:
    /// written out with the replies, or held behind a snapshot.
    fn distribute_stream(&mut self) {
        let unsent = std::mem::take(&mut self.state.repl.unsent);
        for &key in &self.state.repl.replicas {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            let Some(info) = client.replica.as_deref_mut() else {
                continue;
            };
            match info.phase {
                Phase::Handshake | Phase::WaitBgsave => continue,
                Phase::Transfer => info.held.extend_from_slice(&unsent),
                Phase::Online if info.hold_until_ack => info.held.extend_from_slice(&unsent),
                Phase::Online => client.reply.raw(&unsent),
            }
            // A replica kept from writing (its socket full) is not
            // accounted by its writes: it is here.
            client.account_buffers(&mut self.state.replica_buffers);
            // Written, and held to its output limit.
            self.state.output_woken.push(key);
        }
        let mut unsent = unsent;
        unsent.clear();
        self.state.repl.unsent = unsent;
    }

    /// Runs blocked WAITs again after acknowledgements arrived; those
    /// satisfied answer and leave the list.
    fn serve_waiters(&mut self) {
        let waiting = self.state.repl.waiting.clone();
        for (key, id) in waiting {
            let live = self
                .clients
                .get(key)
                .is_some_and(|c| c.id == id && c.blocked.is_some());
            if live {
                let mut woken_by = None;
                self.rerun_blocked(key, &mut woken_by);
            }
            let still = self
                .clients
                .get(key)
                .is_some_and(|c| c.id == id && c.blocked.is_some());
            if !still {
                self.state.repl.waiting.retain(|&w| w != (key, id));
            }
        }
    }

    /// A WAIT whose timeout passed answers with the count so far.
    pub(super) fn wait_timed_out(&mut self, key: usize) -> bool {
        let is_wait = self
            .clients
            .get(key)
            .and_then(|c| c.blocked.as_ref())
            .is_some_and(|b| {
                b.keys.is_empty() && b.command.args().get(0).eq_ignore_ascii_case(b"wait")
            });
        if !is_wait {
            return false;
        }
        self.state.repl.wait_timed_out = true;
        let mut woken_by = None;
        self.rerun_blocked(key, &mut woken_by);
        self.state.repl.wait_timed_out = false;
        let id = self.clients.get(key).map_or(0, |c| c.id);
        self.state.repl.waiting.retain(|&w| w != (key, id));
        true
    }

    /// Starts a snapshot for the replicas waiting for one, unless a child
    /// runs or the diskless delay has not passed (`replicationCron`'s
    /// `replicationStartPendingFork`).
    fn start_transfer_if_due(&mut self) {
        let config = &self.state.config;
        let waiting: Vec<usize> = self
            .state
            .repl
            .replicas
            .iter()
            .copied()
            .filter(|&k| {
                self.clients
                    .get(k)
                    .and_then(|c| c.replica.as_deref())
                    .is_some_and(|r| r.phase == Phase::WaitBgsave)
            })
            .collect();
        if waiting.is_empty() || self.state.persist.child.is_some() {
            return;
        }
        // One snapshot serves replicas that asked for the same parts: the
        // first one's, and those like it.
        let filter_of = |k: usize| {
            self.clients
                .get(k)
                .and_then(|c| c.replica.as_deref())
                .map(|r| r.filter)
                .unwrap_or_default()
        };
        let filter = filter_of(waiting[0]);
        let waiting: Vec<usize> = waiting
            .into_iter()
            .filter(|&k| filter_of(k) == filter)
            .collect();
        let infos = || {
            waiting
                .iter()
                .filter_map(|&k| self.clients.get(k)?.replica.as_deref())
        };
        let configured = crate::config::pending_bool(config, "repl-diskless-sync")
            && infos().all(|r| r.capa_eof && !r.old_sync);
        // A filtered snapshot goes over the socket, at once unless the
        // settings ask for diskless syncs (and their delay).
        let diskless = configured || filter.any();
        if configured {
            let delay = crate::config::pending_u64(config, "repl-diskless-sync-delay");
            let max = crate::config::pending_u64(config, "repl-diskless-sync-max-replicas");
            let oldest = infos()
                .map(|r| r.waiting_since.elapsed())
                .max()
                .unwrap_or_default();
            let enough = max > 0 && waiting.len() as u64 >= max;
            if oldest.as_secs() < delay && !enough {
                return;
            }
        }
        // Replicas expect a SELECT before the first command after the
        // snapshot.
        self.state.repl.selected_db = None;
        let target = if diskless { "replicas sockets" } else { "disk" };
        info!("Starting BGSAVE for SYNC with target: {target}");
        let state = &mut self.state;
        let mut libraries = state.functions.codes();
        if filter.no_functions {
            libraries.clear();
        }
        let dbs: &[crate::db::Db] = if filter.no_data { &[] } else { &state.dbs };
        let source = if diskless {
            let mark = crate::state::random_hex_id();
            match persist::snapshot_to_pipe(
                &mut state.persist,
                dbs,
                &libraries,
                &state.config,
                &state.listener_fds,
                mark.as_bytes(),
            ) {
                Ok(pipe) => {
                    let fd = pipe.as_raw_fd();
                    let registered = self.poll.registry().register(
                        &mut mio::unix::SourceFd(&fd),
                        REPL_PIPE,
                        Interest::READABLE,
                    );
                    if let Err(e) = registered {
                        warn!("Can't register the replication pipe: {e}");
                    }
                    Source::Pipe(pipe)
                }
                Err(e) => {
                    warn!("Can't save in background: fork: {e}");
                    self.close_replicas(&waiting);
                    return;
                }
            }
        } else {
            let dirty = crate::db::dirty();
            state.persist.dirty_at_fork = dirty;
            match persist::bgsave(
                &mut state.persist,
                &state.dbs,
                &libraries,
                &state.config,
                &state.listener_fds,
            ) {
                Ok(()) => Source::DiskChild,
                Err(_) => {
                    self.close_replicas(&waiting);
                    return;
                }
            }
        };
        let Some(pid) = self.state.persist.child.as_ref().map(|c| c.pid) else {
            return;
        };
        if diskless {
            info!("Background RDB transfer started by pid {pid}");
        }
        let line = format!(
            "+FULLRESYNC {} {}\r\n",
            self.state.repl.replid, self.state.repl.offset
        );
        let mut members = Vec::new();
        for &key in &waiting {
            let client = &mut self.clients[key];
            let Some(info) = client.replica.as_deref_mut() else {
                continue;
            };
            info.phase = Phase::Transfer;
            if !info.old_sync {
                client.reply.raw(line.as_bytes());
            }
            members.push((key, client.id));
            self.state.output_woken.push(key);
        }
        self.repl.transfer = Some(Transfer {
            source,
            child_pid: pid,
            replicas: members,
            read_all: false,
            child_ok: None,
            resync_line: line,
        });
    }

    /// Replicas that just asked for a full sync: one joins a disk snapshot
    /// being written for others, or waits for the next snapshot, which
    /// `start_transfer_if_due` starts (Redis's `syncCommand` cases, with
    /// its log lines).
    fn place_sync_requests(&mut self) {
        for (key, id) in std::mem::take(&mut self.state.repl.sync_requests) {
            let Some(info) = self
                .clients
                .get(key)
                .filter(|c| c.id == id)
                .and_then(|c| c.replica.as_deref())
                .filter(|r| r.phase == Phase::WaitBgsave)
            else {
                continue;
            };
            let eof = info.capa_eof;
            let child = self.state.persist.child.as_ref();
            match (self.repl.transfer.as_mut(), child) {
                (Some(transfer), _) if matches!(transfer.source, Source::Pipe(_)) => {
                    info!("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
                }
                (Some(transfer), Some(child)) if child.pid == transfer.child_pid => {
                    if transfer.attach_late(key, &mut self.clients) {
                        self.state.output_woken.push(key);
                        info!("Waiting for end of BGSAVE for SYNC");
                    } else {
                        info!("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
                    }
                }
                (_, Some(child)) if child.kind == persist::ChildKind::Rdb => {
                    info!("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
                }
                (_, Some(_)) => {
                    info!("No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed");
                }
                (_, None) => {
                    let config = &self.state.config;
                    if eof
                        && crate::config::pending_bool(config, "repl-diskless-sync")
                        && crate::config::pending_u64(config, "repl-diskless-sync-delay") > 0
                    {
                        info!("Delay next BGSAVE for diskless SYNC");
                    }
                }
            }
        }
    }

    /// Closes replicas whose sync cannot go on.
    fn close_replicas(&mut self, keys: &[usize]) {
        for &key in keys {
            self.close(key, Closing::Now);
        }
    }

    /// Moves snapshot bytes on; ends the transfer once it is all sent.
    pub(super) fn pump_transfer(&mut self) {
        self.repl.busy = false;
        let Some(transfer) = self.repl.transfer.as_mut() else {
            return;
        };
        let child = self.state.persist.child.as_ref().map(|c| c.pid);
        if transfer.child_ok.is_none() && child != Some(transfer.child_pid) {
            // Killed and reaped by a command (FLUSHALL): the snapshot will
            // not be whole.
            self.end_transfer(false);
            return;
        }
        if !transfer.has_replicas(&mut self.clients) {
            if matches!(transfer.source, Source::Pipe(_)) {
                info!("Diskless rdb transfer, last replica dropped, killing fork child.");
                self.end_transfer(false);
            } else if transfer.child_ok.is_none() && self.state.config.save.is_empty() {
                // Nobody waits for the file being written and no save
                // point wants it: the child goes, so the next sync or
                // BGSAVE can start at once (Redis's freeClient check).
                self.end_transfer(false);
            } else {
                // A snapshot to disk with save points set is a BGSAVE
                // like any: it finishes.
                self.repl.transfer = None;
            }
            return;
        }
        match transfer.pump(&mut self.clients, &mut self.state.output_woken) {
            Pumped::Busy => self.repl.busy = true,
            Pumped::Idle => {}
            Pumped::Finished => {
                let piped = matches!(transfer.source, Source::Pipe(_));
                if piped && transfer.child_ok.is_none() {
                    info!(
                        "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                        transfer.replicas_up(&mut self.clients)
                    );
                    // The child closed its end: it is exiting.
                    if let Some(outcome) = persist::wait_child(&mut self.state.persist) {
                        persist::bgsave_done(&mut self.state.persist, &outcome);
                        transfer.child_ok = Some(outcome.ok);
                    }
                }
                if let Some(ok) = transfer.child_ok {
                    self.end_transfer(ok);
                }
            }
        }
    }

    /// The snapshot child was reaped by the cron.
    pub(super) fn transfer_child_done(&mut self, pid: libc::pid_t, ok: bool) {
        let Some(transfer) = self.repl.transfer.as_mut() else {
            return;
        };
        if transfer.child_pid != pid {
            return;
        }
        transfer.child_ok = Some(ok);
        match (&transfer.source, ok) {
            (Source::DiskChild, true) => {
                let path = persist::rdb_path(&self.state.config);
                let opened = std::fs::File::open(&path).and_then(|file| {
                    transfer.file_ready(file, &mut self.clients, &mut self.state.output_woken)
                });
                if let Err(e) = opened {
                    warn!("SYNC failed. Can't open/stat DB after BGSAVE: {e}");
                    self.end_transfer(false);
                }
            }
            (_, false) => self.end_transfer(false),
            _ => {}
        }
    }

    /// The transfer is over: its replicas go online, or are closed.
    fn end_transfer(&mut self, ok: bool) {
        let Some(mut transfer) = self.repl.transfer.take() else {
            return;
        };
        if let Source::Pipe(pipe) = &transfer.source {
            let fd = pipe.as_raw_fd();
            let _ = self
                .poll
                .registry()
                .deregister(&mut mio::unix::SourceFd(&fd));
        }
        if !ok {
            if self.state.persist.child.as_ref().map(|c| c.pid) == Some(transfer.child_pid) {
                persist::kill_snapshot_child(&mut self.state.persist);
            }
            let keys: Vec<usize> = transfer.replicas.iter().map(|&(k, _)| k).collect();
            for key in keys {
                if self.clients.get(key).is_some_and(|c| c.replica.is_some()) {
                    warn!("SYNC failed. BGSAVE child returned an error");
                    self.close(key, Closing::Now);
                }
            }
            return;
        }
        let online = transfer.finish(&mut self.clients, &mut self.state.output_woken);
        for &(key, _) in &transfer.replicas {
            if let Some(client) = self.clients.get(key) {
                info!(
                    "Synchronization with replica {} succeeded",
                    crate::cmd::replica_address(client)
                );
            }
        }
        debug!("{online} replicas online after the transfer");
        transfer.replicas.clear();
    }

    /// A replica client is freed: it leaves the lists.
    pub(super) fn replica_freed(&mut self, key: usize, client: &Client) {
        if client.replica.is_none() {
            return;
        }
        if client.is_replica() {
            info!(
                "Connection with replica {} lost.",
                crate::cmd::replica_address(client)
            );
        }
        self.state.repl.detach(key);
    }

    /// Once a second (Redis's `replicationCron`).
    pub(super) fn replication_cron(&mut self) {
        if self.repl.last_cron.elapsed() < CRON_PERIOD {
            return;
        }
        self.repl.last_cron = Instant::now();
        let config = &self.state.config;
        let timeout = Duration::from_secs(crate::config::pending_u64(config, "repl-timeout"));
        let ping_period = Duration::from_secs(crate::config::pending_u64(
            config,
            "repl-ping-replica-period",
        ));
        // The master side.
        if !self.state.repl.replicas.is_empty()
            && !self.state.repl.is_replica()
            && self.repl.last_ping.elapsed() >= ping_period
        {
            self.repl.last_ping = Instant::now();
            let mut ping = Vec::new();
            crate::propagate::encode_command(&mut ping, &[&b"PING"[..]]);
            self.state.repl.feed(&ping);
        }
        let mut timed_out = Vec::new();
        let piped = matches!(
            self.repl.transfer.as_ref().map(|t| &t.source),
            Some(Source::Pipe(_))
        );
        for &key in &self.state.repl.replicas {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            // A replica that stopped reading a diskless snapshot holds up
            // the child that writes it for every replica: it goes after
            // `repl-timeout` (Redis's `repl_last_partial_write` check).
            let stalled = client.wants_writable;
            if let Some(info) = client.replica.as_deref_mut() {
                if info.phase == Phase::Transfer && piped && stalled {
                    let since = *info.stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > timeout {
                        warn!(
                            "Disconnecting timedout replica (full sync): {}",
                            crate::cmd::replica_address(client)
                        );
                        timed_out.push(key);
                        continue;
                    }
                } else {
                    info.stalled_since = None;
                }
            }
            let Some(info) = client.replica.as_deref() else {
                continue;
            };
            let presync = match info.phase {
                Phase::WaitBgsave => true,
                Phase::Transfer => matches!(
                    self.repl.transfer.as_ref().map(|t| &t.source),
                    Some(Source::DiskChild)
                ),
                _ => false,
            };
            if presync {
                // A newline keeps the replica from timing out while it waits.
                client.reply.raw(b"\n");
                self.state.output_woken.push(key);
            } else if info.phase == Phase::Online
                && info.ack_time.elapsed() > timeout
                && !info.old_sync
            {
                warn!(
                    "Disconnecting timedout replica (streaming sync): {}",
                    crate::cmd::replica_address(client)
                );
                timed_out.push(key);
            }
        }
        for key in timed_out {
            self.close(key, Closing::Now);
        }
        // A master without replicas frees its backlog after the ttl.
        let ttl = crate::config::pending_u64(&self.state.config, "repl-backlog-ttl");
        let repl = &mut self.state.repl;
        if ttl > 0
            && !repl.is_replica()
            && repl.backlog.is_some()
            && repl
                .no_replicas_since
                .is_some_and(|t| t.elapsed().as_secs() >= ttl)
        {
            repl.backlog = None;
            repl.shift_replid();
            repl.clear_replid2();
            repl.publish_position();
            info!("Replication backlog freed after {ttl} seconds without connected replicas.");
            self.state.refresh_expired_logs();
        }
        // The replica side.
        if self.state.repl.is_replica() {
            self.replica_cron(timeout);
        }
    }

    fn replica_cron(&mut self, timeout: Duration) {
        match self.state.repl.link {
            LinkState::Connect => self.connect_to_master(),
            LinkState::Connecting | LinkState::Handshake | LinkState::Transfer => {
                let stalled = self
                    .repl
                    .link
                    .as_ref()
                    .is_none_or(|l| l.last_io.elapsed() > timeout);
                if stalled {
                    let what = match self.state.repl.link {
                        LinkState::Transfer => "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.",
                        LinkState::Connecting => "Timeout connecting to the MASTER...",
                        _ => "Timeout connecting to the MASTER...",
                    };
                    self.link_failed(what);
                }
            }
            LinkState::Connected => {
                let Some(key) = self.state.repl.master_key else {
                    return;
                };
                let silent = self
                    .clients
                    .get(key)
                    .is_none_or(|c| c.last_interaction.elapsed() > timeout);
                if silent {
                    warn!("MASTER timeout: no data nor PING received...");
                    self.close(key, Closing::Now);
                    return;
                }
                self.send_ack(key);
            }
        }
    }

    /// `REPLCONF ACK <offset>` to the master.
    fn send_ack(&mut self, key: usize) {
        let offset = self.state.repl.offset.to_string();
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let mut ack = Vec::new();
        crate::propagate::encode_command(&mut ack, &[&b"REPLCONF"[..], b"ACK", offset.as_bytes()]);
        client.reply.raw(&ack);
        self.flag_pending_write(key);
    }

    /// REPLICAOF changed the master (or made this server one): the old
    /// link goes, and the replicas of this server resync with it.
    fn relink(&mut self) {
        if let Some(mut link) = self.repl.link.take() {
            let _ = self.poll.registry().deregister(&mut link.socket);
            let _ = std::fs::remove_file(&link.temp_path);
        }
        if let Some(key) = self.state.repl.master_key.take() {
            if let Some(client) = self.clients.get_mut(key) {
                client.is_master = false;
            }
            self.close(key, Closing::Now);
        }
        // (REPLICAOF NO ONE closed the replicas; a new master leaves them
        // until its stream replaces this server's.)
        crate::logging::set_replica_role(self.state.repl.is_replica());
        self.state.refresh_expiry_mode();
        if self.state.repl.is_replica() {
            self.state.repl.link = LinkState::Connect;
            // The backlog lets this server's own replicas continue later.
            let size = crate::config::pending_u64(&self.state.config, "repl-backlog-size");
            self.state.repl.ensure_backlog(size);
            self.state.refresh_expired_logs();
            self.connect_to_master();
        }
    }

    /// Closes every replica (`disconnectSlaves`): they reconnect and learn
    /// the new replication id.
    fn disconnect_replicas(&mut self) {
        for key in self.state.repl.replicas.clone() {
            self.close(key, Closing::Now);
        }
        if self.repl.transfer.is_some() {
            self.end_transfer(false);
        }
    }

    pub(super) fn connect_to_master(&mut self) {
        let Some(master) = self.state.repl.master.clone() else {
            return;
        };
        info!("Connecting to MASTER {}:{}", master.host, master.port);
        let temp = std::path::PathBuf::from(format!(
            "temp-{}.{}.rdb",
            crate::state::unix_millis() / 1000,
            std::process::id()
        ));
        let source = crate::config::pending_text(&self.state.config, "bind-source-addr");
        match Handshake::connect(&master.host, master.port, source, temp) {
            Ok(mut link) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) =
                    self.poll
                        .registry()
                        .register(&mut link.socket, MASTER_LINK, interest)
                {
                    warn!("Unable to connect to MASTER: {e}");
                    return;
                }
                info!("MASTER <-> REPLICA sync started");
                self.repl.link = Some(link);
                self.state.repl.link = LinkState::Connecting;
            }
            Err(e) => {
                warn!("Unable to connect to MASTER: {e}");
                self.state.repl.link = LinkState::Connect;
            }
        }
    }

    /// The link to the master is ready.
    pub(super) fn master_link_event(&mut self) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        if !link.connected {
            match link.socket.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    self.link_failed(&format!("Error condition on socket for SYNC: {e}"));
                    return;
                }
            }
            if link.socket.peer_addr().is_err() {
                // Not connected yet; the next event says.
                return;
            }
            info!("Non blocking connect for SYNC fired the event.");
            let config = &self.state.config;
            let repl = &self.state.repl;
            let port = match crate::config::pending_u64(config, "replica-announce-port") {
                0 => self.state.tcp_port,
                port => port as u16,
            };
            let fresh = !repl.resumable;
            let replid = if fresh {
                "?".to_string()
            } else {
                repl.replid.clone()
            };
            let offset = if fresh {
                "-1".to_string()
            } else {
                (repl.offset + 1).to_string()
            };
            link.start(&Hello {
                user: crate::config::pending_text(config, "masteruser"),
                password: crate::config::pending_text(config, "masterauth"),
                listening_port: port,
                announce_ip: crate::config::pending_text(config, "replica-announce-ip"),
                replid: &replid,
                offset: &offset,
                failover: self.state.repl.handing_over(),
            });
            self.state.repl.link = LinkState::Handshake;
        }
        loop {
            let Some(link) = self.repl.link.as_mut() else {
                return;
            };
            let step = link.advance();
            self.state.repl.sync_progress =
                link.in_transfer()
                    .then_some((link.read, link.size, link.last_io));
            match step {
                Step::Wait => return,
                Step::Failed(why) => {
                    self.link_failed(&why);
                    return;
                }
                Step::FullSync { replid, offset } => {
                    info!("Full resync from master: {replid}:{offset}");
                    self.state.repl.link = LinkState::Transfer;
                    self.state.repl.transfer_master = Some((replid, offset));
                    let to_parser = self.use_diskless_load();
                    if let Some(link) = self.repl.link.as_mut() {
                        link.to_parser = to_parser;
                    }
                }
                Step::Loaded { leftover } => {
                    self.load_from_master(leftover);
                    return;
                }
                Step::ToParser { size, mark, input } => {
                    self.load_from_master_socket(size, mark, input);
                    return;
                }
                Step::Continue { replid, leftover } => {
                    info!("Successful partial resynchronization with master.");
                    let repl = &mut self.state.repl;
                    if let Some(new_id) = replid.filter(|id| *id != repl.replid) {
                        warn!("Master replication ID changed to {new_id}");
                        repl.replid2 = std::mem::replace(&mut repl.replid, new_id);
                        repl.second_offset = repl.offset as i64 + 1;
                        repl.publish_position();
                        self.disconnect_replicas();
                    }
                    info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
                    self.attach_master(leftover);
                    return;
                }
            }
        }
    }

    /// The link broke before carrying the stream: drop it, retry later.
    fn link_failed(&mut self, why: &str) {
        warn!("{why}");
        if self.state.repl.handing_over() {
            self.state.repl.failover_abort = Some("Failover target rejected psync request".into());
        }
        if let Some(mut link) = self.repl.link.take() {
            let _ = self.poll.registry().deregister(&mut link.socket);
            let _ = std::fs::remove_file(&link.temp_path);
        }
        if self.state.repl.is_replica() {
            self.state.repl.link = LinkState::Connect;
        }
    }

    /// The master's snapshot is on disk: it replaces the dataset
    /// (Redis's disk-load path of `readSyncBulkPayload`).
    fn load_from_master(&mut self, leftover: Vec<u8>) {
        let Some(mut link) = self.repl.link.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut link.socket);
        let (replid, offset) = self.state.repl.transfer_master.take().unwrap_or_default();
        let path = persist::rdb_path(&self.state.config);
        if let Err(e) = std::fs::rename(&link.temp_path, &path) {
            warn!("Failed trying to rename the temp DB into dump.rdb in MASTER <-> REPLICA synchronization: {e}");
            let _ = std::fs::remove_file(&link.temp_path);
            self.state.repl.link = LinkState::Connect;
            return;
        }
        self.attach_to_new_master();
        info!("MASTER <-> REPLICA sync: Flushing old data");
        for db in &mut self.state.dbs {
            db.clear();
        }
        info!("MASTER <-> REPLICA sync: Loading DB in memory");
        // Clients are answered -LOADING meanwhile, as at start.
        let config = self.state.config.clone();
        let mut events = Events::with_capacity(256);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.state.persist.start_loading(size);
        let loaded = persist::load_snapshot_keeping_expired(
            &path,
            &config,
            crate::state::unix_millis(),
            &mut |read| {
                self.state.persist.load_progress.loaded_bytes = read;
                self.process_events_while_loading(&mut events)
            },
        );
        self.state.persist.stop_loading();
        match loaded.map_err(|e| e.to_string()).and_then(|l| {
            let l = l.ok_or_else(|| "no file".to_string())?;
            self.install_snapshot(l)
        }) {
            Ok(()) => {}
            Err(e) => {
                warn!("Failed trying to load the MASTER synchronization DB from disk, check server logs. {e}");
                self.state.repl.link = LinkState::Connect;
                return;
            }
        }
        self.synced_with_master(replid, offset);
        self.attach_master_socket(link.socket, leftover);
    }

    /// A full sync's data is about to replace this server's (Redis's
    /// `replicationAttachToNewMaster`): its own history ends, so its
    /// replicas must sync again and no PSYNC can continue it.
    pub(super) fn attach_to_new_master(&mut self) {
        self.state.repl.resumable = false;
        self.disconnect_replicas();
        self.state.repl.backlog = None;
    }

    /// The master's snapshot is in service: this server takes up the
    /// master's id and offset, and its AOF starts a new base.
    pub(super) fn synced_with_master(&mut self, replid: String, offset: u64) {
        let repl = &mut self.state.repl;
        repl.replid = replid;
        repl.offset = offset;
        repl.resumable = true;
        repl.master_stream_db = 0;
        repl.clear_replid2();
        repl.backlog = None;
        let size = crate::config::pending_u64(&self.state.config, "repl-backlog-size");
        self.state.repl.ensure_backlog(size);
        self.state.repl.publish_position();
        self.state.refresh_expired_logs();
        if self.state.aof.logging() {
            // The AOF must describe the new dataset: a new base.
            info!("Background append only file rewriting started");
            let _ = crate::aof::start_rewrite(&mut self.state);
        }
        info!("MASTER <-> REPLICA sync: Finished with success");
    }

    /// PSYNC continued: the link carries the stream from here.
    fn attach_master(&mut self, leftover: Vec<u8>) {
        let Some(mut link) = self.repl.link.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut link.socket);
        let size = crate::config::pending_u64(&self.state.config, "repl-backlog-size");
        self.state.repl.ensure_backlog(size);
        self.state.refresh_expired_logs();
        self.attach_master_socket(link.socket, leftover);
    }

    /// Makes the master's connection a client whose commands are applied.
    pub(super) fn attach_master_socket(&mut self, mut socket: TcpStream, leftover: Vec<u8>) {
        let addr = socket
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut socket, Token(key), Interest::READABLE)
        {
            warn!("Registering the master link: {e}");
            self.state.repl.link = LinkState::Connect;
            return;
        }
        let id = self.state.allocate_client_id();
        let socket = crate::stream::Stream::Tcp(socket);
        let addr = crate::stream::Peer::Tcp(addr);
        let mut client = Client::new(id, socket, addr, Instant::now());
        client.is_master = true;
        client.db = self.state.repl.master_stream_db;
        client.protocol_known = true;
        client.user = crate::acl::Users::DEFAULT;
        client.authenticated = true;
        client.parser.buffer_mut().extend_from_slice(&leftover);
        entry.insert(client);
        self.state.client_slots_free = free_client_slots(&self.clients);
        if self.state.repl.handing_over() {
            info!("Failover target accepted the PSYNC: failover complete.");
            self.end_failover();
        }
        let repl = &mut self.state.repl;
        repl.master_key = Some(key);
        repl.link = LinkState::Connected;
        self.send_ack(key);
        // Stream bytes that came with the reply, and any that arrived
        // since (their readiness event went to the old token).
        if !leftover.is_empty() {
            self.process_input(key);
        }
        self.handle_readable(key, false);
    }

    /// The master's client is freed: the link is down; the cron reconnects
    /// and asks to continue from this server's offset.
    pub(super) fn master_freed(&mut self, key: usize) {
        if self.state.repl.master_key != Some(key) {
            return;
        }
        self.state.repl.master_key = None;
        if self.state.repl.is_replica() {
            warn!("Connection with master lost.");
            info!("* Caching the disconnected master state.");
            self.state.repl.link = LinkState::Connect;
            self.state.repl.link_down_since = Some(Instant::now());
        }
    }

    /// After one of the master's commands was applied: the reply is
    /// dropped (but an ACK it asked for is sent), and its bytes pass on
    /// to this server's backlog and replicas.
    pub(super) fn master_command_applied(
        &mut self,
        reply: &mut crate::protocol::Reply,
        start: usize,
        bytes: &[u8],
        db: usize,
    ) {
        reply.truncate(start);
        if std::mem::take(&mut self.state.repl.ack_requested) {
            let offset = self.state.repl.offset.to_string();
            let mut ack = Vec::new();
            crate::propagate::encode_command(
                &mut ack,
                &[&b"REPLCONF"[..], b"ACK", offset.as_bytes()],
            );
            reply.raw(&ack);
        }
        self.state.repl.feed(bytes);
        self.state.repl.master_stream_db = db;
        crate::persist::set_repl_offset(self.state.repl.offset, Some(db));
    }
}
