//! Fuzzes the JSON decoding of contree-proto's response types and events: any input either
//! decodes or fails with an error that names a path; nothing panics.
#![no_main]

use contree_proto::json::decode;
use contree_proto::types;
use libfuzzer_sys::fuzz_target;

fn check<T: serde::de::DeserializeOwned>(data: &[u8]) {
    if let Err(e) = decode::<T>(data) {
        let _ = e.to_string();
        assert!(!e.path().is_empty(), "a decode error names a path");
    }
}

fuzz_target!(|data: &[u8]| {
    check::<types::OperationResponse>(data);
    check::<types::OperationEvent>(data);
    check::<types::OperationSummary>(data);
    check::<types::Image>(data);
    check::<types::ImageListResponse>(data);
    check::<types::InstanceSpawnResponse>(data);
    check::<types::DirectoryList>(data);
    check::<types::GrepResult>(data);
    check::<types::FileResponse>(data);
    check::<types::WhoAmIResponse>(data);
    check::<types::Error>(data);
});
