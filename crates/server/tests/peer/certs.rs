//! Test certificates made with the `openssl` command: a CA, and server certificates for
//! 127.0.0.1 it signs, valid for a day or only in a given past span (an expired one).

use std::path::Path;

/// When a server certificate is valid.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Validity {
    /// From now, for a day.
    Today,
    /// Only from `start` to `end` (`YYYYMMDDHHMMSSZ`).
    Between(&'static str, &'static str),
}

/// Runs `openssl ARGS` in `dir` and fails the test with its stderr if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The arguments of a new P-256 key without a passphrase.
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA in `dir`: `CA-ca.pem` and `CA-ca.key`, with what `openssl ca` needs to sign with it.
pub(crate) fn authority(dir: &Path, ca: &str) {
    let write = |name: String, text: &str| std::fs::write(dir.join(name), text).expect("a file");
    write(
        format!("{ca}-ca.cnf"),
        &format!(
            "[ca]\ndefault_ca = test\n[test]\ndatabase = {ca}-index.txt\nnew_certs_dir = .\n\
             serial = {ca}-serial\nunique_subject = no\ndefault_md = sha256\npolicy = any\n\
             [any]\ncommonName = supplied\n"
        ),
    );
    write(format!("{ca}-index.txt"), "");
    write(format!("{ca}-serial"), "01\n");
    write(
        "server.ext".to_string(),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    );
    let (key, pem, subject) = (
        format!("{ca}-ca.key"),
        format!("{ca}-ca.pem"),
        format!("/CN={ca} test CA"),
    );
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &EC_KEY,
            &[
                "-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject,
            ],
        ]
        .concat(),
    );
}

/// A server certificate for 127.0.0.1 in `dir`, `NAME.pem` and `NAME.key`, signed by the CA
/// `ca` made with [`authority`].
pub(crate) fn server(dir: &Path, ca: &str, name: &str, validity: Validity) {
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &EC_KEY,
            &["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    let (config, ca_pem, ca_key) = (
        format!("{ca}-ca.cnf"),
        format!("{ca}-ca.pem"),
        format!("{ca}-ca.key"),
    );
    let mut args = vec![
        "ca",
        "-batch",
        "-config",
        &config,
        "-cert",
        &ca_pem,
        "-keyfile",
        &ca_key,
        "-in",
        &csr,
        "-out",
        &pem,
        "-extfile",
        "server.ext",
        "-notext",
    ];
    match validity {
        Validity::Today => args.extend(["-days", "1"]),
        Validity::Between(start, end) => args.extend(["-startdate", start, "-enddate", end]),
    }
    openssl(dir, &args);
}
