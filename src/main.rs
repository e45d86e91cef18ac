use std::process::ExitCode;

use clap::Parser;
use oauth_audit::cli::Cli;
use oauth_audit::run::{Outcome, run};

fn main() -> ExitCode {
    // SAFETY: first thing in main, before any parser exists and before any thread starts.
    unsafe { oauth_audit::alloc::install_for_parsers() };
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("oauth-audit: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
