//! Client-visible error texts, verbatim as Redis 7.0 sends them: clients and
//! their test suites match on these strings, so they live in one place.

use crate::protocol::request::Args;

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const PROTOCOL_VERSION_NOT_INTEGER: &str =
    "ERR Protocol version is not an integer or out of range";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const CLIENT_NAME_CHARS: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const CLIENT_ID_POSITIVE: &str = "ERR client-id should be greater than 0";
pub const NOT_A_FLOAT: &str = "ERR value is not a valid float";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Redis caps quoted user input in error messages at this many bytes.
const QUOTE_MAX: usize = 128;

fn quoted(bytes: &[u8], max: usize) -> &[u8] {
    // Redis prints arguments with `%.*s`, which stops at a NUL byte.
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end.min(max)]
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub fn unknown_command(args: Args) -> Vec<u8> {
    let mut out = b"ERR unknown command '".to_vec();
    out.extend_from_slice(quoted(args.get(0), QUOTE_MAX));
    out.extend_from_slice(b"', with args beginning with: ");
    let mut listed = Vec::new();
    for arg in args.from(1) {
        if listed.len() >= QUOTE_MAX {
            break;
        }
        let room = QUOTE_MAX - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(quoted(arg, room));
        listed.extend_from_slice(b"' ");
    }
    out.extend_from_slice(&listed);
    out
}

/// `ERR unknown subcommand 'foo'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], command: &str) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand '".to_vec();
    out.extend_from_slice(quoted(sub, QUOTE_MAX));
    out.extend_from_slice(format!("'. Try {} HELP.", command.to_ascii_uppercase()).as_bytes());
    out
}

/// What a command that parses its own subcommands (DEBUG) says to one it
/// does not know (Redis's `addReplySubcommandSyntaxError`).
pub fn subcommand_syntax(sub: &[u8], command: &str) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    out.extend_from_slice(quoted(sub, 128));
    out.extend_from_slice(format!("'. Try {} HELP.", command.to_ascii_uppercase()).as_bytes());
    out
}

/// `ERR wrong number of arguments for 'config|get' command`
pub fn wrong_arity(full_name: &str) -> String {
    format!("ERR wrong number of arguments for '{full_name}' command")
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire_time(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// An OS error as C's `strerror` words it, which is what Redis prints
/// ("No such file or directory", without Rust's "(os error 2)").
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const MONITOR_IN_MULTI: &str = "ERR MONITOR isn't allowed for DENY BLOCKING client";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

/// Appends `bytes` quoted as Redis's `sdscatrepr` quotes them (MONITOR
/// lines, CLIENT LIST): `"`, backslash escapes for `\` `"` `\n` `\r` `\t`
/// `\a` `\b`, printable ASCII as is, anything else as `\xNN`.
pub fn push_repr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// A command that may grow memory, refused over `maxmemory`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
