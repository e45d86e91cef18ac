//! Wrappers defined in another file of the tree decide a site's origin and guard: a retry
//! wrapper returning the raw response makes a `high` site; a wrapper that checks the
//! content type before returning the response makes its callers safe. The wrappers' file
//! has no `.json(` and is parsed only because resolution reaches it.

mod common;

use common::json_report;

const HTTP: &str = r#"import httpx


async def post_with_retry(client, url, data):
    for _ in range(3):
        try:
            return await client.post(url, data=data)
        except httpx.TransportError:
            continue
    raise RuntimeError("gave up")


async def get_checked(client, url):
    resp = await client.get(url)
    if "application/json" not in resp.headers.get("content-type", ""):
        raise ValueError("provider did not answer JSON")
    return resp
"#;

const SERVICE: &str = r#"from app.core.http import post_with_retry, get_checked
from app.core import http as http_utils
import app.core.http


async def exchange(client, url):
    response = await post_with_retry(client, url, {})
    return response.json()


async def profile(client, url):
    response = await get_checked(client, url)
    return response.json()


async def profile_via_module(client, url):
    resp = await http_utils.get_checked(client, url)
    return resp.json()


async def exchange_via_module(client, url):
    r = await http_utils.post_with_retry(client, url, {})
    return r.json()


async def exchange_via_dotted_import(client, url):
    result = await app.core.http.post_with_retry(client, url, {})
    return result.json()
"#;

#[test]
fn wrappers_in_other_files_decide_origin_and_guard() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    std::fs::create_dir_all(root.join("app/core")).expect("mkdir");
    std::fs::create_dir_all(root.join("app/integrations")).expect("mkdir");
    std::fs::write(root.join("app/__init__.py"), "").expect("write");
    std::fs::write(root.join("app/core/__init__.py"), "").expect("write");
    std::fs::write(root.join("app/core/http.py"), HTTP).expect("write");
    std::fs::write(root.join("app/integrations/notion_service.py"), SERVICE).expect("write");
    let report = json_report(&[root.to_str().expect("path")]);
    let findings: Vec<(u64, String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["line"].as_u64().expect("line"),
                finding["confidence"].as_str().expect("confidence").to_string(),
                finding["message"].as_str().expect("message").to_string(),
            )
        })
        .collect();
    let lines: Vec<u64> = findings.iter().map(|(line, _, _)| *line).collect();
    assert_eq!(lines, vec![8, 23, 28], "the raw wrapper's callers are sites, the checking wrapper's are not: {findings:#?}");
    for (_, confidence, message) in &findings {
        assert_eq!(confidence, "high");
        assert!(message.contains("raw response returned by"), "{message}");
    }
    assert_eq!(report["summary"]["steps"]["html_guard"], serde_json::json!({"done": 2, "total": 5}));
}

#[test]
fn a_response_bound_by_async_with_is_a_known_client_call() {
    let folder = tempfile::tempdir().expect("temp dir");
    let code = "async def fetch(session, url):\n    async with session.get(url) as resp:\n        return resp.json()\n\n\
async def fetch_guarded(session, url):\n    async with session.get(url) as resp:\n        try:\n            return resp.json()\n        except aiohttp.ContentTypeError:\n            return None\n";
    std::fs::write(folder.path().join("slack_client.py"), code).expect("write");
    let report = json_report(&[folder.path().to_str().expect("path")]);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["line"], 3);
    assert_eq!(findings[0]["confidence"], "high");
    assert_eq!(report["summary"]["steps"]["html_guard"], serde_json::json!({"done": 1, "total": 2}));
}

const CLIENT: &str = r#"import requests


class Requests:
    """A thin client: `post` returns the raw response, `get_checked` checks it first."""

    def post(self, url, **kwargs):
        return requests.post(url, timeout=10, **kwargs)

    def get_checked(self, url):
        resp = requests.get(url, timeout=10)
        if not resp.headers.get("content-type", "").startswith("application/json"):
            raise ValueError("not JSON")
        return resp
"#;

const USES: &str = r#"from app.util.request import Requests


def exchange(url):
    result = Requests().post(url, data={})
    return result.json()


def profile(url):
    api = Requests()
    reply = api.get_checked(url)
    return reply.json()


def refresh(api: Requests, url):
    outcome = api.post(url, data={})
    return outcome.json()
"#;

#[test]
fn methods_of_tree_classes_called_on_instances_are_followed() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    std::fs::create_dir_all(root.join("app/util")).expect("mkdir");
    std::fs::create_dir_all(root.join("app/integrations")).expect("mkdir");
    std::fs::write(root.join("app/util/request.py"), CLIENT).expect("write");
    std::fs::write(root.join("app/integrations/reddit.py"), USES).expect("write");
    let report = json_report(&[root.to_str().expect("path")]);
    let findings: Vec<(u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| (finding["line"].as_u64().expect("line"), finding["confidence"].as_str().expect("confidence").to_string()))
        .collect();
    // `result` and `outcome` say nothing by name: only following `Requests.post` finds them.
    assert_eq!(findings, vec![(6, "high".to_string()), (17, "high".to_string())], "{:#?}", report["findings"]);
    assert_eq!(report["summary"]["steps"]["html_guard"], serde_json::json!({"done": 1, "total": 3}));
}
