//! The layer-cached builder: cache hits and misses (local and server-side), Dockerfiles.

use std::sync::Arc;

use contree::build::{Build, CopyOptions, LayerCache, LocalCache, TagCache};
use contree_integration_tests::setup_local;
use contree_mock::MockServer;

/// The local cache in `dir` plus the server-side tags.
fn both(dir: &std::path::Path) -> Vec<Arc<dyn LayerCache>> {
    vec![Arc::new(LocalCache::new(dir)), Arc::new(TagCache::new())]
}

fn five_steps(contree: &contree::Contree, ctx: &std::path::Path) -> Build {
    Build::from(contree, "ubuntu:latest")
        .context(ctx)
        .env("GREETING", "hello")
        .workdir("/app")
        .copy("a.txt", "/app/")
        .run("cat a.txt > one")
        .copy("b.txt", "/app/b.txt")
        .run("cat b.txt > two")
        .arg("LEVEL", "3")
        .run("echo $LEVEL $GREETING > three")
        .run("cat one two three > all")
        .run("ls /app > listing")
}

fn context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("a.txt"), "a\n").unwrap();
    std::fs::write(ctx.path().join("b.txt"), "b\n").unwrap();
    ctx
}

#[tokio::test]
async fn five_steps_miss_then_hit_without_spawning() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (context(), tempfile::tempdir().unwrap());
    let build = five_steps(&env.contree, ctx.path()).caches_dyn(both(cache.path()));
    let first = build.clone().await.unwrap();
    assert_eq!((first.misses(), first.hits()), (5, 0));
    assert_eq!(env.count("spawnInstance"), Some(5));
    assert_eq!(
        first.image.read_to_string("/app/all").await.unwrap(),
        "a\nb\n3 hello\n"
    );
    assert!(
        first.steps[0]
            .instruction
            .starts_with("COPY a.txt /app/\nRUN")
    );
    assert!(first.steps.iter().all(|s| s.output.is_some()));

    let again = build.await.unwrap();
    assert_eq!((again.misses(), again.hits()), (0, 5));
    assert_eq!(
        env.count("spawnInstance"),
        Some(5),
        "no spawn on a full hit"
    );
    assert_eq!(again.keys(), first.keys());
    assert_eq!(again.image.id(), first.image.id());
    assert!(again.steps.iter().all(|s| s.output.is_none()));
}

#[tokio::test]
async fn changing_a_copied_file_reruns_from_its_step_on() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (context(), tempfile::tempdir().unwrap());
    let build = five_steps(&env.contree, ctx.path()).caches([LocalCache::new(cache.path())]);
    let first = build.clone().await.unwrap();
    std::fs::write(ctx.path().join("b.txt"), "changed\n").unwrap();
    let second = build.await.unwrap();
    let cached: Vec<bool> = second.steps.iter().map(|s| s.cached).collect();
    assert_eq!(cached, [true, false, false, false, false]);
    assert_eq!(second.keys()[0], first.keys()[0]);
    assert_eq!(env.count("spawnInstance"), Some(9));
    assert_eq!(
        second.image.read_to_string("/app/all").await.unwrap(),
        "a\nchanged\n3 hello\n"
    );
}

#[tokio::test]
async fn a_second_client_with_an_empty_local_cache_hits_the_server_tags() {
    let env = setup_local(MockServer::builder()).await;
    let ctx = context();
    let (cache1, cache2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = five_steps(&env.contree, ctx.path())
        .caches_dyn(both(cache1.path()))
        .await
        .unwrap();
    // The layers are tagged under the cache prefix.
    let tagged = env
        .contree
        .images()
        .list()
        .tag_prefix("contree-build/")
        .await
        .unwrap();
    assert_eq!(tagged.len(), 5);

    let other = contree_integration_tests::client_builder(
        &env.base_url,
        env.server().token(),
        env.server().project(),
    )
    .build()
    .unwrap();
    let second = five_steps(&other, ctx.path())
        .caches_dyn(both(cache2.path()))
        .await
        .unwrap();
    assert_eq!(second.hits(), 5);
    assert_eq!(env.count("spawnInstance"), Some(5));
    assert!(
        second.steps[0]
            .cache_source
            .as_deref()
            .unwrap()
            .contains("server-side")
    );
    assert_eq!(second.image.id(), first.image.id());
    // The empty local cache learnt the layers: it alone now hits.
    let third = five_steps(&other, ctx.path())
        .caches([LocalCache::new(cache2.path())])
        .await
        .unwrap();
    assert_eq!(third.hits(), 5);
}

#[tokio::test]
async fn stale_entries_are_misses_never_errors() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (context(), tempfile::tempdir().unwrap());
    let build = Build::from(&env.contree, "ubuntu:latest")
        .context(ctx.path())
        .run("echo 1 > /x");
    let first = build.clone().caches([TagCache::new()]).await.unwrap();
    // The tag is removed: a miss.
    let tag = TagCache::new().tag_for(&first.steps[0].key);
    first.image.untag(&tag).await.unwrap();
    let again = build.clone().caches([TagCache::new()]).await.unwrap();
    assert_eq!(again.misses(), 1);
    // A local entry naming an image the server does not have: a miss.
    let key = &first.steps[0].key;
    std::fs::write(
        cache.path().join(format!("{key}.json")),
        r#"{"image":"00000000-0000-4000-8000-000000000000"}"#,
    )
    .unwrap();
    let third = build
        .clone()
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    assert_eq!(third.misses(), 1);
    assert!(third.warnings.is_empty(), "{:?}", third.warnings);
    // A corrupt entry is a miss with a warning.
    std::fs::write(cache.path().join(format!("{key}.json")), "not json").unwrap();
    let fourth = build.caches([LocalCache::new(cache.path())]).await.unwrap();
    assert_eq!(fourth.misses(), 1);
    assert_eq!(fourth.warnings.len(), 1, "{:?}", fourth.warnings);
}

#[tokio::test]
async fn no_cache_runs_every_step_and_still_stores() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (context(), tempfile::tempdir().unwrap());
    let build = five_steps(&env.contree, ctx.path()).caches([LocalCache::new(cache.path())]);
    build.clone().await.unwrap();
    let forced = build.clone().no_cache().await.unwrap();
    assert_eq!(forced.misses(), 5);
    assert_eq!(env.count("spawnInstance"), Some(10));
    // cache_from: a read-only source.
    let from = five_steps(&env.contree, ctx.path())
        .caches(Vec::<LocalCache>::new())
        .cache_from(LocalCache::new(cache.path()))
        .await
        .unwrap();
    assert_eq!(from.hits(), 5);
}

#[tokio::test]
async fn copy_options_copy_from_tag_and_baked_env() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (context(), tempfile::tempdir().unwrap());
    std::fs::create_dir_all(ctx.path().join("src/pkg")).unwrap();
    std::fs::write(ctx.path().join("src/pkg/mod.py"), "x = 1\n").unwrap();
    std::fs::write(ctx.path().join("src/main.py"), "print()\n").unwrap();
    let donor = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("mkdir -p /opt/tool/bin && echo tool > /opt/tool/bin/run && echo v > /opt/version")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let built = Build::from(&env.contree, "alpine:latest")
        .context(ctx.path())
        .copy_with(
            "src",
            "/srv",
            CopyOptions::new().chown(1000, 1000).chmod(0o640),
        )
        .copy_from(&donor, "/opt/tool", "/usr/local/tool")
        .copy_from(&donor, "/opt/version", "/etc/")
        .env("MODE", "prod")
        .workdir("/srv")
        .run("cat pkg/mod.py /usr/local/tool/bin/run /etc/version > seen")
        .env("LATE", "yes")
        .bake_env(true)
        .tag("my-env:1")
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    assert_eq!(built.steps.len(), 2, "the RUN and the bake");
    let img = &built.image;
    assert_eq!(img.tag(), Some("my-env:1"));
    assert_eq!(
        env.contree.images().get("my-env:1").await.unwrap().id(),
        img.id()
    );
    assert_eq!(
        img.read_to_string("/srv/seen").await.unwrap(),
        "x = 1\ntool\nv\n"
    );
    let entry = img.stat("/srv/main.py").await.unwrap();
    assert_eq!(
        (entry.uid, entry.gid, entry.mode & 0o777),
        (1000, 1000, 0o640)
    );
    // Baked: a plain run from the image sees ENV and WORKDIR.
    let out = img.shell("echo $MODE $LATE; pwd").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "prod yes\n/srv\n");
}

#[tokio::test]
async fn user_names_come_from_the_image() {
    let env = setup_local(MockServer::builder()).await;
    let cache = tempfile::tempdir().unwrap();
    let built = Build::from(&env.contree, "ubuntu:latest")
        .user("nobody")
        .run("id -u > /tmp/uid")
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    let uid = built.image.read_to_string("/tmp/uid").await.unwrap();
    assert_eq!(uid.trim(), "65534");
    let err = Build::from(&env.contree, "ubuntu:latest")
        .user("no-such-user")
        .run("true")
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-user"), "{err}");
}

#[tokio::test]
async fn a_failing_step_fails_the_build() {
    let env = setup_local(MockServer::builder()).await;
    let cache = tempfile::tempdir().unwrap();
    let err = Build::from(&env.contree, "ubuntu:latest")
        .run("exit 3")
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), Some(3), "{err}");
}

const DOCKERFILE: &str = r#"
# two stages, ARG/ENV substitution, COPY --from, .dockerignore
ARG BASE=ubuntu:latest
FROM $BASE AS builder
ARG OUT=/out
ENV NAME=tool \
    LEVEL="two words"
WORKDIR /build
COPY src/ ./src/
RUN mkdir -p $OUT && cat src/main.py > $OUT/${NAME}.txt && echo $LEVEL >> $OUT/${NAME}.txt
CMD ["ignored"]

FROM alpine:latest
COPY --from=builder --chmod=0755 /out/tool.txt /usr/local/bin/
COPY --chown=1000:1000 ["cfg.toml", "/etc/app/"]
RUN ["cat", "/usr/local/bin/tool.txt"]
"#;

fn docker_context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    let p = ctx.path();
    std::fs::create_dir_all(p.join("src/__pycache__")).unwrap();
    std::fs::write(p.join("src/main.py"), "print('hi')\n").unwrap();
    std::fs::write(p.join("src/__pycache__/main.pyc"), "junk").unwrap();
    std::fs::write(p.join("src/secret.env"), "TOKEN=x").unwrap();
    std::fs::write(p.join("cfg.toml"), "debug = false\n").unwrap();
    std::fs::write(p.join(".dockerignore"), "**/__pycache__\nsrc/*.env\n").unwrap();
    ctx
}

#[tokio::test]
async fn a_two_stage_dockerfile_builds_with_the_keys_of_the_api_build() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (docker_context(), tempfile::tempdir().unwrap());
    let built = Build::dockerfile(&env.contree, DOCKERFILE, ctx.path())
        .unwrap()
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    assert_eq!(built.misses(), 2);
    assert!(
        built
            .warnings
            .iter()
            .any(|w| w.contains("line 11") && w.contains("CMD")),
        "{:?}",
        built.warnings
    );
    let out = built.steps[1].output.as_ref().unwrap();
    assert_eq!(out.stdout_str().unwrap(), "print('hi')\ntwo words\n");
    let img = &built.image;
    assert_eq!(
        img.stat("/usr/local/bin/tool.txt").await.unwrap().mode & 0o777,
        0o755
    );
    assert_eq!(img.stat("/etc/app/cfg.toml").await.unwrap().uid, 1000);
    // The first stage got src/ without the ignored files.
    let first = &built.steps[0].image;
    assert!(first.exists("/build/src/main.py").await.unwrap());
    assert!(
        !first
            .exists("/build/src/__pycache__/main.pyc")
            .await
            .unwrap()
    );
    assert!(!first.exists("/build/src/secret.env").await.unwrap());

    // The same build through the API: the same step keys (so all hits).
    let api = Build::from(&env.contree, "ubuntu:latest")
        .alias("builder")
        .context(ctx.path())
        .exclude("**/__pycache__")
        .exclude("src/*.env")
        .arg("OUT", "/out")
        .env("NAME", "tool")
        .env("LEVEL", "two words")
        .workdir("/build")
        .copy("src/", "./src/")
        .run("mkdir -p $OUT && cat src/main.py > $OUT/${NAME}.txt && echo $LEVEL >> $OUT/${NAME}.txt")
        .stage("alpine:latest")
        .copy_from_with("builder", "/out/tool.txt", "/usr/local/bin/", CopyOptions::new().chmod(0o755))
        .copy_with("cfg.toml", "/etc/app/", CopyOptions::new().chown(1000, 1000))
        .run_exec(["cat", "/usr/local/bin/tool.txt"])
        .caches([LocalCache::new(cache.path())]);
    let again = api.await.unwrap();
    assert_eq!(again.hits(), 2);
    assert_eq!(again.keys(), built.keys());
}

#[tokio::test]
async fn build_args_override_defaults_and_change_keys() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache) = (docker_context(), tempfile::tempdir().unwrap());
    let df = "FROM ubuntu:latest\nARG V=1\nRUN echo $V > /v\n";
    let one = Build::dockerfile(&env.contree, df, ctx.path())
        .unwrap()
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    let two = Build::dockerfile(&env.contree, df, ctx.path())
        .unwrap()
        .build_arg("V", "2")
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    assert_ne!(one.keys(), two.keys());
    assert_eq!(two.image.read_to_string("/v").await.unwrap(), "2\n");
}

#[tokio::test]
async fn dockerfile_errors_name_the_line() {
    let env = setup_local(MockServer::builder()).await;
    let ctx = docker_context();
    let cases = [
        ("FROM ubuntu:latest\nFROBNICATE x\n", "line 2", "FROBNICATE"),
        ("RUN true\n", "line 1", "before the first FROM"),
        (
            "FROM a\nADD https://example.invalid/x local.txt /d/\n",
            "line 2",
            "URL",
        ),
        ("FROM a\n\nCOPY --from=a --link x /y\n", "line 3", "--link"),
        ("FROM a\nCOPY one\n", "line 2", "SRC"),
        ("FROM a\nRUN [\"unterminated\"\n", "line 2", "JSON"),
        ("FROM a\nCOPY --chmod=9z x /y\n", "line 2", "octal"),
    ];
    for (df, line, what) in cases {
        let err = Build::dockerfile(&env.contree, df, ctx.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(line) && msg.contains(what), "{df:?}: {msg}");
    }
    // A source outside the context is refused when the build runs.
    let err = Build::dockerfile(
        &env.contree,
        "FROM ubuntu:latest\nCOPY ../x /x\n",
        ctx.path(),
    )
    .unwrap()
    .caches(Vec::<LocalCache>::new())
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("outside the build context") || err.to_string().contains("../x"),
        "{err}"
    );
}

#[tokio::test]
async fn bake_env_saves_env_and_workdir_set_before_the_last_run() {
    let env = setup_local(MockServer::builder()).await;
    let cache = tempfile::tempdir().unwrap();
    let built = Build::from(&env.contree, "ubuntu:latest")
        .arg("SECRET_ARG", "build-only")
        .env("MODE", "prod")
        .workdir("/srv")
        .run("true")
        .bake_env(true)
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap();
    assert_eq!(built.steps.len(), 2, "the RUN and the bake");
    let out = built
        .image
        .shell("echo $MODE.$SECRET_ARG; pwd")
        .await
        .unwrap();
    assert_eq!(
        out.stdout_str().unwrap(),
        "prod.\n/srv\n",
        "ARGs are not baked"
    );
}

/// (path, If-None-Match, status) of each request a [`UrlServer`] answered.
type Seen = Arc<std::sync::Mutex<Vec<(String, Option<String>, u16)>>>;

/// A loopback HTTP/1.1 server serving `/file` with an ETag (304 when `If-None-Match`
/// matches) and 404 for anything else; it records the `If-None-Match` of each request.
struct UrlServer {
    addr: std::net::SocketAddr,
    /// (body, etag) served now.
    current: Arc<std::sync::Mutex<(String, String)>>,
    seen: Seen,
}

async fn url_server(body: &str, etag: &str) -> UrlServer {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let current = Arc::new(std::sync::Mutex::new((body.to_string(), etag.to_string())));
    let seen: Seen = Arc::default();
    let (cur, log) = (current.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).to_string();
            let path = text.split(' ').nth(1).unwrap_or("").to_string();
            let inm = text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("if-none-match")
                    .then(|| v.trim().to_string())
            });
            let (body, etag) = cur.lock().unwrap().clone();
            let (status, head, body) = if path != "/file" {
                (404, "404 Not Found".to_string(), String::new())
            } else if inm.as_deref() == Some(etag.as_str()) {
                (
                    304,
                    format!("304 Not Modified\r\nETag: {etag}"),
                    String::new(),
                )
            } else {
                (200, format!("200 OK\r\nETag: {etag}"), body)
            };
            log.lock().unwrap().push((path, inm, status));
            let resp = format!(
                "HTTP/1.1 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    UrlServer {
        addr,
        current,
        seen,
    }
}

#[tokio::test]
async fn add_url_revalidates_with_etag_and_misses_on_new_content() {
    let env = setup_local(MockServer::builder()).await;
    let (ctx, cache, urls) = (
        context(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let server = url_server("v1 content\n", "\"e1\"").await;
    let df = format!(
        "FROM ubuntu:latest\nADD http://{}/file /opt/\nRUN cat /opt/file > /copy\n",
        server.addr
    );
    let build = || {
        Build::dockerfile(&env.contree, &df, ctx.path())
            .unwrap()
            .url_cache(urls.path())
            .caches([LocalCache::new(cache.path())])
    };
    let first = build().await.unwrap();
    assert_eq!((first.misses(), first.hits()), (1, 0));
    assert_eq!(
        first.image.read_to_string("/copy").await.unwrap(),
        "v1 content\n"
    );
    assert!(
        first.steps[0].instruction.starts_with("ADD http://"),
        "{}",
        first.steps[0].instruction
    );
    assert_eq!(
        first.image.stat("/opt/file").await.unwrap().mode & 0o777,
        0o600,
        "Docker's mode for ADD of a URL"
    );
    assert_eq!(
        server.seen.lock().unwrap().last().cloned(),
        Some(("/file".to_string(), None, 200)),
        "the first build downloads unconditionally"
    );

    let second = build().await.unwrap();
    assert_eq!(
        (second.misses(), second.hits()),
        (0, 1),
        "unchanged content: a hit"
    );
    assert_eq!(second.keys(), first.keys());
    assert_eq!(
        server.seen.lock().unwrap().last().cloned(),
        Some(("/file".to_string(), Some("\"e1\"".to_string()), 304)),
        "the second build revalidates with If-None-Match"
    );

    *server.current.lock().unwrap() = ("v2 content\n".into(), "\"e2\"".into());
    let third = build().await.unwrap();
    assert_eq!(
        (third.misses(), third.hits()),
        (1, 0),
        "changed content: a miss"
    );
    assert_ne!(third.keys(), first.keys());
    assert_eq!(
        third.image.read_to_string("/copy").await.unwrap(),
        "v2 content\n"
    );
    assert_eq!(
        server.seen.lock().unwrap().last().cloned(),
        Some(("/file".to_string(), Some("\"e1\"".to_string()), 200))
    );
    assert_eq!(server.seen.lock().unwrap().len(), 3);

    let missing = format!(
        "FROM ubuntu:latest\nRUN true\nADD http://{}/missing /m\n",
        server.addr
    );
    let err = Build::dockerfile(&env.contree, &missing, ctx.path())
        .unwrap()
        .url_cache(urls.path())
        .caches([LocalCache::new(cache.path())])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 3")
            && err.contains(&format!("http://{}/missing", server.addr))
            && err.contains("404"),
        "{err}"
    );
}
