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
//!
//! Even then a client that sends one command per round trip (a health
//! check, a user at a prompt) may be among them, and a nap would add to
//! each of its round trips for the crowd's sake. So the nap is not a blind
//! sleep: it waits on a second, small epoll set holding a timer and the
//! sockets of such clients (`Napper`), and ends the moment one of them has
//! a command to send.

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
    /// of the last epoch it was counted in. Returns the pace of these reads.
    pub fn client_read(&mut self, client_epoch: &mut u64, reads: u64, commands: u64) -> Pace {
        self.round_reads += reads;
        self.round_commands += commands;
        self.round_clients += 1;
        let pace = pace(reads, commands);
        if pace == Pace::Pipelined && *client_epoch != self.epoch {
            *client_epoch = self.epoch;
            self.seen_this_epoch += 1;
        }
        pace
    }

    /// Closes the epoch: its count becomes the one naps are judged by.
    pub fn end_epoch(&mut self) {
        self.pipelining_clients = self.seen_this_epoch;
        self.seen_this_epoch = 0;
        self.epoch += 1;
    }

    /// Whether enough clients pipelined in the last epoch for naps.
    pub fn crowd(&self) -> bool {
        self.pipelining_clients >= MIN_PIPELINING_CLIENTS
    }

    /// How long to sleep before the next poll, given the configured nap and
    /// the poll's own timeout (a nap never outlasts a timer).
    pub fn nap(&self, configured: Duration, timeout: Duration) -> Option<Duration> {
        let wanted = !configured.is_zero()
            && !timeout.is_zero()
            && is_pipelined(self.round_reads, self.round_commands)
            && self.crowd()
            && self.round_clients * ROUND_SHARE <= self.pipelining_clients;
        wanted.then(|| configured.min(timeout))
    }
}

/// How a client's reads of one round looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// One command per read at most: it waits for each reply.
    OnePerTrip,
    Pipelined,
    /// Neither (a few commands per read, or none yet).
    Unclear,
}

/// Classifies `reads` socket reads that carried `commands` commands.
fn pace(reads: u64, commands: u64) -> Pace {
    if is_pipelined(reads, commands) {
        Pace::Pipelined
    } else if reads > 0 && commands > 0 && commands <= reads {
        Pace::OnePerTrip
    } else {
        Pace::Unclear
    }
}

/// The nap: a timer and the one-command-per-trip clients' sockets in an
/// epoll set of their own, so the nap ends at its time or as soon as one
/// of those clients has sent something, whichever comes first.
pub struct Napper {
    /// Sockets in the set.
    watched: usize,
    #[cfg(target_os = "linux")]
    epoll: std::os::fd::OwnedFd,
    #[cfg(target_os = "linux")]
    timer: std::os::fd::OwnedFd,
}

/// The timer's key in the nap's epoll set; clients' sockets use their
/// slab key.
#[cfg(target_os = "linux")]
const TIMER_KEY: u64 = u64::MAX;

impl Napper {
    /// The epoll set and timer, or None where there are none (then naps
    /// are plain sleeps).
    #[cfg(target_os = "linux")]
    pub fn new() -> Option<Napper> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: plain system calls; each fd is owned right after it is
        // checked, so it is closed on every path.
        unsafe {
            let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if epoll < 0 {
                return None;
            }
            let epoll = OwnedFd::from_raw_fd(epoll);
            let timer = libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            );
            if timer < 0 {
                return None;
            }
            let timer = OwnedFd::from_raw_fd(timer);
            let napper = Napper {
                watched: 0,
                epoll,
                timer,
            };
            napper
                .control(libc::EPOLL_CTL_ADD, napper.timer.as_raw_fd(), TIMER_KEY)
                .then_some(napper)
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> Option<Napper> {
        None
    }

    /// Lets this socket's input end naps (level-triggered: input already
    /// waiting ends the next nap before it starts).
    pub fn watch(&mut self, fd: i32, key: usize) -> bool {
        #[cfg(target_os = "linux")]
        let added = self.control(libc::EPOLL_CTL_ADD, fd, key as u64);
        #[cfg(not(target_os = "linux"))]
        let added = {
            let _ = (fd, key);
            false
        };
        self.watched += usize::from(added);
        added
    }

    /// Stops watching a socket that began to pipeline or is closing.
    pub fn unwatch(&mut self, fd: i32) {
        #[cfg(target_os = "linux")]
        self.control(libc::EPOLL_CTL_DEL, fd, 0);
        #[cfg(not(target_os = "linux"))]
        let _ = fd;
        self.watched = self.watched.saturating_sub(1);
    }

    /// Whether any socket is watched.
    pub fn watching(&self) -> bool {
        self.watched > 0
    }

    #[cfg(target_os = "linux")]
    fn control(&self, op: i32, fd: i32, key: u64) -> bool {
        use std::os::fd::AsRawFd;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: the event lives across the call; the kernel checks `fd`.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) == 0 }
    }

    /// Naps up to `nap`; the keys of watched clients that ended it early
    /// go into `ready`. A timerfd is exact (epoll's own timeout counts in
    /// milliseconds), and arming it again clears its last expiry, so a nap
    /// that ended early needs no disarming.
    #[cfg(target_os = "linux")]
    pub fn nap(&self, nap: Duration, ready: &mut Vec<usize>) {
        use std::os::fd::AsRawFd;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: nap.as_secs() as libc::time_t,
                tv_nsec: nap.subsec_nanos().max(1) as libc::c_long,
            },
        };
        // SAFETY: `spec` outlives the call.
        if unsafe { libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) }
            == 0
        {
            self.wait(-1, ready);
        }
    }

    /// Watched clients with input now, without waiting: a round of the
    /// crowd's batches asks this between clients.
    #[cfg(target_os = "linux")]
    pub fn ready_now(&self, ready: &mut Vec<usize>) {
        self.wait(0, ready);
    }

    #[cfg(target_os = "linux")]
    fn wait(&self, timeout_ms: i32, ready: &mut Vec<usize>) {
        use std::os::fd::AsRawFd;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `events` outlives the call, which writes at most its
        // length.
        let count =
            unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 8, timeout_ms) };
        let count = usize::try_from(count).unwrap_or(0).min(events.len());
        for event in &events[..count] {
            let key = event.u64;
            if key != TIMER_KEY {
                ready.push(key as usize);
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn nap(&self, _nap: Duration, _ready: &mut Vec<usize>) {}

    #[cfg(not(target_os = "linux"))]
    pub fn ready_now(&self, _ready: &mut Vec<usize>) {}
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
    fn reads_are_classed_by_commands_per_read() {
        assert_eq!(pace(1, 1), Pace::OnePerTrip);
        assert_eq!(pace(3, 2), Pace::OnePerTrip, "a command split over reads");
        assert_eq!(pace(1, 16), Pace::Pipelined);
        assert_eq!(pace(1, 2), Pace::Unclear);
        assert_eq!(pace(1, 0), Pace::Unclear, "half a command");
        assert_eq!(pace(0, 0), Pace::Unclear);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_watched_socket_with_input_ends_the_nap() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let mut napper = Napper::new().expect("epoll and timerfd");
        let (mut peer, watched) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!napper.watching());
        assert!(napper.watch(watched.as_raw_fd(), 7));
        assert!(napper.watching());
        let mut ready = Vec::new();
        // Nothing sent: the timer ends the nap.
        napper.nap(NAP, &mut ready);
        assert!(ready.is_empty());
        napper.ready_now(&mut ready);
        assert!(ready.is_empty());
        // Input waiting: the nap ends at once with the client's key, and
        // again until the loop reads it (level-triggered).
        peer.write_all(b"PING\r\n").unwrap();
        napper.nap(Duration::from_secs(3600), &mut ready);
        assert_eq!(ready, [7]);
        ready.clear();
        napper.ready_now(&mut ready);
        assert_eq!(ready, [7]);
        ready.clear();
        napper.unwatch(watched.as_raw_fd());
        assert!(!napper.watching());
        napper.nap(NAP, &mut ready);
        assert!(ready.is_empty(), "an unwatched socket no longer ends naps");
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
