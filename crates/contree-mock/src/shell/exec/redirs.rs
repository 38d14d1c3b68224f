//! Redirections: opening files and wiring them to the standard streams.

use bytes::Bytes;

use super::expand::expand_single;
use super::{Io, Shell};
use crate::shell::io::{Input, Output, lock};
use crate::shell::parse::RedirKind;

/// Applies redirections, returning the new streams or an error message.
pub(crate) async fn apply_redirs(
    sh: &mut Shell,
    redirs: &[crate::shell::parse::Redir],
    io: &Io,
) -> Result<Io, String> {
    let mut io = io.clone();
    for r in redirs {
        match &r.kind {
            RedirKind::Out(w) | RedirKind::Append(w) | RedirKind::Both(w, _) => {
                let target = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad redirection".to_owned())?;
                let append = matches!(r.kind, RedirKind::Append(_) | RedirKind::Both(_, true));
                let out = open_write(sh, &target, append, &io)?;
                if matches!(r.kind, RedirKind::Both(..)) {
                    io.stdout = out.clone();
                    io.stderr = out;
                } else {
                    set_out(&mut io, r.fd, out)?;
                }
            }
            RedirKind::In(w) => {
                let target = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad redirection".to_owned())?;
                let input = open_read(sh, &target, &io)?;
                if r.fd == 0 {
                    io.stdin = input;
                }
            }
            RedirKind::Here(w) => {
                let text = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad here-document".to_owned())?;
                if r.fd == 0 {
                    io.stdin = Input::data(Bytes::from(text));
                }
            }
            RedirKind::Dup(None) => {
                if r.fd == 0 {
                    io.stdin = Input::empty();
                } else {
                    set_out(&mut io, r.fd, Output::Null)?;
                }
            }
            RedirKind::Dup(Some(src)) => {
                if r.fd == 0 {
                    if *src != 0 {
                        return Err(format!("{src}: Bad file descriptor"));
                    }
                } else {
                    let out = match src {
                        1 => io.stdout.clone(),
                        2 => io.stderr.clone(),
                        n => return Err(format!("{n}: Bad file descriptor")),
                    };
                    set_out(&mut io, r.fd, out)?;
                }
            }
        }
    }
    Ok(io)
}

fn set_out(io: &mut Io, fd: u32, out: Output) -> Result<(), String> {
    match fd {
        1 => io.stdout = out,
        2 => io.stderr = out,
        // Other descriptors are accepted and discarded (nothing reads them).
        _ => {}
    }
    Ok(())
}

/// Opens a path for reading (devices included).
pub(crate) fn open_read(sh: &Shell, path: &str, io: &Io) -> Result<Input, String> {
    match path {
        "/dev/null" => return Ok(Input::empty()),
        "/dev/zero" => return Ok(Input::zero()),
        "/dev/urandom" | "/dev/random" => return Ok(Input::random(sh.rng.clone())),
        "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0" => return Ok(io.stdin.clone()),
        _ => {}
    }
    let abs = sh.abs(path);
    let data = lock(&sh.fs).read(&abs);
    data.map(Input::data)
        .map_err(|e| format!("{path}: {}", e.reason()))
}

/// Opens a path for writing (truncating unless `append`), creating it owned by the shell's user.
pub(crate) fn open_write(sh: &Shell, path: &str, append: bool, io: &Io) -> Result<Output, String> {
    match path {
        "/dev/null" => return Ok(Output::Null),
        "/dev/stdout" | "/dev/fd/1" => return Ok(io.stdout.clone()),
        "/dev/stderr" | "/dev/fd/2" => return Ok(io.stderr.clone()),
        "" => return Err(": No such file or directory".to_owned()),
        _ => {}
    }
    let abs = sh.abs(path);
    let mut fs = lock(&sh.fs);
    let existed = fs.exists(&abs);
    let res = if append {
        fs.append(&abs, &[])
    } else {
        fs.write(&abs, Bytes::new())
    };
    res.map_err(|e| format!("{path}: {}", e.reason()))?;
    let canon = fs
        .canonicalize(&abs)
        .map_err(|e| format!("{path}: {}", e.reason()))?;
    if !existed {
        let _ = fs.chown(&canon, sh.uid, sh.gid);
    }
    Ok(Output::File(sh.fs.clone(), canon))
}
