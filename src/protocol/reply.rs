//! Reply encoding in RESP2 and RESP3. A [`Reply`] is one client's output
//! buffer: commands append to it, the connection drains it to the socket.
//! Where RESP3 has a richer type (map, set, null, double) the RESP2 form is
//! what Redis sends to a RESP2 client, so handlers write one reply for both.

/// One client's pending output, and the protocol version it speaks.
#[derive(Debug, Default)]
pub struct Reply {
    buf: Vec<u8>,
    resp3: bool,
}

impl Reply {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets everything written so far, keeping the allocation unless it
    /// grew past `keep_capacity` for one big reply.
    pub fn clear(&mut self, keep_capacity: usize) {
        self.buf.clear();
        if self.buf.capacity() > keep_capacity {
            self.buf = Vec::new();
        }
    }

    /// Drops the first `n` bytes (already written to the socket).
    pub fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }

    /// Truncates to `len` bytes: undoes a partial reply.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, marker: u8, n: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.push(marker);
        self.buf.extend_from_slice(digits.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// `+text`: `text` must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.raw(text.as_bytes());
        self.raw(b"\r\n");
    }

    /// `-text`: `text` starts with the error code (`ERR`, `WRONGTYPE`, ...).
    /// Newlines would break the framing, so they become spaces as in Redis's
    /// `addReplyErrorLength`.
    pub fn error(&mut self, text: &str) {
        self.error_bytes(text.as_bytes());
    }

    /// An error whose text quotes client bytes.
    pub fn error_bytes(&mut self, text: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.raw(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, bytes: &[u8]) {
        self.header(b'$', bytes.len() as i64);
        self.raw(bytes);
        self.raw(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(n).as_bytes());
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"$-1\r\n");
        }
    }

    /// An out-of-band frame (pub/sub messages): `>` in RESP3, an array in
    /// RESP2.
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs: `%len` in RESP3, a flat array in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len as i64);
        } else {
            self.header(b'*', 2 * len as i64);
        }
    }

    /// A set: `~len` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// A double: `,<value>` in RESP3, a bulk string in RESP2, formatted as
    /// Redis 7.0 does (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, value: f64) {
        let text = crate::float::format_double(value);
        if self.resp3 {
            self.buf.push(b',');
            self.raw(text.as_bytes());
            self.raw(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Text meant for humans (INFO, CLIENT INFO): a verbatim string in RESP3,
    /// a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.raw(b"txt:");
            self.raw(text);
            self.raw(b"\r\n");
        } else {
            self.bulk(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;

    fn encoded(resp3: bool, write: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut reply = Reply::new();
        reply.set_resp3(resp3);
        write(&mut reply);
        reply.as_bytes().to_vec()
    }

    #[test]
    fn scalars() {
        assert_eq!(encoded(false, |r| r.ok()), b"+OK\r\n");
        assert_eq!(encoded(false, |r| r.int(-42)), b":-42\r\n");
        assert_eq!(encoded(false, |r| r.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(encoded(false, |r| r.error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    #[test]
    fn integers_at_their_extremes() {
        for n in [0, 7, 10, -1, 1_000_000, i64::MAX, i64::MIN] {
            assert_eq!(encoded(false, |r| r.int(n)), format!(":{n}\r\n").as_bytes());
        }
    }

    #[test]
    fn resp2_and_resp3_forms() {
        assert_eq!(encoded(false, |r| r.null()), b"$-1\r\n");
        assert_eq!(encoded(true, |r| r.null()), b"_\r\n");
        assert_eq!(encoded(false, |r| r.null_array()), b"*-1\r\n");
        assert_eq!(encoded(false, |r| r.map(2)), b"*4\r\n");
        assert_eq!(encoded(true, |r| r.map(2)), b"%2\r\n");
        assert_eq!(encoded(true, |r| r.set(3)), b"~3\r\n");
        assert_eq!(encoded(true, |r| r.verbatim(b"a")), b"=5\r\ntxt:a\r\n");
        assert_eq!(encoded(false, |r| r.verbatim(b"a")), b"$1\r\na\r\n");
    }
}
