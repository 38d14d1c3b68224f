//! Tests of the parser.

use super::{Command, Compound, ParamOp, Part, RedirKind, Simple, Word, parse};

fn simple(src: &str) -> Simple {
    let s = parse(src).unwrap();
    match &s.0[0].first.cmds[0] {
        Command::Simple(c) => c.clone(),
        other => panic!("not simple: {other:?}"),
    }
}

fn lit(s: &str) -> Word {
    Word(vec![Part::Lit(s.to_owned())])
}

#[test]
fn words_and_quotes() {
    let c = simple(r#"echo a 'b c' "d $X e" f\ g"#);
    assert_eq!(c.words.len(), 5);
    assert_eq!(c.words[1], lit("a"));
    assert_eq!(c.words[2], Word(vec![Part::Quoted("b c".into())]));
    assert_eq!(
        c.words[3],
        Word(vec![
            Part::Quoted("d ".into()),
            Part::Param {
                name: "X".into(),
                op: None,
                quoted: true
            },
            Part::Quoted(" e".into())
        ])
    );
    assert_eq!(
        c.words[4],
        Word(vec![
            Part::Lit("f".into()),
            Part::Quoted(" ".into()),
            Part::Lit("g".into())
        ])
    );
    assert_eq!(
        simple(r#""""#).words[0],
        Word(vec![Part::Quoted(String::new())])
    );
}

#[test]
fn operators_and_structure() {
    let s = parse("a && b || c; d | e | f\ng &").unwrap();
    assert_eq!(s.0.len(), 3);
    assert_eq!(s.0[0].rest.len(), 2);
    assert!(s.0[0].rest[0].0);
    assert!(!s.0[0].rest[1].0);
    assert_eq!(s.0[1].first.cmds.len(), 3);
    let s = parse("! false").unwrap();
    assert!(s.0[0].first.negate);
}

#[test]
fn redirections() {
    let c = simple("cmd >out 2>&1 <in >>log 2>err 1>&2 &>both");
    let kinds: Vec<(u32, RedirKind)> = c.redirs.into_iter().map(|r| (r.fd, r.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (1, RedirKind::Out(lit("out"))),
            (2, RedirKind::Dup(Some(1))),
            (0, RedirKind::In(lit("in"))),
            (1, RedirKind::Append(lit("log"))),
            (2, RedirKind::Out(lit("err"))),
            (1, RedirKind::Dup(Some(2))),
            (1, RedirKind::Both(lit("both"), false)),
        ]
    );
    // a digit word that is not followed by a redirection stays a word
    assert_eq!(simple("echo 2 3").words.len(), 3);
}

#[test]
fn assignments_and_params() {
    let c = simple("A=1 B='x y' env");
    assert_eq!(c.assigns.len(), 2);
    assert_eq!(c.assigns[0], ("A".into(), lit("1")));
    assert_eq!(c.words.len(), 1);
    let c = simple("echo ${X:-def} ${#Y} $? $1 ${Z%.txt}");
    assert!(matches!(
        &c.words[1].0[0],
        Part::Param { name, op: Some((ParamOp::Default(true), _)), .. } if name == "X"
    ));
    assert!(matches!(
        &c.words[2].0[0],
        Part::Param {
            op: Some((ParamOp::Length, _)),
            ..
        }
    ));
    assert!(matches!(&c.words[3].0[0], Part::Param { name, .. } if name == "?"));
    assert!(matches!(&c.words[4].0[0], Part::Param { name, .. } if name == "1"));
    assert!(matches!(
        &c.words[5].0[0],
        Part::Param {
            op: Some((ParamOp::TrimSuffix(false), _)),
            ..
        }
    ));
    // `$` alone or before a non-name is literal
    assert_eq!(simple("echo $ a$").words[1], lit("$"));
}

#[test]
fn compound_commands() {
    let s = parse("if true; then echo y; elif false; then :; else echo n; fi").unwrap();
    assert!(matches!(
        &s.0[0].first.cmds[0],
        Command::Compound(c, _) if matches!(**c, Compound::If { ref arms, otherwise: Some(_) } if arms.len() == 2)
    ));
    let s = parse("for i in 1 2 3; do echo $i; done > f").unwrap();
    assert!(matches!(
        &s.0[0].first.cmds[0],
        Command::Compound(c, r) if matches!(**c, Compound::For { ref items, .. } if items.as_ref().map(Vec::len) == Some(3)) && r.len() == 1
    ));
    assert!(parse("while false; do :; done").is_ok());
    assert!(parse("( cd /; ls ) && { echo a; echo b; }").is_ok());
    assert!(parse("for x\ndo\necho $x\ndone").is_ok());
}

#[test]
fn command_substitution_and_arith() {
    let c = simple("echo $(echo $(pwd)) `date` $((1 + $X * 2))");
    assert!(matches!(&c.words[1].0[0], Part::CmdSub { .. }));
    assert!(matches!(&c.words[2].0[0], Part::CmdSub { .. }));
    assert!(matches!(&c.words[3].0[0], Part::Arith { .. }));
}

#[test]
fn heredoc() {
    let s = parse("cat <<EOF > f\nhello $X\nEOF\necho done").unwrap();
    assert_eq!(s.0.len(), 2);
    let s = parse("cat <<'EOF'\n$X\nEOF").unwrap();
    match &s.0[0].first.cmds[0] {
        Command::Simple(c) => assert_eq!(
            c.redirs[0].kind,
            RedirKind::Here(Word(vec![Part::Quoted("$X\n".into())]))
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_do_not_panic() {
    for bad in [
        "echo 'x",
        "echo \"x",
        "a &&",
        "| b",
        "if true; then",
        "for",
        "( a",
        "echo $(",
        "${",
        "echo ${x",
        ">",
        "a ;; b",
        "done",
        "fi",
        ")",
        "$((1",
        "`x",
        "a 3>&x",
        "{ a",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be an error");
    }
    let deep = "(".repeat(1000);
    assert!(parse(&deep).is_err());
    // garbage never panics
    for s in [
        "\\", "$", "${#}", "a\\\nb", "~", "~/x", "&", ";", "\n\n", "#c",
    ] {
        let _ = parse(s);
    }
}
