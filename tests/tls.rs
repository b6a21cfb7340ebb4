//! TLS on `tls-port`, beside the plain port in the same loop: real
//! redis-cli, redis-benchmark and the `redis` crate (with client
//! certificates), and settings and refusals compared with redis-server.
//! Certificates are made with the openssl command, as Redis's own
//! `gen-test-certs.sh` makes them.

mod common;

use common::{free_port, ServerProcess};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Runs the openssl command in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// Signs `{name}.csr` with the CA into `{name}.crt`, for localhost, as
/// server or client.
fn sign(dir: &Path, name: &str) {
    let (csr, crt) = (format!("{name}.csr"), format!("{name}.crt"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-sha256",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-out",
            &crt,
        ],
    );
}

/// A CA, and a certificate for localhost it signed (usable by server and
/// client), in `dir`.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| openssl(dir, args);
    run(&["genrsa", "-out", "ca.key", "2048"]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-sha256",
        "-key",
        "ca.key",
        "-days",
        "30",
        "-subj",
        "/O=rudis test/CN=Certificate Authority",
        "-out",
        "ca.crt",
    ]);
    run(&["genrsa", "-out", "redis.key", "2048"]);
    run(&[
        "req",
        "-new",
        "-sha256",
        "-subj",
        "/O=rudis test/CN=localhost",
        "-key",
        "redis.key",
        "-out",
        "redis.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    sign(dir, "redis");
}

struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let dir = common::fresh_dir("tls-certs");
        make_certs(&dir);
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// The server's TLS arguments, listening on `tls_port`.
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            self.path("redis.crt"),
            "--tls-key-file".into(),
            self.path("redis.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
        ]
    }
}

fn rudis_tls(certs: &Certs, tls_port: u16, extra: &[&str]) -> ServerProcess {
    let mut args: Vec<String> = vec!["--save".into(), "".into()];
    args.extend(certs.server_args(tls_port));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ServerProcess::rudis(&refs)
}

/// A redis-cli or redis-benchmark command for the TLS port;
/// `with_cert` presents the client certificate.
fn tool(program: &str, certs: &Certs, port: u16, with_cert: bool) -> Command {
    let mut cmd = Command::new(program);
    let port = port.to_string();
    cmd.args(["-p", &port, "--tls", "--cacert", &certs.path("ca.crt")]);
    if with_cert {
        let (cert, key) = (certs.path("redis.crt"), certs.path("redis.key"));
        cmd.args(["--cert", &cert, "--key", &key]);
    }
    cmd
}

/// redis-cli over TLS: whether it succeeded, and what it printed.
fn cli(certs: &Certs, port: u16, with_cert: bool, args: &[&str]) -> (bool, String) {
    let mut cmd = tool("redis-cli", certs, port, with_cert);
    let out = cmd.args(args).output().expect("redis-cli");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.success() && !text.contains("Error"),
        text.trim().to_string(),
    )
}

#[test]
fn redis_cli_speaks_tls_beside_the_plain_port() {
    let certs = Certs::new();
    let tls_port = free_port();
    let server = rudis_tls(&certs, tls_port, &[]);
    assert_eq!(cli(&certs, tls_port, true, &["PING"]).1, "PONG");
    assert_eq!(
        cli(&certs, tls_port, true, &["SET", "k", "over tls"]).1,
        "OK"
    );
    // The same data through the plain port, at the same time.
    let mut plain = server.connect();
    assert_eq!(plain.run("GET k"), b"$8\r\nover tls\r\n".to_vec());
    // tls-auth-clients yes (the default): no certificate, no service.
    let (ok, text) = cli(&certs, tls_port, false, &["PING"]);
    assert!(!ok, "served without a client certificate: {text}");
    // Garbage on the TLS port is refused; the server goes on.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    std::io::Write::write_all(&mut raw, b"PING\r\nPING\r\n").unwrap();
    drop(raw);
    assert_eq!(cli(&certs, tls_port, true, &["GET", "k"]).1, "over tls");
    assert_eq!(plain.run("PING"), b"+PONG\r\n".to_vec());
}

#[test]
fn client_certificates_optional_or_not_asked() {
    let certs = Certs::new();
    for (mode, without_cert_ok) in [("optional", true), ("no", true), ("yes", false)] {
        let tls_port = free_port();
        let _server = rudis_tls(&certs, tls_port, &["--tls-auth-clients", mode]);
        assert_eq!(cli(&certs, tls_port, true, &["PING"]).1, "PONG", "{mode}");
        let (ok, text) = cli(&certs, tls_port, false, &["PING"]);
        assert_eq!(ok, without_cert_ok, "{mode}: {text}");
    }
}

/// Big values and deep pipelines cross many TLS records and partial
/// socket writes.
#[test]
fn large_replies_and_pipelines_over_tls() {
    let certs = Certs::new();
    let tls_port = free_port();
    let server = rudis_tls(&certs, tls_port, &[]);
    let mut plain = server.connect();
    let big = "x".repeat(3_000_000);
    plain.cmd(&[b"SET", b"big", big.as_bytes()]);
    let (_, text) = cli(&certs, tls_port, true, &["STRLEN", "big"]);
    assert_eq!(text, "3000000");
    let out = tool("redis-cli", &certs, tls_port, true)
        .args(["GET", "big"])
        .output()
        .unwrap();
    assert_eq!(out.stdout.len(), 3_000_001);
    // 10,000 pipelined commands through redis-cli --pipe.
    let mut commands = Vec::new();
    for i in 0..10_000 {
        commands.extend(common::encode(&[b"SET", format!("p{i}").as_bytes(), b"v"]));
    }
    let mut child = tool("redis-cli", &certs, tls_port, true)
        .arg("--pipe")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &commands).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 10000"), "{text}");
    assert_eq!(plain.run("DBSIZE"), b":10001\r\n".to_vec());
}

#[test]
fn redis_benchmark_over_tls() {
    let certs = Certs::new();
    let tls_port = free_port();
    let server = rudis_tls(&certs, tls_port, &[]);
    let out = tool("redis-benchmark", &certs, tls_port, true)
        .args([
            "-t", "set,get", "-n", "20000", "-P", "16", "-r", "1000", "--csv",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("\"SET\"") && text.contains("\"GET\""),
        "{text}"
    );
    let mut plain = server.connect();
    let dbsize = plain.run("DBSIZE");
    assert!(dbsize.starts_with(b":") && dbsize != b":0\r\n".to_vec());
    let served: u64 = common::info_field(&mut plain, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    assert!(served >= 40_000, "{served}");
}

#[test]
fn redis_crate_with_a_client_certificate() {
    let certs = Certs::new();
    let tls_port = free_port();
    let _server = rudis_tls(&certs, tls_port, &[]);
    let read = |name: &str| std::fs::read(certs.dir.join(name)).unwrap();
    let tls = redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: read("redis.crt"),
            client_key: read("redis.key"),
        }),
        root_cert: Some(read("ca.crt")),
    };
    let url = format!("rediss://localhost:{tls_port}");
    let client = redis::Client::build_with_tls(url.as_str(), tls).unwrap();
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("crate")
        .arg(42)
        .query(&mut conn)
        .unwrap();
    let value: i64 = redis::cmd("INCR").arg("crate").query(&mut conn).unwrap();
    assert_eq!(value, 43);
    let values: Vec<i64> = redis::pipe()
        .cmd("INCR")
        .arg("crate")
        .cmd("INCR")
        .arg("crate")
        .query(&mut conn)
        .unwrap();
    assert_eq!(values, vec![44, 45]);
}

/// CONFIG SET of TLS settings, compared with redis-server running TLS
/// with the same certificates.
#[test]
fn tls_settings_match_redis() {
    let certs = Certs::new();
    let rudis = rudis_tls(&certs, free_port(), &[]);
    let args = certs.server_args(free_port());
    let mut redis_args: Vec<&str> = args.iter().map(String::as_str).collect();
    redis_args.extend(["--save", ""]);
    let redis = ServerProcess::redis_with(&redis_args);
    let script = [
        "CONFIG GET tls-auth-clients",
        "CONFIG SET tls-auth-clients maybe",
        "CONFIG SET tls-auth-clients optional",
        "CONFIG SET tls-cert-file /nonexistent/redis.crt",
        "CONFIG SET tls-protocols foo",
        "CONFIG SET tls-protocols TLSv1.3",
        "CONFIG GET tls-protocols",
        "CONFIG SET tls-ciphers FOO",
        "CONFIG SET tls-ciphersuites TLS_AES_128_GCM_SHA256",
        "CONFIG SET tls-prefer-server-ciphers yes",
        "CONFIG SET tls-session-caching no",
        "CONFIG SET tls-session-cache-size 100",
        "CONFIG GET tls-session-caching",
    ];
    let (mut a, mut b) = (redis.connect(), rudis.connect());
    for line in script {
        let args = common::words(line);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        assert_eq!(
            String::from_utf8_lossy(&a.cmd(&refs)),
            String::from_utf8_lossy(&b.cmd(&refs)),
            "reply to {line:?} (left: redis-server, right: rudis)"
        );
    }
    // The settings apply to new connections: TLS 1.3 only, no certificate needed.
    let port = rudis_tls_port(&mut b);
    assert_eq!(cli(&certs, port, false, &["PING"]).1, "PONG");
}

fn rudis_tls_port(conn: &mut common::Conn) -> u16 {
    let reply = conn.run("CONFIG GET tls-port");
    let items = common::array_items(&reply);
    String::from_utf8_lossy(&common::bulk_payload(&items[1]))
        .parse()
        .unwrap()
}

/// A TLS port without usable certificates stops the start, as in Redis.
#[test]
fn bad_tls_configuration_refuses_to_start() {
    let dir = common::fresh_dir("tls-bad");
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args([
            "--port",
            &port.to_string(),
            "--tls-port",
            &free_port().to_string(),
        ])
        .args([
            "--tls-cert-file",
            "/nonexistent.crt",
            "--tls-key-file",
            "/nonexistent.key",
        ])
        .args(["--tls-ca-cert-file", "/nonexistent-ca.crt", "--save", ""])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("Failed to load certificate: /nonexistent.crt"),
        "{log}"
    );
    assert!(
        log.contains("Failed to configure TLS. Check logs for more info."),
        "{log}"
    );
}

/// `tls-key-file-pass`: an encrypted PKCS#8 key (`openssl genpkey
/// -aes256`) opens with the right passphrase, and a wrong one stops the
/// start with the reason.
#[test]
fn encrypted_private_key_with_its_passphrase() {
    let certs = Certs::new();
    let run = |args: &[&str]| openssl(&certs.dir, args);
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-aes256",
        "-pass",
        "pass:secret",
        "-out",
        "enc.key",
    ]);
    run(&[
        "req",
        "-new",
        "-sha256",
        "-subj",
        "/CN=localhost",
        "-key",
        "enc.key",
        "-passin",
        "pass:secret",
        "-out",
        "enc.csr",
    ]);
    sign(&certs.dir, "enc");
    let start = |pass: &str, tls_port: u16| {
        Command::new(env!("CARGO_BIN_EXE_rudis-server"))
            .args(["--port", &free_port().to_string(), "--save", ""])
            .args([
                "--tls-port",
                &tls_port.to_string(),
                "--tls-auth-clients",
                "no",
            ])
            .args(["--tls-cert-file", &certs.path("enc.crt")])
            .args([
                "--tls-key-file",
                &certs.path("enc.key"),
                "--tls-key-file-pass",
                pass,
            ])
            .current_dir(&certs.dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut wrong = start("wrong", free_port());
    let out = wrong.wait().unwrap();
    assert!(!out.success());
    let mut log = String::new();
    std::io::Read::read_to_string(wrong.stdout.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("Failed to load private key"), "{log}");
    let tls_port = free_port();
    let mut right = start("secret", tls_port);
    let served = common::eventually(Duration::from_secs(5), || {
        cli(&certs, tls_port, false, &["PING"]).1 == "PONG"
    });
    let _ = right.kill();
    let _ = right.wait();
    assert!(served, "no PONG over TLS with the encrypted key");
}

/// `port` and `tls-port` change at runtime, as in Redis: the new port is
/// listened on, the old one closed; a port in use is refused with
/// Redis's error and the old one kept; 0 closes TLS.
#[test]
fn ports_change_at_runtime() {
    let certs = Certs::new();
    let server = rudis_tls(&certs, 0, &[]);
    let mut admin = server.connect();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    assert_eq!(
        admin.run(&format!("CONFIG SET port {busy_port}")),
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n".to_vec()
    );
    let port = free_port();
    assert_eq!(
        admin.run(&format!("CONFIG SET port {port}")),
        b"+OK\r\n".to_vec()
    );
    let mut moved = common::Conn::new(port);
    assert_eq!(moved.run("PING"), b"+PONG\r\n".to_vec());
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
    // TLS, off at start, opened, moved and closed.
    let tls_port = free_port();
    let set = moved.run(&format!("CONFIG SET tls-port {tls_port}"));
    assert_eq!(set, b"+OK\r\n".to_vec());
    assert_eq!(cli(&certs, tls_port, true, &["PING"]).1, "PONG");
    let other = free_port();
    moved.run(&format!("CONFIG SET tls-port {other}"));
    assert_eq!(cli(&certs, other, true, &["PING"]).1, "PONG");
    assert!(!cli(&certs, tls_port, true, &["PING"]).0);
    moved.run("CONFIG SET tls-port 0");
    assert!(!cli(&certs, other, true, &["PING"]).0);
    assert_eq!(moved.run("PING"), b"+PONG\r\n".to_vec());
    assert_eq!(
        common::info_field(&mut moved, "server", "tcp_port"),
        port.to_string()
    );
}
