//! A local Lambda Runtime API (the `2018-06-01` protocol) and a launcher for function binaries, so
//! that tests and the demo run the real `bootstrap` the way Lambda does: the binary polls `/next`,
//! gets an event with the Lambda headers, and posts its response or error.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixtures::{Aws, Setup};

/// What a function answered to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `/response`: the handler's output.
    Response(Value),
    /// `/error`: a handler error, as Lambda would record it.
    Error {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String, u128)>,
    answers: HashMap<String, Answer>,
    init_error: Option<String>,
    polled: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The Runtime API server.
pub struct RuntimeApi {
    addr: String,
    shared: Shared,
    next_id: Mutex<u64>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                length = v.trim().parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn serve(stream: TcpStream, shared: Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let (lock, cvar) = &*shared;
        let result = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            st.polled = true;
            cvar.notify_all();
            let (id, event, budget_ms) = loop {
                if let Some(item) = st.queue.pop_front() {
                    break item;
                }
                st = cvar.wait(st).unwrap_or_else(|p| p.into_inner());
            };
            drop(st);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + budget_ms;
            respond(
                &mut writer,
                "200 OK",
                &[
                    ("Content-Type", "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:local".into(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        format!("Root=1-00000000-{id:0>24}"),
                    ),
                ],
                event.as_bytes(),
            )
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let id = path.split('/').rev().nth(1).unwrap_or_default().to_string();
            let answer = if path.ends_with("/response") {
                Answer::Response(
                    serde_json::from_slice(&body)
                        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned())),
                )
            } else {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                Answer::Error {
                    error_type: v["errorType"].as_str().unwrap_or_default().to_string(),
                    message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
                }
            };
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            st.answers.insert(id, answer);
            cvar.notify_all();
            drop(st);
            respond(
                &mut writer,
                "202 Accepted",
                &[("Content-Type", "application/json".into())],
                b"{\"status\":\"OK\"}",
            )
        } else if method == "POST" && path.ends_with("/runtime/init/error") {
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            st.init_error = Some(String::from_utf8_lossy(&body).into_owned());
            cvar.notify_all();
            drop(st);
            respond(&mut writer, "202 Accepted", &[], b"{}")
        } else {
            respond(&mut writer, "404 Not Found", &[], b"")
        };
        if result.is_err() {
            return;
        }
    }
}

impl RuntimeApi {
    /// Starts the server on a free port.
    pub fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let shared: Shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = accept_shared.clone();
                std::thread::spawn(move || serve(stream, s));
            }
        });
        Ok(RuntimeApi {
            addr,
            shared,
            next_id: Mutex::new(0),
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Queues an event and waits for the function's answer (the function's timeout: 60 s).
    pub fn invoke(&self, event: &Value, timeout: Duration) -> Result<Answer, String> {
        self.invoke_within(event, Duration::from_secs(60), timeout)
    }

    /// Queues an event with `budget` as the function's timeout (the deadline it is given) and waits
    /// up to `timeout` for the answer.
    pub fn invoke_within(
        &self,
        event: &Value,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Answer, String> {
        self.invoke_text_within(&event.to_string(), budget, timeout)
    }

    /// Queues a payload given as text (which may be JSON no parser would build: duplicate keys,
    /// numbers out of range) and waits up to `timeout` for the answer.
    pub fn invoke_text_within(
        &self,
        payload: &str,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            format!("req-{n:06}")
        };
        let (lock, cvar) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.queue
            .push_back((id.clone(), payload.to_string(), budget.as_millis()));
        cvar.notify_all();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(answer) = st.answers.remove(&id) {
                return Ok(answer);
            }
            if let Some(e) = &st.init_error {
                return Err(format!("init error: {e}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no answer to {id} within {timeout:?}"));
            }
            st = cvar
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits until the function polls `/next` for the first time (its init is done).
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let (lock, cvar) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + timeout;
        while !st.polled {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = cvar
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// A function binary running against a [`RuntimeApi`], killed when dropped.
pub struct Function {
    child: Child,
    /// The Runtime API it polls.
    pub api: RuntimeApi,
    log: std::path::PathBuf,
}

impl Function {
    /// Starts `binary` with a Lambda-like environment (nothing inherited but PATH) plus `env`.
    pub fn start(binary: &Path, name: &str, env: &[(&str, String)]) -> Result<Function, String> {
        Function::start_under(&[], binary, name, env)
    }

    /// Starts the function binary at `binary` (a `CARGO_BIN_EXE_<name>` path; the function is named
    /// after its file) with the environment of a function deployed on `setup` ([`Aws::function_env`]),
    /// reaching AWS at `endpoint`, plus `extra`.
    pub fn deployed(
        binary: &str,
        aws: &Aws,
        endpoint: &str,
        setup: &Setup,
        extra: &[(&'static str, &str)],
    ) -> Result<Function, String> {
        let binary = Path::new(binary);
        let name = binary
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("function");
        Function::start(binary, name, &aws.function_env(endpoint, setup, extra))
    }

    /// [`Function::start`] through a launcher: `launcher` is the command and its arguments before the
    /// binary (an emulator such as `qemu-aarch64 -L /usr/aarch64-linux-gnu`); empty runs it directly.
    pub fn start_under(
        launcher: &[&str],
        binary: &Path,
        name: &str,
        env: &[(&str, String)],
    ) -> Result<Function, String> {
        if !binary.exists() {
            return Err(format!(
                "{} not built: `cargo build --workspace` (make test and make demo do)",
                binary.display()
            ));
        }
        let api = RuntimeApi::start().map_err(|e| e.to_string())?;
        let log = std::env::temp_dir().join(format!(
            "gatekeeper-{name}-{}-{}.log",
            std::process::id(),
            api.addr().replace([':', '.'], "-")
        ));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut cmd = match launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        Ok(Function { child, api, log })
    }

    /// Sends one event and waits for the answer.
    pub fn invoke(&self, event: &Value) -> Result<Answer, String> {
        self.api.invoke(event, Duration::from_secs(60))
    }

    /// Sends one event and returns the function's response; an error answer fails the test, with
    /// the function's logs.
    pub fn respond(&self, event: &Value) -> Value {
        match self.invoke(event) {
            Ok(Answer::Response(v)) => v,
            other => panic!("{other:?}\n{}", self.logs()),
        }
    }

    /// Sends one payload, as text, and waits for the answer.
    pub fn invoke_text(&self, payload: &str) -> Result<Answer, String> {
        self.api
            .invoke_text_within(payload, Duration::from_secs(60), Duration::from_secs(60))
    }

    /// Sends one event as to a function whose timeout is `budget`.
    pub fn invoke_within(&self, event: &Value, budget: Duration) -> Result<Answer, String> {
        self.api
            .invoke_within(event, budget, budget + Duration::from_secs(30))
    }

    /// What the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit (a failed init), with its status code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A binary built next to the running executable (`target/<profile>/<name>`), for the demo and the
/// integration tests of other crates.
pub fn sibling_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}
