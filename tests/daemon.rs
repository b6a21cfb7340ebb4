//! Starting as a service, compared with redis-server: `daemonize` with a
//! pid file, and `supervised systemd` readiness messages.

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `binary` with `--daemonize yes`; returns the pid from the pid
/// file once the daemon answers, after checking the foreground process
/// exited with status 0.
fn start_daemon(binary: &str, port: u16, dir: &Path) -> u32 {
    let pidfile = dir.join("server.pid");
    let status = Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--daemonize",
            "yes",
        ])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(dir.join("server.log"))
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .status()
        .expect("start daemon");
    assert!(status.success(), "{binary}: the foreground process exits 0");
    let mut pid = 0;
    assert!(
        eventually(Duration::from_secs(10), || {
            pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|text| text.strip_suffix('\n')?.parse().ok())
                .unwrap_or(0);
            pid != 0
                && Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "PING"])
                    .output()
                    .is_ok_and(|out| out.stdout == b"PONG\n")
        }),
        "{binary}: pid file written and daemon answering"
    );
    pid
}

#[test]
fn daemonize_writes_the_pid_file_and_shutdown_removes_it() {
    for binary in ["redis-server", env!("CARGO_BIN_EXE_rudis-server")] {
        let dir = fresh_dir("daemon");
        let port = free_port();
        let pid = start_daemon(binary, port, &dir);
        assert!(Path::new(&format!("/proc/{pid}")).exists());

        let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
        let ready = log
            .lines()
            .find(|l| l.contains("Ready to accept connections"))
            .unwrap_or_else(|| panic!("{binary}: no ready line in {log}"));
        assert!(
            ready.starts_with(&format!("{pid}:M ")),
            "{binary}: log lines carry the daemon's pid: {ready}"
        );

        let mut conn = Conn::new(port);
        conn.send(b"SHUTDOWN NOSAVE\r\n");
        assert!(conn.is_closed(Duration::from_secs(10)));
        assert!(
            eventually(Duration::from_secs(10), || !Path::new(&format!(
                "/proc/{pid}"
            ))
            .exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z "))),
            "{binary}: the daemon exits"
        );
        assert!(
            !dir.join("server.pid").exists(),
            "{binary}: shutdown removes the pid file"
        );
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
        assert!(log.contains("Removing the pid file."), "{binary}: {log}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The `sd_notify` messages a server sends from start to `SHUTDOWN`.
fn systemd_messages(binary: &str) -> Vec<String> {
    let dir = fresh_dir("notify");
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = free_port();
    let mut child = Command::new(binary)
        .args(["--port", &port.to_string(), "--save", ""])
        .args(["--supervised", "systemd", "--loglevel", "warning"])
        .arg("--dir")
        .arg(&dir)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut messages = Vec::new();
    let receive = |messages: &mut Vec<String>| {
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).expect("a systemd message");
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    };
    while !messages.iter().any(|m| m == "READY=1\n") {
        receive(&mut messages);
    }
    let mut conn = Conn::new(port);
    assert_eq!(
        conn.run("CONFIG GET supervised"),
        b"*2\r\n$10\r\nsupervised\r\n$7\r\nsystemd\r\n"
    );
    conn.send(b"SHUTDOWN NOSAVE\r\n");
    receive(&mut messages);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    messages
}

#[test]
fn supervised_systemd_sends_the_same_messages() {
    let expected = systemd_messages("redis-server");
    assert_eq!(
        expected,
        [
            "STATUS=Redis is loading...\n",
            "STATUS=Ready to accept connections\n",
            "READY=1\n",
            "STOPPING=1\n"
        ]
    );
    assert_eq!(
        systemd_messages(env!("CARGO_BIN_EXE_rudis-server")),
        expected
    );
}

#[test]
fn service_settings_are_immutable_as_in_redis() {
    assert_same_replies(&[
        "CONFIG GET daemonize",
        "CONFIG GET supervised",
        "CONFIG SET daemonize yes",
        "CONFIG SET pidfile /tmp/x.pid",
        "CONFIG SET supervised systemd",
        "CONFIG GET pidfile",
    ]);
}

/// A port already taken stops the start with Redis's two lines: the
/// address, the step that failed and why, then which port was given up.
#[test]
fn a_taken_port_stops_the_start_with_redis_lines() {
    let taken = std::net::TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = fresh_dir("taken-port");
    let last_lines = |binary: &str| -> Vec<String> {
        let out = Command::new(binary)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{binary} started on a taken port");
        let log = String::from_utf8_lossy(&out.stdout).into_owned();
        // Without the pid, role and time each line starts with.
        let mut lines: Vec<String> = log
            .lines()
            .filter_map(|l| l.split_once(" # ").map(|(_, text)| text.to_string()))
            .collect();
        lines.split_off(lines.len().saturating_sub(2))
    };
    assert_eq!(
        last_lines("redis-server"),
        last_lines(env!("CARGO_BIN_EXE_rudis-server"))
    );
}
