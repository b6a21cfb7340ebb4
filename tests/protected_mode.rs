//! Protected mode, compared with redis-server: with no password for the
//! default user, clients from beyond the loopback interface are told why
//! and closed.

mod common;

use common::ServerProcess;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// An address of this machine that is not loopback: the one the kernel
/// would send from (no packet leaves).
fn outside_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// What a client from `ip` reads after sending PING, until the server
/// closes (or resets) the connection or a second passes. The client
/// binds to `ip` (to 127.0.0.2, the kernel would pick 127.0.0.1).
fn ping_from(ip: IpAddr, port: u16) -> Vec<u8> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address((ip, port).into()),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket
        .bind(&std::net::SocketAddr::from((ip, 0)).into())
        .expect("bind the client");
    socket
        .connect(&std::net::SocketAddr::from((ip, port)).into())
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok();
    let _ = stream.write_all(b"PING\r\n");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            // A close with the PING still unread resets the connection:
            // closed all the same (which one a client sees is a race, in
            // Redis as in rudis).
            Ok(_) => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Err(_) => break,
        }
    }
    out
}

fn session(server: &ServerProcess, ip: IpAddr) -> Vec<String> {
    let show = |r: Vec<u8>| String::from_utf8_lossy(&r).into_owned();
    let mut local = server.connect();
    let mut out = vec![show(ping_from(ip, server.port))];
    out.push(show(local.run("PING")));
    out.push(show(local.run("CONFIG SET requirepass sec")));
    out.push(show(ping_from(ip, server.port)));
    local.run("AUTH sec");
    out.push(show(local.run("CONFIG SET requirepass \"\"")));
    out.push(show(local.run("CONFIG SET protected-mode no")));
    out.push(show(ping_from(ip, server.port)));
    out.push(show(local.run("CONFIG GET protected-mode")));
    out.push(
        show(local.run("INFO stats"))
            .lines()
            .filter(|l| l.starts_with("rejected_connections"))
            .collect(),
    );
    out
}

#[test]
fn outside_clients_are_refused_as_in_redis() {
    let Some(ip) = outside_address() else {
        eprintln!("no non-loopback address on this machine: protected mode not tested");
        return;
    };
    let redis = ServerProcess::redis_with(&["--save", "", "--bind", "0.0.0.0"]);
    let rudis = ServerProcess::rudis(&["--save", "", "--bind", "0.0.0.0"]);
    let expected = session(&redis, ip);
    assert!(
        expected[0].starts_with("-DENIED Redis is running in protected mode"),
        "{expected:?}"
    );
    assert_eq!(session(&rudis, ip), expected);
}

/// 127.0.0.2 is a loopback address, but protected mode lets in only
/// 127.0.0.1 and ::1.
#[test]
fn other_loopback_addresses_count_as_outside_as_in_redis() {
    let ip = IpAddr::from([127, 0, 0, 2]);
    let redis = ServerProcess::redis_with(&["--save", ""]);
    let rudis = ServerProcess::rudis(&["--save", ""]);
    let expected = session(&redis, ip);
    assert!(expected[0].starts_with("-DENIED"), "{expected:?}");
    assert_eq!(session(&rudis, ip), expected);
}
