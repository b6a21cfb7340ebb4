//! TLS (`tls-port` and the `tls-*` settings), with rustls: the server's
//! TLS context, built from the configuration as Redis's `tlsConfigure`
//! builds its OpenSSL one, and the per-connection state machine the loop
//! drives on readiness like a plain socket (see `Client::read`/`write`).
//!
//! rustls speaks TLS 1.2 and 1.3 only, so `tls-protocols` naming TLSv1 or
//! TLSv1.1 alone is refused; it has no finite-field Diffie-Hellman, so
//! `tls-dh-params-file` is accepted and unused. Cipher names are
//! OpenSSL's, mapped to rustls's suites.

use crate::config::Config;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::SupportedCipherSuite;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;

/// A `tls-*` setting (they live among the settings rudis stores as they
/// come; see `config_pending`).
fn setting<'a>(config: &'a Config, name: &str) -> &'a str {
    config.pending.get(name).map_or("", String::as_str)
}

/// Whether a TLS port is configured.
pub fn port(config: &Config) -> u16 {
    setting(config, "tls-port").parse().unwrap_or(0)
}

/// The server's TLS context: what every accepted TLS connection starts
/// from. Err carries what Redis would log.
pub fn context(config: &Config) -> Result<Arc<ServerConfig>, String> {
    let cert_file = setting(config, "tls-cert-file");
    let key_file = setting(config, "tls-key-file");
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = setting(config, "tls-auth-clients");
    let ca_file = setting(config, "tls-ca-cert-file");
    let ca_dir = setting(config, "tls-ca-cert-dir");
    let wants_ca = auth != "no"
        || setting(config, "tls-replication") == "yes"
        || setting(config, "tls-cluster") == "yes";
    if wants_ca && ca_file.is_empty() && ca_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|found| found.collect())
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {cert_file}: no certificate found"
        ));
    }
    let key = private_key(key_file, setting(config, "tls-key-file-pass"))?;
    let provider = Arc::new(provider(config)?);
    let versions = protocol_versions(setting(config, "tls-protocols"))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS: {e}"))?;
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let roots = ca_roots(ca_file, ca_dir)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    server.ignore_client_order = setting(config, "tls-prefer-server-ciphers") == "yes";
    if setting(config, "tls-session-caching") == "no" {
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
    } else {
        let size = setting(config, "tls-session-cache-size")
            .parse::<usize>()
            .unwrap_or(20480);
        server.session_storage = ServerSessionMemoryCache::new(size.max(1));
    }
    Ok(Arc::new(server))
}

/// The server's private key: PEM, in PKCS#8, PKCS#1 or SEC1 form, or
/// PKCS#8 encrypted with `tls-key-file-pass` (what `openssl genpkey
/// -aes256` writes).
fn private_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let failed = |e: &dyn std::fmt::Display| format!("Failed to load private key: {path}: {e}");
    let text = std::fs::read_to_string(path).map_err(|e| failed(&e))?;
    if !text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| failed(&e));
    }
    use pkcs8::der::pem::PemLabel;
    let (label, der) =
        pkcs8::der::pem::decode_vec(text.trim().as_bytes()).map_err(|e| failed(&e))?;
    if label != pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL {
        return Err(failed(&"not an encrypted private key"));
    }
    let encrypted =
        pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| failed(&e))?;
    let plain = encrypted.decrypt(pass).map_err(|e| failed(&e))?;
    Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()))
}

/// The CA certificates client certificates must chain to.
fn ca_roots(ca_file: &str, ca_dir: &str) -> Result<RootCertStore, String> {
    let failed = |e: &dyn std::fmt::Display| {
        format!("Failed to configure CA certificate(s) file/directory: {e}")
    };
    let mut roots = RootCertStore::empty();
    let mut files = Vec::new();
    if !ca_file.is_empty() {
        files.push(std::path::PathBuf::from(ca_file));
    }
    if !ca_dir.is_empty() {
        let entries = std::fs::read_dir(ca_dir).map_err(|e| failed(&e))?;
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    for file in files {
        let certs = CertificateDer::pem_file_iter(&file).map_err(|e| failed(&e))?;
        for cert in certs {
            let cert = cert.map_err(|e| failed(&e))?;
            roots.add(cert).map_err(|e| failed(&e))?;
        }
    }
    if roots.is_empty() {
        return Err(failed(&"no CA certificate found"));
    }
    Ok(roots)
}

/// `tls-protocols`: empty means every version rustls has.
fn protocol_versions(text: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if text.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS12, &rustls::version::TLS13]);
    }
    let mut versions = Vec::new();
    let mut named_old = false;
    for word in text.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => named_old = true,
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            _ => return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into()),
        }
    }
    if versions.is_empty() && named_old {
        return Err(
            "Invalid tls-protocols configuration string: rudis speaks TLSv1.2 and TLSv1.3 only"
                .into(),
        );
    }
    Ok(versions)
}

/// The crypto provider with the cipher suites `tls-ciphers` (TLS 1.2, in
/// OpenSSL's `:`-separated names) and `tls-ciphersuites` (TLS 1.3) allow.
fn provider(config: &Config) -> Result<CryptoProvider, String> {
    let mut provider = ring::default_provider();
    let tls12 = setting(config, "tls-ciphers");
    let tls13 = setting(config, "tls-ciphersuites");
    if tls12.is_empty() && tls13.is_empty() {
        return Ok(provider);
    }
    let allowed = |suite: &SupportedCipherSuite| {
        let list = match suite {
            SupportedCipherSuite::Tls12(_) => tls12,
            SupportedCipherSuite::Tls13(_) => tls13,
        };
        cipher_list_allows(list, openssl_name(suite))
    };
    provider.cipher_suites.retain(allowed);
    let has = |tls13: bool| {
        provider
            .cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls13(_)) == tls13)
    };
    if !tls12.is_empty() && !has(false) {
        return Err(format!("Failed to configure ciphers: {tls12}"));
    }
    if !tls13.is_empty() && !has(true) {
        return Err(format!("Failed to configure ciphersuites: {tls13}"));
    }
    Ok(provider)
}

/// Whether an OpenSSL cipher list (`ECDHE-RSA-AES128-GCM-SHA256:...`)
/// takes the suite named `name`. Of OpenSSL's keywords, those that keep
/// every strong suite (`DEFAULT`, `ALL`, `HIGH`) keep all of rustls's;
/// exclusions (`!x`, `-x`) and the rest are ignored.
fn cipher_list_allows(list: &str, name: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    list.split([':', ',', ' ']).any(|word| {
        matches!(
            word.to_ascii_uppercase().as_str(),
            "DEFAULT" | "ALL" | "HIGH"
        ) || word.eq_ignore_ascii_case(name)
    })
}

/// OpenSSL's name of a suite (what `tls-ciphers`/`tls-ciphersuites` use).
fn openssl_name(suite: &SupportedCipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match suite.suite() {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

/// A connection's TLS state, driven by the loop.
pub type Session = rustls::ServerConnection;

/// A new connection's TLS state.
pub fn accept(context: &Arc<ServerConfig>) -> Option<Box<Session>> {
    match rustls::ServerConnection::new(context.clone()) {
        Ok(session) => Some(Box::new(session)),
        Err(e) => {
            log::warn!("Couldn't create new SSL instance: {e}");
            None
        }
    }
}
