//! When to let pipelined batches pile up before polling.
//!
//! A loop that polls as soon as its round is done catches the next
//! pipelined batch alone whenever it is quicker than its clients, then
//! blocks; the batch after that has to wake it. On Linux that wake-up is a
//! cross-CPU interrupt paid by the sending client, several microseconds in
//! a virtual machine, for every batch. With many clients pipelining, their
//! senders always have other connections to work on, so the loop can sleep
//! a few microseconds on a timer instead: the next batches land in its
//! sockets without anyone waking it, and one round reads them all.
//!
//! With few clients the same sleep would leave the senders idle waiting
//! for replies, and a client sending one command per round trip would only
//! see its latency grow; so the loop naps only when the round it just
//! finished read pipelined batches (several commands per read) from a small
//! share of the clients that pipelined recently.

use std::time::Duration;

/// Average commands per read from which a read counts as pipelined.
const PIPELINED_COMMANDS_PER_READ: u64 = 4;
/// Fewer clients than this pipelining: never nap.
const MIN_PIPELINING_CLIENTS: usize = 16;
/// Nap only after rounds that read at most this share (1/N) of the clients
/// that pipelined recently: the others are busy with the senders.
const ROUND_SHARE: usize = 4;

/// Counts pipelining clients per epoch (a cron tick) and what each loop
/// round read.
#[derive(Debug)]
pub struct Coalescer {
    epoch: u64,
    seen_this_epoch: usize,
    /// Distinct clients that sent pipelined batches in the last whole epoch.
    pipelining_clients: usize,
    round_reads: u64,
    round_commands: u64,
    round_clients: usize,
}

impl Default for Coalescer {
    fn default() -> Self {
        // Epoch 0 is what new clients carry: "not seen yet".
        Coalescer {
            epoch: 1,
            seen_this_epoch: 0,
            pipelining_clients: 0,
            round_reads: 0,
            round_commands: 0,
            round_clients: 0,
        }
    }
}

impl Coalescer {
    pub fn start_round(&mut self) {
        self.round_reads = 0;
        self.round_commands = 0;
        self.round_clients = 0;
    }

    /// Records one client's input of this round: `reads` socket reads that
    /// carried `commands` commands. `client_epoch` is the client's own mark
    /// of the last epoch it was counted in.
    pub fn client_read(&mut self, client_epoch: &mut u64, reads: u64, commands: u64) {
        self.round_reads += reads;
        self.round_commands += commands;
        self.round_clients += 1;
        if is_pipelined(reads, commands) && *client_epoch != self.epoch {
            *client_epoch = self.epoch;
            self.seen_this_epoch += 1;
        }
    }

    /// Closes the epoch: its count becomes the one naps are judged by.
    pub fn end_epoch(&mut self) {
        self.pipelining_clients = self.seen_this_epoch;
        self.seen_this_epoch = 0;
        self.epoch += 1;
    }

    /// How long to sleep before the next poll, given the configured nap and
    /// the poll's own timeout (a nap never outlasts a timer).
    pub fn nap(&self, configured: Duration, timeout: Duration) -> Option<Duration> {
        let wanted = !configured.is_zero()
            && !timeout.is_zero()
            && is_pipelined(self.round_reads, self.round_commands)
            && self.pipelining_clients >= MIN_PIPELINING_CLIENTS
            && self.round_clients * ROUND_SHARE <= self.pipelining_clients;
        wanted.then(|| configured.min(timeout))
    }
}

/// Sleeps `nap` with a 1 us timer slack instead of the kernel's default
/// 50 us, which would stretch a 20 us nap to 70. The slack goes back to the
/// default afterwards: precise timers cost more to arm, and the poll's own
/// timeout (the next cron tick) does not need one.
pub fn sleep_precisely(nap: Duration) {
    set_timer_slack_ns(1000);
    std::thread::sleep(nap);
    set_timer_slack_ns(0);
}

/// This thread's timer slack; 0 restores the default.
fn set_timer_slack_ns(slack: u64) {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes the calling thread's timer
    // slack and reads no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, slack as libc::c_ulong);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = slack;
}

fn is_pipelined(reads: u64, commands: u64) -> bool {
    reads > 0 && commands >= reads * PIPELINED_COMMANDS_PER_READ
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAP: Duration = Duration::from_micros(20);
    const LONG: Duration = Duration::from_millis(100);

    /// An epoch in which `clients` distinct clients each sent one batch of
    /// `per_read` commands in one read.
    fn epoch_of(c: &mut Coalescer, clients: usize, per_read: u64) -> Vec<u64> {
        let mut marks = vec![0; clients];
        c.start_round();
        for mark in &mut marks {
            c.client_read(mark, 1, per_read);
        }
        c.end_epoch();
        marks
    }

    fn round(c: &mut Coalescer, marks: &mut [u64], per_read: u64) {
        c.start_round();
        for mark in marks {
            c.client_read(mark, 1, per_read);
        }
    }

    #[test]
    fn many_pipelining_clients_and_a_small_round_nap() {
        let mut c = Coalescer::default();
        let mut marks = epoch_of(&mut c, 50, 16);
        round(&mut c, &mut marks[..5], 16);
        assert_eq!(c.nap(NAP, LONG), Some(NAP));
        // Never past the next timer.
        assert_eq!(
            c.nap(NAP, Duration::from_micros(3)),
            Some(Duration::from_micros(3))
        );
        assert_eq!(c.nap(NAP, Duration::ZERO), None);
        assert_eq!(c.nap(Duration::ZERO, LONG), None, "pipeline-coalesce-us 0");
    }

    #[test]
    fn a_round_that_read_many_of_them_does_not_nap() {
        let mut c = Coalescer::default();
        let mut marks = epoch_of(&mut c, 50, 16);
        round(&mut c, &mut marks[..20], 16);
        assert_eq!(c.nap(NAP, LONG), None);
    }

    #[test]
    fn few_pipelining_clients_do_not_nap() {
        let mut c = Coalescer::default();
        let mut marks = epoch_of(&mut c, 10, 16);
        round(&mut c, &mut marks[..1], 16);
        assert_eq!(c.nap(NAP, LONG), None);
    }

    #[test]
    fn one_command_per_read_does_not_nap() {
        let mut c = Coalescer::default();
        let mut marks = epoch_of(&mut c, 50, 1);
        round(&mut c, &mut marks[..5], 1);
        assert_eq!(c.nap(NAP, LONG), None);
        // Even when other clients pipeline: this round's were not.
        let mut c = Coalescer::default();
        let mut marks = epoch_of(&mut c, 50, 16);
        round(&mut c, &mut marks[..5], 1);
        assert_eq!(c.nap(NAP, LONG), None);
    }

    #[test]
    fn a_client_counts_once_per_epoch_and_counts_expire() {
        let mut c = Coalescer::default();
        let mut mark = 0;
        c.start_round();
        for _ in 0..100 {
            c.client_read(&mut mark, 1, 16);
        }
        c.end_epoch();
        assert_eq!(c.pipelining_clients, 1);
        c.end_epoch();
        assert_eq!(c.pipelining_clients, 0);
    }
}
