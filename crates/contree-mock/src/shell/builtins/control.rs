//! Builtins that steer the shell itself: shift, exit, break, continue, return, trap.

use super::output::shell_quote;
use super::{Ctx, R};
use crate::shell::exec::Ctl;

pub(super) async fn trap(c: &mut Ctx<'_>, a: &[String]) -> R {
    let a: Vec<&String> = a.iter().filter(|s| *s != "--").collect();
    if a.is_empty() || a[0] == "-l" || a[0] == "-p" {
        if let Some(t) = c.sh.exit_trap.clone() {
            c.out
                .put(&format!("trap -- {} EXIT\n", shell_quote(&t)))
                .await?;
        }
        return Ok(0);
    }
    let (action, sigs) = if a.len() == 1 {
        ("-", &a[..])
    } else {
        (a[0].as_str(), &a[1..])
    };
    for sig in sigs {
        if matches!(sig.as_str(), "EXIT" | "0" | "SIGEXIT") {
            c.sh.exit_trap = if action == "-" || action.is_empty() {
                None
            } else {
                Some(action.to_owned())
            };
        }
    }
    Ok(0)
}

/// `shift [N]`: drops the first N positional parameters.
pub(super) async fn shift(c: &mut Ctx<'_>, a: &[String]) -> R {
    let n = a.first().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    if n > c.sh.args.len().saturating_sub(1) {
        c.fail("can't shift that many").await?;
        return Ok(1);
    }
    c.sh.args.drain(1..1 + n);
    Ok(0)
}

/// `exit [N]`: leaves the shell with N (default: the last status).
pub(super) async fn exit(c: &mut Ctx<'_>, a: &[String]) -> R {
    let code = match a.first() {
        None => c.sh.status,
        Some(s) => match s.parse::<i64>() {
            Ok(n) => (n & 255) as i32,
            Err(_) => {
                c.fail(&format!("Illegal number: {s}")).await?;
                2
            }
        },
    };
    c.sh.ctl = Some(Ctl::Exit(code));
    Ok(code)
}

/// `break [N]` / `continue [N]` (`name` says which): leaves or restarts N enclosing loops.
pub(super) async fn break_continue(c: &mut Ctx<'_>, name: &str, a: &[String]) -> R {
    let n = a
        .first()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    if c.sh.loop_depth > 0 {
        let n = n.min(c.sh.loop_depth);
        c.sh.ctl = Some(if name == "break" {
            Ctl::Break(n)
        } else {
            Ctl::Continue(n)
        });
    }
    Ok(0)
}

/// `return [N]`: leaves the current function or sourced script.
pub(super) async fn return_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let code = match a.first() {
        None => c.sh.status,
        Some(s) => s.parse::<i64>().map(|n| (n & 255) as i32).unwrap_or(2),
    };
    if c.sh.func_depth == 0 {
        c.fail("can only `return' from a function or sourced script")
            .await?;
        return Ok(1);
    }
    c.sh.ctl = Some(Ctl::Return(code));
    Ok(code)
}
