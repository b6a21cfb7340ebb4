//! Users and what they may run (Redis 7.0's ACL): passwords kept as
//! SHA-256, a root selector and optional extra selectors, each a set of
//! allowed commands (one bit per command and subcommand, numbered as
//! `cmd::all_commands`), key patterns with read/write flags and channel
//! patterns. Rules are applied to a copy of the user, so a SETUSER whose
//! rules do not all parse changes nothing, as in Redis.
//!
//! Clients hold a user's slot number: the default user is slot 0 and is
//! never removed. A user with no restriction at all is marked
//! `unrestricted`, so the request path pays one load to skip the checks.

use crate::cmd::{all_commands, Command};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Redis's categories, in the order ACL CAT lists them and rules are
/// described.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// `acl-pubsub-default allchannels`: new (and reset) users may use every
/// channel. Mirrors the setting, which rules are applied without.
static PUBSUB_DEFAULT_ALL: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Follows `acl-pubsub-default` (at start and after CONFIG SET).
pub fn set_pubsub_default(all_channels: bool) {
    PUBSUB_DEFAULT_ALL.store(all_channels, std::sync::atomic::Ordering::Relaxed);
}

fn pubsub_default_all() -> bool {
    PUBSUB_DEFAULT_ALL.load(std::sync::atomic::Ordering::Relaxed)
}

const READ: u8 = 1;
const WRITE: u8 = 2;
const READ_WRITE: u8 = READ | WRITE;

/// Why a rule was refused; the text is Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    BadHash,
    NoSuchPassword,
    KeyAfterAll,
    ChannelAfterAll,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// One set of permissions; a user may run a command if any of its
/// selectors allows it.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Selector {
    /// Every command: set by `+@all`, lost when any command is taken away.
    all_commands: bool,
    /// `+@all` without a later `-@all`: commands added to the table later
    /// would be allowed too; decides how the rules are described.
    future: bool,
    /// One bit per command id.
    allowed: Vec<u64>,
    /// `+select|0`: first arguments allowed for a command whose bit is
    /// off, by command id.
    first_args: BTreeMap<usize, Vec<String>>,
    all_keys: bool,
    /// Key patterns and their READ/WRITE flags, in the order given.
    keys: Vec<(Vec<u8>, u8)>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

/// Where a permission check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// The argument index of the key.
    Key(usize),
    /// The argument index of the channel.
    Channel(usize),
}

impl Denied {
    /// Redis's order of relevance when several selectors fail.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(at) => (2, at),
            Denied::Channel(at) => (4, at),
        }
    }
}

fn words() -> usize {
    all_commands().len().div_ceil(64)
}

fn has_category(command: &Command, category: &str) -> bool {
    command.acl.split(' ').any(|c| c == category)
}

/// The ids of a command and, for a container, of its subcommands.
fn ids_with_subcommands(id: usize) -> impl Iterator<Item = usize> {
    let count = all_commands()
        .get(id)
        .map_or(0, |command| command.subcommands.len());
    id..=id + count
}

/// The id of a command or `parent|sub` name, lower-cased.
fn command_id(name: &str) -> Option<usize> {
    let line: Vec<&[u8]> = name.split('|').map(str::as_bytes).collect();
    if line.len() > 2 {
        return None;
    }
    let (command, id) = crate::cmd::resolve_original(&line)?;
    // `get|x` names no subcommand: resolve_line falls back to `get`.
    (line.len() == 1 || command.name.contains('|')).then_some(id)
}

impl Selector {
    fn new() -> Self {
        Selector {
            allowed: vec![0; words()],
            ..Selector::default()
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if let Some(word) = self.allowed.get_mut(id / 64) {
            if on {
                *word |= 1 << (id % 64);
            } else {
                *word &= !(1 << (id % 64));
                self.all_commands = false;
            }
        }
    }

    /// Allows or forbids a command with its subcommands (Redis's
    /// `ACLChangeSelectorPerm`).
    fn change(&mut self, id: usize, on: bool) {
        for id in ids_with_subcommands(id) {
            self.set_bit(id, on);
            self.first_args.remove(&id);
        }
    }

    fn change_category(&mut self, category: &str, on: bool) {
        for (id, command) in all_commands().iter().enumerate() {
            if has_category(command, category) {
                self.change(id, on);
            }
        }
    }

    fn set_all_commands(&mut self, on: bool) {
        self.all_commands = on;
        self.future = on;
        let fill = if on { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        self.first_args.clear();
    }

    /// Applies one rule that selectors understand.
    fn apply(&mut self, rule: &str) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.set_all_commands(true),
            "nocommands" | "-@all" => self.set_all_commands(false),
            _ => return self.apply_pattern_or_command(rule),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, rule: &str) -> Result<(), RuleError> {
        let bytes = rule.as_bytes();
        match bytes.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(bytes),
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pattern = bytes[1..].to_vec();
                if !self.channels.contains(&pattern) {
                    self.channels.push(pattern);
                }
                Ok(())
            }
            Some(b'+') | Some(b'-') => {
                let on = bytes[0] == b'+';
                let name = rule[1..].to_ascii_lowercase();
                if let Some(category) = name.strip_prefix('@') {
                    if !CATEGORIES.contains(&category) {
                        return Err(RuleError::UnknownCommand);
                    }
                    self.change_category(category, on);
                    return Ok(());
                }
                self.apply_command(&name, on)
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn apply_command(&mut self, name: &str, on: bool) -> Result<(), RuleError> {
        if !on || !name.contains('|') {
            let id = command_id(name).ok_or(RuleError::UnknownCommand)?;
            self.change(id, on);
            return Ok(());
        }
        let (parent, first_arg) = name.rsplit_once('|').ok_or(RuleError::Syntax)?;
        let parent_id = command_id(parent).ok_or(RuleError::UnknownCommand)?;
        let command = all_commands()[parent_id];
        if command.name.contains('|') {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if first_arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !command.subcommands.is_empty() {
            let id = command_id(name).ok_or(RuleError::UnknownCommand)?;
            self.change(id, true);
            return Ok(());
        }
        log::warn!("Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{name})");
        let allowed = self.first_args.entry(parent_id).or_default();
        if !allowed.iter().any(|a| a == first_arg) {
            allowed.push(first_arg.to_string());
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let (flags, pattern) = if rule[0] == b'%' {
            let tilde = rule
                .iter()
                .position(|&b| b == b'~')
                .ok_or(RuleError::Syntax)?;
            let mut flags = 0;
            for &b in &rule[1..tilde] {
                let flag = match b.to_ascii_uppercase() {
                    b'R' => READ,
                    b'W' => WRITE,
                    _ => return Err(RuleError::Syntax),
                };
                if flags & flag != 0 {
                    return Err(RuleError::Syntax);
                }
                flags |= flag;
            }
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
            (flags, &rule[tilde + 1..])
        } else {
            (READ_WRITE, &rule[1..])
        };
        if pattern == b"*" && flags == READ_WRITE {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|(p, _)| p == pattern) {
            Some((_, existing)) => *existing |= flags,
            None => self.keys.push((pattern.to_vec(), flags)),
        }
        Ok(())
    }

    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Whether this selector lets `command` (number `id`) run with
    /// `args` (Redis's `ACLSelectorCheckCmd`).
    fn check(&self, command: &Command, id: usize, args: &[&[u8]]) -> Result<(), Denied> {
        if !self.all_commands && !has_flag(command, "no_auth") && !self.bit(id) {
            let at = if command.name.contains('|') { 2 } else { 1 };
            let allowed = self.first_args.get(&id).is_some_and(|firsts| {
                args.get(at).is_some_and(|arg| {
                    firsts
                        .iter()
                        .any(|f| f.as_bytes().eq_ignore_ascii_case(arg))
                })
            });
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && !command.key_specs.is_empty() {
            if let Some(keys) = crate::cmd::keys_of(command, args) {
                for (at, flags) in keys {
                    // A line too short for its command (redis.acl_check_cmd
                    // checks one before its arity is) has fewer keys.
                    let Some(key) = args.get(at) else {
                        continue;
                    };
                    if !self.key_allowed(key, key_access(flags)) {
                        return Err(Denied::Key(at));
                    }
                }
            }
        }
        if !self.all_channels {
            for (at, pattern) in channels_of(command, args) {
                let Some(channel) = args.get(at) else {
                    continue;
                };
                if !self.channel_allowed(channel, pattern) {
                    return Err(Denied::Channel(at));
                }
            }
        }
        Ok(())
    }

    /// Whether a channel (or, `pattern`, a subscription pattern, which
    /// must be listed as is) may be used (Redis's
    /// `ACLCheckChannelAgainstList`).
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if pattern {
                    p.as_slice() == channel
                } else {
                    crate::glob::glob_match(p, channel, false)
                }
            })
    }

    /// Whether `other` allows no channel this one refuses: the same
    /// rules, or all channels.
    pub fn channels_cover(&self, other: &Selector) -> bool {
        self.all_channels || (!other.all_channels && self.channels == other.channels)
    }

    /// Whether every key may be read (Redis's
    /// `ACLSelectorHasUnrestrictedKeyAccess` for read access).
    fn reads_every_key(&self) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|(pattern, flags)| flags & READ == READ && pattern.as_slice() == b"*")
    }

    fn key_allowed(&self, key: &[u8], access: u8) -> bool {
        self.keys.iter().any(|(pattern, flags)| {
            flags & access == access && crate::glob::glob_match(pattern, key, false)
        })
    }

    /// Key patterns as rules (`~a %R~b`), or `~*`.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".to_string();
        }
        let patterns: Vec<String> = self
            .keys
            .iter()
            .map(|(pattern, flags)| {
                let prefix = match *flags {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(pattern))
            })
            .collect();
        patterns.join(" ")
    }

    /// Channel patterns as rules (`&a &b`), or `&*`.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".to_string();
        }
        let patterns: Vec<String> = self
            .channels
            .iter()
            .map(|p| format!("&{}", String::from_utf8_lossy(p)))
            .collect();
        patterns.join(" ")
    }

    /// The command rules that rebuild this selector's bits, as Redis's
    /// `ACLDescribeSelectorCommandRules` finds them: `+@all` or `-@all`,
    /// then the best-fitting categories one at a time, then single
    /// commands for the differences.
    pub fn describe_commands(&self) -> String {
        let additive = !self.future;
        let mut rules: Vec<String> = Vec::new();
        let mut fake = Selector::new();
        fake.set_all_commands(!additive);
        rules.push(if additive { "-@all" } else { "+@all" }.to_string());
        let mut temp = Selector::new();
        temp.allowed = self.allowed.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            // The best fit: more commands in common than different, the
            // fewest differences, then the most in common; the first in
            // CATEGORIES order on a tie.
            let mut best: Option<(usize, usize, usize)> = None;
            for (j, category) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0usize, 0usize);
                for (id, command) in all_commands().iter().enumerate() {
                    if has_category(command, category) {
                        if temp.bit(id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                let better = match best {
                    None => true,
                    Some((_, best_diff, best_same)) => {
                        diff < best_diff || (diff == best_diff && same > best_same)
                    }
                };
                if same > diff && better {
                    best = Some((j, diff, same));
                }
            }
            let Some((j, _, _)) = best else {
                break;
            };
            let category = CATEGORIES[j];
            rules.push(format!("{}@{category}", if additive { '+' } else { '-' }));
            fake.change_category(category, additive);
            temp.change_category(category, !additive);
            applied[j] = true;
        }
        for (id, command) in all_commands().iter().enumerate() {
            let mine = self.bit(id);
            if mine != fake.bit(id) {
                rules.push(format!("{}{}", if mine { '+' } else { '-' }, command.name));
                fake.change(id, mine);
            }
            if !mine {
                for first in self.first_args.get(&id).into_iter().flatten() {
                    rules.push(format!("+{}|{first}", command.name));
                }
            }
        }
        rules.join(" ")
    }

    /// The selector as rules: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".to_string());
        } else {
            parts.push("resetchannels".to_string());
            let channels = self.describe_channels();
            if !channels.is_empty() {
                parts.push(channels);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }
}

fn has_flag(command: &Command, flag: &str) -> bool {
    command.flags.split(' ').any(|f| f == flag)
}

/// The READ/WRITE access a key spec's flags ask for.
fn key_access(flags: &str) -> u8 {
    let mut access = 0;
    for flag in flags.split(' ') {
        if flag.eq_ignore_ascii_case("access") {
            access |= READ;
        } else if ["insert", "delete", "update"]
            .iter()
            .any(|f| flag.eq_ignore_ascii_case(f))
        {
            access |= WRITE;
        }
    }
    access
}

/// The channels a command publishes or subscribes to, with whether each
/// is a pattern (Redis's `getChannelsFromCommand`; unsubscribing is not
/// checked).
fn channels_of(command: &Command, args: &[&[u8]]) -> Vec<(usize, bool)> {
    match command.name {
        "publish" | "spublish" => vec![(1, false)],
        "subscribe" | "ssubscribe" => (1..args.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..args.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}

/// A user: flags, password hashes and selectors (the root one first).
#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (true), `skip-sanitize-payload` (false), or
    /// neither.
    pub sanitize: Option<bool>,
    /// SHA-256 hashes in lower-case hex, in the order added.
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
    /// Nothing to check: every command, key and channel.
    pub unrestricted: bool,
}

/// A SHA-256 in lower-case hex.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl User {
    /// A new user as SETUSER makes it: off, no passwords, nothing allowed.
    pub fn new(name: &[u8]) -> Self {
        let mut root = Selector::new();
        root.all_channels = pubsub_default_all();
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            root,
            selectors: Vec::new(),
            unrestricted: false,
        }
    }

    /// The default user at startup: `on nopass ~* &* +@all`.
    pub fn default_user() -> Self {
        let mut user = User::new(b"default");
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = user.apply(rule);
        }
        user.refresh();
        user
    }

    pub fn refresh(&mut self) {
        self.unrestricted = self.root.unrestricted() && self.selectors.is_empty();
    }

    /// Applies rules in order, all or nothing. A rule may be a whole
    /// selector in parentheses.
    pub fn apply_all(&mut self, rules: &[String]) -> Result<(), (usize, RuleError)> {
        let mut copy = self.clone();
        for (i, rule) in rules.iter().enumerate() {
            copy.apply(rule).map_err(|e| (i, e))?;
        }
        copy.refresh();
        *self = copy;
        Ok(())
    }

    /// Applies one rule (Redis's `ACLSetUser`).
    pub fn apply(&mut self, rule: &str) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                let channels = if pubsub_default_all() {
                    "allchannels"
                } else {
                    "resetchannels"
                };
                for rule in [
                    "resetpass",
                    "resetkeys",
                    channels,
                    "off",
                    "sanitize-payload",
                    "clearselectors",
                    "-@all",
                ] {
                    self.apply(rule)?;
                }
            }
            _ => return self.apply_other(rule),
        }
        Ok(())
    }

    fn apply_other(&mut self, rule: &str) -> Result<(), RuleError> {
        let bytes = rule.as_bytes();
        match bytes.first() {
            Some(b'>') => {
                let hash = hash_password(&bytes[1..]);
                self.add_hash(hash);
            }
            Some(b'#') => {
                let hash = &rule[1..];
                if !valid_hash(hash) {
                    return Err(RuleError::BadHash);
                }
                self.add_hash(hash.to_string());
            }
            Some(b'<') => self.remove_hash(&hash_password(&bytes[1..]))?,
            Some(b'!') => {
                let hash = &rule[1..];
                if !valid_hash(hash) {
                    return Err(RuleError::BadHash);
                }
                self.remove_hash(hash)?;
            }
            Some(b'(') if bytes.last() == Some(&b')') => {
                let mut selector = Selector::new();
                for part in rule[1..rule.len() - 1].split(' ').filter(|p| !p.is_empty()) {
                    selector.apply(part)?;
                }
                self.selectors.push(selector);
            }
            _ => self.root.apply(rule)?,
        }
        Ok(())
    }

    fn add_hash(&mut self, hash: String) {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
    }

    fn remove_hash(&mut self, hash: &str) -> Result<(), RuleError> {
        let at = self
            .passwords
            .iter()
            .position(|h| h == hash)
            .ok_or(RuleError::NoSuchPassword)?;
        self.passwords.remove(at);
        Ok(())
    }

    /// Whether `password` opens this user (constant time per hash).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = hash_password(password);
        let mut found = false;
        for stored in &self.passwords {
            let same = stored
                .bytes()
                .zip(hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            found |= same;
        }
        found
    }

    /// Whether this user may run `command` with `args` (Redis's
    /// `ACLCheckAllUserCommandPerm`): any selector may allow it; when none
    /// does, the most relevant refusal is returned.
    pub fn check(&self, command: &Command, id: usize, args: &[&[u8]]) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let mut worst = Denied::Command;
        for selector in std::iter::once(&self.root).chain(&self.selectors) {
            match selector.check(command, id, args) {
                Ok(()) => return Ok(()),
                Err(denied) => {
                    if denied.rank() > worst.rank() {
                        worst = denied;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether some selector lets `command` run with `args` and read every
    /// key (Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess`).
    pub fn reads_every_key(&self, command: &Command, id: usize, args: &[&[u8]]) -> bool {
        self.unrestricted
            || std::iter::once(&self.root)
                .chain(&self.selectors)
                .any(|s| s.check(command, id, args).is_ok() && s.reads_every_key())
    }

    /// The flags ACL GETUSER and ACL LIST show, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The user as an ACL LIST line (`user name on #... ~* &* +@all`).
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("user {}", String::from_utf8_lossy(&self.name))];
        parts.extend(self.flags().iter().map(|f| f.to_string()));
        parts.extend(self.passwords.iter().map(|h| format!("#{h}")));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }
}

/// Joins arguments that form a selector across several arguments (`(`
/// `+get` `)`) into one rule, as Redis's `ACLMergeSelectorArguments`.
/// Err carries the argument where an unclosed selector starts.
pub fn merge_selector_arguments(args: &[&[u8]]) -> Result<Vec<String>, String> {
    let mut rules = Vec::new();
    let mut open: Option<String> = None;
    for arg in args {
        let text = String::from_utf8_lossy(arg).into_owned();
        match open.as_mut() {
            Some(selector) => {
                selector.push(' ');
                selector.push_str(&text);
                if text.ends_with(')') {
                    rules.push(open.take().unwrap_or_default());
                }
            }
            None if text.starts_with('(') && !text.ends_with(')') => open = Some(text),
            None => rules.push(text),
        }
    }
    match open {
        Some(selector) => Err(selector),
        None => Ok(rules),
    }
}

/// Why ACL LOG recorded an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

impl From<Denied> for Reason {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Command => Reason::Command,
            Denied::Key(_) => Reason::Key,
            Denied::Channel(_) => Reason::Channel,
        }
    }
}

/// One ACL LOG entry: a refusal, counted again while it repeats.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Reason,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// When it last happened, unix ms.
    pub ctime_ms: i64,
    /// The client as CLIENT LIST shows it.
    pub client_info: String,
}

/// The same refusal within this many ms updates the entry.
const LOG_GROUPING_MS: i64 = 60_000;

/// ACL LOG, newest first (Redis's `addACLLogEntry`).
#[derive(Default)]
pub struct Log {
    pub entries: std::collections::VecDeque<LogEntry>,
}

impl Log {
    /// Adds an entry, or counts it into one of the ten newest that says
    /// the same thing within a minute (and moves that one first).
    pub fn add(&mut self, entry: LogEntry, max_len: usize) {
        let same = self.entries.iter().take(10).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.ctime_ms - entry.ctime_ms).abs() <= LOG_GROUPING_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        if let Some(at) = same {
            if let Some(mut existing) = self.entries.remove(at) {
                existing.count += 1;
                existing.ctime_ms = entry.ctime_ms;
                existing.client_info = entry.client_info;
                self.entries.push_front(existing);
            }
            return;
        }
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }
}

/// Every user, by slot; slot 0 is the default user.
pub struct Users {
    slots: Vec<Option<User>>,
    by_name: BTreeMap<Vec<u8>, usize>,
}

impl Default for Users {
    fn default() -> Self {
        let mut users = Users {
            slots: Vec::new(),
            by_name: BTreeMap::new(),
        };
        users.insert(User::default_user());
        users
    }
}

impl Users {
    pub const DEFAULT: usize = 0;

    pub fn get(&self, slot: usize) -> Option<&User> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    pub fn slot_of(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn by_name(&self, name: &[u8]) -> Option<&User> {
        self.get(self.slot_of(name)?)
    }

    /// The users in name order.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.by_name.values().filter_map(|&slot| self.get(slot))
    }

    /// Adds or replaces a user; returns its slot.
    pub fn insert(&mut self, user: User) -> usize {
        if let Some(slot) = self.slot_of(&user.name) {
            self.slots[slot] = Some(user);
            return slot;
        }
        // Slot 0 belongs to `default`, even while it is being replaced.
        if self.slots.is_empty() {
            self.slots.push(None);
        }
        let slot = if user.name == b"default" {
            Self::DEFAULT
        } else {
            match self.slots.iter().skip(1).position(Option::is_none) {
                Some(free) => free + 1,
                None => {
                    self.slots.push(None);
                    self.slots.len() - 1
                }
            }
        };
        self.by_name.insert(user.name.clone(), slot);
        self.slots[slot] = Some(user);
        slot
    }

    /// Removes a user (never the default one); returns its slot.
    pub fn remove(&mut self, name: &[u8]) -> Option<usize> {
        let slot = self.slot_of(name)?;
        if slot == Self::DEFAULT {
            return None;
        }
        self.by_name.remove(name);
        self.slots[slot] = None;
        Some(slot)
    }

    /// Applies the config file's `user` directives (Redis's
    /// `ACLLoadConfiguredUsers`): `default` is reset first, the others
    /// are made anew. Err carries the line to log.
    pub fn load_configured(&mut self, directives: &[Vec<String>]) -> Result<(), String> {
        for directive in directives {
            let Some((name, rules)) = directive.split_first() else {
                continue;
            };
            let mut user = if name == "default" {
                let mut user = self
                    .by_name(b"default")
                    .cloned()
                    .unwrap_or_else(User::default_user);
                let _ = user.apply("reset");
                user
            } else {
                User::new(name.as_bytes())
            };
            for rule in rules {
                if let Err(e) = user.apply(rule) {
                    return Err(format!(
                        "Error loading ACL rule '{rule}' for the user named '{name}': {}",
                        e.text()
                    ));
                }
            }
            if !user.enabled {
                log::info!("The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
            }
            user.refresh();
            self.insert(user);
        }
        Ok(())
    }

    /// Reads users from an ACL file (Redis's `ACLLoadFromFile`): every
    /// line is checked and any error refuses the whole file, with every
    /// error in one line. A file without `default` gets the stock one.
    pub fn from_file(path: &str) -> Result<Users, String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{path}': {}",
                crate::errors::os_error_text(&e)
            )
        })?;
        let text = String::from_utf8_lossy(&text);
        let mut users = Users {
            slots: vec![None],
            by_name: BTreeMap::new(),
        };
        let mut errors = String::new();
        for (i, line) in text.split('\n').enumerate() {
            let number = i + 1;
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            if words[0] != "user" || words.len() < 2 {
                errors.push_str(&format!(
                    "{path}:{number} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = words[1];
            if users.slot_of(name.as_bytes()).is_some() {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{name}' found on line {number}. "
                ));
                continue;
            }
            let mut user = User::new(name.as_bytes());
            let raw: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
            let rules = merge_selector_arguments(&raw).unwrap_or_else(|_| {
                errors.push_str(&format!(
                    "{path}:{number}: Unmatched parenthesis in selector definition."
                ));
                Vec::new()
            });
            for rule in &rules {
                let rule = rule.trim_matches(['\t', '\r', '\n']);
                if let Err(e) = user.apply(rule) {
                    errors.push_str(&format!(
                        "{path}:{number}: Error in applying operation '{rule}': {}. ",
                        e.text()
                    ));
                }
            }
            user.refresh();
            users.insert(user);
        }
        if !errors.is_empty() {
            errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
            return Err(errors);
        }
        if users.get(Self::DEFAULT).is_none() {
            users.insert(User::default_user());
        }
        Ok(users)
    }

    /// Every user as a `user ...` line, in name order (ACL SAVE, CONFIG
    /// REWRITE).
    pub fn lines(&self) -> Vec<String> {
        self.iter().map(User::describe).collect()
    }

    /// Writes the users to `path` through a temporary file renamed over
    /// it (Redis's `ACLSaveToFile`); failures are logged.
    pub fn save_file(&self, path: &str) -> std::io::Result<()> {
        let mut text = String::new();
        for line in self.lines() {
            text.push_str(&line);
            text.push('\n');
        }
        let temp = format!(
            "{path}.tmp-{}-{}",
            std::process::id(),
            crate::state::unix_millis()
        );
        let written = std::fs::write(&temp, text.as_bytes()).inspect_err(|e| {
            log::warn!(
                "Writing ACL file for ACL SAVE: {}",
                crate::errors::os_error_text(e)
            );
        });
        let renamed = written.and_then(|()| {
            std::fs::rename(&temp, path).inspect_err(|e| {
                log::warn!(
                    "Renaming ACL file for ACL SAVE: {}",
                    crate::errors::os_error_text(e)
                );
            })
        });
        if renamed.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        renamed
    }

    /// Whether clients must authenticate before running commands
    /// (Redis's `authRequired`, before the client's own flag).
    pub fn default_needs_auth(&self) -> bool {
        self.get(Self::DEFAULT)
            .is_none_or(|user| !user.nopass || !user.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &str) -> Result<User, (usize, RuleError)> {
        let mut user = User::new(b"t");
        let raw: Vec<&[u8]> = rules.split(' ').map(str::as_bytes).collect();
        let rules = merge_selector_arguments(&raw).map_err(|_| (0, RuleError::Syntax))?;
        user.apply_all(&rules)?;
        Ok(user)
    }

    fn line(rules: &str) -> String {
        user(rules)
            .map(|u| u.describe())
            .unwrap_or_else(|e| format!("{e:?}"))
    }

    #[test]
    fn descriptions_follow_redis() {
        assert_eq!(
            User::default_user().describe(),
            "user default on nopass ~* &* +@all"
        );
        assert_eq!(
            line("reset"),
            "user t off sanitize-payload resetchannels -@all"
        );
        assert_eq!(
            line("+@all -@read"),
            "user t off resetchannels +@all -@read"
        );
        assert_eq!(
            line("-@all +config -config|set"),
            "user t off resetchannels -@all +config -config|set"
        );
        assert_eq!(
            line("-@all +select|0 +select|1"),
            "user t off resetchannels -@all +select|0 +select|1"
        );
        assert_eq!(
            line("+@all -select +select|0"),
            "user t off resetchannels +@all -select +select|0"
        );
        assert_eq!(
            line("%R~a %W~a &x &x"),
            "user t off ~a resetchannels &x -@all"
        );
        assert_eq!(
            line("%r~x (~y +get)"),
            "user t off %R~x resetchannels -@all (~y resetchannels -@all +get)"
        );
        assert_eq!(
            line("+@all -@admin -debug"),
            "user t off resetchannels +@all -@admin"
        );
    }

    #[test]
    fn rule_errors_follow_redis() {
        assert_eq!(user("~* ~foo").err(), Some((1, RuleError::KeyAfterAll)));
        assert_eq!(user("&* &foo").err(), Some((1, RuleError::ChannelAfterAll)));
        assert_eq!(user("%~x").err(), Some((0, RuleError::Syntax)));
        assert_eq!(user("%RR~x").err(), Some((0, RuleError::Syntax)));
        assert_eq!(user("+nosuch").err(), Some((0, RuleError::UnknownCommand)));
        assert_eq!(user("-get|x").err(), Some((0, RuleError::UnknownCommand)));
        assert_eq!(
            user("+config|get|x").err(),
            Some((0, RuleError::FirstArgOfSubcommand))
        );
        assert_eq!(user("#abc").err(), Some((0, RuleError::BadHash)));
        assert_eq!(user("<nopw").err(), Some((0, RuleError::NoSuchPassword)));
        assert_eq!(user("(on)").err(), Some((0, RuleError::Syntax)));
    }

    #[test]
    fn passwords_are_checked_by_hash() {
        let u = user(">p1 >p2 <p1").unwrap();
        assert_eq!(u.passwords, vec![hash_password(b"p2")]);
        assert!(u.password_matches(b"p2"));
        assert!(!u.password_matches(b"p1"));
        assert_eq!(
            hash_password(b"pw"),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
    }
}
