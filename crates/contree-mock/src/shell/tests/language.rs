//! Tests of the shell language: quoting, lists, compound commands, redirections, globbing, functions.

use std::time::Duration;

use super::{sh, sh_fs, stdout};

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
        format!("{}\n", crate::shell::DEFAULT_PATH)
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
async fn globbing() {
    let o = sh("cd /tmp && touch b.txt a.txt c.log .h && echo *.txt; echo /tmp/*.log; echo none*; echo '*'; echo *").await;
    assert_eq!(
        o.stdout,
        "a.txt b.txt\n/tmp/c.log\nnone*\n*\na.txt b.txt c.log\n"
    );
    assert_eq!(stdout("cd /tmp && touch x1 x2 && rm x* && ls").await, "");
}

/// Malformed scripts and bad builtin arguments (each must end with a status, never panic).
const GARBAGE: &[&str] = &[
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

#[tokio::test]
async fn garbage_never_panics() {
    for i in GARBAGE {
        let o = sh(i).await;
        assert!((0..=255).contains(&o.status), "{i:?} -> {}", o.status);
    }
}

#[tokio::test]
async fn random_garbage_never_panics() {
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
    assert!(crate::shell::parse::parse("case x in").is_err());
    assert!(crate::shell::parse::parse("f() echo").is_err());
}
