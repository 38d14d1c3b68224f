//! Preloaded image filesystems and the built-in registry catalogue used by image import.
//!
//! The trees are small but plausible: a Linux directory layout, `/etc/os-release` (except
//! busybox, which has none, like the real image), `/etc/passwd`, `/etc/group`, `/etc/hostname`,
//! program files for every builtin of the simulated shell (ELF stubs or busybox symlinks), and
//! for the Python image a `/usr/local/bin/python3` stub script. Every entry has a fixed mtime, so
//! equal trees hash equally across runs and processes.
//!
//! ```
//! let images = contree_mock::images::preloaded();
//! let (_, ubuntu) = images.iter().find(|(t, _)| *t == "ubuntu:latest").unwrap();
//! let os = ubuntu.read("/etc/os-release").unwrap();
//! assert!(std::str::from_utf8(&os).unwrap().contains("Ubuntu"));
//! ```

use bytes::Bytes;

use crate::fs::Fs;

/// The modification time of every entry of the built-in images (2024-01-01T00:00:00Z).
pub const IMAGE_MTIME: i64 = 1_704_067_200;

/// Programs placed in the images' `bin` directories (builtins that are programs, not shell
/// keywords).
const PROGRAMS: &[&str] = &[
    "[",
    "base64",
    "basename",
    "cat",
    "chmod",
    "chown",
    "cp",
    "cut",
    "date",
    "dirname",
    "echo",
    "env",
    "false",
    "find",
    "grep",
    "head",
    "hostname",
    "id",
    "ln",
    "ls",
    "mkdir",
    "mv",
    "nproc",
    "printenv",
    "printf",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "seq",
    "sha256sum",
    "sleep",
    "sort",
    "tail",
    "tee",
    "test",
    "touch",
    "tr",
    "true",
    "uname",
    "uniq",
    "wc",
    "which",
    "whoami",
    "xargs",
    "yes",
];

const PASSWD_DEBIAN: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
bin:x:2:2:bin:/bin:/usr/sbin/nologin\n\
sys:x:3:3:sys:/dev:/usr/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

const GROUP_DEBIAN: &str =
    "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\nusers:x:100:\nnogroup:x:65534:\n";

const PASSWD_BUSYBOX: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
bin:x:2:2:bin:/bin:/bin/false\n\
nobody:x:65534:65534:nobody:/home:/bin/false\n";

const GROUP_BUSYBOX: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nnogroup:x:65533:\nnobody:x:65534:\n";

const PASSWD_ALPINE: &str = "root:x:0:0:root:/root:/bin/sh\n\
bin:x:1:1:bin:/bin:/sbin/nologin\n\
daemon:x:2:2:daemon:/sbin:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/:/sbin/nologin\n";

const GROUP_ALPINE: &str = "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nnogroup:x:65533:\nnobody:x:65534:\n";

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

const PYTHON_STUB: &str = "#!/bin/sh\n\
# contree-mock stub: the simulated shell cannot run Python programs.\n\
if [ \"$1\" = \"--version\" ] || [ \"$1\" = \"-V\" ]; then\n\
  echo \"Python 3.12.7\"\n\
  exit 0\n\
fi\n\
echo \"python3: the ConTree mock simulates a shell only and cannot run Python\" >&2\n\
exit 1\n";

const PIP_STUB: &str = "#!/bin/sh\n\
# contree-mock stub\n\
if [ \"$1\" = \"--version\" ] || [ \"$1\" = \"-V\" ]; then\n\
  echo \"pip 24.2 from /usr/local/lib/python3.12/site-packages/pip (python 3.12)\"\n\
  exit 0\n\
fi\n\
echo \"pip: the ConTree mock cannot install packages\" >&2\n\
exit 1\n";

fn elf_stub(name: &str) -> Bytes {
    let mut v = b"\x7fELF\x02\x01\x01\x00".to_vec();
    v.extend_from_slice(format!("contree-mock program stub: {name}\n").as_bytes());
    Bytes::from(v)
}

struct Builder(Fs);

impl Builder {
    fn new() -> Builder {
        let mut fs = Fs::new();
        fs.set_clock(Some(IMAGE_MTIME));
        let _ = fs.set_mtime("/", IMAGE_MTIME);
        Builder(fs)
    }

    fn dirs(mut self, dirs: &[(&str, u32)]) -> Builder {
        for (d, mode) in dirs {
            let _ = self.0.mkdir_p(d);
            let _ = self.0.chmod(d, *mode);
        }
        self
    }

    fn file(mut self, path: &str, content: impl Into<Bytes>, mode: u32) -> Builder {
        let _ = self.0.write_with(path, content.into(), mode, 0, 0);
        self
    }

    fn link(mut self, target: &str, link: &str) -> Builder {
        let _ = self.0.symlink(target, link);
        self
    }

    fn done(mut self) -> Fs {
        // Directories touched while building got the fixed clock too; new writes after the
        // image is handed out use the wall clock.
        self.0.set_clock(None);
        self.0
    }
}

const COMMON_DIRS: &[(&str, u32)] = &[
    ("/dev", 0o755),
    ("/etc", 0o755),
    ("/home", 0o755),
    ("/mnt", 0o755),
    ("/opt", 0o755),
    ("/proc", 0o555),
    ("/root", 0o700),
    ("/run", 0o755),
    ("/srv", 0o755),
    ("/sys", 0o555),
    ("/tmp", 0o1777),
    ("/usr/local/bin", 0o755),
    ("/usr/local/lib", 0o755),
    ("/usr/share", 0o755),
    ("/var/cache", 0o755),
    ("/var/lib", 0o755),
    ("/var/log", 0o755),
    ("/var/tmp", 0o1777),
];

/// A Debian-family tree with merged `/usr` (`/bin -> usr/bin`).
fn debian_like(os_release: &str, hostname: &str, with_bash: bool) -> Builder {
    let mut b = Builder::new()
        .dirs(COMMON_DIRS)
        .dirs(&[
            ("/usr/bin", 0o755),
            ("/usr/sbin", 0o755),
            ("/usr/lib", 0o755),
        ])
        .link("usr/bin", "/bin")
        .link("usr/sbin", "/sbin")
        .link("usr/lib", "/lib")
        .file("/etc/os-release", os_release.to_owned(), 0o644)
        .file("/etc/passwd", PASSWD_DEBIAN, 0o644)
        .file("/etc/group", GROUP_DEBIAN, 0o644)
        .file("/etc/hostname", format!("{hostname}\n"), 0o644)
        .file("/etc/hosts", HOSTS, 0o644)
        .file(
            "/etc/shells",
            "/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n",
            0o644,
        )
        .file(
            "/root/.bashrc",
            "# ~/.bashrc\nexport PS1='\\u@\\h:\\w\\$ '\n",
            0o644,
        )
        .file("/usr/bin/dash", elf_stub("dash"), 0o755)
        .link("dash", "/usr/bin/sh");
    if with_bash {
        b = b.file("/usr/bin/bash", elf_stub("bash"), 0o755);
    }
    for p in PROGRAMS {
        b = b.file(&format!("/usr/bin/{p}"), elf_stub(p), 0o755);
    }
    b
}

/// A busybox-style tree: every program is a symlink to `/bin/busybox`.
fn busybox_like(b: Builder) -> Builder {
    let mut b = b
        .dirs(COMMON_DIRS)
        .dirs(&[
            ("/bin", 0o755),
            ("/sbin", 0o755),
            ("/usr/bin", 0o755),
            ("/usr/sbin", 0o755),
            ("/lib", 0o755),
        ])
        .file("/bin/busybox", elf_stub("busybox"), 0o755)
        .link("/bin/busybox", "/bin/sh")
        .link("/bin/busybox", "/bin/ash")
        .file("/etc/hosts", HOSTS, 0o644)
        .file("/etc/shells", "/bin/sh\n/bin/ash\n", 0o644);
    for p in PROGRAMS {
        b = b.link("/bin/busybox", &format!("/bin/{p}"));
    }
    b
}

fn ubuntu(version: &str, codename: &str, pretty: &str) -> Fs {
    let os = format!(
        "PRETTY_NAME=\"Ubuntu {pretty}\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"{version}\"\n\
         VERSION=\"{pretty} ({codename})\"\nVERSION_CODENAME={codename}\nID=ubuntu\nID_LIKE=debian\n\
         HOME_URL=\"https://www.ubuntu.com/\"\nUBUNTU_CODENAME={codename}\n"
    );
    debian_like(&os, "ubuntu", true)
        .dirs(&[("/home/ubuntu", 0o750)])
        .file("/etc/debian_version", format!("{codename}/sid\n"), 0o644)
        .done()
}

fn debian() -> Builder {
    let os = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
              VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
              HOME_URL=\"https://www.debian.org/\"\n";
    debian_like(os, "debian", true).file("/etc/debian_version", "12.7\n", 0o644)
}

fn python312() -> Fs {
    debian()
        .dirs(&[
            ("/usr/local/lib/python3.12/site-packages", 0o755),
            ("/usr/local/include/python3.12", 0o755),
        ])
        .file("/usr/local/bin/python3.12", PYTHON_STUB, 0o755)
        .link("python3.12", "/usr/local/bin/python3")
        .link("python3", "/usr/local/bin/python")
        .file("/usr/local/bin/pip3.12", PIP_STUB, 0o755)
        .link("pip3.12", "/usr/local/bin/pip3")
        .link("pip3", "/usr/local/bin/pip")
        .file(
            "/usr/local/lib/python3.12/os.py",
            "# contree-mock placeholder for the Python standard library\n",
            0o644,
        )
        .done()
}

fn busybox() -> Fs {
    busybox_like(Builder::new())
        .file("/etc/passwd", PASSWD_BUSYBOX, 0o644)
        .file("/etc/group", GROUP_BUSYBOX, 0o644)
        .file("/etc/hostname", "busybox\n", 0o644)
        .done()
}

fn alpine(version: &str) -> Fs {
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let os = format!(
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID={version}\nPRETTY_NAME=\"Alpine Linux v{minor}\"\n\
         HOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
    );
    busybox_like(Builder::new())
        .dirs(&[("/etc/apk", 0o755), ("/lib/apk/db", 0o755), ("/media", 0o755)])
        .file("/etc/os-release", os, 0o644)
        .file("/etc/alpine-release", format!("{version}\n"), 0o644)
        .file("/etc/passwd", PASSWD_ALPINE, 0o644)
        .file("/etc/group", GROUP_ALPINE, 0o644)
        .file("/etc/hostname", "alpine\n", 0o644)
        .file(
            "/etc/apk/repositories",
            format!(
                "https://dl-cdn.alpinelinux.org/alpine/v{minor}/main\nhttps://dl-cdn.alpinelinux.org/alpine/v{minor}/community\n"
            ),
            0o644,
        )
        .file("/sbin/apk", elf_stub("apk"), 0o755)
        .done()
}

/// The public tags present when the server starts, with their filesystems:
/// `ubuntu:latest` (24.04), `busybox:latest`, `python:3.12` (Debian bookworm based, with a
/// `python3 --version` stub) and `alpine:latest` (3.20).
pub fn preloaded() -> Vec<(&'static str, Fs)> {
    vec![
        ("ubuntu:latest", ubuntu("24.04", "noble", "24.04.1 LTS")),
        ("busybox:latest", busybox()),
        ("python:3.12", python312()),
        ("alpine:latest", alpine("3.20.3")),
    ]
}

/// What `import` can fetch: normalised references (e.g. `docker.io/library/alpine:3.20`)
/// with their filesystems. References that are aliases of each other (`alpine:latest` and
/// `alpine:3.20`) have identical trees, so they import to the same image UUID.
pub fn registry_catalogue() -> Vec<(&'static str, Fs)> {
    vec![
        ("docker.io/library/alpine:3.20", alpine("3.20.3")),
        ("docker.io/library/alpine:latest", alpine("3.20.3")),
        ("docker.io/library/alpine:3.19", alpine("3.19.4")),
        ("docker.io/library/busybox:latest", busybox()),
        ("docker.io/library/busybox:1.36", busybox()),
        (
            "docker.io/library/ubuntu:latest",
            ubuntu("24.04", "noble", "24.04.1 LTS"),
        ),
        (
            "docker.io/library/ubuntu:24.04",
            ubuntu("24.04", "noble", "24.04.1 LTS"),
        ),
        (
            "docker.io/library/ubuntu:22.04",
            ubuntu("22.04", "jammy", "22.04.5 LTS"),
        ),
        ("docker.io/library/debian:bookworm", debian().done()),
        ("docker.io/library/debian:12", debian().done()),
        ("docker.io/library/python:3.12", python312()),
        ("docker.io/library/python:3.12-slim", python312()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::FileKind;

    #[test]
    fn preloaded_images_are_plausible() {
        let images = preloaded();
        let tags: Vec<&str> = images.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            tags,
            [
                "ubuntu:latest",
                "busybox:latest",
                "python:3.12",
                "alpine:latest"
            ]
        );
        for (tag, fs) in &images {
            for p in [
                "/etc/passwd",
                "/etc/group",
                "/etc/hostname",
                "/bin/sh",
                "/bin/ls",
                "/usr/bin",
                "/tmp",
                "/root",
                "/home",
                "/var",
            ] {
                assert!(fs.exists(p), "{tag}: {p}");
            }
            assert_eq!(fs.stat("/tmp").unwrap().mode, 0o041777, "{tag}");
            for (path, meta) in fs.walk("/").unwrap() {
                assert_eq!(meta.mtime, IMAGE_MTIME, "{tag}: {path}");
                assert_eq!((meta.uid, meta.gid), (0, 0), "{tag}: {path}");
            }
        }
        let (_, py) = &images[2];
        assert_eq!(
            py.stat("/usr/local/bin/python3").unwrap().kind,
            FileKind::File
        );
        assert!(
            py.read("/etc/os-release")
                .unwrap()
                .starts_with(b"PRETTY_NAME=\"Debian")
        );
        let (_, alpine) = &images[3];
        assert_eq!(alpine.lstat("/bin/ls").unwrap().symlink_to, "/bin/busybox");
        assert!(!images[1].1.exists("/etc/os-release"));
    }

    #[test]
    fn hashes_are_stable_and_distinct() {
        let a = preloaded();
        let b = preloaded();
        for ((t, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(x.content_hash(), y.content_hash(), "{t}");
        }
        let mut hashes: Vec<[u8; 32]> = a.iter().map(|(_, f)| f.content_hash()).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), 4);
        // a known value guards against accidental changes of the trees (update deliberately)
        let cat = registry_catalogue();
        let find = |r: &str| {
            cat.iter()
                .find(|(n, _)| *n == r)
                .map(|(_, f)| f.content_hash())
        };
        assert_eq!(
            find("docker.io/library/alpine:3.20"),
            find("docker.io/library/alpine:latest")
        );
        assert_ne!(
            find("docker.io/library/alpine:3.20"),
            find("docker.io/library/alpine:3.19")
        );
        assert_eq!(
            find("docker.io/library/ubuntu:latest"),
            Some(a[0].1.content_hash())
        );
    }

    #[tokio::test]
    async fn images_run_the_shell() {
        use crate::shell::{ProcessIo, ProcessSpec, run_process};
        use std::sync::{Arc, Mutex};
        for (tag, fs) in preloaded() {
            let fs = Arc::new(Mutex::new(fs));
            let (_tx, stdin) = tokio::sync::mpsc::channel(1);
            let (stdout, mut out) = tokio::sync::mpsc::unbounded_channel();
            let (stderr, _err) = tokio::sync::mpsc::unbounded_channel();
            let spec = ProcessSpec {
                command: "cat /etc/hostname && /bin/ls / | wc -l && which ls && whoami".into(),
                shell: true,
                cwd: "/".into(),
                hostname: "h".into(),
                ..Default::default()
            };
            let st = run_process(
                fs,
                spec,
                ProcessIo {
                    stdin,
                    stdout,
                    stderr,
                },
                0,
            )
            .await;
            assert_eq!(st, 0, "{tag}");
            let mut text = Vec::new();
            while let Ok(c) = out.try_recv() {
                text.extend_from_slice(&c);
            }
            let text = String::from_utf8(text).unwrap();
            assert!(
                text.ends_with("/bin/ls\nroot\n") || text.ends_with("/usr/bin/ls\nroot\n"),
                "{tag}: {text}"
            );
        }
        let (_, py) = preloaded().remove(2);
        let fs = Arc::new(Mutex::new(py));
        let (_tx, stdin) = tokio::sync::mpsc::channel(1);
        let (stdout, mut out) = tokio::sync::mpsc::unbounded_channel();
        let (stderr, _err) = tokio::sync::mpsc::unbounded_channel();
        let spec = ProcessSpec {
            command: "python3 --version".into(),
            shell: true,
            ..Default::default()
        };
        assert_eq!(
            run_process(
                fs,
                spec,
                ProcessIo {
                    stdin,
                    stdout,
                    stderr
                },
                0
            )
            .await,
            0
        );
        assert_eq!(out.recv().await.unwrap(), "Python 3.12.7\n");
    }
}
