//! `cargo xtask`: project automation for contree-rs.
//!
//! Commands:
//! - `cargo xtask test [-- <cargo test args>]`: starts the mock server binary, then runs every test
//!   of the workspace (unit, integration, doc tests) against it.
//! - `cargo xtask ci`: fmt check, clippy with warnings denied, codegen check, test, faults --quick, fuzz-api, doc, package.
//! - `cargo xtask package [--no-verify]`: crates.io metadata of the five publishable crates,
//!   then `cargo package` for them in dependency order.
//! - `cargo xtask codegen [--check] [--spec PATH]`: generate `contree-proto` from the OpenAPI spec.
//! - `cargo xtask mock [ARGS]`: run the mock server in the foreground.
//! - `cargo xtask bench [--quick] [--only N[,N...]]`: benchmarks (see the README); `--only` runs
//!   just the listed scenarios.
//! - `cargo xtask faults [--seeds N] [--quick]`: seeded fault schedules against the mock.
//! - `cargo xtask fuzz [--time SECS] [TARGET ...]`: the cargo-fuzz targets (needs nightly;
//!   says so plainly when it is missing).
//! - `cargo xtask fuzz-api [-- ARGS]`: schemathesis against the mock (every operation of the spec).

mod bench;
mod codegen;
mod faults;
mod fuzz;
mod fuzz_api;
mod package;
mod util;

use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: cargo xtask <command> [args]\n\
     commands:\n  \
       test [-- ARGS]            start the mock server and run every test\n  \
       ci                        fmt, clippy, codegen --check, test, faults --quick, fuzz-api, doc, package\n  \
       package [--no-verify]     crates.io metadata check, then cargo package of the 5 publishable crates\n  \
       codegen [--check] [--spec PATH]\n                            generate contree-proto from the OpenAPI spec\n  \
       mock [ARGS]               run the mock server in the foreground\n  \
       bench [--quick] [--only N,..]\n                            run the benchmarks (all, or scenarios N,..)\n  \
       faults [--seeds N] [--quick]\n                            seeded fault schedules (default 1,000; quick 100)\n  \
       fuzz [--time SECS] [TARGET ...]\n                            cargo-fuzz targets sse_decoder, auth_ini, json (needs nightly)\n  \
       fuzz-api [-- ARGS]        schemathesis against the mock, with the spec-defect allow-list\n"
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    let result = match cmd.as_str() {
        "codegen" => codegen::run(&rest),
        "test" => util::test(&rest),
        "ci" => util::ci(&rest),
        "mock" => util::mock(&rest),
        "bench" => bench::run(&rest),
        "faults" => faults::run_faults(&rest),
        "fuzz" => fuzz::run_fuzz(&rest),
        "fuzz-api" => fuzz_api::run_fuzz(&rest),
        "package" => package::run_package(&rest),
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{}", usage())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
