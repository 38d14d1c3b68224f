//! Builtins that steer the shell itself: trap.

use super::output::shell_quote;
use super::{Ctx, R};

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
