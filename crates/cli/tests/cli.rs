//! End-to-end tests of the `seatkeeper` binary: every test runs the built binary against a fresh
//! SQLite data directory, and again against a fresh PostgreSQL database when
//! `SEATKEEPER_TEST_PG_URL` names a PostgreSQL admin URL (required when `CI=true`).

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_seatkeeper");

/// One database for a test, and the commands to run against it.
struct Sk {
    dir: PathBuf,
    db_url: Option<String>,
}

impl Drop for Sk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // Best effort: a test database left behind is harmless on a throwaway cluster.
        if let (Some(url), Ok(admin)) = (&self.db_url, std::env::var("SEATKEEPER_TEST_PG_URL")) {
            let name = url.rsplit('/').next().unwrap_or_default();
            let _ = pg_admin(
                admin.trim(),
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "seatkeeper-cli-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// The PostgreSQL admin URL; in CI a missing one fails the test instead of skipping it.
fn pg_admin_url() -> Option<String> {
    match std::env::var("SEATKEEPER_TEST_PG_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("SEATKEEPER_TEST_PG_URL must be set when CI=true")
        }
        _ => None,
    }
}

/// Runs one statement on the PostgreSQL server as its admin.
fn pg_admin(admin: &str, sql: &str) -> Result<(), String> {
    use seatkeeper_store::sqlx::{self, Connection};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(admin)
            .await
            .map_err(|e| format!("cannot connect to the test PostgreSQL: {e}"))?;
        let result = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| format!("{sql}: {e}"));
        let _ = conn.close().await;
        result
    })
}

/// Creates a fresh database on the PostgreSQL server and returns its URL.
fn create_pg_database(admin: &str) -> String {
    let name = format!("sk_cli_{}", uuid::Uuid::new_v4().simple());
    pg_admin(admin, &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or_else(|| admin.to_string());
    format!("{base}/{name}")
}

impl Sk {
    fn sqlite() -> Sk {
        Sk {
            dir: temp_dir(),
            db_url: None,
        }
    }

    fn postgres() -> Option<Sk> {
        let admin = pg_admin_url()?;
        Some(Sk {
            dir: temp_dir(),
            db_url: Some(create_pg_database(&admin)),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("SEATKEEPER_") {
                c.env_remove(k);
            }
        }
        c.env("SEATKEEPER_LOG", "warn")
            .current_dir(&self.dir)
            .arg("--data-dir")
            .arg(&self.dir);
        if let Some(u) = &self.db_url {
            c.arg("--database-url").arg(u);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run seatkeeper")
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            o.status.success(),
            "seatkeeper {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
            o.status
        );
        stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Runs a command that must fail with exit code 1 and a one-line `error: …` first;
    /// returns standard error.
    fn fail(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(
            o.status.code(),
            Some(1),
            "seatkeeper {args:?} should fail with exit code 1; stdout: {} stderr: {stderr}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{args:?} panicked: {stderr}"
        );
        stderr
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).expect("write test file");
        p.display().to_string()
    }

    /// Creates an organization (default usage location US) and returns the `tenant create` JSON.
    fn tenant(&self, name: &str) -> Value {
        self.json(&[
            "tenant",
            "create",
            "--name",
            name,
            "--admin",
            &format!("admin@{}.example", name.to_lowercase()),
            "--usage-location",
            "US",
            "--json",
        ])
    }

    /// Starts `seatkeeper serve` on a free port and waits until it says where it listens
    /// (and, with `--demo`, until it has printed the token).
    fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            token: None,
            password: None,
        };
        let demo = extra.contains(&"--demo");
        let deadline = Instant::now() + Duration::from_secs(40);
        while server.addr.is_empty() || (demo && server.token.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("serve {extra:?} printed no address/token in time"));
            if let Some(rest) = line.strip_prefix("Seatkeeper is listening on http://") {
                server.addr = rest.split_whitespace().next().unwrap_or("").to_string();
            }
            if let Some(p) = line.strip_prefix("Password:") {
                server.password = Some(p.trim().to_string());
            }
            if let Some(t) = line.strip_prefix("Bearer token:") {
                server.token = Some(t.trim().to_string());
            }
        }
        server
    }
}

/// A POST of a JSON body with a bearer token over plain HTTP/1.1; returns the status and
/// the body, or the I/O error when the server is gone.
fn http_post(addr: &str, path: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        addr,
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A running `seatkeeper serve`; killed when dropped unless it was stopped.
struct Server {
    child: Child,
    addr: String,
    token: Option<String>,
    /// What `--demo` printed after "Password:".
    password: Option<String>,
}

impl Server {
    /// A GET with a bearer token over plain HTTP/1.1; returns the status and the body.
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect to server");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send request");
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).expect("read response");
        let text = String::from_utf8_lossy(&resp).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A POST of a JSON body with a bearer token (see [`http_post`]).
    fn post(&self, path: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
        http_post(&self.addr, path, token, body)
    }

    /// Sends SIGTERM and waits for the exit; panics if it takes longer than `limit`.
    fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for serve") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes a test once and runs it on SQLite and on PostgreSQL.
macro_rules! both {
    ($name:ident, |$sk:ident| $body:block) => {
        mod $name {
            use super::*;

            #[test]
            fn sqlite() {
                let $sk = Sk::sqlite();
                $body
            }

            #[test]
            fn postgres() {
                let Some($sk) = Sk::postgres() else {
                    eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
                    return;
                };
                $body
            }
        }
    };
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("open CSV");
    let head: Vec<String> = r
        .headers()
        .expect("CSV header")
        .iter()
        .map(str::to_string)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("CSV row");
            head.iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

// ----- tenants, tokens, serve -----

both!(tenant_create_while_serving_and_its_token_works, |sk| {
    let first = sk.tenant("Contoso");
    let mut server = sk.serve(&[]);
    // A second organization, created by the command line while the server runs on the database.
    let b = sk.json(&[
        "tenant",
        "create",
        "--name",
        "Fabrikam",
        "--admin",
        "admin@fabrikam.example",
        "--usage-location",
        "DK",
        "--json",
    ]);
    for key in ["tenantId", "adminUserId", "token"] {
        assert!(b[key].is_string(), "{key} missing in {b}");
    }
    let token = b["token"].as_str().unwrap_or_default();
    let admin = b["adminUserId"].as_str().unwrap_or_default();
    let (status, body) = server.get(&format!("/v1.0/users/{admin}"), token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("admin@fabrikam.example"), "{body}");
    let (status, _) = server.get(&format!("/v1.0/users/{admin}"), "sk_not_a_real_token");
    assert_eq!(status, 401);
    // The first organization's token still works, and cannot see the second one's admin.
    let (status, _) = server.get(
        &format!("/v1.0/users/{admin}"),
        first["token"].as_str().unwrap_or_default(),
    );
    assert_eq!(status, 404);

    // More tokens: listed without their secrets, revocable.
    let t = sk.json(&[
        "token",
        "create",
        "--tenant",
        "Fabrikam",
        "--user",
        "admin@fabrikam.example",
        "--name",
        "provisioning",
        "--json",
    ]);
    let secret = t["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(server.get(&format!("/v1.0/users/{admin}"), &secret).0, 200);
    let list = sk.json(&[
        "token",
        "list",
        "--tenant",
        "Fabrikam",
        "--user",
        "admin@fabrikam.example",
        "--json",
    ]);
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"bootstrap") && names.contains(&"provisioning"),
        "{list}"
    );
    assert!(!list.to_string().contains(&secret));
    sk.ok(&[
        "token",
        "revoke",
        "--tenant",
        b["tenantId"].as_str().unwrap_or_default(),
        t["id"].as_str().unwrap_or_default(),
    ]);
    assert_eq!(server.get(&format!("/v1.0/users/{admin}"), &secret).0, 401);

    let tenants = sk.json(&["tenant", "list", "--json"]);
    assert_eq!(tenants.as_array().map(Vec::len), Some(2), "{tenants}");
    let status = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "serve exited with {status}");
});

both!(serve_demo_prints_url_and_token_and_stops_on_sigterm, |sk| {
    let mut server = sk.serve(&["--demo"]);
    let token = server.token.clone().expect("token");
    assert!(token.starts_with("sk_"), "{token}");
    let (status, body) = server.get("/v1.0/subscribedSkus", &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("skuPartNumber"), "{body}");
    let status = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "serve exited with {status}");
});

// ----- catalog -----

const CATALOG: &str = r#"# A test catalog.
[[plan]]
id = "a0000000-0000-4000-8000-000000000001"
name = "CORE"
display_name = "Core service"

[[plan]]
id = "a0000000-0000-4000-8000-000000000002"
name = "ADDON"
display_name = "Add-on"
requires = ["CORE"]

[[plan]]
id = "a0000000-0000-4000-8000-000000000003"
name = "LITE"
display_name = "Lite service"
excludes = ["CORE"]

[[product]]
sku_id = "b0000000-0000-4000-8000-000000000001"
sku_part_number = "WIDGET_PRO"
product_id = "CFQ7TTC0TEST"
name = "Widget Pro"
applies_to = "User"
self_service = true
plans = ["CORE", "ADDON"]
prices = [{ currency = "USD", monthly = 1000, annual = 10000 }]

[[product]]
sku_id = "b0000000-0000-4000-8000-000000000002"
sku_part_number = "WIDGET_LITE"
product_id = "CFQ7TTC0TES2"
name = "Widget Lite"
applies_to = "User"
plans = ["LITE"]
trial = { days = 30, licenses = 5 }
"#;

both!(catalog_import_show_export_and_refusal, |sk| {
    let good = sk.write("catalog.toml", CATALOG);
    let s = sk.json(&["catalog", "import", &good, "--json"]);
    assert_eq!(s["products"], 2, "{s}");
    assert_eq!(s["plans"], 3, "{s}");
    let show = sk.json(&["catalog", "show", "--json"]);
    let parts: Vec<&str> = show["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["skuPartNumber"].as_str())
        .collect();
    assert_eq!(parts, ["WIDGET_PRO", "WIDGET_LITE"]);
    let addon = show["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["servicePlanName"] == "ADDON")
        .expect("ADDON")
        .clone();
    assert_eq!(addon["requires"], serde_json::json!(["CORE"]));
    let core = show["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["servicePlanName"] == "CORE")
        .expect("CORE")
        .clone();
    assert_eq!(
        core["excludes"],
        serde_json::json!(["LITE"]),
        "exclusion is symmetric"
    );
    let text = sk.ok(&["catalog", "show"]);
    assert!(
        text.contains("WIDGET_PRO") && text.contains("REQUIRES"),
        "{text}"
    );
    assert_eq!(sk.ok(&["catalog", "export"]), CATALOG);

    // A bad file: refused with its line and problem, nothing changed.
    let bad_src = CATALOG.replace(r#"plans = ["LITE"]"#, r#"plans = ["LITE", "NOPE"]"#);
    // The refusal names the line of the offending [[product]].
    let lines: Vec<&str> = bad_src.lines().collect();
    let part_at = lines
        .iter()
        .position(|l| l.contains(r#"sku_part_number = "WIDGET_LITE""#))
        .expect("line");
    let bad_line = lines[..part_at]
        .iter()
        .rposition(|l| *l == "[[product]]")
        .expect("[[product]]")
        + 1;
    let bad = sk.write("bad.toml", &bad_src);
    let err = sk.fail(&["catalog", "import", &bad]);
    assert!(
        err.contains(&format!("bad.toml: line {bad_line}: ")) && err.contains("'NOPE'"),
        "{err}"
    );
    let syntax = sk.write("syntax.toml", "[[plan]]\nid = \n");
    let err = sk.fail(&["catalog", "import", &syntax]);
    assert!(err.contains("syntax.toml: line 2: "), "{err}");
    assert_eq!(sk.ok(&["catalog", "export"]), CATALOG);

    // JSON by extension.
    let json_src = serde_json::json!({
        "plan": [{"id": "c0000000-0000-4000-8000-000000000001", "name": "ONLY", "display_name": "Only"}],
        "product": [{"sku_id": "d0000000-0000-4000-8000-000000000001", "sku_part_number": "JSON_ONE",
                     "product_id": "CFQ7TTC0JSON", "name": "Json One", "applies_to": "Company", "plans": ["ONLY"]}],
    });
    let jf = sk.write(
        "catalog.json",
        &serde_json::to_string_pretty(&json_src).expect("json"),
    );
    sk.ok(&["catalog", "import", &jf]);
    let show = sk.json(&["catalog", "show", "--json"]);
    assert_eq!(show["products"][0]["skuPartNumber"], "JSON_ONE");
    let bad_json = sk.write("bad.json", "{\n  \"plan\": [\n    {\"id\": 1,}\n  ]\n}\n");
    let err = sk.fail(&["catalog", "import", &bad_json]);
    assert!(err.contains("bad.json: line 3: "), "{err}");
    let err = sk.fail(&["catalog", "import", &sk.path("missing.toml")]);
    assert!(
        err.contains("cannot read") && err.contains("missing.toml"),
        "{err}"
    );
});

// ----- users -----

const HEADER: &str = "userPrincipalName,displayName,givenName,surname,mail,jobTitle,department,userType,usageLocation,accountEnabled";

fn generated_users(n: usize) -> (String, Vec<[String; 10]>) {
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let guest = i % 10 == 0;
        rows.push([
            format!("user{i:05}@contoso.example"),
            format!("User {i}, \"the {i}th\""),
            format!("Given{i}"),
            if i % 5 == 0 {
                String::new()
            } else {
                format!("Surname{i}")
            },
            if i % 3 == 0 {
                format!("u{i}@mail.contoso.example")
            } else {
                String::new()
            },
            if i % 2 == 0 {
                "Engineer".into()
            } else {
                String::new()
            },
            ["Sales", "IT", "Finance"][i % 3].into(),
            if guest { "Guest" } else { "Member" }.into(),
            if i % 4 == 0 {
                String::new()
            } else {
                ["US", "DK", "SE"][i % 3].into()
            },
            if i % 7 == 0 { "false" } else { "true" }.into(),
        ]);
    }
    // Mixed-case header names are accepted.
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(
        HEADER
            .replace("userPrincipalName", "UserPrincipalName")
            .split(','),
    )
    .expect("header");
    for r in &rows {
        csv.write_record(r).expect("row");
    }
    let data = String::from_utf8(csv.into_inner().expect("csv")).expect("utf8");
    (data, rows)
}

both!(users_import_2000_rows_and_export_round_trips, |sk| {
    sk.tenant("Contoso");
    let (data, rows) = generated_users(2000);
    let file = sk.write("users.csv", &data);
    let started = Instant::now();
    let s = sk.json(&["users", "import", "--tenant", "Contoso", &file, "--json"]);
    assert_eq!(s["created"], 2000, "{s}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "2,000 users took {:?}",
        started.elapsed()
    );
    let text = sk.ok(&["users", "list", "--tenant", "Contoso"]);
    assert!(text.contains("user01999@contoso.example"));
    let list = sk.json(&["users", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(list["value"].as_array().map(Vec::len), Some(2001));

    let out = sk.path("export.csv");
    sk.ok(&["users", "export", "--tenant", "Contoso", "--output", &out]);
    let exported = read_csv(Path::new(&out));
    assert_eq!(exported.len(), 2001);
    let by_upn: HashMap<&str, &HashMap<String, String>> = exported
        .iter()
        .map(|r| (r["userPrincipalName"].as_str(), r))
        .collect();
    let cols: Vec<&str> = HEADER.split(',').collect();
    for r in &rows {
        let got = by_upn.get(r[0].as_str()).expect("exported user");
        for (i, col) in cols.iter().enumerate() {
            let want = match *col {
                // Members without an address get their sign-in name as mail.
                "mail" if r[4].is_empty() && r[7] == "Member" => r[0].clone(),
                _ => r[i].clone(),
            };
            assert_eq!(got[*col], want, "{} {col}", r[0]);
        }
        assert!(got["id"].len() == 36 && got["licenses"].is_empty());
    }

    // The same file again: every row already exists.
    let err = sk.fail(&["users", "import", "--tenant", "Contoso", &file]);
    assert!(
        err.contains("2000 rows have 2000 problems; nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("line 2: user user00000@contoso.example already exists"),
        "{err}"
    );
    assert!(err.contains("and 1980 more"), "{err}");
    // Unless updating: one changed row, the export file itself is accepted.
    let changed = data.replace("Given7,", "Changed7,");
    let file2 = sk.write("users2.csv", &changed);
    let s = sk.json(&[
        "users",
        "import",
        "--tenant",
        "Contoso",
        &file2,
        "--update-existing",
        "--json",
    ]);
    assert_eq!(
        (&s["created"], &s["updated"], &s["unchanged"]),
        (&0.into(), &1.into(), &1999.into()),
        "{s}"
    );
    let s = sk.ok(&[
        "users",
        "import",
        "--tenant",
        "Contoso",
        &out,
        "--update-existing",
        "--quiet",
    ]);
    assert!(s.contains("0 created") && s.contains("1 updated"), "{s}");
});

both!(users_csv_with_bad_rows_is_refused_whole, |sk| {
    sk.tenant("Contoso");
    sk.ok(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "taken@contoso.example",
        "--display-name",
        "Taken",
    ]);
    let csv = format!(
        "{HEADER}\n\
         good@contoso.example,Good,,,,,,Member,US,true\n\
         not-an-upn,Bad,,,,,,Member,US,true\n\
         blank@contoso.example,,,,,,,Member,US,true\n\
         robot@contoso.example,Robot,,,,,,Robot,US,true\n\
         nowhere@contoso.example,Nowhere,,,,,,Member,XX,true\n\
         maybe@contoso.example,Maybe,,,,,,Member,US,maybe\n\
         GOOD@contoso.example,Good again,,,,,,Member,US,true\n\
         taken@contoso.example,Taken,,,,,,Member,US,true\n\
         short@contoso.example,Short\n\
         worst,,,,,,,Robot,XX,maybe\n"
    )
    .replace('\n', "\r\n");
    let file = sk.write("bad.csv", &csv);
    let err = sk.fail(&["users", "import", "--tenant", "Contoso", &file]);
    for needle in [
        "bad.csv: 9 rows have 13 problems; nothing was imported",
        "line 3: userPrincipalName 'not-an-upn' is not valid",
        "line 4: displayName is empty",
        "line 5: userType 'Robot'",
        "line 6: usageLocation 'XX'",
        "line 7: accountEnabled is 'maybe'",
        "line 8: userPrincipalName GOOD@contoso.example is also on line 2",
        "line 9: user taken@contoso.example already exists",
        "line 10: the row has 2 cells but the header has 10 columns",
        // Every problem of a row, not only the first.
        "line 11: displayName is empty",
        "line 11: accountEnabled is 'maybe'",
        "line 11: userPrincipalName 'worst' is not valid",
        "line 11: userType 'Robot'",
        "line 11: usageLocation 'XX'",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let list = sk.json(&["users", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(
        list["value"].as_array().map(Vec::len),
        Some(2),
        "nothing imported: {list}"
    );

    // More than 20 bad rows: the first 20 and a count.
    let mut many = String::from("userPrincipalName,displayName\n");
    for i in 0..25 {
        many.push_str(&format!("bad{i},Bad\n"));
    }
    let err = sk.fail(&[
        "users",
        "import",
        "--tenant",
        "Contoso",
        &sk.write("many.csv", &many),
    ]);
    assert!(
        err.contains("line 21: ") && !err.contains("line 22: "),
        "{err}"
    );
    assert!(err.contains("and 5 more"), "{err}");

    let unknown = sk.write("unknown.csv", "userPrincipalName,displayName,manager\n");
    let err = sk.fail(&["users", "import", "--tenant", "Contoso", &unknown]);
    assert!(
        err.contains("unknown column 'manager'") && err.contains("usageLocation"),
        "{err}"
    );
    let missing = sk.write(
        "missing.csv",
        "userPrincipalName,mail\na@contoso.example,a@contoso.example\n",
    );
    let err = sk.fail(&["users", "import", "--tenant", "Contoso", &missing]);
    assert!(err.contains("no displayName column"), "{err}");
});

both!(users_and_groups_commands, |sk| {
    sk.tenant("Contoso");
    let u = sk.json(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "adele@contoso.example",
        "--display-name",
        "Adele Vance",
        "--usage-location",
        "DK",
        "--department",
        "Sales",
        "--json",
    ]);
    assert_eq!(u["usageLocation"], "DK");
    sk.ok(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "guest@fabrikam.example",
        "--display-name",
        "Guest",
        "--user-type",
        "Guest",
    ]);
    let err = sk.fail(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "adele@contoso.example",
        "--display-name",
        "Again",
    ]);
    assert!(err.contains("already exists"), "{err}");
    let out = sk.ok(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "adele@contoso.example",
        "--roles",
        "LicenseAdmin,GlobalReader",
    ]);
    assert!(
        out.contains("LicenseAdmin") && out.contains("GlobalReader"),
        "{out}"
    );
    let err = sk.fail(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "adele@contoso.example",
        "--roles",
        "Janitor",
    ]);
    assert!(err.contains("unknown role 'Janitor'"), "{err}");
    sk.ok(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "adele@contoso.example",
        "--roles",
        "none",
    ]);
    let err = sk.fail(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "admin@contoso.example",
        "--roles",
        "none",
    ]);
    assert!(err.contains("last enabled Global admin"), "{err}");

    let g = sk.json(&[
        "groups",
        "create",
        "--tenant",
        "Contoso",
        "--name",
        "Engineering",
        "--description",
        "Builders",
        "--json",
    ]);
    assert_eq!(g["displayName"], "Engineering");
    sk.ok(&[
        "groups",
        "add-member",
        "--tenant",
        "Contoso",
        "engineering",
        "--users",
        "adele@contoso.example,guest@fabrikam.example",
    ]);
    let m = sk.json(&[
        "groups",
        "members",
        "--tenant",
        "Contoso",
        "Engineering",
        "--json",
    ]);
    assert_eq!(m["value"].as_array().map(Vec::len), Some(2), "{m}");
    let err = sk.fail(&[
        "groups",
        "add-member",
        "--tenant",
        "Contoso",
        "Engineering",
        "--users",
        "adele@contoso.example",
    ]);
    assert!(err.contains("already exist"), "{err}");
    sk.ok(&[
        "groups",
        "remove-member",
        "--tenant",
        "Contoso",
        g["id"].as_str().unwrap_or_default(),
        "--users",
        "guest@fabrikam.example",
    ]);
    let m = sk.json(&[
        "groups",
        "members",
        "--tenant",
        "Contoso",
        "Engineering",
        "--json",
    ]);
    assert_eq!(
        m["value"][0]["userPrincipalName"], "adele@contoso.example",
        "{m}"
    );
    let list = sk.ok(&["groups", "list", "--tenant", "Contoso"]);
    assert!(
        list.contains("Engineering") && list.contains("Builders"),
        "{list}"
    );
    sk.ok(&["groups", "delete", "--tenant", "Contoso", "Engineering"]);
    let err = sk.fail(&["groups", "members", "--tenant", "Contoso", "Engineering"]);
    assert!(
        err.contains("no group with id or name 'Engineering'"),
        "{err}"
    );

    sk.ok(&[
        "users",
        "delete",
        "--tenant",
        "Contoso",
        "guest@fabrikam.example",
    ]);
    let list = sk.json(&["users", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(list["value"].as_array().map(Vec::len), Some(2), "{list}");
});

// ----- subscriptions, licenses, audit, jobs -----

both!(subscriptions_buy_change_cancel_reactivate, |sk| {
    sk.tenant("Contoso");
    let s = sk.json(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "10",
        "--billing",
        "annual",
        "--json",
    ]);
    assert_eq!(
        (&s["quantity"], &s["billingFrequency"], &s["status"]),
        (&10.into(), &"annual".into(), &"Active".into()),
        "{s}"
    );
    let id = s["id"].as_str().unwrap_or_default().to_string();
    // The windows are the ones REST shows: 7 days from purchase.
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{v}: {e}"))
    };
    assert_eq!(
        time(&s["cancellationWindowEndsDateTime"]),
        time(&s["createdDateTime"]) + chrono::Duration::days(7),
        "{s}"
    );
    assert_eq!(
        s["removalWindowEndsDateTime"], s["cancellationWindowEndsDateTime"],
        "{s}"
    );
    let s = sk.json(&[
        "subscriptions",
        "set-quantity",
        "--tenant",
        "Contoso",
        "SUITE_STANDARD",
        "--quantity",
        "12",
        "--json",
    ]);
    assert_eq!(s["quantity"], 12);
    let s = sk.json(&[
        "subscriptions",
        "recurring",
        "--tenant",
        "Contoso",
        &id,
        "off",
        "--json",
    ]);
    assert_eq!(s["recurringBilling"], false);
    let s = sk.json(&[
        "subscriptions",
        "recurring",
        "--tenant",
        "Contoso",
        &id,
        "on",
        "--json",
    ]);
    assert_eq!(s["recurringBilling"], true);

    // A second subscription of the same product: the part number no longer names one.
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "3",
    ]);
    let err = sk.fail(&[
        "subscriptions",
        "set-quantity",
        "--tenant",
        "Contoso",
        "SUITE_STANDARD",
        "--quantity",
        "5",
    ]);
    assert!(
        err.contains("2 subscriptions of SUITE_STANDARD") && err.contains(&id),
        "{err}"
    );
    let lic = sk.json(&["licenses", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(lic["value"][0]["total"], 15, "{lic}");

    let s = sk.json(&[
        "subscriptions",
        "cancel",
        "--tenant",
        "Contoso",
        &id,
        "--reason",
        "NoLongerNeeded",
        "--json",
    ]);
    assert_eq!(
        (&s["subscription"]["status"], &s["outcome"]),
        (&"Disabled".into(), &"disabledNow".into()),
        "{s}"
    );
    assert!(
        s["subscription"]["cancellationWindowEndsDateTime"].is_null(),
        "{s}"
    );
    let lic = sk.json(&["licenses", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(lic["value"][0]["total"], 3, "{lic}");
    let s = sk.json(&[
        "subscriptions",
        "reactivate",
        "--tenant",
        "Contoso",
        &id,
        "--json",
    ]);
    assert_eq!(s["status"], "Active");
    let list = sk.json(&["subscriptions", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(list["value"].as_array().map(Vec::len), Some(2), "{list}");
    let text = sk.ok(&["subscriptions", "list", "--tenant", "Contoso"]);
    assert!(
        text.contains("SUITE_STANDARD") && text.contains(&id),
        "{text}"
    );

    let err = sk.fail(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "0",
    ]);
    assert!(err.contains("at least 1 license"), "{err}");
    let err = sk.fail(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "NO_SUCH_THING",
        "--quantity",
        "1",
    ]);
    assert!(err.contains("no product 'NO_SUCH_THING'"), "{err}");
    let err = sk.fail(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "1",
        "--billing",
        "weekly",
    ]);
    assert!(err.contains("weekly"), "{err}");
    let err = sk.fail(&[
        "subscriptions",
        "cancel",
        "--tenant",
        "Contoso",
        &id,
        "--reason",
        " ",
    ]);
    assert!(err.contains("Give a reason"), "{err}");

    // A catalog without the product is refused while subscriptions of it exist.
    let err = sk.fail(&["catalog", "import", &sk.write("catalog.toml", CATALOG)]);
    assert!(
        err.contains("SUITE_STANDARD") && err.contains("keep it in the catalog"),
        "{err}"
    );

    // The jobs: nothing due now.
    let r = sk.json(&["jobs", "run", "--json"]);
    assert_eq!(
        (&r["renewed"], &r["expired"]),
        (&0.into(), &0.into()),
        "{r}"
    );
    assert!(sk.ok(&["jobs", "run"]).contains("0 renewed"));

    // The audit log, as CSV, filtered by action and time.
    let out = sk.path("audit.csv");
    sk.ok(&[
        "audit",
        "export",
        "--tenant",
        "Contoso",
        "--action",
        "subscription.",
        "--output",
        &out,
    ]);
    let rows = read_csv(Path::new(&out));
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str()).collect();
    assert!(
        actions.iter().all(|a| a.starts_with("subscription.")),
        "{actions:?}"
    );
    // The same rows as the REST export: times in UTC with a `Z`.
    assert!(
        rows.iter().all(|r| r["dateTime"].ends_with('Z')),
        "{rows:?}"
    );
    for a in [
        "subscription.buy",
        "subscription.quantity",
        "subscription.recurring",
        "subscription.cancel",
        "subscription.reactivate",
    ] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
    let all = sk.ok(&[
        "audit",
        "export",
        "--tenant",
        "Contoso",
        "--since",
        "2000-01-01",
    ]);
    assert!(all.contains("tenant.create"), "{all}");
    let none = sk.ok(&[
        "audit",
        "export",
        "--tenant",
        "Contoso",
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert_eq!(none.lines().count(), 1, "{none}");
    let err = sk.fail(&[
        "audit",
        "export",
        "--tenant",
        "Contoso",
        "--since",
        "yesterday",
    ]);
    assert!(err.contains("RFC 3339"), "{err}");
});

both!(json_output_is_the_rest_representation, |sk| {
    let t = sk.tenant("Contoso");
    let token = t["token"].as_str().unwrap_or_default().to_string();
    let mut server = sk.serve(&[]);
    let rest = |path: &str| -> Value {
        let (status, body) = server.get(&format!("/api/v1{path}"), &token);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    };
    let u = sk.json(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "adele@contoso.example",
        "--display-name",
        "Adele Vance",
        "--json",
    ]);
    let users = sk.json(&["users", "list", "--tenant", "Contoso", "--json"]);
    let me = rest("/me");
    assert!(
        users["value"].as_array().is_some_and(|v| v.contains(&u)),
        "{users}"
    );
    assert!(
        users["value"]
            .as_array()
            .is_some_and(|v| v.contains(&me["user"])),
        "{users} {me}"
    );
    let s = sk.json(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "3",
        "--json",
    ]);
    let id = s["id"].as_str().unwrap_or_default();
    assert_eq!(s, rest(&format!("/subscriptions/{id}")));
    let assigned = sk.json(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "adele@contoso.example",
        "--disable",
        "WHITEBOARD",
        "--json",
    ]);
    let uid = u["id"].as_str().unwrap_or_default();
    assert_eq!(
        assigned["value"][0],
        rest(&format!("/users/{uid}/licenses"))
    );
    for (args, path) in [
        (&["subscriptions", "list"][..], "/subscriptions"),
        (&["licenses", "list"], "/licenses"),
        (
            &["licenses", "users", "--sku", "SUITE_STANDARD"],
            "/licenses/SUITE_STANDARD/users",
        ),
        (&["audit", "export"], "/audit?top=1000"),
    ] {
        let mut args = args.to_vec();
        args.extend(["--tenant", "Contoso", "--json"]);
        assert_eq!(sk.json(&args), rest(path), "{args:?}");
    }
    // Audit entry ids are strings, as REST pages by them.
    let audit = sk.json(&["audit", "export", "--tenant", "Contoso", "--json"]);
    assert!(audit["value"][0]["id"].is_string(), "{audit}");

    let cancelled = sk.json(&[
        "subscriptions",
        "cancel",
        "--tenant",
        "Contoso",
        id,
        "--reason",
        "NoLongerNeeded",
        "--json",
    ]);
    assert_eq!(cancelled["outcome"], "disabledNow", "{cancelled}");
    assert_eq!(
        cancelled["subscription"],
        rest(&format!("/subscriptions/{id}"))
    );
    assert!(server.terminate(Duration::from_secs(10)).success());
});

both!(licenses_assign_unassign_and_export_users, |sk| {
    sk.tenant("Contoso");
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--quantity",
        "2",
    ]);
    for u in ["a", "b", "c"] {
        sk.ok(&[
            "users",
            "create",
            "--tenant",
            "Contoso",
            "--upn",
            &format!("{u}@contoso.example"),
            "--display-name",
            u,
        ]);
    }
    let out = sk.json(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "a@contoso.example,b@contoso.example",
        "--disable",
        "WHITEBOARD",
        "--json",
    ]);
    assert_eq!(out["value"].as_array().map(Vec::len), Some(2), "{out}");
    let lic = sk.json(&["licenses", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(
        (
            &lic["value"][0]["assigned"],
            &lic["value"][0]["total"],
            &lic["value"][0]["available"]
        ),
        (&2.into(), &2.into(), &0.into()),
        "{lic}"
    );
    let text = sk.ok(&["licenses", "list", "--tenant", "Contoso"]);
    assert!(text.contains("2/2"), "{text}");

    let err = sk.fail(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "c@contoso.example",
    ]);
    assert!(
        err.contains("does not have any available licenses") && err.contains("0 available"),
        "{err}"
    );
    let err = sk.fail(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "a@contoso.example",
        "--disable",
        "CHAT",
    ]);
    assert!(err.contains("depends on"), "{err}");
    let err = sk.fail(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "a@contoso.example",
        "--disable",
        "NOT_A_PLAN",
    ]);
    assert!(
        err.contains("no service plan 'NOT_A_PLAN'") && err.contains("WHITEBOARD"),
        "{err}"
    );
    let err = sk.fail(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "nobody@contoso.example",
    ]);
    assert!(err.contains("nobody@contoso.example"), "{err}");

    let csv = sk.path("suite.csv");
    sk.ok(&[
        "licenses",
        "users",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--output",
        &csv,
    ]);
    let rows = read_csv(Path::new(&csv));
    let mut upns: Vec<&str> = rows
        .iter()
        .map(|r| r["userPrincipalName"].as_str())
        .collect();
    upns.sort();
    assert_eq!(upns, ["a@contoso.example", "b@contoso.example"]);
    assert!(
        rows.iter().all(|r| r["disabledPlans"] == "WHITEBOARD"
            && r["enabledPlans"].contains("CHAT")
            && r["source"] == "Direct"),
        "{rows:?}"
    );
    let users = sk.ok(&["users", "list", "--tenant", "Contoso"]);
    assert!(users.contains("SUITE_STANDARD"), "{users}");

    sk.ok(&[
        "licenses",
        "unassign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "a@contoso.example",
    ]);
    let err = sk.fail(&[
        "licenses",
        "unassign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "a@contoso.example",
    ]);
    assert!(
        err.contains("User does not have a corresponding license.")
            && err.contains("a@contoso.example does not hold SUITE_STANDARD"),
        "{err}"
    );
    sk.ok(&[
        "licenses",
        "assign",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--users",
        "c@contoso.example",
    ]);
    // Deleting a user frees the license.
    sk.ok(&[
        "users",
        "delete",
        "--tenant",
        "Contoso",
        "c@contoso.example",
    ]);
    let lic = sk.json(&["licenses", "list", "--tenant", "Contoso", "--json"]);
    assert_eq!(lic["value"][0]["assigned"], 1, "{lic}");
    let export = sk.json(&[
        "licenses",
        "users",
        "--tenant",
        "Contoso",
        "--sku",
        "SUITE_STANDARD",
        "--json",
    ]);
    assert_eq!(
        export["value"][0]["userPrincipalName"], "b@contoso.example",
        "{export}"
    );
});

// ----- errors and help -----

#[test]
fn bad_input_is_one_clear_error_with_exit_code_1() {
    let sk = Sk::sqlite();
    let err = sk.fail(&["users", "list", "--tenant", "Nobody"]);
    assert!(
        err.contains("no organization with id or name 'Nobody'"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    sk.tenant("Contoso");
    let err = sk.fail(&["users", "import", "--tenant", "Contoso", "no-such-file.csv"]);
    assert!(err.contains("cannot read no-such-file.csv"), "{err}");
    let err = sk.fail(&[
        "tenant",
        "create",
        "--name",
        "X",
        "--admin",
        "not an address",
    ]);
    assert!(
        err.contains("userPrincipalName 'not an address' is not valid"),
        "{err}"
    );
    let err = sk.fail(&[
        "subscriptions",
        "set-quantity",
        "--tenant",
        "Contoso",
        "3f1c0000-0000-4000-8000-000000000000",
        "--quantity",
        "2",
    ]);
    assert!(err.contains("does not exist"), "{err}");
    let err = sk.fail(&["token", "revoke", "--tenant", "Contoso", "not-an-id"]);
    assert!(err.contains("'not-an-id' is not a token id"), "{err}");
    let err = sk.fail(&["users", "lst"]);
    assert!(err.contains("unrecognized subcommand 'lst'"), "{err}");
    let err = sk.fail(&["--database-url", "mysql://x/y", "tenant", "list"]);
    assert!(err.contains("postgres://"), "{err}");
    // SEATKEEPER_TENANT names the organization for every command.
    let out = sk
        .command(&["users", "list", "--json"])
        .env("SEATKEEPER_TENANT", "Contoso")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_explains_each_command_with_an_example() {
    let sk = Sk::sqlite();
    let top = sk.ok(&["--help"]);
    for cmd in [
        "serve",
        "tenant",
        "catalog",
        "users",
        "groups",
        "subscriptions",
        "licenses",
        "audit",
        "jobs",
        "operator",
        "policy",
        "requests",
    ] {
        assert!(top.contains(cmd), "{cmd} missing in {top}");
    }
    for cmd in [
        &["catalog", "import"][..],
        &["users", "import"],
        &["users", "export"],
        &["groups", "add-member"],
        &["subscriptions", "buy"],
        &["subscriptions", "cancel"],
        &["licenses", "assign"],
        &["licenses", "users"],
        &["audit", "export"],
        &["jobs", "run"],
        &["operator", "token", "create"],
        &["operator", "audit"],
        &["policy", "list"],
        &["policy", "get"],
        &["policy", "set"],
        &["policy", "set-default"],
        &["requests", "list"],
        &["requests", "show"],
        &["requests", "decide"],
        &["partners", "list"],
        &["partners", "grant"],
        &["partners", "revoke"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = sk.ok(&args);
        assert!(
            help.contains(&format!("Example: seatkeeper {}", cmd.join(" "))),
            "{cmd:?}: {help}"
        );
    }
}

// ----- the operator, Global admins, organization names -----

/// A PUT of a TOML body with a bearer token over plain HTTP/1.1; returns the status and body.
fn put_toml(server: &Server, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(&server.addr).expect("connect to server");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .expect("send request");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read response");
    let text = String::from_utf8_lossy(&resp).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

both!(
    only_the_operator_changes_the_catalog_and_it_is_audited,
    |sk| {
        let contoso = sk.tenant("Contoso");
        sk.ok(&["catalog", "import", &sk.write("catalog.toml", CATALOG)]);
        let t = sk.json(&["operator", "token", "create", "--name", "deploy", "--json"]);
        let secret = t["token"].as_str().unwrap_or_default().to_string();
        assert!(secret.starts_with("skop_"), "{t}");
        let list = sk.json(&["operator", "token", "list", "--json"]);
        assert_eq!(list[0]["name"], "deploy", "{list}");
        assert!(!list.to_string().contains(&secret));

        let server = sk.serve(&[]);
        let admin_token = contoso["token"].as_str().unwrap_or_default();
        let demo = seatkeeper_domain::catalog::DEMO_CATALOG;
        // The organization's Global admin is told whose catalog it is and how it changes.
        let (status, body) = put_toml(&server, "/api/v1/catalog", admin_token, demo);
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("belongs to the operator") && body.contains("seatkeeper catalog import"),
            "{body}"
        );
        // The operator token replaces it, and reaches nothing of an organization.
        let with_demo = format!("{CATALOG}\n{demo}");
        let (status, body) = put_toml(&server, "/api/v1/catalog", &secret, &with_demo);
        assert_eq!(status, 200, "{body}");
        assert_eq!(server.get("/api/v1/licenses", &secret).0, 401);
        sk.ok(&[
            "operator",
            "token",
            "revoke",
            t["id"].as_str().unwrap_or_default(),
        ]);
        let (status, _) = put_toml(&server, "/api/v1/catalog", &secret, &with_demo);
        assert_eq!(status, 401);

        let log = sk.json(&["operator", "audit", "--json"]);
        let seen: Vec<(String, String)> = log
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_string(),
                    e["actor"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        for (action, actor) in [
            ("operator.token.revoke", "operator (cli)"),
            ("catalog.import", "operator token 'deploy'"),
            ("operator.token.create", "operator (cli)"),
            ("catalog.import", "operator (cli)"),
            ("tenant.create", "operator (cli)"),
        ] {
            assert!(
                seen.contains(&(action.to_string(), actor.to_string())),
                "{action} by {actor} missing: {seen:?}"
            );
        }
        let text = sk.ok(&["operator", "audit", "--action", "catalog."]);
        assert!(
            text.contains("catalog.import") && !text.contains("operator.token"),
            "{text}"
        );
        // The organization's own log has no catalog imports: the filter is refused, naming the
        // actions it has.
        let err = sk.fail(&[
            "audit", "export", "--tenant", "Contoso", "--action", "catalog.",
        ]);
        assert!(
            err.contains("action 'catalog.' matches no audit action")
                && err.contains("license.assign"),
            "{err}"
        );
    }
);

both!(organization_names_are_unique_and_match_in_any_case, |sk| {
    let first = sk.tenant("Contoso");
    let err = sk.fail(&[
        "tenant",
        "create",
        "--name",
        " CONTOSO ",
        "--admin",
        "admin@other.example",
    ]);
    assert!(
        err.contains("An organization named 'Contoso' exists already")
            && err.contains(first["tenantId"].as_str().unwrap_or("?")),
        "{err}"
    );
    let tenants = sk.json(&["tenant", "list", "--json"]);
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "{tenants}");
    let users = sk.json(&["users", "list", "--tenant", "contoso", "--json"]);
    assert_eq!(users["value"].as_array().map(Vec::len), Some(1), "{users}");
});

both!(the_last_enabled_global_admin_stays, |sk| {
    sk.tenant("Contoso");
    // A second Global admin who is disabled does not count.
    sk.ok(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "old.admin@contoso.example",
        "--display-name",
        "Old Admin",
        "--disabled",
    ]);
    sk.ok(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "old.admin@contoso.example",
        "--roles",
        "GlobalAdmin",
    ]);
    let err = sk.fail(&[
        "users",
        "delete",
        "--tenant",
        "Contoso",
        "admin@contoso.example",
    ]);
    assert!(err.contains("last enabled Global admin"), "{err}");
    let err = sk.fail(&[
        "users",
        "set-roles",
        "--tenant",
        "Contoso",
        "admin@contoso.example",
        "--roles",
        "UserAdmin",
    ]);
    assert!(err.contains("last enabled Global admin"), "{err}");
    sk.ok(&[
        "users",
        "delete",
        "--tenant",
        "Contoso",
        "old.admin@contoso.example",
    ]);
});

// ----- configuration -----

impl Sk {
    /// A command in the test's directory with no database flags and no SEATKEEPER_* variables
    /// but `env`.
    fn bare(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("SEATKEEPER_") {
                c.env_remove(k);
            }
        }
        c.env("SEATKEEPER_LOG", "warn").current_dir(&self.dir);
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).stdin(Stdio::null());
        c
    }

    fn bare_ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.bare(args, env).output().expect("run seatkeeper");
        assert!(
            o.status.success(),
            "seatkeeper {args:?} {env:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// The database URL of this test: PostgreSQL's, or an SQLite file under `sub`.
    fn url(&self, sub: &str) -> String {
        match &self.db_url {
            Some(u) => u.clone(),
            None => {
                let d = self.dir.join(sub);
                std::fs::create_dir_all(&d).expect("dir");
                format!("sqlite://{}?mode=rwc", d.join("seatkeeper.db").display())
            }
        }
    }
}

fn tenant_names(out: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .expect("array")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn settings_come_from_the_file_then_the_environment_then_flags() {
    let sk = Sk::sqlite();
    sk.write("seatkeeper.toml", "# settings\ndata_dir = \"from-file\"\n");
    let create = |name: &str, env: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec![
            "tenant",
            "create",
            "--name",
            name,
            "--admin",
            "admin@layers.example",
        ];
        args.extend_from_slice(flags);
        sk.bare_ok(&args, env);
    };
    create("File", &[], &[]);
    create("Env", &[("SEATKEEPER_DATA_DIR", "from-env")], &[]);
    create(
        "Flag",
        &[("SEATKEEPER_DATA_DIR", "from-env")],
        &["--data-dir", "from-flag"],
    );
    for (dir, name) in [
        ("from-file", "File"),
        ("from-env", "Env"),
        ("from-flag", "Flag"),
    ] {
        let out = sk.bare_ok(&["tenant", "list", "--json", "--data-dir", dir], &[]);
        assert_eq!(tenant_names(&out), vec![name.to_string()], "{dir}");
    }
    // --config names another file.
    sk.write("other.toml", "data_dir = \"from-file\"\n");
    let out = sk.bare_ok(
        &["--config", "other.toml", "tenant", "list", "--json"],
        &[("SEATKEEPER_LOG", "warn")],
    );
    assert_eq!(tenant_names(&out), vec!["File".to_string()]);

    // A bad file is refused with its line and the problem.
    sk.write("bad.toml", "data_dir = \"x\"\nlisten = \"127.0.0.1:1\n");
    let o = sk
        .bare(&["--config", "bad.toml", "tenant", "list"], &[])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: configuration file bad.toml is not valid"),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
    sk.write("typo.toml", "lisen = \"127.0.0.1:1\"\n");
    let o = sk
        .bare(&["--config", "typo.toml", "tenant", "list"], &[])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unknown field") && err.contains("lisen"),
        "{err}"
    );
    let o = sk
        .bare(&["--config", "missing.toml", "tenant", "list"], &[])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.toml does not exist"), "{err}");
}

both!(database_url_from_a_file, |sk| {
    let url = sk.url("via-file");
    sk.write("db-url", &format!("{url}\n"));
    sk.bare_ok(
        &[
            "tenant",
            "create",
            "--name",
            "Filed",
            "--admin",
            "a@filed.example",
        ],
        &[("SEATKEEPER_DATABASE_URL_FILE", "db-url")],
    );
    let out = sk.bare_ok(&["tenant", "list", "--json", "--database-url", &url], &[]);
    assert_eq!(tenant_names(&out), vec!["Filed".to_string()]);
    // Both a URL and a file is a mistake worth saying.
    let o = sk
        .bare(
            &["tenant", "list", "--database-url", &url],
            &[("SEATKEEPER_DATABASE_URL_FILE", "db-url")],
        )
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("use one"), "{err}");
});

both!(serve_never_logs_a_password, |sk| {
    const DB_SECRET: &str = "Db5ecretPw";
    const SMTP_SECRET: &str = "Sm7pSecretPw";
    // PostgreSQL here trusts local connections, so any password is accepted.
    let url = match &sk.db_url {
        Some(u) => u.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{DB_SECRET}@"),
            1,
        ),
        None => sk.url("db"),
    };
    sk.write(
        "seatkeeper.toml",
        &format!("database_url = \"{url}\"\nlisten = \"127.0.0.1:0\"\n"),
    );
    sk.write(
        "smtp-url",
        &format!("smtp://mailer:{SMTP_SECRET}@127.0.0.1:9?security=none"),
    );
    let err_path = sk.dir.join("serve.stderr");
    let mut child = sk
        .bare(
            &["serve", "--demo"],
            &[
                ("SEATKEEPER_LOG", "debug"),
                ("SEATKEEPER_SMTP_URL_FILE", "smtp-url"),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        addr: String::new(),
        token: None,
        password: None,
    };
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while server.token.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("serve printed no token in time: {out}"));
        if let Some(rest) = line.strip_prefix("Seatkeeper is listening on http://") {
            server.addr = rest.split_whitespace().next().unwrap_or("").to_string();
        }
        if let Some(t) = line.strip_prefix("Bearer token:") {
            server.token = Some(t.trim().to_string());
        }
        out.push_str(&line);
        out.push('\n');
    }
    let token = server.token.clone().expect("token");
    let (status, _) = server.get("/api/v1/licenses", &token);
    assert_eq!(status, 200);
    assert!(server.terminate(Duration::from_secs(20)).success());
    while let Ok(line) = rx.try_recv() {
        out.push_str(&line);
        out.push('\n');
    }
    let err = std::fs::read_to_string(&err_path).expect("stderr");
    assert!(
        err.contains("configuration"),
        "the settings are logged at debug level: {err}"
    );
    assert!(err.contains("mailer:***@"), "{err}");
    for secret in [DB_SECRET, SMTP_SECRET] {
        assert!(!out.contains(secret), "stdout shows a password: {out}");
        assert!(!err.contains(secret), "the log shows a password: {err}");
    }
});

// ----- passwords -----

impl Sk {
    /// Runs a command with `input` on standard input; returns the output.
    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn seatkeeper");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait for seatkeeper")
    }

    /// Signs in through the app on this database (no server running); Ok(must change password).
    fn sign_in(&self, user: &str, password: &str) -> Result<bool, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let app = seatkeeper_app::App::open(
                self.db_url.as_deref(),
                &self.dir,
                seatkeeper_app::Config {
                    mail: seatkeeper_app::mail::MailConfig {
                        from: "t@test.example".into(),
                        transport: seatkeeper_app::mail::Transport::EmlDir(self.dir.join("m")),
                    },
                    dev_clock: false,
                    public_url: None,
                },
            )
            .await
            .expect("app");
            let r = app
                .sign_in(user, password, None, &Default::default())
                .await
                .map(|s| s.session.must_change_password)
                .map_err(|e| e.to_string());
            app.close().await;
            r
        })
    }
}

both!(
    tenant_create_gives_an_initial_password_that_must_be_changed,
    |sk| {
        let b = sk.tenant("Contoso");
        let initial = b["initialPassword"]
            .as_str()
            .expect("initialPassword")
            .to_string();
        assert_eq!(sk.sign_in("admin@contoso.example", &initial), Ok(true));
        let text = sk.ok(&[
            "tenant",
            "create",
            "--name",
            "Tailspin",
            "--admin",
            "it@tailspin.example",
        ]);
        assert!(text.contains("Initial password: "), "{text}");
        assert!(
            text.contains("(must be changed at the first sign-in)"),
            "{text}"
        );
        // --password-stdin: the operator's password, no change required, not printed.
        let o = sk.run_with_stdin(
            &[
                "tenant",
                "create",
                "--name",
                "Fabrikam",
                "--admin",
                "admin@fabrikam.example",
                "--password-stdin",
                "--json",
            ],
            "Fabrikam-admin-1\n",
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !out.contains("initialPassword") && !out.contains("Fabrikam-admin-1"),
            "{out}"
        );
        assert_eq!(
            sk.sign_in("admin@fabrikam.example", "Fabrikam-admin-1"),
            Ok(false)
        );
    }
);

both!(users_set_password_reads_stdin_and_never_shows_it, |sk| {
    sk.tenant("Contoso");
    sk.ok(&[
        "users",
        "create",
        "--tenant",
        "Contoso",
        "--upn",
        "adele@contoso.example",
        "--display-name",
        "Adele",
    ]);
    let args = [
        "users",
        "set-password",
        "--tenant",
        "Contoso",
        "--user",
        "adele@contoso.example",
        "--password-stdin",
    ];
    let o = sk.run_with_stdin(&args, "password\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("It lacks upper-case letters, digits and symbols"),
        "{err}"
    );
    let mut forced = args.to_vec();
    forced.push("--force-change");
    let o = sk.run_with_stdin(&forced, "Adele-pass-1\r\n");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("Password of adele@contoso.example set (must be changed at the next sign-in)"),
        "{out}"
    );
    assert_eq!(
        sk.sign_in("adele@contoso.example", "Adele-pass-1"),
        Ok(true)
    );
    let o = sk.run_with_stdin(&args, "Adele-pass-2\n");
    assert!(o.status.success());
    assert_eq!(
        sk.sign_in("adele@contoso.example", "Adele-pass-2"),
        Ok(false)
    );
    assert_eq!(
        sk.sign_in("adele@contoso.example", "Adele-pass-1"),
        Err("The user name or password is incorrect.".to_string())
    );
    let list = sk.ok(&["users", "list", "--tenant", "Contoso", "--json"]);
    let audit = sk.ok(&["audit", "export", "--tenant", "Contoso"]);
    for text in [list, audit.clone()] {
        assert!(
            !text.contains("Adele-pass") && !text.contains("argon2"),
            "{text}"
        );
    }
    assert!(audit.contains("user.password.set"), "{audit}");
    // A password is never an argument.
    let e = sk.fail(&[
        "users",
        "set-password",
        "--tenant",
        "Contoso",
        "--user",
        "adele@contoso.example",
    ]);
    assert!(e.contains("--password-stdin"), "{e}");
});

both!(
    serve_demo_prints_a_password_that_works_or_says_it_changed,
    |sk| {
        let password_line = |server: &mut Server| -> String {
            let _ = server.terminate(Duration::from_secs(10));
            server.password.clone().expect("a Password: line")
        };
        let mut server = sk.serve(&["--demo"]);
        let first = password_line(&mut server);
        assert!(first.starts_with("Contoso-demo-1"), "{first}");
        assert_eq!(
            sk.sign_in("admin@contoso.example", "Contoso-demo-1"),
            Ok(false)
        );
        // Restarted, the demo organization exists: the same password still works.
        let mut server = sk.serve(&["--demo"]);
        assert_eq!(password_line(&mut server), first);
        let o = sk.run_with_stdin(
            &[
                "users",
                "set-password",
                "--tenant",
                "Contoso (demo)",
                "--user",
                "admin@contoso.example",
                "--password-stdin",
            ],
            "Another-pass-1\n",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut server = sk.serve(&["--demo"]);
        let changed = password_line(&mut server);
        assert!(
            changed.starts_with("changed since the demo set it"),
            "{changed}"
        );
        assert!(!changed.contains("Contoso-demo-1"), "{changed}");
    }
);

both!(serve_demo_keeps_one_active_demo_token, |sk| {
    let mut server = sk.serve(&["--demo"]);
    let first = server.token.clone().expect("a token");
    assert_eq!(server.get("/v1.0/subscribedSkus", &first).0, 200);
    let _ = server.terminate(Duration::from_secs(10));
    // Restarted: a new token, and the one printed before no longer works.
    let mut server = sk.serve(&["--demo"]);
    let second = server.token.clone().expect("a token");
    assert_ne!(first, second);
    assert_eq!(server.get("/v1.0/subscribedSkus", &second).0, 200);
    assert_eq!(server.get("/v1.0/subscribedSkus", &first).0, 401);
    let (status, body) = server.get("/api/v1/tokens", &second);
    let _ = server.terminate(Duration::from_secs(10));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let active = v["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|t| t["revokedDateTime"].is_null())
        .count();
    assert_eq!(active, 1, "{body}");
});

// ----- the self-service purchase policy -----

both!(
    policy_commands_list_get_and_set_like_the_commerce_module,
    |sk| {
        let t = sk.tenant("Fabrikam");
        let token = t["token"].as_str().expect("token").to_string();
        let out = sk.ok(&["policy", "list", "--tenant", "Fabrikam"]);
        let head: Vec<&str> = out
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(
            head,
            ["PolicyId", "ProductName", "ProductId", "PolicyValue"],
            "{out}"
        );
        let basic = out
            .lines()
            .find(|l| l.contains("CFQ7TTC0LH18"))
            .unwrap_or_else(|| panic!("Suite Basic missing: {out}"));
        assert!(
            basic.starts_with("AllowSelfServicePurchase")
                && basic.contains("Suite Basic")
                && basic.trim_end().ends_with("Enabled"),
            "{basic}"
        );
        assert!(
            !out.contains("CFQ7TTC0LFLZ"),
            "a product that is not self-service eligible is listed: {out}"
        );

        let set = sk.json(&[
            "policy",
            "set",
            "--tenant",
            "Fabrikam",
            "--product-id",
            "CFQ7TTC0LH18",
            "--value",
            "Disabled",
            "--json",
        ]);
        assert_eq!(
            set,
            serde_json::json!({"policyId": "AllowSelfServicePurchase", "productName": "Suite Basic", "productId": "CFQ7TTC0LH18", "policyValue": "Disabled"})
        );
        let got = sk.ok(&[
            "policy",
            "get",
            "--tenant",
            "Fabrikam",
            "--product-id",
            "cfq7ttc0lh18",
        ]);
        assert!(
            got.lines()
                .nth(1)
                .is_some_and(|l| l.contains("Suite Basic") && l.trim_end().ends_with("Disabled")),
            "{got}"
        );
        sk.ok(&[
            "policy",
            "set-default",
            "--tenant",
            "Fabrikam",
            "--value",
            "OnlyTrialsWithoutPaymentMethod",
        ]);

        // --json prints the REST body.
        let cli = sk.json(&["policy", "list", "--tenant", "Fabrikam", "--json"]);
        let server = sk.serve(&[]);
        let (status, body) =
            server.get("/api/v1/policies/AllowSelfServicePurchase/products", &token);
        assert_eq!(status, 200, "{body}");
        let rest: Value = serde_json::from_str(&body).expect("REST JSON");
        assert_eq!(cli, rest);
        let standard = rest["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["productId"] == "CFQ7TTC0LDPB")
            .cloned()
            .unwrap();
        assert_eq!(standard["policyValue"], "OnlyTrialsWithoutPaymentMethod");

        // Refusals name what is valid, exit code 1, nothing changed.
        let err = sk.fail(&[
            "policy",
            "set",
            "--tenant",
            "Fabrikam",
            "--product-id",
            "CFQ7TTC0LH18",
            "--value",
            "Maybe",
        ]);
        assert!(
            err.contains("Enabled, OnlyTrialsWithoutPaymentMethod, Disabled"),
            "{err}"
        );
        let err = sk.fail(&[
            "policy",
            "get",
            "--tenant",
            "Fabrikam",
            "--product-id",
            "CFQ7TTC0LFLZ",
        ]);
        assert!(
            err.contains("not eligible for self-service purchase"),
            "{err}"
        );
        let got = sk.json(&[
            "policy",
            "get",
            "--tenant",
            "Fabrikam",
            "--product-id",
            "CFQ7TTC0LH18",
            "--json",
        ]);
        assert_eq!(got["policyValue"], "Disabled");
        let audit = sk.ok(&[
            "audit", "export", "--tenant", "Fabrikam", "--action", "policy.",
        ]);
        assert_eq!(audit.lines().count(), 3, "header and two changes: {audit}");
    }
);

// ----- group-based licensing: a job survives kill -9 -----

/// Inserts `n` members straight into the database (users and a group's membership, in join
/// order), as a large directory sync would have left them.
fn seed_group(sk: &Sk, tenant: &str, group: &str, n: usize) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let db = match &sk.db_url {
            Some(u) => seatkeeper_store::Db::connect(u).await.expect("connect"),
            None => seatkeeper_store::Db::open_dir(&sk.dir).await.expect("open"),
        };
        let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        for (c, chunk) in ids.chunks(1000).enumerate() {
            let users: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let k = c * 1000 + i;
                    format!("('{id}', '{tenant}', 'm{k}@bulk.example', 'm{k}@bulk.example', 'Member {k}', 'member {k}', 'Member', 'US', 1, 0)")
                })
                .collect();
            let members: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| format!("('{group}', '{id}', '{tenant}', {})", c * 1000 + i))
                .collect();
            let mut tx = db.begin().await.expect("begin");
            for sql in [
                format!("INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, name_lower, user_type, usage_location, account_enabled, created_at) VALUES {}", users.join(",")),
                format!("INSERT INTO group_members (group_id, user_id, tenant_id, added_at) VALUES {}", members.join(",")),
            ] {
                seatkeeper_store::sqlx::query(seatkeeper_store::sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
            }
            tx.commit().await.expect("commit");
        }
        db.close().await;
    });
}

both!(
    a_group_job_killed_mid_way_resumes_and_finishes_exactly,
    |sk| { group_job_killed_mid_way(&sk, 29_990) }
);

both!(
    a_group_job_with_a_license_for_everyone_killed_mid_way_resumes_and_finishes,
    |sk| { group_job_killed_mid_way(&sk, 30_000) }
);

/// A product bought `bought` times is assigned to a group of 30,000 members; the server is
/// killed mid-way through the job and started again: the job finishes exactly, and when
/// licenses are short the members who joined last are the ones without.
fn group_job_killed_mid_way(sk: &Sk, bought: i64) {
    {
        let t = sk.tenant("Bulk");
        let tenant = t["tenantId"].as_str().expect("tenantId").to_string();
        let token = t["token"].as_str().expect("token").to_string();
        let n = 30_000;
        let short = n as i64 - bought;
        sk.ok(&[
            "subscriptions",
            "buy",
            "--tenant",
            "Bulk",
            "--sku",
            "SUITE_BASIC",
            "--quantity",
            &bought.to_string(),
        ]);
        let g = sk.json(&[
            "groups", "create", "--tenant", "Bulk", "--name", "All", "--json",
        ]);
        let gid = g["id"].as_str().expect("group id").to_string();
        seed_group(sk, &tenant, &gid, n);

        let mut server = sk.serve(&[]);
        let job = sk.json(&[
            "groups",
            "assign-license",
            "--tenant",
            "Bulk",
            "All",
            "--add",
            "SUITE_BASIC",
            "--json",
        ]);
        let job_id = job["id"].as_str().expect("job id").to_string();
        let read = |server: &Server| -> Value {
            let (status, body) = server.get(&format!("/api/v1/jobs/{job_id}"), &token);
            assert_eq!(status, 200, "{body}");
            serde_json::from_str(&body).expect("job JSON")
        };
        // Kill the server without warning once some members, not all, are processed.
        let deadline = Instant::now() + Duration::from_secs(120);
        let at_kill = loop {
            let j = read(&server);
            let done = j["processed"].as_i64().unwrap_or(0);
            if done > 0 {
                server.child.kill().expect("kill -9");
                server.child.wait().expect("wait");
                break j;
            }
            assert!(Instant::now() < deadline, "the job did not start: {j}");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            at_kill["processed"].as_i64().unwrap() < n as i64,
            "killed after the job finished: {at_kill}"
        );
        assert_eq!(at_kill["state"], "Running", "{at_kill}");

        // Started again, the job resumes where its last step committed and finishes.
        let server = sk.serve(&[]);
        let deadline = Instant::now() + Duration::from_secs(300);
        let done = loop {
            let j = read(&server);
            if j["state"] == "Completed" {
                break j;
            }
            assert!(Instant::now() < deadline, "the job did not finish: {j}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(done["processed"], n as i64, "{done}");
        assert_eq!(done["errors"], short, "{done}");

        // Exactly one license per member who got one, counters equal to rows, never more than bought.
        let (status, body) = server.get(&format!("/api/v1/groups/{gid}/licenses"), &token);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["membersWithLicenseErrors"], short, "{v}");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (assigned, total, rows, sources, active, early) = rt.block_on(async {
        let db = match &sk.db_url {
            Some(u) => seatkeeper_store::Db::connect(u).await.expect("connect"),
            None => seatkeeper_store::Db::open_dir(&sk.dir).await.expect("open"),
        };
        let mut c = db.reader().acquire().await.expect("conn");
        let q = |sql: &'static str| seatkeeper_store::sqlx::query_scalar::<_, i64>(sql);
        let assigned = q("SELECT assigned FROM pools WHERE kind = 'central' AND sku_id = '3b555118-da6a-4418-894f-7df1e2096870'").fetch_one(&mut *c).await.expect("pool");
        let total = q("SELECT total FROM pools WHERE kind = 'central' AND sku_id = '3b555118-da6a-4418-894f-7df1e2096870'").fetch_one(&mut *c).await.expect("pool");
        let rows = q("SELECT COUNT(*) FROM assignments WHERE sku_id = '3b555118-da6a-4418-894f-7df1e2096870'").fetch_one(&mut *c).await.expect("rows");
        let sources = q("SELECT COUNT(*) FROM license_sources").fetch_one(&mut *c).await.expect("sources");
        let active = q("SELECT COUNT(*) FROM license_sources WHERE state = 'Active'").fetch_one(&mut *c).await.expect("active");
        // Members in error who are not among the last `short` to join.
        let early = seatkeeper_store::sqlx::query_scalar::<_, i64>(seatkeeper_store::sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM license_sources s JOIN group_members m ON m.user_id = s.user_id AND m.group_id = s.group_id
             WHERE s.state = 'Error' AND m.added_at < {bought}"
        ))).fetch_one(&mut *c).await.expect("early");
        drop(c);
        db.close().await;
        (assigned, total, rows, sources, active, early)
    });
        assert_eq!(total, bought);
        assert_eq!(assigned, rows, "the counter equals the rows");
        assert_eq!(rows, bought, "every license bought is used once");
        assert_eq!(sources, n as i64, "one source row per member");
        assert_eq!(active, bought);
        assert_eq!(early, 0, "the members who joined first hold the licenses");
        // One audit entry per job step, the last saying it completed.
        let (status, body) = server.get("/api/v1/audit?action=license.job.step&top=100", &token);
        assert_eq!(status, 200, "{body}");
        let a: Value = serde_json::from_str(&body).expect("JSON");
        let steps = a["value"].as_array().expect("entries");
        let chunk = seatkeeper_app::group_licensing::JOB_CHUNK as usize;
        assert_eq!(steps.len(), n.div_ceil(chunk) + 1, "{a}");
        assert!(
            steps[0]["summary"]
                .as_str()
                .unwrap()
                .contains("processing complete"),
            "{a}"
        );
    }
}

both!(acknowledged_assignments_survive_a_kill_under_load, |sk| {
    assignments_killed_under_load(&sk)
});

/// 16 clients assign a product to 600 users one call each while the server is killed without
/// warning; started again, every acknowledged assignment is there, each license once, with its
/// audit entry and its seat, and nothing else is half there.
fn assignments_killed_under_load(sk: &Sk) {
    const SKU: &str = "3b555118-da6a-4418-894f-7df1e2096870";
    let t = sk.tenant("Load");
    let tenant = t["tenantId"].as_str().expect("tenantId").to_string();
    let token = t["token"].as_str().expect("token").to_string();
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Load",
        "--sku",
        "SUITE_BASIC",
        "--quantity",
        "1000",
    ]);
    let g = sk.json(&[
        "groups", "create", "--tenant", "Load", "--name", "People", "--json",
    ]);
    let n = 600;
    seed_group(sk, &tenant, g["id"].as_str().expect("group id"), n);

    let mut server = sk.serve(&[]);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let clients = 16;
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, token, acked) = (server.addr.clone(), token.clone(), acked.clone());
            std::thread::spawn(move || {
                let body = format!(
                    r#"{{"addLicenses": [{{"skuId": "{SKU}", "disabledPlans": []}}], "removeLicenses": []}}"#
                );
                let mut k = c;
                while k < n {
                    let path = format!("/v1.0/users/m{k}@bulk.example/assignLicense");
                    match http_post(&addr, &path, &token, &body) {
                        Ok((200, _)) => acked.lock().expect("lock").push(k),
                        Ok((status, body)) => panic!("m{k}: {status} {body}"),
                        // The server is gone: this call was not acknowledged.
                        Err(_) => return,
                    }
                    k += clients;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("lock").len() < 150 {
        assert!(Instant::now() < deadline, "too few assignments were made");
        std::thread::sleep(Duration::from_millis(2));
    }
    server.child.kill().expect("kill -9");
    server.child.wait().expect("wait");
    for h in handles {
        h.join().expect("client");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() < n, "the load had ended before the kill");

    // Started again: every acknowledged license is there once, counters equal rows, and each
    // license made (acknowledged or not) has its audit entry.
    let server = sk.serve(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (holders, assigned, audited) = rt.block_on(async {
        let db = match &sk.db_url {
            Some(u) => seatkeeper_store::Db::connect(u).await.expect("connect"),
            None => seatkeeper_store::Db::open_dir(&sk.dir).await.expect("open"),
        };
        let mut c = db.reader().acquire().await.expect("conn");
        let holders: Vec<(String, i64)> = seatkeeper_store::sqlx::query_as(
            seatkeeper_store::sqlx::AssertSqlSafe(format!(
                "SELECT u.upn, COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE a.sku_id = '{SKU}' AND a.tenant_id = '{tenant}' GROUP BY u.upn"
            )),
        )
        .fetch_all(&mut *c)
        .await
        .expect("holders");
        let assigned: i64 = seatkeeper_store::sqlx::query_scalar(seatkeeper_store::sqlx::AssertSqlSafe(format!(
            "SELECT assigned FROM pools WHERE kind = 'central' AND sku_id = '{SKU}' AND tenant_id = '{tenant}'"
        )))
        .fetch_one(&mut *c)
        .await
        .expect("pool");
        let audited: i64 = seatkeeper_store::sqlx::query_scalar(seatkeeper_store::sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_log WHERE tenant_id = '{tenant}' AND action = 'license.assign' AND summary LIKE '%assigned SUITE_BASIC'"
        )))
        .fetch_one(&mut *c)
        .await
        .expect("audit");
        drop(c);
        db.close().await;
        (holders, assigned, audited)
    });
    assert!(holders.iter().all(|(_, n)| *n == 1), "{holders:?}");
    for k in &acked {
        let upn = format!("m{k}@bulk.example");
        assert!(
            holders.iter().any(|(u, _)| *u == upn),
            "{upn} was acknowledged but holds no license"
        );
    }
    let rows = holders.len() as i64;
    eprintln!("{} acknowledged, {rows} made before the kill", acked.len());
    assert_eq!(assigned, rows, "the seat counter equals the rows");
    assert_eq!(audited, rows, "one audit entry per license made");
    // The server serves again: one more assignment takes one more seat.
    let k = (0..n).find(|k| {
        !holders
            .iter()
            .any(|(u, _)| *u == format!("m{k}@bulk.example"))
    });
    let k = k.expect("a user without the license");
    let body = format!(
        r#"{{"addLicenses": [{{"skuId": "{SKU}", "disabledPlans": []}}], "removeLicenses": []}}"#
    );
    let (status, answer) = server
        .post(
            &format!("/v1.0/users/m{k}@bulk.example/assignLicense"),
            &token,
            &body,
        )
        .expect("post");
    assert_eq!(status, 200, "{answer}");
}

both!(group_members_from_a_file_get_the_groups_products, |sk| {
    sk.tenant("Files");
    let (data, rows) = generated_users(40);
    let file = sk.write("people.csv", &data);
    sk.ok(&["users", "import", "--tenant", "Files", &file]);
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Files",
        "--sku",
        "CHAT_ESSENTIALS",
        "--quantity",
        "30",
    ]);
    sk.ok(&["groups", "create", "--tenant", "Files", "--name", "Chat"]);
    let job = sk.json(&[
        "groups",
        "assign-license",
        "--tenant",
        "Files",
        "Chat",
        "--add",
        "CHAT_ESSENTIALS",
        "--disabled-plans",
        "WHITEBOARD",
        "--wait",
        "--json",
    ]);
    assert_eq!(job["state"], "Completed", "{job}");
    assert_eq!(job["total"], 0, "an empty group: {job}");

    // A file with one unknown name is refused whole: nothing is added.
    let mut list = String::from("userPrincipalName\n");
    for r in rows.iter().take(5) {
        list.push_str(&format!("{}\n", r[0]));
    }
    list.push_str("nobody@files.example\n");
    let bad = sk.write("bad-members.csv", &list);
    let err = sk.fail(&[
        "groups", "members", "add", "--tenant", "Files", "--group", "Chat", "--file", &bad,
    ]);
    assert!(
        err.contains("1 of 6 names is not a user") && err.contains("nobody@files.example"),
        "{err}"
    );
    let members = sk.json(&["groups", "members", "--tenant", "Files", "Chat", "--json"]);
    assert_eq!(members["value"].as_array().unwrap().len(), 0, "{members}");

    // 35 members for 30 licenses: the first 30 in the file get them, 5 are in error.
    let mut list = String::from("userPrincipalName\n");
    for r in rows.iter().take(35) {
        list.push_str(&format!("{}\n", r[0].to_uppercase()));
    }
    let good = sk.write("members.csv", &list);
    let job = sk.json(&[
        "groups", "members", "add", "--tenant", "Files", "--group", "Chat", "--file", &good,
        "--wait", "--json",
    ]);
    assert_eq!(job["state"], "Completed", "{job}");
    assert_eq!(job["processed"], 35, "{job}");
    assert_eq!(job["errors"], 5, "{job}");
    let members = sk.json(&["groups", "members", "--tenant", "Files", "Chat", "--json"]);
    assert_eq!(members["value"].as_array().unwrap().len(), 35);
    let errors = sk.json(&[
        "groups",
        "license-errors",
        "--tenant",
        "Files",
        "Chat",
        "--json",
    ]);
    let errors = errors.as_array().expect("list");
    assert_eq!(errors.len(), 5);
    assert!(errors.iter().all(|e| e["error"] == "CountViolation"));
    let in_error: Vec<String> = errors
        .iter()
        .map(|e| e["userPrincipalName"].as_str().unwrap().to_lowercase())
        .collect();
    for r in rows.iter().skip(30).take(5) {
        assert!(
            in_error.contains(&r[0].to_lowercase()),
            "{} should be one of the last",
            r[0]
        );
    }
    let table = sk.ok(&["groups", "license-errors", "--tenant", "Files", "Chat"]);
    assert!(
        table.contains("CountViolation") && table.contains("buy more"),
        "{table}"
    );
    // A member's licenses show the product, with Whiteboard off.
    let csv = sk.ok(&[
        "licenses",
        "users",
        "--tenant",
        "Files",
        "--sku",
        "CHAT_ESSENTIALS",
    ]);
    assert_eq!(csv.lines().count(), 31, "a header and 30 holders: {csv}");
});

// ----- license requests -----

/// A Member of `tenant` requests `sku` for themselves and `others`, through the app as the
/// REST API does; returns the request's id.
fn submit_request(sk: &Sk, tenant: &str, upn: &str, sku: &str, others: &[&str]) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let db = match &sk.db_url {
            Some(u) => seatkeeper_store::Db::connect(u).await.expect("connect"),
            None => seatkeeper_store::Db::open_dir(&sk.dir).await.expect("open"),
        };
        let app = seatkeeper_app::App::new(
            db,
            seatkeeper_app::Config {
                mail: seatkeeper_app::mail::MailConfig {
                    from: "t@localhost".into(),
                    transport: seatkeeper_app::mail::Transport::EmlDir(sk.dir.join("mail")),
                },
                dev_clock: false,
                public_url: None,
            },
        )
        .await
        .expect("app");
        let mut conn = app.read().await.expect("conn");
        let t = seatkeeper_store::tenants::get_by_name(&mut conn, tenant)
            .await
            .expect("query")
            .expect("tenant");
        let u = seatkeeper_store::directory::get_user_by_upn(&mut conn, t.id, upn)
            .await
            .expect("query")
            .expect("user");
        drop(conn);
        let actor = seatkeeper_app::Actor {
            tenant_id: t.id,
            user_id: Some(u.id),
            name: u.upn.clone(),
            roles: vec![],
            partner: None,
        };
        let others: Vec<String> = others.iter().map(|s| s.to_string()).collect();
        let d = app
            .submit_request(
                &actor,
                app.catalog().find_product(sku).expect("product").sku_id,
                &others,
                Some("for the launch"),
            )
            .await
            .expect("submit");
        d.request.id.to_string()
    })
}

/// Runs `f` with an app on the test's database and the id of `tenant`.
fn with_app<T, F, Fut>(sk: &Sk, tenant: &str, f: F) -> T
where
    F: FnOnce(seatkeeper_app::App, seatkeeper_domain::TenantId) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let db = match &sk.db_url {
            Some(u) => seatkeeper_store::Db::connect(u).await.expect("connect"),
            None => seatkeeper_store::Db::open_dir(&sk.dir).await.expect("open"),
        };
        let app = seatkeeper_app::App::new(
            db,
            seatkeeper_app::Config {
                mail: seatkeeper_app::mail::MailConfig {
                    from: "t@localhost".into(),
                    transport: seatkeeper_app::mail::Transport::EmlDir(sk.dir.join("mail")),
                },
                dev_clock: true,
                public_url: None,
            },
        )
        .await
        .expect("app");
        let mut conn = app.read().await.expect("conn");
        let t = seatkeeper_store::tenants::get_by_name(&mut conn, tenant)
            .await
            .expect("query")
            .expect("tenant");
        drop(conn);
        f(app, t.id).await
    })
}

both!(
    partners_are_granted_listed_and_revoked_from_the_command_line,
    |sk| {
        sk.tenant("Contoso");
        sk.tenant("Fabrikam");
        let out = sk.ok(&["partners", "list", "--tenant", "Contoso"]);
        assert!(out.contains("No partners."), "{out}");
        let out = sk.ok(&[
            "partners",
            "grant",
            "--tenant",
            "Contoso",
            "--user",
            "admin@fabrikam.example",
            "--role",
            "LicenseAdmin",
            "--role",
            "global admin",
        ]);
        assert!(
        out.contains("admin@fabrikam.example (Fabrikam) now acts for this organization as GlobalAdmin, LicenseAdmin."),
        "{out}"
    );
        let out = sk.ok(&["partners", "list", "--tenant", "Contoso"]);
        let row = out.lines().nth(1).unwrap_or_default();
        assert!(
            row.starts_with("admin@fabrikam.example")
                && row.contains("Fabrikam")
                && row.contains("GlobalAdmin, LicenseAdmin"),
            "{out}"
        );
        let list = sk.json(&["partners", "list", "--tenant", "Contoso", "--json"]);
        assert_eq!(
            list["value"][0]["roles"],
            serde_json::json!(["GlobalAdmin", "LicenseAdmin"]),
            "{list}"
        );
        // Only Contoso has them.
        let out = sk.ok(&["partners", "list", "--tenant", "Fabrikam"]);
        assert!(out.contains("No partners."), "{out}");

        // A user of the organization itself, an unknown role: refused with what to do.
        let err = sk.fail(&[
            "partners",
            "grant",
            "--tenant",
            "Contoso",
            "--user",
            "admin@contoso.example",
            "--role",
            "LicenseAdmin",
        ]);
        assert!(
            err.contains("is a user of this organization; give them a role instead"),
            "{err}"
        );
        let err = sk.fail(&[
            "partners",
            "grant",
            "--tenant",
            "Contoso",
            "--user",
            "admin@fabrikam.example",
            "--role",
            "Owner",
        ]);
        assert!(err.contains("--role 'Owner' is not known"), "{err}");

        let out = sk.ok(&[
            "partners",
            "revoke",
            "--tenant",
            "Contoso",
            "--user",
            "admin@fabrikam.example",
        ]);
        assert!(
            out.contains("no longer acts for this organization"),
            "{out}"
        );
        let out = sk.ok(&["partners", "list", "--tenant", "Contoso"]);
        assert!(out.contains("No partners."), "{out}");
        let err = sk.fail(&[
            "partners",
            "revoke",
            "--tenant",
            "Contoso",
            "--user",
            "admin@fabrikam.example",
        ]);
        assert!(
            err.contains("is not a partner of this organization"),
            "{err}"
        );
        let audit = sk.ok(&[
            "audit", "export", "--tenant", "Contoso", "--action", "partner.",
        ]);
        assert!(audit.contains("partner.roles"), "{audit}");
    }
);

both!(requests_show_lists_shares_and_deleted_users, |sk| {
    sk.tenant("Fabrikam");
    let csv = sk.write(
        "people.csv",
        "userPrincipalName,displayName,usageLocation\nann@fabrikam.example,Ann,US\nbob@fabrikam.example,Bob,US\nsam@fabrikam.example,Sam,US\n",
    );
    sk.ok(&["users", "import", "--tenant", "Fabrikam", &csv]);
    sk.ok(&[
        "policy",
        "set",
        "--tenant",
        "Fabrikam",
        "--product-id",
        "CFQ7TTC0LH18",
        "--value",
        "Disabled",
    ]);
    let id = submit_request(
        &sk,
        "Fabrikam",
        "ann@fabrikam.example",
        "SUITE_BASIC",
        &["bob@fabrikam.example"],
    );
    let rid = id.clone();
    with_app(&sk, "Fabrikam", |app, tenant| async move {
        let actor = seatkeeper_app::Actor::operator(tenant);
        app.share_request(
            &actor,
            &rid,
            &seatkeeper_app::requests::ShareInput {
                recipients: vec!["sam@fabrikam.example".into()],
                subject: None,
                message: None,
                base_url: "https://licenses.example".into(),
            },
        )
        .await
        .expect("share");
        app.delete_user(&actor, "bob@fabrikam.example")
            .await
            .expect("delete");
    });

    let text = sk.ok(&["requests", "show", "--tenant", "Fabrikam", &id]);
    assert!(text.contains("bob@fabrikam.example (deleted)"), "{text}");
    assert!(!text.contains("ann@fabrikam.example (deleted)"), "{text}");
    let shares = text
        .lines()
        .skip_while(|l| !l.starts_with("Shared with"))
        .collect::<Vec<_>>();
    assert!(shares.len() >= 2, "{text}");
    assert!(
        shares[1].starts_with("sam@fabrikam.example")
            && shares[1].contains("operator (cli)")
            && shares[1].trim_end().ends_with("no"),
        "{text}"
    );
    let shown = sk.json(&["requests", "show", "--tenant", "Fabrikam", &id, "--json"]);
    assert_eq!(
        shown["shares"][0]["recipient"], "sam@fabrikam.example",
        "{shown}"
    );
    assert_eq!(shown["users"][1]["exists"], false, "{shown}");
});

both!(jobs_run_prints_how_many_requests_were_purged, |sk| {
    sk.tenant("Fabrikam");
    let csv = sk.write(
        "people.csv",
        "userPrincipalName,displayName,usageLocation\nann@fabrikam.example,Ann,US\nbob@fabrikam.example,Bob,US\n",
    );
    sk.ok(&["users", "import", "--tenant", "Fabrikam", &csv]);
    sk.ok(&[
        "policy",
        "set",
        "--tenant",
        "Fabrikam",
        "--product-id",
        "CFQ7TTC0LH18",
        "--value",
        "Disabled",
    ]);
    let out = sk.ok(&["jobs", "run"]);
    assert!(out.contains("Purged no license requests"), "{out}");
    // Requests made 13 months ago, one of them by each user.
    let submit_old = |upns: &'static [&'static str]| {
        with_app(&sk, "Fabrikam", |app, tenant| async move {
            let now = app.now();
            app.clock.set(now - chrono::Duration::days(400));
            for upn in upns {
                let u = app
                    .get_user(&seatkeeper_app::Actor::operator(tenant), upn)
                    .await
                    .expect("user");
                let actor = seatkeeper_app::Actor {
                    tenant_id: tenant,
                    user_id: Some(u.id),
                    name: u.upn.clone(),
                    roles: vec![],
                    partner: None,
                };
                app.submit_request(
                    &actor,
                    app.catalog()
                        .find_product("SUITE_BASIC")
                        .expect("product")
                        .sku_id,
                    &[],
                    None,
                )
                .await
                .expect("submit");
            }
        })
    };
    submit_old(&["ann@fabrikam.example"]);
    let out = sk.ok(&["jobs", "run"]);
    assert!(
        out.contains("Purged 1 license request older than 12 months."),
        "{out}"
    );
    submit_old(&["ann@fabrikam.example", "bob@fabrikam.example"]);
    let out = sk.ok(&["jobs", "run"]);
    assert!(
        out.contains("Purged 2 license requests older than 12 months."),
        "{out}"
    );
    let r = sk.json(&["jobs", "run", "--json"]);
    assert_eq!(r["requestsPurged"], 0, "{r}");
});

both!(requests_list_show_and_decide_from_the_command_line, |sk| {
    sk.tenant("Fabrikam");
    let csv = sk.write(
            "people.csv",
            "userPrincipalName,displayName,usageLocation\nann@fabrikam.example,Ann,US\nbob@fabrikam.example,Bob,US\n",
        );
    sk.ok(&["users", "import", "--tenant", "Fabrikam", &csv]);
    sk.ok(&[
        "policy",
        "set",
        "--tenant",
        "Fabrikam",
        "--product-id",
        "CFQ7TTC0LH18",
        "--value",
        "Disabled",
    ]);
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Fabrikam",
        "--sku",
        "SUITE_BASIC",
        "--quantity",
        "3",
    ]);
    let id = submit_request(
        &sk,
        "Fabrikam",
        "ann@fabrikam.example",
        "SUITE_BASIC",
        &["bob@fabrikam.example"],
    );

    let out = sk.ok(&[
        "requests", "list", "--tenant", "Fabrikam", "--status", "pending",
    ]);
    let head: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        head,
        [
            "Id",
            "Product",
            "Requester",
            "Requested",
            "Status",
            "Outcome",
            "Users"
        ],
        "{out}"
    );
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&id)
            && row.contains("SUITE_BASIC")
            && row.contains("ann@fabrikam.example")
            && row.contains("Pending")
            && row.trim_end().ends_with('2'),
        "{out}"
    );
    let err = sk.fail(&[
        "requests", "list", "--tenant", "Fabrikam", "--status", "open",
    ]);
    assert!(err.contains("pending, completed"), "{err}");

    let shown = sk.json(&["requests", "show", "--tenant", "Fabrikam", &id, "--json"]);
    assert_eq!(shown["id"], id.as_str(), "{shown}");
    assert_eq!(shown["users"].as_array().map(Vec::len), Some(2), "{shown}");
    assert_eq!(shown["note"], "for the launch");
    let text = sk.ok(&["requests", "show", "--tenant", "Fabrikam", &id]);
    assert!(text.contains("bob@fabrikam.example"), "{text}");

    // Every user in one list: refused with the reason, nothing changes.
    let err = sk.fail(&[
        "requests",
        "decide",
        "--tenant",
        "Fabrikam",
        &id,
        "--approve",
        "ann@fabrikam.example",
    ]);
    assert!(
        err.contains("bob@fabrikam.example is in neither list"),
        "{err}"
    );

    let decided = sk.json(&[
        "requests",
        "decide",
        "--tenant",
        "Fabrikam",
        &id,
        "--approve",
        "ann@fabrikam.example",
        "--deny",
        "bob@fabrikam.example",
        "--sku",
        "SUITE_BASIC",
        "--message",
        "Enjoy.",
        "--json",
    ]);
    assert_eq!(decided["status"], "Completed", "{decided}");
    assert_eq!(decided["outcome"], "PartlyApproved");
    assert_eq!(
        decided["users"][0]["licenses"][0]["skuPartNumber"],
        "SUITE_BASIC"
    );
    assert_eq!(decided["users"][1]["decision"], "Deny");

    let err = sk.fail(&[
        "requests",
        "decide",
        "--tenant",
        "Fabrikam",
        &id,
        "--deny",
        "ann@fabrikam.example,bob@fabrikam.example",
    ]);
    assert!(err.contains("already decided"), "{err}");
    let list = sk.json(&[
        "requests",
        "list",
        "--tenant",
        "Fabrikam",
        "--status",
        "completed",
        "--json",
    ]);
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["value"][0]["outcome"], "PartlyApproved");
});

// ----- license sources -----

both!(licenses_users_names_direct_and_each_group, |sk| {
    sk.tenant("Sources");
    let csv = format!(
        "{HEADER}\n\
         a@sources.example,A,,,,,,Member,US,true\n\
         b@sources.example,B,,,,,,Member,US,true\n\
         c@sources.example,C,,,,,,Member,US,true\n"
    );
    sk.ok(&[
        "users",
        "import",
        "--tenant",
        "Sources",
        &sk.write("u.csv", &csv),
    ]);
    sk.ok(&[
        "subscriptions",
        "buy",
        "--tenant",
        "Sources",
        "--sku",
        "SUITE_BASIC",
        "--quantity",
        "10",
    ]);
    sk.ok(&[
        "licenses",
        "assign",
        "--tenant",
        "Sources",
        "--sku",
        "SUITE_BASIC",
        "--users",
        "a@sources.example,c@sources.example",
    ]);
    for (group, members) in [
        ("Sales", "a@sources.example,b@sources.example"),
        ("Marketing", "a@sources.example"),
    ] {
        sk.ok(&["groups", "create", "--tenant", "Sources", "--name", group]);
        sk.ok(&[
            "groups",
            "add-member",
            "--tenant",
            "Sources",
            group,
            "--users",
            members,
        ]);
        let job = sk.json(&[
            "groups",
            "assign-license",
            "--tenant",
            "Sources",
            group,
            "--add",
            "SUITE_BASIC",
            "--wait",
            "--json",
        ]);
        assert_eq!(job["state"], "Completed", "{job}");
    }
    let out = sk.path("holders.csv");
    sk.ok(&[
        "licenses",
        "users",
        "--tenant",
        "Sources",
        "--sku",
        "SUITE_BASIC",
        "--output",
        &out,
    ]);
    let rows = read_csv(Path::new(&out));
    let source = |upn: &str| {
        rows.iter()
            .find(|r| r["userPrincipalName"] == upn)
            .map(|r| r["source"].clone())
            .unwrap_or_else(|| panic!("{upn} not listed: {rows:?}"))
    };
    assert_eq!(
        source("a@sources.example"),
        "Direct, Marketing (group), Sales (group)"
    );
    assert_eq!(source("b@sources.example"), "Sales (group)");
    assert_eq!(source("c@sources.example"), "Direct");

    let page = sk.json(&[
        "licenses",
        "users",
        "--tenant",
        "Sources",
        "--sku",
        "SUITE_BASIC",
        "--json",
    ]);
    let a = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == "a@sources.example")
        .cloned()
        .expect("a listed");
    let details = a["sourceDetails"].as_array().expect("sourceDetails");
    assert_eq!(details.len(), 3, "{a}");
    assert_eq!(details[0], serde_json::json!({"type": "direct"}));
    assert_eq!(
        (
            &details[1]["groupName"],
            &details[1]["state"],
            &details[1]["error"]
        ),
        (&"Marketing".into(), &"Active".into(), &Value::Null),
        "{a}"
    );
    assert_eq!(details[2]["groupName"], "Sales", "{a}");
    assert_eq!(a["sources"], serde_json::json!(["direct", "group"]));

    // Removing the direct license keeps what the groups give, and says so.
    let out = sk.json(&[
        "licenses",
        "unassign",
        "--tenant",
        "Sources",
        "--sku",
        "SUITE_BASIC",
        "--users",
        "a@sources.example",
        "--json",
    ]);
    let details = &out["value"][0]["licenses"][0]["sourceDetails"];
    assert_eq!(details.as_array().map(Vec::len), Some(2), "{out}");
    assert_eq!(details[0]["type"], "group", "{out}");
});

// ----- users import on the job machinery -----

both!(
    users_import_runs_as_a_job_with_progress_and_refuses_bad_rows,
    |sk| {
        let t = sk.tenant("Jobs");
        let token = t["token"].as_str().expect("token").to_string();
        let (data, _) = generated_users(3000);
        // One bad row refuses the whole file, naming its line; nothing is queued or written.
        let mut bad = data.lines().map(str::to_string).collect::<Vec<_>>();
        bad[1500] = bad[1500].replacen("user01499@contoso.example", "not-an-upn", 1);
        let bad = sk.write("bad.csv", &(bad.join("\n") + "\n"));
        let err = sk.fail(&["users", "import", "--tenant", "Jobs", &bad]);
        assert!(
            err.contains("1 row has 1 problem; nothing was imported")
                && err.contains("line 1501: userPrincipalName 'not-an-upn' is not valid"),
            "{err}"
        );
        let list = sk.json(&["users", "list", "--tenant", "Jobs", "--json"]);
        assert_eq!(
            list["value"].as_array().map(Vec::len),
            Some(1),
            "only the admin"
        );

        let file = sk.write("users.csv", &data);
        let s = sk.json(&["users", "import", "--tenant", "Jobs", &file, "--json"]);
        assert_eq!(s["created"], 3000, "{s}");
        let job = s["job"].as_str().expect("job id").to_string();
        let list = sk.json(&["users", "list", "--tenant", "Jobs", "--json"]);
        assert_eq!(list["value"].as_array().map(Vec::len), Some(3001));

        // Queued without waiting; a row whose user was created meanwhile stops that job at its
        // line when it runs (here by the next import, which runs queued jobs while it waits).
        let late = sk.write(
        "late.csv",
        &format!("{HEADER}\nlate1@contoso.example,Late 1,,,,,,Member,US,true\nlate2@contoso.example,Late 2,,,,,,Member,US,true\n"),
    );
        let queued = sk.json(&[
            "users",
            "import",
            "--tenant",
            "Jobs",
            &late,
            "--no-wait",
            "--json",
        ]);
        assert_eq!(
            (&queued["kind"], &queued["state"], &queued["total"]),
            (&"usersImport".into(), &"Queued".into(), &2.into()),
            "{queued}"
        );
        sk.ok(&[
            "users",
            "create",
            "--tenant",
            "Jobs",
            "--upn",
            "late2@contoso.example",
            "--display-name",
            "Late",
        ]);
        let other = sk.write(
            "other.csv",
            &format!("{HEADER}\nother@contoso.example,Other,,,,,,Member,US,true\n"),
        );
        let s = sk.json(&["users", "import", "--tenant", "Jobs", &other, "--json"]);
        assert_eq!(s["created"], 1, "{s}");

        // GET /api/v1/jobs/{id} shows both.
        let mut server = sk.serve(&[]);
        let (status, body) = server.get(&format!("/api/v1/jobs/{job}"), &token);
        assert_eq!(status, 200, "{body}");
        let j: Value = serde_json::from_str(&body).expect("job JSON");
        assert_eq!(
            (
                &j["kind"],
                &j["state"],
                &j["processed"],
                &j["total"],
                &j["groupId"]
            ),
            (
                &"usersImport".into(),
                &"Completed".into(),
                &3000.into(),
                &3000.into(),
                &Value::Null
            ),
            "{j}"
        );
        assert!(
            j["message"]
                .as_str()
                .is_some_and(|m| m.contains("3000 created")),
            "{j}"
        );
        let (status, body) = server.get(
            &format!("/api/v1/jobs/{}", queued["id"].as_str().unwrap_or_default()),
            &token,
        );
        assert_eq!(status, 200, "{body}");
        let j: Value = serde_json::from_str(&body).expect("job JSON");
        assert_eq!(j["state"], "Failed", "{j}");
        let message = j["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("line 3: ") && message.contains("late2@contoso.example"),
            "{j}"
        );

        // With a server running, --no-wait leaves the work to it.
        let more = sk.write(
            "more.csv",
            &format!("{HEADER}\nmore@contoso.example,More,,,,,,Member,US,true\n"),
        );
        let queued = sk.json(&[
            "users",
            "import",
            "--tenant",
            "Jobs",
            &more,
            "--no-wait",
            "--json",
        ]);
        let id = queued["id"].as_str().unwrap_or_default().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = server.get(&format!("/api/v1/jobs/{id}"), &token);
            if body.contains("\"Completed\"") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not run {id}: {body}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, body) = server.get("/v1.0/users/more@contoso.example", &token);
        assert_eq!(status, 200, "{body}");
        let status = server.terminate(Duration::from_secs(10));
        assert!(status.success(), "serve exited with {status}");
    }
);
