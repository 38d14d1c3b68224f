//! Tests of the simulated shell: builtins, pipelines, redirections, streaming and cancellation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ProcessIo, ProcessSpec, run_process};
use crate::fs::Fs;

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
    chunks: Vec<Bytes>,
}

fn base_fs() -> Fs {
    let mut fs = Fs::new();
    fs.set_clock(Some(1_700_000_000));
    for d in ["/tmp", "/root", "/home/user", "/etc", "/bin", "/usr/bin"] {
        fs.mkdir_p(d).unwrap();
    }
    fs.write(
        "/etc/passwd",
        Bytes::from_static(
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        ),
    )
    .unwrap();
    fs.write(
        "/etc/group",
        Bytes::from_static(b"root:x:0:\nuser:x:1000:\n"),
    )
    .unwrap();
    fs
}

fn spec(cmd: &str) -> ProcessSpec {
    ProcessSpec {
        command: cmd.to_owned(),
        args: Vec::new(),
        shell: true,
        env: BTreeMap::new(),
        cwd: "/root".to_owned(),
        uid: 0,
        gid: 0,
        hostname: "box".to_owned(),
    }
}

async fn run_with(fs: Arc<Mutex<Fs>>, spec: ProcessSpec, stdin: &[&str]) -> Out {
    let (tx, rx) = mpsc::channel(16);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    for s in stdin {
        tx.send(Bytes::from(s.to_string())).await.unwrap();
    }
    drop(tx);
    let status = run_process(
        fs,
        spec,
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        42,
    )
    .await;
    let mut chunks = Vec::new();
    while let Ok(c) = orx.try_recv() {
        chunks.push(c);
    }
    let mut err = Vec::new();
    while let Ok(c) = erx.try_recv() {
        err.extend_from_slice(&c);
    }
    let stdout = String::from_utf8_lossy(&chunks.concat()).into_owned();
    Out {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&err).into_owned(),
        chunks,
    }
}

async fn sh_fs(cmd: &str) -> (Out, Arc<Mutex<Fs>>) {
    let fs = Arc::new(Mutex::new(base_fs()));
    let out = run_with(fs.clone(), spec(cmd), &[]).await;
    (out, fs)
}

async fn sh(cmd: &str) -> Out {
    sh_fs(cmd).await.0
}

async fn stdout(cmd: &str) -> String {
    let o = sh(cmd).await;
    assert_eq!(o.stderr, "", "unexpected stderr for {cmd:?}");
    o.stdout
}

#[tokio::test]
async fn builtin_table_is_sorted() {
    let mut sorted = super::builtins::BUILTINS.to_vec();
    sorted.sort();
    assert_eq!(sorted, super::builtins::BUILTINS);
    for n in ["echo", "[", "sha256sum", "yes", "test", "grep"] {
        assert!(super::is_builtin(n), "{n}");
    }
}

#[tokio::test]
async fn quoting_and_variables() {
    assert_eq!(
        stdout(r#"echo a   'b  c' "d  $HOME" e\ f"#).await,
        "a b  c d  /root e f\n"
    );
    assert_eq!(
        stdout("X=1; echo $X ${X} \"${X}x\" '$X'").await,
        "1 1 1x $X\n"
    );
    assert_eq!(
        stdout("echo ${U:-def} ${U-d2} ${#HOSTNAME}; echo $HOSTNAME").await,
        "def d2 3\nbox\n"
    );
    assert_eq!(
        stdout("F=a.tar.gz; echo ${F%.gz} ${F%%.*} ${F#*.} ${F##*.}").await,
        "a.tar a tar.gz gz\n"
    );
    assert_eq!(stdout("false; echo $?; true; echo $?").await, "1\n0\n");
    assert_eq!(
        stdout("V='a  b'; for w in $V; do echo [$w]; done").await,
        "[a]\n[b]\n"
    );
    assert_eq!(
        stdout("echo \"$(echo hi there)\" $((2 + 3 * 4)) `echo bq`").await,
        "hi there 14 bq\n"
    );
    assert_eq!(stdout("echo ~ ~/x").await, "/root /root/x\n");
    assert_eq!(
        stdout("A=1 env | grep ^A=; echo ${A:-unset}").await,
        "A=1\nunset\n"
    );
    assert_eq!(stdout("export B=2; sh -c 'echo $B'").await, "2\n");
    assert_eq!(stdout("C=3; sh -c 'echo [$C]'").await, "[]\n");
    assert_eq!(
        stdout("echo $PATH").await,
        format!("{}\n", super::DEFAULT_PATH)
    );
    assert_eq!(stdout("pwd; echo $PWD").await, "/root\n/root\n");
}

#[tokio::test]
async fn lists_and_exit_status() {
    assert_eq!(
        stdout("true && echo a || echo b; false && echo c || echo d").await,
        "a\nd\n"
    );
    let o = sh("echo x; exit 3; echo y").await;
    assert_eq!((o.status, o.stdout.as_str()), (3, "x\n"));
    assert_eq!(sh("false").await.status, 1);
    assert_eq!(sh("! true").await.status, 1);
    assert_eq!(sh("exit 300").await.status, 44);
    let o = sh("nosuchcmd arg").await;
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (127, "sh: nosuchcmd: not found\n")
    );
    let o = sh("echo 'unterminated").await;
    assert_eq!(o.status, 2);
    assert!(o.stderr.starts_with("sh: syntax error"), "{}", o.stderr);
    assert_eq!(sh("set -e; false; echo no").await.stdout, "");
    assert_eq!(
        sh("set -e; false || true; if false; then :; fi; echo yes")
            .await
            .stdout,
        "yes\n"
    );
    assert_eq!(sh("(exit 4); echo $?").await.stdout, "4\n");
    assert_eq!(sh("false | true").await.status, 0);
    assert_eq!(sh("set -o pipefail; false | true").await.status, 1);
}

#[tokio::test]
async fn compound_commands() {
    assert_eq!(
        stdout("for i in 1 2 3; do if [ $i -eq 2 ]; then continue; fi; echo $i; done").await,
        "1\n3\n"
    );
    assert_eq!(
        stdout("i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done").await,
        "1\n2\n3\n"
    );
    assert_eq!(
        stdout("until false; do echo once; break; done").await,
        "once\n"
    );
    assert_eq!(stdout("{ echo a; echo b; } | wc -l").await, "2\n");
    assert_eq!(stdout("cd /tmp; (cd /; pwd); pwd").await, "/\n/tmp\n");
    assert_eq!(
        stdout("if false; then echo 1; elif true; then echo 2; else echo 3; fi").await,
        "2\n"
    );
    assert_eq!(
        stdout("set -- a b c; echo $# $2 \"$@\"; shift; echo $1").await,
        "3 b a b c\nb\n"
    );
    assert_eq!(
        stdout("echo line | while read l; do echo got $l; done").await,
        "got line\n"
    );
    assert_eq!(
        stdout("cat <<EOF\nhi $HOSTNAME\nEOF\ncat <<'E'\n$X\nE").await,
        "hi box\n$X\n"
    );
    assert_eq!(stdout("eval 'echo ev'; grep -c x <<< 'x'").await, "ev\n1\n");
}

#[tokio::test]
async fn redirections() {
    let (o, fs) = sh_fs("echo a > /tmp/f; echo b >> /tmp/f; cat < /tmp/f; echo err >&2; ls /nope 2>/dev/null; echo e2 2>&1 1>/dev/null").await;
    assert_eq!(o.stdout, "a\nb\n");
    assert_eq!(o.stderr, "err\n");
    assert_eq!(fs.lock().unwrap().read("/tmp/f").unwrap(), "a\nb\n");
    let o = sh("ls /nope 2>&1; echo x 2>/tmp/e >/dev/null; cat /tmp/e | wc -c").await;
    assert_eq!(
        o.stdout,
        "ls: cannot access '/nope': No such file or directory\n0\n"
    );
    assert_eq!(o.stderr, "");
    let o = sh("cat < /missing").await;
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "sh: /missing: No such file or directory\n")
    );
    let o = sh("echo x > /nodir/f").await;
    assert_eq!(o.status, 1);
    let (o, fs) =
        sh_fs("{ echo out; echo err >&2; } > /tmp/both 2>&1; cat /tmp/both; echo z &> /tmp/z")
            .await;
    assert_eq!(o.stdout, "out\nerr\n");
    assert_eq!(fs.lock().unwrap().read("/tmp/z").unwrap(), "z\n");
}

#[tokio::test]
async fn pipelines_run_concurrently() {
    assert_eq!(stdout("yes | head -n 3").await, "y\ny\ny\n");
    assert_eq!(stdout("yes abc | head -c 8").await, "abc\nabc\n");
    assert_eq!(stdout("seq 1 100000 | tail -n 2").await, "99999\n100000\n");
    assert_eq!(stdout("echo hello | tr a-z A-Z | cat").await, "HELLO\n");
    assert_eq!(stdout("head -c 100 /dev/zero | wc -c").await, "100\n");
    assert_eq!(
        stdout("cat /dev/zero | head -c 5 | base64").await,
        "AAAAAAA=\n"
    );
    assert_eq!(
        stdout("printf 'b\\na\\nb\\n' | sort | uniq -c").await,
        "      1 a\n      2 b\n"
    );
}

#[tokio::test]
async fn urandom_is_seeded() {
    let a = stdout("head -c 32 /dev/urandom | sha256sum").await;
    let b = stdout("head -c 32 /dev/urandom | sha256sum").await;
    assert_eq!(a, b);
    let fs = Arc::new(Mutex::new(base_fs()));
    let (tx, rx) = mpsc::channel(1);
    drop(tx);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let st = run_process(
        fs,
        spec("head -c 32 /dev/urandom | sha256sum"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        43,
    )
    .await;
    assert_eq!(st, 0);
    assert_ne!(String::from_utf8_lossy(&orx.recv().await.unwrap()), a);
}

#[tokio::test]
async fn echo_printf() {
    assert_eq!(
        stdout("echo -n a; echo -e 'b\\tc'; echo -ne 'x\\n'").await,
        "ab\tc\nx\n"
    );
    assert_eq!(stdout("echo '-e' x\\\\y").await, "x\\y\n");
    assert_eq!(
        stdout("printf '%s-%d|%5s|%-3s|%03d\\n' a 42 r l 7").await,
        "a-42|    r|l  |007\n"
    );
    assert_eq!(stdout("printf '%s\\n' 1 2 3").await, "1\n2\n3\n");
    assert_eq!(stdout("printf '%b' 'x\\ny\\n'").await, "x\ny\n");
    assert_eq!(
        stdout("printf '%x %o %c %.2f %%\\n' 255 8 hello 3.14159").await,
        "ff 10 h 3.14 %\n"
    );
    let o = sh("printf '%d\\n' abc").await;
    assert_eq!((o.status, o.stdout.as_str()), (1, "0\n"));
}

#[tokio::test]
async fn file_builtins() {
    let (o, fs) = sh_fs(
        "mkdir -p /w/a/b && cd /w && touch t && echo hi > a/f && cp a/f g && mv g h && ln -s h l && \
         chmod 755 h && ls && ls -a a && cat l && rm h && ls && rm -r a && ls -1",
    )
    .await;
    assert_eq!(o.stderr, "");
    assert_eq!(o.stdout, "a\nh\nl\nt\n.\n..\nb\nf\nhi\na\nl\nt\nl\nt\n");
    assert_eq!(o.status, 0);
    {
        let f = fs.lock().unwrap();
        assert!(f.lstat("/w/l").is_ok());
        assert!(!f.exists("/w/a"));
    }
    let o = sh("mkdir /tmp; rm /nope; rm /tmp; rmdir /root; cp /tmp /x").await;
    assert_eq!(
        o.stderr,
        "mkdir: cannot create directory '/tmp': File exists\n\
         rm: cannot remove '/nope': No such file or directory\n\
         rm: cannot remove '/tmp': Is a directory\n\
         cp: -r not specified; omitting directory '/tmp'\n"
    );
    assert_eq!(o.status, 1);
    assert_eq!(sh("rm -f /nope; rm -rf /tmp/x /tmp").await.status, 0);
    let (_, fs) = sh_fs("mkdir -p /s/d && echo 1 > /s/d/f && cp -r /s /c && chmod u=rw,go= /c/d/f && chmod -R +x /s").await;
    let f = fs.lock().unwrap();
    assert_eq!(f.read("/c/d/f").unwrap(), "1\n");
    assert_eq!(f.stat("/c/d/f").unwrap().mode, 0o100600);
    assert_eq!(f.stat("/s/d/f").unwrap().mode, 0o100755);
}

#[tokio::test]
async fn ls_long_and_ownership() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let mut sp = spec("echo hi > f && mkdir d && ln -s f l && ls -l");
    sp.uid = 1000;
    sp.gid = 1000;
    sp.cwd = "/home/user".into();
    let o = run_with(fs.clone(), sp, &[]).await;
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "total 8");
    assert!(
        lines[1].starts_with("drwxr-xr-x 2 user user 4096 "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("-rw-r--r-- 1 user user    3 "),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("lrwxrwxrwx 1 root root    1 ") && lines[3].ends_with("l -> f"),
        "{}",
        lines[3]
    );
    let m = fs.lock().unwrap().stat("/home/user/f").unwrap();
    assert_eq!((m.uid, m.gid), (1000, 1000));
    let mut sp = spec("whoami; id; echo $HOME");
    sp.uid = 1000;
    sp.gid = 1000;
    assert_eq!(
        run_with(fs, sp, &[]).await.stdout,
        "user\nuid=1000(user) gid=1000(user) groups=1000(user)\n/home/user\n"
    );
}

#[tokio::test]
async fn text_builtins() {
    let setup = "printf 'one\\ntwo\\nthree\\nfour\\n' > /tmp/t; ";
    let t = |s: &str| format!("{setup}{s}");
    assert_eq!(
        stdout(&t(
            "head -n 2 /tmp/t; head -1 /tmp/t; tail -n 1 /tmp/t; tail -n +3 /tmp/t"
        ))
        .await,
        "one\ntwo\none\nfour\nthree\nfour\n"
    );
    assert_eq!(
        stdout(&t(
            "wc -l /tmp/t; wc -c < /tmp/t; wc -w /tmp/t; cat /tmp/t | wc"
        ))
        .await,
        "4 /tmp/t\n19\n4 /tmp/t\n      4       4      19\n"
    );
    assert_eq!(
        stdout(&t(
            "grep -n o /tmp/t; grep -c -v o /tmp/t; grep -i TWO /tmp/t"
        ))
        .await,
        "1:one\n2:two\n4:four\n1\ntwo\n"
    );
    assert_eq!(
        stdout(&t(
            "grep -E '^t(wo|hree)$' /tmp/t; grep 't\\(w\\|h\\)' /tmp/t"
        ))
        .await,
        "two\nthree\ntwo\nthree\n"
    );
    assert_eq!(sh(&t("grep -q four /tmp/t")).await.status, 0);
    assert_eq!(sh(&t("grep -q five /tmp/t")).await.status, 1);
    assert_eq!(
        sh(&t("grep '(' /tmp/t; grep -E '(' /tmp/t")).await.status,
        2
    );
    assert_eq!(
        stdout(&t("grep -o 'o.' /tmp/t; grep -l one /tmp/t /etc/group")).await,
        "on\nou\n/tmp/t\n"
    );
    assert_eq!(
        stdout(&t(
            "cat -n /tmp/t | head -n 1; cut -c 1-2 /tmp/t | head -n 1"
        ))
        .await,
        "     1\tone\non\n"
    );
    assert_eq!(
        stdout("echo a:b:c | cut -d: -f2,3; basename /a/b.txt .txt; dirname /a/b.txt").await,
        "b:c\nb\n/a\n"
    );
    assert_eq!(
        stdout("seq 3; seq 2 4; seq 10 -5 1; seq -s, 3; seq -w 8 10").await,
        "1\n2\n3\n2\n3\n4\n10\n5\n1,2,3\n08\n09\n10\n"
    );
    assert_eq!(
        stdout("echo -n abc | sha256sum").await,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n"
    );
    assert_eq!(
        stdout("echo hello | base64; echo aGVsbG8K | base64 -d").await,
        "aGVsbG8K\nhello\n"
    );
    let o = sh("echo '!!' | base64 -d").await;
    assert_eq!(o.status, 1);
}

#[tokio::test]
async fn test_builtin() {
    let cases = [
        ("[ -f /etc/passwd ]", 0),
        ("[ -d /etc/passwd ]", 1),
        ("[ -d /etc ]", 0),
        ("[ -e /nope ]", 1),
        ("[ -z '' ]", 0),
        ("[ -n '' ]", 1),
        ("[ a = a ]", 0),
        ("[ a != a ]", 1),
        ("[ 2 -lt 10 ]", 0),
        ("[ 2 -gt 10 ]", 1),
        ("[ 3 -eq 3 -a 1 -ne 2 ]", 0),
        ("[ ! -e /nope ]", 0),
        ("test x", 0),
        ("test ''", 1),
        ("test", 1),
        ("[ 1 -eq x ]", 2),
        ("[ 1 = 1", 2),
    ];
    for (c, want) in cases {
        assert_eq!(sh(c).await.status, want, "{c}");
    }
}

#[tokio::test]
async fn non_shell_runs() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let mut sp = spec("/bin/echo");
    sp.shell = false;
    sp.args = vec!["a b".into(), "$HOME".into(), "*".into()];
    let o = run_with(fs.clone(), sp, &[]).await;
    assert_eq!((o.status, o.stdout.as_str()), (0, "a b $HOME *\n"));
    let mut sp = spec("nosuch");
    sp.shell = false;
    let o = run_with(fs.clone(), sp, &[]).await;
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (127, "sh: nosuch: not found\n")
    );
    let mut sp = spec("sh");
    sp.shell = false;
    sp.args = vec![
        "-c".into(),
        "echo $0 $1".into(),
        "name".into(),
        "arg".into(),
    ];
    assert_eq!(run_with(fs.clone(), sp, &[]).await.stdout, "name arg\n");
    // scripts in the filesystem run; binaries cannot
    fs.lock()
        .unwrap()
        .write_with(
            "/usr/bin/hello",
            Bytes::from_static(b"#!/bin/sh\necho hello $1\nexit 5\n"),
            0o755,
            0,
            0,
        )
        .unwrap();
    let o = run_with(fs.clone(), spec("hello world; echo $?"), &[]).await;
    assert_eq!(o.stdout, "hello world\n5\n");
    fs.lock()
        .unwrap()
        .write_with(
            "/usr/bin/bin",
            Bytes::from_static(b"\x7fELF\0"),
            0o755,
            0,
            0,
        )
        .unwrap();
    assert_eq!(run_with(fs, spec("bin"), &[]).await.status, 126);
}

#[tokio::test]
async fn stdin_and_interactive_cat() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let o = run_with(fs.clone(), spec("cat; echo end"), &["a\n", "b\n"]).await;
    assert_eq!(o.stdout, "a\nb\nend\n");
    let o = run_with(
        fs.clone(),
        spec("read x; read y; echo \"$y-$x\"; cat"),
        &["1\n2\nrest\n"],
    )
    .await;
    assert_eq!(o.stdout, "2-1\nrest\n");
    let o = run_with(fs.clone(), spec("sh"), &["echo from\n", "echo stdin\n"]).await;
    assert_eq!(o.stdout, "from\nstdin\n");

    // interactive: each line comes back before the next is written
    let (tx, rx) = mpsc::channel(1);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let mut sp = spec("cat");
    sp.shell = false;
    let task = tokio::spawn(run_process(
        fs,
        sp,
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    ));
    for line in ["one\n", "two\n"] {
        tx.send(Bytes::from(line)).await.unwrap();
        assert_eq!(orx.recv().await.unwrap(), line);
    }
    drop(tx);
    assert_eq!(task.await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn output_streams_while_running() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let (_tx, rx) = mpsc::channel(1);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let task = tokio::spawn(run_process(
        fs,
        spec("echo a; sleep 1; echo b; sleep 0.5; echo c"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    ));
    let mut seen = Vec::new();
    while let Some(chunk) = orx.recv().await {
        seen.push((chunk, start.elapsed()));
    }
    assert_eq!(task.await.unwrap(), 0);
    let chunks: Vec<&[u8]> = seen.iter().map(|(c, _)| c.as_ref()).collect();
    assert_eq!(chunks, [b"a\n", b"b\n", b"c\n"]);
    assert!(seen[0].1 < Duration::from_secs(1));
    assert!(seen[1].1 >= Duration::from_secs(1) && seen[1].1 < Duration::from_millis(1500));
    assert!(seen[2].1 >= Duration::from_millis(1500));
}

#[tokio::test]
async fn large_output_comes_in_kb_chunks() {
    let o = sh("seq 1 20000").await;
    assert_eq!(o.stdout.lines().count(), 20000);
    assert!(o.chunks.len() > 5, "{} chunks", o.chunks.len());
    assert!(o.chunks.iter().all(|c| c.len() <= super::io::CHUNK_MAX));
    assert!(
        o.chunks[..o.chunks.len() - 1]
            .iter()
            .all(|c| c.len() >= super::io::CHUNK_MIN)
    );
}

async fn assert_killable(fs: &Arc<Mutex<Fs>>, cmd: &str, wait: Duration) {
    let (_tx, rx) = mpsc::channel(1);
    let (otx, orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let fut = run_process(
        fs.clone(),
        spec(cmd),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    );
    let r = tokio::time::timeout(wait, fut).await;
    assert!(r.is_err(), "{cmd} should still run");
    drop(orx);
    // the filesystem lock is free once the future is gone
    assert!(fs.try_lock().is_ok(), "{cmd}");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_kills_a_waiting_process() {
    let fs = Arc::new(Mutex::new(base_fs()));
    for cmd in ["sleep 1000", "cat", "sleep 1; sleep infinity", "read x"] {
        assert_killable(&fs, cmd, Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn dropping_the_future_kills_a_busy_process() {
    // Busy commands yield to the runtime, so a timeout can fire and drop them.
    let fs = Arc::new(Mutex::new(base_fs()));
    for cmd in [
        "yes",
        "while true; do :; done",
        "yes | cat > /tmp/big",
        "cat /dev/zero | cat",
        "seq 1 100000000",
    ] {
        assert_killable(&fs, cmd, Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn globbing() {
    let o = sh("cd /tmp && touch b.txt a.txt c.log .h && echo *.txt; echo /tmp/*.log; echo none*; echo '*'; echo *").await;
    assert_eq!(
        o.stdout,
        "a.txt b.txt\n/tmp/c.log\nnone*\n*\na.txt b.txt c.log\n"
    );
    assert_eq!(stdout("cd /tmp && touch x1 x2 && rm x* && ls").await, "");
}

#[tokio::test]
async fn misc_builtins() {
    assert_eq!(
        stdout("hostname; uname; uname -n").await,
        "box\nLinux\nbox\n"
    );
    assert_eq!(stdout("echo a b c | xargs -n 1 echo").await, "a\nb\nc\n");
    assert_eq!(
        stdout("mkdir -p /q/r && touch /q/r/z.txt /q/y && find /q -name '*.txt'; find /q -type d")
            .await,
        "/q/r/z.txt\n/q\n/q/r\n"
    );
    assert_eq!(
        stdout("echo x | tee /tmp/tee; cat /tmp/tee").await,
        "x\nx\n"
    );
    assert_eq!(
        stdout("ln -s /etc/passwd /tmp/p; readlink /tmp/p; realpath /tmp/p").await,
        "/etc/passwd\n/etc/passwd\n"
    );
    assert_eq!(
        stdout("command -v ls; type cd").await,
        "ls\ncd is a shell builtin\n"
    );
    assert_eq!(
        stdout("echo $((7 / 2)) $((7 % 3)) $((2 ** 10)) $((1 < 2 && 3 > 2)) $(( (1+2) * -3 ))")
            .await,
        "3 1 1024 1 -9\n"
    );
    let o = sh("echo $((1/0)); echo after").await;
    assert_eq!(o.status, 2);
    assert!(o.stderr.contains("division by zero"));
    assert_eq!(sh("sleep x").await.status, 1);
    let o = sh("unset HOME; echo ${HOME:-none}; export 1x=2").await;
    assert_eq!((o.stdout.as_str(), o.status), ("none\n", 1));
}

#[tokio::test]
async fn garbage_never_panics() {
    let inputs = [
        "",
        " ",
        ";;",
        "&&",
        "|",
        "||",
        "((",
        "))",
        "$((",
        "${",
        "${!x}",
        "'\"",
        "\\",
        "<",
        ">",
        ">>",
        "2>&",
        "echo $(( 1 +",
        "cat <<",
        "for in do done",
        "if then fi",
        "case x in esac",
        "a=$(",
        "`",
        "{ }",
        "()",
        "echo ${x:?}",
        "echo ${#}",
        "exit abc",
        "head -n abc",
        "tail -c",
        "seq 1 0 5",
        "printf %",
        "printf '%*d' x 1",
        "grep",
        "grep -e",
        "cut -f",
        "tr",
        "chmod zz /tmp",
        "ln",
        "mv /",
        "cp",
        "base64 -w x",
        "sleep -1",
        "[ ( ]",
        "test -f",
        "test 1 -eq",
        "echo \u{0}\u{1}\u{ff}",
        "ls -Z",
        "env -u",
        "set -o nope",
        "shift 99",
        "read",
        "x=$((2**62*4))",
        "echo $((-9223372036854775807 - 1 / -1))",
        "find / -type q",
        "xargs -q",
        "sort -k",
        "printf '%5000000d' 1",
        "echo ${x#[}",
        "echo [",
        "echo *[",
        "rm -rf /",
        "cd /nope",
        "eval 'if'",
        "echo x | tr '[:]' x",
        "echo x | tr '[:upper:]' '[:lower:]'",
        "tr -d",
        "echo é | tr é-a x",
        "cut -c 0",
        "cut -f 5-2",
        "echo é | head -c 1 | grep -o .",
        r"printf '\777\x'",
        r"echo -e '\0\x\c'",
        "ls -l /proc /etc/nope",
        "echo ${x:-${y:-${z}}} ${@} ${10}",
        "a() { :; }",
        "case x in x) ;; esac",
        "echo $'x'",
        "cat <<EOF",
        "x=1 y=2",
        "2>/tmp/x",
        "> /tmp/y",
        "cd; cd -; cd ..; cd /etc/passwd",
        "sha256sum /nope /etc",
        "mv /tmp /tmp/x",
        "cp -r /etc /etc/x",
        "ln -s /a /b; cat /b",
        "mkdir -m zz /q",
    ];
    for i in inputs {
        let o = sh(i).await;
        assert!((0..=255).contains(&o.status), "{i:?} -> {}", o.status);
    }
    // deterministic pseudo-random garbage
    let alphabet: Vec<char> = "ab $'\"\\|&;<>(){}`*?[]#=~-0123456789\n\t!%+"
        .chars()
        .collect();
    let mut state = 1u64;
    for _ in 0..300 {
        let mut s = String::new();
        for _ in 0..20 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        let fut = sh(&s);
        let o = tokio::time::timeout(Duration::from_secs(5), fut).await;
        if let Ok(o) = o {
            assert!((0..=255).contains(&o.status), "{s:?}");
        }
    }
}

#[tokio::test]
async fn big_redirected_output_is_fast_enough_to_finish() {
    // Appends are amortised: this writes ~1.3 MB through the redirection in ~160 chunks.
    let (o, fs) = sh_fs("seq 1 200000 > /tmp/big; wc -l < /tmp/big; tail -n 1 /tmp/big").await;
    assert_eq!(o.stdout, "200000\n200000\n");
    assert_eq!(fs.lock().unwrap().stat("/tmp/big").unwrap().size, 1_288_895);
}

#[tokio::test]
async fn trap_mktemp_stat() {
    assert_eq!(stdout("trap 'echo bye' EXIT; echo hi").await, "hi\nbye\n");
    let o = sh("trap 'echo cleanup; exit 9' EXIT; exit 3").await;
    assert_eq!((o.status, o.stdout.as_str()), (9, "cleanup\n"));
    assert_eq!(
        sh("trap 'echo t' EXIT; trap - EXIT; false").await.stdout,
        ""
    );
    assert_eq!(
        stdout("sh -c \"trap 'echo inner' EXIT\"; echo outer").await,
        "inner\nouter\n"
    );
    let (o, fs) =
        sh_fs("f=$(mktemp); d=$(mktemp -d); echo $f; echo $d; [ -f $f ] && [ -d $d ] && echo ok")
            .await;
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("/tmp/tmp.") && lines[0].len() == 19,
        "{}",
        lines[0]
    );
    assert_eq!(lines[2], "ok");
    assert_eq!(fs.lock().unwrap().stat(lines[1]).unwrap().mode, 0o040700);
    assert_eq!(
        stdout("mktemp").await,
        stdout("mktemp").await,
        "seeded names are deterministic"
    );
    assert_eq!(
        stdout("stat -c '%n %s %a %A %U:%G %F' /etc/passwd /tmp").await,
        "/etc/passwd 67 644 -rw-r--r-- root:root regular file\n/tmp 4096 755 drwxr-xr-x root:root directory\n"
    );
    let o = sh("stat /nope").await;
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "stat: cannot statx '/nope': No such file or directory\n")
    );
    assert!(
        stdout("stat /etc/passwd")
            .await
            .starts_with("  File: '/etc/passwd'\n  Size: 67\t")
    );
}

#[tokio::test]
async fn small_writes_in_a_loop_are_merged() {
    let o = sh("for i in $(seq 1 500); do echo $i; done").await;
    assert_eq!(o.stdout.lines().count(), 500);
    assert!(o.chunks.len() < 20, "{} chunks", o.chunks.len());
    assert!(o.chunks.iter().all(|c| c.len() <= super::io::CHUNK_MAX));
}

#[tokio::test(start_paused = true)]
async fn stdout_receiver_gone_stops_writers() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let (_tx, rx) = mpsc::channel(1);
    let (otx, orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    drop(orx);
    let st = run_process(
        fs,
        spec("yes; echo done >&2"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    );
    // `yes` sees a broken pipe instead of running forever
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(60), st).await.ok(),
        Some(0)
    );
}

#[tokio::test]
async fn case_and_functions() {
    let script = "for x in a.txt b.py c; do case $x in *.txt) echo text;; *.py|*.sh) echo code ;; *) echo other; esac; done";
    assert_eq!(stdout(script).await, "text\ncode\nother\n");
    assert_eq!(
        stdout("case 'a b' in \"a b\") echo quoted;; esac; case x in (y) echo no;; esac").await,
        "quoted\n"
    );
    let script = "greet() { echo \"hello $1 ($#)\"; return 3; echo never; }\ngreet world two; echo $?; echo $1";
    assert_eq!(stdout(script).await, "hello world (2)\n3\n\n");
    let script = "function f { local v=inner; for i in 1 2; do return $i; done; }; f; echo $? $v";
    assert_eq!(stdout(script).await, "1 inner\n");
    assert_eq!(stdout("fact() { if [ $1 -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }; fact 5").await, "120\n");
    let o = sh("f() { f; }; f").await;
    assert_eq!(o.status, 2);
    assert!(o.stderr.contains("nesting depth"), "{}", o.stderr);
    assert_eq!(sh("return 1").await.status, 1);
    assert!(super::parse::parse("case x in").is_err());
    assert!(super::parse::parse("f() echo").is_err());
}

#[tokio::test]
async fn sed_subset() {
    let setup = "printf 'one\\ntwo\\nthree\\n' > /tmp/s; ";
    let t = |s: &str| format!("{setup}{s}");
    assert_eq!(stdout(&t("sed 's/o/0/' /tmp/s")).await, "0ne\ntw0\nthree\n");
    assert_eq!(
        stdout(&t("sed -e 's/e/E/g' -e '2d' /tmp/s")).await,
        "onE\nthrEE\n"
    );
    assert_eq!(
        stdout(&t(
            "sed -n '/^t/p' /tmp/s; sed -n '$p' /tmp/s; sed 2q /tmp/s"
        ))
        .await,
        "two\nthree\nthree\none\ntwo\n"
    );
    assert_eq!(
        stdout(&t("sed -E 's/(t)(w|h)/\\2\\1[&]/' /tmp/s")).await,
        "one\nwt[tw]o\nht[th]ree\n"
    );
    assert_eq!(
        stdout(&t(
            "sed 's|\\(n\\)e|<\\1>|' /tmp/s | head -n 1; sed '1,2d' /tmp/s; sed '2,$!d' /tmp/s"
        ))
        .await,
        "o<n>\nthree\ntwo\nthree\n"
    );
    let (o, fs) = sh_fs(&t("sed -i 's/two/2/' /tmp/s; echo abc | sed 's/b/\\n/'")).await;
    assert_eq!(o.stdout, "a\nc\n");
    assert_eq!(
        fs.lock().unwrap().read("/tmp/s").unwrap(),
        "one\n2\nthree\n"
    );
    for bad in [
        "sed",
        "sed 's/a/b'",
        "sed 'x'",
        "sed -E 's/(/x/' /etc/passwd",
        "sed -i s/a/b/",
        "sed 's/a/b/z'",
    ] {
        let o = sh(bad).await;
        assert_ne!(o.status, 0, "{bad}");
        assert!(o.stderr.starts_with("sed: "), "{bad}: {}", o.stderr);
    }
}
