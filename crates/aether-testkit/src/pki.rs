//! [`Pki`]: a certificate authority, a server certificate for `127.0.0.1`
//! and `localhost`, and a client certificate, generated for one test and
//! written as PEM files to a temporary directory.
//!
//! ```no_run
//! # async fn demo() {
//! use aether_testkit::{NatsServer, Pki};
//! let pki = Pki::generate();
//! let server = NatsServer::with_config(pki.server_tls_block(true))
//!     .probe_tls(&pki.ca)
//!     .start()
//!     .await;
//! # drop(server);
//! # }
//! ```

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// Generated certificates (PEM files in a temp dir removed on drop).
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server's certificate (SANs `127.0.0.1`, `localhost`).
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// A CA nobody trusts, for mismatch tests.
    pub other_ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Pki {
    /// Generates everything.
    ///
    /// # Panics
    /// If generating keys or writing the files fails (a broken test
    /// environment).
    pub fn generate() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("aether-pki-")
            .tempdir()
            .expect("temp dir for certificates");
        let (ca, ca_key) = authority("aether test CA");
        let (other, _) = authority("untrusted CA");
        let leaf = |name: &str, sans: Vec<String>| {
            let mut params = CertificateParams::new(sans).expect("certificate params");
            params.distinguished_name.push(DnType::CommonName, name);
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &ca, &ca_key).expect("sign leaf");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) =
            leaf("nats-server", vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_cert, client_key) = leaf("aether-client", vec!["aether-client".into()]);
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        Pki {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server-key.pem", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            other_ca: write("other-ca.pem", &other.pem()),
            dir,
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `tls { ... }` block for the server config; with `verify_clients`
    /// the server demands a client certificate signed by the CA.
    pub fn server_tls_block(&self, verify_clients: bool) -> String {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: {verify_clients}\n}}\n",
            self.server_cert, self.server_key, self.ca
        )
    }
}

fn authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    (cert, key)
}
