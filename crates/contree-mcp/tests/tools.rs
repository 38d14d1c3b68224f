//! The server driven by rmcp's client against the embedded mock, each scenario over stdio
//! and over streamable HTTP (with `--allow-local-files`): the tool list and schemas, then
//! every tool.

#[macro_use]
mod common;

use common::{Client, Via, World, fails, ok};
use serde_json::{Value, json};

const READ_ONLY: [&str; 10] = [
    "registry_token_obtain",
    "list_images",
    "get_image",
    "list_files",
    "read_file",
    "grep",
    "get_operation",
    "list_operations",
    "whoami",
    "get_guide",
];

async fn lists_exactly_the_19_tools_with_schemas_and_annotations(via: Via) {
    let w = World::new().await;
    let (client, _, _child) = w.connect(via).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    let mut expected = contree_mcp::TOOL_NAMES.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    for t in &tools {
        assert_eq!(
            t.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            t.name
        );
        let out = t
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no output schema", t.name));
        assert_eq!(out.get("type"), Some(&json!("object")), "{}", t.name);
        assert!(
            t.description.as_deref().is_some_and(|d| !d.is_empty()),
            "{}",
            t.name
        );
        let ann = t
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no annotations", t.name));
        assert_eq!(
            ann.read_only_hint == Some(true),
            READ_ONLY.contains(&t.name.as_ref()),
            "{}",
            t.name
        );
    }
    let run = tools.iter().find(|t| t.name == "run").unwrap();
    let props = run.input_schema["properties"].as_object().unwrap();
    for (param, default) in [
        ("shell", json!(true)),
        ("timeout", json!(30)),
        ("disposable", json!(true)),
        ("truncate_output_at", json!(8000)),
        ("wait", json!(true)),
    ] {
        assert_eq!(props[param]["default"], default, "run.{param}");
    }
    let required: Vec<&str> = run.input_schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required.len(), 2);
    assert!(required.contains(&"command") && required.contains(&"image"));
    // The output schemas are real: a wrong shape does not validate.
    let list = tools.iter().find(|t| t.name == "list_images").unwrap();
    let schema = Value::Object((*list.output_schema.clone().unwrap()).clone());
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&json!({"images": []})));
    assert!(!validator.is_valid(&json!({"images": 5})));
    assert!(!validator.is_valid(&json!({"images": [{"uuid": 1}]})));
    let download = tools.iter().find(|t| t.name == "download").unwrap();
    assert_eq!(
        download.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    client.cancel().await.unwrap();
}

async fn images_files_and_tags(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;

    let images = ok(&c, "list_images", json!({"tagged": true})).await;
    let tags: Vec<&str> = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["tag"].as_str())
        .collect();
    assert!(tags.contains(&"ubuntu:latest"), "{tags:?}");
    let with_prefix = ok(&c, "list_images", json!({"tag_prefix": "ubuntu:"})).await;
    assert!(
        with_prefix["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["tag"].as_str().unwrap().starts_with("ubuntu"))
    );

    let ubuntu = ok(&c, "get_image", json!({"image": "ubuntu:latest"})).await;
    let ubuntu_uuid = ubuntu["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        ok(&c, "get_image", json!({"image": "tag:ubuntu:latest"})).await["uuid"],
        ubuntu_uuid
    );
    assert_eq!(
        ok(&c, "get_image", json!({"image": ubuntu_uuid})).await["uuid"],
        ubuntu_uuid
    );

    let kept = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo data > /f.txt", "disposable": false}),
    )
    .await;
    let v1 = kept["result_image_uuid"]
        .as_str()
        .expect("a kept run makes an image")
        .to_string();
    assert_ne!(v1, ubuntu_uuid);
    assert_eq!(kept["image_uuid"], ubuntu_uuid);

    let tagged = ok(
        &c,
        "set_tag",
        json!({"image_uuid": v1, "tag": "mcp-test:1"}),
    )
    .await;
    assert_eq!(tagged["tag"], "mcp-test:1");
    assert_eq!(
        ok(&c, "get_image", json!({"image": "tag:mcp-test:1"})).await["uuid"],
        v1
    );
    ok(&c, "set_tag", json!({"image_uuid": v1})).await;
    let msg = fails(&c, "get_image", json!({"image": "tag:mcp-test:1"})).await;
    assert!(
        msg.to_lowercase().contains("not found") || msg.contains("404"),
        "{msg}"
    );

    reads_the_files_of(&c, &v1).await;
    c.cancel().await.unwrap();
}

/// `list_files`, `read_file`, `grep` and `download` on `v1`, which has `/f.txt` = "data\n".
async fn reads_the_files_of(c: &Client, v1: &str) {
    let files = ok(c, "list_files", json!({"image": v1, "path": "/"})).await;
    let entry = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "f.txt")
        .expect("f.txt listed")
        .clone();
    assert_eq!(entry["type"], "file");
    assert_eq!(entry["size"], 5);
    assert!(entry["mode"].as_str().unwrap().starts_with("0o"), "{entry}");
    assert_eq!(
        files["count"].as_u64().unwrap() as usize,
        files["files"].as_array().unwrap().len()
    );

    let read = ok(c, "read_file", json!({"image": v1, "path": "/f.txt"})).await;
    assert_eq!(
        read,
        json!({"path": "/f.txt", "content": "data\n", "encoding": "utf-8", "bytes_size": 5})
    );
    let missing = fails(c, "read_file", json!({"image": v1, "path": "/nope.txt"})).await;
    assert!(
        missing.contains("/nope.txt"),
        "the SDK's message names the path: {missing}"
    );

    let g = ok(
        c,
        "grep",
        json!({"image": v1, "pattern": "dat", "path": "/f.txt"}),
    )
    .await;
    assert_eq!(
        g["matches"],
        json!([{"path": "/f.txt", "line_number": 1, "line_text": "data\n"}])
    );
    assert_eq!(g["truncated"], false);
    assert_eq!(g["patterns"], json!(["dat"]));

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out/f.txt");
    let d = ok(
        c,
        "download",
        json!({"image": v1, "path": "/f.txt", "destination": dest, "executable": true}),
    )
    .await;
    assert_eq!(d["success"], true);
    assert_eq!(d["size"], 5);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "data\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
}

async fn uploads_and_directory_sync_reach_the_run(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;

    let up = ok(&c, "upload", json!({"content": "hello\n"})).await;
    assert_eq!(up["size"], 6);
    let uuid = up["uuid"].as_str().unwrap().to_string();
    let b64 = ok(&c, "upload", json!({"content_base64": "aGVsbG8K"})).await;
    assert_eq!(b64["sha256"], up["sha256"], "same content, same sha256");
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), "hello\n").unwrap();
    assert_eq!(
        ok(&c, "upload", json!({"path": local.path()})).await["sha256"],
        up["sha256"]
    );
    fails(
        &c,
        "upload",
        json!({"content": "a", "content_base64": "YQ=="}),
    )
    .await;

    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "cat /u.txt", "files": {"/u.txt": uuid}}),
    )
    .await;
    assert_eq!(out["stdout"], "hello\n");

    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("sub/__pycache__")).unwrap();
    std::fs::write(src.path().join("a.txt"), "A\n").unwrap();
    std::fs::write(src.path().join("sub/b.txt"), "B\n").unwrap();
    std::fs::write(src.path().join("sub/__pycache__/x.pyc"), "junk").unwrap();
    std::fs::write(src.path().join("sub/c.pyc"), "junk").unwrap();
    let args =
        json!({"source": src.path(), "destination": "/app/", "exclude": ["__pycache__", "*.pyc"]});
    let sync = ok(&c, "rsync", args.clone()).await;
    assert_eq!(
        sync["files"], 2,
        "nested __pycache__ and *.pyc are excluded: {sync}"
    );
    assert_eq!(sync["uploaded"], 2);
    assert_eq!(sync["destination"], "/app");
    let id = sync["directory_state_id"].as_i64().unwrap();

    let out = ok(&c, "run", json!({"image": "ubuntu:latest", "command": "cat /app/a.txt /app/sub/b.txt; ls /app/sub", "directory_state_id": id})).await;
    assert_eq!(out["stdout"], "A\nB\nb.txt\n", "{out}");

    let again = ok(&c, "rsync", args.clone()).await;
    assert_eq!(
        again["directory_state_id"], id,
        "same source, destination, excludes: same id"
    );
    assert_eq!(again["uploaded"], 0, "nothing changed, nothing uploaded");
    std::fs::write(src.path().join("a.txt"), "A2, longer\n").unwrap();
    let changed = ok(&c, "rsync", args).await;
    assert_eq!(
        (
            changed["directory_state_id"].as_i64(),
            changed["uploaded"].as_u64()
        ),
        (Some(id), Some(1))
    );
    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "cat /app/a.txt", "directory_state_id": id}),
    )
    .await;
    assert_eq!(out["stdout"], "A2, longer\n");
    assert!(
        w.home.path().join("mcp/files.json").exists(),
        "the rsync cache is saved under CONTREE_HOME/mcp"
    );

    let unknown = fails(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "true", "directory_state_id": 999}),
    )
    .await;
    assert!(unknown.contains("999"), "{unknown}");
    c.cancel().await.unwrap();
}

/// `wait_operations` timing out on a slow run, `cancel_operation` on it (twice) and on
/// the finished run `id`.
async fn timeouts_and_cancels(w: &World, c: &Client, id: &str) {
    // A run still going at the timeout is reported as timed out, not as FAILED.
    let slow = ok(
        c,
        "run",
        json!({"image": "ubuntu:latest", "command": "sleep 30", "wait": false, "timeout": 60}),
    )
    .await;
    let slow_id = slow["operation_id"].as_str().unwrap().to_string();
    let waited = ok(
        c,
        "wait_operations",
        json!({"operation_ids": [slow_id], "timeout": 0.5}),
    )
    .await;
    assert_eq!(waited["timed_out"], true, "{waited}");
    assert_eq!(waited["timed_out_ids"], json!([slow_id]));
    assert_eq!(waited["results"], json!({}));
    let cancelled = ok(c, "cancel_operation", json!({"operation_id": slow_id})).await;
    assert_eq!(cancelled["cancelled"], true);
    let info = w
        .contree()
        .operations()
        .wait(&slow_id, std::time::Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(info.status, contree::OperationStatus::Cancelled);
    let again = ok(c, "cancel_operation", json!({"operation_id": slow_id})).await;
    assert_eq!(
        (again["cancelled"].as_bool(), again["status"].as_str()),
        (Some(true), Some("CANCELLED"))
    );
    let done = ok(c, "cancel_operation", json!({"operation_id": id})).await;
    assert_eq!(done["cancelled"], false, "a finished run is left as it is");
}

async fn any_wins_and_the_others_are_cancelled(c: &Client) {
    // mode="any": the first wins, the others are cancelled.
    let fast = ok(
        c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo fast", "wait": false}),
    )
    .await["operation_id"]
        .clone();
    let slow = ok(
        c,
        "run",
        json!({"image": "ubuntu:latest", "command": "sleep 30", "wait": false, "timeout": 60}),
    )
    .await["operation_id"]
        .clone();
    let any = ok(
        c,
        "wait_operations",
        json!({"operation_ids": [fast, slow], "mode": "any", "timeout": 20}),
    )
    .await;
    assert_eq!(any["completed"], json!([fast]));
    assert_eq!(any["cancelled"], json!([slow]));
}

async fn operations_wait_cancel_and_list(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;

    let started = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo later", "wait": false}),
    )
    .await;
    assert_eq!(
        started.as_object().unwrap().len(),
        1,
        "only operation_id: {started}"
    );
    let id = started["operation_id"].as_str().unwrap().to_string();
    let waited = ok(&c, "wait_operations", json!({"operation_ids": [id, id]})).await;
    assert_eq!(waited["completed"], json!([id]));
    assert_eq!(waited["results"][&id]["stdout"], "later\n");
    assert_eq!(waited["results"][&id]["status"], "SUCCESS");
    assert_eq!(waited["timed_out"], false);
    let op = ok(&c, "get_operation", json!({"operation_id": id})).await;
    assert_eq!(
        (
            op["status"].as_str(),
            op["kind"].as_str(),
            op["exit_code"].as_i64()
        ),
        (Some("SUCCESS"), Some("instance"), Some(0))
    );
    assert_eq!(op["stdout"], "later\n");

    timeouts_and_cancels(&w, &c, &id).await;
    any_wins_and_the_others_are_cancelled(&c).await;

    let listed = ok(
        &c,
        "list_operations",
        json!({"limit": 50, "type": "instance"}),
    )
    .await;
    let ids: Vec<&str> = listed["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["uuid"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");
    let failed = ok(&c, "list_operations", json!({"status": "CANCELLED"})).await;
    assert!(
        failed["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "CANCELLED")
    );
    fails(&c, "list_operations", json!({"status": "BOGUS"})).await;
    c.cancel().await.unwrap();
}

async fn imports_registries_identity_and_guide(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;

    let refused = fails(
        &c,
        "import_image",
        json!({"registry_url": "docker://docker.io/library/alpine:3.20"}),
    )
    .await;
    assert!(
        refused.contains("Not authenticated with 'docker.io'"),
        "{refused}"
    );
    let imported = ok(&c, "import_image", json!({"registry_url": "docker://docker.io/library/alpine:3.20", "i_accept_that_anonymous_access_might_be_rate_limited": true})).await;
    assert_eq!(imported["status"], "SUCCESS", "{imported}");
    assert_eq!(imported["kind"], "image_import");
    assert!(imported["result_image_uuid"].is_string());
    let started = ok(&c, "import_image", json!({"registry_url": "docker://docker.io/library/busybox:1.36", "wait": false, "i_accept_that_anonymous_access_might_be_rate_limited": true})).await;
    let import_id = started["operation_id"]
        .as_str()
        .expect("an operation id")
        .to_string();
    let waited = ok(&c, "wait_operations", json!({"operation_ids": [import_id]})).await;
    assert_eq!(
        waited["results"][&import_id]["status"], "SUCCESS",
        "{waited}"
    );

    let page = ok(
        &c,
        "registry_token_obtain",
        json!({"registry_url": "ghcr.io/org/image"}),
    )
    .await;
    assert_eq!(page["registry"], "ghcr.io");
    assert!(page["url"].as_str().unwrap().contains("github.com"));
    let unknown = ok(
        &c,
        "registry_token_obtain",
        json!({"registry_url": "quay.io/x"}),
    )
    .await;
    assert_eq!(unknown["status"], "error");
    // Nothing listens on port 1: validation fails, and the token is not echoed.
    let auth = ok(
        &c,
        "registry_auth",
        json!({"registry_url": "127.0.0.1:1/x", "username": "u", "token": "sekret-token-123"}),
    )
    .await;
    assert_eq!(auth["status"], "error");
    assert!(!auth.to_string().contains("sekret-token-123"));

    let who = ok(&c, "whoami", json!({})).await;
    assert!(!who["token_uuid"].as_str().unwrap().is_empty());
    assert!(who["permissions"].is_object() && who["limits"].is_object());
    assert!(
        !who.to_string().contains(w.mock.token()),
        "the token never appears in output"
    );

    let g = ok(&c, "get_guide", json!({"section": "quickstart"})).await;
    assert!(g["content"].as_str().unwrap().contains("run("));
    assert_eq!(g["available_sections"].as_array().unwrap().len(), 7);
    let bad = fails(&c, "get_guide", json!({"section": "nope"})).await;
    assert!(bad.contains("workflow"), "{bad}");
    c.cancel().await.unwrap();
}

async fn resources_and_prompts(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;
    let resources = c.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 7);
    assert!(
        resources
            .iter()
            .any(|r| r.uri == "contree://guide/workflow")
    );
    let templates = c.list_all_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 6);

    let read = |uri: &str| {
        let uri = uri.to_string();
        let c = &c;
        async move {
            let r = c
                .read_resource(rmcp::model::ReadResourceRequestParams::new(uri.clone()))
                .await
                .unwrap_or_else(|e| panic!("{uri}: {e}"));
            let v = serde_json::to_value(&r).unwrap();
            v["contents"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(
        read("contree://image/ubuntu:latest/read/etc/hostname").await,
        "ubuntu\n"
    );
    let ls = read("contree://image/ubuntu:latest/ls/etc").await;
    assert!(
        ls.lines()
            .any(|l| l.ends_with(" hostname") && l.starts_with('-')),
        "{ls}"
    );
    assert!(read("contree://guide/errors").await.contains("# Errors"));
    let lineage: Value =
        serde_json::from_str(&read("contree://image/ubuntu:latest/lineage").await).unwrap();
    assert_eq!(lineage["depth"], 0);

    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo x > /x", "disposable": false}),
    )
    .await;
    let v1 = out["result_image_uuid"].as_str().unwrap();
    let lineage: Value =
        serde_json::from_str(&read(&format!("contree://image/{v1}/lineage")).await).unwrap();
    assert_eq!(lineage["parent"], out["image_uuid"], "{lineage}");
    let op: Value = serde_json::from_str(
        &read(&format!(
            "contree://operations/instance/{}",
            out["uuid"].as_str().unwrap()
        ))
        .await,
    )
    .unwrap();
    assert_eq!(op["exit_code"], 0);

    let prompts = c.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 10);
    let p = c
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("run-shell")
                .with_arguments(serde_json::from_value(json!({"command": "uname -a"})).unwrap()),
        )
        .await
        .unwrap();
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        text.contains("uname -a") && text.contains("ubuntu:noble"),
        "{text}"
    );
    c.cancel().await.unwrap();
}

over_both!(
    lists_exactly_the_19_tools_with_schemas_and_annotations,
    images_files_and_tags,
    uploads_and_directory_sync_reach_the_run,
    operations_wait_cancel_and_list,
    imports_registries_identity_and_guide,
    resources_and_prompts,
);
