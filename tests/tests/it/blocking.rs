//! Blocking-only behaviour: the Python-subprocess-like `Popen`, `std::io` adapters, the
//! escape hatch, and use from inside a Tokio runtime.

use std::io::{Read as _, Write as _};

use contree::Signal;
use contree_integration_tests::scenario::setup_blocking;

#[test]
fn popen_communicate_returns_stdout_and_stderr() {
    let env = setup_blocking();
    let img = env.contree.images().use_tag("ubuntu:latest");
    let mut p = img
        .shell("tr a-z A-Z; echo warn >&2; exit 4")
        .popen()
        .unwrap();
    let (out, err) = p.communicate(Some(b"hello\nworld\n")).unwrap();
    assert_eq!(&out[..], b"HELLO\nWORLD\n");
    assert_eq!(&err[..], b"warn\n");
    assert_eq!(p.returncode(), Some(4));
    let status = p.wait().unwrap();
    assert_eq!(status.code, 4);
    // The pipes were consumed.
    assert!(p.stdin().is_none() && p.stdout().is_none());
    // The run made a new version with its result.
    assert!(p.output().unwrap().image().is_some());
}

#[test]
fn popen_pipes_are_std_io() {
    let env = setup_blocking();
    let img = env.contree.images().use_tag("ubuntu:latest");
    let mut p = img.run("cat").popen().unwrap();
    assert_eq!(p.poll().unwrap(), None, "cat waits for input");
    assert_eq!(p.returncode(), None);
    let stdin = p.stdin().unwrap();
    writeln!(stdin, "first").unwrap();
    stdin.write_all(b"second\n").unwrap();
    stdin.close().unwrap();
    let mut text = String::new();
    p.stdout().unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "first\nsecond\n");
    assert!(p.wait().unwrap().success());
    assert_eq!(p.returncode(), Some(0));
}

#[test]
fn popen_terminate_and_kill() {
    let env = setup_blocking();
    let img = env.contree.images().use_tag("ubuntu:latest");
    let mut p = img.shell("sleep 100").popen().unwrap();
    p.terminate().unwrap();
    let status = p.wait().unwrap();
    assert_eq!(status.signal, Some(15));
    assert_eq!(p.returncode(), Some(-1));

    let mut q = img.shell("sleep 100").popen().unwrap();
    q.kill().unwrap();
    assert_eq!(q.wait().unwrap().signal, Some(9));
    let mut r = img.shell("sleep 100").popen().unwrap();
    r.send_signal(Signal::Int).unwrap();
    assert_eq!(r.wait().unwrap().signal, Some(2));
}

#[test]
fn read_and_write_adapters() {
    let env = setup_blocking();
    let c = &env.contree;
    let img = c.images().use_tag("ubuntu:latest");
    // stdin from a std::io::Read.
    let out = img
        .run("cat")
        .stdin_reader(std::io::Cursor::new(b"from a reader".to_vec()))
        .output()
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "from a reader");
    // Upload from a std::io::Read.
    let up = c
        .files()
        .upload_reader(std::io::Cursor::new(b"reader upload\n".to_vec()))
        .output()
        .unwrap();
    let img2 = img
        .shell("cat /r.txt > /copy.txt")
        .file("/r.txt", up)
        .output()
        .unwrap()
        .into_image()
        .unwrap();
    // A file's content as a std::io::Read.
    let mut s = String::new();
    img2.read_stream("/copy.txt")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "reader upload\n");
    // An archive as a std::io::Read, parsed by `tar`.
    let mut tar_bytes = Vec::new();
    img2.archive("/copy.txt")
        .unwrap()
        .into_reader()
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("copy.txt")), "{names:?}");
}

#[test]
fn the_escape_hatch_reaches_every_async_capability() {
    let env = setup_blocking();
    let tags = env
        .contree
        .call(|c| async move {
            let page = c.images().list().tagged().await?;
            Ok::<_, contree::Error>(
                page.iter()
                    .filter_map(|i| i.tag().map(str::to_string))
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap();
    assert!(tags.iter().any(|t| t == "ubuntu:latest"));
    let me = env.contree.whoami().unwrap();
    assert_eq!(env.contree.cached_whoami(), Some(me));
}

/// The blocking client called from inside async code (a current-thread runtime, the
/// most fragile case) neither panics nor deadlocks; nor does dropping it there.
#[tokio::test(flavor = "current_thread")]
async fn blocking_client_inside_a_tokio_runtime() {
    let env = setup_blocking();
    let c = env.contree.clone();
    let img = c.images().use_tag("ubuntu:latest");
    let out = img.shell("echo inside").output().unwrap();
    assert_eq!(out.stdout_str().unwrap(), "inside\n");
    let next = out.image().unwrap().read_to_string("/etc/hostname");
    assert!(next.is_ok() || next.unwrap_err().is_not_found());
    let listed: Vec<_> = c
        .images()
        .list()
        .tagged()
        .stream()
        .collect::<contree::Result<_>>()
        .unwrap();
    assert!(!listed.is_empty());
    let mut p = img.run("cat").popen().unwrap();
    let (o, _) = p.communicate(Some(b"x")).unwrap();
    assert_eq!(&o[..], b"x");
    // Dropping the last clones here joins the runtime thread without panicking.
    drop((c, img, out, p, listed));
    drop(env);
}

#[test]
fn many_threads_share_one_client() {
    let env = setup_blocking();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let c = env.contree.clone();
            std::thread::spawn(move || {
                c.images()
                    .use_tag("ubuntu:latest")
                    .shell(format!("echo {i}"))
                    .output()
                    .unwrap()
                    .stdout_lossy()
                    .into_owned()
            })
        })
        .collect();
    let outs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outs, vec!["0\n", "1\n", "2\n", "3\n"]);
}

/// The blocking builder has the async builder's options (one shared list): the ones the
/// blocking mirror once lacked take effect.
#[test]
fn blocking_builder_options_take_effect() {
    let server = contree_mock::MockServer::builder()
        .latency(std::time::Duration::ZERO)
        .start_blocking();
    let mut b = contree::blocking::Contree::builder()
        .base_url(server.base_url())
        .token(server.token())
        .compress_event_streams(true)
        .events_deadline(std::time::Duration::from_secs(90))
        .wait_margin(std::time::Duration::from_secs(30));
    if let Some(p) = server.project() {
        b = b.project(p);
    }
    let c = b.build().unwrap();
    assert_eq!(c.events_deadline().as_secs(), 90);
    let out = c
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo zipped")
        .output()
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "zipped\n");
    let encodings: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some("getOperationEvents"))
        .map(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(encodings, vec![Some("gzip".to_string())]);
}
