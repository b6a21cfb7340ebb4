//! A client's socket and address: TCP, or the Unix domain socket named by
//! `unixsocket`. Both are plain byte streams to the rest of the server;
//! only accepting, TCP options and how an address reads differ.

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// One `recv(2)` into uninitialised memory (no zeroing per read).
    pub fn recv(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s).recv(buf),
            Stream::Unix(s) => socket2::SockRef::from(s).recv(buf),
        }
    }

    pub fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }

    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// The TCP stream, for options Unix sockets do not have.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interest),
            Stream::Unix(s) => s.register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interest),
            Stream::Unix(s) => s.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

/// Either end of a client's connection as CLIENT LIST, MONITOR and the
/// slow log show it: `ip:port`, or for a Unix socket its path and `:0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix(Arc<str>),
}

impl Peer {
    /// 127.0.0.1, ::1 or a Unix socket: what protected mode and the
    /// "local" settings (`enable-debug-command local`) let in. Redis
    /// names these two addresses, not all of 127.0.0.0/8.
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Tcp(addr) => match addr.ip() {
                std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
                std::net::IpAddr::V6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
            },
            Peer::Unix(_) => true,
        }
    }

    /// The host part: the IP, or Redis's placeholder for a Unix peer.
    pub fn host(&self) -> String {
        match self {
            Peer::Tcp(addr) => addr.ip().to_string(),
            Peer::Unix(_) => "/unixsocket".to_string(),
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Peer::Unix(_))
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Unix(path) => write!(f, "{path}:0"),
        }
    }
}
