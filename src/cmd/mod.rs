//! The command table and dispatch. Each entry holds what Redis's command
//! table holds: name, arity, flags, key positions, and the documentation
//! `COMMAND DOCS` serves; `COMMAND`, `COMMAND INFO/COUNT/LIST/DOCS` are all
//! generated from it, so they stay true as commands are added.
//!
//! The table is data: one file per command in `commands/*.json` (as Redis
//! keeps `src/commands/*.json`), turned into a static table by build.rs.
//! The family files (`string.rs`, `list.rs`...) hold only handlers; a new
//! command is one data file naming its handler, and that function.
//!
//! Dispatch checks that the command exists and that its arity fits, once,
//! with Redis's error texts, so handlers never re-check them.

pub mod acl;
mod bitmap;
mod blocking;
mod client;
mod connection;
mod debug;
mod functions;
mod geo;
mod hash;
mod hll;
mod info;
mod introspect;
mod keys;
pub use keys::random_below;
mod list;
mod lolwut;
mod memory;
pub mod migrate;
pub mod multi;
pub mod persist;
mod pubsub;
mod repl;
mod scripting;
mod server;
mod set;
mod sort;
mod stream;
mod string;
mod zset;

use crate::client::Client;
use crate::cmdstats::Traits;
use crate::db::{Db, Value, WrongType};
use crate::errors;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use crate::state::{ServerState, Stats};
pub use repl::{replica_address, replica_ip};
use slab::Slab;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a command runs with: the server's state, every client, which of
/// them is running the command, and where its reply goes.
pub struct Ctx<'a> {
    pub state: &'a mut ServerState,
    pub clients: &'a mut Slab<Client>,
    pub me: usize,
    pub reply: &'a mut Reply,
    /// The time in unix ms, taken once per batch of commands read together
    /// (Redis takes it per command, `commandTimeSnapshot`; a batch runs in
    /// well under a millisecond): every expiry decision of a command agrees.
    pub now_ms: i64,
    /// When the previous command of the batch ended, in clock ticks: the
    /// next one starts there (see `dispatch`).
    pub last_tick: u64,
    /// The running client's query buffer, out on loan while its commands
    /// run (CLIENT LIST reads its size); `None` outside a read.
    pub input: Option<&'a crate::protocol::request::RequestParser>,
}

impl Ctx<'_> {
    /// Whether an expiry time being set has passed, so that the key goes
    /// now (Redis's `checkAlreadyExpired`). Not while the AOF loads, nor on
    /// a replica: the key keeps its past time until its master's DEL.
    pub fn already_expired(&self, when: i64) -> bool {
        when <= self.now_ms && self.state.deletes_past_expiries()
    }

    /// The client running the command.
    pub fn client(&mut self) -> &mut Client {
        &mut self.clients[self.me]
    }

    /// Announces a change the running command made to `key` in the
    /// client's database: a keyspace event (Redis's `notifyKeyspaceEvent`)
    /// and an invalidation for the clients caching it. Two flag tests
    /// when neither is in use.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let flags = self.state.config.notify_keyspace_events;
        if crate::notify::wanted(flags, class) || self.state.tracking.active() {
            let db = self.db_index();
            self.notify_in(db, class, event, key);
        }
    }

    /// `notify` for a key of another database (MOVE, COPY ... DB).
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        let running = Some((self.me, &mut *self.reply));
        crate::notify::key_changed(self.state, self.clients, running, db, class, event, key);
    }

    /// Publishes the events the databases queued (keys found expired or
    /// created): before the command's next event, and when it ends.
    pub fn publish_queued_events(&mut self) {
        let mut running = Some((self.me, &mut *self.reply));
        crate::notify::publish_queued(self.state, self.clients, &mut running);
    }

    /// Index of the client's selected database.
    pub fn db_index(&self) -> usize {
        self.clients[self.me].db
    }

    /// The client's database, with lazy expiry and hit/miss accounting,
    /// and the reply, borrowed side by side.
    pub fn keys(&mut self) -> (Keys<'_>, &mut Reply) {
        let db = self.clients[self.me].db;
        self.state.dbs[db].now_ms = self.now_ms;
        let keys = Keys {
            db: &mut self.state.dbs[db],
            stats: &mut self.state.stats,
            now_ms: self.now_ms,
        };
        (keys, &mut *self.reply)
    }
}

/// Access to one database as commands need it: a key whose time has come
/// is deleted when touched (Redis's `expireIfNeeded`), so it behaves as if
/// it did not exist.
pub struct Keys<'a> {
    pub db: &'a mut Db,
    pub stats: &'a mut Stats,
    pub now_ms: i64,
}

impl Keys<'_> {
    /// Deletes `key` if it has expired (on a replica it only hides it);
    /// true if it had.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        self.expire_if_needed_for(key, false)
    }

    /// [`Self::expire_if_needed`] for a lookup that writes: a writable
    /// replica deletes the key then too.
    fn expire_if_needed_for(&mut self, key: &[u8], write: bool) -> bool {
        use crate::db::Expiry;
        if !self.db.is_expired(key, self.now_ms) {
            return false;
        }
        match crate::db::expiry() {
            Expiry::Delete => {}
            Expiry::HideUntilWritten if write => {}
            _ => return true,
        }
        self.db.remove_expired(key);
        self.stats.expired_keys += 1;
        true
    }

    /// Looks a key up for reading, counting keyspace hits and misses and
    /// touching it.
    pub fn read(&mut self, key: &[u8]) -> Option<&Value> {
        self.lookup(key, true)
    }

    /// Like `read` but leaves the access time alone (Redis's
    /// `LOOKUP_NOTOUCH`: TYPE, TTL, OBJECT).
    pub fn peek(&mut self, key: &[u8]) -> Option<&Value> {
        self.lookup(key, false)
    }

    /// One hash of the key for a live one (none for the expiries of a
    /// database without TTLs).
    fn lookup(&mut self, key: &[u8], touch: bool) -> Option<&Value> {
        // A key a replica hides is still in the table.
        let hidden = self.expire_if_needed(key) && self.db.contains_key(key);
        let miss_events = self.db.event_classes & crate::notify::KEY_MISS != 0;
        if hidden && !miss_events {
            self.stats.keyspace_misses += 1;
            return None;
        }
        if miss_events && (hidden || !self.db.contains_key(key)) {
            // A second lookup, only while `keymiss` events are wanted.
            self.stats.keyspace_misses += 1;
            self.db.note_event(crate::notify::KEY_MISS, "keymiss", key);
            return None;
        }
        let found = if touch {
            self.db.touch_get(key)
        } else {
            self.db.get(key)
        };
        if found.is_some() {
            self.stats.keyspace_hits += 1;
        } else {
            self.stats.keyspace_misses += 1;
        }
        found
    }

    /// A live key, looked up as for writing but not opened, for a command
    /// that may find it has nothing to change (Redis's `lookupKeyWrite`):
    /// no hit or miss counted, no `keymiss`, WATCH not told.
    pub fn look_for_write(&mut self, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed_for(key, true) {
            return None;
        }
        self.db.touch_get(key)
    }

    /// Looks a key up for writing (no hit/miss accounting).
    pub fn write(&mut self, key: &[u8]) -> Option<&mut Value> {
        let position = self.write_position(key)?;
        self.db.value_at_mut(position)
    }

    /// Where a live key is, looked up (once) for writing: access stamped,
    /// WATCH told (the command counts its changes).
    fn write_position(&mut self, key: &[u8]) -> Option<usize> {
        if self.expire_if_needed_for(key, true) {
            return None;
        }
        self.db.touch_for_write(key)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.db.contains_key(key)
    }

    /// A string value for reading: `Ok(None)` if missing.
    pub fn read_str(&mut self, key: &[u8]) -> Result<Option<&[u8]>, WrongType> {
        match self.read(key) {
            None => Ok(None),
            Some(value) => value.as_str().map(Some),
        }
    }

    /// A collection for reading, checked against its type with `cast`
    /// (`Value::as_hash`, ...): `Ok(None)` if missing, `Err` for WRONGTYPE.
    pub fn read_as<T>(
        &mut self,
        key: &[u8],
        cast: fn(&Value) -> Result<&T, WrongType>,
    ) -> Result<Option<&T>, WrongType> {
        match self.read(key) {
            None => Ok(None),
            Some(value) => cast(value).map(Some),
        }
    }

    /// A collection for writing; a missing key is created with `create`
    /// when given, else `Ok(None)`.
    pub fn write_as<T>(
        &mut self,
        key: &[u8],
        create: Option<fn() -> Value>,
        cast: fn(&mut Value) -> Result<&mut T, WrongType>,
    ) -> Result<Option<&mut T>, WrongType> {
        // A key already there (the common case) is hashed once.
        let value = match self.write_position(key) {
            Some(position) => self.db.value_at_mut(position),
            None => match create {
                Some(make) => {
                    let position = self.db.set_at(key, make(), false);
                    self.db.value_at_mut(position)
                }
                None => return Ok(None),
            },
        };
        match value {
            None => Ok(None),
            Some(value) => cast(value).map(Some),
        }
    }

    /// Deletes a live key; true if it existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// Deletes a live key, handing back its value.
    pub fn take(&mut self, key: &[u8]) -> Option<Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.db.remove(key)
    }
}

/// One argument of a command, as `COMMAND DOCS` describes it.
pub struct Arg {
    pub name: &'static str,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
    /// `pure-token`, `oneof` or `block`.
    pub kind: &'static str,
    /// Which key spec a `key` argument belongs to; -1 for none.
    pub key_spec_index: i32,
    pub token: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub deprecated_since: &'static str,
    /// Space-separated: `optional`, `multiple`, `multiple_token`.
    pub flags: &'static str,
    pub args: &'static [Arg],
}

/// Where a command's keys are (Redis 7 key specs), for `COMMAND INFO`.
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static str,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    /// A spec flagged `not_key` (SPUBLISH's shard channel) names an
    /// argument that routes like a key but is none: ACLs, key tracking
    /// and COMMAND GETKEYS pass it by (Redis's `CMD_KEY_NOT_KEY`).
    pub fn is_key(&self) -> bool {
        !self.flags.split(' ').any(|f| f == "not_key")
    }
}

pub enum BeginSearch {
    Index(i32),
    Keyword(&'static str, i32),
    /// Only the command knows (SORT's BY, GET and STORE).
    Unknown,
}

pub enum FindKeys {
    /// Last key (relative), key step, limit.
    Range(i32, i32, i32),
    /// Index of the key count, first key, key step.
    Keynum(i32, i32, i32),
    Unknown,
}

pub type Handler = fn(&mut Ctx, Args);

/// One command (or subcommand) of the table.
pub struct Command {
    /// Lower case; subcommands are named `parent|sub`.
    pub name: &'static str,
    pub handler: Handler,
    /// Redis's convention: `n` exactly n arguments (name included), `-n` at
    /// least n.
    pub arity: i32,
    /// Space-separated Redis flags (`readonly fast`, `write denyoom`, ...).
    pub flags: &'static str,
    /// Space-separated ACL categories, without the `@`.
    pub acl: &'static str,
    /// Space-separated command tips (`nondeterministic_output`, ...).
    pub tips: &'static str,
    /// First key, last key (-1: the last argument), step; 0 0 0: no keys.
    pub keys: (i32, i32, i32),
    pub key_specs: &'static [KeySpec],
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub doc_flags: &'static str,
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    /// (version, what changed), for `COMMAND DOCS`.
    pub history: &'static [(&'static str, &'static str)],
    /// The argument tree `COMMAND DOCS` serves; redis-cli builds its hints
    /// from it.
    pub args: &'static [Arg],
    pub subcommands: &'static [Command],
}

impl Command {
    /// The name without the parent: `get` for `config|get`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    pub fn arity_fits(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

// The table itself: generated from commands/*.json by build.rs.
include!(concat!(env!("OUT_DIR"), "/command_table.rs"));

/// What a container command (CONFIG, CLIENT...) runs: nothing, since
/// dispatch always resolves one of its subcommands.
fn container(_ctx: &mut Ctx, _args: Args) {}

/// Every top-level command, in the order of their data files.
pub fn table() -> &'static [&'static Command] {
    static TABLE: OnceLock<Vec<&'static Command>> = OnceLock::new();
    TABLE.get_or_init(|| GENERATED_COMMANDS.iter().collect())
}

/// FNV-1a: the command index is fixed, so it needs no defence against
/// chosen collisions, only speed on short names.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    /// The length `Hash for [u8]` writes first: one step, not eight.
    fn write_usize(&mut self, len: usize) {
        self.0 = (0xcbf2_9ce4_8422_2325 ^ len as u64).wrapping_mul(0x0100_0000_01b3);
    }
}

/// A command found by name, with its number in [`all_commands`] and the
/// number of its first subcommand (subcommands are numbered in order).
#[derive(Clone, Copy)]
pub struct Indexed {
    command: &'static Command,
    id: u16,
    first_sub: u16,
}

type CommandIndex = HashMap<&'static [u8], Indexed, std::hash::BuildHasherDefault<Fnv>>;

/// Every command and subcommand, numbered: per-command statistics live in
/// a vector indexed by these numbers.
pub fn all_commands() -> &'static [&'static Command] {
    &numbering().all
}

/// `rename-command old new` directives (lower-case; an empty new name
/// removes the command), fixed before the first command is looked up.
static RENAMES: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Sets the config file's renames; called once at start, before any
/// command runs. Later calls change nothing.
pub fn set_renames(renames: &[(String, String)]) {
    let _ = RENAMES.set(renames.to_vec());
}

/// The commands by their original names (ACL rules name commands so),
/// numbered. Config `user` lines need it while the config is read, before
/// the renames are known; the index clients use is built apart (`index`).
struct Numbering {
    original: CommandIndex,
    all: Vec<&'static Command>,
}

fn numbering() -> &'static Numbering {
    static NUMBERING: OnceLock<Numbering> = OnceLock::new();
    NUMBERING.get_or_init(|| {
        let mut all: Vec<&'static Command> = Vec::new();
        let mut original = CommandIndex::default();
        for &command in table() {
            let id = all.len() as u16;
            all.push(command);
            let first_sub = all.len() as u16;
            all.extend(command.subcommands.iter());
            original.insert(
                command.name.as_bytes(),
                Indexed {
                    command,
                    id,
                    first_sub,
                },
            );
        }
        Numbering { original, all }
    })
}

/// The index clients' commands are looked up in: the original names with
/// the config's renames applied, built on first use (after `set_renames`).
fn index() -> &'static CommandIndex {
    static RENAMED: OnceLock<CommandIndex> = OnceLock::new();
    RENAMED.get_or_init(|| {
        let mut renamed = numbering().original.clone();
        for (old, new) in RENAMES.get().into_iter().flatten() {
            if let Some(found) = renamed.remove(old.as_bytes()) {
                if !new.is_empty() {
                    // Leaked once at start: the index holds static names.
                    let name: &'static [u8] =
                        Box::leak(new.clone().into_bytes().into_boxed_slice());
                    renamed.insert(name, found);
                }
            }
        }
        renamed
    })
}

/// Whether `name` (lower-case) is a command's original name. Reads the
/// table, not the index, which must not be built before the renames are
/// known.
pub fn is_original_name(name: &str) -> bool {
    table().iter().any(|c| c.name == name)
}

/// How many commands clients can call (COMMAND COUNT).
pub fn callable_count() -> usize {
    index().len()
}

/// Longest command name accepted (renamed ones included); longer ones
/// cannot exist.
const MAX_NAME: usize = 128;

fn lookup_indexed(name: &[u8]) -> Option<Indexed> {
    lookup_in(index(), name)
}

/// The name a client's command was last found by, spelled as the client
/// sent it: a pipeline repeats a few commands, and comparing the bytes
/// costs less than folding case, hashing and probing the index.
#[derive(Default)]
pub struct LastLookup {
    name: [u8; LAST_LOOKUP_NAME],
    len: usize,
    found: Option<Indexed>,
}

/// Longest name [`LastLookup`] keeps (every command's fits).
const LAST_LOOKUP_NAME: usize = 24;

impl LastLookup {
    fn find(&mut self, name: &[u8]) -> Option<Indexed> {
        if let Some(found) = self.found {
            if self.name.get(..self.len) == Some(name) {
                return Some(found);
            }
        }
        let found = lookup_indexed(name)?;
        if let Some(slot) = self.name.get_mut(..name.len()) {
            slot.copy_from_slice(name);
            self.len = name.len();
            self.found = Some(found);
        }
        Some(found)
    }
}

fn lookup_in(index: &CommandIndex, name: &[u8]) -> Option<Indexed> {
    let mut lower = [0u8; MAX_NAME];
    let folded = lower.get_mut(..name.len())?;
    for (dst, src) in folded.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    index.get(&folded[..]).copied()
}

/// The command or subcommand a command line names, with its number
/// (`all_commands`), without allocating.
pub fn resolve_line(line: &[&[u8]]) -> Option<(&'static Command, usize)> {
    resolve_in(index(), line)
}

/// [`resolve_line`] by the commands' original names, whatever
/// `rename-command` did (ACL rules name commands so).
pub fn resolve_original(line: &[&[u8]]) -> Option<(&'static Command, usize)> {
    resolve_in(&numbering().original, line)
}

fn resolve_in(index: &CommandIndex, line: &[&[u8]]) -> Option<(&'static Command, usize)> {
    let found = lookup_in(index, line.first()?)?;
    match line.get(1) {
        Some(sub) if !found.command.subcommands.is_empty() => {
            let (position, command) = lookup_subcommand(found.command, sub)?;
            Some((command, usize::from(found.first_sub) + position))
        }
        _ => Some((found.command, usize::from(found.id))),
    }
}

/// Looks a command up by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    lookup_indexed(name).map(|found| found.command)
}

fn lookup_subcommand(parent: &'static Command, name: &[u8]) -> Option<(usize, &'static Command)> {
    parent
        .subcommands
        .iter()
        .enumerate()
        .find(|(_, sub)| sub.short_name().as_bytes().eq_ignore_ascii_case(name))
}

/// The command, or subcommand, a command line names (Redis's
/// `lookupCommand`): a container without a subcommand is itself.
pub fn command_of(line: &[&[u8]]) -> Option<&'static Command> {
    let first = lookup(line.first()?)?;
    match line.get(1) {
        Some(sub) if !first.subcommands.is_empty() => {
            lookup_subcommand(first, sub).map(|(_, command)| command)
        }
        _ => Some(first),
    }
}

/// The positions of a command line's keys with their flags, followed
/// through the command's key specs (Redis's `getKeysUsingKeySpecs`).
/// `None` when a spec cannot be followed to the end (an incomplete spec,
/// a bad key count): the caller falls back to the command's own rule.
pub fn keys_of(command: &Command, line: &[&[u8]]) -> Option<Vec<(usize, &'static str)>> {
    // A spec whose flags depend on the arguments: the command's own rule
    // says which (Redis's `setGetKeys`).
    if command.name == "set" {
        let get = line.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
        let flags = if get { "RW access update" } else { "OW update" };
        return Some(vec![(1, flags)]);
    }
    if command.name == "bitfield" {
        return Some(vec![(1, bitfield_key_flags(line))]);
    }
    match keys_by_specs(command, line) {
        Some(found) => Some(found),
        None if command.name == "migrate" => Some(migrate_keys(line)),
        None if command.name == "sort" => Some(sort_keys(line)),
        None if command.name == "sort_ro" => Some(vec![(1, "RO access")]),
        None => None,
    }
}

/// BITFIELD reads only when every operation is a GET (Redis's
/// `bitfieldGetKeys`); anything else, a syntax error included, may write.
fn bitfield_key_flags(line: &[&[u8]]) -> &'static str {
    let mut i = 2;
    while i < line.len() {
        let left = line.len() - i - 1;
        let op = line[i];
        if op.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            return "RW access update";
        }
    }
    "RO access"
}

fn keys_by_specs(command: &Command, line: &[&[u8]]) -> Option<Vec<(usize, &'static str)>> {
    let argc = line.len() as i64;
    let mut found = Vec::new();
    for spec in command.key_specs.iter().filter(|s| s.is_key()) {
        let first = match spec.begin {
            BeginSearch::Unknown => return None,
            BeginSearch::Index(index) => i64::from(index),
            BeginSearch::Keyword(keyword, startfrom) => {
                let startfrom = i64::from(startfrom);
                let (start, end) = if startfrom > 0 {
                    (startfrom, argc - 1)
                } else {
                    (argc + startfrom, 1)
                };
                let mut at = None;
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if line[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        at = Some(i + 1);
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                match at {
                    Some(first) => first,
                    None => continue,
                }
            }
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range(lastkey, step, limit) => {
                let (lastkey, limit) = (i64::from(lastkey), i64::from(limit));
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, i64::from(step))
            }
            FindKeys::Unknown => return None,
            FindKeys::Keynum(keynum_index, first_key, step) => {
                let at = usize::try_from(first + i64::from(keynum_index)).ok()?;
                let count = crate::protocol::parse_i64(line.get(at)?).filter(|&n| n >= 0)?;
                let first = first + i64::from(first_key);
                (first, first + count - 1, i64::from(step))
            }
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            found.push((i as usize, spec.flags));
            i += step;
        }
        if spec.flags.split(' ').any(|f| f == "incomplete") {
            return None;
        }
    }
    Some(found)
}

/// SORT's keys: the sorted key, and the last STORE's destination,
/// stepping over the arguments of LIMIT, GET and BY (Redis's
/// `sortGetKeys`).
fn sort_keys(line: &[&[u8]]) -> Vec<(usize, &'static str)> {
    let mut keys = vec![(1, "RO access")];
    let mut store = None;
    let mut i = 2;
    while i < line.len() {
        let arg = line[i];
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < line.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store.map(|at| (at, "OW update")));
    keys
}

/// MIGRATE's keys: the key argument, or with `KEYS` every argument after
/// it, skipping the arguments of AUTH and AUTH2 (Redis's `migrateGetKeys`).
fn migrate_keys(line: &[&[u8]]) -> Vec<(usize, &'static str)> {
    const FLAGS: &str = "RW access delete";
    let (mut first, mut count) = (3, 1);
    let mut i = 6;
    while i < line.len() {
        let word = line[i].to_ascii_lowercase();
        match word.as_slice() {
            b"keys" => {
                if line.get(3).is_some_and(|k| !k.is_empty()) {
                    return Vec::new();
                }
                first = i + 1;
                count = line.len() - first;
                break;
            }
            b"auth" => i += 1,
            b"auth2" => i += 2,
            _ => {}
        }
        i += 1;
    }
    (first..first + count).map(|p| (p, FLAGS)).collect()
}

/// What became of a command line.
#[derive(Clone, Copy)]
enum Outcome {
    /// It ran: command number and name.
    Ran(usize, &'static str),
    /// Queued inside MULTI.
    Queued,
    /// Refused before running; the command number when it was known.
    Rejected(Option<usize>),
}
/// An error a master's command, a replica's, or the AOF loader's got
/// (Redis's `afterErrorReply`): the data may have diverged, so it is
/// logged loudly, counted, and with `propagation-error-behavior panic`
/// (or `panic-on-replicas`, on a read-only replica) the server stops.
#[cold]
fn unexpected_error_reply(ctx: &mut Ctx, error: &[u8], args: Args, start: usize) {
    if ctx.clients[ctx.me].is_replica() {
        // Logged as it is written, before the error's own line.
        replica_generated_reply(ctx, args, start);
    }
    let from_master = ctx.clients[ctx.me].is_master;
    let (from, to) = if ctx.state.replaying {
        ("server", "AOF-loading-client")
    } else if from_master {
        ("replica", "master")
    } else {
        ("master", "replica")
    };
    let line: Vec<&[u8]> = args.iter().take(2).collect();
    let command = command_of(&line).map_or("<unknown>".to_string(), |c| c.name.to_string());
    // As Redis prints it: a plain ERR without its code, others with their
    // dash (its `addReplyError` and `addReplyErrorObject` forms).
    let shown = match error.strip_prefix(b"ERR ") {
        Some(message) => String::from_utf8_lossy(message).into_owned(),
        None => format!("-{}", String::from_utf8_lossy(error)),
    };
    log::warn!(
        "== CRITICAL == This {from} is sending an error to its {to}: '{shown}' after processing the command '{command}'"
    );
    if from_master {
        if let Some(backlog) = &ctx.state.repl.backlog {
            let mut dump = Vec::new();
            crate::errors::push_repr(&mut dump, &backlog.latest(256));
            log::warn!("Latest backlog is: '{}'", String::from_utf8_lossy(&dump));
        }
    }
    ctx.state.stats.unexpected_error_replies += 1;
    let behavior = crate::config::pending_text(&ctx.state.config, "propagation-error-behavior");
    let read_only = crate::config::pending_bool(&ctx.state.config, "replica-read-only");
    let panic_in_replica =
        from_master && read_only && matches!(behavior, "panic" | "panic-on-replicas");
    let panic_in_aof = ctx.state.replaying && behavior == "panic";
    if panic_in_replica || panic_in_aof {
        panic!("This {from} panicked sending an error to its {to} after processing the command '{command}'");
    }
}

/// Runs one command: lookup, arity check, handler, counters. Mirrors the
/// checks at the top of Redis's `processCommand`, and what `call()` does
/// around the handler: time it, count it, log it if slow, show it to
/// MONITOR, write its effect to the AOF.
///
/// Timing reads the clock once per command: a command starts when the
/// one before it in the batch ended (`Ctx::last_tick`), so its time
/// includes parsing its arguments, a few nanoseconds.
pub fn dispatch(ctx: &mut Ctx, args: Args) {
    let started = ctx.last_tick;
    let start = ctx.reply.len();
    let dirty_before = crate::db::dirty();
    let db_before = ctx.db_index();
    ctx.state.call_depth += 1;
    let outcome = run(ctx, args);
    ctx.state.call_depth -= 1;
    if !ctx.state.blocked.is_empty() && crate::db::dirty() != dirty_before {
        signal_created_keys(ctx, args, db_before);
    }
    let ended = crate::clock::now();
    ctx.last_tick = ended;
    let failed = match ctx.reply.as_bytes().get(start..) {
        Some([b'-', line @ ..]) => {
            ctx.state.stats.count_error_reply(line);
            let client = &ctx.clients[ctx.me];
            if client.is_master || client.is_replica() || ctx.state.replaying {
                let end = memchr::memchr(b'\r', line).unwrap_or(line.len()).min(4096);
                let error = line[..end].to_vec();
                unexpected_error_reply(ctx, &error, args, start);
            }
            true
        }
        _ => false,
    };
    let name = match outcome {
        Outcome::Ran(id, name) => {
            // A client that blocked is counted when it is served.
            if ctx.state.block_request.is_none()
                && after_call(ctx, args, id, ended.wrapping_sub(started), failed)
            {
                // The slow log or MONITOR took time of its own: the next
                // command must not be charged with it.
                ctx.last_tick = crate::clock::now();
            }
            name
        }
        Outcome::Rejected(Some(id)) => {
            ctx.state.command_stats.reject(id);
            ""
        }
        Outcome::Rejected(None) | Outcome::Queued => "",
    };
    if ctx.state.propagating() {
        log_command(ctx, name, args, start, dirty_before, db_before);
    }
    ctx.state.forced_targets = 0;
    // Readers blocked on a stream that went are woken to be told.
    ctx.state.signal_streams_gone();
    if ctx.state.call_depth == 0 && ctx.state.tracking.active() {
        end_tracked_call(ctx, args);
    }
}

/// A key a command wrote whole (RENAME, COPY, MOVE, SORT ... STORE,
/// ZUNIONSTORE, RESTORE...) may now hold a list, sorted set or stream
/// someone is blocked on: it is signalled as Redis's `dbAdd` signals it.
/// Only while some client is blocked and the command changed something.
fn signal_created_keys(ctx: &mut Ctx, args: Args, db: usize) {
    let Some(command) = lookup(args.get(0)) else {
        return;
    };
    let line: Vec<&[u8]> = args.iter().collect();
    // MOVE and COPY ... DB put the key in another database.
    let target = match command.name {
        "move" => line.get(2),
        "copy" => line
            .iter()
            .position(|a| a.eq_ignore_ascii_case(b"db"))
            .and_then(|i| line.get(i + 1)),
        _ => None,
    }
    .and_then(|n| crate::protocol::parse_i64(n))
    .and_then(|n| usize::try_from(n).ok())
    .filter(|&n| n < ctx.state.dbs.len());
    for (position, flags) in keys_of(command, &line).unwrap_or_default() {
        let written = flags.contains("insert") || flags.contains("OW");
        if !written && command.name != "move" {
            continue;
        }
        let Some(key) = line.get(position) else {
            continue;
        };
        for db in [Some(db), target].into_iter().flatten() {
            let wakes = matches!(
                ctx.state.dbs[db].get(key),
                Some(Value::List(_) | Value::ZSet(_) | Value::Stream(_))
            );
            if wakes {
                ctx.state.signal_key_ready(db, key);
            }
        }
    }
}

/// After a client's command (a whole transaction for EXEC), while clients
/// track keys: the invalidations of keys it changed itself follow its
/// reply, and a `CLIENT CACHING` answer lapses unless the command was
/// another CLIENT one or a transaction is open (Redis's `resetClient`).
fn end_tracked_call(ctx: &mut Ctx, args: Args) {
    send_own_invalidations(ctx);
    let client = &mut ctx.clients[ctx.me];
    if let Some(tracking) = client.tracking.as_deref_mut() {
        if client.multi.is_none() && !args.get(0).eq_ignore_ascii_case(b"client") {
            tracking.caching = false;
        }
    }
}

/// Tells the running client of the keys it tracks that changed during its
/// call (or, before its command, that eviction removed).
fn send_own_invalidations(ctx: &mut Ctx) {
    let pending = std::mem::take(&mut ctx.state.tracking.pending_self);
    if pending.is_empty() {
        return;
    }
    let me = (ctx.me, ctx.clients[ctx.me].id);
    let mut out = crate::pubsub::Outboxes {
        clients: ctx.clients,
        running: Some((ctx.me, &mut *ctx.reply)),
        woken: &mut ctx.state.output_woken,
    };
    for key in &pending {
        let what = match key {
            Some(key) => crate::tracking::Invalidated::Keys(&[key]),
            None => crate::tracking::Invalidated::All,
        };
        crate::tracking::send(&mut out, me, &what);
    }
}

/// Remembers the keys a read-only command read for the running client's
/// cache (Redis's `trackingRememberKeys`).
fn remember_read_keys(ctx: &mut Ctx, command: &Command, id: usize, args: Args) {
    let traits = ctx.state.command_stats.traits(id);
    // A read-only script's keys are not remembered, only those of the
    // commands it runs (as Redis: they run as the caller).
    let script = matches!(command.name, "eval_ro" | "evalsha_ro" | "fcall_ro");
    if !traits.readonly || traits.pubsub || script {
        return;
    }
    let client = &ctx.clients[ctx.me];
    if !client
        .tracking
        .as_ref()
        .is_some_and(|t| t.remembers_reads())
    {
        return;
    }
    let who = (ctx.me, client.id);
    // A read inside a script remembers the keys the script declared, not
    // the one it read (Redis remembers its caller's command).
    if ctx.state.in_script_call {
        for key in &ctx.state.script_keys {
            ctx.state.tracking.remember(key, who);
        }
        return;
    }
    let line: Vec<&[u8]> = args.iter().collect();
    for (position, _) in keys_of(command, &line).unwrap_or_default() {
        if let Some(key) = line.get(position) {
            ctx.state.tracking.remember(key, who);
        }
    }
}

/// Runs a script with its declared keys at hand for key tracking (see
/// `remember_read_keys`), when its caller tracks keys.
pub fn with_script_keys(ctx: &mut Ctx, keys: &[&[u8]], run: impl FnOnce(&mut Ctx)) {
    let tracking = ctx.clients[ctx.me].tracking.is_some();
    if tracking {
        ctx.state.script_keys = keys.iter().map(|k| k.to_vec()).collect();
    }
    run(ctx);
    if tracking {
        ctx.state.script_keys.clear();
    }
}

/// The bookkeeping of a command that ran (Redis's `call()` after the
/// handler): statistics, the slow log, the latency monitor, MONITOR.
/// True if it did more than count (it then took measurable time).
fn after_call(ctx: &mut Ctx, args: Args, id: usize, ticks: u64, failed: bool) -> bool {
    let state = &mut *ctx.state;
    state.stats.total_commands_processed += 1;
    state.stats.command_ticks += ticks;
    let track = state.config.latency_tracking;
    let mut extra_work = state.command_stats.record(id, ticks, failed, track);
    if ticks > state.cycle_slowest.0 {
        state.cycle_slowest = (ticks, id);
    }
    let traits = state.command_stats.traits(id);
    if ticks >= state.thresholds.slowlog_ticks && !traits.skip_slowlog {
        extra_work = true;
        let client = &ctx.clients[ctx.me];
        let name = all_commands().get(id).map_or("", |c| c.name);
        state.slowlog.push(
            shown_args(name, args).into_iter(),
            crate::clock::to_micros(ticks),
            client.addr.to_string(),
            client.name.as_deref().unwrap_or_default(),
            state.config.slowlog_max_len as usize,
        );
    }
    if ticks >= state.thresholds.latency_ticks {
        extra_work = true;
        let event = if traits.fast {
            "fast-command"
        } else {
            "command"
        };
        let millis = crate::clock::to_micros(ticks) / 1000;
        state
            .latency
            .add_if_needed(state.config.latency_monitor_threshold, event, millis);
    }
    if !state.monitors.is_empty() && !traits.hidden_from_monitor {
        extra_work = true;
        let name = all_commands().get(id).map_or("", |c| c.name);
        feed_monitors(ctx, &shown_args(name, args));
    }
    extra_work
}

/// Counts the call of a blocked command released without being served
/// (timed out, or by CLIENT UNBLOCK, `failed` when with an error): it ran
/// when it blocked, but Redis counts it when the client is released.
pub fn count_released(state: &mut ServerState, name: &[u8], failed: bool) {
    if let Some(found) = lookup_indexed(name) {
        state.stats.total_commands_processed += 1;
        let track = state.config.latency_tracking;
        state
            .command_stats
            .record(usize::from(found.id), 0, failed, track);
    }
}

/// Which arguments the slow log and MONITOR show as `(redacted)`:
/// passwords and user names of AUTH, HELLO ... AUTH, MIGRATE ... AUTH and
/// AUTH2, every rule of ACL SETUSER, and the values CONFIG SET gives the
/// settings Redis marks sensitive (Redis's `redactClientCommandArgument`).
fn redacted(name: &str, args: Args) -> Vec<usize> {
    const SENSITIVE: [&[u8]; 3] = [b"masteruser", b"masterauth", b"requirepass"];
    let mut hidden = Vec::new();
    match name {
        "auth" => hidden.extend(1..args.len()),
        "config|set" => hidden.extend(
            (2..args.len().saturating_sub(1))
                .step_by(2)
                .filter(|&i| {
                    SENSITIVE
                        .iter()
                        .any(|s| args.get(i).eq_ignore_ascii_case(s))
                })
                .map(|i| i + 1),
        ),
        "acl|setuser" => hidden.extend(2..args.len()),
        "hello" => {
            let mut i = 2;
            while i < args.len() {
                if args.get(i).eq_ignore_ascii_case(b"auth") {
                    hidden.extend((i + 1..i + 3).filter(|&j| j < args.len()));
                    i += 2;
                }
                i += 1;
            }
        }
        "migrate" => {
            let mut i = 6;
            while i < args.len() {
                let word = args.get(i);
                if word.eq_ignore_ascii_case(b"keys") {
                    break;
                }
                if word.eq_ignore_ascii_case(b"auth") {
                    hidden.extend((i + 1..i + 2).filter(|&j| j < args.len()));
                    i += 1;
                } else if word.eq_ignore_ascii_case(b"auth2") {
                    hidden.extend((i + 1..i + 3).filter(|&j| j < args.len()));
                    i += 2;
                }
                i += 1;
            }
        }
        _ => {}
    }
    hidden
}

/// The arguments as the slow log and MONITOR show them.
fn shown_args<'a>(name: &str, args: Args<'a>) -> Vec<&'a [u8]> {
    let hidden = redacted(name, args);
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if hidden.contains(&i) {
                &b"(redacted)"[..]
            } else {
                a
            }
        })
        .collect()
}

/// Shows a command to every MONITOR client in Redis's line format:
/// `+<unix time.us> [<db> <peer>] "arg" ...`.
fn feed_monitors(ctx: &mut Ctx, args: &[&[u8]]) {
    let client = &ctx.clients[ctx.me];
    let micros = crate::state::unix_micros();
    // A script's commands show as coming from "lua", as in Redis.
    let source = match &client.addr {
        _ if ctx.state.in_script_call => "lua".to_string(),
        crate::stream::Peer::Unix(path) => format!("unix:{path}"),
        addr => addr.to_string(),
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        micros / 1_000_000,
        micros % 1_000_000,
        client.db,
        source
    )
    .into_bytes();
    for arg in args {
        line.push(b' ');
        errors::push_repr(&mut line, arg);
    }
    line.extend_from_slice(b"\r\n");
    let monitors = std::mem::take(&mut ctx.state.monitors);
    for &key in &monitors {
        if key == ctx.me {
            ctx.reply.raw(&line);
        } else if let Some(monitor) = ctx.clients.get_mut(key) {
            monitor.reply.raw(&line);
            ctx.state.output_woken.push(key);
        }
    }
    ctx.state.monitors = monitors;
}

/// Logs a command that changed the dataset, in its effect form, after the
/// DELs of any keys it found expired (Redis's `propagateNow`).
fn log_command(
    ctx: &mut Ctx,
    name: &str,
    args: Args,
    reply_start: usize,
    dirty_before: u64,
    db: usize,
) {
    log_expired(ctx.state);
    let logged_as = ctx.state.logged_as.take();
    let dirty_moved = crate::db::dirty() != dirty_before;
    let forced = ctx.state.forced_targets;
    let changed = dirty_moved || forced != 0;
    // Transactions and scripts are logged as the commands they ran; a
    // script's `redis.set_repl` may keep them out.
    let effects_only = runs_commands(name);
    let mut targets = if ctx.state.call_depth == 0 {
        crate::aof::TO_ALL
    } else {
        ctx.state.script_targets
    };
    if !dirty_moved {
        targets &= forced;
    }
    if targets != crate::aof::TO_ALL {
        // A command meant only for a destination that is off is not
        // logged at all (Redis's `shouldPropagate`).
        targets &= ctx.state.live_targets();
    }
    if changed && !effects_only && targets != 0 {
        let reply = ctx.reply.as_bytes().get(reply_start..).unwrap_or(&[]);
        let state = &mut *ctx.state;
        let effect = match logged_as {
            Some(argv) => Some(vec![argv]),
            None => crate::propagate::effect_form(name, args, reply, &state.dbs[db], &state.config),
        };
        match effect {
            Some(commands) => {
                for argv in commands {
                    state.aof.log_to(db, argv, targets);
                }
            }
            None => {
                let argv = args.iter().map(<[u8]>::to_vec).collect();
                state.aof.log_to(db, argv, targets);
            }
        }
    }
    if ctx.state.call_depth == 0 {
        // Several commands from one call (a lazily expired key's DEL and
        // the command, a transaction's writes) replay atomically, except
        // for the commands that may expire any number of keys.
        let wrap = !matches!(name, "randomkey" | "scan");
        if ctx.state.repl.recording() && !ctx.state.aof.pending().is_empty() {
            ctx.state.end_call(wrap);
            // What WAIT waits for.
            ctx.clients[ctx.me].woff = ctx.state.repl.offset;
        } else {
            ctx.state.end_call(wrap);
        }
    }
}

/// Commands that run other commands (EXEC, scripts): what reaches the AOF
/// is the commands they ran, wrapped in MULTI/EXEC when there are several.
fn runs_commands(name: &str) -> bool {
    matches!(
        name,
        "exec"
            | "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "fcall"
            | "fcall_ro"
            | "xreadgroup"
            | "xclaim"
            | "xautoclaim"
    )
}

/// Runs a command for a script's `redis.call`, as the calling client but
/// replying into `reply` (Redis's script client).
pub fn run_for_script(ctx: &mut Ctx, reply: &mut Reply, args: Args) {
    let mut inner = Ctx {
        state: ctx.state,
        clients: ctx.clients,
        me: ctx.me,
        reply,
        now_ms: ctx.now_ms,
        last_tick: ctx.last_tick,
        input: None,
    };
    let was = std::mem::replace(&mut inner.state.in_script_call, true);
    dispatch(&mut inner, args);
    inner.state.in_script_call = was;
    ctx.last_tick = inner.last_tick;
}

/// Turns the keys the databases saw expire into DELs in the log (UNLINKs
/// with `lazyfree-lazy-expire`, as Redis's `propagateDeletion`).
pub fn log_expired(state: &mut ServerState) {
    log_removed(state, "lazyfree-lazy-expire");
}

/// Turns the keys eviction removed (before a command, or from the loop)
/// into DELs in the log (UNLINKs with `lazyfree-lazy-eviction`), each on
/// its own.
pub fn log_evicted(state: &mut ServerState) {
    log_removed(state, "lazyfree-lazy-eviction");
    state.end_call(false);
}

/// Logs the keys the databases removed on their own: expired, or evicted
/// (`lazy` names the setting that makes them UNLINKs).
fn log_removed(state: &mut ServerState, lazy: &str) {
    if !crate::db::take_removals_logged() {
        return;
    }
    let word: &[u8] = if crate::config::pending_bool(&state.config, lazy) {
        b"UNLINK"
    } else {
        b"DEL"
    };
    for (index, db) in state.dbs.iter_mut().enumerate() {
        if let Some(log) = db.expired_log.as_mut().filter(|l| !l.is_empty()) {
            for key in log.drain(..) {
                state.aof.log(index, vec![word.to_vec(), key.to_vec()]);
            }
        }
    }
}

/// Runs a command, or queues it inside MULTI. Inlined into its one
/// caller, which every command goes through.
#[inline(always)]
fn run(ctx: &mut Ctx, args: Args) -> Outcome {
    let resolved = resolve(ctx, args).and_then(|(command, id)| {
        if access_granted(ctx, command, id, args)
            && memory_allowed(ctx, command, id, args)
            && allowed_now(ctx, command, id, args)
        {
            Ok((command, id))
        } else {
            Err(Some(id))
        }
    });
    let (command, id) = match resolved {
        Ok(found) => found,
        Err(known) => {
            // A refused command makes a pending transaction fail at EXEC.
            if let Some(transaction) = ctx.client().multi.as_mut() {
                transaction.failed = true;
            }
            return Outcome::Rejected(known);
        }
    };
    let client = &ctx.clients[ctx.me];
    let (subscribed, in_multi) = (client.subscriptions.any(), client.multi.is_some());
    // RESP2 subscribed mode: only what Redis allows there.
    if subscribed
        && !ctx.reply.is_resp3()
        && !matches!(
            command.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        )
    {
        ctx.reply.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            command.name
        ));
        if let Some(transaction) = ctx.client().multi.as_mut() {
            transaction.failed = true;
        }
        return Outcome::Rejected(Some(id));
    }
    if in_multi && ctx.state.command_stats.traits(id).no_multi {
        ctx.reply
            .error("ERR Command not allowed inside a transaction");
        if let Some(transaction) = ctx.client().multi.as_mut() {
            transaction.failed = true;
        }
        return Outcome::Rejected(Some(id));
    }
    if in_multi
        && !matches!(
            command.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        let traits = command_traits(ctx, id, command, args);
        if let Some(transaction) = ctx.client().multi.as_mut() {
            transaction.queue(args);
            transaction.denyoom |= traits.denyoom;
            transaction.has_writes |= traits.write;
            transaction.denies_stale |= !traits.stale;
            transaction.may_replicate |= traits.write || traits.may_replicate;
        }
        ctx.reply.simple("QUEUED");
        return Outcome::Queued;
    }
    let guard = WatchGuard::before(ctx, command, args);
    (command.handler)(ctx, args);
    if ctx.state.config.notify_keyspace_events != 0 || ctx.state.tracking.active() {
        ctx.publish_queued_events();
        if ctx.clients[ctx.me].tracking.is_some() {
            remember_read_keys(ctx, command, id, args);
        }
    }
    if let Some(guard) = guard {
        guard.after(ctx);
    }
    Outcome::Ran(id, command.name)
}

/// Commands that may find nothing to change (SADD of members already
/// there, HDEL of absent fields, LREM that matches nothing...). Redis
/// signals a change to WATCH only when they change something; rudis's
/// handlers open the value for writing first, so when a watched key is
/// involved the value is compared before and after.
const SIGNAL_ONLY_ON_CHANGE: &[&str] = &[
    "sadd",
    "srem",
    "smove",
    "hdel",
    "hsetnx",
    "zadd",
    "zrem",
    "zremrangebyscore",
    "zremrangebyrank",
    "zremrangebylex",
    "lrem",
    "linsert",
    "setrange",
    "persist",
];

/// What a watched key looked like before such a command ran.
struct WatchGuard {
    db: usize,
    keys: Vec<Vec<u8>>,
    versions: Vec<Option<crate::db::WatchVersion>>,
    looks: Vec<([u8; 20], Option<i64>)>,
    dirty: u64,
}

impl WatchGuard {
    /// `None` (and no work) unless the command is one of those above and
    /// the database has watched keys.
    fn before(ctx: &Ctx, command: &Command, args: Args) -> Option<WatchGuard> {
        let db = ctx.db_index();
        if !ctx.state.dbs[db].has_watchers() || !SIGNAL_ONLY_ON_CHANGE.contains(&command.name) {
            return None;
        }
        let line: Vec<&[u8]> = args.iter().collect();
        let keys: Vec<Vec<u8>> = keys_of(command, &line)?
            .into_iter()
            .map(|(position, _)| line[position].to_vec())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let versions = ctx.state.dbs[db].watch_versions(&refs);
        let looks = keys.iter().map(|k| look(&ctx.state.dbs[db], k)).collect();
        Some(WatchGuard {
            db,
            keys,
            versions,
            looks,
            dirty: crate::db::dirty(),
        })
    }

    /// If nothing changed, takes back the change the handler counted.
    fn after(self, ctx: &mut Ctx) {
        let db = &mut ctx.state.dbs[self.db];
        let unchanged = self
            .keys
            .iter()
            .zip(&self.looks)
            .all(|(key, before)| look(db, key) == *before);
        if unchanged {
            let refs: Vec<&[u8]> = self.keys.iter().map(Vec::as_slice).collect();
            db.restore_watch_versions(&refs, &self.versions);
            crate::db::restore_dirty(self.dirty);
        }
    }
}

/// A key's value digest and expiry.
fn look(db: &Db, key: &[u8]) -> ([u8; 20], Option<i64>) {
    let mut digest = [0u8; 20];
    let expire = db.expire_of(key);
    if let Some(value) = db.get(key) {
        crate::db::digest::fold_value(&mut digest, value, expire.is_some());
    }
    (digest, expire)
}

/// What the server needs to know about a command before it runs it: its
/// flags, or for a script command the flags its script declared (Redis's
/// `getCommandFlags`). Looked up only where a check needs them.
fn command_traits(ctx: &Ctx, id: usize, command: &Command, args: Args) -> Traits {
    let traits = ctx.state.command_stats.traits(id);
    if !traits.runs_script {
        return traits;
    }
    match crate::scripting::declared_flags(ctx.state, command.name, args) {
        Some(flags) => traits.declared_by(flags),
        None => traits,
    }
}

/// The refusals of Redis's `processCommand` that depend on the server's
/// state rather than the command: `-LOADING` while the dataset loads,
/// `-MISCONF` for writes (and PING) after a failed save. Two flag tests
/// on the common path.
/// A transaction's commands were let in with EXEC: Redis runs them without
/// these checks, even when one of them (REPLICAOF) changes the answer.
fn allowed_now(ctx: &mut Ctx, command: &Command, id: usize, args: Args) -> bool {
    if ctx.state.replaying || ctx.state.in_exec {
        return true;
    }
    let persist = &ctx.state.persist;
    if persist.loading && refused_while_loading(persist, command) {
        reject(ctx, command, errors::LOADING);
        return false;
    }
    if persist.disk_error_possible()
        && (writes(ctx, command, command_traits(ctx, id, command, args)) || command.name == "ping")
        && persist.rdb_refuses_writes(&ctx.state.config)
    {
        reject(ctx, command, errors::MISCONF_RDB);
        return false;
    }
    let aof = &ctx.state.aof;
    if !aof.last_write_ok
        && aof.logging()
        && (writes(ctx, command, command_traits(ctx, id, command, args)) || command.name == "ping")
    {
        let text = format!(
            "MISCONF Errors writing to the AOF file: {}",
            aof.last_write_error
        );
        reject(ctx, command, &text);
        return false;
    }
    if ctx.state.repl.is_replica() || ctx.state.repl.min_replicas_to_write > 0 {
        let traits = command_traits(ctx, id, command, args);
        if !replication_allows(ctx, command, traits) {
            return false;
        }
    }
    if !ctx.state.repl.replicas.is_empty() {
        return replica_link_allows(ctx, command, id);
    }
    true
}

/// A replica's link carries REPLCONF ACKs, nothing else: a command on it
/// that would read or change the keyspace (or propagate) is refused, as
/// Redis refuses it so that a replica cannot use its exemption from
/// CLIENT PAUSE to act on the data. Looked at only while replicas are
/// attached.
#[cold]
fn replica_link_allows(ctx: &mut Ctx, command: &Command, id: usize) -> bool {
    if !ctx.clients[ctx.me].is_replica() {
        return true;
    }
    let traits = ctx.state.command_stats.traits(id);
    if traits.readonly || traits.write || traits.may_replicate {
        reject(ctx, command, "ERR Replica can't interact with the keyspace");
        return false;
    }
    true
}

/// A replica's connection carries the replication stream only, so a
/// command of its that generated a reply (anything but the REPLCONF ACK
/// that releases a held stream) has its reply dropped and the replica
/// disconnected, with Redis's warning. The loop calls this only for a
/// replica's commands that wrote something.
#[cold]
pub fn replica_generated_reply(ctx: &mut Ctx, args: Args, start: usize) {
    let line: Vec<&[u8]> = args.iter().take(2).collect();
    let acks = line
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"replconf"))
        && line.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"ack"));
    if acks {
        return;
    }
    ctx.reply.truncate(start);
    let shown = command_of(&line).map_or("<unknown>", |c| c.name);
    let mut info = String::new();
    client::describe_client(ctx, ctx.me, std::time::Instant::now(), &mut info);
    log::warn!("Replica generated a reply to command '{shown}', disconnecting it: {info}");
    // Its input stops here; the loop closes it at the end of the batch.
    ctx.client().closing = crate::client::Closing::AfterReply;
    ctx.state.killed.push(ctx.me);
}

/// EXEC of a transaction that queued a command a stale replica refuses.
fn exec_denies_stale(ctx: &Ctx, command: &Command) -> bool {
    let transaction = ctx.clients[ctx.me].multi.as_ref();
    command.name == "exec" && transaction.is_some_and(|t| t.denies_stale)
}

/// Whether a command writes: a write command, or EXEC of a transaction
/// that queued one.
fn writes(ctx: &Ctx, command: &Command, traits: Traits) -> bool {
    traits.write
        || (command.name == "exec"
            && ctx.clients[ctx.me]
                .multi
                .as_ref()
                .is_some_and(|t| t.has_writes))
}

/// The checks replication adds (Redis's `processCommand`): enough good
/// replicas for a write, no writes on a read-only replica, no stale
/// reads when the link is down and `replica-serve-stale-data` is off. A
/// refused EXEC aborts its transaction, as every refusal here does.
fn replication_allows(ctx: &mut Ctx, command: &Command, traits: Traits) -> bool {
    if ctx.clients[ctx.me].is_master {
        return true;
    }
    let write = writes(ctx, command, traits);
    let repl = &ctx.state.repl;
    let config = &ctx.state.config;
    if write && !repl.is_replica() {
        let wanted = repl.min_replicas_to_write;
        let max_lag = crate::config::pending_u64(config, "min-replicas-max-lag");
        if repl.good_replicas(ctx.clients, max_lag) < wanted as usize {
            reject(
                ctx,
                command,
                "NOREPLICAS Not enough good replicas to write.",
            );
            return false;
        }
    }
    if write && repl.is_replica() && crate::config::pending_bool(config, "replica-read-only") {
        reject(
            ctx,
            command,
            "READONLY You can't write against a read only replica.",
        );
        return false;
    }
    if serving_stale_refused(ctx.state) && (!traits.stale || exec_denies_stale(ctx, command)) {
        reject(
            ctx,
            command,
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
        return false;
    }
    true
}

/// A replica whose link to its master is down refuses what may not be
/// served stale (`replica-serve-stale-data no`).
pub(crate) fn serving_stale_refused(state: &ServerState) -> bool {
    state.repl.is_replica()
        && state.repl.link != crate::repl::LinkState::Connected
        && !crate::config::pending_bool(&state.config, "replica-serve-stale-data")
}

/// `maxmemory` (Redis's `processCommand`): before a client's command,
/// keys are evicted to bring memory under the limit; if that is not
/// possible, commands that may grow memory are refused with `-OOM`, and
/// so is anything but EXEC, DISCARD, QUIT and RESET inside MULTI. One
/// test when no limit is set.
fn memory_allowed(ctx: &mut Ctx, command: &Command, id: usize, args: Args) -> bool {
    if ctx.state.config.maxmemory == 0 {
        return true;
    }
    if ctx.state.replaying
        || ctx.state.call_depth != 1
        || ctx.state.in_script_call
        || ctx.clients[ctx.me].is_master
    {
        return true;
    }
    if ctx.state.repl.is_replica()
        && crate::config::pending_bool(&ctx.state.config, "replica-ignore-maxmemory")
    {
        return true;
    }
    // A replica's buffers, on loan while its batch runs, are brought up
    // to date: they are not counted against the limit.
    let client = &mut ctx.clients[ctx.me];
    if client.is_replica() {
        let buffers = ctx.reply.capacity() + ctx.input.map_or(0, |p| p.capacity());
        ctx.state.replica_buffers += buffers;
        ctx.state.replica_buffers -= std::mem::replace(&mut client.accounted_buffers, buffers);
    }
    evict_clients_first(ctx);
    let out_of_memory = crate::evict::perform(ctx.state) == crate::evict::Outcome::Fail;
    // Evicted keys are logged on their own, before the command and never
    // inside its MULTI/EXEC (Redis's `propagate_no_multi`).
    if ctx.state.propagating() {
        log_evicted(ctx.state);
    }
    if ctx.state.config.notify_keyspace_events != 0 || ctx.state.tracking.active() {
        ctx.publish_queued_events();
        // A key the client tracks that was evicted to make room for its
        // command is invalidated before the command's reply, as Redis
        // does; inside EXEC the reply has begun, so it waits for the end.
        if ctx.state.call_depth == 1 {
            send_own_invalidations(ctx);
        }
    }
    ctx.state.pre_command_oom = out_of_memory;
    if !out_of_memory {
        return true;
    }
    let transaction = ctx.clients[ctx.me].multi.as_ref();
    let refused = command_traits(ctx, id, command, args).denyoom
        || (command.name == "exec" && transaction.is_some_and(|t| t.denyoom))
        || (transaction.is_some()
            && !matches!(command.name, "exec" | "discard" | "quit" | "reset"));
    if refused {
        reject(ctx, command, errors::OOM);
    }
    !refused
}

/// Over `maxmemory`, clients over `maxmemory-clients` go before any key,
/// as Redis's `processCommand` runs `evictClients` first. Their buffers
/// are freed at once, so the key eviction that follows sees the memory
/// back; the loop closes them after this batch. The running client is
/// left to the check at the end of the loop iteration.
fn evict_clients_first(ctx: &mut Ctx) {
    if ctx
        .state
        .config
        .maxmemory_clients
        .bytes(ctx.state.config.maxmemory)
        == 0
        || !crate::evict::over_limit(ctx.state)
    {
        return;
    }
    for key in crate::evict::clients_to_evict(ctx.state, ctx.clients, Some(ctx.me)) {
        let Some(client) = ctx.clients.get_mut(key) else {
            continue;
        };
        log::debug!("Evicting client: id={} addr={}", client.id, client.addr);
        client.closing = crate::client::Closing::Now;
        client.reply = Default::default();
        client.sent = 0;
        client.parser = Default::default();
        client.account_buffers(&mut ctx.state.replica_buffers);
        ctx.state.evictor.evicted_clients += 1;
        ctx.state.killed.push(key);
    }
}

/// Authentication and ACL permissions (Redis's `authRequired` and
/// `ACLCheckAllPerm` in `processCommand`). The default user with no
/// restriction costs one load.
fn access_granted(ctx: &mut Ctx, command: &Command, id: usize, args: Args) -> bool {
    if ctx.state.replaying || ctx.state.in_script_call {
        // A script's commands were checked by the script's call.
        return true;
    }
    let client = &ctx.clients[ctx.me];
    let users = &ctx.state.users;
    let user = users.get(client.user);
    if user.is_some_and(|u| u.unrestricted) && client.authenticated || client.is_master {
        return true;
    }
    if !client.authenticated && users.default_needs_auth() && !has_flag(command, "no_auth") {
        reject(ctx, command, "NOAUTH Authentication required.");
        return false;
    }
    if user.is_none() {
        reject(ctx, command, "NOPERM no permission");
        return false;
    }
    let line: Vec<&[u8]> = args.iter().collect();
    let checked = check_acl(ctx, command, id, &line, false);
    if ctx.state.in_exec {
        // Queued when allowed; the rules changed before EXEC.
        let reason = match checked {
            Ok(()) => return true,
            Err(crate::acl::Denied::Command) => {
                "no permission to execute the command or subcommand"
            }
            Err(crate::acl::Denied::Key(_)) => "no permission to touch the specified keys",
            Err(crate::acl::Denied::Channel(_)) => {
                "no permission to access one of the channels used as arguments"
            }
        };
        ctx.reply.error(&format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"));
        return false;
    }
    let message = match checked {
        Ok(()) => return true,
        Err(crate::acl::Denied::Command) => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            command.name
        ),
        Err(crate::acl::Denied::Key(_)) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string()
        }
        Err(crate::acl::Denied::Channel(_)) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_string()
        }
    };
    reject(ctx, command, &message);
    false
}

/// Checks the client's user's permissions for a command line, logging a
/// refusal in ACL LOG (Redis's `ACLCheckAllPerm` + `addACLLogEntry`).
pub fn check_acl(
    ctx: &mut Ctx,
    command: &Command,
    id: usize,
    line: &[&[u8]],
    from_script: bool,
) -> Result<(), crate::acl::Denied> {
    let Some(user) = ctx.state.users.get(ctx.clients[ctx.me].user) else {
        return Err(crate::acl::Denied::Command);
    };
    let checked = user.check(command, id, line);
    if let Err(denied) = checked {
        let object = match denied {
            crate::acl::Denied::Command => command.name.as_bytes(),
            crate::acl::Denied::Key(at) | crate::acl::Denied::Channel(at) => line[at],
        };
        acl::log_denial(ctx, denied.into(), object, None, from_script);
    }
    checked
}

/// Refuses a command with `error`; EXEC refused discards the
/// transaction and says why (Redis's `rejectCommand`).
fn reject(ctx: &mut Ctx, command: &Command, error: &str) {
    if command.name == "exec" {
        multi::abort_exec(ctx, error);
    } else {
        ctx.reply.error(error);
    }
}

/// While a load runs: most commands wait, but during an async load (see
/// `Persistence::async_loading`) only those that would disturb it.
#[cold]
fn refused_while_loading(persist: &crate::persist::Persistence, command: &Command) -> bool {
    if persist.async_loading {
        has_flag(command, "no_async_loading")
    } else {
        !has_flag(command, "loading")
    }
}

fn has_flag(command: &Command, flag: &str) -> bool {
    command.flags.split(' ').any(|f| f == flag)
}

/// Finds the command (or subcommand) and checks its arity, replying
/// Redis's error when either fails. An arity error still names the
/// command (Redis counts it as a rejected call of that command).
fn resolve(ctx: &mut Ctx, args: Args) -> Result<(&'static Command, usize), Option<usize>> {
    // The command a client last sent (CLIENT LIST's `cmd`), set as soon
    // as it is looked up, so refused ones count: NULL when unknown.
    // EXEC's own commands do not replace it.
    let top_level = ctx.state.call_depth == 1;
    let resolved = resolve_args(ctx, args);
    if top_level {
        ctx.client().last_command = resolved.map_or("NULL", |(command, _)| command.name);
    }
    let (command, id) = resolved.map_err(|()| None)?;
    if !command.arity_fits(args.len()) {
        ctx.reply.error(&errors::wrong_arity(command.name));
        return Err(Some(id));
    }
    Ok((command, id))
}

/// The command or subcommand `args` name; `Err` once the error is
/// replied (an unknown command or subcommand).
fn resolve_args(ctx: &mut Ctx, args: Args) -> Result<(&'static Command, usize), ()> {
    let Some(found) = ctx.state.last_lookup.find(args.get(0)) else {
        let name = args.get(0);
        if name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:") {
            // An HTTP request sent to the RESP port by a browser or a
            // forged form: closed without a reply, as Redis does.
            log::warn!("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.");
            // Stop reading its input now; the loop closes it at the end of
            // the batch, without writing what was pending.
            ctx.client().closing = crate::client::Closing::AfterReply;
            ctx.state.killed.push(ctx.me);
            return Err(());
        }
        ctx.reply.error_bytes(&errors::unknown_command(args));
        return Err(());
    };
    let (mut command, mut id) = (found.command, usize::from(found.id));
    if !command.subcommands.is_empty() && args.len() >= 2 {
        match lookup_subcommand(command, args.get(1)) {
            Some((position, sub)) => {
                command = sub;
                id = usize::from(found.first_sub) + position;
            }
            None => {
                ctx.reply
                    .error_bytes(&errors::unknown_subcommand(args.get(1), command.name));
                return Err(());
            }
        }
    }
    Ok((command, id))
}

/// Parses an integer argument as Redis's `getLongLongFromObjectOrReply`.
pub fn i64_arg(reply: &mut Reply, arg: &[u8]) -> Option<i64> {
    let value = crate::protocol::parse_i64(arg);
    if value.is_none() {
        reply.error(errors::NOT_INTEGER);
    }
    value
}

/// The optional COUNT argument at `at` of LPOP/RPOP/SPOP/ZPOPMIN/ZPOPMAX
/// (Redis's `getPositiveLongFromObjectOrReply`): `Ok(None)` when absent,
/// `None` once the error is replied.
pub fn optional_count_arg(reply: &mut Reply, args: &Args, at: usize) -> Option<Option<usize>> {
    if args.len() <= at {
        return Some(None);
    }
    match crate::protocol::parse_i64(args.get(at)) {
        Some(n) if n >= 0 => Some(Some(n as usize)),
        _ => {
            reply.error("ERR value is out of range, must be positive");
            None
        }
    }
}

/// Parses an `int` argument as Redis's `getIntFromObjectOrReply`: `message`,
/// when given, replaces both the not-an-integer and the range error.
pub fn int_arg(reply: &mut Reply, arg: &[u8], message: Option<&str>) -> Option<i32> {
    let value = crate::protocol::parse_i64(arg).map(i32::try_from);
    match (value, message) {
        (Some(Ok(v)), _) => Some(v),
        (_, Some(message)) => {
            reply.error(message);
            None
        }
        (None, None) => {
            reply.error(errors::NOT_INTEGER);
            None
        }
        (Some(Err(_)), None) => {
            reply.error("ERR value is out of range, value must between -2147483648 and 2147483647");
            None
        }
    }
}

/// The `HELP` reply of a container command: one status line per entry.
pub fn reply_help(reply: &mut Reply, command: &str, lines: &[&str]) {
    // The header, the lines, and HELP with its line.
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        command.to_ascii_uppercase()
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}
