//! `USER name[:group]`: numeric ids, or names looked up in the image's `/etc/passwd` and
//! `/etc/group`.

use crate::error::{Error, Result};
use crate::image::Image;

/// `uid`, `uid:gid`, or names looked up in the image's `/etc/passwd` and `/etc/group`.
pub(crate) async fn resolve_user(image: &Image, user: &str) -> Result<(u32, u32)> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let (uid, primary) = match u.parse::<u32>() {
        Ok(n) => (n, None),
        Err(_) => {
            let passwd = image.read_to_string("/etc/passwd").await.map_err(|e| {
                Error::invalid(format!(
                    "USER {user}: cannot read /etc/passwd of the image to find `{u}` ({e}); use a numeric uid"
                ))
            })?;
            let (uid, gid) = lookup_db(&passwd, u, 2).ok_or_else(|| {
                Error::invalid(format!(
                    "USER {user}: no user `{u}` in the image's /etc/passwd; create it in an earlier RUN, or use a numeric uid"
                ))
            })?;
            (uid, gid)
        }
    };
    let gid = match g {
        None => primary.unwrap_or(uid),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let group = image.read_to_string("/etc/group").await?;
                lookup_db(&group, g, 2).map(|(id, _)| id).ok_or_else(|| {
                    Error::invalid(format!(
                        "USER {user}: no group `{g}` in the image's /etc/group; use a numeric gid"
                    ))
                })?
            }
        },
    };
    Ok((uid, gid))
}

/// Finds `name` in a colon-separated database; returns field `id_field` and the next one.
fn lookup_db(db: &str, name: &str, id_field: usize) -> Option<(u32, Option<u32>)> {
    db.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() != Some(&name) {
            return None;
        }
        let id = f.get(id_field)?.parse().ok()?;
        Some((id, f.get(id_field + 1).and_then(|g| g.parse().ok())))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwd_lookup() {
        let db = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        assert_eq!(super::lookup_db(db, "app", 2), Some((1000, Some(1001))));
        assert_eq!(super::lookup_db(db, "nobody", 2), None);
    }
}
