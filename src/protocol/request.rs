//! Incremental request parsing, the counterpart of Redis's
//! `processInlineBuffer` and `processMultibulkBuffer`.
//!
//! A [`RequestParser`] owns one client's query buffer. The connection appends
//! whatever the socket gave it and then calls [`RequestParser::next`] until it
//! answers [`Parsed::Incomplete`]. Multibulk state (arguments still expected,
//! the pending bulk length) lives here between reads, so a command split
//! across any number of reads resumes where it stopped instead of being
//! parsed again. Arguments are spans into the buffer, so parsing a command
//! copies nothing; only inline arguments, which may carry escapes, are
//! unescaped into a scratch buffer.

use super::parse_i64;
use memchr::memchr2;

/// Longest inline request, and longest multibulk header line (Redis's
/// `PROTO_INLINE_MAX_SIZE`).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Before AUTH a command may have at most this many arguments, each at
/// most this long (Redis's guard against unauthenticated memory use).
const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
const UNAUTHENTICATED_MAX_BULK: i64 = 16384;

/// Bad input that ends a connection: the client is sent
/// `-ERR Protocol error: <text>` and closed once that reply is flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    TooBigInlineRequest,
    TooBigMbulkCount,
    TooBigBulkCount,
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error line Redis sends, without the leading `-` and trailing CRLF.
    pub fn message(self) -> String {
        let detail = match self {
            Self::InvalidMultibulkLength => "invalid multibulk length".to_string(),
            Self::InvalidBulkLength => "invalid bulk length".to_string(),
            Self::UnauthenticatedMultibulkLength => "unauthenticated multibulk length".to_string(),
            Self::UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
            Self::ExpectedDollar(got) => format!("expected '$', got '{}'", got as char),
            Self::TooBigInlineRequest => "too big inline request".to_string(),
            Self::TooBigMbulkCount => "too big mbulk count string".to_string(),
            Self::TooBigBulkCount => "too big bulk count string".to_string(),
            Self::UnbalancedQuotes => "unbalanced quotes in request".to_string(),
        };
        format!("ERR Protocol error: {detail}")
    }
}

/// What one call to [`RequestParser::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes for a whole command yet: read more. This is the
    /// normal state of a connection, not an error.
    Incomplete,
    /// A whole command; its arguments are in [`RequestParser::args`].
    Command,
    /// Bad input; the connection must be closed after replying.
    Error(ProtocolError),
}

/// Where the arguments of the last command live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Query,
    Inline,
}

/// One client's query buffer and the parse state that survives between reads.
#[derive(Debug)]
pub struct RequestParser {
    buf: Vec<u8>,
    /// Bytes before `pos` are consumed.
    pos: usize,
    /// Where the multibulk command in progress starts; bytes from here on are
    /// kept when the buffer is compacted.
    command_start: usize,
    /// Arguments still expected by the multibulk command in progress
    /// (0: none in progress).
    multibulk_left: usize,
    /// Length of the bulk argument whose header has been read.
    bulk_len: Option<usize>,
    spans: Vec<(usize, usize)>,
    source: Source,
    inline: Vec<u8>,
    /// The client has not authenticated: Redis's tighter limits apply
    /// (10 arguments, bulk strings of 16 KB).
    pub unauthenticated: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            command_start: 0,
            multibulk_left: 0,
            bulk_len: None,
            unauthenticated: false,
            spans: Vec::new(),
            source: Source::Query,
            inline: Vec::new(),
        }
    }

    /// The buffer the connection reads into; new bytes are appended.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes in the query buffer (Redis's `qbuf`).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The query buffer as CLIENT LIST's `qbuf` counts it: while a bulk
    /// argument of 32 KB or more arrives, Redis has dropped what came
    /// before it (`PROTO_MBULK_BIG_ARG`), so only its bytes count.
    pub fn shown_len(&self) -> usize {
        match self.bulk_len {
            Some(len) if len >= 32 * 1024 => self.buf.len().saturating_sub(self.pos),
            _ => self.buf.len(),
        }
    }

    /// While a bulk argument of 32 KB or more arrives: the bytes still to
    /// come for it (with its CRLF), so the buffer can grow to fit it
    /// exactly, as Redis's `sdsMakeRoomForNonGreedy` does, rather than
    /// doubling.
    pub fn big_bulk_remaining(&self) -> Option<usize> {
        match self.bulk_len {
            Some(len) if len >= 32 * 1024 => {
                Some((self.pos + len + 2).saturating_sub(self.buf.len()))
            }
            _ => None,
        }
    }

    /// Capacity of the query buffer (for `CLIENT LIST`'s `qbuf-free`).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether unconsumed bytes remain after the last command.
    pub fn has_unparsed(&self) -> bool {
        self.pos < self.buf.len()
    }

    fn command_start_or_pos(&self) -> usize {
        if self.multibulk_left > 0 {
            self.command_start
        } else {
            self.pos
        }
    }

    /// Where the next command starts in the buffer (the one in progress,
    /// if any). With `consumed_since`, the bytes a command took: a
    /// replica passes its master's stream on byte for byte.
    pub fn position(&self) -> usize {
        self.command_start_or_pos()
    }

    /// The buffer's bytes from `from` (a `position`) to the current one.
    pub fn consumed_since(&self, from: usize) -> &[u8] {
        self.buf
            .get(from..self.command_start_or_pos())
            .unwrap_or(&[])
    }

    /// Puts back the command just parsed, which started at `from` (its
    /// `position`): it is parsed again later. A command held by CLIENT
    /// PAUSE waits in the buffer, as in Redis, so a replica's read offset
    /// counts it and its applied offset does not.
    pub fn unparse(&mut self, from: usize) {
        self.pos = from;
        self.command_start = from;
        self.multibulk_left = 0;
        self.bulk_len = None;
        self.source = Source::Query;
    }

    /// Bytes read and not yet consumed by a complete command.
    pub fn unparsed_len(&self) -> usize {
        self.buf.len() - self.command_start_or_pos()
    }

    /// Drops consumed bytes so the buffer does not grow without bound. Moves
    /// at most the one partial command at the end of the buffer.
    pub fn compact(&mut self) {
        let keep_from = self.command_start_or_pos();
        if keep_from == 0 {
            return;
        }
        if keep_from >= self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.copy_within(keep_from.., 0);
            self.buf.truncate(self.buf.len() - keep_from);
        }
        self.pos -= keep_from;
        if self.multibulk_left > 0 {
            // Only a command in progress has spans that must stay valid.
            self.command_start -= keep_from;
            for span in &mut self.spans {
                span.0 -= keep_from;
                span.1 -= keep_from;
            }
        } else {
            self.command_start = 0;
            self.spans.clear();
        }
    }

    /// Reads go into the loop's `shared` buffer while this parser holds no
    /// bytes: an idle connection then owns no query buffer at all (Redis
    /// 7.4's reusable query buffer). See [`Self::return_buffer`].
    pub fn borrow_buffer(&mut self, shared: &mut Vec<u8>) {
        if self.buf.is_empty() {
            std::mem::swap(&mut self.buf, shared);
        }
    }

    /// Once every byte was consumed, gives the buffer to the loop (when the
    /// loop has none as big, and it is no bigger than `keep`) or frees it:
    /// an idle connection holds no query buffer. A partial command keeps
    /// the buffer it is in; the loop's next read gets a new one.
    pub fn return_buffer(&mut self, shared: &mut Vec<u8>, keep: usize) {
        if !self.buf.is_empty() || self.buf.capacity() == 0 {
            return;
        }
        // The argument list of a command with thousands of arguments is
        // not kept either, as Redis frees a command's argv.
        if self.spans.capacity() * std::mem::size_of::<(usize, usize)>() > keep {
            self.spans = Vec::new();
        }
        if self.buf.capacity() > shared.capacity() && self.buf.capacity() <= keep {
            std::mem::swap(&mut self.buf, shared);
        }
        self.buf = Vec::new();
    }

    /// Releases a large idle buffer, as Redis's `clientsCronResizeQueryBuffer`.
    pub fn shrink_if_idle(&mut self, threshold: usize) {
        if self.buf.is_empty() && self.buf.capacity() > threshold {
            self.buf = Vec::new();
        }
    }

    /// Arguments of the command that [`Parsed::Command`] announced.
    pub fn args(&self) -> Args<'_> {
        let bytes = match self.source {
            Source::Query => &self.buf[..],
            Source::Inline => &self.inline[..],
        };
        Args {
            bytes,
            spans: &self.spans,
        }
    }

    /// Parses the next command. Empty inline lines and `*0`/`*-1` headers are
    /// skipped, as Redis does.
    pub fn next(&mut self, max_bulk_len: usize) -> Parsed {
        loop {
            if self.multibulk_left == 0 {
                self.spans.clear();
                self.source = Source::Query;
                let Some(&first) = self.buf.get(self.pos) else {
                    return Parsed::Incomplete;
                };
                let started = if first == b'*' {
                    self.multibulk_header()
                } else {
                    self.inline_command()
                };
                match started {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(parsed) => return parsed,
                }
                if self.source == Source::Inline {
                    return Parsed::Command;
                }
            }
            return self.multibulk_arguments(max_bulk_len);
        }
    }

    /// Reads `*<count>\r\n`. `Ok(true)`: a command with arguments begins;
    /// `Ok(false)`: an empty one was skipped, or an inline line was empty.
    fn multibulk_header(&mut self) -> Result<bool, Parsed> {
        let (number, cr) = match length_line(&self.buf[self.pos..]) {
            LengthLine::Whole(number, cr) => (number, cr),
            LengthLine::Incomplete => return Err(Parsed::Incomplete),
            LengthLine::TooLong => return Err(Parsed::Error(ProtocolError::TooBigMbulkCount)),
        };
        let count = match number {
            Some(n) if n > UNAUTHENTICATED_MAX_ARGS && self.unauthenticated => {
                return Err(Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength))
            }
            Some(n) if n <= i64::from(i32::MAX) => n,
            _ => return Err(Parsed::Error(ProtocolError::InvalidMultibulkLength)),
        };
        self.command_start = self.pos;
        self.pos += cr + 2;
        if count <= 0 {
            return Ok(false);
        }
        self.multibulk_left = count as usize;
        self.bulk_len = None;
        // Do not trust the count for the allocation: it is the client's word.
        self.spans.reserve(self.multibulk_left.min(1024));
        Ok(true)
    }

    fn multibulk_arguments(&mut self, max_bulk_len: usize) -> Parsed {
        if self.bulk_len.is_none() {
            self.whole_short_arguments(max_bulk_len);
        }
        while self.multibulk_left > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let rest = &self.buf[self.pos..];
                    let (number, cr) = match length_line(rest) {
                        LengthLine::Whole(number, cr) => (number, cr),
                        LengthLine::Incomplete => return Parsed::Incomplete,
                        LengthLine::TooLong => {
                            return Parsed::Error(ProtocolError::TooBigBulkCount)
                        }
                    };
                    if rest[0] != b'$' {
                        return Parsed::Error(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len = match number {
                        Some(n) if n > UNAUTHENTICATED_MAX_BULK && self.unauthenticated => {
                            return Parsed::Error(ProtocolError::UnauthenticatedBulkLength)
                        }
                        Some(n) if n >= 0 && n as u64 <= max_bulk_len as u64 => n as usize,
                        _ => return Parsed::Error(ProtocolError::InvalidBulkLength),
                    };
                    self.pos += cr + 2;
                    self.bulk_len = Some(len);
                    len
                }
            };
            // Redis does not check that the two bytes after the payload are
            // "\r\n"; it only skips them.
            if self.buf.len() - self.pos < len + 2 {
                return Parsed::Incomplete;
            }
            self.spans.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.bulk_len = None;
            self.multibulk_left -= 1;
        }
        Parsed::Command
    }

    /// What pipelines carry: arguments of up to 99 bytes whose `$<len>`
    /// line and payload have arrived whole, read in one tight pass. It
    /// stops at the first other case (a longer length, a partial argument,
    /// anything odd), which the general steps then take up.
    fn whole_short_arguments(&mut self, max_bulk_len: usize) {
        let (mut pos, mut left) = (self.pos, self.multibulk_left);
        while left > 0 {
            let Some(rest) = self.buf.get(pos..) else {
                break;
            };
            // As the general path, the byte after "\r" is skipped unseen.
            let (len, header) = match rest {
                [b'$', d @ b'0'..=b'9', b'\r', _, ..] => (usize::from(d - b'0'), 4),
                [b'$', d1 @ b'1'..=b'9', d2 @ b'0'..=b'9', b'\r', _, ..] => {
                    (usize::from(d1 - b'0') * 10 + usize::from(d2 - b'0'), 5)
                }
                _ => break,
            };
            if len > max_bulk_len || rest.len() < header + len + 2 {
                break;
            }
            let start = pos + header;
            self.spans.push((start, start + len));
            pos = start + len + 2;
            left -= 1;
        }
        self.pos = pos;
        self.multibulk_left = left;
    }

    /// Reads one inline line. `Ok(true)`: a command; `Ok(false)`: an empty
    /// line was skipped.
    fn inline_command(&mut self) -> Result<bool, Parsed> {
        let rest = &self.buf[self.pos..];
        let Some(newline) = find_line_end(b'\n', rest) else {
            if rest.len() > PROTO_INLINE_MAX_SIZE {
                return Err(Parsed::Error(ProtocolError::TooBigInlineRequest));
            }
            return Err(Parsed::Incomplete);
        };
        let line_end = if newline > 0 && rest[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        self.inline.clear();
        if split_inline_args(&rest[..line_end], &mut self.inline, &mut self.spans).is_err() {
            return Err(Parsed::Error(ProtocolError::UnbalancedQuotes));
        }
        self.pos += newline + 1;
        if self.spans.is_empty() {
            return Ok(false);
        }
        self.source = Source::Inline;
        Ok(true)
    }
}

/// A `*<count>` or `$<length>` line at the start of the unconsumed bytes.
enum LengthLine {
    /// The line and its "\r\n" arrived: the number, if it is one, and
    /// where the "\r" is.
    Whole(Option<i64>, usize),
    Incomplete,
    /// No "\r" within `PROTO_INLINE_MAX_SIZE` bytes.
    TooLong,
}

/// Reads the line after its one-byte prefix (`*` or `$`), which the
/// caller checks. Plain digits, what every client sends, are read in one
/// pass; anything else is looked at as Redis does: up to the first
/// "\r", then `string2ll` on what precedes it.
fn length_line(rest: &[u8]) -> LengthLine {
    if let Some((number, cr)) = plain_number(rest) {
        return LengthLine::Whole(Some(number), cr);
    }
    let Some(cr) = find_line_end(b'\r', rest) else {
        if rest.len() > PROTO_INLINE_MAX_SIZE {
            return LengthLine::TooLong;
        }
        return LengthLine::Incomplete;
    };
    // The "\n" after the "\r" must have arrived too.
    if cr + 2 > rest.len() {
        return LengthLine::Incomplete;
    }
    LengthLine::Whole(rest.get(1..cr).and_then(parse_i64), cr)
}

/// The common case of [`length_line`]: after the prefix, 1 to 18 digits
/// without a leading zero (or a lone "0"), then "\r" and one more byte.
/// `None` leaves every other case, errors included, to the general path.
fn plain_number(rest: &[u8]) -> Option<(i64, usize)> {
    const MOST_DIGITS: usize = 18; // 10^18 - 1 fits an i64.
    let digit = |b: u8| i64::from(b - b'0');
    // One or two digits: argument counts and most argument lengths.
    match rest {
        [_, d @ b'0'..=b'9', b'\r', _, ..] => return Some((digit(*d), 2)),
        [_, d1 @ b'1'..=b'9', d2 @ b'0'..=b'9', b'\r', _, ..] => {
            return Some((digit(*d1) * 10 + digit(*d2), 3))
        }
        _ => {}
    }
    let mut value: i64 = 0;
    let mut end = 1;
    while let Some(&byte) = rest.get(end) {
        if !byte.is_ascii_digit() || end > MOST_DIGITS {
            break;
        }
        value = value * 10 + digit(byte);
        end += 1;
    }
    let digits = end - 1;
    let canonical = digits == 1 || rest.get(1) != Some(&b'0');
    let terminated = rest.get(end) == Some(&b'\r') && end + 2 <= rest.len();
    (digits > 0 && canonical && terminated).then_some((value, end))
}

/// Finds `end` as C's `strchr` does in Redis's query buffer: a NUL byte
/// before it hides it, so such a line stays incomplete until it is too big.
fn find_line_end(end: u8, bytes: &[u8]) -> Option<usize> {
    memchr2(end, 0, bytes).filter(|&i| bytes[i] == end)
}

/// The arguments of one command: `args.get(0)` is the command name.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    bytes: &'a [u8],
    spans: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`. Command arity is checked before any handler runs, so
    /// handlers index within it.
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.spans[i];
        &self.bytes[start..end]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        self.spans.iter().map(move |&(s, e)| &bytes[s..e])
    }

    /// Arguments from `from` on.
    pub fn from(&self, from: usize) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        self.spans[from.min(self.spans.len())..]
            .iter()
            .map(move |&(s, e)| &bytes[s..e])
    }
}

/// Splits one config-file line with the same quoting rules as inline
/// requests (Redis's `sdssplitargs` serves both). `None`: unbalanced quotes.
pub fn split_config_line(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    let mut spans = Vec::new();
    split_inline_args(line, &mut bytes, &mut spans).ok()?;
    Some(spans.iter().map(|&(s, e)| bytes[s..e].to_vec()).collect())
}

/// A command's arguments copied out of the query buffer, for commands
/// that run later: a blocked client's command, commands queued by MULTI.
#[derive(Debug, Clone, Default)]
pub struct OwnedArgs {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl OwnedArgs {
    /// Bytes held (CLIENT LIST's `multi-mem`).
    pub fn memory(&self) -> usize {
        self.bytes.len() + self.spans.len() * std::mem::size_of::<(usize, usize)>()
    }

    pub fn new(args: Args) -> Self {
        let mut owned = OwnedArgs {
            bytes: Vec::new(),
            spans: Vec::with_capacity(args.len()),
        };
        for arg in args.iter() {
            owned
                .spans
                .push((owned.bytes.len(), owned.bytes.len() + arg.len()));
            owned.bytes.extend_from_slice(arg);
        }
        owned
    }

    /// Arguments given as separate byte strings (commands read from the AOF).
    /// Empties it, keeping the allocations (a scratch line reused per call).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    pub fn push(&mut self, arg: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(arg);
        self.spans.push((start, self.bytes.len()));
    }

    pub fn from_vecs(argv: &[Vec<u8>]) -> Self {
        let mut owned = OwnedArgs::default();
        for arg in argv {
            let start = owned.bytes.len();
            owned.bytes.extend_from_slice(arg);
            owned.spans.push((start, owned.bytes.len()));
        }
        owned
    }

    pub fn args(&self) -> Args<'_> {
        Args {
            bytes: &self.bytes,
            spans: &self.spans,
        }
    }
}

/// C's `isspace`, which Redis's `sdssplitargs` uses.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline line into arguments with the quoting rules of Redis's
/// `sdssplitargs`: `"..."` with `\n \r \t \b \a \xHH` escapes, `'...'` with
/// only `\'`, and a closing quote must be followed by a space or the end.
/// Like the C original, a NUL byte ends the line.
fn split_inline_args(
    line: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize)>,
) -> Result<(), ()> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut i = 0;
    loop {
        while at(i) != 0 && is_space(at(i)) {
            i += 1;
        }
        if at(i) == 0 {
            return Ok(());
        }
        let start = out.len();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(i);
            if in_double {
                match c {
                    0 => return Err(()),
                    b'\\'
                        if at(i + 1) == b'x'
                            && hex_value(at(i + 2)).is_some()
                            && hex_value(at(i + 3)).is_some() =>
                    {
                        let hi = hex_value(at(i + 2)).unwrap_or(0);
                        let lo = hex_value(at(i + 3)).unwrap_or(0);
                        out.push(hi * 16 + lo);
                        i += 3;
                    }
                    b'\\' if at(i + 1) != 0 => {
                        i += 1;
                        out.push(match at(i) {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => {
                        if at(i + 1) != 0 && !is_space(at(i + 1)) {
                            return Err(());
                        }
                        i += 1;
                        break;
                    }
                    other => out.push(other),
                }
            } else if in_single {
                match c {
                    0 => return Err(()),
                    b'\\' if at(i + 1) == b'\'' => {
                        i += 1;
                        out.push(b'\'');
                    }
                    b'\'' => {
                        if at(i + 1) != 0 && !is_space(at(i + 1)) {
                            return Err(());
                        }
                        i += 1;
                        break;
                    }
                    other => out.push(other),
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => out.push(other),
                }
            }
            i += 1;
        }
        spans.push((start, out.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_BULK: usize = 512 * 1024 * 1024;

    /// Feeds `input` and collects every command (or the error) it yields.
    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut parser = RequestParser::new();
        parser.buffer_mut().extend_from_slice(input);
        let mut commands = Vec::new();
        loop {
            match parser.next(MAX_BULK) {
                Parsed::Incomplete => return (commands, None),
                Parsed::Command => {
                    commands.push(parser.args().iter().map(<[u8]>::to_vec).collect())
                }
                Parsed::Error(e) => return (commands, Some(e)),
            }
        }
    }

    fn cmd(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    /// The one-pass reading of plain digits agrees with Redis's reading
    /// (first "\r", then `string2ll`) wherever it answers, and leaves
    /// every odd line to it.
    #[test]
    fn length_lines_read_in_one_pass_agree_with_the_general_reading() {
        let general = |line: &[u8]| -> Option<(Option<i64>, usize)> {
            let cr = find_line_end(b'\r', line)?;
            (cr + 2 <= line.len()).then(|| (line.get(1..cr).and_then(parse_i64), cr))
        };
        let lines: &[&[u8]] = &[
            b"$0\r\n",
            b"$3\r\n",
            b"*16\r\n",
            b"$123456789012345678\r\n",
            b"$1234567890123456789\r\n",
            b"$9223372036854775807\r\n",
            b"$9223372036854775808\r\n",
            b"$01\r\n",
            b"$00\r\n",
            b"$-1\r\n",
            b"$+1\r\n",
            b"$ 1\r\n",
            b"$1 \r\n",
            b"$\r\n",
            b"$1\r",
            b"$1",
            b"$1\n\r\n",
            b"$1\0\r\n",
            b"$12x\r\n",
        ];
        for &line in lines {
            let quick = plain_number(line);
            if let Some((number, cr)) = quick {
                assert_eq!(general(line), Some((Some(number), cr)), "{line:?}");
            }
            let whole = match length_line(line) {
                LengthLine::Whole(number, cr) => Some((number, cr)),
                _ => None,
            };
            assert_eq!(whole, general(line), "{line:?}");
        }
        assert_eq!(plain_number(b"$42\r\n"), Some((42, 3)));
        assert_eq!(plain_number(b"$01\r\n"), None);
        assert_eq!(plain_number(b"$1234567890123456789\r\n"), None);
    }

    /// Arguments that arrive whole and short are read in one tight pass;
    /// the same bytes fed one at a time (so never whole on arrival) take
    /// the general steps. Both readings agree, at the 1, 2 and 3 digit
    /// lengths, an empty argument, and terminators Redis skips unseen.
    #[test]
    fn short_whole_arguments_agree_with_the_step_by_step_reading() {
        let (long99, long100) = ("a".repeat(99), "b".repeat(100));
        let input = format!(
            "*4\r\n$3\r\nSET\r\n$0\r\n\r\n$99\r\n{long99}\r\n$100\r\n{long100}\r\n\
             *2\r\n$3\r\nGET\r\n$2\r\nabXY*1\r\n$4\r\nPING\r\n"
        );
        let stepwise = {
            let mut parser = RequestParser::new();
            let mut commands = Vec::new();
            for &byte in input.as_bytes() {
                parser.buffer_mut().push(byte);
                while let Parsed::Command = parser.next(MAX_BULK) {
                    commands.push(parser.args().iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
                }
            }
            commands
        };
        let (whole, error) = parse_all(input.as_bytes());
        assert_eq!(error, None);
        assert_eq!(whole, stepwise);
        assert_eq!(
            whole,
            vec![
                cmd(&["SET", "", &long99, &long100]),
                cmd(&["GET", "ab"]),
                cmd(&["PING"])
            ]
        );
        // A length over the limit is refused whichever way it arrives.
        let mut parser = RequestParser::new();
        parser
            .buffer_mut()
            .extend_from_slice(b"*1\r\n$12\r\nhello world!\r\n");
        assert_eq!(
            parser.next(10),
            Parsed::Error(ProtocolError::InvalidBulkLength)
        );
    }

    /// A parser with nothing pending reads into the loop's buffer and gives
    /// it back; a partial command keeps it until it is whole.
    #[test]
    fn the_loops_buffer_is_lent_while_nothing_is_pending() {
        const KEEP: usize = 32 * 1024;
        let mut shared = Vec::with_capacity(16 * 1024);
        let mut parser = RequestParser::new();
        parser.borrow_buffer(&mut shared);
        assert_eq!((parser.capacity(), shared.capacity()), (16 * 1024, 0));
        parser
            .buffer_mut()
            .extend_from_slice(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET");
        assert_eq!(parser.next(MAX_BULK), Parsed::Command);
        assert_eq!(parser.next(MAX_BULK), Parsed::Incomplete);
        parser.compact();
        parser.return_buffer(&mut shared, KEEP);
        assert_eq!(shared.capacity(), 0, "the partial GET keeps the buffer");
        // The loop reads for others into a new buffer meanwhile.
        shared.reserve(16 * 1024);
        parser.borrow_buffer(&mut shared);
        assert!(
            shared.capacity() >= 16 * 1024,
            "a parser with bytes borrows nothing"
        );
        parser.buffer_mut().extend_from_slice(b"\r\n$1\r\nk\r\n");
        assert_eq!(parser.next(MAX_BULK), Parsed::Command);
        assert_eq!(parser.args().get(1), b"k");
        parser.compact();
        parser.return_buffer(&mut shared, KEEP);
        assert_eq!(parser.capacity(), 0, "whole again: the buffer is freed");
        // A buffer grown past `keep` is freed rather than kept by the loop.
        parser.borrow_buffer(&mut Vec::new());
        parser.buffer_mut().reserve(KEEP * 2);
        parser.return_buffer(&mut shared, KEEP);
        assert_eq!(parser.capacity(), 0);
        assert!(shared.capacity() < KEEP * 2);
    }

    #[test]
    fn multibulk_commands_and_pipelines() {
        let (cmds, err) = parse_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
        assert_eq!(cmds, vec![cmd(&["PING"]), cmd(&["ECHO", ""])]);
        assert_eq!(err, None);
    }

    #[test]
    fn empty_multibulk_and_inline_lines_are_skipped() {
        let (cmds, err) = parse_all(b"*0\r\n*-1\r\n\r\n\n  \r\nping\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(cmds, vec![cmd(&["ping"]), cmd(&["PING"])]);
        assert_eq!(err, None);
    }

    #[test]
    fn inline_quotes_and_escapes() {
        let (cmds, _) = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\" x\"y z\"\r\n");
        assert_eq!(
            cmds,
            vec![vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec(),
                b"xy z".to_vec()
            ]]
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*x\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*2147483648\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*1\r\n$x\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\n$-1\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\n$536870913\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\nx\r\n", ProtocolError::ExpectedDollar(b'x')),
            (b"ping \"a\r\n", ProtocolError::UnbalancedQuotes),
            (b"ping \"a\"b\r\n", ProtocolError::UnbalancedQuotes),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_all(input).1, Some(*expected), "{:?}", input);
        }
        assert_eq!(
            ProtocolError::ExpectedDollar(b'x').message(),
            "ERR Protocol error: expected '$', got 'x'"
        );
    }

    #[test]
    fn oversized_lines_are_rejected() {
        let long = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        assert_eq!(parse_all(&long).1, Some(ProtocolError::TooBigInlineRequest));
        let mut header = b"*1".to_vec();
        header.extend(&long);
        assert_eq!(parse_all(&header).1, Some(ProtocolError::TooBigMbulkCount));
        let mut bulk = b"*1\r\n$1".to_vec();
        bulk.extend(&long);
        assert_eq!(parse_all(&bulk).1, Some(ProtocolError::TooBigBulkCount));
    }

    #[test]
    fn resumes_after_compaction_mid_command() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut parser = RequestParser::new();
        for (i, &b) in input.iter().enumerate() {
            parser.buffer_mut().push(b);
            let parsed = parser.next(MAX_BULK);
            if i + 1 < input.len() {
                assert_eq!(parsed, Parsed::Incomplete);
                parser.compact();
            } else {
                assert_eq!(parsed, Parsed::Command);
            }
        }
        let args: Vec<_> = parser.args().iter().collect();
        assert_eq!(args, vec![&b"SET"[..], b"k", b"value"]);
    }
}
