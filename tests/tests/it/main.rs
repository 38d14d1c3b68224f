//! The integration tests: one test binary, one module per area, so the facade and the mock are
//! linked once (`cargo nextest run -p contree-integration-tests` or `cargo test -p
//! contree-integration-tests --test it`). A new area is a new module here, not a new file in
//! `tests/tests/` (which would be a binary of its own; `layout` below fails on one).

mod blocking;
mod build;
mod client;
mod coverage;
mod ergonomics;
mod fanout_operations;
mod files;
mod http2;
mod images;
mod inspect;
mod lineage;
mod live_output;
mod process_interactive;
mod python_bugs;
mod reliability;
mod reliability_canary;
mod reliability_errors;
mod reliability_mutations;
mod run;
mod scenarios;
mod sessions;
mod sync;
mod tracing;

mod layout {
    /// Every integration test is a module of this binary: a `.rs` file directly in `tests/tests/`
    /// would be a test binary of its own, linking the facade and the mock again.
    #[test]
    fn integration_tests_are_modules_of_one_binary() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let stray: Vec<String> = std::fs::read_dir(&dir)
            .expect("tests/tests exists")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        assert!(
            stray.is_empty(),
            "tests/tests/{:?} would be separate test binaries: move each into tests/tests/it/ \
             and add `mod NAME;` to tests/tests/it/main.rs",
            stray
        );
        let main = std::fs::read_to_string(dir.join("it/main.rs")).expect("it/main.rs");
        for entry in std::fs::read_dir(dir.join("it"))
            .expect("tests/tests/it")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(module) = name.strip_suffix(".rs").filter(|m| *m != "main") {
                assert!(
                    main.contains(&format!("mod {module};")),
                    "tests/tests/it/{name} is not compiled: add `mod {module};` to \
                     tests/tests/it/main.rs"
                );
            }
        }
    }
}
