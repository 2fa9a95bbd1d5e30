//! Notices where the lab talks: after a `sync` that worked rows, one message to a Slack (or
//! Mattermost, or classic Teams) incoming webhook.
//!
//! This module owns the `[notify]` table of anontrack.toml ([`NotifyConfig`]), the message's
//! JSON ([`body`]) and sending it ([`send`]). It does not decide what a sync did: the caller
//! builds a [`Notice`] from its own result. A notice holds only the sheet's study IDs and the notes
//! anontrack wrote, never an Original ID, a name or a path outside the study; [`Notice::redact`]
//! lets the caller scrub values it knows must not leave the machine.
//!
//! A notice that cannot be sent is never an error of the sync: [`after_sync`] returns a warning
//! for the caller to show and writes a line to the audit log. The webhook URL is a secret (anyone
//! holding it can post to the channel): it is read from an environment variable or a file, never
//! from anontrack.toml, and no message or audit line ever contains it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How long one attempt may take before it counts as failed.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

/// Most rows listed by name in one message; the rest are counted.
const MAX_LISTED: usize = 30;

/// When to send a notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// Only after a sync that recorded at least one problem (the default).
    #[default]
    Problems,
    /// After every sync that worked at least one row.
    Always,
}

/// Where the webhook URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSource {
    /// The named environment variable holds the URL.
    Env(String),
    /// The file holds the URL (first non-empty line); relative to the study folder.
    File(String),
}

/// The `[notify]` table of anontrack.toml, checked: exactly one webhook source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawNotify", into = "RawNotify")]
pub struct NotifyConfig {
    pub webhook: WebhookSource,
    pub on: NotifyOn,
    /// Seconds one attempt may take (default 10).
    pub timeout_seconds: u64,
}

/// `[notify]` as written; [`NotifyConfig`] is this after its check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slack_webhook_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slack_webhook_file: Option<String>,
    #[serde(default)]
    on: NotifyOn,
    #[serde(default = "default_timeout")]
    timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

impl TryFrom<RawNotify> for NotifyConfig {
    type Error = String;

    fn try_from(raw: RawNotify) -> Result<Self, String> {
        let webhook = match (raw.slack_webhook_env, raw.slack_webhook_file) {
            (Some(var), None) if !var.trim().is_empty() => WebhookSource::Env(var.trim().into()),
            (None, Some(file)) if !file.trim().is_empty() => {
                WebhookSource::File(file.trim().into())
            }
            (Some(_), Some(_)) => {
                return Err(
                    "`[notify]` has both `slack_webhook_env` and `slack_webhook_file` (hint: keep one)"
                        .into(),
                );
            }
            _ => {
                return Err("`[notify]` needs `slack_webhook_env = \"ANONTRACK_SLACK_WEBHOOK\"` (the name of the environment variable holding the webhook URL) or `slack_webhook_file = \"PATH\"`".into());
            }
        };
        if !(1..=120).contains(&raw.timeout_seconds) {
            return Err(format!(
                "`[notify]` `timeout_seconds` is {}; use 1 to 120",
                raw.timeout_seconds
            ));
        }
        Ok(Self {
            webhook,
            on: raw.on,
            timeout_seconds: raw.timeout_seconds,
        })
    }
}

impl From<NotifyConfig> for RawNotify {
    fn from(c: NotifyConfig) -> Self {
        let (env, file) = match c.webhook {
            WebhookSource::Env(v) => (Some(v), None),
            WebhookSource::File(f) => (None, Some(f)),
        };
        Self {
            slack_webhook_env: env,
            slack_webhook_file: file,
            on: c.on,
            timeout_seconds: c.timeout_seconds,
        }
    }
}

/// What one sync did, in the words a notice may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// The study's name (the workbook's `NAME_dataprocessing.xlsx`, or its file name).
    pub study: String,
    /// Study IDs (the sheet's `ID` column) of rows that passed.
    pub passed: Vec<String>,
    /// Study ID and the note written into the sheet, per row with a problem.
    pub problems: Vec<(String, String)>,
    /// Where the reports are, relative to the study folder (`.anontrack/reports/`).
    pub reports_dir: String,
}

impl Notice {
    /// Replaces every occurrence of each of `secrets` (Original IDs, say) in the study name, IDs
    /// and notes by `[redacted]`. Empty and one-character values are ignored (they would
    /// scramble the message without protecting anything).
    pub fn redact<S: AsRef<str>>(mut self, secrets: &[S]) -> Self {
        let scrub = |text: &mut String| {
            for s in secrets {
                let s = s.as_ref().trim();
                if s.chars().count() > 1 && text.contains(s) {
                    *text = text.replace(s, "[redacted]");
                }
            }
        };
        scrub(&mut self.study);
        self.passed.iter_mut().for_each(scrub);
        for (id, note) in &mut self.problems {
            scrub(id);
            scrub(note);
        }
        self
    }

    /// True when `config` asks for this notice to be sent.
    pub fn wanted(&self, config: &NotifyConfig) -> bool {
        match config.on {
            NotifyOn::Problems => !self.problems.is_empty(),
            NotifyOn::Always => !self.problems.is_empty() || !self.passed.is_empty(),
        }
    }
}

impl Notice {
    /// The notice for a sync's results: the sheet's study IDs that passed, and each problem as
    /// `(ID, note)`, with every Original ID in the sheet redacted from the notes.
    pub fn of_sync(study: &crate::study::Study, report: &crate::results::SyncReport) -> Notice {
        let mut notice = Notice {
            study: study_name(study.workbook()),
            reports_dir: ".anontrack/reports/".into(),
            ..Default::default()
        };
        for result in &report.results {
            if result.passed {
                notice.passed.push(result.id.clone());
            } else {
                let note = result.note.clone().unwrap_or_default();
                notice.problems.push((result.id.clone(), note));
            }
        }
        let secrets: Vec<&str> = study
            .table()
            .rows
            .iter()
            .filter_map(|r| r.original_id.as_deref())
            .collect();
        notice.redact(&secrets)
    }
}

/// The study's name for a notice: `PILOT` for `PILOT_dataprocessing.xlsx`, else the workbook's
/// file name without its extension.
pub fn study_name(workbook: &Path) -> String {
    let stem = workbook
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.strip_suffix("_dataprocessing") {
        Some(study) if !study.is_empty() => study.to_string(),
        _ => stem,
    }
}

/// The message, as Slack's incoming webhooks take it: a plain `text` (shown in notifications, and
/// all that Mattermost and classic Teams webhooks display) plus Block Kit `blocks`.
pub fn body(notice: &Notice) -> Value {
    let Notice {
        study,
        passed,
        problems,
        reports_dir,
    } = notice;
    let study = escape(study);
    let summary = format!(
        "anontrack sync for {study}: {} passed, {} with a problem",
        passed.len(),
        problems.len()
    );
    let mut text = summary.clone();
    let mut blocks = vec![section(format!(
        "*anontrack sync* for *{study}*: {} passed, {} with a problem",
        passed.len(),
        problems.len()
    ))];
    if !passed.is_empty() {
        let list = listed(passed.iter().map(|id| escape(id)), ", ");
        text.push_str(&format!("\nPassed: {list}"));
        blocks.push(section(format!("*Passed:* {list}")));
    }
    if !problems.is_empty() {
        let lines = listed(
            problems
                .iter()
                .map(|(id, note)| format!("{}: {}", escape(id), escape(note))),
            "\n",
        );
        text.push_str(&format!("\nProblems:\n{lines}"));
        let bullets = lines
            .lines()
            .map(|l| format!("• {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(section(format!("*Problems:*\n{bullets}")));
    }
    let reports = escape(reports_dir);
    text.push_str(&format!("\nReports: {reports}"));
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("Reports: `{reports}` in the study folder")}],
    }));
    json!({ "text": text, "blocks": blocks })
}

/// A Block Kit section with mrkdwn text, cut to Slack's 3000-character limit.
fn section(text: String) -> Value {
    let text = if text.chars().count() > 3000 {
        let cut: String = text.chars().take(2990).collect();
        format!("{cut} …")
    } else {
        text
    };
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// At most [`MAX_LISTED`] items joined by `sep`, then `(+N more)`.
fn listed(items: impl ExactSizeIterator<Item = String>, sep: &str) -> String {
    let total = items.len();
    let mut out: Vec<String> = items.take(MAX_LISTED).collect();
    if total > MAX_LISTED {
        out.push(format!("(+{} more)", total - MAX_LISTED));
    }
    out.join(sep)
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` (the rest is shown as written).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// How a notice went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The webhook answered 2xx.
    Delivered { status: u16, attempts: u8 },
    /// The config does not ask for this notice (`on = "problems"` and no problem, or no row worked).
    NotWanted,
}

/// Why a notice was not sent. The messages never contain the webhook URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("the environment variable `{0}` named by `[notify]` is not set or empty")]
    EnvMissing(String),
    #[error("cannot read the webhook file `{path}`: {reason}")]
    File { path: String, reason: String },
    #[error(
        "the webhook URL (from {source_name}) is not an https:// URL (plain http is allowed only to this machine)"
    )]
    NotHttps { source_name: String },
    #[error("the webhook answered HTTP {status} (after {attempts} attempt(s))")]
    Status { status: u16, attempts: u8 },
    #[error("the webhook did not answer within {seconds} s (after {attempts} attempt(s))")]
    Timeout { seconds: u64, attempts: u8 },
    #[error("cannot reach the webhook: {reason} (after {attempts} attempt(s))")]
    Network { reason: String, attempts: u8 },
}

/// Sends `notice` as configured, if the config wants it; files in `config` are relative to
/// `base_dir` (the study folder).
///
/// One attempt, plus one retry after a timeout, a network error, HTTP 429 or a 5xx answer; a
/// 4xx answer is not retried (the URL or the body is wrong, and will stay wrong).
pub fn send(config: &NotifyConfig, notice: &Notice, base_dir: &Path) -> Result<Sent, NotifyError> {
    if !notice.wanted(config) {
        return Ok(Sent::NotWanted);
    }
    let (url, source_name) = webhook_url(&config.webhook, base_dir)?;
    let loopback = is_loopback(&url);
    if !(url.starts_with("https://") || (loopback && url.starts_with("http://"))) {
        return Err(NotifyError::NotHttps { source_name });
    }
    let timeout = Duration::from_secs(config.timeout_seconds);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        // A proxy from the environment must not see a post meant for this machine.
        .proxy(if loopback {
            None
        } else {
            ureq::Proxy::try_from_env()
        })
        .user_agent(concat!("anontrack/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let payload = serde_json::to_vec(&body(notice)).expect("a JSON value always encodes");
    let mut attempts = 0u8;
    loop {
        attempts += 1;
        let result = agent
            .post(url.as_str())
            .header("Content-Type", "application/json")
            .send(&payload[..]);
        let failure = match result {
            Ok(resp) if resp.status().is_success() => {
                return Ok(Sent::Delivered {
                    status: resp.status().as_u16(),
                    attempts,
                });
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry = status == 429 || resp.status().is_server_error();
                (NotifyError::Status { status, attempts }, retry)
            }
            Err(e) => (
                network_error(e, &url, config.timeout_seconds, attempts),
                true,
            ),
        };
        match failure {
            (e, true) if attempts < 2 => {
                tracing::debug!("notice not sent ({e}); trying once more");
            }
            (e, _) => return Err(e),
        }
    }
}

/// The URL and a description of where it came from (for messages; never the URL itself).
fn webhook_url(source: &WebhookSource, base_dir: &Path) -> Result<(String, String), NotifyError> {
    match source {
        WebhookSource::Env(var) => {
            let url = std::env::var(var).unwrap_or_default();
            let url = url.trim();
            if url.is_empty() {
                return Err(NotifyError::EnvMissing(var.clone()));
            }
            Ok((url.to_string(), format!("`{var}`")))
        }
        WebhookSource::File(file) => {
            let path = base_dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| NotifyError::File {
                path: file.clone(),
                reason: io_reason(&e),
            })?;
            let url = text.lines().map(str::trim).find(|l| !l.is_empty());
            let url = url.ok_or_else(|| NotifyError::File {
                path: file.clone(),
                reason: "it is empty".into(),
            })?;
            Ok((url.to_string(), format!("`{file}`")))
        }
    }
}

/// An I/O error in words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        kind => kind.to_string(),
    }
}

/// True for `http(s)://127.x.x.x`, `localhost` and `[::1]` URLs.
fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))
    } else {
        host.split(':').next().map(str::to_string)
    };
    matches!(name.as_deref(), Some("localhost") | Some("[::1]"))
        || name.is_some_and(|n| n.starts_with("127.") && n.parse::<std::net::Ipv4Addr>().is_ok())
}

/// A ureq error in words, with the URL (a secret) cut out.
fn network_error(e: ureq::Error, url: &str, seconds: u64, attempts: u8) -> NotifyError {
    let reason = match e {
        ureq::Error::Timeout(_) => return NotifyError::Timeout { seconds, attempts },
        ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::TimedOut => {
            return NotifyError::Timeout { seconds, attempts };
        }
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) => io_reason(&io),
        other => other.to_string(),
    };
    NotifyError::Network {
        reason: reason.replace(url, "<webhook URL>"),
        attempts,
    }
}

/// One line of the audit log about a notice.
#[derive(Debug, Serialize)]
struct NoticeAudit<'a> {
    time: String,
    tool_version: &'a str,
    action: &'a str,
    outcome: &'a str,
    passed: usize,
    problems: usize,
    reason: Option<String>,
}

/// Sends the notice after a sync, if configured, and records the outcome in the audit log under
/// `state_dir` (`.anontrack/`). Returns a warning for the caller to show when it was not sent;
/// nothing here can fail the sync.
pub fn after_sync(
    config: Option<&NotifyConfig>,
    notice: &Notice,
    base_dir: &Path,
    state_dir: &Path,
) -> Option<String> {
    let config = config?;
    let result = send(config, notice, base_dir);
    let (outcome, reason) = match &result {
        Ok(Sent::NotWanted) => return None,
        Ok(Sent::Delivered { .. }) => ("sent", None),
        Err(e) => ("failed", Some(e.to_string())),
    };
    let entry = NoticeAudit {
        time: chrono::Local::now().to_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION"),
        action: "notify",
        outcome,
        passed: notice.passed.len(),
        problems: notice.problems.len(),
        reason: reason.clone(),
    };
    let audit = crate::records::append_audit_line(state_dir, &entry).err();
    match (reason, audit) {
        (None, None) => None,
        (None, Some(a)) => Some(format!(
            "the notice was sent, but the audit log could not be written: {a}"
        )),
        (Some(r), a) => Some(format!(
            "the notice could not be sent: {r} (the sync itself is unaffected{})",
            a.map(|a| format!("; the audit log could not be written either: {a}"))
                .unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NotifyConfig, String> {
        toml::from_str::<NotifyConfig>(text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn config_env() {
        let c = parse("slack_webhook_env = \"ANONTRACK_SLACK_WEBHOOK\"").unwrap();
        assert_eq!(
            c.webhook,
            WebhookSource::Env("ANONTRACK_SLACK_WEBHOOK".into())
        );
        assert_eq!((c.on, c.timeout_seconds), (NotifyOn::Problems, 10));
    }

    #[test]
    fn config_file_always() {
        let c = parse("slack_webhook_file = \"hook.txt\"\non = \"always\"").unwrap();
        assert_eq!(c.webhook, WebhookSource::File("hook.txt".into()));
        assert_eq!(c.on, NotifyOn::Always);
    }

    #[test]
    fn config_refusals() {
        assert!(parse("").unwrap_err().contains("needs `slack_webhook_env"));
        assert!(
            parse("slack_webhook_env = \"A\"\nslack_webhook_file = \"b\"")
                .unwrap_err()
                .contains("both")
        );
        assert!(parse("slack_webhook_env = \"A\"\non = \"sometimes\"").is_err());
        assert!(parse("slack_webhook_env = \"A\"\nurl = \"https://x\"").is_err());
        assert!(
            parse("slack_webhook_env = \"A\"\ntimeout_seconds = 0")
                .unwrap_err()
                .contains("1 to 120")
        );
    }

    #[test]
    fn config_round_trips() {
        let c = parse("slack_webhook_file = \"h\"\non = \"always\"\ntimeout_seconds = 3").unwrap();
        assert_eq!(parse(&toml::to_string(&c).unwrap()).unwrap(), c);
    }

    fn notice() -> Notice {
        Notice {
            study: "PILOT".into(),
            passed: vec!["101".into(), "102".into()],
            problems: vec![("103".into(), "2 tags still hold <PHI> & more".into())],
            reports_dir: ".anontrack/reports/".into(),
        }
    }

    #[test]
    fn body_is_text_plus_blocks() {
        let b = body(&notice());
        assert_eq!(
            b["text"],
            "anontrack sync for PILOT: 2 passed, 1 with a problem\nPassed: 101, 102\nProblems:\n103: 2 tags still hold &lt;PHI&gt; &amp; more\nReports: .anontrack/reports/"
        );
        assert_eq!(b["blocks"].as_array().unwrap().len(), 4);
        assert_eq!(
            b["blocks"][2]["text"]["text"],
            "*Problems:*\n• 103: 2 tags still hold &lt;PHI&gt; &amp; more"
        );
    }

    #[test]
    fn long_lists_are_counted() {
        let n = Notice {
            passed: (0..45).map(|i| i.to_string()).collect(),
            ..notice()
        };
        let b = body(&n);
        assert!(
            b["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .ends_with("29, (+15 more)")
        );
    }

    #[test]
    fn redact_scrubs_values() {
        let n = Notice {
            problems: vec![("103".into(), "no raw folder sourcedata/60784".into())],
            ..notice()
        }
        .redact(&["60784", "", "1"]);
        assert_eq!(n.problems[0].1, "no raw folder sourcedata/[redacted]");
        assert_eq!(n.passed, ["101", "102"]);
    }

    #[test]
    fn wanted_follows_on() {
        let mut c = parse("slack_webhook_env = \"A\"").unwrap();
        let clean = Notice {
            problems: vec![],
            ..notice()
        };
        assert!(!clean.wanted(&c));
        assert!(notice().wanted(&c));
        c.on = NotifyOn::Always;
        assert!(clean.wanted(&c));
        assert!(!Notice::default().wanted(&c));
    }

    #[test]
    fn study_names() {
        assert_eq!(
            study_name(Path::new("a/PILOT_dataprocessing.xlsx")),
            "PILOT"
        );
        assert_eq!(study_name(Path::new("tracking.xlsx")), "tracking");
        assert_eq!(
            study_name(Path::new("_dataprocessing.xlsx")),
            "_dataprocessing"
        );
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:8080/hook"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:9/x"));
        assert!(!is_loopback("http://127.0.0.1.evil.example/x"));
        assert!(!is_loopback("https://hooks.slack.com/services/T/B/X"));
    }

    #[test]
    fn plain_http_elsewhere_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook"), "\n http://example.org/hook \n").unwrap();
        let c = parse("slack_webhook_file = \"hook\"").unwrap();
        let e = send(&c, &notice(), dir.path()).unwrap_err();
        assert!(matches!(e, NotifyError::NotHttps { .. }), "{e}");
        assert!(!e.to_string().contains("example.org"));
    }

    #[test]
    fn unset_variable_is_named() {
        let c = parse("slack_webhook_env = \"ANONTRACK_TEST_NEVER_SET_4711\"").unwrap();
        let e = send(&c, &notice(), Path::new("")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the environment variable `ANONTRACK_TEST_NEVER_SET_4711` named by `[notify]` is not set or empty"
        );
    }

    #[test]
    fn missing_file_names_it_without_os_numbers() {
        let c = parse("slack_webhook_file = \"nope.txt\"").unwrap();
        let e = send(&c, &notice(), Path::new("/nonexistent-dir")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read the webhook file `nope.txt`: no such file"
        );
    }
}
