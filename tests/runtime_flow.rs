//! The reference runtime's callback flow against a fake provider on loopback and a real
//! SQLite file: the seed's testing checklist (HTML page, 5xx, bad JSON, empty body, slow
//! provider, restart, DB failure), run for real.

use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use oauth_audit::runtime::flow::{CallbackError, CallbackFlow, Connected, ProviderConfig, SyncOutcome};
use oauth_audit::runtime::store::{Database, unix_now};
use oauth_audit::runtime::sync::Enqueued;

const CLOUDFLARE_502: &str =
    "<!DOCTYPE html>\n<html>\n<head><title>example.com | 502: Bad gateway</title></head>\n<body>Cloudflare</body></html>";
const LOGIN_WALL: &str = "\u{feff}  <html><head><title>Sign in &amp; continue</title></head><body><form></form></body></html>";

/// The fake provider: one server for the whole test binary, answering by path.
fn provider_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("binds loopback");
        let port = server.server_addr().to_ip().expect("ip address").port();
        thread::spawn(move || {
            for request in server.incoming_requests() {
                thread::spawn(move || answer(request));
            }
        });
        port
    })
}

fn answer(mut request: tiny_http::Request) {
    let mut form = String::new();
    let _ = request.as_reader().read_to_string(&mut form);
    let (status, content_type, body): (u16, &str, String) = match request.url() {
        "/json" if form.contains("code=good") => {
            (200, "application/json", r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"bearer","expires_in":3600}"#.into())
        }
        "/json" => (400, "application/json", r#"{"error":"invalid_grant","error_description":"Code expired"}"#.into()),
        "/html-200" => (200, "text/html; charset=utf-8", LOGIN_WALL.into()),
        "/html-502" => (502, "text/html", CLOUDFLARE_502.into()),
        "/bad-json" => (200, "application/json", r#"{"access_token": "at-1", "#.into()),
        "/empty" => (200, "application/json", String::new()),
        "/slow" => {
            thread::sleep(Duration::from_secs(3));
            (200, "application/json", r#"{"access_token":"late"}"#.into())
        }
        _ => (404, "text/plain", "not found".into()),
    };
    let header = tiny_http::Header::from_bytes("Content-Type", content_type).expect("header");
    let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(header));
}

fn provider(path: &str) -> ProviderConfig {
    ProviderConfig {
        name: "slack".into(),
        token_url: format!("http://127.0.0.1:{}{path}", provider_port()),
        client_id: "client".into(),
        client_secret: "secret".into(),
        redirect_uri: "https://app.example/oauth/callback".into(),
    }
}

fn complete(database: &mut Database, path: &str, code: &str) -> Result<Connected, CallbackError> {
    let state = database.create_state("acme", "slack", unix_now()).expect("state issued");
    CallbackFlow::with_options(database, Duration::from_millis(800), 3).complete(&provider(path), code, &state)
}

fn count(database: &Database, table: &str) -> i64 {
    database.connection().query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0)).expect("counts")
}

#[test]
fn an_unknown_replayed_or_foreign_state_is_refused_before_the_exchange() {
    let mut database = Database::open_in_memory().expect("opens");
    let mut flow = CallbackFlow::with_options(&mut database, Duration::from_millis(800), 3);
    let unknown = flow.complete(&provider("/json"), "good", "forged").expect_err("refused");
    assert!(matches!(unknown, CallbackError::InvalidState { .. }), "{unknown:?}");
    let state = database.create_state("acme", "notion", unix_now()).expect("state issued");
    let foreign = CallbackFlow::new(&mut database).complete(&provider("/json"), "good", &state).expect_err("refused");
    assert!(matches!(foreign, CallbackError::InvalidState { .. }), "state issued for another provider: {foreign:?}");
    assert_nothing_stored(&database);
}

#[test]
fn a_state_is_used_once() {
    let mut database = Database::open_in_memory().expect("opens");
    let state = database.create_state("acme", "slack", unix_now()).expect("state issued");
    CallbackFlow::new(&mut database).complete(&provider("/json"), "good", &state).expect("connects");
    let replay = CallbackFlow::new(&mut database).complete(&provider("/json"), "good", &state).expect_err("replay refused");
    assert!(matches!(replay, CallbackError::InvalidState { .. }), "{replay:?}");
}

fn assert_nothing_stored(database: &Database) {
    assert_eq!((count(database, "oauth_tokens"), count(database, "connection_events"), count(database, "sync_jobs")), (0, 0, 0));
}

#[test]
fn json_answer_stores_the_token_and_queues_one_sync() {
    let mut database = Database::open_in_memory().expect("opens");
    let connected = complete(&mut database, "/json", "good").expect("connects");
    assert_eq!(connected.token.access_token, "at-1");
    assert_eq!(connected.token.status, "active");
    assert_eq!(connected.token.expires_at - connected.token.updated_at, 3600);
    let SyncOutcome::Queued(Enqueued::New(job)) = connected.sync else { panic!("sync not queued: {:?}", connected.sync) };
    assert_eq!((job.kind.as_str(), job.months, job.status.as_str()), ("historical", 3, "queued"));
}

#[test]
fn a_replayed_callback_does_not_queue_a_second_sync() {
    let mut database = Database::open_in_memory().expect("opens");
    complete(&mut database, "/json", "good").expect("connects");
    let replay = complete(&mut database, "/json", "good").expect("connects again");
    assert!(matches!(replay.sync, SyncOutcome::Queued(Enqueued::Existing(_))), "{:?}", replay.sync);
    assert_eq!((count(&database, "oauth_tokens"), count(&database, "sync_jobs")), (1, 1));
}

#[test]
fn an_html_page_with_status_200_is_an_error_with_its_title_and_stores_nothing() {
    let mut database = Database::open_in_memory().expect("opens");
    let error = complete(&mut database, "/html-200", "good").expect_err("refused");
    assert!(matches!(&error, CallbackError::ErrorPage { status: 200, message, .. } if message == "Sign in & continue"), "{error:?}");
    assert_nothing_stored(&database);
}

#[test]
fn a_502_page_is_an_error_with_its_title() {
    let mut database = Database::open_in_memory().expect("opens");
    let error = complete(&mut database, "/html-502", "good").expect_err("refused");
    assert_eq!(error.to_string(), "slack: example.com | 502: Bad gateway");
    assert_nothing_stored(&database);
}

#[test]
fn invalid_json_and_empty_bodies_are_typed_errors() {
    let mut database = Database::open_in_memory().expect("opens");
    let bad = complete(&mut database, "/bad-json", "good").expect_err("bad json");
    assert!(matches!(bad, CallbackError::InvalidJson { status: 200, .. }), "{bad:?}");
    let empty = complete(&mut database, "/empty", "good").expect_err("empty");
    assert!(matches!(&empty, CallbackError::ErrorPage { message, .. } if message.contains("empty response")), "{empty:?}");
    assert_nothing_stored(&database);
}

#[test]
fn an_oauth_error_carries_the_provider_message() {
    let mut database = Database::open_in_memory().expect("opens");
    let error = complete(&mut database, "/json", "expired").expect_err("refused");
    assert_eq!(error.to_string(), "slack: the provider refused the code (HTTP 400): invalid_grant (Code expired)");
    assert_nothing_stored(&database);
}

#[test]
fn a_slow_provider_times_out_and_stores_nothing() {
    let mut database = Database::open_in_memory().expect("opens");
    let error = complete(&mut database, "/slow", "good").expect_err("times out");
    assert!(matches!(error, CallbackError::Timeout { .. }), "{error:?}");
    assert_nothing_stored(&database);
}

#[test]
fn tokens_survive_reopening_the_database() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("tokens.sqlite3");
    {
        let mut database = Database::open(&path).expect("opens");
        complete(&mut database, "/json", "good").expect("connects");
    }
    let reopened = Database::open(&path).expect("reopens");
    let token = reopened.tokens("acme", "slack").expect("reads").expect("token survived");
    assert_eq!((token.access_token.as_str(), token.refresh_token.as_deref()), ("at-1", Some("rt-1")));
    assert_eq!(reopened.sync_jobs("acme", "slack").expect("reads").len(), 1);
}

fn inject_failure(database: &Database, table: &str) {
    database
        .connection()
        .execute_batch(&format!("CREATE TRIGGER injected BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"))
        .expect("trigger");
}

#[test]
fn a_db_failure_mid_upsert_rolls_everything_back() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("tokens.sqlite3");
    {
        let mut database = Database::open(&path).expect("opens");
        // The token row is written, then the audit event fails: the transaction must undo both.
        inject_failure(&database, "connection_events");
        let error = complete(&mut database, "/json", "good").expect_err("store fails");
        assert!(matches!(&error, CallbackError::Store { source, .. } if source.to_string().contains("injected failure")), "{error:?}");
    }
    let reopened = Database::open(&path).expect("reopens");
    assert_nothing_stored(&reopened);
}

#[test]
fn a_sync_failure_after_commit_keeps_the_token_and_reports_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("tokens.sqlite3");
    {
        let mut database = Database::open(&path).expect("opens");
        inject_failure(&database, "sync_jobs");
        let connected = complete(&mut database, "/json", "good").expect("connects");
        assert!(
            matches!(&connected.sync, SyncOutcome::Failed(error) if error.to_string().contains("injected failure")),
            "{:?}",
            connected.sync
        );
    }
    let reopened = Database::open(Path::new(&path)).expect("reopens");
    assert!(reopened.tokens("acme", "slack").expect("reads").is_some());
    assert_eq!(count(&reopened, "sync_jobs"), 0);
}
