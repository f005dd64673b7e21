//! The default server label (PRODUCT.md section 2): the name a user would give the
//! server, not the interpreter or the package runner that starts it.
//!
//! - `npx`, `bunx`, `pnpm dlx`, `uvx`, `pipx run`: the package, without scope or version
//!   (`@modelcontextprotocol/server-filesystem@1.2` -> `server-filesystem`);
//! - `python -m mod` (any `python*`): the module;
//! - `docker run … image` (also `podman`): the image without registry, owner and tag;
//! - `node script.js`, `python script.py`, `deno run x.ts`, `bun x.ts`: the script's name
//!   without its extension (`index` scripts are named after their folder);
//! - else the command's file name.

/// The label for a server started with `argv` (program first). `None` when `argv` is empty
/// or names nothing usable.
pub fn default_label(argv: &[&str]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let name = file_name(program);
    let base = name.strip_suffix(".exe").unwrap_or(name);
    let found = match base {
        "npx" | "bunx" => package_arg(args, &["-p", "--package", "-c", "--call"]).map(package_name),
        "pnpm" | "yarn" if args.first() == Some(&"dlx") => {
            package_arg(&args[1..], &["-p", "--package", "-c", "--call"]).map(package_name)
        }
        "npm" if matches!(args.first(), Some(&"exec") | Some(&"x")) => {
            package_arg(&args[1..], &["-p", "--package", "-c", "--call"]).map(package_name)
        }
        "uvx" => uv_tool(args),
        "uv" if args.starts_with(&["tool", "run"]) => uv_tool(&args[2..]),
        "pipx" if args.first() == Some(&"run") => {
            package_arg(&args[1..], &["--spec", "--python", "--index-url", "--pip-args"]).map(python_package)
        }
        "docker" | "podman" if args.first() == Some(&"run") => docker_image(&args[1..]),
        _ if is_python(base) => python_target(args),
        "node" | "nodejs" | "bun" | "tsx" | "ts-node" => script(args, &["-r", "--require", "--import", "--loader"]),
        "deno" if args.first() == Some(&"run") => script(&args[1..], &["--config", "-c", "--import-map"]),
        _ => None,
    };
    found.filter(|l| !l.is_empty()).or_else(|| (!base.is_empty()).then(|| base.to_owned()))
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_python(base: &str) -> bool {
    base.strip_prefix("python").is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The first argument that is not a flag, skipping the values of `with_value` flags.
fn package_arg<'a>(args: &[&'a str], with_value: &[&str]) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if *arg == "--" {
            return it.next().copied();
        }
        if arg.starts_with('-') {
            if with_value.contains(arg) {
                it.next();
            }
            continue;
        }
        return Some(arg);
    }
    None
}

/// `@scope/name@1.2` -> `name`; `name@latest` -> `name`.
fn package_name(spec: &str) -> String {
    let unscoped = match spec.strip_prefix('@') {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, name)| name),
        None => spec,
    };
    unscoped.split('@').next().unwrap_or(unscoped).to_owned()
}

/// `mcp-server-git==1.0`, `pkg[extra]>=2`, `pkg@1.0` -> the distribution name.
fn python_package(spec: &str) -> String {
    let end = spec.find(['=', '<', '>', '!', '~', '[', '@', ';', ' ']).unwrap_or(spec.len());
    spec[..end].to_owned()
}

/// `uvx [--from SPEC] [flags] command`: the command is what the user asked to run.
fn uv_tool(args: &[&str]) -> Option<String> {
    let with_value = ["--from", "--with", "--python", "-p", "--index-url", "--index", "-w", "--with-requirements"];
    package_arg(args, &with_value).map(python_package)
}

fn python_target(args: &[&str]) -> Option<String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "-m" => return it.next().map(|m| (*m).to_owned()),
            a if a.starts_with("-m") && a.len() > 2 => return Some(a[2..].to_owned()),
            "-c" => return None,
            "-W" | "-X" | "--check-hash-based-pycs" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            a => return script_name(a),
        }
    }
    None
}

fn script(args: &[&str], with_value: &[&str]) -> Option<String> {
    package_arg(args, with_value).and_then(script_name)
}

/// `/srv/tools/files.js` -> `files`; `/srv/my-server/dist/index.js` -> `my-server`.
fn script_name(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty() && *p != ".").collect();
    let file = parts.last()?;
    let stem = file.rsplit_once('.').map_or(*file, |(stem, _)| stem);
    if matches!(stem, "index" | "main" | "server" | "__main__" | "cli") {
        // Named after the folder, skipping build folders (`pkg/dist/index.js` -> `pkg`).
        let folder = parts[..parts.len() - 1]
            .iter()
            .rev()
            .find(|p| !matches!(**p, "dist" | "build" | "lib" | "src" | "bin" | "out" | ".."));
        if let Some(folder) = folder {
            return Some((*folder).to_owned());
        }
    }
    Some(stem.to_owned())
}

/// Flags of `docker run` / `podman run` that take a value (the rest are switches).
const DOCKER_VALUE_FLAGS: &[&str] = &[
    "-a",
    "--attach",
    "--add-host",
    "--cap-add",
    "--cap-drop",
    "--cidfile",
    "--cpus",
    "--cpu-shares",
    "-c",
    "--device",
    "--dns",
    "-e",
    "--env",
    "--env-file",
    "--entrypoint",
    "--expose",
    "--group-add",
    "-h",
    "--hostname",
    "--ip",
    "-l",
    "--label",
    "--label-file",
    "--log-driver",
    "--log-opt",
    "-m",
    "--memory",
    "--mount",
    "--name",
    "--network",
    "--net",
    "--platform",
    "-p",
    "--publish",
    "--pull",
    "--restart",
    "--runtime",
    "--security-opt",
    "--shm-size",
    "--stop-signal",
    "--stop-timeout",
    "--tmpfs",
    "--ulimit",
    "-u",
    "--user",
    "--userns",
    "-v",
    "--volume",
    "--volumes-from",
    "-w",
    "--workdir",
    "--gpus",
    "--pid",
    "--ipc",
    "--uts",
    "--health-cmd",
    "--cgroupns",
    "--memory-swap",
];

/// `docker run [flags] image [cmd]`: `ghcr.io/github/github-mcp-server:latest` ->
/// `github-mcp-server`.
fn docker_image(args: &[&str]) -> Option<String> {
    let mut it = args.iter();
    let image = loop {
        let arg = it.next()?;
        if *arg == "--" {
            break it.next()?;
        }
        if arg.starts_with('-') {
            // `--env=X` carries its value; `-it`, `--rm` are switches.
            if !arg.contains('=') && DOCKER_VALUE_FLAGS.contains(arg) {
                it.next();
            }
            continue;
        }
        break arg;
    };
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    Some(last.split(':').next().unwrap_or(last).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(cmd: &str) -> String {
        default_label(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn package_runners_give_the_package() {
        assert_eq!(label("npx -y @modelcontextprotocol/server-filesystem@1.2 /home/me"), "server-filesystem");
        assert_eq!(label("npx @modelcontextprotocol/server-memory"), "server-memory");
        assert_eq!(label("/usr/local/bin/npx --yes mcp-remote@latest https://x"), "mcp-remote");
        assert_eq!(label("npx -p @scope/pkg@2 some-bin"), "some-bin");
        assert_eq!(label("bunx @upstash/context7-mcp"), "context7-mcp");
        assert_eq!(label("pnpm dlx @modelcontextprotocol/server-everything@2025.1.1"), "server-everything");
        assert_eq!(label("npm exec -- @playwright/mcp@latest"), "mcp");
        assert_eq!(label("uvx mcp-server-git --repository ."), "mcp-server-git");
        assert_eq!(label("uvx --from git+https://x/y.git mcp-server-time"), "mcp-server-time");
        assert_eq!(label("uvx --python 3.12 mcp-server-fetch==1.0"), "mcp-server-fetch");
        assert_eq!(label("uv tool run mcp-server-git"), "mcp-server-git");
        assert_eq!(label("pipx run mcp-server-time"), "mcp-server-time");
        assert_eq!(label("pipx run --spec mcp-server-git==1.0 mcp-server-git"), "mcp-server-git");
    }

    #[test]
    fn python_modules_and_scripts() {
        assert_eq!(label("python -m mcp_server_git --repository ."), "mcp_server_git");
        assert_eq!(label("python3 -u -m mcp_server_time"), "mcp_server_time");
        assert_eq!(label("/usr/bin/python3.12 -mweather"), "weather");
        assert_eq!(label("python3 /srv/tools/bank_server.py --port 1"), "bank_server");
        assert_eq!(label("python3 -c print(1)"), "python3", "nothing better than the interpreter");
    }

    #[test]
    fn node_scripts_are_named_after_the_script_or_its_package() {
        assert_eq!(label("node /srv/files.js"), "files");
        assert_eq!(
            label("node /x/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js /tmp"),
            "server-filesystem"
        );
        assert_eq!(label("node --require ./hook.js ./weather/build/index.js"), "weather");
        assert_eq!(label("deno run --allow-net server.ts"), "server");
    }

    #[test]
    fn docker_gives_the_image() {
        assert_eq!(
            label("docker run -i --rm -e GITHUB_TOKEN ghcr.io/github/github-mcp-server:latest"),
            "github-mcp-server"
        );
        assert_eq!(label("docker run --rm -i -v /a:/b --env=X=1 mcp/git"), "git");
        assert_eq!(label("podman run -i --name n registry:5000/team/db-mcp@sha256:abc stdio"), "db-mcp");
        assert_eq!(label("docker ps"), "docker");
    }

    #[test]
    fn anything_else_is_the_command_file_name() {
        assert_eq!(label("/opt/bin/my-server --flag"), "my-server");
        assert_eq!(label("mcp-server.exe"), "mcp-server");
        assert_eq!(label("npx"), "npx", "a runner with nothing to run keeps its own name");
        assert_eq!(default_label(&[]), None);
    }
}
