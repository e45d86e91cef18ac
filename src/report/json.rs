//! `--format json`: the report as the `oauth-audit/report@1` contract, pretty-printed.

use std::io::Write;

use crate::report::Report;

/// The report streamed to `out`: a tree with tens of thousands of findings has a report of
/// tens of MB, which a string would hold (and grow by copying) on top of the scan's memory.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
