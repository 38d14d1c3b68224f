//! Tests of the builtin commands.

use std::sync::{Arc, Mutex};

use super::{base_fs, run_with, sh, sh_fs, spec, stdout};

#[tokio::test]
async fn builtin_table_is_sorted() {
    let mut sorted = crate::shell::builtins::BUILTINS.to_vec();
    sorted.sort();
    assert_eq!(sorted, crate::shell::builtins::BUILTINS);
    for n in ["echo", "[", "sha256sum", "yes", "test", "grep"] {
        assert!(crate::shell::is_builtin(n), "{n}");
    }
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
