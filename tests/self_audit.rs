//! Dogfooding: the reference runtime, read by the Rust frontend, has every step of the
//! pattern and no finding.

mod common;

use common::json_report;

#[test]
fn the_reference_runtime_audits_clean_with_full_coverage() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let report = json_report(&[root.to_str().expect("path")]);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(0), "{:#}", report["findings"]);
    assert_eq!(report["summary"]["percent_complete"], 100.0, "{:#}", report["summary"]);
    let integrations = report["integrations"].as_array().expect("integrations");
    assert_eq!(integrations.len(), 1);
    let runtime = &integrations[0];
    assert_eq!(runtime["status"], "complete");
    let callback = &runtime["callbacks"][0];
    assert_eq!(callback["function"], "CallbackFlow.complete");
    assert_eq!(callback["kind"], "callback");
    assert_eq!(callback["state"], "validated");
    // `self.database.save_tokens(..)`: a configured sink, recognised at the call (struct
    // field types are not followed into `store.rs` yet).
    assert!(callback["persisted_in"].as_str().is_some_and(|place| place.starts_with("flow.rs:")), "{callback:#}");
    assert!(callback["synced_in"].as_str().is_some_and(|place| place.starts_with("flow.rs:")), "{callback:#}");
    // The guard is there and counted: one site, guarded.
    assert_eq!(report["summary"]["steps"]["html_guard"]["done"], 1, "{:#}", report["summary"]);
    assert_eq!(report["summary"]["steps"]["html_guard"]["total"], 1);
}
