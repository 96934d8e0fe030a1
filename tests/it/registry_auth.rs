//! Registry authentication against a mock registry (no peers): Bearer tokens and Basic
//! challenges, credentials from the docker config's `auths` and from a credential helper,
//! and no password or token in any output.

use crate::support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw-canary";
const TOKEN: &str = "TOKEN-canary-1234";
const ID_TOKEN: &str = "IDTOKEN-canary-5678";
const INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Bearer,
    Basic,
}

struct Mock {
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
}

fn start(mode: Mode) -> Mock {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, lg) = (addr.clone(), log.clone());
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (a, lg) = (a.clone(), lg.clone());
            std::thread::spawn(move || serve(c, mode, &a, &lg));
        }
    });
    Mock { addr, log }
}

fn serve(mut c: TcpStream, mode: Mode, addr: &str, log: &Mutex<Vec<String>>) {
    let Ok(Some(buf)) = support::read_http_request(&mut c) else {
        return;
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let first = head.lines().next().unwrap_or("").to_owned();
    let path = first.split(' ').nth(1).unwrap_or("").to_owned();
    let auth = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: ")
                .or_else(|| l.strip_prefix("Authorization: "))
        })
        .unwrap_or("")
        .to_owned();
    log.lock().unwrap().push(format!(
        "{first} auth={}",
        auth.split(' ').next().unwrap_or("")
    ));
    let reply = |c: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let _ = c.write_all(
            format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        let _ = c.write_all(body);
    };
    if path.starts_with("/token") {
        if first.starts_with("POST") {
            if body.contains(&format!("refresh_token={ID_TOKEN}"))
                && body.contains("grant_type=refresh_token")
            {
                reply(
                    &mut c,
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    format!(r#"{{"access_token":"{TOKEN}"}}"#).as_bytes(),
                );
            } else {
                reply(&mut c, "401 Unauthorized", "", b"{}");
            }
        } else if auth == basic() {
            reply(
                &mut c,
                "200 OK",
                "Content-Type: application/json\r\n",
                format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes(),
            );
        } else {
            reply(&mut c, "401 Unauthorized", "", b"{}");
        }
        return;
    }
    let ok = match mode {
        Mode::Bearer => auth == format!("Bearer {TOKEN}"),
        Mode::Basic => auth == basic(),
    };
    if !ok {
        let challenge = match mode {
            Mode::Bearer => format!(
                r#"WWW-Authenticate: Bearer realm="http://{addr}/token",service="mock",scope="repository:app:pull""#
            ),
            Mode::Basic => r#"WWW-Authenticate: Basic realm="mock""#.to_owned(),
        };
        reply(
            &mut c,
            "401 Unauthorized",
            &format!("{challenge}\r\n"),
            b"{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
        );
        return;
    }
    if path == "/v2/app/manifests/v1" {
        reply(
            &mut c,
            "200 OK",
            "Content-Type: application/vnd.oci.image.index.v1+json\r\n",
            INDEX,
        );
    } else {
        reply(&mut c, "404 Not Found", "", b"{}");
    }
}

fn config_with_auths(dir: &Path, registry: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

fn discover(mock: &Mock, config: &Path, path: Option<&str>) -> (bool, String) {
    let mut cmd = support::cargo_provenance();
    cmd.env("DOCKER_CONFIG", config)
        .args(["discover", &format!("{}/app:v1", mock.addr), "-v"]);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn no_secrets(text: &str) {
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(ID_TOKEN), "identity token leaked: {text}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(!text.contains(&b64), "basic credentials leaked: {text}");
}

#[test]
fn bearer_token_flow_with_docker_config_credentials() {
    let mock = start(Mode::Bearer);
    let dir = tempfile::tempdir().unwrap();
    config_with_auths(dir.path(), &mock.addr, PASSWORD);
    let (ok, text) = discover(&mock, dir.path(), None);
    assert!(ok, "{text}");
    assert!(
        text.contains(&cargo_provenance::util::digest::Digest::of(INDEX).to_string()),
        "{text}"
    );
    no_secrets(&text);
    let log = mock.log.lock().unwrap().join("\n");
    assert!(
        log.contains("GET /token?service=mock&scope=repository%3Aapp%3Apull%2Cpush"),
        "{log}"
    );
    assert!(log.contains("auth=Bearer"), "{log}");
}

#[test]
fn wrong_password_is_exit_2_without_leaking_it() {
    let mock = start(Mode::Bearer);
    let dir = tempfile::tempdir().unwrap();
    config_with_auths(dir.path(), &mock.addr, &format!("{PASSWORD}-wrong"));
    let (ok, text) = discover(&mock, dir.path(), None);
    assert!(!ok);
    assert!(text.contains("docker login"), "{text}");
    no_secrets(&text);
}

#[test]
fn basic_challenge_and_anonymous_refusal() {
    let mock = start(Mode::Basic);
    let dir = tempfile::tempdir().unwrap();
    config_with_auths(dir.path(), &mock.addr, PASSWORD);
    let (ok, text) = discover(&mock, dir.path(), None);
    assert!(ok, "{text}");
    no_secrets(&text);
    let empty = tempfile::tempdir().unwrap();
    let (ok, text) = discover(&mock, empty.path(), None);
    assert!(!ok);
    assert!(
        text.contains("requires a login") && text.contains(&mock.addr),
        "{text}"
    );
}

#[test]
fn credential_helper_supplies_credentials() {
    let mock = start(Mode::Bearer);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-mocktest");
    crate::support::write_script(
        &helper,
        &format!(
            "#!/bin/sh\nread host\necho '{{\"ServerURL\":\"'$host'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n"
        ),
    );
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"mocktest"}}}}"#, mock.addr),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (ok, text) = discover(&mock, dir.path(), Some(&path));
    assert!(ok, "{text}");
    no_secrets(&text);
}

#[test]
fn identity_token_uses_the_refresh_token_flow() {
    let mock = start(Mode::Bearer);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{ID_TOKEN}"}}}}}}"#,
            mock.addr
        ),
    )
    .unwrap();
    let (ok, text) = discover(&mock, dir.path(), None);
    assert!(ok, "{text}");
    no_secrets(&text);
    let log = mock.log.lock().unwrap().join("\n");
    assert!(log.contains("POST /token"), "{log}");
}
