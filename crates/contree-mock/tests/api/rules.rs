//! `on_command` rules, the `Executor` trait and the `commands()` log.

use std::time::Duration;

use base64::Engine as _;
use contree_mock::{ExecFuture, Executor, MockServer, Process};
use serde_json::{Value, json};

use crate::common::{Client, setup};

fn text(s: &Value) -> String {
    match s["encoding"].as_str() {
        Some("base64") => String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(s["value"].as_str().unwrap())
                .unwrap(),
        )
        .into_owned(),
        _ => s["value"].as_str().unwrap_or_default().to_string(),
    }
}

fn stdout(v: &Value) -> String {
    text(&v["metadata"]["result"]["stdout"])
}

fn stderr(v: &Value) -> String {
    text(&v["metadata"]["result"]["stderr"])
}

fn exit_code(v: &Value) -> i64 {
    v["metadata"]["result"]["state"]["exit_code"]
        .as_i64()
        .unwrap()
}

/// Runs `cmd` (a shell script) on `image` and waits for the result.
async fn run_on(c: &Client, image: &str, cmd: &str) -> Value {
    let op = c
        .spawn(json!({"command": cmd, "image": image, "shell": true}))
        .await;
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "SUCCESS", "{v}");
    v
}

async fn run(c: &Client, cmd: &str) -> Value {
    run_on(c, "tag:busybox:latest", cmd).await
}

/// An instance whose main process (`cat`, stdin kept open) runs until killed.
async fn long_running(c: &Client) -> String {
    let op = c
        .spawn(json!({"command": "cat", "image": "tag:busybox:latest", "stdin": {"value": "", "close": false}}))
        .await;
    c.wait_status(&op, "EXECUTING").await;
    op
}

async fn exec(c: &Client, op: &str, body: Value) -> u64 {
    let r = c
        .post_json(&format!("/operations/{op}/subprocesses"), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["spid"].as_u64().unwrap()
}

/// Waits for a subprocess to end and returns its `InstanceResult`.
async fn exited(c: &Client, op: &str, spid: u64) -> Value {
    let fut = async {
        loop {
            let v = c
                .get(&format!("/operations/{op}/subprocesses/{spid}"))
                .await
                .expect(200, "InstanceResult");
            if v["state"]["exit_code"] != -1 || v["state"]["signal"] != -1 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the subprocess exited")
}

#[tokio::test]
async fn rules_match_in_order_and_other_commands_run_in_the_shell() {
    let (server, c) = setup().await;
    let first = server
        .on_command(|cmd| cmd.contains("make test"))
        .stdout("tests ok\n")
        .stderr("3 passed\n")
        .exit(3);
    let second = server
        .on_command(|cmd| cmd.contains("make"))
        .stdout("built\n");
    // An earlier rule wins even though the later one matches too.
    let v = run(&c, "make test").await;
    assert_eq!(stdout(&v), "tests ok\n");
    assert_eq!(stderr(&v), "3 passed\n");
    assert_eq!(exit_code(&v), 3);
    let v = run(&c, "make build").await;
    assert_eq!(stdout(&v), "built\n");
    assert_eq!(exit_code(&v), 0);
    // No rule matches: the simulated shell runs it.
    let v = run(&c, "echo real; make").await;
    assert_eq!(stdout(&v), "built\n", "the whole script matched `make`");
    let v = run(&c, "echo real").await;
    assert_eq!(stdout(&v), "real\n");
    let v = run(&c, "mak").await;
    assert_eq!(exit_code(&v), 127, "unknown to the shell: {}", stderr(&v));
    assert_eq!((first.hits(), second.hits()), (1, 2));
    let rules: Vec<_> = server.commands().iter().map(|c| c.rule).collect();
    assert_eq!(rules, [Some(0), Some(1), Some(1), None, None]);
    // Removing the rules sends everything to the shell again.
    server.clear_rules();
    let v = run(&c, "make test").await;
    assert_eq!(exit_code(&v), 127);
}

#[tokio::test]
async fn times_n_answers_n_commands_then_falls_through() {
    let (server, c) = setup().await;
    let twice = server
        .on_command(|cmd| cmd.contains("echo"))
        .stdout("mocked\n")
        .times(2);
    let fallback = server
        .on_command(|cmd| cmd.contains("echo hello"))
        .stdout("second rule\n");
    assert_eq!(stdout(&run(&c, "echo hello").await), "mocked\n");
    assert_eq!(stdout(&run(&c, "echo hello").await), "mocked\n");
    // Exhausted: the next rule answers, then the shell for what it does not match.
    assert_eq!(stdout(&run(&c, "echo hello").await), "second rule\n");
    assert_eq!(stdout(&run(&c, "echo bye").await), "bye\n");
    assert_eq!((twice.hits(), fallback.hits()), (2, 1));
    let zero = server.on_command(|_| true).stdout("never\n").times(0);
    assert_eq!(stdout(&run(&c, "echo bye").await), "bye\n");
    assert_eq!(zero.hits(), 0);
}

#[tokio::test]
async fn writes_are_seen_by_inspect_later_runs_and_later_subprocesses() {
    let (server, c) = setup().await;
    let report = br#"{"passed": 3, "failed": 0}"#;
    server
        .on_command(|cmd| cmd.contains("make test"))
        .writes("/out/report.json", report)
        .writes("notes.txt", "relative to the cwd\n")
        .stdout("ok\n");
    let op = c
        .spawn(json!({"command": "make test", "image": "tag:busybox:latest", "shell": true, "cwd": "/work"}))
        .await;
    let v = c.wait(&op).await;
    assert_eq!(stdout(&v), "ok\n");
    let image = v["result_image_uuid"].as_str().unwrap().to_string();
    assert_ne!(
        v["image_uuid"], v["result_image_uuid"],
        "the writes made a new image"
    );
    let r = c
        .get(&format!("/inspect/{image}/download?path=/out/report.json"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], report);
    let v = run_on(
        &c,
        &image,
        "cat /out/report.json; cat /work/notes.txt; ls -l /out",
    )
    .await;
    let out = stdout(&v);
    assert!(
        out.starts_with(r#"{"passed": 3, "failed": 0}relative to the cwd"#),
        "{out}"
    );
    assert!(out.contains("-rw-r--r--") && out.contains("root"), "{out}");
    // In a running instance, a subprocess's writes are there for the next subprocess.
    server
        .on_command(|cmd| cmd.spid >= 2 && cmd.command == "generate")
        .writes("/tmp/generated", "42\n");
    let op = long_running(&c).await;
    let gen_spid = exec(&c, &op, json!({"command": "generate"})).await;
    assert_eq!(exited(&c, &op, gen_spid).await["state"]["exit_code"], 0);
    let cat = exec(
        &c,
        &op,
        json!({"command": "cat", "args": ["/tmp/generated"]}),
    )
    .await;
    assert_eq!(text(&exited(&c, &op, cat).await["stdout"]), "42\n");
    c.delete(&format!("/operations/{op}")).await;
}

#[tokio::test]
async fn a_write_that_cannot_happen_fails_the_command_with_a_message() {
    let (server, c) = setup().await;
    server
        .on_command(|cmd| cmd.contains("bad"))
        .writes("/etc/passwd/inside", "x")
        .exit(0);
    let v = run(&c, "bad").await;
    assert_eq!(exit_code(&v), 1);
    let err = stderr(&v);
    assert!(
        err.contains("cannot write /etc/passwd/inside") && err.contains("writes()"),
        "{err}"
    );
}

#[tokio::test]
async fn a_delay_holds_the_process_and_a_kill_during_it_writes_nothing() {
    let (server, c) = setup().await;
    server
        .on_command(|cmd| cmd.contains("slow"))
        .delay(Duration::from_secs(3600))
        .writes("/tmp/done", "yes")
        .stdout("finished\n");
    server
        .on_command(|cmd| cmd.contains("brief"))
        .delay(Duration::from_millis(40))
        .stdout("after the delay\n");
    let op = long_running(&c).await;
    let slow = exec(&c, &op, json!({"command": "slow"})).await;
    // Still running while the rule waits: its result says "not exited" and nothing was written.
    let r = c
        .get(&format!("/operations/{op}/subprocesses/{slow}"))
        .await
        .expect(200, "InstanceResult");
    assert_eq!(r["state"]["exit_code"], -1);
    let probe = exec(
        &c,
        &op,
        json!({"command": "test", "args": ["-e", "/tmp/done"]}),
    )
    .await;
    assert_eq!(exited(&c, &op, probe).await["state"]["exit_code"], 1);
    let kill = c
        .delete(&format!("/operations/{op}/subprocesses/{slow}?signal=TERM"))
        .await;
    assert_eq!(kill.status, 204);
    let killed = exited(&c, &op, slow).await;
    assert_eq!(killed["state"]["signal"], 15);
    assert_eq!(text(&killed["stdout"]), "");
    let probe = exec(
        &c,
        &op,
        json!({"command": "test", "args": ["-e", "/tmp/done"]}),
    )
    .await;
    assert_eq!(exited(&c, &op, probe).await["state"]["exit_code"], 1);
    // A short delay: the output comes after it, and the process lasted at least that long.
    let brief = exec(&c, &op, json!({"command": "brief"})).await;
    let done = exited(&c, &op, brief).await;
    assert_eq!(text(&done["stdout"]), "after the delay\n");
    let events = c.events(&op, &format!("?spid={brief}")).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["spawn", "stdout", "exit"]);
    assert!(events[2]["data"]["duration_ms"].as_i64().unwrap() >= 40);
    c.delete(&format!("/operations/{op}")).await;
}

#[tokio::test]
async fn commands_records_what_each_request_asked_for_in_order() {
    let (server, c) = setup().await;
    let r = c
        .send(
            "POST",
            "/files",
            &[],
            Some(bytes::Bytes::from_static(b"payload")),
        )
        .await
        .expect(201, "FileResponse");
    let file = r["uuid"].as_str().unwrap().to_string();
    let spawned = c
        .post_json(
            "/instances",
            json!({
                "command": "/bin/cat", "args": ["-", "/data/in.txt"], "image": "tag:busybox:latest",
                "env": {"MODE": "test"}, "cwd": "/tmp", "uid": 1000, "gid": 1000,
                "stdin": {"value": "from stdin\n", "close": false},
                "files": {"/data/in.txt": {"uuid": file, "mode": "0600"}},
            }),
        )
        .await
        .expect(201, "InstanceSpawnResponse");
    let op = spawned["uuid"].as_str().unwrap().to_string();
    c.wait_status(&op, "EXECUTING").await;
    let spid = exec(
        &c,
        &op,
        json!({"command": "echo $X", "shell": true, "env": {"X": "1"}}),
    )
    .await;
    exited(&c, &op, spid).await;
    c.delete(&format!("/operations/{op}")).await;
    let log = server.commands();
    assert_eq!(log.len(), 2, "{log:?}");
    let main = &log[0];
    assert_eq!((main.operation.as_str(), main.spid), (op.as_str(), 1));
    assert_eq!(main.image, spawned["image"].as_str().unwrap());
    assert_eq!(main.command, "/bin/cat");
    assert_eq!(main.args, ["-", "/data/in.txt"]);
    assert!(!main.shell);
    assert_eq!(main.line(), "/bin/cat - /data/in.txt");
    assert_eq!(
        main.env,
        [("MODE".to_string(), "test".to_string())].into(),
        "only what the request set"
    );
    assert_eq!(
        (main.cwd.as_str(), main.uid, main.gid),
        ("/tmp", 1000, 1000)
    );
    assert_eq!(&main.stdin[..], b"from stdin\n");
    let placed = &main.files["/data/in.txt"];
    assert_eq!(
        (placed.uuid.as_str(), &placed.data[..]),
        (file.as_str(), &b"payload"[..])
    );
    assert_eq!(placed.mode, 0o600);
    assert_eq!(main.rule, None);
    let sub = &log[1];
    assert_eq!(
        (sub.operation.as_str(), sub.spid),
        (op.as_str(), spid as u32)
    );
    assert_eq!(sub.image, main.image);
    assert!(sub.shell && sub.args.is_empty());
    assert_eq!(sub.line(), "echo $X");
    assert_eq!(sub.env, [("X".to_string(), "1".to_string())].into());
    assert_eq!(sub.cwd, "/tmp", "a subprocess starts in the instance's cwd");
    assert!(sub.files.is_empty() && sub.stdin.is_empty());
}

/// Answers every command with its command line, upper-cased.
struct Shout;

impl Executor for Shout {
    fn run(&self, p: Process) -> ExecFuture<'_> {
        Box::pin(async move {
            let _ = p.io.stdout.send(p.command.line().to_uppercase().into());
            p.fs.lock().unwrap().write("/shouted", "1".into()).unwrap();
            7
        })
    }
}

#[tokio::test]
async fn a_custom_executor_runs_what_no_rule_answers() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .executor(Shout)
        .start()
        .await;
    let c = Client::new(&server);
    server
        .on_command(|cmd| cmd.contains("ruled"))
        .stdout("by the rule\n");
    assert_eq!(stdout(&run(&c, "ruled").await), "by the rule\n");
    let v = run(&c, "echo quiet").await;
    assert_eq!((stdout(&v).as_str(), exit_code(&v)), ("ECHO QUIET", 7));
    let image = v["result_image_uuid"].as_str().unwrap();
    let r = c
        .get(&format!("/inspect/{image}/download?path=/shouted"))
        .await;
    assert_eq!(&r.body[..], b"1");
}
