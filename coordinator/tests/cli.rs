//! The `mpic` binary as an operator runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn mpic(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpic"));
    command.args(args).env_remove("MPIC_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn keygen_prints_a_seed_and_its_public_key() {
    let output = mpic(&["keygen"], &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let seed = mpic_core::keys::parse_signing_key(lines[0]).unwrap();
    assert!(lines[0].starts_with("ed25519-seed:"));
    let public = mpic_core::keys::parse_verifying_key(lines[1]).unwrap();
    assert_eq!(seed.verifying_key(), public);
    // Fresh randomness each time.
    assert_ne!(stdout(&mpic(&["keygen"], &[])), text);
}

#[test]
fn keygen_out_writes_an_owner_only_seed_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("coordinator");
    let prefix = prefix.to_str().unwrap();
    assert!(mpic(&["keygen", "--out", prefix], &[]).status.success());
    let seed = std::fs::read_to_string(format!("{prefix}.seed")).unwrap();
    let public = std::fs::read_to_string(format!("{prefix}.pub")).unwrap();
    assert_eq!(
        mpic_core::keys::parse_signing_key(&seed)
            .unwrap()
            .verifying_key(),
        mpic_core::keys::parse_verifying_key(&public).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(format!("{prefix}.seed"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = mpic(&["keygen", "--out", prefix], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(format!("{prefix}.seed")).unwrap(),
        seed
    );
}

#[test]
fn config_check_lists_every_problem_and_exits_2() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/mpic.example.toml");
    let seed = stdout(&mpic(&["keygen"], &[]))
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let secret = stdout(&mpic(&["keygen", "--secret"], &[]))
        .trim()
        .to_owned();

    let ok = mpic(
        &["config", "check", "--config", example],
        &[("MPIC_SIGNING_KEY", &seed), ("MPIC_COHORT_SECRET", &secret)],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("OK (8 perspectives, 6 per attempt"));

    let bad = mpic(&["config", "check", "--config", example], &[]);
    assert_eq!(bad.status.code(), Some(2));
    let text = stdout(&bad);
    assert!(
        text.contains(
            "error: coordinator.signing_key_env: environment variable `MPIC_SIGNING_KEY` is not set"
        ),
        "{text}"
    );
    assert!(
        text.contains("error: coordinator.cohort_secret_env"),
        "{text}"
    );

    let missing = mpic(
        &["config", "check", "--config", "/nonexistent/mpic.toml"],
        &[],
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn serve_help_shows_a_curl_example_and_a_bad_config_exits_2() {
    let help = mpic(&["serve", "--help"], &[]);
    assert!(help.status.success());
    let text = stdout(&help);
    for fragment in ["--listen", "curl", "/mpic", "Authorization: Bearer"] {
        assert!(text.contains(fragment), "{fragment}: {text}");
    }
    let missing = mpic(&["serve", "--config", "/nonexistent/mpic.toml"], &[]);
    assert_eq!(missing.status.code(), Some(2));
}

/// `mpic serve` answers on loopback and exits 0 on SIGTERM.
#[cfg(unix)]
#[test]
fn serve_answers_and_stops_on_sigterm() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const PATIENCE: Duration = Duration::from_secs(30);
    // A copy: the default evidence store is made beside the configuration,
    // which must not be the source tree.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mpic.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/mpic.example.toml"),
        &copy,
    )
    .unwrap();
    let example = copy.to_str().unwrap();
    let seed = stdout(&mpic(&["keygen"], &[]))
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let secret = stdout(&mpic(&["keygen", "--secret"], &[]))
        .trim()
        .to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpic"))
        .args(["serve", "--config", example, "--listen", "127.0.0.1:0"])
        .env_remove("MPIC_CONFIG")
        .env("MPIC_SIGNING_KEY", &seed)
        .env("MPIC_COHORT_SECRET", &secret)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The log says where it listens; read it on another thread so that a
    // silent server cannot hang the test.
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let addr = loop {
        let left = PATIENCE.saturating_sub(started.elapsed());
        let Ok(line) = received.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no `listening` line from mpic serve");
        };
        if line.contains("listening")
            && let Some(at) = line.find("addr=")
        {
            break line[at + 5..].split_whitespace().next().unwrap().to_owned();
        }
    };

    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: mpic\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
    // Without [evidence], the store is SQLite beside the configuration.
    assert!(dir.path().join("evidence.sqlite3").exists());

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > PATIENCE * 2 {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        exited.and_then(|s| s.code()),
        Some(0),
        "mpic serve did not stop cleanly on SIGTERM"
    );
}

#[test]
fn check_and_perspectives_refuse_bad_usage_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mpic.toml");
    let missing = missing.to_str().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/mpic.example.toml");
    let env = [
        (
            "MPIC_SIGNING_KEY",
            "ed25519-seed:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        (
            "MPIC_COHORT_SECRET",
            "a cohort secret of at least thirty-two bytes",
        ),
    ];
    let doh_without_primary = mpic(
        &[
            "check",
            "--config",
            example,
            "--doh-url",
            "https://dns.example/q",
            "caa",
            "example.com",
        ],
        &env,
    );
    assert_eq!(doh_without_primary.status.code(), Some(2));
    assert!(
        String::from_utf8(doh_without_primary.stderr)
            .unwrap()
            .contains("--primary")
    );

    let cases: [(&[&str], &str); 7] = [
        (&["check"], "Usage"),
        (&["check", "request", "{not json"], "not JSON"),
        (
            &[
                "check",
                "request",
                r#"{"check_type":"caa","domain_or_ip_target":"exa mple.com"}"#,
            ],
            "domain_or_ip_target: ",
        ),
        (
            &["check", "--in-process", "6", "caa", "example.com"],
            "--caa-domain",
        ),
        // A lost MPIC_CONFIG never means "check from this host".
        (&["check", "caa", "example.com"], "--in-process N"),
        (&["perspectives", "--config", missing], "cannot read"),
        (
            &["check", "--config", missing, "caa", "example.com"],
            "cannot read",
        ),
    ];
    for (args, want) in cases {
        let output = mpic(args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn unknown_commands_exit_2() {
    assert_eq!(mpic(&["no-such-command"], &[]).status.code(), Some(2));
}
