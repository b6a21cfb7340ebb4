//! What a write command is logged as. Replaying the AOF must rebuild the
//! same data whenever it runs, so commands whose effect depends on the
//! clock, on chance or on a wait are logged in their effect form, as Redis
//! rewrites them before propagating (`rewriteClientCommandVector`):
//! relative expiry becomes `PEXPIREAT`, `SET ... EX` becomes `SET ... PXAT`,
//! `INCRBYFLOAT` a `SET ... KEEPTTL` of the result, `SPOP` an `SREM` of what
//! was popped, blocking pops their non-blocking form.
//!
//! The form is derived after the command ran, from its arguments, its
//! reply and the keyspace, so the handlers need not know about logging.

use crate::config::Config;
use crate::db::Db;
use crate::protocol::request::Args;

/// A command line to log.
pub type Argv = Vec<Vec<u8>>;

/// The effect form of a command that changed the dataset; `None`: log it
/// as it was sent.
pub fn effect_form(
    name: &str,
    args: Args,
    reply: &[u8],
    db: &Db,
    config: &Config,
) -> Option<Vec<Argv>> {
    let arg = |i: usize| args.get(i).to_vec();
    let key = || arg(1);
    let word = |w: &str| w.as_bytes().to_vec();
    let expire_of = |k: &[u8]| db.expire_of(k);
    // A key removed by a command is logged as UNLINK where the setting
    // that frees it lazily is on.
    let removal = |lazy: &str, k: Vec<u8>| {
        let verb = if crate::config::pending_bool(config, lazy) {
            "UNLINK"
        } else {
            "DEL"
        };
        vec![word(verb), k]
    };
    let set_at = |k: Vec<u8>, value: Vec<u8>| match expire_of(&k) {
        Some(when) => vec![word("SET"), k, value, word("PXAT"), when.to_string().into()],
        None => vec![word("SET"), k, value],
    };
    let one = |argv: Argv| Some(vec![argv]);
    let as_sent = || -> Argv { args.iter().map(<[u8]>::to_vec).collect() };
    match name {
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            // A time already past deleted the key.
            let Some(when) = expire_of(args.get(1)) else {
                return one(removal("lazyfree-lazy-expire", key()));
            };
            if name == "pexpireat" {
                return None;
            }
            // PEXPIREAT with the time it ends; NX, XX, GT or LT kept.
            let mut argv = as_sent();
            argv[0] = word("PEXPIREAT");
            argv[2] = when.to_string().into();
            one(argv)
        }
        "getex" => one(match expire_of(args.get(1)) {
            Some(when) => vec![word("PEXPIREAT"), key(), when.to_string().into()],
            None if db.contains_key(args.get(1)) => vec![word("PERSIST"), key()],
            None => removal("lazyfree-lazy-expire", key()),
        }),
        "getdel" => one(removal("lazyfree-lazy-user-del", key())),
        "getset" => one(vec![word("SET"), key(), arg(2)]),
        "setex" | "psetex" => one(set_at(key(), arg(3))),
        "set" => {
            let timed = args.from(3).any(|a| {
                [&b"ex"[..], b"px", b"exat", b"pxat"]
                    .iter()
                    .any(|w| a.eq_ignore_ascii_case(w))
            });
            if timed {
                return one(set_at(key(), arg(2)));
            }
            // GET changes nothing, so it is left out.
            let get = |a: &[u8]| a.eq_ignore_ascii_case(b"get");
            if !args.from(3).any(get) {
                return None;
            }
            let mut argv = vec![arg(0), key(), arg(2)];
            argv.extend(args.from(3).filter(|a| !get(a)).map(<[u8]>::to_vec));
            one(argv)
        }
        "incrbyfloat" => {
            let value = db.get(&key())?.as_str().ok()?.to_vec();
            one(vec![word("SET"), key(), value, word("KEEPTTL")])
        }
        "hincrbyfloat" => {
            let value = db.get(&key())?.as_hash().ok()?.get(args.get(2))?.to_vec();
            one(vec![word("HSET"), key(), arg(2), value])
        }
        "spop" => {
            // A count that took the whole set deleted it; otherwise one
            // SREM per member.
            if args.len() > 2 && !db.contains_key(args.get(1)) {
                return one(vec![word("DEL"), key()]);
            }
            let srem = |member| vec![word("SREM"), key(), member];
            Some(strings_in(reply).into_iter().map(srem).collect())
        }
        "xadd" | "xtrim" => {
            let mut argv = as_sent();
            let options = StreamOptions::parse(args, name == "xadd");
            // The ID the stream gave the entry, in place of `*` or `ms-*`.
            if let Some(at) = options.id.filter(|&at| argv[at].ends_with(b"*")) {
                argv[at] = strings_in(reply).into_iter().next()?;
            }
            // An approximate trim (`~`) is logged as the exact one it did.
            if let Some((at, by_length)) = options.approximate {
                let stream = db.get(args.get(1))?.as_stream().ok()?;
                argv[at - 1] = word("=");
                argv[at] = if by_length {
                    stream.len().to_string().into()
                } else {
                    stream.first_id().unwrap_or_default().to_string().into()
                };
            } else if name == "xtrim" {
                return None;
            }
            one(argv)
        }
        "restore" => {
            // A TTL already past replaced the key with nothing.
            if !db.contains_key(args.get(1)) {
                return one(removal("lazyfree-lazy-server-del", key()));
            }
            // A relative TTL is logged as the time it ends; the rest of
            // the command as sent.
            let absolute = args.from(4).any(|a| a.eq_ignore_ascii_case(b"absttl"));
            if absolute || args.get(2) == b"0" {
                return None;
            }
            let when = expire_of(&key())?;
            let mut argv: Argv = args.iter().map(<[u8]>::to_vec).collect();
            argv[2] = when.to_string().into();
            argv.push(word("ABSTTL"));
            one(argv)
        }
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let popped_from = strings_in(reply).into_iter().next()?;
            let pop = &name[1..];
            one(vec![pop.to_ascii_uppercase().into_bytes(), popped_from])
        }
        "migrate" => {
            // The keys that left: the acknowledged ones (Redis rewrites
            // MIGRATE as a DEL of those).
            let mut i = 6;
            let mut candidates = vec![args.get(3)];
            while i < args.len() {
                let option = args.get(i).to_ascii_lowercase();
                match option.as_slice() {
                    b"auth" => i += 1,
                    b"auth2" => i += 2,
                    b"keys" => {
                        candidates = args.from(i + 1).collect();
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            let mut argv = vec![word("DEL")];
            argv.extend(
                candidates
                    .into_iter()
                    .filter(|k| !db.contains_key(k))
                    .map(<[u8]>::to_vec),
            );
            one(argv)
        }
        "blmove" => one(vec![word("LMOVE"), arg(1), arg(2), arg(3), arg(4)]),
        "brpoplpush" => one(vec![word("RPOPLPUSH"), arg(1), arg(2)]),
        "lmpop" | "zmpop" | "blmpop" | "bzmpop" => {
            let strings = strings_in(reply);
            let (popped_from, elements) = strings.split_first()?;
            // The blocking forms have a timeout before `numkeys`.
            let at = if name.starts_with('b') { 2 } else { 1 };
            let numkeys: usize = std::str::from_utf8(args.get(at)).ok()?.parse().ok()?;
            let side = args.get(at + 1 + numkeys).to_ascii_lowercase();
            let pop = match (name.trim_start_matches('b'), side.as_slice()) {
                ("lmpop", b"left") => "LPOP",
                ("lmpop", _) => "RPOP",
                (_, b"min") => "ZPOPMIN",
                _ => "ZPOPMAX",
            };
            // A sorted set's reply pairs members with scores.
            let count = if name.ends_with("zmpop") {
                elements.len() / 2
            } else {
                elements.len()
            };
            one(vec![
                word(pop),
                popped_from.clone(),
                count.to_string().into(),
            ])
        }
        _ => None,
    }
}

/// Where XADD's and XTRIM's options put the things logged differently
/// from how they were sent.
struct StreamOptions {
    /// The entry's ID (XADD).
    id: Option<usize>,
    /// An approximate MAXLEN (true) or MINID threshold.
    approximate: Option<(usize, bool)>,
}

impl StreamOptions {
    /// `key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id`,
    /// as the command already accepted it.
    fn parse(args: Args, xadd: bool) -> StreamOptions {
        let mut options = StreamOptions {
            id: None,
            approximate: None,
        };
        let mut i = 2;
        while i < args.len() {
            let option = args.get(i).to_ascii_lowercase();
            match option.as_slice() {
                b"nomkstream" if xadd => i += 1,
                b"maxlen" | b"minid" => {
                    let mut at = i + 1;
                    let exactness = args.from(at).next().unwrap_or_default();
                    if exactness == b"~" {
                        options.approximate = Some((at + 1, option == b"maxlen"));
                    }
                    if exactness == b"~" || exactness == b"=" {
                        at += 1;
                    }
                    i = at + 1;
                }
                b"limit" => i += 2,
                _ => {
                    options.id = xadd.then_some(i);
                    break;
                }
            }
        }
        options
    }
}

/// Every bulk (and simple) string in a reply, in order, however nested:
/// what a pop returned.
fn strings_in(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < reply.len() {
        let Some(end) = memchr::memmem::find(&reply[at..], b"\r\n").map(|e| at + e) else {
            break;
        };
        let line = &reply[at + 1..end];
        match reply[at] {
            b'$' => {
                let len: usize = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                if line != b"-1" {
                    if let Some(bytes) = reply.get(end + 2..end + 2 + len) {
                        out.push(bytes.to_vec());
                    }
                    at = end + 2 + len + 2;
                    continue;
                }
            }
            b'+' => out.push(line.to_vec()),
            _ => {}
        }
        at = end + 2;
    }
    out
}

/// Encodes one call's commands as the AOF and the replicas get them: a
/// SELECT where the database changes (`selected_db` is the one the
/// stream is in), MULTI/EXEC around them when `wrap`.
pub fn encode_call(
    out: &mut Vec<u8>,
    commands: &[(usize, Argv)],
    wrap: bool,
    selected_db: &mut Option<usize>,
) {
    let mut select = |out: &mut Vec<u8>, db: usize| {
        if *selected_db != Some(db) {
            encode_command(out, &[b"SELECT".to_vec(), db.to_string().into()]);
            *selected_db = Some(db);
        }
    };
    if wrap {
        // MULTI is sent in the first command's database, so a SELECT
        // comes before it, as Redis's.
        if let Some((db, _)) = commands.first() {
            select(out, *db);
        }
        encode_command(out, &[b"MULTI"]);
    }
    for (db, argv) in commands {
        select(out, *db);
        encode_command(out, argv);
    }
    if wrap {
        encode_command(out, &[b"EXEC"]);
    }
}

/// Encodes a command line as the RESP multibulk the AOF holds.
pub fn encode_command(out: &mut Vec<u8>, argv: &[impl AsRef<[u8]>]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_found_in_nested_replies() {
        let reply = b"*2\r\n$3\r\nkey\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
        assert_eq!(
            strings_in(reply),
            vec![b"key".to_vec(), b"a".to_vec(), b"bc".to_vec()]
        );
        assert_eq!(strings_in(b"$-1\r\n"), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn commands_encode_as_multibulk() {
        let mut out = Vec::new();
        encode_command(&mut out, &[&b"SET"[..], b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
