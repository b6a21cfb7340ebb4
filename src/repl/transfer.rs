//! A snapshot on its way to replicas (the master side of a full sync).
//!
//! A forked child writes the snapshot, either to `dbfilename` (then the
//! loop sends `$<length>` and the file) or, without touching the disk
//! (`repl-diskless-sync`), into a pipe as `$EOF:<mark>`, the snapshot and
//! the mark. Either way the loop copies the bytes into the replicas'
//! reply buffers a chunk at a time, only while every replica of the
//! transfer has written what it was given: a slow replica slows the
//! transfer, it does not grow a buffer.

use crate::client::Client;
use crate::repl::Phase;
use slab::Slab;
use std::fs::File;
use std::io::{self, Read};

/// Bytes read from the source at a time, and the most a replica may
/// have unwritten before the next chunk.
const CHUNK: usize = 64 * 1024;

pub enum Source {
    /// The child writes `dbfilename`; nothing to send yet.
    DiskChild,
    File(File),
    Pipe(File),
}

pub struct Transfer {
    pub source: Source,
    pub child_pid: libc::pid_t,
    /// The replicas being sent this snapshot: (slab key, client id).
    pub replicas: Vec<(usize, u64)>,
    /// The source is exhausted.
    pub read_all: bool,
    /// Outcome of the child, once reaped.
    pub child_ok: Option<bool>,
    /// The `+FULLRESYNC` line its replicas were sent: the id and offset
    /// the snapshot stands at.
    pub resync_line: String,
}

/// What a pump round came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// More to send, and room to send it: go on without sleeping.
    Busy,
    /// Waiting for the child, the pipe or the replicas' sockets.
    Idle,
    /// Everything was read; the child may still have to be reaped.
    Finished,
}

impl Transfer {
    /// The replicas of this transfer still connected.
    fn live(&self, clients: &mut Slab<Client>) -> Vec<usize> {
        self.replicas
            .iter()
            .filter(|&&(key, id)| {
                clients
                    .get(key)
                    .is_some_and(|c| c.id == id && c.replica.is_some())
            })
            .map(|&(key, _)| key)
            .collect()
    }

    pub fn has_replicas(&self, clients: &mut Slab<Client>) -> bool {
        !self.live(clients).is_empty()
    }

    /// How many of its replicas are still connected.
    pub fn replicas_up(&self, clients: &mut Slab<Client>) -> usize {
        self.live(clients).len()
    }

    /// A replica that asked for a full sync while the child writes the
    /// file joins this snapshot, as Redis attaches it to a BGSAVE in
    /// progress: it gets the stream held for a replica already waiting,
    /// so that it continues from the same offset. False when the snapshot
    /// cannot serve it: it goes to a socket, or is written already, or is
    /// not a replica's (BGSAVE), or asked for other parts.
    pub fn attach_late(&mut self, key: usize, clients: &mut Slab<Client>) -> bool {
        if !matches!(self.source, Source::DiskChild) || self.child_ok.is_some() {
            return false;
        }
        let Some(filter) = clients
            .get(key)
            .and_then(|c| c.replica.as_deref())
            .map(|r| r.filter)
        else {
            return false;
        };
        let Some(held) = self.live(clients).into_iter().find_map(|k| {
            let info = clients[k].replica.as_deref()?;
            (info.phase == Phase::Transfer && info.filter == filter).then(|| info.held.clone())
        }) else {
            return false;
        };
        let client = &mut clients[key];
        let Some(info) = client.replica.as_deref_mut() else {
            return false;
        };
        info.phase = Phase::Transfer;
        info.held = held;
        if !info.old_sync {
            client.reply.raw(self.resync_line.as_bytes());
        }
        self.replicas.push((key, client.id));
        true
    }

    /// The disk child finished: send the file's length, then the file.
    pub fn file_ready(
        &mut self,
        file: File,
        clients: &mut Slab<Client>,
        woken: &mut Vec<usize>,
    ) -> io::Result<()> {
        let len = file.metadata()?.len();
        let header = format!("${len}\r\n");
        for key in self.live(clients) {
            let client = &mut clients[key];
            client.reply.raw(header.as_bytes());
            if let Some(info) = client.replica.as_deref_mut() {
                info.sending_file = true;
            }
            woken.push(key);
        }
        self.source = Source::File(file);
        Ok(())
    }

    /// Copies source bytes to the replicas while each has room.
    pub fn pump(&mut self, clients: &mut Slab<Client>, woken: &mut Vec<usize>) -> Pumped {
        if self.read_all {
            return Pumped::Finished;
        }
        let keys = self.live(clients);
        let source = match &mut self.source {
            Source::DiskChild => return Pumped::Idle,
            Source::File(file) | Source::Pipe(file) => file,
        };
        let mut buf = vec![0u8; CHUNK];
        let mut rounds = 0;
        while rounds < 16 {
            if keys.iter().any(|&k| clients[k].pending_output() >= CHUNK) {
                // What is pending is written before the loop sleeps; only
                // a full socket makes it wait (for its WRITABLE event).
                let socket_full = keys.iter().any(|&k| clients[k].wants_writable);
                return if socket_full {
                    Pumped::Idle
                } else {
                    Pumped::Busy
                };
            }
            let n = match source.read(&mut buf) {
                Ok(0) => {
                    self.read_all = true;
                    return Pumped::Finished;
                }
                Ok(n) => n,
                // The pipe's readiness event brings the loop back.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Pumped::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("Diskless rdb transfer, read error: {e}");
                    self.read_all = true;
                    self.child_ok = Some(false);
                    return Pumped::Finished;
                }
            };
            for &key in &keys {
                clients[key].reply.raw(&buf[..n]);
                woken.push(key);
            }
            rounds += 1;
        }
        Pumped::Busy
    }

    /// The snapshot is all in the replicas' buffers: the stream held for
    /// them follows (after their first ACK for a snapshot of unknown
    /// length). Returns how many were put online.
    pub fn finish(&self, clients: &mut Slab<Client>, woken: &mut Vec<usize>) -> usize {
        let diskless = matches!(self.source, Source::Pipe(_));
        let keys = self.live(clients);
        for &key in &keys {
            let client = &mut clients[key];
            let Some(info) = client.replica.as_deref_mut() else {
                continue;
            };
            info.phase = Phase::Online;
            info.ack_time = std::time::Instant::now();
            if diskless {
                info.hold_until_ack = true;
            } else {
                let held = std::mem::take(&mut info.held);
                client.reply.raw(&held);
            }
            woken.push(key);
        }
        keys.len()
    }
}
