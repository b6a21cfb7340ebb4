//! The slow log: commands that ran for at least `slowlog-log-slower-than`
//! microseconds, newest first, at most `slowlog-max-len` of them (Redis's
//! `slowlog.c`). Arguments are kept as Redis keeps them: at most 32, the
//! last one saying how many more there were, each cut at 128 bytes.

use std::collections::VecDeque;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC` and `SLOWLOG_ENTRY_MAX_STRING`.
const MAX_ARGS: usize = 32;
const MAX_STRING: usize = 128;

pub struct Entry {
    pub id: u64,
    pub unix_time: i64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

#[derive(Default)]
pub struct SlowLog {
    /// Newest first.
    pub entries: VecDeque<Entry>,
    /// Never reset: ids keep growing across SLOWLOG RESET, as in Redis.
    next_id: u64,
}

impl SlowLog {
    /// Adds an entry and trims the log to `max_len`.
    pub fn push<'a>(
        &mut self,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
        micros: u64,
        peer: String,
        name: &[u8],
        max_len: usize,
    ) {
        let argc = args.len();
        let kept = argc.min(MAX_ARGS);
        let mut stored = Vec::with_capacity(kept);
        for (j, arg) in args.enumerate().take(kept) {
            if kept != argc && j == kept - 1 {
                stored.push(format!("... ({} more arguments)", argc - kept + 1).into_bytes());
            } else if arg.len() > MAX_STRING {
                let mut cut = arg[..MAX_STRING].to_vec();
                cut.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes(),
                );
                stored.push(cut);
            } else {
                stored.push(arg.to_vec());
            }
        }
        self.entries.push_front(Entry {
            id: self.next_id,
            unix_time: crate::state::unix_millis() / 1000,
            micros,
            args: stored,
            peer,
            name: name.to_vec(),
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_cut_as_redis_cuts_them() {
        let mut log = SlowLog::default();
        let long = [b'x'; 200];
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        log.push([&long[..]].into_iter(), 5, "a:1".into(), b"", 10);
        log.push(many.iter().map(Vec::as_slice), 6, "a:1".into(), b"n", 10);
        let newest = &log.entries[0];
        assert_eq!(newest.id, 1);
        assert_eq!(newest.args.len(), 32);
        assert_eq!(newest.args[31], b"... (9 more arguments)");
        let first = &log.entries[1];
        assert_eq!(first.args[0].len(), 128 + "... (72 more bytes)".len());
        log.push([&b"a"[..]].into_iter(), 1, String::new(), b"", 1);
        assert_eq!(log.entries.len(), 1);
        assert_eq!(log.entries[0].id, 2);
    }
}
