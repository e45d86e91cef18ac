//! The TypeScript frontend end to end: verdicts on the TS fixtures (snapshot), the
//! delegation from Next.js to the FastAPI backend, skipped files, and no panic on any
//! `.ts/.tsx/.mts/.cts` input.

mod common;

use common::{fixture, json_report, run, string_pairs, write_file};

/// Callbacks with their chains, every finding, and each integration's dashboard row.
fn verdict_lines(report: &serde_json::Value) -> String {
    let mut text = String::new();
    for integration in report["integrations"].as_array().expect("integrations") {
        for callback in integration["callbacks"].as_array().expect("callbacks") {
            let hops = |key: &str| -> String {
                callback[key]
                    .as_array()
                    .expect("hops")
                    .iter()
                    .map(|hop| format!("{}:{} {}", hop["file"].as_str().unwrap_or(""), hop["line"], hop["function"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            };
            text.push_str(&format!(
                "{} [{}] {} {}:{} {}\n  persists={} via: {}\n  syncs={} via: {}\n  returns_tokens={} state={}\n",
                integration["name"].as_str().unwrap_or(""),
                callback["kind"].as_str().unwrap_or(""),
                callback["route"].as_str().unwrap_or(""),
                callback["file"].as_str().unwrap_or(""),
                callback["line"],
                callback["function"].as_str().unwrap_or(""),
                callback["persists"],
                hops("persisted_via"),
                callback["syncs"],
                hops("synced_via"),
                callback["returns_tokens"],
                callback["state"].as_str().unwrap_or(""),
            ));
        }
    }
    for finding in report["findings"].as_array().expect("findings") {
        text.push_str(&format!(
            "{} {} {}:{} {}\n",
            finding["code"].as_str().unwrap_or(""),
            finding["confidence"].as_str().unwrap_or(""),
            finding["file"].as_str().unwrap_or(""),
            finding["line"],
            finding["message"].as_str().unwrap_or("")
        ));
    }
    for integration in report["integrations"].as_array().expect("integrations") {
        let steps = &integration["steps"];
        let step = |name: &str| format!("{}/{}", steps[name]["done"], steps[name]["total"]);
        text.push_str(&format!(
            "{} {} html_guard={} token_persistence={} historical_sync={}\n",
            integration["name"].as_str().unwrap_or(""),
            integration["status"].as_str().unwrap_or(""),
            step("html_guard"),
            step("token_persistence"),
            step("historical_sync"),
        ));
    }
    for skipped in report["skipped"].as_array().expect("skipped") {
        text.push_str(&format!("skipped {}: {}\n", skipped["file"].as_str().unwrap_or(""), skipped["reason"].as_str().unwrap_or("")));
    }
    text
}

#[test]
fn typescript_verdicts_snapshot() {
    let mut text = String::new();
    for name in ["typescript-express", "nestjs", "supabase-edge"] {
        text.push_str(&format!("# {name}\n"));
        text.push_str(&verdict_lines(&json_report(&[fixture(name).to_str().expect("path")])));
    }
    text.push_str("# nextjs with python-fastapi (Next.js callbacks only)\n");
    let both = json_report(&[fixture("nextjs").to_str().expect("path"), fixture("python-fastapi").to_str().expect("path")]);
    let lines = verdict_lines(&both);
    let mut keep = false;
    for line in lines.lines() {
        // A callback block starts unindented; its chain lines are indented.
        if !line.starts_with(' ') {
            keep = line.contains("nextjs/");
        }
        if keep {
            text.push_str(line);
            text.push('\n');
        }
    }
    insta::assert_snapshot!("typescript_verdicts", text);
}

fn callback<'r>(report: &'r serde_json::Value, route: &str) -> &'r serde_json::Value {
    report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .flat_map(|integration| integration["callbacks"].as_array().expect("callbacks"))
        .find(|callback| callback["route"] == route && callback["file"].as_str().is_some_and(|file| file.starts_with("nextjs/")))
        .unwrap_or_else(|| panic!("no callback {route}"))
}

#[test]
fn a_nextjs_callback_forwarding_to_the_fastapi_backend_persists_and_syncs_through_it() {
    let report = json_report(&[fixture("nextjs").to_str().expect("path"), fixture("python-fastapi").to_str().expect("path")]);
    let notion = callback(&report, "GET /api/notion/callback");
    assert_eq!(notion["persists"], true, "{notion:#}");
    assert_eq!(notion["syncs"], true);
    let files: Vec<&str> = notion["persisted_via"].as_array().expect("hops").iter().filter_map(|hop| hop["file"].as_str()).collect();
    assert_eq!(files.first(), Some(&"nextjs/src/app/api/notion/callback/route.ts"));
    assert_eq!(files.last(), Some(&"python-fastapi/backend/api/routes/integrations/notion_routes.py"));
    // The asana route forwards with POST to a path the backend does not declare.
    let dead: Vec<&serde_json::Value> =
        report["findings"].as_array().expect("findings").iter().filter(|finding| finding["code"] == "OA103").collect();
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let message = dead[0]["message"].as_str().expect("message");
    assert!(message.contains("`POST /api/asana/oauth/callback`"), "{message}");
    assert!(
        message.contains("closest routes: GET /api/asana/callback (python-fastapi/backend/api/routes/integrations/asana_routes.py:26)"),
        "{message}"
    );
    assert_eq!(dead[0]["file"], "nextjs/src/app/api/asana/callback/route.ts");
    // Alone, the backend is not in the tree: no route to reach, and no dead delegation
    // either (the closest routes would be the app's own).
    let alone = json_report(&[fixture("nextjs").to_str().expect("path")]);
    assert!(alone["findings"].as_array().expect("findings").iter().all(|finding| finding["code"] != "OA103"));
}

#[test]
fn typescript_integrations_count_like_python_ones() {
    let report = json_report(&[fixture("typescript-express").to_str().expect("path")]);
    let names: Vec<&str> =
        report["integrations"].as_array().expect("integrations").iter().filter_map(|integration| integration["name"].as_str()).collect();
    for provider in ["hubspot", "intercom", "slack"] {
        assert!(names.contains(&provider), "{names:?}");
    }
    // The React callback page belongs to intercom like the backend router does.
    let intercom = report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|integration| integration["name"] == "intercom")
        .expect("intercom");
    assert!(intercom["files"].as_array().expect("files").iter().any(|file| file == "src/pages/integrations/IntercomOAuthCallbackPage.tsx"));
    let summary = &report["summary"];
    assert_eq!(summary["integrations"], 3);
    assert_eq!(summary["steps"]["token_persistence"], serde_json::json!({"done": 4, "total": 4}));
    assert_eq!(summary["steps"]["historical_sync"], serde_json::json!({"done": 2, "total": 4}));
    // TypeORM, pg and knex transactions: one handler of each without its rollback.
    assert_eq!(summary["steps"]["rollback"], serde_json::json!({"done": 3, "total": 6}));
    // src/api/client.ts checks the content type before its parse: one more guarded site.
    assert_eq!(summary["steps"]["html_guard"], serde_json::json!({"done": 5, "total": 9}));
    assert_eq!(summary["percent_complete"], 0.0);
}

/// Random, truncated and deeply nested inputs: every one yields a report.
#[test]
fn no_typescript_input_makes_the_scanner_panic() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut seeds = Vec::new();
    for name in ["typescript-express", "nextjs", "nestjs", "supabase-edge"] {
        let mut stack = vec![fixture(name)];
        while let Some(path) = stack.pop() {
            for entry in std::fs::read_dir(&path).expect("reads") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|extension| extension == "ts" || extension == "tsx") {
                    seeds.push(std::fs::read_to_string(&path).expect("UTF-8"));
                }
            }
        }
    }
    assert!(seeds.len() >= 10);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound.max(1) as u64) as usize
    };
    let mut inputs: Vec<String> = Vec::new();
    for seed in &seeds {
        // Truncated anywhere (on a character boundary).
        for _ in 0..6 {
            let mut cut = random(seed.len());
            while !seed.is_char_boundary(cut) {
                cut -= 1;
            }
            inputs.push(seed[..cut].to_string());
        }
        // Bytes swapped for syntax.
        let mut mutated: Vec<char> = seed.chars().collect();
        for _ in 0..20 {
            let at = random(mutated.len());
            let replacement = ['{', '}', '(', ')', '`', '$', '"', '\'', '<', '/', '*', ';', '\n', '@'][random(14)];
            if let Some(slot) = mutated.get_mut(at) {
                *slot = replacement;
            }
        }
        inputs.push(mutated.into_iter().collect());
    }
    // Deep nesting and long chains, over many short lines: a line over 1,000 characters
    // would mark the file minified and keep it from the parser.
    let built = inputs.len();
    for (open, close) in
        [("{", "}"), ("(", ")"), ("[", "]"), ("if (x) {", "}"), ("(async () => { await f(", ")})()"), ("<div>{", "}</div>"), ("`${", "}`")]
    {
        inputs.push(format!("export const x = {}r.json(){};\n", format!("{open}\n").repeat(5000), format!("{close}\n").repeat(5000)));
        inputs.push(format!("{open}\n").repeat(20000));
    }
    inputs.push(format!("a{}", "\n.b".repeat(30000)));
    inputs.push(format!("x = {}1;", "x +\n".repeat(30000)));
    inputs.push(format!("const f = (r) => {{ {} }}", "if (a) r.json(); else\n".repeat(5000)));
    inputs.push("\u{feff}export default async function handler(req, res) { const r = await fetch(u); return r.json(); }".into());
    inputs.push(String::from_utf8_lossy(&[0xf0, 0x9f, 0x98, 0x80, b'`', b'$', b'{']).to_string());
    let extensions = ["ts", "tsx", "mts", "cts"];
    for (index, input) in inputs.iter().enumerate() {
        let extension = extensions[index % extensions.len()];
        write_file(folder.path(), &format!("src/app/api/p{index}/callback/route.{extension}"), input);
    }
    let output = run(&["scan", folder.path().to_str().expect("path"), "--format", "json"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "exit {:?}: {}", output.status.code(), String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a report");
    let scanned = report["summary"]["files_scanned"].as_u64().unwrap_or(0) + report["summary"]["files_skipped"].as_u64().unwrap_or(0);
    assert_eq!(scanned as usize, inputs.len(), "every input is scanned or skipped with a reason");
    // The built inputs reach the frontend: none is skipped (as minified, say).
    let skipped: Vec<String> =
        report["skipped"].as_array().expect("skipped").iter().map(|entry| entry["file"].as_str().unwrap_or("").to_string()).collect();
    for index in built..inputs.len() {
        let folder = format!("src/app/api/p{index}/");
        assert!(!skipped.iter().any(|file| file.starts_with(&folder)), "input {index} was skipped: {}", report["skipped"]);
    }
}

#[test]
fn declaration_and_generated_files_are_skipped_with_a_reason() {
    let report = json_report(&[fixture("typescript-express").to_str().expect("path")]);
    let skipped = string_pairs(&report["skipped"], "file", "reason");
    assert!(skipped.iter().any(|(file, reason)| file == "src/types/express.d.ts" && reason.contains(".d.ts")), "{skipped:?}");
    assert!(skipped.iter().any(|(file, reason)| file == "src/lib/generated-client.ts" && reason.contains("@generated")), "{skipped:?}");
}

/// OA004 on explicit TypeScript transactions: the finding is fixable (a `catch` always has
/// a block) and the site hands the codemod the rollback call with the code's own names.
#[test]
fn typescript_transactions_without_a_rollback_are_fixable_oa004() {
    let root = fixture("typescript-express");
    // Where the fixture's `// expect: OA004` markers are.
    let marked: Vec<(String, usize)> =
        common::rule_markers(&root).into_keys().filter(|(_, _, code)| code == "OA004").map(|(file, line, _)| (file, line)).collect();
    assert_eq!(marked.len(), 3, "one TypeORM, one knex and one pg transaction without a rollback: {marked:?}");
    let report = json_report(&[root.to_str().expect("path")]);
    let mut rollbacks: Vec<(String, usize, bool)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["code"] == "OA004")
        .map(|finding| {
            (finding["file"].as_str().unwrap_or("").to_string(), finding["line"].as_u64().unwrap_or(0) as usize, finding["fixable"] == true)
        })
        .collect();
    rollbacks.sort();
    assert_eq!(rollbacks, marked.iter().map(|(file, line)| (file.clone(), *line, true)).collect::<Vec<_>>());
    // Each site hands the codemod the session and the call that rolls it back, as written.
    let config = oauth_audit::config::Config::defaults().expect("defaults");
    let mut calls = Vec::new();
    for (file, _) in &marked {
        let text = std::fs::read_to_string(root.join(file)).expect("reads");
        let facts = oauth_audit::lang::typescript::extract(
            &text,
            oauth_audit::lang::typescript::Dialect::TypeScript,
            oauth_audit::lang::ExtractOptions::default(),
        )
        .expect("parses");
        let project = oauth_audit::index::Project::new(vec![oauth_audit::source::SourceFile::new(
            file.clone(),
            root.join(file),
            oauth_audit::facts::Language::TypeScript,
            text.clone(),
        )]);
        for site in oauth_audit::rules::missing_rollback::check_file(&project, &config, 0, &facts) {
            if site.finding.is_some() {
                calls.push((
                    file.clone(),
                    site.span.start.line + 1,
                    site.session.unwrap_or_default(),
                    site.rollback_call.unwrap_or_default(),
                ));
            }
        }
    }
    let expected_calls =
        [("queryRunner", "queryRunner.rollbackTransaction()"), ("trx", "trx.rollback()"), ("client", "client.query('ROLLBACK')")];
    assert_eq!(
        calls,
        marked
            .iter()
            .zip(expected_calls)
            .map(|((file, line), (session, call))| (file.clone(), *line, session.to_string(), call.to_string()))
            .collect::<Vec<_>>()
    );
}

/// `app.setGlobalPrefix('api')` in NestJS's `main.ts` and Express `router.route()` chains.
#[test]
fn nest_global_prefixes_and_express_route_chains_shape_route_paths() {
    let routes = |name: &str| -> Vec<String> {
        let report = json_report(&[fixture(name).to_str().expect("path")]);
        report["integrations"]
            .as_array()
            .expect("integrations")
            .iter()
            .flat_map(|integration| integration["callbacks"].as_array().expect("callbacks"))
            .filter_map(|callback| callback["route"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(routes("nestjs"), vec!["GET /api/integrations/notion/callback"]);
    let express = routes("typescript-express");
    for route in ["GET /marketplace/hubspot/install/callback", "GET /api/hubspot/callback"] {
        assert!(express.iter().any(|found| found == route), "{route} in {express:?}");
    }
    // The chain's `.delete(handleUninstall)` is on the callback path, but no redirect comes
    // back with DELETE: not a stub.
    assert!(!express.iter().any(|found| found.starts_with("DELETE ")), "{express:?}");
}

/// A callback forwarding its code to a route that does not exist is OA103 and nothing
/// else: not also OA002 for the tokens it never stores.
#[test]
fn a_dead_delegation_is_reported_once() {
    let report = json_report(&[fixture("nextjs").to_str().expect("path"), fixture("python-fastapi").to_str().expect("path")]);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["file"] == "nextjs/src/app/api/asana/callback/route.ts")
        .filter_map(|finding| finding["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["OA103"]);
    let asana = callback(&report, "GET /api/asana/callback");
    assert_eq!(asana["persists"], false);
}

/// An unknown provider's Next.js callback is grouped by the path its folder declares, as a
/// decorated route's would be; a token endpoint (it reads `grant_type` from its request)
/// answers its own clients with tokens and is no callback; returning the token response
/// itself is OA101.
#[test]
fn nextjs_callbacks_of_unknown_providers_and_token_endpoints() {
    let folder = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| write_file(folder.path(), path, text);
    write(
        "app/api/acme/callback/route.ts",
        "import { NextRequest, NextResponse } from \"next/server\";\n\
         export async function GET(request: NextRequest) {\n  const code = request.nextUrl.searchParams.get(\"code\");\n  \
         return NextResponse.json(await exchangeCodeForToken(code));\n}\n",
    );
    write(
        "app/api/acme/token/route.ts",
        "import { NextRequest, NextResponse } from \"next/server\";\n\
         export async function POST(request: NextRequest) {\n  const form = await request.formData();\n  \
         if (form.get(\"grant_type\") !== \"authorization_code\") {\n    return NextResponse.json({ error: \"unsupported_grant_type\" }, { status: 400 });\n  }\n  \
         const tokens = await exchangeCodeForToken(String(form.get(\"code\")));\n  return NextResponse.json(tokens);\n}\n",
    );
    write(
        "srv/oauth.ts",
        "import express from \"express\";\nconst router = express.Router();\n\
         router.post(\"/oauth/token\", async (req, res) => {\n  const { grant_type, code } = req.body;\n  \
         if (grant_type !== \"authorization_code\") return res.status(400).end();\n  res.json(await exchangeCodeForToken(code));\n});\n\
         export default router;\n",
    );
    let report = json_report(&[folder.path().to_str().expect("path")]);
    let callbacks: Vec<(String, String)> = report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .flat_map(|integration| {
            let name = integration["name"].as_str().expect("name").to_string();
            integration["callbacks"]
                .as_array()
                .expect("callbacks")
                .iter()
                .map(move |callback| (name.clone(), callback["route"].to_string()))
        })
        .collect();
    assert_eq!(callbacks, vec![("acme".to_string(), "\"GET /api/acme/callback\"".to_string())]);
    let findings = string_pairs(&report["findings"], "code", "file");
    let callback_file = "app/api/acme/callback/route.ts".to_string();
    assert_eq!(
        findings,
        vec![
            ("OA002".to_string(), callback_file.clone()),
            ("OA102".to_string(), callback_file.clone()),
            ("OA101".to_string(), callback_file)
        ]
    );
}

/// A Next.js callback forwarding its code to the FastAPI backend beside it delegates even
/// in a tree without manifests: a route in another language is another service's. It
/// persists through the backend, and returning the backend's answer leaks nothing.
#[test]
fn a_callback_forwarding_to_a_backend_in_another_language_delegates_without_manifests() {
    let folder = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| write_file(folder.path(), path, text);
    write(
        "nextjs/app/api/acme/callback/route.ts",
        "import { NextRequest, NextResponse } from 'next/server';\nconst BACKEND_URL = process.env.BACKEND_URL;\n\
         export async function GET(request: NextRequest) {\n  const code = request.nextUrl.searchParams.get('code');\n  \
         const response = await fetch(`${BACKEND_URL}/api/acme/callback`, { method: 'POST', body: JSON.stringify({ code }) });\n  \
         return NextResponse.json(await response.json());\n}\n",
    );
    write(
        "backend/acme_routes.py",
        "from fastapi import APIRouter\nrouter = APIRouter()\n\n@router.post(\"/api/acme/callback\")\nasync def acme_callback(body: CallbackBody):\n    \
         tokens = await exchange_code_for_token(body.code)\n    token_storage.save_token(\"acme\", tokens)\n    return {\"connected\": True}\n",
    );
    let report = json_report(&[folder.path().to_str().expect("path")]);
    let web = callback(&report, "GET /api/acme/callback");
    assert_eq!(web["persists"], true, "{web:#}");
    assert_eq!(web["returns_tokens"], false, "{web:#}");
    let codes: Vec<(String, String)> = string_pairs(&report["findings"], "code", "file");
    assert!(!codes.iter().any(|(code, _)| code == "OA002" || code == "OA101"), "{codes:?}");
    // The backend starts no sync: one defect, reported once, where it is; both callbacks
    // count in the steps, the forwarding one undone like the route it relies on.
    let syncs: Vec<&String> = codes.iter().filter(|(code, _)| code == "OA003").map(|(_, file)| file).collect();
    assert_eq!(syncs, ["backend/acme_routes.py"], "{codes:?}");
    let acme = report["integrations"].as_array().expect("integrations").iter().find(|integration| integration["name"] == "acme");
    let steps = &acme.expect("acme")["steps"];
    assert_eq!(steps["token_persistence"], serde_json::json!({"done": 2, "total": 2}), "{steps:#}");
    assert_eq!(steps["historical_sync"], serde_json::json!({"done": 0, "total": 2}), "{steps:#}");
    assert_eq!(acme.expect("acme")["callbacks"].as_array().map(Vec::len), Some(2));
}

/// A Next.js callback route posting its code (and `state`, when `with_state`) to the
/// backend's `/api/{target}/callback`, redirecting on the backend's answer.
fn forwarding_route(target: &str, with_state: bool) -> String {
    let (read_state, sent) =
        if with_state { ("  const state = request.nextUrl.searchParams.get('state');\n", "{ code, state }") } else { ("", "{ code }") };
    format!(
        "import {{ NextRequest, NextResponse }} from 'next/server';\nconst BACKEND_URL = process.env.BACKEND_URL;\n\
         export async function GET(request: NextRequest) {{\n  const code = request.nextUrl.searchParams.get('code');\n{read_state}  \
         const response = await fetch(`${{BACKEND_URL}}/api/{target}/callback`, {{ method: 'POST', body: JSON.stringify({sent}) }});\n  \
         if (!response.ok) return NextResponse.redirect('/error');\n  return NextResponse.redirect('/done');\n}}\n"
    )
}

#[test]
fn a_callback_forwarding_to_a_route_that_checks_state_checks_it() {
    // The frontend passes `state` on with the code; the backend route checks it against the
    // stored value, so the frontend's own `if (!response.ok)` is no presence-only check.
    let folder = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| write_file(folder.path(), path, text);
    write("nextjs/app/api/acme/callback/route.ts", &forwarding_route("acme", true));
    write("nextjs/app/api/hooli/callback/route.ts", &forwarding_route("hooli", true));
    let backend = |provider: &str, check: &str| {
        format!(
            "from fastapi import APIRouter, HTTPException\nrouter = APIRouter()\n\n@router.post(\"/api/{provider}/callback\")\n\
             async def {provider}_callback(body: CallbackBody):\n{check}    tokens = await exchange_code_for_token(body.code)\n    \
             token_storage.save_token(\"{provider}\", tokens)\n    return {{\"connected\": True}}\n"
        )
    };
    let checks = "    if not await state_store.consume_state(body.state, \"acme\"):\n        raise HTTPException(status_code=400, detail=\"Invalid state\")\n";
    write("backend/acme_routes.py", &backend("acme", checks));
    write("backend/hooli_routes.py", &backend("hooli", ""));
    let report = json_report(&[folder.path().to_str().expect("path")]);
    assert_eq!(callback(&report, "GET /api/acme/callback")["state"], "validated", "{report:#}");
    // Forwarded to a route that checks nothing: unchecked, and `if (!response.ok)` checks the
    // backend's answer, not the presence of `state`.
    assert_eq!(callback(&report, "GET /api/hooli/callback")["state"], "unchecked", "{report:#}");
    let state_findings: Vec<(String, String)> =
        string_pairs(&report["findings"], "code", "file").into_iter().filter(|(code, _)| code == "OA102").collect();
    assert!(state_findings.iter().all(|(_, file)| file.contains("hooli")), "{state_findings:?}");
    assert!(!state_findings.is_empty());
}

/// The steps of a callback forwarding to a route of its own integration are done when the
/// route's are (a sync the route's owners accepted missing is accepted for both); forwarding
/// to a route of another integration, it keeps its own finding, so each integration shows
/// its work.
#[test]
fn a_forwarding_callbacks_steps_follow_its_route_in_its_integration_only() {
    let folder = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| write_file(folder.path(), path, text);
    write("nextjs/app/api/acme/callback/route.ts", &forwarding_route("acme", false));
    write("nextjs/app/api/globex/callback/route.ts", &forwarding_route("acme", false));
    write(
        "backend/acme_routes.py",
        "from fastapi import APIRouter\nrouter = APIRouter()\n\n@router.post(\"/api/acme/callback\")\n\
         async def acme_callback(body: CallbackBody):  # oauth-audit: ignore[callback-no-sync] -- the sync runs nightly\n    \
         tokens = await exchange_code_for_token(body.code)\n    token_storage.save_token(\"acme\", tokens)\n    return {\"connected\": True}\n",
    );
    let report = json_report(&[folder.path().to_str().expect("path")]);
    let steps = |name: &str| {
        let integrations = report["integrations"].as_array().expect("integrations");
        integrations.iter().find(|integration| integration["name"] == name).expect("integration")["steps"]["historical_sync"].clone()
    };
    assert_eq!(steps("acme"), serde_json::json!({"done": 2, "total": 2}), "{report:#}");
    assert_eq!(steps("globex"), serde_json::json!({"done": 0, "total": 1}), "{report:#}");
    let syncs: Vec<(String, String)> =
        string_pairs(&report["findings"], "code", "file").into_iter().filter(|(code, _)| code == "OA003").collect();
    assert_eq!(syncs, [("OA003".to_string(), "nextjs/app/api/globex/callback/route.ts".to_string())]);
    assert_eq!(report["summary"]["findings"]["suppressed"], 1);
}
