//! A fault-injecting HTTP proxy in front of moto: throttling, 5xx, dropped connections, slow answers
//! and lost responses (the call reached AWS and was applied, the answer never arrived), chosen per
//! request by rules with a seeded random generator, so a run can be replayed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::Credentials;
use gatekeeper::adapters::Resilience;

/// What the proxy does to a request instead of (or after) passing it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Answers the service's throttling error (JSON or XML, by protocol) without passing it on.
    Throttle,
    /// Answers 503 without passing it on.
    Unavailable,
    /// Closes the connection without an answer, the request not passed on.
    Drop,
    /// Passes the request on (AWS applies it), then closes the connection without the answer.
    LoseResponse,
    /// Waits this many milliseconds, then passes it on (an attempt timeout gives up first).
    Slow(u64),
}

/// When a fault applies.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `service:Operation` names it applies to (`ecr:PutImage`, `sns:*`); empty: every request.
    pub operations: Vec<String>,
    /// The fault.
    pub fault: Fault,
    /// The probability per matching request.
    pub rate: f64,
    /// Matching requests to let through before the rule starts (for "the k-th call fails").
    pub skip: usize,
    /// How many times at most it fires (`None`: unlimited).
    pub times: Option<usize>,
}

impl Rule {
    /// `fault` on every matching request at `rate`.
    pub fn at_rate(fault: Fault, rate: f64) -> Rule {
        Rule {
            operations: Vec::new(),
            fault,
            rate,
            skip: 0,
            times: None,
        }
    }

    /// `fault` once, on the request after the first `k` (counting every request).
    pub fn once_after(k: usize, fault: Fault) -> Rule {
        Rule {
            operations: Vec::new(),
            fault,
            rate: 1.0,
            skip: k,
            times: Some(1),
        }
    }

    /// `fault` on the first `n` requests to `operation` (`service:Action`, or `service:*`).
    pub fn first(n: usize, fault: Fault, operation: &str) -> Rule {
        Rule::at_rate(fault, 1.0).only(&[operation]).times(n)
    }

    /// The same rule, restricted to these operations.
    pub fn only(mut self, operations: &[&str]) -> Rule {
        self.operations = operations.iter().map(|s| (*s).to_string()).collect();
        self
    }

    /// The same rule, firing at most `n` times.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, operation: &str) -> bool {
        self.operations.is_empty()
            || self.operations.iter().any(|o| {
                o == operation
                    || o.strip_suffix(":*")
                        .is_some_and(|svc| operation.split(':').next() == Some(svc))
            })
    }
}

/// xorshift64: enough for choosing faults and shuffling events, and replayable from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Rng::new(1)
    }
}

impl Rng {
    /// A generator from `seed` (any value; zero is made odd).
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        #[allow(clippy::cast_precision_loss)] // 53 bits: exact in an f64
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// Shuffles `v` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<(Rule, usize, usize)>, // rule, matched so far, fired so far
    rng: Rng,
    requests: BTreeMap<String, usize>,
    faults: BTreeMap<String, usize>,
    history: Vec<(String, Option<Fault>, Instant)>,
    /// Inspector's findings by image digest, answered to ListFindings instead of moto's (which
    /// ignores filters); `None`: ListFindings goes to moto.
    findings: Option<BTreeMap<String, Vec<serde_json::Value>>>,
    /// Accounts whose roles refuse AssumeRole (moto lets anyone assume any role, even a missing one).
    denied_accounts: Vec<String>,
    /// The role ARN of every AssumeRole, in order.
    assumed_roles: Vec<String>,
    /// ECR's storage classes, emulated (moto answers UpdateImageStorageClass with an error and
    /// reports no `imageStatus`): images archived or being restored, by (repository, digest), as
    /// `ARCHIVED` or `ACTIVATING`; `None`: not emulated.
    storage: Option<BTreeMap<(String, String), &'static str>>,
}

impl State {
    fn choose(&mut self, operation: &str) -> Option<Fault> {
        *self.requests.entry(operation.to_string()).or_default() += 1;
        let fault = self.draw(operation);
        self.history
            .push((operation.to_string(), fault, Instant::now()));
        fault
    }

    fn draw(&mut self, operation: &str) -> Option<Fault> {
        // Rules in order: each armed rule that matches draws; the first hit decides.
        for i in 0..self.rules.len() {
            let (rule, matched, fired) = &mut self.rules[i];
            if !rule.matches(operation) {
                continue;
            }
            *matched += 1;
            if *matched <= rule.skip || rule.times.is_some_and(|t| *fired >= t) {
                continue;
            }
            let (fault, rate) = (rule.fault, rule.rate);
            if rate < 1.0 && !self.rng.chance(rate) {
                continue;
            }
            self.rules[i].2 += 1;
            let kind = match fault {
                Fault::Slow(_) => "Slow".to_string(),
                other => format!("{other:?}"),
            };
            *self.faults.entry(kind).or_default() += 1;
            return Some(fault);
        }
        None
    }
}

/// The proxy: listens on a free port and forwards to moto; stops with the process.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, the endpoint to give the SDK.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`), with no rules yet.
    pub fn start(upstream: &str, seed: u64) -> std::io::Result<FaultProxy> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            rng: Rng::new(seed),
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, upstream) = (Arc::clone(&shared), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &state);
                });
            }
        });
        Ok(FaultProxy { endpoint, state })
    }

    /// Replaces the rules (an empty list passes everything on).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.rules = rules.into_iter().map(|r| (r, 0, 0)).collect();
    }

    /// Requests seen per `service:Operation` since the last reset.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests
            .clone()
    }

    /// Faults injected per kind since the last reset.
    pub fn faults(&self) -> BTreeMap<String, usize> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .faults
            .clone()
    }

    /// The requests since the last reset, in order, with the fault each got.
    pub fn history(&self) -> Vec<(String, Option<Fault>)> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .history
            .iter()
            .map(|(op, fault, _)| (op.clone(), *fault))
            .collect()
    }

    /// When each request of `operation` (`service:Operation`) arrived since the last reset, in order.
    pub fn times(&self, operation: &str) -> Vec<Instant> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .history
            .iter()
            .filter(|(op, _, _)| op == operation)
            .map(|(_, _, at)| *at)
            .collect()
    }

    /// Answers Inspector's ListFindings from now on with `findings` of the image its
    /// `filterCriteria.ecrImageHash` names (API-shape findings, as `fixtures::inspector_finding`
    /// writes them; one page), faults still applying first.
    pub fn script_findings(&self, findings: BTreeMap<String, Vec<serde_json::Value>>) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .findings = Some(findings);
    }

    /// Answers AssumeRole of any role in `account` with AccessDenied, as AWS does when the role is
    /// missing or does not trust the caller.
    pub fn deny_assume_role(&self, account: &str) {
        (self.state.lock().unwrap_or_else(|p| p.into_inner()))
            .denied_accounts
            .push(account.to_string());
    }

    /// The role ARN of every AssumeRole through the proxy, in order (refused ones too).
    pub fn assumed_roles(&self) -> Vec<String> {
        (self.state.lock().unwrap_or_else(|p| p.into_inner()))
            .assumed_roles
            .clone()
    }

    /// Emulates ECR's storage classes from now on: UpdateImageStorageClass is answered here
    /// (ARCHIVE archives; STANDARD starts a restore, ACTIVATING until [`FaultProxy::finish_restore`]),
    /// DescribeImages reports each image's `imageStatus`, BatchGetImage of an archived or restoring
    /// image fails as a pull of it does (ImageNotFound), and a PutImage of an archived image's
    /// manifest restores it (as a push of the same digest does).
    pub fn emulate_storage(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.storage.get_or_insert_with(BTreeMap::new);
    }

    /// The emulated `imageStatus` of an image: `ARCHIVED`, `ACTIVATING` or `ACTIVE`.
    pub fn storage(&self, repository: &str, digest: &str) -> &'static str {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (st.storage.as_ref())
            .and_then(|m| {
                m.get(&(repository.to_string(), digest.to_string()))
                    .copied()
            })
            .unwrap_or("ACTIVE")
    }

    /// Completes a restore (ACTIVATING becomes ACTIVE), as ECR does within about 20 minutes; whether
    /// one was under way.
    pub fn finish_restore(&self, repository: &str, digest: &str) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (repository.to_string(), digest.to_string());
        let storage = st.storage.get_or_insert_with(BTreeMap::new);
        if storage.get(&key) == Some(&"ACTIVATING") {
            storage.remove(&key);
            return true;
        }
        false
    }

    /// Every emulated image that is archived now, as (repository, digest).
    pub fn archived(&self) -> Vec<(String, String)> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (st.storage.iter().flatten())
            .filter(|(_, s)| **s == "ARCHIVED")
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Forgets the counts and the history (the rules stay).
    pub fn reset_counts(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests.clear();
        st.faults.clear();
        st.history.clear();
    }

    /// SDK configuration through this proxy, with the gatekeeper's retry and timeout settings `r`.
    pub async fn sdk(&self, region: &str, r: Resilience) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .retry_config(r.retry_config())
            .timeout_config(r.timeout_config())
            .load()
            .await
    }
}

/// Short settings for tests: same shape as production, timeouts and backoffs scaled down.
pub fn test_resilience(max_attempts: u32) -> Resilience {
    Resilience {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_millis(1500),
        operation_timeout: Duration::from_secs(10),
    }
}

struct Request {
    head: String,
    raw: Vec<u8>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `service:Operation`: the service from the signature's credential scope, the operation from
    /// `X-Amz-Target` (JSON protocols), the `Action` parameter (query protocol) or, for REST-JSON
    /// (Inspector), the path's words in reverse (`POST /findings/list`: `ListFindings`).
    fn operation(&self) -> String {
        let service = self
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown");
        let op = match self.header("x-amz-target") {
            Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
            None => String::from_utf8_lossy(&self.body)
                .split('&')
                .find_map(|p| p.strip_prefix("Action=").map(str::to_string))
                .unwrap_or_else(|| self.rest_operation()),
        };
        format!("{service}:{op}")
    }

    /// A REST-JSON operation named from the request path: `/findings/list` is `ListFindings`.
    fn rest_operation(&self) -> String {
        let path = self.head.split_whitespace().nth(1).unwrap_or("");
        let path = path.split('?').next().unwrap_or(path);
        let words: Vec<String> = path
            .split('/')
            .rev()
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        if words.is_empty() {
            "unknown".to_string()
        } else {
            words.concat()
        }
    }
}

fn read_request(s: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    // Upstream gets one request per connection.
    let mut raw = closing(head.trim_end());
    raw.extend_from_slice(&body);
    Ok(Some(Request { head, raw, body }))
}

/// A message head (start line and headers, no final blank line) with its `Connection` header
/// replaced by `Connection: close`, ending in the blank line.
fn closing(head: &str) -> Vec<u8> {
    let mut out: Vec<&str> = head
        .split("\r\n")
        .filter(|l| {
            !l.split(':')
                .next()
                .is_some_and(|k| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    out.push("Connection: close\r\n\r\n");
    out.join("\r\n").into_bytes()
}

fn forward(upstream: &str, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    up.write_all(&req.raw)?;
    let mut out = Vec::new();
    up.read_to_end(&mut out)?;
    // The client must not reuse its connection: answer `Connection: close` whatever moto said.
    let Some(i) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(out);
    };
    let mut res = closing(&String::from_utf8_lossy(&out[..i]));
    res.extend_from_slice(&out[i + 4..]);
    Ok(res)
}

fn error_response(req: &Request, status: &str, code: &str, message: &str) -> Vec<u8> {
    let (content_type, body) = if req.header("x-amz-target").is_some() {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        )
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The scripted answer to a ListFindings request: the findings of the digest its filter names.
fn scripted_findings(
    req: &Request,
    findings: &BTreeMap<String, Vec<serde_json::Value>>,
) -> Vec<u8> {
    let filter: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let digest = filter["filterCriteria"]["ecrImageHash"][0]["value"]
        .as_str()
        .unwrap_or_default();
    let body = serde_json::json!({"findings": findings.get(digest).cloned().unwrap_or_default()})
        .to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Passes `req` on to moto, or answers it from the script when it is a scripted ListFindings.
fn answer(upstream: &str, req: &Request, state: &Mutex<State>) -> std::io::Result<Vec<u8>> {
    if req.operation() == "sts:AssumeRole" {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let body = (String::from_utf8_lossy(&req.body).replace("%3A", ":")).replace("%2F", "/");
        let role = (body.split('&'))
            .find_map(|kv| kv.strip_prefix("RoleArn="))
            .unwrap_or_default();
        st.assumed_roles.push(role.to_string());
        if let Some(account) =
            (st.denied_accounts.iter()).find(|a| body.contains(&format!("iam::{a}:role")))
        {
            let message =
                format!("not authorized to perform: sts:AssumeRole on a role of account {account}");
            return Ok(error_response(
                req,
                "403 Forbidden",
                "AccessDenied",
                &message,
            ));
        }
    }
    if let Some(answer) = storage_answer(upstream, req, state)? {
        return Ok(answer);
    }
    if req.operation() == "inspector2:ListFindings" {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(findings) = &st.findings {
            return Ok(scripted_findings(req, findings));
        }
    }
    forward(upstream, req)
}

/// A 200 answer with a JSON body.
fn json_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The body of an HTTP answer, parsed as JSON (`Null` when it is not JSON).
fn answer_json(raw: &[u8]) -> serde_json::Value {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|i| serde_json::from_slice(&raw[i + 4..]).ok())
        .unwrap_or_default()
}

/// The emulated storage classes' answer to `req`, when it is one of the calls they change.
fn storage_answer(
    upstream: &str,
    req: &Request,
    state: &Mutex<State>,
) -> std::io::Result<Option<Vec<u8>>> {
    let op = req.operation();
    if !matches!(
        op.as_str(),
        "ecr:UpdateImageStorageClass" | "ecr:DescribeImages" | "ecr:BatchGetImage" | "ecr:PutImage"
    ) || state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .storage
        .is_none()
    {
        return Ok(None);
    }
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let repo = body["repositoryName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let status_of = |digest: &str| {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        (st.storage.as_ref()).and_then(|m| m.get(&(repo.clone(), digest.to_string())).copied())
    };
    match op.as_str() {
        "ecr:UpdateImageStorageClass" => {
            let digest = body["imageId"]["imageDigest"].as_str().unwrap_or_default();
            let archive = body["targetStorageClass"] == "ARCHIVE";
            let status = match (archive, status_of(digest)) {
                (true, _) => "ARCHIVED",
                (false, None) => "ACTIVE",
                (false, Some(_)) => "ACTIVATING",
            };
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let storage = st.storage.get_or_insert_with(BTreeMap::new);
            let key = (repo.clone(), digest.to_string());
            if status == "ACTIVE" {
                storage.remove(&key);
            } else {
                storage.insert(key, status);
            }
            let answer = serde_json::json!({"repositoryName": repo, "imageId": {"imageDigest": digest}, "imageStatus": status});
            Ok(Some(json_response(&answer.to_string())))
        }
        "ecr:BatchGetImage" => {
            let ids = body["imageIds"].as_array().cloned().unwrap_or_default();
            let pulled_archived = ids.iter().any(|i| {
                i["imageDigest"]
                    .as_str()
                    .is_some_and(|d| status_of(d).is_some())
            });
            if !pulled_archived {
                return Ok(None);
            }
            let failures: Vec<serde_json::Value> = (ids.iter())
                .map(|i| serde_json::json!({"imageId": i, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}))
                .collect();
            let answer = serde_json::json!({"images": [], "failures": failures});
            Ok(Some(json_response(&answer.to_string())))
        }
        "ecr:PutImage" => {
            let out = forward(upstream, req)?;
            let digest = answer_json(&out)["image"]["imageId"]["imageDigest"]
                .as_str()
                .map(str::to_string);
            if let Some(d) = digest {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(m) = st.storage.as_mut() {
                    m.remove(&(repo, d));
                }
            }
            Ok(Some(out))
        }
        _ => {
            let out = forward(upstream, req)?;
            let mut answer = answer_json(&out);
            let Some(details) = answer["imageDetails"].as_array_mut() else {
                return Ok(Some(out));
            };
            for d in details {
                let digest = d["imageDigest"].as_str().unwrap_or_default().to_string();
                d["imageStatus"] = serde_json::json!(status_of(&digest).unwrap_or("ACTIVE"));
            }
            Ok(Some(json_response(&answer.to_string())))
        }
    }
}

fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let Some(req) = read_request(&mut client)? else {
        return Ok(());
    };
    let fault = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .choose(&req.operation());
    match fault {
        None => client.write_all(&answer(upstream, &req, state)?),
        Some(Fault::Throttle) => client.write_all(&error_response(
            &req,
            "400 Bad Request",
            "ThrottlingException",
            "Rate exceeded",
        )),
        Some(Fault::Unavailable) => client.write_all(&error_response(
            &req,
            "503 Service Unavailable",
            "ServiceUnavailableException",
            "Service unavailable (injected)",
        )),
        Some(Fault::Drop) => client.shutdown(Shutdown::Both),
        Some(Fault::LoseResponse) => {
            answer(upstream, &req, state)?;
            client.shutdown(Shutdown::Both)
        }
        Some(Fault::Slow(ms)) => {
            std::thread::sleep(Duration::from_millis(ms));
            client.write_all(&answer(upstream, &req, state)?)
        }
    }
}
