//! A replica loading its master's snapshot straight from the socket
//! (`repl-diskless-load on-empty-db|swapdb`, Redis's diskless branch of
//! `readSyncBulkPayload`). As Redis does, the socket is made blocking
//! (with `repl-timeout` as its read timeout) and the loader reads it as
//! it reads a file, turning the loop every
//! `loading-process-events-interval-bytes` to answer clients.
//!
//! With `swapdb` the dataset stays in service until the new one is whole:
//! a failed load leaves it as it was. When the master's id is this
//! replica's own (a resync of the same history), clients keep being
//! served from it meanwhile (async loading); otherwise they get -LOADING.

use super::*;
use crate::repl::LinkState;
use std::io::{BufReader, Read};
use std::os::fd::{FromRawFd, IntoRawFd};

/// The snapshot's bytes as they come: what arrived with the header,
/// then the socket, up to the announced length when there is one.
struct Payload {
    arrived: io::Cursor<Vec<u8>>,
    socket: std::net::TcpStream,
    /// Bytes still to come of a snapshot of known length.
    left: Option<u64>,
}

impl Read for Payload {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.left {
            Some(0) => return Ok(0),
            Some(left) => buf.len().min(left as usize),
            None => buf.len(),
        };
        let mut n = self.arrived.read(&mut buf[..want])?;
        if n == 0 {
            n = self.socket.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the master closed the connection",
                ));
            }
        }
        if let Some(left) = &mut self.left {
            *left -= n as u64;
        }
        Ok(n)
    }
}

impl Server {
    /// A sync that broke midway is tried again at once, not at the next
    /// cron (Redis's `cancelReplicationHandshake(1)`).
    fn reconnect_after_failure(&mut self) {
        self.state.repl.link = LinkState::Connect;
        if let Some(master) = &self.state.repl.master {
            info!(
                "Reconnecting to MASTER {}:{} after failure",
                master.host, master.port
            );
            self.connect_to_master();
        }
    }

    /// Whether the snapshot `+FULLRESYNC` announced goes to the loader
    /// (Redis's `useDisklessLoad`).
    pub(super) fn use_diskless_load(&self) -> bool {
        match crate::config::pending_text(&self.state.config, "repl-diskless-load") {
            "swapdb" => true,
            "on-empty-db" => self.state.dbs.iter().all(|db| db.is_empty()),
            _ => false,
        }
    }

    /// Loads the snapshot from the master's socket, then makes the socket
    /// the master's client. `size` or `mark` say where it ends; `input`
    /// came with its header.
    pub(super) fn load_from_master_socket(
        &mut self,
        size: Option<u64>,
        mark: Option<Vec<u8>>,
        input: Vec<u8>,
    ) {
        let Some(mut link) = self.repl.link.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut link.socket);
        let (replid, offset) = self.state.repl.transfer_master.take().unwrap_or_default();
        let swapdb =
            crate::config::pending_text(&self.state.config, "repl-diskless-load") == "swapdb";
        // SAFETY: the descriptor comes out of the link's socket, which
        // gives it up; the std stream is its only owner from here.
        let socket = unsafe { std::net::TcpStream::from_raw_fd(link.socket.into_raw_fd()) };
        let timeout = Duration::from_secs(
            crate::config::pending_u64(&self.state.config, "repl-timeout").max(1),
        );
        if let Err(e) = socket
            .set_nonblocking(false)
            .and_then(|()| socket.set_read_timeout(Some(timeout)))
        {
            warn!("Can't read the MASTER synchronization DB from socket: {e}");
            self.state.repl.link = LinkState::Connect;
            return;
        }
        if !swapdb {
            self.attach_to_new_master();
            info!("MASTER <-> REPLICA sync: Flushing old data");
            for db in &mut self.state.dbs {
                db.clear();
            }
        }
        info!("MASTER <-> REPLICA sync: Loading DB in memory");
        let async_loading = swapdb && self.state.repl.replid == replid;
        self.state.persist.start_loading(size.unwrap_or(0));
        self.state.persist.async_loading = async_loading;
        let mut reader = BufReader::with_capacity(
            64 * 1024,
            Payload {
                arrived: io::Cursor::new(input),
                socket,
                left: size,
            },
        );
        let config = self.state.config.clone();
        let mut loaded = persist::Loaded::empty(&config);
        let mut events = Events::with_capacity(256);
        let result = persist::read_into(
            crate::rdb::Decoder::new(&mut reader, crate::rdb::Limits::from(&config)),
            &mut loaded,
            crate::state::unix_millis(),
            false,
            &mut |read| {
                self.state.persist.load_progress.loaded_bytes = read;
                self.process_events_while_loading(&mut events)
            },
        );
        let ended_well = match (&result, &mark) {
            (Err(e), _) => {
                e.log_socket_failure();
                false
            }
            (Ok(()), Some(mark)) => {
                let mut end = vec![0u8; mark.len()];
                let marked = reader.read_exact(&mut end).is_ok() && end == *mark;
                if !marked {
                    warn!("Replication stream EOF marker is broken");
                }
                marked
            }
            (Ok(()), None) => true,
        };
        self.state.persist.stop_loading();
        self.state.persist.async_loading = false;
        if !ended_well {
            warn!("Failed trying to load the MASTER synchronization DB from socket, check server logs.");
            if swapdb {
                info!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
            }
            self.reconnect_after_failure();
            return;
        }
        // What followed the snapshot is the start of the stream: bytes the
        // reader took ahead, then any that came with the header and were
        // not the snapshot's, then the socket.
        let mut leftover = reader.buffer().to_vec();
        let payload = reader.into_inner();
        let at = (payload.arrived.position() as usize).min(payload.arrived.get_ref().len());
        leftover.extend_from_slice(&payload.arrived.get_ref()[at..]);
        let socket = payload.socket;
        // (The loader's own lines come first, as Redis logs them while
        // it reads; the swap itself is the last step of `install_snapshot`.)
        if let Err(e) = self.install_snapshot(loaded) {
            warn!("Failed trying to load the MASTER synchronization DB from socket, check server logs. {e}");
            self.state.repl.link = LinkState::Connect;
            return;
        }
        if swapdb {
            self.attach_to_new_master();
            info!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
            info!("MASTER <-> REPLICA sync: Discarding old DB in background");
        }
        if let Err(e) = socket
            .set_nonblocking(true)
            .and_then(|()| socket.set_read_timeout(None))
        {
            warn!("Can't read the MASTER synchronization DB from socket: {e}");
            self.state.repl.link = LinkState::Connect;
            return;
        }
        crate::db::add_dirty(1);
        self.synced_with_master(replid, offset);
        self.attach_master_socket(mio::net::TcpStream::from_std(socket), leftover);
    }
}
