//! Notices (`[notify]`): posted to a real HTTP server on 127.0.0.1 that this test starts, which
//! accepts, rejects or hangs. Checks the exact JSON sent, that no Original ID or name is in it, the
//! one retry, the timeout, and the audit line of a failed notice.

use anontrack::notify::{self, Notice, NotifyConfig, NotifyError, Sent};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the test server answers one connection.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    /// Read the request, then say nothing for 3 s (past the 1 s timeout the tests use).
    Hang,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: String,
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

/// Starts a server on 127.0.0.1 that answers one connection per entry of `replies`, in order, then
/// stops. It gives up waiting for a connection after 20 s, so a test never hangs on it.
fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "http://{}/services/T000/B000/XXXX",
        listener.local_addr().unwrap()
    );
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for reply in replies {
            let deadline = Instant::now() + Duration::from_secs(20);
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(Request {
                head,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut stream = reader.into_inner();
            match reply {
                Reply::Status(code) => {
                    let text = if code == 200 { "ok" } else { "no_service" };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                }
                // Held open in its own thread, so the next connection is served meanwhile.
                Reply::Hang => {
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(3));
                        drop(stream);
                    });
                }
            }
        }
    });
    Server { url, requests }
}

impl Server {
    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// A study folder whose `hook.txt` holds the server's URL, and a config reading it.
fn setup(server: &Server, on: &str) -> (tempfile::TempDir, NotifyConfig) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook.txt"), format!("{}\n", server.url)).unwrap();
    let config: NotifyConfig = toml::from_str(&format!(
        "slack_webhook_file = \"hook.txt\"\non = \"{on}\"\ntimeout_seconds = 1"
    ))
    .unwrap();
    (dir, config)
}

/// What a sync of the demo-like study would report: row 103's note names a raw folder by its
/// Original ID (60784), which the caller scrubs with [`Notice::redact`].
fn notice() -> Notice {
    Notice {
        study: "PILOT".into(),
        passed: vec!["101".into(), "102".into()],
        problems: vec![
            (
                "103".into(),
                "ID check: PatientID differs in 2 files (check the folder sourcedata/60784)".into(),
            ),
            ("104".into(), "no raw folder".into()),
        ],
        reports_dir: ".anontrack/reports/".into(),
    }
    .redact(&["60784", "Jane Doe", "DOE^JANE"])
}

/// The documented message (docs/notify.md) for [`notice`].
fn expected_body() -> serde_json::Value {
    json!({
        "text": "anontrack sync for PILOT: 2 passed, 2 with a problem\nPassed: 101, 102\nProblems:\n103: ID check: PatientID differs in 2 files (check the folder sourcedata/[redacted])\n104: no raw folder\nReports: .anontrack/reports/",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*anontrack sync* for *PILOT*: 2 passed, 2 with a problem"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Passed:* 101, 102"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Problems:*\n• 103: ID check: PatientID differs in 2 files (check the folder sourcedata/[redacted])\n• 104: no raw folder"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Reports: `.anontrack/reports/` in the study folder"}]}
        ]
    })
}

#[test]
fn accepted_notice_is_exactly_the_documented_json() {
    let server = serve(vec![Reply::Status(200)]);
    let (dir, config) = setup(&server, "problems");
    let sent = notify::send(&config, &notice(), dir.path()).unwrap();
    assert_eq!(
        sent,
        Sent::Delivered {
            status: 200,
            attempts: 1
        }
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert!(
        r.head
            .starts_with("POST /services/T000/B000/XXXX HTTP/1.1\r\n"),
        "{}",
        r.head
    );
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{}",
        r.head
    );
    let got: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(got, expected_body());
    for phi in [
        "60784",
        "Doe",
        "DOE",
        "JANE",
        "/tmp",
        dir.path().to_str().unwrap(),
    ] {
        assert!(!r.body.contains(phi), "`{phi}` in the notice: {}", r.body);
    }
}

#[test]
fn server_error_is_retried_once_then_reported() {
    let server = serve(vec![Reply::Status(500), Reply::Status(500)]);
    let (dir, config) = setup(&server, "problems");
    let err = notify::send(&config, &notice(), dir.path()).unwrap_err();
    assert_eq!(
        err,
        NotifyError::Status {
            status: 500,
            attempts: 2
        }
    );
    assert_eq!(server.requests().len(), 2);
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn one_retry_can_succeed() {
    let server = serve(vec![Reply::Status(503), Reply::Status(200)]);
    let (dir, config) = setup(&server, "problems");
    let sent = notify::send(&config, &notice(), dir.path()).unwrap();
    assert_eq!(
        sent,
        Sent::Delivered {
            status: 200,
            attempts: 2
        }
    );
    let requests = server.requests();
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn not_found_is_not_retried() {
    let server = serve(vec![Reply::Status(404), Reply::Status(200)]);
    let (dir, config) = setup(&server, "problems");
    let err = notify::send(&config, &notice(), dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the webhook answered HTTP 404 (after 1 attempt(s))"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn hanging_server_times_out_after_one_retry() {
    let server = serve(vec![Reply::Hang, Reply::Hang]);
    let (dir, config) = setup(&server, "problems");
    let start = Instant::now();
    let err = notify::send(&config, &notice(), dir.path()).unwrap_err();
    let took = start.elapsed();
    assert_eq!(
        err,
        NotifyError::Timeout {
            seconds: 1,
            attempts: 2
        }
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn nothing_is_sent_when_not_wanted() {
    let server = serve(vec![Reply::Status(200)]);
    let (dir, config) = setup(&server, "problems");
    let clean = Notice {
        problems: vec![],
        ..notice()
    };
    assert_eq!(
        notify::send(&config, &clean, dir.path()).unwrap(),
        Sent::NotWanted
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.requests().is_empty());
}

/// Lines of `.anontrack/audit.jsonl` under `dir`.
fn audit_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(".anontrack/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn failed_notice_is_a_warning_and_an_audit_line() {
    let server = serve(vec![Reply::Status(500), Reply::Status(500)]);
    let (dir, config) = setup(&server, "always");
    let state = dir.path().join(".anontrack");
    let warning = notify::after_sync(Some(&config), &notice(), dir.path(), &state).unwrap();
    assert_eq!(
        warning,
        "the notice could not be sent: the webhook answered HTTP 500 (after 2 attempt(s)) (the sync itself is unaffected)"
    );
    let lines = audit_lines(dir.path());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action"], "notify");
    assert_eq!(lines[0]["outcome"], "failed");
    assert_eq!(lines[0]["problems"], 2);
    assert!(!lines[0].to_string().contains(&server.url));
}

#[test]
fn sent_notice_is_an_audit_line_without_warning() {
    let server = serve(vec![Reply::Status(200)]);
    let (dir, config) = setup(&server, "always");
    let state = dir.path().join(".anontrack");
    assert_eq!(
        notify::after_sync(Some(&config), &notice(), dir.path(), &state),
        None
    );
    assert_eq!(audit_lines(dir.path())[0]["outcome"], "sent");
    // Without `[notify]`, nothing happens at all.
    assert_eq!(
        notify::after_sync(None, &notice(), dir.path(), &state),
        None
    );
    assert_eq!(audit_lines(dir.path()).len(), 1);
}

#[test]
fn unreachable_server_is_a_network_warning() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hook.txt"),
        format!("http://127.0.0.1:{port}/hook"),
    )
    .unwrap();
    let config: NotifyConfig =
        toml::from_str("slack_webhook_file = \"hook.txt\"\ntimeout_seconds = 1").unwrap();
    let err = notify::send(&config, &notice(), dir.path()).unwrap_err();
    assert!(
        matches!(err, NotifyError::Network { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&port.to_string()), "{err}");
}

/// Runs `sync` on a copy of the example study in which row 103's raw folder is missing (so one row
/// passes and one gets a note), with `notify` appended to its anontrack.toml. Returns the exit
/// code, `status --json` afterwards, stderr and the study folder's workdir.
fn sync_example(notify: Option<&str>) -> (i32, String, String, crate::harness::Workdir) {
    let w = crate::harness::Workdir::new();
    let dir = crate::examples::example_study(&w);
    std::fs::remove_dir_all(dir.join("sourcedata/70003")).unwrap();
    if let Some(table) = notify {
        let toml = dir.join("anontrack.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(&toml, format!("{text}\n{table}")).unwrap();
    }
    let run = w.run(["sync", "study/EXAMPLE_dataprocessing.xlsx"]);
    let code = run.code();
    let stderr = run.stderr();
    let status = w
        .run(["--json", "status", "study/EXAMPLE_dataprocessing.xlsx"])
        .stdout();
    (code, status, stderr, w)
}

#[test]
fn sync_posts_one_notice_without_original_ids() {
    let server = serve(vec![Reply::Status(200)]);
    let hook = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(hook.path(), &server.url).unwrap();
    let table = format!(
        "[notify]\nslack_webhook_file = \"{}\"\non = \"problems\"\n",
        hook.path().display()
    );
    let (code, _, stderr, _w) = sync_example(Some(&table));
    assert_eq!(code, 1, "{stderr}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{stderr}");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "anontrack sync for EXAMPLE: 1 passed, 1 with a problem\nPassed: 101\nProblems:\n103: "
        ),
        "{text}"
    );
    assert!(text.ends_with("\nReports: .anontrack/reports/"), "{text}");
    for secret in ["70001", "70002", "70003", "Testperson", "Synthetic Imaging"] {
        assert!(!requests[0].body.contains(secret), "`{secret}` in {text}");
    }
}

#[test]
fn a_failing_server_changes_neither_exit_code_nor_workbook() {
    let (code, status, _, _w) = sync_example(None);
    let server = serve(vec![Reply::Status(500), Reply::Status(500)]);
    let hook = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(hook.path(), &server.url).unwrap();
    let table = format!(
        "[notify]\nslack_webhook_file = \"{}\"\non = \"always\"\ntimeout_seconds = 1\n",
        hook.path().display()
    );
    let (code_n, status_n, stderr_n, w) = sync_example(Some(&table));
    assert_eq!(code_n, code);
    assert_eq!(status_n, status);
    assert!(
        stderr_n.contains("the notice could not be sent: the webhook answered HTTP 500"),
        "{stderr_n}"
    );
    assert!(!stderr_n.contains(&server.url), "{stderr_n}");
    assert_eq!(server.requests().len(), 2);
    let lines = audit_lines(&w.join("study"));
    let notice = lines.iter().find(|l| l["action"] == "notify").unwrap();
    assert_eq!(notice["outcome"], "failed");
}
