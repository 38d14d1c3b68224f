//! The shared scenario list: every scenario runs through the async client
//! (`async_client::*`) and the blocking client (`blocking_client::*`). See
//! `contree_integration_tests::scenario` for the few mode-specific macros.

use contree::{ErrorKind, ImageId, RunEvent, Signal};

contree_integration_tests::scenarios! {
    fn run_and_chain(c) {
        let ubuntu = c.images().use_tag("ubuntu:latest");
        let first = go!(ubuntu.shell("echo one > /chain.txt; echo made"))?;
        assert_eq!(first.exit_code(), 0);
        assert_eq!(first.stdout_str()?, "made\n");
        let v1 = first.image().expect("kept by default").clone();
        assert!(v1.id().is_some());
        assert_eq!(v1.operation_id(), Some(first.operation_id()));
        let second = go!(v1.shell("cat /chain.txt; echo two >> /chain.txt"))?;
        assert_eq!(second.stdout_str()?, "one\n");
        let v2 = second.image().expect("kept").clone();
        assert_eq!(v2.parent().map(ImageId::from), v1.id());
        let third = go!(v2.run("cat").arg("/chain.txt"))?;
        assert_eq!(third.stdout_str()?, "one\ntwo\n");
        // v1 is immutable.
        assert_eq!(go!(v1.shell("cat /chain.txt"))?.stdout_str()?, "one\n");
    }

    fn run_options_and_non_zero_exit(c) {
        let ubuntu = c.images().use_tag("ubuntu:latest");
        let out = go!(ubuntu
            .shell("echo \"$GREETING from $(pwd)\"; cat; echo oops >&2; exit 3")
            .env("GREETING", "hello")
            .cwd("/tmp")
            .stdin("piped\n"))?;
        assert_eq!(out.exit_code(), 3);
        assert!(!out.success());
        assert_eq!(out.stdout_str()?, "hello from /tmp\npiped\n");
        assert_eq!(out.stderr_lossy(), "oops\n");
        let err = out.check().expect_err("exit 3 is an error after check()");
        assert_eq!(err.kind(), ErrorKind::NonZeroExit);
        assert_eq!(err.exit_code(), Some(3));
        let gone = go!(ubuntu.shell("echo x").disposable(true))?;
        assert!(gone.image().is_none(), "a disposable run keeps no image");
    }

    fn session_advances_and_recovers(c) {
        let session = c.images().use_tag("ubuntu:latest").session();
        go!(session.shell("echo 1 > /a"))?;
        let out = go!(session.shell("cat /a; echo 2 >> /a"))?;
        assert_eq!(out.stdout_str()?, "1\n");
        assert_eq!(session.history().len(), 3);
        assert_eq!(
            go!(session.current().read_to_string("/a"))?,
            "1\n2\n"
        );
        // A failed run (bad cwd) leaves the session where it was.
        let before = session.current();
        assert!(go!(session.shell("true").cwd("relative")).is_err());
        assert_eq!(session.current(), before);
        // Back in history, and an independent fork.
        session.checkout(1)?;
        let fork = session.fork();
        go!(fork.shell("rm /a"))?;
        assert_eq!(go!(session.shell("cat /a"))?.stdout_str()?, "1\n");
        assert!(!go!(fork.current().exists("/a"))?);
    }

    fn files_upload_and_run(c) {
        let data = b"uploaded content\n".to_vec();
        let up = go!(c.files().upload(data.clone()))?;
        assert!(go!(c.files().exists(up.sha256()))?);
        let again = go!(c.files().upload(data))?;
        assert_eq!(again.uuid(), up.uuid(), "the same content is not uploaded twice");
        let out = go!(c
            .images()
            .use_tag("ubuntu:latest")
            .shell("cat /in/up.txt /in/inline.sh; ls -l /in/inline.sh")
            .file("/in/up.txt", up.clone())
            .file_spec(contree::FileSpec::new("/in/inline.sh", b"echo inline\n".to_vec()).mode(0o755)))?;
        let text = out.stdout_str()?;
        assert!(text.starts_with("uploaded content\necho inline\n"), "{text}");
        assert!(text.contains("rwxr-xr-x"), "{text}");
        let listed = collect!(c.files().list().stream())?;
        assert!(listed.iter().any(|f| f.file.sha256() == up.sha256()));
    }

    fn inspect_ls_read_download_grep(c) {
        let out = go!(c
            .images()
            .use_tag("ubuntu:latest")
            .shell("mkdir -p /data/sub && printf 'alpha\\nbeta\\n' > /data/a.txt && echo x > /data/sub/b.txt"))?;
        let img = out.image().expect("kept").clone();
        let entries = go!(img.ls("/data"))?;
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert!(names.contains(&"a.txt") && names.contains(&"sub"), "{names:?}");
        assert!(entries.iter().any(|e| e.name == "sub" && e.is_dir()));
        assert_eq!(&go!(img.read("/data/a.txt"))?[..], b"alpha\nbeta\n");
        assert_eq!(go!(img.read_to_string("/data/sub/b.txt"))?, "x\n");
        assert!(go!(img.exists("/data/a.txt"))?);
        assert!(!go!(img.exists("/data/nope"))?);
        assert_eq!(go!(img.stat("/data/a.txt"))?.size, 11);
        let missing = go!(img.read("/data/nope")).expect_err("missing file");
        assert!(missing.is_not_found(), "{missing}");
        let dir = tempfile::tempdir().expect("temp dir");
        let saved = go!(img.download("/data/a.txt", dir.path()))?;
        assert_eq!(saved, dir.path().join("a.txt"));
        assert_eq!(std::fs::read(&saved).expect("downloaded"), b"alpha\nbeta\n");
        let hits = go!(img.grep("^be").path("/data"))?;
        assert_eq!(hits.matches().len(), 1);
        assert_eq!(hits.matches()[0].line.trim_end(), "beta");
        let extracted = tempfile::tempdir().expect("temp dir");
        let n = go!(go!(img.archive("/data"))?.extract_to(extracted.path()))?;
        assert!(n >= 2);
        assert!(extracted.path().join("sub").join("b.txt").exists() || extracted.path().join("data/sub/b.txt").exists());
    }

    fn images_list_and_tag(c) {
        let page = go!(c.images().list().limit(5))?;
        assert!(!page.is_empty() && page.len() <= 5);
        let all = collect!(c.images().list().tagged().stream())?;
        assert!(all.iter().any(|i| i.tag() == Some("ubuntu:latest")), "ubuntu:latest is listed");
        let pinned = go!(c.images().get("ubuntu:latest"))?;
        assert!(pinned.id().is_some());
        let out = go!(pinned.shell("echo tagged > /t"))?;
        let img = out.image().expect("kept").clone();
        let tag = format!("scenario-{}:1", out.operation_id());
        let tagged = go!(img.tag_as(&tag))?;
        assert_eq!(tagged.tag(), Some(tag.as_str()));
        assert_eq!(go!(c.images().get(&tag))?.id(), img.id());
        let by_prefix = go!(c.images().list().tag_prefix(tag.clone()))?;
        assert_eq!(by_prefix.len(), 1);
        go!(img.untag(&tag))?;
        let gone = go!(c.images().get(&tag)).expect_err("untagged");
        assert!(gone.is_not_found(), "{gone}");
    }

    fn stream_live_output(c) {
        let events = collect!(c
            .images()
            .use_tag("ubuntu:latest")
            .shell("seq 1 200; echo done >&2")
            .stream())?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut output = None;
        for ev in events {
            match ev {
                RunEvent::Stdout(b) => stdout.extend_from_slice(&b),
                RunEvent::Stderr(b) => stderr.extend_from_slice(&b),
                RunEvent::Output(out) => output = Some(out),
                _ => {}
            }
        }
        let expected: String = (1..=200).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(stdout).expect("utf8"), expected);
        assert_eq!(stderr, b"done\n");
        let output = output.expect("the stream ends with the output");
        assert_eq!(output.stdout_str()?, expected);
        assert!(output.image().is_some());
    }

    fn start_attach_and_operations(c) {
        let handle = go!(c.images().use_tag("ubuntu:latest").shell("echo detached").start())?;
        let id = handle.operation_id().to_string();
        let again = c.operations().attach(id.clone());
        let out = go!(again.wait())?;
        assert_eq!(out.stdout_str()?, "detached\n");
        let info = go!(c.operations().get(&id))?;
        assert!(info.status.is_terminal(), "{info:?}");
        // Walk every page: a shared mock (`cargo xtask test`) holds many other operations.
        let listed = collect_all!(c.operations().list().limit(1000).stream())
            .into_iter()
            .collect::<contree::Result<Vec<_>>>()?;
        assert!(listed.iter().any(|o| o.id == id), "{id} not listed");
    }

    fn spawn_interactive_cat(c) {
        let mut cat = go!(c.images().use_tag("ubuntu:latest").run("cat").spawn())?;
        let mut stdin = cat.take_stdin().expect("stdin");
        let mut stdout = cat.take_stdout().expect("stdout");
        go!(stdin.send(b"line one\n".to_vec()))?;
        go!(stdin.send(b"line two\n".to_vec()))?;
        go!(stdin.close())?;
        assert_eq!(read_string!(stdout), "line one\nline two\n");
        let status = go!(cat.wait())?;
        assert!(status.success(), "{status:?}");
        let out = go!(cat.output())?;
        assert!(out.image().is_some());
    }

    fn kill_and_exec(c) {
        let sleeper = go!(c.images().use_tag("ubuntu:latest").shell("sleep 100").spawn())?;
        let ls = go!(sleeper.exec("echo from-exec"))?;
        assert_eq!(&ls.stdout[..], b"from-exec\n");
        assert!(ls.status.success());
        go!(sleeper.kill(Signal::Term))?;
        let status = go!(sleeper.wait())?;
        assert_eq!(status.signal, Some(15), "{status:?}");
        assert!(!status.success());
    }

    fn fan_out_from_one_version(c) {
        let base = go!(c.images().use_tag("ubuntu:latest").shell("echo base > /b"))?
            .image()
            .expect("kept")
            .clone();
        let results = go!(base.fan_out_shell((0..6).map(|i| format!("cat /b; echo {i}"))).concurrency(3));
        assert_eq!(results.len(), 6);
        for (i, r) in results.into_iter().enumerate() {
            let out = r?;
            assert_eq!(out.stdout_str()?, format!("base\n{i}\n"));
            assert_eq!(out.image().expect("kept").parent().map(ImageId::from), base.id());
        }
        let streamed = collect_all!(base.fan_out_shell(["echo a", "echo b"]).stream());
        let mut idx: Vec<_> = streamed.iter().map(|r| r.index).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1]);
    }

    fn apply_files_on_an_image_and_a_session(c) {
        let ubuntu = c.images().use_tag("ubuntu:latest");
        let spec = contree::FileSpec::new("/etc/baked.conf", b"baked\n".to_vec()).mode(0o600);
        let out = go!(ubuntu.apply_files([spec]))?;
        let baked = out.image().expect("kept").clone();
        assert_eq!(go!(baked.read_to_string("/etc/baked.conf"))?, "baked\n");
        assert_eq!(go!(baked.stat("/etc/baked.conf"))?.mode & 0o777, 0o600);
        let session = ubuntu.session();
        go!(session.apply_files([contree::FileSpec::new("/s.txt", b"s\n".to_vec())]))?;
        assert_eq!(session.history().len(), 2, "apply_files advanced the session");
        assert_eq!(go!(session.shell("cat /s.txt"))?.stdout_str()?, "s\n");
    }

    fn operation_events_with_a_deadline(c) {
        let handle = go!(c.images().use_tag("ubuntu:latest").shell("echo evented").start())?;
        let id = handle.operation_id().to_string();
        go!(handle.wait())?;
        let deadline = std::time::Duration::from_secs(60);
        assert!(c.events_deadline() > std::time::Duration::ZERO);
        let events = collect!(c.operations().events_with_deadline(&id, None, deadline))?;
        let stdout: Vec<u8> = events
            .iter()
            .filter_map(|e| match &e.kind {
                contree::EventKind::Stdout(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(stdout, b"evented\n");
        assert!(
            matches!(events.last().map(|e| &e.kind), Some(contree::EventKind::Completion(_))),
            "the log ends with its completion: {:?}",
            events.last()
        );
        // Only what follows an event id.
        let first = events[0].id.expect("events carry ids");
        let later = collect!(c.operations().events_with_deadline(&id, Some(first), deadline))?;
        assert_eq!(later.len(), events.len() - 1);
    }

    fn kept_image_status_code_and_argument_types(c) {
        let ubuntu = c.images().use_tag(String::from("ubuntu:latest"));
        let out = go!(ubuntu.shell("echo k > /k"))?;
        let kept = out.kept_image()?.clone();
        assert_eq!(go!(kept.read_to_string("/k"))?, "k\n");
        let gone = go!(ubuntu.shell("true").disposable(true))?;
        let err = gone.kept_image().expect_err("a disposable run keeps no image");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("disposable"), "{err}");
        assert!(gone.into_kept_image().is_err());
        // get/tag_as/untag take any string type.
        let tag = format!("kept-{}:1", out.operation_id());
        go!(kept.tag_as(tag.clone()))?;
        assert_eq!(go!(c.images().get(&tag))?.id(), kept.id());
        go!(kept.untag(tag.as_str()))?;
        let missing = go!(c.images().get(tag)).expect_err("untagged");
        assert!(missing.is_not_found(), "{missing}");
        // A local file by &PathBuf, for a run and an upload.
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("f.txt");
        std::fs::write(&path, b"from a path\n").expect("writing the local file");
        let run = go!(kept.shell("cat /f.txt").file("/f.txt", &path))?;
        assert_eq!(run.stdout_str()?, "from a path\n");
        let up = go!(c.files().upload(&path))?;
        assert!(go!(c.files().exists(up.sha256()))?);
        // Error::status is a StatusCode the facade re-exports.
        let no_file = go!(kept.read("/nope")).expect_err("no such file");
        assert_eq!(no_file.status(), Some(contree::StatusCode::NOT_FOUND), "{no_file}");
    }

    fn a_no_op_run_keeps_the_parents_uuid_and_history_does_not_repeat_it(c) {
        let session = c.images().use_tag("ubuntu:latest").session();
        let v1 = go!(session.shell("echo 1 > /a"))?.kept_image()?.clone();
        let noop = go!(session.shell("cat /a"))?;
        assert_eq!(noop.stdout_str()?, "1\n");
        assert_eq!(
            noop.kept_image()?.id(),
            v1.id(),
            "a run that changes nothing keeps its parent's UUID"
        );
        assert_eq!(session.current().id(), v1.id());
        assert_eq!(session.history().len(), 2, "the start and v1, once");
        // The same without a session.
        assert_eq!(go!(v1.shell("true"))?.kept_image()?.id(), v1.id());
        // A change appends; back at v1, a no-op run appends nothing; reset_to the current
        // version neither.
        let v2 = go!(session.shell("echo 2 >> /a"))?.kept_image()?.clone();
        assert_ne!(v2.id(), v1.id());
        assert_eq!(session.history().len(), 3);
        session.checkout(1)?;
        go!(session.shell("true"))?;
        session.reset_to(session.current());
        assert_eq!(session.history().len(), 3);
        assert_eq!(session.current().id(), v1.id());
        let uuids: Vec<_> = session
            .history()
            .iter()
            .map(|i| i.id().map(String::from))
            .collect();
        assert_eq!(uuids[1..], [v1.id().map(String::from), v2.id().map(String::from)]);
    }
}
