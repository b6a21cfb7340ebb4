//! The RDB format of Redis 7.0 (version 10), both ways, with no I/O policy:
//! [`Encoder`] turns databases or one value into bytes on any `Write`,
//! [`Decoder`] turns bytes from any `Read` back into values. Where files
//! go, when they are written and what happens on failure is the business
//! of `persist.rs`; this module only knows the format (Redis's `rdb.c`).
//!
//! Values are written in the encodings Redis 7.0 writes for the same data
//! (listpacks for small hashes and sorted sets, intsets, quicklist nodes of
//! listpacks for lists), so files and DUMP payloads are interchangeable
//! with redis-server's. The decoder also reads what older versions wrote
//! (ziplists, zipmaps, linked lists, string scores).

pub mod packed;

use crate::config::Config;
use crate::db::hash::{HashLimits, HashValue};
use crate::db::set::SetValue;
use crate::db::value::ListValue;
use crate::db::zset::{ZSetLimits, ZSetValue};
use crate::db::{CompactBytes, Db, Value};
use crate::protocol::parse_i64;
use crc::{Crc, Table, CRC_64_REDIS};
use packed::{Corrupt, Element, ListpackWriter};
use std::io::{self, Read, Write};

/// The RDB version Redis 7.0 writes; DUMP payloads carry it too.
pub const RDB_VERSION: u16 = 10;

/// Redis's CRC-64 (Jones polynomial, reflected), slice-by-16 tables.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

// Opcodes (Redis's RDB_OPCODE_*).
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

// Value types (Redis's RDB_TYPE_*).
const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_MODULE: u8 = 6;
const TYPE_MODULE_2: u8 = 7;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_STREAM_LISTPACKS_3: u8 = 21;

// Length prefixes (Redis's RDB_6BITLEN ... RDB_ENCVAL).
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENCVAL: u8 = 3;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

// Quicklist node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// A quicklist node's size limit for `list-max-listpack-size` -1 .. -5
/// (Redis's `optimization_level`).
const QUICKLIST_SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// A node limited by count is still kept under 8 KB (Redis's
/// `SIZE_SAFETY_LIMIT`).
const QUICKLIST_SAFETY_LIMIT: usize = 8192;

/// Redis's default `list-max-listpack-size`: nodes of up to 8 KB.
pub const DEFAULT_LIST_FILL: i64 = -2;

/// Elements at least this big get a plain quicklist node of their own
/// (Redis's `packed_threshold`: 1 GB, changed by DEBUG
/// QUICKLIST-PACKED-THRESHOLD).
static PACKED_THRESHOLD: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(1 << 30);

/// `DEBUG SET-SKIP-CHECKSUM-VALIDATION`: DUMP payloads and files load
/// whatever their checksum says (Redis's `skip_checksum_validation`).
static SKIP_CHECKSUM_VALIDATION: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub fn set_skip_checksum_validation(skip: bool) {
    SKIP_CHECKSUM_VALIDATION.store(skip, std::sync::atomic::Ordering::Relaxed);
}

fn skip_checksum_validation() -> bool {
    SKIP_CHECKSUM_VALIDATION.load(std::sync::atomic::Ordering::Relaxed)
}

/// `DEBUG QUICKLIST-PACKED-THRESHOLD`.
pub fn set_packed_threshold(bytes: usize) {
    PACKED_THRESHOLD.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// A list cut into quicklist nodes as Redis 7.0 cuts it when elements are
/// appended one at a time: (container, listpack or plain element bytes).
pub fn quicklist_nodes(list: &ListValue, fill: i64) -> Vec<(u64, Vec<u8>)> {
    let threshold = PACKED_THRESHOLD.load(std::sync::atomic::Ordering::Relaxed);
    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut current: Option<ListpackWriter> = None;
    let mut count = 0;
    for element in list.iter() {
        if element.len() >= threshold {
            if let Some(lp) = current.take() {
                nodes.push((CONTAINER_PACKED, lp.finish()));
            }
            nodes.push((CONTAINER_PLAIN, element.to_vec()));
            continue;
        }
        let fits = current
            .as_ref()
            .is_some_and(|lp| node_allows_insert(fill, lp.size(), count, element.len()));
        if !fits {
            if let Some(lp) = current.take() {
                nodes.push((CONTAINER_PACKED, lp.finish()));
            }
            current = Some(ListpackWriter::new());
            count = 0;
        }
        if let Some(lp) = current.as_mut() {
            lp.push(element);
            count += 1;
        }
    }
    if let Some(lp) = current.take() {
        nodes.push((CONTAINER_PACKED, lp.finish()));
    }
    nodes
}

/// How many bytes a value takes in an RDB file, its type byte and key
/// aside (Redis's `rdbSavedObjectLen`, DEBUG OBJECT's `serializedlength`).
pub fn serialized_len(value: &Value, list_fill: i64) -> u64 {
    let mut encoder = Encoder::new(io::sink(), true).with_list_fill(list_fill);
    let _ = encoder.body(value);
    encoder.bytes_written()
}

/// What gets written besides the data.
#[derive(Debug, Clone)]
pub struct SaveOptions {
    /// `rdbchecksum`: the CRC64 trailer (zero when off).
    pub checksum: bool,
    /// Written as the preamble of an AOF base file (`aof-base` aux field).
    pub aof_base: bool,
    /// Each key's idle time (under an LRU policy) or LFU counter (under
    /// an LFU one), as Redis records them.
    pub access: AccessRecord,
    /// Where the replication stream stood when the snapshot was taken
    /// (Redis's `rdbSaveInfo`): a restarted server continues from it.
    pub repl: Option<ReplPosition>,
}

/// A replication stream position: the id, the offset of its last byte
/// in the snapshot, and the database its commands were running in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplPosition {
    pub stream_db: usize,
    pub id: String,
    pub offset: u64,
}

/// What of a key's use a snapshot records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRecord {
    Nothing,
    Idle,
    Freq,
}

/// Writes RDB bytes, keeping the running checksum.
pub struct Encoder<W: Write> {
    out: W,
    crc: crc::Digest<'static, u64, Table<16>>,
    written: u64,
    compress: bool,
    /// `rdb-key-save-delay`: microseconds to sleep after each key.
    key_delay_us: i64,
    /// `list-max-listpack-size`: how lists are cut into quicklist nodes.
    list_fill: i64,
}

impl<W: Write> Encoder<W> {
    pub fn new(out: W, compress: bool) -> Self {
        Encoder {
            out,
            crc: CRC64.digest(),
            written: 0,
            compress,
            key_delay_us: 0,
            list_fill: DEFAULT_LIST_FILL,
        }
    }

    /// Cuts lists into nodes as `list-max-listpack-size` says.
    pub fn with_list_fill(mut self, fill: i64) -> Self {
        self.list_fill = fill;
        self
    }

    /// Sleeps after every key of a snapshot (`rdb-key-save-delay`), so
    /// tests can observe a save in progress.
    pub fn with_key_delay_us(mut self, delay: i64) -> Self {
        self.key_delay_us = delay;
        self
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    /// A length in Redis's variable encoding (`rdbSaveLen`).
    fn len(&mut self, len: u64) -> io::Result<()> {
        if len < 1 << 6 {
            self.byte((LEN_6BIT << 6) | len as u8)
        } else if len < 1 << 14 {
            self.raw(&[(LEN_14BIT << 6) | (len >> 8) as u8, len as u8])
        } else if len <= u64::from(u32::MAX) {
            self.byte(LEN_32BIT)?;
            self.raw(&(len as u32).to_be_bytes())
        } else {
            self.byte(LEN_64BIT)?;
            self.raw(&len.to_be_bytes())
        }
    }

    /// A string as `rdbSaveRawString`: short integers in 1, 2 or 4 bytes,
    /// long strings LZF-compressed when that saves space.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(n) = parse_i64(s) {
                if let Ok(v) = i8::try_from(n) {
                    return self.raw(&[(ENCVAL << 6) | ENC_INT8, v as u8]);
                }
                if let Ok(v) = i16::try_from(n) {
                    self.byte((ENCVAL << 6) | ENC_INT16)?;
                    return self.raw(&v.to_le_bytes());
                }
                if let Ok(v) = i32::try_from(n) {
                    self.byte((ENCVAL << 6) | ENC_INT32)?;
                    return self.raw(&v.to_le_bytes());
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(compressed) = lzf_compress(s) {
                self.byte((ENCVAL << 6) | ENC_LZF)?;
                self.len(compressed.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&compressed);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// The type byte Redis writes for a value in its encoding.
    fn value_type(value: &Value) -> u8 {
        match value {
            Value::Str(_) | Value::RawStr(_) | Value::PlainStr(_) | Value::OwnInt(_) => TYPE_STRING,
            Value::List(_) => TYPE_LIST_QUICKLIST_2,
            Value::Hash(h) => match **h {
                HashValue::Small(_) => TYPE_HASH_LISTPACK,
                HashValue::Big(_) => TYPE_HASH,
            },
            Value::Set(s) => match **s {
                SetValue::Ints(_) => TYPE_SET_INTSET,
                SetValue::Big(_) => TYPE_SET,
            },
            Value::ZSet(z) => match **z {
                ZSetValue::Small(_) => TYPE_ZSET_LISTPACK,
                ZSetValue::Big(_) => TYPE_ZSET_2,
            },
            Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
        }
    }

    /// A value's type byte and body (`rdbSaveObjectType` + `rdbSaveObject`).
    pub fn value(&mut self, value: &Value) -> io::Result<()> {
        self.byte(Self::value_type(value))?;
        self.body(value)
    }

    /// A value's body, after its type byte (and, in a file, its key).
    fn body(&mut self, value: &Value) -> io::Result<()> {
        match value {
            Value::Str(s) => self.string(s),
            Value::RawStr(s) => self.string(s),
            Value::PlainStr(s) | Value::OwnInt(s) => self.string(s),
            Value::List(list) => self.quicklist(list),
            Value::Stream(stream) => {
                let nodes = stream.rdb_nodes();
                self.len(nodes.len() as u64)?;
                for node in &nodes {
                    self.string(&node.key)?;
                    self.string(&node.listpack)?;
                }
                self.len(stream.len() as u64)?;
                let first = stream.first_id().unwrap_or_default();
                for id in [stream.last_id, first, stream.max_deleted_id] {
                    self.len(id.ms)?;
                    self.len(id.seq)?;
                }
                self.len(stream.entries_added)?;
                // Consumer groups (`rdbSaveStreamPEL`, `rdbSaveStreamConsumers`).
                let raw_id = |id: &crate::db::stream::StreamId| {
                    let mut key = [0u8; 16];
                    key[..8].copy_from_slice(&id.ms.to_be_bytes());
                    key[8..].copy_from_slice(&id.seq.to_be_bytes());
                    key
                };
                self.len(stream.groups.len() as u64)?;
                for (name, group) in &stream.groups {
                    self.string(name)?;
                    self.len(group.last_id.ms)?;
                    self.len(group.last_id.seq)?;
                    self.len(group.entries_read.unwrap_or(u64::MAX))?;
                    self.len(group.pending.len() as u64)?;
                    for (id, pending) in group.pending.iter() {
                        self.raw(&raw_id(id))?;
                        self.raw(&pending.delivered_ms.to_le_bytes())?;
                        self.len(pending.deliveries)?;
                    }
                    self.len(group.consumers.len() as u64)?;
                    for (consumer_name, consumer) in &group.consumers {
                        self.string(consumer_name)?;
                        self.raw(&consumer.seen_ms.to_le_bytes())?;
                        self.len(consumer.pending.len() as u64)?;
                        for id in consumer.pending.keys() {
                            self.raw(&raw_id(id))?;
                        }
                    }
                }
                Ok(())
            }
            Value::Hash(hash) => match &**hash {
                HashValue::Small(pairs) => {
                    let mut lp = ListpackWriter::new();
                    for (field, value) in pairs {
                        lp.push(field);
                        lp.push(value);
                    }
                    self.string(&lp.finish())
                }
                HashValue::Big(dict) => {
                    self.len(dict.len() as u64)?;
                    for (field, value) in dict.iter() {
                        self.string(field)?;
                        self.string(value)?;
                    }
                    Ok(())
                }
            },
            Value::Set(set) => match &**set {
                SetValue::Ints(ints) => self.string(&packed::encode_intset(ints)),
                SetValue::Big(dict) => {
                    self.len(dict.len() as u64)?;
                    for (member, ()) in dict.iter() {
                        self.string(member)?;
                    }
                    Ok(())
                }
            },
            Value::ZSet(zset) => match &**zset {
                ZSetValue::Small(items) => {
                    let mut lp = ListpackWriter::new();
                    for (score, member) in items {
                        lp.push(member);
                        lp.push(score_text(*score).as_bytes());
                    }
                    self.string(&lp.finish())
                }
                ZSetValue::Big(_) => {
                    // Greatest first, so a loader inserting at the head of
                    // a skiplist does no searching (`rdbSaveObject`).
                    let all = zset.range(0, zset.len().saturating_sub(1));
                    self.len(all.len() as u64)?;
                    for (member, score) in all.into_iter().rev() {
                        self.string(member)?;
                        self.raw(&score.to_le_bytes())?;
                    }
                    Ok(())
                }
            },
        }
    }

    /// A list as Redis 7.0's quicklist of listpack nodes, split where
    /// appending one element at a time would have split it.
    fn quicklist(&mut self, list: &ListValue) -> io::Result<()> {
        let nodes = quicklist_nodes(list, self.list_fill);
        self.len(nodes.len() as u64)?;
        for (container, blob) in nodes {
            self.len(container)?;
            self.string(&blob)?;
        }
        Ok(())
    }

    /// The function section: each library's code (`rdbSaveFunctions`).
    fn libraries(&mut self, libraries: &[&[u8]]) -> io::Result<()> {
        for code in libraries {
            self.byte(OP_FUNCTION2)?;
            self.string(code)?;
        }
        Ok(())
    }

    fn aux(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.byte(OP_AUX)?;
        self.string(key.as_bytes())?;
        self.string(value)
    }

    /// A whole snapshot: header, aux fields, every non-empty database,
    /// EOF and checksum (`rdbSaveRio`). Returns the writer.
    pub fn snapshot(
        mut self,
        dbs: &[Db],
        libraries: &[&[u8]],
        options: SaveOptions,
        now_ms: i64,
    ) -> io::Result<W> {
        self.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        self.aux("redis-ver", crate::REDIS_VERSION.as_bytes())?;
        self.aux("redis-bits", b"64")?;
        self.aux("ctime", (now_ms / 1000).to_string().as_bytes())?;
        self.aux(
            "used-mem",
            crate::alloc::allocated_bytes().to_string().as_bytes(),
        )?;
        if let Some(repl) = &options.repl {
            self.aux("repl-stream-db", repl.stream_db.to_string().as_bytes())?;
            self.aux("repl-id", repl.id.as_bytes())?;
            self.aux("repl-offset", repl.offset.to_string().as_bytes())?;
        }
        self.aux("aof-base", if options.aof_base { b"1" } else { b"0" })?;
        self.libraries(libraries)?;
        for (index, db) in dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            self.byte(OP_SELECTDB)?;
            self.len(index as u64)?;
            self.byte(OP_RESIZEDB)?;
            self.len(db.len() as u64)?;
            self.len(db.expires.len() as u64)?;
            for (key, value) in db.iter() {
                if let Some(when) = db.expire_of(key) {
                    self.byte(OP_EXPIRETIME_MS)?;
                    self.raw(&when.to_le_bytes())?;
                }
                match options.access {
                    AccessRecord::Nothing => {}
                    AccessRecord::Idle => {
                        self.byte(OP_IDLE)?;
                        self.len(db.idle_secs(key).unwrap_or(0))?;
                    }
                    AccessRecord::Freq => {
                        self.byte(OP_FREQ)?;
                        self.byte(db.freq(key).unwrap_or(0) as u8)?;
                    }
                }
                self.byte(Self::value_type(value))?;
                self.string(key)?;
                self.body(value)?;
                crate::child_info::key_written();
                if self.key_delay_us != 0 {
                    debug_delay(self.key_delay_us);
                }
            }
        }
        self.byte(OP_EOF)?;
        let crc = if options.checksum {
            self.crc.clone().finalize()
        } else {
            0
        };
        self.out.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        Ok(self.out)
    }
}

/// Whether a quicklist node of `node_bytes` holding `count` elements takes
/// one more of `element_len` bytes under `fill` (Redis 7.0's
/// `_quicklistNodeAllowInsert`): the element's length plus an 8-byte
/// estimate of its header and back-length, weighed against the size limit
/// of a negative fill, or the count of a positive one (within 8 KB).
fn node_allows_insert(fill: i64, node_bytes: usize, count: usize, element_len: usize) -> bool {
    const SIZE_ESTIMATE_OVERHEAD: usize = 8;
    let new_size = node_bytes + element_len + SIZE_ESTIMATE_OVERHEAD;
    if fill < 0 {
        let level = usize::try_from(-fill - 1).unwrap_or(usize::MAX);
        let limit = QUICKLIST_SIZE_LEVELS[level.min(QUICKLIST_SIZE_LEVELS.len() - 1)];
        new_size <= limit
    } else {
        let most = usize::try_from(fill.max(1)).unwrap_or(usize::MAX);
        new_size <= QUICKLIST_SAFETY_LIMIT && count < most
    }
}

/// A score as a listpack stores it (Redis's `d2string`): integral values
/// within 2^52 as integers, the rest as `%.17g`.
fn score_text(score: f64) -> String {
    const LIMIT: f64 = 4_503_599_627_370_496.0;
    if score == 0.0 {
        if score.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        }
    } else if score.is_finite() && score > -LIMIT && score < LIMIT && score.fract() == 0.0 {
        (score as i64).to_string()
    } else {
        crate::float::format_double(score)
    }
}

fn lzf_compress(input: &[u8]) -> Option<Vec<u8>> {
    // Only worth it when at least 4 bytes are saved (`rdbSaveLzfStringObject`).
    let cap = input.len().checked_sub(4)?;
    let mut out = vec![0u8; cap + 1];
    // SAFETY: liblzf reads `input.len()` bytes from `input` and writes at
    // most `cap` bytes into `out`, which has room for `cap + 1`.
    let n = unsafe {
        lzf_sys::lzf_compress(
            input.as_ptr() as *const _,
            input.len() as _,
            out.as_mut_ptr() as *mut _,
            cap as _,
        )
    } as usize;
    if n == 0 {
        return None;
    }
    out.truncate(n);
    Some(out)
}

fn lzf_decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    if input.is_empty() {
        // liblzf reads a first control byte whatever the input's length:
        // never hand it none. Nothing decompresses to nothing.
        return (expected == 0).then(Vec::new);
    }
    let mut out = vec![0u8; expected];
    // SAFETY: liblzf reads `input.len()` bytes and writes at most
    // `expected` bytes into `out`, which has exactly that many.
    let n = unsafe {
        lzf_sys::lzf_decompress(
            input.as_ptr() as *const _,
            input.len() as _,
            out.as_mut_ptr() as *mut _,
            expected as _,
        )
    } as usize;
    (n == expected).then_some(out)
}

/// A DUMP payload: the value, the RDB version and a CRC64 of both
/// (`createDumpPayload`).
pub fn dump_payload(value: &Value, list_fill: i64) -> Vec<u8> {
    let mut encoder = Encoder::new(Vec::with_capacity(64), true).with_list_fill(list_fill);
    // Writing to a Vec cannot fail.
    let _ = encoder.value(value);
    let mut out = encoder.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A payload's body once its version and checksum hold
/// (`verifyDumpPayload`).
fn verified_body(payload: &[u8]) -> Option<&[u8]> {
    let body_len = payload.len().checked_sub(10)?;
    let (body, footer) = payload.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().ok()?);
    let crc_holds = skip_checksum_validation() || crc64(&payload[..body_len + 2]) == crc;
    (version <= RDB_VERSION && crc_holds).then_some(body)
}

/// FUNCTION DUMP's payload: the function section of an RDB, then the
/// RDB version and a CRC64, as a DUMP payload ends.
pub fn functions_payload(libraries: &[&[u8]]) -> Vec<u8> {
    let mut encoder = Encoder::new(Vec::new(), true);
    // Writing to a Vec cannot fail.
    let _ = encoder.libraries(libraries);
    let mut out = encoder.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a FUNCTION RESTORE payload, or the error text
/// (`functionRestoreCommand`).
pub fn functions_from_payload(payload: &[u8], config: &Config) -> Result<Vec<Vec<u8>>, String> {
    let body = verified_body(payload).ok_or("DUMP payload version or checksum are wrong")?;
    let mut decoder = Decoder::new(body, Limits::from(config));
    let mut codes = Vec::new();
    while decoder.consumed < body.len() as u64 {
        match decoder.byte() {
            Err(_) => return Err("can not read data type".into()),
            Ok(OP_FUNCTION) => return Err("Pre-GA function format not supported".into()),
            Ok(OP_FUNCTION2) => {}
            Ok(_) => return Err("given type is not a function".into()),
        }
        let code = decoder
            .any_string()
            .map_err(|_| "failed loading the given functions payload".to_string())?;
        codes.push(code);
    }
    Ok(codes)
}

/// Checks a DUMP payload's version and checksum (`verifyDumpPayload`) and
/// decodes its value, with the number of blobs checked entry by entry
/// (see `Decoder::sanitized`). Why a value is refused goes to the log at
/// verbose level, as RESTORE's `rdbReportError` does. As in Redis, bytes
/// after the value are not looked at, and a value may run into the
/// footer.
pub fn restore_payload(payload: &[u8], config: &Config) -> Result<(Value, u64), RestoreError> {
    verified_body(payload).ok_or(RestoreError::Checksum)?;
    // Redis reads the value from the whole payload, footer included.
    let mut decoder = Decoder::new(payload, Limits::from(config));
    let value = decoder.byte().and_then(|kind| decoder.value(kind));
    match value {
        Ok(Some(value)) => Ok((value, decoder.sanitizations)),
        Ok(None) => Err(RestoreError::BadFormat),
        Err(e) => {
            // A short payload is refused without a word, as in Redis.
            if !matches!(e, LoadError::Io(_)) {
                log::debug!(
                    "Internal error in RDB reading offset {} -> {e}",
                    decoder.consumed
                );
            }
            Err(RestoreError::BadFormat)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    /// `ERR DUMP payload version or checksum are wrong`
    Checksum,
    /// `ERR Bad data format`
    BadFormat,
}

/// Why a file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    /// The bytes do not form a valid RDB file.
    Corrupt(String),
    /// A value of a type rudis does not have.
    Unsupported(String),
    /// The checksum at the end is not the bytes' own.
    Checksum {
        expected: u64,
        stored: u64,
    },
    /// Not an RDB file, or one of a later format: nothing was read.
    Header(String),
    /// An error met inside a file, with where the reader was.
    At(Box<ErrorSite>),
}

/// Where a file's reader stood when it failed: what redis-check-rdb
/// reports about it.
#[derive(Debug)]
pub struct ErrorSite {
    pub error: LoadError,
    pub offset: u64,
    pub site: Site,
}

/// The reader's step, and the counts redis-check-rdb shows.
#[derive(Debug, Default)]
pub struct Site {
    doing: &'static str,
    key: Option<Vec<u8>>,
    kind: Option<u8>,
    keys: u64,
    expires: u64,
    already_expired: u64,
}

impl LoadError {
    /// Logs why a snapshot read from the master's socket failed, as
    /// Redis's diskless load does: a short read is taken for a broken
    /// connection, and the replica tries again.
    pub fn log_socket_failure(&self) {
        let (offset, error) = match self {
            LoadError::At(at) => (at.offset, &at.error),
            other => (0, other),
        };
        if let LoadError::Io(_) = error {
            log::warn!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
            log::warn!("Internal error in RDB reading offset {offset} -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.");
        } else {
            log::warn!(
                "Internal error in RDB reading offset {offset} -> {error}. Failure loading rdb format"
            );
        }
    }

    /// Logs why a file could not be loaded, as Redis logs it, and gives
    /// the closing line to log before exiting. An error inside the file
    /// (`rdbReportError`) comes with redis-check-rdb's account of it.
    /// An empty closing line: nothing more to log.
    pub fn log_file_failure(&self) -> String {
        let LoadError::At(at) = self else {
            if let LoadError::Header(what) = self {
                log::warn!("{what}");
            }
            let reason = match self {
                LoadError::Io(e) => crate::errors::os_error_text(e),
                _ => "Invalid argument".to_string(),
            };
            return format!("Fatal error loading the DB: {reason}. Exiting.");
        };
        let reason = match &at.error {
            LoadError::Io(_) => {
                log::warn!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
                "Unexpected EOF reading RDB file".to_string()
            }
            LoadError::Checksum { expected, stored } => {
                log::warn!(
                    "Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."
                );
                "RDB CRC error".to_string()
            }
            other => other.to_string(),
        };
        let message = format!(
            "Internal error in RDB reading offset {} -> {reason}",
            at.offset
        );
        log::warn!("{message}");
        let site = &at.site;
        let mut report = format!(
            "--- RDB ERROR DETECTED ---\n[offset {}] {message}\n[additional info] While doing: {}",
            at.offset, site.doing
        );
        if let Some(key) = &site.key {
            report += &format!(
                "\n[additional info] Reading key '{}'",
                String::from_utf8_lossy(key)
            );
        }
        if let Some(kind) = site.kind {
            let name = TYPE_NAMES
                .get(usize::from(kind))
                .copied()
                .unwrap_or("unknown");
            report += &format!("\n[additional info] Reading type {kind} ({name})");
        }
        report += &format!(
            "\n[info] {} keys read\n[info] {} expires\n[info] {} already expired",
            site.keys, site.expires, site.already_expired
        );
        log::warn!(target: "raw", "{report}");
        // Redis's checker exits by itself unless it too fails inside a
        // value (`rdbLoadObject`), which ends with the closing line.
        // (It checks the type before the key: `rdbIsObjectType`.)
        let object_type = site.kind.is_some_and(|t| t <= 7 || (9..=19).contains(&t));
        let in_value = site.doing == "read-object-value"
            && object_type
            && matches!(at.error, LoadError::Corrupt(_) | LoadError::Unsupported(_));
        if !in_value {
            return String::new();
        }
        "Terminating server after rdb file reading failure.".to_string()
    }
}

/// Value types by their RDB number, as redis-check-rdb names them.
const TYPE_NAMES: [&str; 19] = [
    "string",
    "list-linked",
    "set-hashtable",
    "zset-v1",
    "hash-hashtable",
    "zset-v2",
    "module-value",
    "",
    "",
    "hash-zipmap",
    "list-ziplist",
    "set-intset",
    "zset-ziplist",
    "hash-ziplist",
    "quicklist",
    "stream",
    "hash-listpack",
    "zset-listpack",
    "quicklist-v2",
];

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                write!(
                    f,
                    "Short read or OOM loading DB. Unrecoverable error, aborting now."
                )
            }
            LoadError::Io(e) => write!(f, "I/O error loading DB: {e}"),
            LoadError::Corrupt(what) | LoadError::Unsupported(what) | LoadError::Header(what) => {
                write!(f, "{what}")
            }
            LoadError::At(at) => at.error.fmt(f),
            // Redis's two lines: tools look for "RDB CRC error".
            LoadError::Checksum { expected, stored } => write!(
                f,
                "Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now.\n\
                 Internal error in RDB reading -> RDB CRC error"
            ),
        }
    }
}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        LoadError::Io(e)
    }
}

impl From<Corrupt> for LoadError {
    fn from(c: Corrupt) -> Self {
        LoadError::Corrupt(c.0.to_string())
    }
}

fn corrupt(what: &str) -> LoadError {
    LoadError::Corrupt(what.to_string())
}

/// A packed blob that failed its checks, in Redis's words.
fn integrity(what: &str) -> LoadError {
    LoadError::Corrupt(format!("{what} integrity check failed."))
}

/// The encoding thresholds values are built with while loading.
#[derive(Clone, Copy)]
pub struct Limits {
    pub hash: HashLimits,
    pub zset: ZSetLimits,
    pub max_intset: usize,
    /// `key-load-delay`, per key.
    pub key_load_delay: i64,
    /// Bytes read between two calls to the progress callback.
    pub progress_interval: u64,
}

impl From<&Config> for Limits {
    fn from(config: &Config) -> Self {
        Limits {
            hash: config.hash_limits(),
            zset: config.zset_limits(),
            max_intset: config.set_max_intset_entries,
            key_load_delay: config.key_load_delay,
            progress_interval: config.loading_process_events_interval_bytes.max(1024),
        }
    }
}

/// Sleeps `usec` microseconds; a negative -N sleeps one microsecond one
/// time in N, on average (Redis's `debugDelay`, for `key-load-delay`).
pub fn debug_delay(usec: i64) {
    let usec = if usec < 0 {
        let n = usize::try_from(usec.unsigned_abs()).unwrap_or(usize::MAX);
        u64::from(crate::cmd::random_below(n) == 0)
    } else {
        usec as u64
    };
    if usec > 0 {
        std::thread::sleep(std::time::Duration::from_micros(usec));
    }
}

/// One key as the file holds it.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_ms: Option<i64>,
    /// The LFU counter and idle seconds the file recorded.
    pub freq: Option<u8>,
    pub idle_secs: Option<u64>,
}

/// What a snapshot hands its reader, in file order.
pub enum LoadEvent {
    /// `RESIZEDB`: how many keys, and keys with an expiry, database `db`
    /// holds (a hint from the file: never trusted beyond a reservation).
    Resize {
        db: usize,
        keys: u64,
        expires: u64,
    },
    Key(LoadedKey),
    /// A function library's code.
    Library(Vec<u8>),
}

/// What the aux fields said, for the log.
#[derive(Debug, Default)]
pub struct Header {
    pub version: u16,
    pub redis_ver: Option<String>,
    pub ctime: Option<i64>,
    pub used_mem: Option<i64>,
    pub aof_base: bool,
    /// Empty collections left out (Redis skips them rather than fail).
    pub empty_keys_skipped: u64,
    /// The `repl-*` aux fields, when all three were there.
    pub repl: Option<ReplPosition>,
    repl_stream_db: Option<usize>,
    repl_id: Option<String>,
    repl_offset: Option<u64>,
}

/// Reads RDB bytes, keeping the running checksum and a byte count.
pub struct Decoder<R: Read> {
    input: R,
    crc: crc::Digest<'static, u64, Table<16>>,
    /// Small reads not yet folded into `crc`: most reads are a byte or
    /// two, and the checksum runs far faster over a few KB at a time.
    crc_pending: Vec<u8>,
    consumed: u64,
    limits: Limits,
    /// Blobs checked entry by entry (see `sanitized`).
    sanitizations: u64,
    /// What the file reader was doing, for the report of an error.
    site: Site,
}

/// How many small reads' bytes the decoder gathers before checksumming.
const CRC_BATCH: usize = 4096;

impl<R: Read> Decoder<R> {
    pub fn new(input: R, limits: Limits) -> Self {
        Decoder {
            input,
            crc: CRC64.digest(),
            crc_pending: Vec::with_capacity(CRC_BATCH),
            consumed: 0,
            limits,
            sanitizations: 0,
            site: Site::default(),
        }
    }

    /// Folds `bytes`, just read, into the checksum (after what is pending).
    fn checksum(&mut self, bytes: &[u8]) {
        if bytes.len() <= 64 {
            if self.crc_pending.len() + bytes.len() > CRC_BATCH {
                self.crc.update(&self.crc_pending);
                self.crc_pending.clear();
            }
            self.crc_pending.extend_from_slice(bytes);
        } else {
            self.crc.update(&self.crc_pending);
            self.crc_pending.clear();
            self.crc.update(bytes);
        }
    }

    /// The checksum of everything read so far.
    fn checksum_so_far(&mut self) -> u64 {
        self.crc.update(&self.crc_pending);
        self.crc_pending.clear();
        self.crc.clone().finalize()
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        self.input.read_exact(buf)?;
        self.checksum(buf);
        self.consumed += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, LoadError> {
        let mut b = [0u8];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    /// Reads `n` bytes without trusting `n`: memory grows with what is
    /// really there, so a corrupt length cannot allocate gigabytes.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, LoadError> {
        const TRUSTED: u64 = 1 << 20;
        let out = if n <= TRUSTED {
            // Small enough to allocate before reading.
            let mut out = vec![0u8; n as usize];
            self.input.read_exact(&mut out)?;
            out
        } else {
            let mut out = Vec::with_capacity(TRUSTED as usize);
            let got = (&mut self.input).take(n).read_to_end(&mut out)?;
            if got as u64 != n {
                return Err(LoadError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            out
        };
        self.checksum(&out);
        self.consumed += n;
        Ok(out)
    }

    /// A length, or the special encoding of an integer or LZF string.
    fn len_or_special(&mut self) -> Result<(u64, bool), LoadError> {
        let first = self.byte()?;
        match first >> 6 {
            0 => Ok((u64::from(first & 0x3F), false)),
            1 => Ok((
                (u64::from(first & 0x3F) << 8) | u64::from(self.byte()?),
                false,
            )),
            3 => Ok((u64::from(first & 0x3F), true)),
            _ => match first {
                LEN_32BIT => {
                    let mut b = [0u8; 4];
                    self.exact(&mut b)?;
                    Ok((u64::from(u32::from_be_bytes(b)), false))
                }
                LEN_64BIT => {
                    let mut b = [0u8; 8];
                    self.exact(&mut b)?;
                    Ok((u64::from_be_bytes(b), false))
                }
                _ => Err(corrupt("unknown length encoding")),
            },
        }
    }

    /// A length. As Redis's `rdbLoadLen`, the mark of a special string
    /// encoding is ignored: its six bits are the length.
    fn len(&mut self) -> Result<u64, LoadError> {
        Ok(self.len_or_special()?.0)
    }

    /// A string in any of its encodings (`rdbGenericLoadStringObject`).
    pub fn string(&mut self, max_len: u64) -> Result<Vec<u8>, LoadError> {
        let (len, special) = self.len_or_special()?;
        if !special {
            if len > max_len {
                return Err(corrupt("string too long"));
            }
            return self.bytes(len);
        }
        let n: i64 = match len as u8 {
            ENC_INT8 => i64::from(self.byte()? as i8),
            ENC_INT16 => {
                let mut b = [0u8; 2];
                self.exact(&mut b)?;
                i64::from(i16::from_le_bytes(b))
            }
            ENC_INT32 => {
                let mut b = [0u8; 4];
                self.exact(&mut b)?;
                i64::from(i32::from_le_bytes(b))
            }
            ENC_LZF => {
                let compressed_len = self.len()?;
                let plain_len = self.len()?;
                // LZF cannot expand more than ~90 times; a larger claim is a
                // corrupt length, not a reason to allocate it.
                if plain_len > max_len || plain_len > compressed_len.saturating_mul(100) + 64 {
                    return Err(corrupt("bad LZF length"));
                }
                let compressed = self.bytes(compressed_len)?;
                return lzf_decompress(&compressed, plain_len as usize)
                    .ok_or_else(|| corrupt("invalid LZF compressed string"));
            }
            _ => return Err(corrupt("unknown string encoding")),
        };
        Ok(itoa::Buffer::new().format(n).as_bytes().to_vec())
    }

    fn any_string(&mut self) -> Result<Vec<u8>, LoadError> {
        self.string(u64::MAX)
    }

    /// The blob of a listpack, ziplist, intset or zipmap value: Redis
    /// refuses an empty one before looking inside.
    fn packed_blob(&mut self) -> Result<Vec<u8>, LoadError> {
        let blob = self.any_string()?;
        if blob.is_empty() {
            return Err(corrupt("empty encoded value"));
        }
        Ok(blob)
    }

    /// The pairs of a hash or sorted set blob (a listpack, or a ziplist
    /// from before 7.0), and the name its failures are reported under.
    fn packed_pairs(
        &mut self,
        listpack: bool,
        type_name: &str,
    ) -> Result<(Vec<(Element, Element)>, String), LoadError> {
        let blob = self.packed_blob()?;
        let (elements, what) = if listpack {
            self.sanitized();
            (
                packed::decode_listpack(&blob),
                format!("{type_name} listpack"),
            )
        } else {
            (
                packed::decode_ziplist(&blob),
                format!("{type_name} ziplist"),
            )
        };
        match elements.ok().and_then(packed::pairs) {
            Some(pairs) => Ok((pairs, what)),
            None => Err(integrity(&what)),
        }
    }

    /// Counts a blob checked entry by entry where Redis counts one in
    /// INFO's `dump_payload_sanitizations` (only with deep sanitization).
    fn sanitized(&mut self) {
        self.sanitizations += 1;
    }

    fn binary_double(&mut self) -> Result<f64, LoadError> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(f64::from_le_bytes(b))
    }

    /// A score of the old ZSET type: length-prefixed text (`rdbLoadDoubleValue`).
    fn text_double(&mut self) -> Result<f64, LoadError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.bytes(u64::from(len))?;
                crate::float::parse_double(&text).ok_or_else(|| corrupt("bad double value"))
            }
        }
    }

    /// A value of the given type. `Ok(None)`: an empty collection, which
    /// Redis skips rather than load.
    pub fn value(&mut self, kind: u8) -> Result<Option<Value>, LoadError> {
        let limits = self.limits;
        let value = match kind {
            TYPE_STRING => Value::Str(CompactBytes::from(self.any_string()?)),
            TYPE_LIST => {
                let len = self.len()?;
                let mut list = ListValue::new();
                for _ in 0..len {
                    list.push_back(&self.any_string()?);
                }
                Value::List(Box::new(list))
            }
            TYPE_LIST_ZIPLIST => {
                let blob = self.packed_blob()?;
                let list = packed::decode_ziplist(&blob)
                    .map_err(|_| integrity("List ziplist"))?
                    .into_iter()
                    .map(|e| e.into_bytes())
                    .collect();
                Value::List(Box::new(list))
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                let mut list = ListValue::new();
                for _ in 0..nodes {
                    let container = if kind == TYPE_LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        CONTAINER_PACKED
                    };
                    if container != CONTAINER_PLAIN && container != CONTAINER_PACKED {
                        return Err(integrity("Quicklist"));
                    }
                    let blob = self.any_string()?;
                    if blob.is_empty() {
                        return Err(corrupt("empty quicklist node"));
                    }
                    if container == CONTAINER_PLAIN {
                        list.push_back(&blob);
                        continue;
                    }
                    let elements = if kind == TYPE_LIST_QUICKLIST_2 {
                        self.sanitized();
                        packed::decode_listpack(&blob).map_err(|_| integrity("Listpack"))?
                    } else {
                        packed::decode_ziplist(&blob).map_err(|_| integrity("Ziplist"))?
                    };
                    // Empty nodes are skipped, as Redis does.
                    for element in elements {
                        list.push_back(&element.into_bytes());
                    }
                }
                Value::List(Box::new(list))
            }
            TYPE_SET => {
                let len = self.len()?;
                let mut set = SetValue::default();
                for _ in 0..len {
                    let member = self.any_string()?;
                    if !set.add(&member, limits.max_intset) {
                        return Err(corrupt("Duplicate set members detected"));
                    }
                }
                Value::Set(Box::new(set))
            }
            TYPE_SET_INTSET => {
                let blob = self.packed_blob()?;
                self.sanitized();
                let ints = packed::decode_intset(&blob).map_err(|_| integrity("Intset"))?;
                let mut set = SetValue::Ints(Vec::new());
                if ints.len() <= limits.max_intset {
                    set = SetValue::Ints(ints);
                } else {
                    let mut digits = itoa::Buffer::new();
                    for n in ints {
                        set.add(digits.format(n).as_bytes(), limits.max_intset);
                    }
                }
                Value::Set(Box::new(set))
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let len = self.len()?;
                let mut zset = ZSetValue::default();
                for _ in 0..len {
                    let member = self.any_string()?;
                    let score = if kind == TYPE_ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.text_double()?
                    };
                    if score.is_nan() {
                        return Err(corrupt("Zset with NAN score detected"));
                    }
                    if zset.insert(&member, score, limits.zset) {
                        continue;
                    }
                    return Err(corrupt("Duplicate zset fields detected"));
                }
                Value::ZSet(Box::new(zset))
            }
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let (pairs, what) = self.packed_pairs(kind == TYPE_ZSET_LISTPACK, "Zset")?;
                let mut zset = ZSetValue::default();
                for (member, score) in pairs {
                    let score = match score {
                        Element::Int(n) => n as f64,
                        Element::Bytes(text) => packed::listpack_score(&text),
                    };
                    if score.is_nan() {
                        return Err(integrity(&what));
                    }
                    if !zset.insert(&member.into_bytes(), score, limits.zset) {
                        return Err(integrity(&what));
                    }
                }
                Value::ZSet(Box::new(zset))
            }
            TYPE_HASH => {
                let len = self.len()?;
                let mut hash = HashValue::default();
                for _ in 0..len {
                    let field = self.any_string()?;
                    let value = self.any_string()?;
                    if !hash.set(&field, &value, limits.hash) {
                        return Err(corrupt("Duplicate hash fields detected"));
                    }
                }
                Value::Hash(Box::new(hash))
            }
            TYPE_HASH_ZIPMAP => {
                let blob = self.packed_blob()?;
                let pairs = packed::decode_zipmap(&blob).map_err(|_| integrity("Zipmap"))?;
                let mut hash = HashValue::default();
                for (field, value) in pairs {
                    if !hash.set(&field, &value, limits.hash) {
                        return Err(LoadError::Corrupt(format!(
                            "Hash zipmap with dup elements, or big length ({})",
                            field.len()
                        )));
                    }
                }
                Value::Hash(Box::new(hash))
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let (pairs, what) = self.packed_pairs(kind == TYPE_HASH_LISTPACK, "Hash")?;
                let mut hash = HashValue::default();
                for (field, value) in pairs {
                    if !hash.set(&field.into_bytes(), &value.into_bytes(), limits.hash) {
                        return Err(integrity(&what));
                    }
                }
                Value::Hash(Box::new(hash))
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                use crate::db::stream::{Stream, StreamId};
                let nodes = self.len()?;
                let mut stream = Stream::default();
                for _ in 0..nodes {
                    let key = self.any_string()?;
                    if key.len() != 16 {
                        return Err(corrupt(
                            "Stream node key entry is not the size of a stream ID",
                        ));
                    }
                    let blob = self.any_string()?;
                    self.sanitized();
                    let elements: Vec<Vec<u8>> = packed::decode_stream_listpack(&blob)
                        .map_err(|_| integrity("Stream listpack"))?
                        .into_iter()
                        .map(|e| e.into_bytes())
                        .collect();
                    if elements.is_empty() {
                        return Err(corrupt("Empty listpack inside stream"));
                    }
                    stream
                        .load_node(&key, elements)
                        .ok_or_else(|| integrity("Stream listpack"))?;
                }
                let length = self.len()?;
                fn id<R: Read>(d: &mut Decoder<R>) -> Result<StreamId, LoadError> {
                    Ok(StreamId::new(d.len()?, d.len()?))
                }
                let last = id(self)?;
                let (max_deleted, entries_added) = if kind == TYPE_STREAM_LISTPACKS {
                    (StreamId::MIN, length)
                } else {
                    let _first = id(self)?;
                    let max_deleted = id(self)?;
                    (max_deleted, self.len()?)
                };
                let groups = self.len()?;
                for _ in 0..groups {
                    let name = self.any_string()?;
                    let mut group = crate::db::stream::Group {
                        last_id: id(self)?,
                        ..Default::default()
                    };
                    if kind != TYPE_STREAM_LISTPACKS {
                        let read = self.len()?;
                        group.entries_read = (read != u64::MAX).then_some(read);
                    }
                    let raw_id = |decoder: &mut Self| -> Result<StreamId, LoadError> {
                        let mut key = [0u8; 16];
                        decoder.exact(&mut key)?;
                        Ok(StreamId::new(
                            u64::from_be_bytes(key[..8].try_into().unwrap_or([0; 8])),
                            u64::from_be_bytes(key[8..].try_into().unwrap_or([0; 8])),
                        ))
                    };
                    let pending = self.len()?;
                    for _ in 0..pending {
                        let pid = raw_id(self)?;
                        let mut time = [0u8; 8];
                        self.exact(&mut time)?;
                        let deliveries = self.len()?;
                        let entry = crate::db::stream::Pending {
                            consumer: std::sync::Arc::from(&[][..]),
                            delivered_ms: i64::from_le_bytes(time),
                            deliveries,
                        };
                        if group.pending.insert(pid, entry).is_some() {
                            return Err(corrupt(
                                "Duplicated global PEL entry loading stream consumer group",
                            ));
                        }
                    }
                    let consumers = self.len()?;
                    for _ in 0..consumers {
                        let consumer_name = self.any_string()?;
                        let mut time = [0u8; 8];
                        self.exact(&mut time)?;
                        let mut consumer = crate::db::stream::Consumer::new(&consumer_name);
                        consumer.seen_ms = i64::from_le_bytes(time);
                        if kind == TYPE_STREAM_LISTPACKS_3 {
                            // 7.2's active time.
                            self.exact(&mut time)?;
                        }
                        let owned = self.len()?;
                        for _ in 0..owned {
                            let pid = raw_id(self)?;
                            let Some(entry) = group.pending.get_mut(&pid) else {
                                return Err(corrupt(
                                    "stream consumer pending an entry the group does not",
                                ));
                            };
                            entry.consumer = consumer.name.clone();
                            if consumer.pending.insert(pid, ()).is_some() {
                                return Err(corrupt(
                                    "Duplicated consumer PEL entry  loading a stream consumer group",
                                ));
                            }
                        }
                        if group.consumers.insert(consumer_name, consumer).is_some() {
                            return Err(corrupt("Duplicate stream consumer detected."));
                        }
                    }
                    if group.pending.values().any(|p| p.consumer.is_empty()) {
                        return Err(corrupt("stream pending entry without a consumer"));
                    }
                    if stream.groups.contains_key(&name) {
                        return Err(LoadError::Corrupt(format!(
                            "Duplicated consumer group name {}",
                            String::from_utf8_lossy(&name)
                        )));
                    }
                    stream.groups.insert(name, group);
                }
                // Redis keeps a length that disagrees with the entries
                // (older versions could write one); rudis counts them.
                if length > 0 && nodes == 0 {
                    return Err(corrupt("Stream length inconsistent with rax entries"));
                }
                stream.set_loaded_metadata(last, max_deleted, entries_added);
                if kind == TYPE_STREAM_LISTPACKS {
                    // Files older than 7.0 carry no read counters: each is
                    // estimated from the group's last ID, as Redis does.
                    let estimates: Vec<Option<u64>> = stream
                        .groups
                        .values()
                        .map(|g| stream.entries_before(g.last_id))
                        .collect();
                    for (group, read) in stream.groups.values_mut().zip(estimates) {
                        group.entries_read = read;
                    }
                }
                Value::Stream(Box::new(stream))
            }
            TYPE_MODULE | TYPE_MODULE_2 => {
                return Err(LoadError::Unsupported(
                    "The RDB holds a module value, and rudis has no modules".into(),
                ))
            }
            other => {
                return Err(LoadError::Corrupt(format!(
                    "Unknown RDB encoding type {other}"
                )))
            }
        };
        // Empty collections are skipped, as Redis does; an empty stream is
        // a value of its own.
        let keep = matches!(value, Value::Stream(_)) || !value.is_empty();
        Ok(keep.then_some(value))
    }

    /// Reads a whole file: the header, then every key handed to `sink`,
    /// then the checksum. `progress` is called every
    /// `loading-process-events-interval-bytes` with the bytes read so far.
    pub fn snapshot(
        mut self,
        sink: &mut dyn FnMut(LoadEvent) -> Result<(), LoadError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Header, LoadError> {
        match self.read_file(sink, progress) {
            Ok(header) => Ok(header),
            Err(e @ LoadError::Header(_)) => Err(e),
            Err(error) => Err(LoadError::At(Box::new(ErrorSite {
                error,
                offset: self.consumed,
                site: std::mem::take(&mut self.site),
            }))),
        }
    }

    fn read_file(
        &mut self,
        sink: &mut dyn FnMut(LoadEvent) -> Result<(), LoadError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Header, LoadError> {
        let wrong_signature =
            || LoadError::Header("Wrong signature trying to load DB from file".into());
        let mut magic = [0u8; 9];
        self.exact(&mut magic).map_err(|_| wrong_signature())?;
        if &magic[..5] != b"REDIS" {
            return Err(wrong_signature());
        }
        // atoi, as Redis reads it: the leading digits, or 0.
        let version = magic[5..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
        if !(1..=RDB_VERSION).contains(&version) {
            return Err(LoadError::Header(format!(
                "Can't handle RDB format version {version}"
            )));
        }
        let mut header = Header {
            version,
            ..Header::default()
        };
        let mut db = 0usize;
        let mut expire_ms: Option<i64> = None;
        let mut freq: Option<u8> = None;
        let mut idle_secs: Option<u64> = None;
        let interval = self.limits.progress_interval;
        let mut next_progress = interval;
        let now_ms = crate::state::unix_millis();
        loop {
            if self.consumed >= next_progress {
                progress(self.consumed);
                next_progress = self.consumed + interval;
            }
            self.site.doing = "read-type";
            let kind = self.byte()?;
            self.site.doing = match kind {
                OP_EXPIRETIME | OP_EXPIRETIME_MS => "read-expire",
                OP_SELECTDB | OP_RESIZEDB | OP_FREQ | OP_IDLE => "read-len",
                OP_AUX => "read-aux",
                OP_MODULE_AUX => "read-module-aux",
                OP_FUNCTION | OP_FUNCTION2 => "read-functions",
                _ => "read-key",
            };
            match kind {
                OP_EXPIRETIME => {
                    let mut b = [0u8; 4];
                    self.exact(&mut b)?;
                    expire_ms = Some(i64::from(i32::from_le_bytes(b)) * 1000);
                    continue;
                }
                OP_EXPIRETIME_MS => {
                    let mut b = [0u8; 8];
                    self.exact(&mut b)?;
                    expire_ms = Some(i64::from_le_bytes(b));
                    continue;
                }
                OP_FREQ => {
                    freq = Some(self.byte()?);
                    continue;
                }
                OP_IDLE => {
                    idle_secs = Some(self.len()?);
                    continue;
                }
                OP_EOF => break,
                OP_SELECTDB => {
                    db = usize::try_from(self.len()?).unwrap_or(usize::MAX);
                    continue;
                }
                OP_RESIZEDB => {
                    let keys = self.len()?;
                    let expires = self.len()?;
                    sink(LoadEvent::Resize { db, keys, expires })?;
                    continue;
                }
                OP_AUX => {
                    let key = self.any_string()?;
                    let value = self.any_string()?;
                    let text = String::from_utf8_lossy(&value).into_owned();
                    match &key[..] {
                        b"redis-ver" => header.redis_ver = Some(text),
                        b"ctime" => header.ctime = text.parse().ok(),
                        b"used-mem" => header.used_mem = text.parse().ok(),
                        b"aof-base" => header.aof_base = text == "1",
                        b"repl-stream-db" => header.repl_stream_db = text.parse().ok(),
                        b"repl-id" if text.len() == 40 => header.repl_id = Some(text),
                        b"repl-offset" => header.repl_offset = text.parse().ok(),
                        _ => {}
                    }
                    continue;
                }
                OP_MODULE_AUX => {
                    return Err(LoadError::Unsupported(
                        "The RDB holds module data, and rudis has no modules".into(),
                    ))
                }
                OP_FUNCTION => {
                    return Err(corrupt("Pre-release function format not supported."));
                }
                OP_FUNCTION2 => {
                    let code = self.any_string()?;
                    sink(LoadEvent::Library(code))?;
                    continue;
                }
                _ => {}
            }
            self.site.kind = Some(kind);
            self.site.key = Some(self.any_string()?);
            self.site.keys += 1;
            self.site.doing = "read-object-value";
            let value = self.value(kind)?;
            let key = self.site.key.take().unwrap_or_default();
            let expire = expire_ms.take();
            let (freq, idle_secs) = (freq.take(), idle_secs.take());
            if let Some(when) = expire {
                self.site.expires += 1;
                self.site.already_expired += u64::from(when < now_ms);
            }
            let Some(value) = value else {
                header.empty_keys_skipped += 1;
                if header.empty_keys_skipped <= 10 {
                    log::warn!(
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&key)
                    );
                }
                continue;
            };
            sink(LoadEvent::Key(LoadedKey {
                db,
                key,
                value,
                expire_ms: expire,
                freq,
                idle_secs,
            }))?;
            if self.limits.key_load_delay != 0 {
                debug_delay(self.limits.key_load_delay);
            }
        }
        self.site.doing = "check-sum";
        self.site.kind = None;
        if version >= 5 {
            let expected = self.checksum_so_far();
            let mut b = [0u8; 8];
            self.input.read_exact(&mut b)?;
            self.consumed += 8;
            let stored = u64::from_le_bytes(b);
            if stored != 0 && stored != expected && !skip_checksum_validation() {
                return Err(LoadError::Checksum { expected, stored });
            }
        }
        if let (Some(stream_db), Some(id), Some(offset)) = (
            header.repl_stream_db,
            header.repl_id.take(),
            header.repl_offset,
        ) {
            header.repl = Some(ReplPosition {
                stream_db,
                id,
                offset,
            });
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from(&Config::default())
    }

    fn round_trip(value: &Value) -> Value {
        let payload = dump_payload(value, DEFAULT_LIST_FILL);
        restore_payload(&payload, &Config::default())
            .expect("restores")
            .0
    }

    #[test]
    fn crc64_is_redis_jones() {
        // Redis's crc64 self-test value.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_use_integer_and_lzf_encodings() {
        let mut e = Encoder::new(Vec::new(), true);
        e.string(b"12").unwrap();
        e.string(b"-300").unwrap();
        e.string(b"100000").unwrap();
        e.string(b"012").unwrap();
        e.string(&[b'a'; 100]).unwrap();
        let bytes = e.out.clone();
        assert_eq!(&bytes[..2], &[0xC0, 12]);
        assert_eq!(bytes[2], 0xC1);
        assert_eq!(bytes[5], 0xC2);
        assert_eq!(&bytes[10..14], &[3, b'0', b'1', b'2']);
        assert_eq!(bytes[14], 0xC3);
        let mut d = Decoder::new(&bytes[..], limits());
        assert_eq!(d.any_string().unwrap(), b"12");
        assert_eq!(d.any_string().unwrap(), b"-300");
        assert_eq!(d.any_string().unwrap(), b"100000");
        assert_eq!(d.any_string().unwrap(), b"012");
        assert_eq!(d.any_string().unwrap(), vec![b'a'; 100]);
    }

    #[test]
    fn string_dump_matches_redis() {
        // redis-server 7.0: SET k hello; DUMP k
        let payload = dump_payload(&Value::string(b"hello"), DEFAULT_LIST_FILL);
        assert_eq!(payload, b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a".to_vec());
    }

    #[test]
    fn lzf_output_matches_redis() {
        // redis-server 7.0 compresses this 3000-byte string to 1221 bytes
        // ending as below (DUMP of SET k <noise>).
        let noise: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let compressed = lzf_compress(&noise).unwrap();
        assert_eq!(compressed.len(), 1221);
        assert_eq!(
            &compressed[1221 - 12..],
            &[0, 134, 232, 21, 162, 224, 27, 243, 38, 186, 232, 10, 162][1..]
        );
    }

    #[test]
    fn every_type_round_trips() {
        let config = Config::default();
        let mut list = ListValue::new();
        for i in 0..5000 {
            list.push_back(format!("element-{i}").as_bytes());
        }
        let mut small_hash = HashValue::default();
        small_hash.set(b"f", b"v", config.hash_limits());
        let mut big_hash = HashValue::default();
        for i in 0..500 {
            big_hash.set(
                format!("f{i}").as_bytes(),
                format!("{i}").as_bytes(),
                config.hash_limits(),
            );
        }
        let mut ints = SetValue::default();
        let mut strings = SetValue::default();
        for i in 0..100 {
            ints.add(format!("{}", i * 1000).as_bytes(), 512);
            strings.add(format!("m{i}").as_bytes(), 512);
        }
        let mut small_z = ZSetValue::default();
        let mut big_z = ZSetValue::default();
        for i in 0..300 {
            let score = i as f64 / 3.0;
            if i < 10 {
                small_z.insert(format!("m{i}").as_bytes(), score, config.zset_limits());
            }
            big_z.insert(format!("m{i}").as_bytes(), score, config.zset_limits());
        }
        small_z.insert(b"inf", f64::INFINITY, config.zset_limits());
        let values = vec![
            Value::string(b"plain"),
            Value::string(b"-123456789012"),
            Value::List(Box::new(list)),
            Value::Hash(Box::new(small_hash)),
            Value::Hash(Box::new(big_hash)),
            Value::Set(Box::new(ints)),
            Value::Set(Box::new(strings)),
            Value::ZSet(Box::new(small_z)),
            Value::ZSet(Box::new(big_z)),
        ];
        for value in &values {
            let back = round_trip(value);
            assert_eq!(back.encoding(), value.encoding());
            assert_eq!(
                dump_payload(&back, DEFAULT_LIST_FILL),
                dump_payload(value, DEFAULT_LIST_FILL)
            );
        }
    }

    #[test]
    fn bad_payloads_are_refused() {
        let mut payload = dump_payload(&Value::string(b"hello"), DEFAULT_LIST_FILL);
        let config = Config::default();
        payload[2] ^= 1;
        assert_eq!(
            restore_payload(&payload, &config).err(),
            Some(RestoreError::Checksum)
        );
        assert_eq!(
            restore_payload(b"short", &config).err(),
            Some(RestoreError::Checksum)
        );
    }

    /// A body with the footer a DUMP payload ends with.
    fn with_footer(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn an_empty_lzf_string_is_not_handed_to_liblzf() {
        let config = Config::default();
        // A string, LZF-encoded: 0 compressed bytes said to give 5.
        let payload = with_footer(&[TYPE_STRING, 0xC0 | ENC_LZF, 0, 5]);
        assert_eq!(
            restore_payload(&payload, &config).err(),
            Some(RestoreError::BadFormat)
        );
        // ... and giving nothing, which Redis reads as "".
        let payload = with_footer(&[TYPE_STRING, 0xC0 | ENC_LZF, 0, 0]);
        let (value, _) = restore_payload(&payload, &config).unwrap();
        assert_eq!(value.as_str().ok(), Some(&b""[..]));
    }

    #[test]
    fn packed_blobs_are_checked_as_redis_deep_sanitization_does() {
        let config = Config::default();
        // A hash listpack {a: 1} (DUMP from redis-server 7.0.15), then
        // its field's back-length spoiled, then its count.
        let good = [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xff];
        let mut body = vec![TYPE_HASH_LISTPACK, good.len() as u8];
        body.extend_from_slice(&good);
        assert!(restore_payload(&with_footer(&body), &config).is_ok());
        for (at, byte) in [(10, 3), (6, 3), (8, 0xff)] {
            let mut bad = body.clone();
            bad[at] = byte;
            assert_eq!(
                restore_payload(&with_footer(&bad), &config).err(),
                Some(RestoreError::BadFormat),
                "byte {at} set to {byte}"
            );
        }
    }

    #[test]
    fn function_dump_matches_redis() {
        // FUNCTION DUMP of this one library, from redis-server 7.0.15.
        let code: &[u8] = b"#!lua name=lib1\nredis.register_function('g', function() return 1 end)";
        let mut expected = vec![0xf5, 0x40, 0x45];
        expected.extend_from_slice(code);
        expected.extend_from_slice(&[0x0a, 0x00, 0xc6, 0x03, 0x52, 0x09, 0xb9, 0x0c, 0xeb, 0xb8]);
        assert_eq!(functions_payload(&[code]), expected);
        let config = Config::default();
        assert_eq!(
            functions_from_payload(&expected, &config),
            Ok(vec![code.to_vec()])
        );
        assert_eq!(
            functions_from_payload(&functions_payload(&[]), &config),
            Ok(vec![])
        );
        let mut not_function = dump_payload(&Value::string(b"x"), DEFAULT_LIST_FILL);
        assert_eq!(
            functions_from_payload(&not_function, &config),
            Err("given type is not a function".into())
        );
        not_function[0] ^= 1;
        assert_eq!(
            functions_from_payload(&not_function, &config),
            Err("DUMP payload version or checksum are wrong".into())
        );
    }

    #[test]
    fn snapshot_round_trips_with_expiry() {
        let mut dbs: Vec<Db> = (0..3).map(|_| Db::default()).collect();
        dbs[0].set(b"a", Value::string(b"1"), false);
        dbs[2].set(b"b", Value::string(b"two"), false);
        dbs[2].set_expire(b"b", 4_000_000_000_000);
        let options = SaveOptions {
            checksum: true,
            aof_base: false,
            access: AccessRecord::Nothing,
            repl: None,
        };
        let library: &[u8] = b"#!lua name=lib\nredis.register_function('f', function() end)";
        let bytes = Encoder::new(Vec::new(), true)
            .snapshot(&dbs, &[library], options, 0)
            .unwrap();
        let mut keys = Vec::new();
        let mut libraries = Vec::new();
        Decoder::new(&bytes[..], limits())
            .snapshot(
                &mut |event| {
                    if let LoadEvent::Library(code) = &event {
                        libraries.push(code.clone());
                    }
                    if let LoadEvent::Key(k) = event {
                        keys.push((k.db, k.key, k.expire_ms));
                    }
                    Ok(())
                },
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(
            keys,
            vec![
                (0, b"a".to_vec(), None),
                (2, b"b".to_vec(), Some(4_000_000_000_000))
            ]
        );
        assert_eq!(libraries, vec![library.to_vec()]);
        let mut flipped = bytes.clone();
        let at = flipped.len() - 12;
        flipped[at] ^= 0x40;
        let result = Decoder::new(&flipped[..], limits()).snapshot(&mut |_| Ok(()), &mut |_| {});
        assert!(result.is_err());
        for cut in [5, 20, bytes.len() - 4] {
            let result =
                Decoder::new(&bytes[..cut], limits()).snapshot(&mut |_| Ok(()), &mut |_| {});
            assert!(result.is_err(), "truncated at {cut}");
        }
    }
}
