//! Callback verdicts on the FastAPI fixture, end to end: which routes are callbacks or
//! stubs, where each stores its tokens and starts its sync (with the chain of calls that
//! gets there), and how `--max-depth` bounds the search.

mod common;

use common::{fixture, json_report};

/// One line per callback: the verdicts a reviewer reads, as a snapshot.
fn callback_lines(report: &serde_json::Value) -> String {
    let mut lines = Vec::new();
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
            lines.push(format!(
                "{} [{}] {} {}:{} {}\n  persists={} via: {}\n  syncs={} via: {}\n  returns_tokens={} state={}",
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
    lines.join("\n") + "\n"
}

#[test]
fn callback_verdicts_snapshot() {
    let report = json_report(&[fixture("python-fastapi").to_str().expect("path")]);
    insta::assert_snapshot!("python_fastapi_callbacks", callback_lines(&report));
}

/// The Rust frontend's verdicts: the callbacks with their chains, then every finding
/// (rule, place, message) and the dashboard row of each integration.
#[test]
fn rust_axum_verdicts_snapshot() {
    let report = json_report(&[fixture("rust-axum").to_str().expect("path")]);
    let mut text = callback_lines(&report);
    for finding in report["findings"].as_array().expect("findings") {
        text.push_str(&format!(
            "{} {}:{} {}\n",
            finding["code"].as_str().unwrap_or(""),
            finding["file"].as_str().unwrap_or(""),
            finding["line"],
            finding["message"].as_str().unwrap_or("")
        ));
    }
    for integration in report["integrations"].as_array().expect("integrations") {
        text.push_str(&format!("{} {}\n", integration["name"].as_str().unwrap_or(""), integration["status"].as_str().unwrap_or("")));
    }
    insta::assert_snapshot!("rust_axum_verdicts", text);
}

fn callback<'r>(report: &'r serde_json::Value, function: &str) -> &'r serde_json::Value {
    report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .flat_map(|integration| integration["callbacks"].as_array().expect("callbacks"))
        .find(|callback| callback["function"] == function)
        .unwrap_or_else(|| panic!("no callback {function}"))
}

#[test]
fn persistence_three_files_away_is_found_with_its_chain_and_the_mount_prefix() {
    let report = json_report(&[fixture("python-fastapi").to_str().expect("path")]);
    let pipedrive = callback(&report, "pipedrive_callback");
    // `app.include_router(pipedrive_routes.router, prefix="/api")` in main.py.
    assert_eq!(pipedrive["route"], "GET /api/pipedrive/oauth/callback");
    assert_eq!(pipedrive["persisted_in"], "backend/core/credential_vault.py:20");
    let files: Vec<&str> = pipedrive["persisted_via"].as_array().expect("hops").iter().filter_map(|hop| hop["file"].as_str()).collect();
    assert_eq!(
        files,
        vec![
            "backend/api/routes/integrations/pipedrive_routes.py",
            "backend/integrations/pipedrive_service.py",
            "backend/integrations/connections/registry.py",
            "backend/core/credential_vault.py",
        ]
    );
    // A module-level singleton imported from another file, then a class the handler instantiates.
    let hubspot = callback(&report, "hubspot_callback");
    assert_eq!(hubspot["persisted_in"], "backend/core/token_storage.py:37");
    let pipedrive_integration = report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|integration| integration["name"] == "pipedrive")
        .expect("pipedrive");
    assert_eq!(pipedrive_integration["status"], "complete");
}

#[test]
fn max_depth_bounds_the_search() {
    let path = fixture("python-fastapi");
    let path = path.to_str().expect("path");
    // One call deep: Pipedrive's service is walked, but not the registry it hands the
    // tokens to, whose name says nothing about storing.
    let shallow = json_report(&[path, "--max-depth", "1"]);
    assert_eq!(callback(&shallow, "pipedrive_callback")["persists"], false, "the write is three calls away");
    // Salesforce's handler calls the token store itself: one call is enough.
    assert_eq!(callback(&shallow, "salesforce_callback")["persisted_in"], "backend/core/token_storage.py:37");
    // The bound applies to finding the exchange too: HubSpot's is two calls away, so at
    // depth 1 its callback route looks like a stub.
    assert_eq!(callback(&shallow, "hubspot_callback")["kind"], "stub");
    let oa002: Vec<&str> = shallow["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["code"] == "OA002")
        .filter_map(|finding| finding["function"].as_str())
        .collect();
    assert!(oa002.contains(&"pipedrive_callback"), "{oa002:?}");
    // Two calls deep, the vault's `put` is reached as a call: its name and arguments say
    // it stores credentials.
    let two = json_report(&[path, "--max-depth", "2"]);
    assert_eq!(callback(&two, "pipedrive_callback")["persisted_in"], "backend/integrations/connections/registry.py:15");
}

#[test]
fn stubs_are_listed_and_not_reported_as_callbacks() {
    let report = json_report(&[fixture("python-fastapi").to_str().expect("path")]);
    for stub in ["monday_mobile_callback", "pipedrive_admin_callback"] {
        assert_eq!(callback(&report, stub)["kind"], "stub");
        let reported = report["findings"].as_array().expect("findings").iter().any(|finding| finding["function"] == stub);
        assert!(!reported, "{stub} is a stub");
    }
    // An exchange endpoint without `callback` in its path is a callback.
    assert_eq!(callback(&report, "exchange_public_token")["kind"], "callback");
}

#[test]
fn callback_findings_are_suppressed_on_the_def_line_and_background_tasks_count_as_sync() {
    let folder = tempfile::tempdir().expect("temp dir");
    let code = "from fastapi import APIRouter, BackgroundTasks\nimport httpx\n\nrouter = APIRouter(prefix=\"/api/acme\")\n\n\
                @router.get(\"/callback\")\n\
                # oauth-audit: ignore[callback-no-persist, state-not-validated] -- tokens are forwarded to the vault service\n\
                async def acme_callback(code: str, tasks: BackgroundTasks):\n    \
                async with httpx.AsyncClient() as client:\n        await client.post(URL, data={\"code\": code})\n    return {\"ok\": True}\n\n\
                @router.get(\"/other/callback\")\nasync def other_callback(code: str, state: str, tasks: BackgroundTasks):\n    \
                if not await store.consume_state(state):\n        raise ValueError(state)\n    \
                token_storage.save_token(\"other\", await exchange_code(code))\n    \
                tasks.add_task(trigger_historical_sync_on_connection, integration_id=\"other\")\n    return {\"ok\": True}\n";
    std::fs::write(folder.path().join("acme_routes.py"), code).expect("write");
    let report = json_report(&[folder.path().to_str().expect("path")]);
    assert_eq!(report["summary"]["findings"]["suppressed"], 2, "{:#}", report["findings"]);
    assert_eq!(report["findings"], serde_json::json!([]), "{:#}", report["findings"]);
    let other = callback(&report, "other_callback");
    assert_eq!(other["syncs"], true, "add_task(trigger, ...) starts the sync");
    // A suppressed OA002 counts as done: the step is full.
    assert_eq!(report["summary"]["steps"]["token_persistence"], serde_json::json!({"done": 2, "total": 2}));
}

/// A file of routes with a callback for one provider and one for every provider its path
/// names (Chainlit's `server.py`): each callback is in its own integration, with its
/// findings; `fix` leaves the dynamic one's storage to a person.
#[test]
fn a_callback_for_every_provider_is_its_own_dynamic_integration() {
    let folder = tempfile::tempdir().expect("temp dir");
    let exchange = "    if not await store.consume_state(state):\n        raise ValueError(state)\n    \
                    async with httpx.AsyncClient() as client:\n        \
                    response = await client.post(TOKEN_URL, data={\"code\": code})\n    \
                    tokens = response.json()\n    return {\"ok\": True}\n";
    let code = format!(
        "from fastapi import APIRouter\nimport httpx\n\nrouter = APIRouter()\n\n\
         @router.get(\"/oauth/acme/callback\")\nasync def acme_callback(code: str, state: str):\n{exchange}\n\n\
         @router.get(\"/oauth/{{provider}}/callback\")\nasync def provider_callback(provider: str, code: str, state: str):\n{exchange}"
    );
    std::fs::write(folder.path().join("server.py"), code).expect("write");
    let root = folder.path().to_str().expect("path");
    let report = json_report(&[root]);
    let integrations = report["integrations"].as_array().expect("integrations");
    let names: Vec<&str> = integrations.iter().filter_map(|integration| integration["name"].as_str()).collect();
    assert_eq!(names, ["acme", "{provider}"], "{:#}", report["integrations"]);
    let validator = jsonschema::validator_for(&common::schema("report-v1.schema.json")).expect("the schema compiles");
    assert!(validator.is_valid(&report), "{:?}", validator.iter_errors(&report).map(|error| error.to_string()).collect::<Vec<_>>());
    for (integration, function) in integrations.iter().zip(["acme_callback", "provider_callback"]) {
        assert_eq!(integration["files"], serde_json::json!(["server.py"]));
        assert_eq!(integration["callbacks"][0]["function"], function);
        assert_eq!(integration["callbacks"].as_array().map(Vec::len), Some(1));
        assert_eq!(integration["steps"]["token_persistence"], serde_json::json!({"done": 0, "total": 1}));
    }
    // The file's sites stay with the file's integration: the first callback's provider.
    assert_eq!(integrations[0]["steps"]["html_guard"], serde_json::json!({"done": 0, "total": 2}));
    assert_eq!(integrations[1]["steps"]["html_guard"], serde_json::json!({"done": 0, "total": 0}));
    let integration_of = |report: &serde_json::Value, code: &str, function: &str| -> Vec<String> {
        let findings = report["findings"].as_array().expect("findings");
        let of = findings.iter().filter(|finding| finding["code"] == code && finding["function"] == function);
        of.map(|finding| finding["integration"].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(integration_of(&report, "OA002", "provider_callback"), ["{provider}"]);
    assert_eq!(integration_of(&report, "OA002", "acme_callback"), ["acme"]);
    assert_eq!(integration_of(&report, "OA001", "provider_callback"), ["acme"]);

    let only = json_report(&[root, "--integration", "{provider}"]);
    let names: Vec<&str> = only["integrations"].as_array().expect("integrations").iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["{provider}"]);
    let codes: Vec<&str> = only["findings"].as_array().expect("findings").iter().filter_map(|f| f["code"].as_str()).collect();
    assert_eq!(codes, ["OA002"], "{:#}", only["findings"]);
    assert_eq!(only["summary"]["files_scanned"], 1, "the callback's file is scanned for its integration");

    let output = common::run(&["fix", root, "--rule", "OA002", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&common::stdout(&output)).expect("fix prints JSON");
    let skipped = plan["skipped"].as_array().expect("skipped");
    let dynamic = skipped.iter().find(|skip| skip["line"] == report["integrations"][1]["callbacks"][0]["line"]);
    let reason = dynamic.and_then(|skip| skip["reason"].as_str()).unwrap_or_default();
    assert!(reason.contains("every provider its path names (`{provider}`)"), "{:#}", plan);
}

/// Integration names that make one patch file name (`{client}` and `client`) give two
/// patch files, not one overwriting the other.
#[test]
fn patch_files_of_names_alike_do_not_overwrite_each_other() {
    let folder = tempfile::tempdir().expect("temp dir");
    let routes = |path: &str| {
        format!(
            "from fastapi import APIRouter\nimport httpx\n\nrouter = APIRouter()\n\n@router.get(\"{path}\")\n\
             async def cb(code: str, state: str):\n    if not await store.consume_state(state):\n        raise ValueError(state)\n    \
             async with httpx.AsyncClient() as client:\n        response = await client.post(TOKEN_URL, data={{\"code\": code}})\n    \
             tokens = response.json()\n    return {{\"ok\": True}}\n"
        )
    };
    common::write_file(folder.path(), "a/routes.py", routes("/oauth/{client}/callback"));
    common::write_file(folder.path(), "b/routes.py", routes("/api/client/callback"));
    let patches = tempfile::tempdir().expect("temp dir");
    let output = common::run(&["fix", folder.path().to_str().expect("path"), "--patch-dir", patches.path().to_str().expect("path")]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let mut touched = Vec::new();
    for entry in std::fs::read_dir(patches.path()).expect("patches") {
        let patch = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        touched.extend(
            patch.lines().filter_map(|line| line.strip_prefix("+++ b/")).filter(|file| file.ends_with("routes.py")).map(String::from),
        );
    }
    touched.sort();
    assert_eq!(touched, ["a/routes.py", "b/routes.py"]);
}

/// Superset's database OAuth2 callback, cut down: a Flask-AppBuilder API method
/// (`@expose` under the class's `resource_name`) hands its whole query to a command,
/// whose `run()` exchanges `self._parameters["code"]`, stores the tokens through a DAO
/// and checks `state` by decoding a signed JWT. The same body on a route named for no
/// sign-in step is no callback.
#[test]
fn a_flask_appbuilder_method_handing_its_query_to_a_command_is_a_callback() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    let handler = |route: &str, name: &str| {
        format!(
            "    @expose(\"{route}\", methods=[\"GET\"])\n    @transaction()\n    def {name}(self):\n        \
             parameters = OAuth2ProviderResponseSchema().load(request.args)\n        \
             OAuth2StoreTokenCommand(parameters).run()\n        \
             state = decode_oauth2_state(parameters[\"state\"])\n        \
             return make_response(render_template(\"oauth2.html\", tab_id=state[\"tab_id\"]), 200)\n"
        )
    };
    common::write_file(
        root,
        "superset/databases/api.py",
        format!(
            "from flask import request, make_response, render_template\nfrom flask_appbuilder.api import expose\n\
             from superset.commands.database.oauth2 import OAuth2StoreTokenCommand\n\
             from superset.utils.oauth2 import decode_oauth2_state\n\n\
             class DatabaseRestApi(BaseSupersetModelRestApi):\n    resource_name = \"database\"\n\n{}\n{}",
            handler("/oauth2/", "oauth2"),
            handler("/export/", "export"),
        ),
    );
    common::write_file(
        root,
        "superset/commands/database/oauth2.py",
        "from superset.daos.database import DatabaseUserOAuth2TokensDAO\nfrom superset.utils.oauth2 import decode_oauth2_state\n\n\
         class OAuth2StoreTokenCommand:\n    def __init__(self, parameters):\n        self._parameters = parameters\n\n    \
         def run(self):\n        state = decode_oauth2_state(self._parameters[\"state\"])\n        \
         database = DatabaseUserOAuth2TokensDAO.get_database(state[\"database_id\"])\n        \
         token_response = database.db_engine_spec.get_oauth2_token(database.config, self._parameters[\"code\"])\n        \
         return DatabaseUserOAuth2TokensDAO.create(\n            \
         attributes={\"user_id\": state[\"user_id\"], \"access_token\": token_response[\"access_token\"]},\n        )\n",
    );
    common::write_file(
        root,
        "superset/utils/oauth2.py",
        "import jwt\nfrom flask import current_app as app\n\n\
         def decode_oauth2_state(encoded_state):\n    \
         return jwt.decode(jwt=encoded_state, key=app.config[\"SECRET_KEY\"], algorithms=[\"HS256\"])\n",
    );
    let report = json_report(&[root.to_str().expect("path")]);
    let names: Vec<&str> = report["integrations"].as_array().expect("integrations").iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["database"], "{:#}", report["integrations"]);
    let callbacks = report["integrations"][0]["callbacks"].as_array().expect("callbacks");
    assert_eq!(callbacks.len(), 1, "{callbacks:#?}");
    let callback = &callbacks[0];
    assert_eq!(callback["function"], "DatabaseRestApi.oauth2");
    assert_eq!(callback["route"], "GET /api/v1/database/oauth2/");
    assert_eq!(callback["kind"], "callback");
    assert_eq!(callback["persists"], true);
    assert_eq!(callback["state"], "validated", "the JWT's signature check validates `state`");
    let chain: Vec<(String, String)> = common::string_pairs(&callback["persisted_via"], "file", "function");
    assert_eq!(
        chain,
        [
            ("superset/databases/api.py".to_string(), "DatabaseRestApi.oauth2".to_string()),
            ("superset/commands/database/oauth2.py".to_string(), "OAuth2StoreTokenCommand.run".to_string()),
        ]
    );
    let codes: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| (finding["code"].as_str().unwrap_or(""), finding["function"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(codes, [("OA003", "DatabaseRestApi.oauth2")]);
}
