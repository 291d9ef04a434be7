//! Test doubles for core's unit tests and other crates' tests, benches and
//! fuzz targets (the `testing` feature): one configurable fake [`Network`].
//!
//! It answers from tables set up front, records every question, and can
//! hold each DNS answer back for one poll so that a test sees how many
//! questions a caller keeps in flight. It does no wire encoding: a test
//! that measures encoding or decoding needs real DNS messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use url::Url;

use crate::address_policy::AddressPolicy;
use crate::dnssec_self_test::{
    DnssecSelfTest, DnssecTestNames, ProbeAnswer, ResolverSelfTest, SelfTestFailure,
};
use crate::network::{
    ConnectError, DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, MaybeSend, Network,
    RequestHeaders,
};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// The fake's first resolver, which answers every first question.
pub const RESOLVER: &str = "https://resolver.test/dns-query";

/// The fake's second resolver, which answers retries unless the fake has a
/// single resolver.
pub const SECOND_RESOLVER: &str = "https://resolver-2.test/dns-query";

/// An answer from [`RESOLVER`] with `rcode` and `records`, for any question
/// (the fake sets the name and type to the question's).
pub fn answer(rcode: ResponseCode, records: Vec<Record>) -> DnsAnswer {
    DnsAnswer {
        name: String::new(),
        rtype: RecordType::CAA,
        rcode,
        records,
        cname_chain: Vec::new(),
        authentic_data: false,
        resolver: RESOLVER.into(),
        checking_disabled: false,
        extended_errors: Vec::new(),
    }
}

/// One page the fake serves: what an HTTP GET returns before the body limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

type DnsEntry = Result<DnsAnswer, DnsError>;
type HttpEntry = Result<Page, HttpError>;

/// Serves DNS answers from a table keyed by (name, type) and pages from a
/// table keyed by URL (or from a script, in the order asked).
///
/// Each DNS key holds a queue: successive questions take successive entries
/// and the last one repeats. A question not in the table gets NOERROR with
/// no records unless [`FakeNetwork::unlisted_names_do_not_exist`]; a URL not
/// in the table gets 404 `not found`. A retry goes to [`SECOND_RESOLVER`],
/// or with [`FakeNetwork::single_resolver`] to the same one with the CD bit.
pub struct FakeNetwork {
    dns: HashMap<(String, RecordType), Vec<DnsEntry>>,
    unlisted_dns: DnsEntry,
    single_resolver: bool,
    self_test: Option<DnssecSelfTest>,
    pages: HashMap<String, HttpEntry>,
    script: Option<Vec<HttpEntry>>,
    silent: bool,
    hold_dns_one_poll: bool,
    /// Whether questions are kept for [`FakeNetwork::asked`].
    remember: bool,
    served: Mutex<HashMap<(String, RecordType), usize>>,
    asked: Mutex<Vec<Asked>>,
    self_tests: AtomicUsize,
    /// DNS questions in flight: (now, most).
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    /// In-memory servers by address: with any, GETs go through core's
    /// real client ([`crate::web::get`]) instead of the page table.
    servers: HashMap<SocketAddr, Server>,
    policy: AddressPolicy,
    connected: Mutex<Vec<SocketAddr>>,
}

/// A server of the fake's sockets: called with the server's end of each
/// connection, its future is driven by the client's reads and writes.
pub type Server = Arc<dyn Fn(DuplexStream) -> ServerTask + Send + Sync>;

/// One connection's server side.
pub type ServerTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One question the fake was asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    Dns {
        name: String,
        rtype: RecordType,
    },
    /// A retry after an answer from `failed_resolver`.
    Retry {
        name: String,
        rtype: RecordType,
        failed_resolver: String,
    },
    Http {
        url: String,
        headers: RequestHeaders,
    },
}

impl Default for FakeNetwork {
    fn default() -> Self {
        Self {
            dns: HashMap::new(),
            unlisted_dns: Ok(answer(ResponseCode::NoError, Vec::new())),
            single_resolver: false,
            self_test: None,
            pages: HashMap::new(),
            script: None,
            silent: false,
            hold_dns_one_poll: false,
            remember: true,
            served: Mutex::new(HashMap::new()),
            asked: Mutex::new(Vec::new()),
            self_tests: AtomicUsize::new(0),
            in_flight: Arc::new((AtomicUsize::new(0), AtomicUsize::new(0))),
            servers: HashMap::new(),
            policy: AddressPolicy::PublicOnly,
            connected: Mutex::new(Vec::new()),
        }
    }
}

impl FakeNetwork {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer (name, rtype) with `responses`, one per question, last repeating.
    pub fn on(mut self, name: &str, rtype: RecordType, responses: Vec<DnsEntry>) -> Self {
        self.dns.insert((name.to_owned(), rtype), responses);
        self
    }

    /// Answer (name, rtype) always with `response`.
    pub fn always(self, name: &str, rtype: RecordType, response: DnsEntry) -> Self {
        self.on(name, rtype, vec![response])
    }

    /// Answer (name, rtype) with NOERROR and `data`, owned by `name`.
    pub fn records(self, name: &str, rtype: RecordType, data: Vec<RData>) -> Self {
        self.aliased(name, rtype, &[], data)
    }

    /// Answer (name, rtype) through the aliases `chain`, with NOERROR and
    /// `data` owned by the chain's last name.
    pub fn aliased(self, name: &str, rtype: RecordType, chain: &[&str], data: Vec<RData>) -> Self {
        let owner = Name::from_ascii(chain.last().copied().unwrap_or(name)).unwrap();
        let mut answer = answer(
            ResponseCode::NoError,
            data.into_iter()
                .map(|rdata| Record::from_rdata(owner.clone(), 300, rdata))
                .collect(),
        );
        answer.cname_chain = chain.iter().map(|s| (*s).to_owned()).collect();
        self.always(name, rtype, Ok(answer))
    }

    /// Answer (name, rtype) with `rcode` and no records.
    pub fn rcode(self, name: &str, rtype: RecordType, rcode: ResponseCode) -> Self {
        self.always(name, rtype, Ok(answer(rcode, Vec::new())))
    }

    /// Answer (name, rtype) with no usable response.
    pub fn dns_error(self, name: &str, rtype: RecordType, error: DnsError) -> Self {
        self.always(name, rtype, Err(error))
    }

    /// Questions not in the table get NXDOMAIN.
    pub fn unlisted_names_do_not_exist(mut self) -> Self {
        self.unlisted_dns = Ok(answer(ResponseCode::NXDomain, Vec::new()));
        self
    }

    /// Every DNS question gets `response` unless the table has it.
    pub fn unlisted_dns(mut self, response: DnsEntry) -> Self {
        self.unlisted_dns = response;
        self
    }

    /// Retries go to the one resolver with the CD bit set.
    pub fn single_resolver(mut self) -> Self {
        self.single_resolver = true;
        self
    }

    /// The DNSSEC self-test finds `self_test` (default: [`passing_self_test`]).
    pub fn self_test(mut self, self_test: DnssecSelfTest) -> Self {
        self.self_test = Some(self_test);
        self
    }

    /// Serve `url` with `status`, `location` and `body`.
    pub fn page(
        mut self,
        url: &str,
        status: u16,
        location: Option<&str>,
        body: impl AsRef<[u8]>,
    ) -> Self {
        let page = Page {
            status,
            location: location.map(str::to_owned),
            body: body.as_ref().to_vec(),
        };
        self.pages.insert(url.to_owned(), Ok(page));
        self
    }

    /// A GET of `url` fails with `error`.
    pub fn http_error(mut self, url: &str, error: HttpError) -> Self {
        self.pages.insert(url.to_owned(), Err(error));
        self
    }

    /// The n-th GET, whatever its URL, gets the n-th entry of `script`;
    /// GETs past its end get 404.
    pub fn http_script(mut self, script: Vec<HttpEntry>) -> Self {
        self.script = Some(script);
        self
    }

    /// Serve connections to `address` with `server` (an in-memory socket:
    /// no runtime, no port). With any server, every GET goes through core's
    /// real resolution, address policy, TLS and HTTP/1.1 client.
    pub fn listen(mut self, address: SocketAddr, server: Server) -> Self {
        self.servers.insert(address, server);
        self
    }

    /// Connections are held to `policy` (default: public addresses only).
    pub fn with_address_policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Every address connected to, in order.
    pub fn connected(&self) -> Vec<SocketAddr> {
        self.connected.lock().unwrap().clone()
    }

    /// Keep no record of the questions ([`FakeNetwork::asked`] stays
    /// empty): for long runs, such as the load bench's perspectives, whose
    /// memory is measured.
    pub fn forget_questions(mut self) -> Self {
        self.remember = false;
        self
    }

    /// No DNS question or GET is ever answered (the futures stay pending).
    pub fn silent(mut self) -> Self {
        self.silent = true;
        self
    }

    /// Each DNS answer waits one poll, so that questions asked at once are
    /// in flight together ([`FakeNetwork::most_in_flight`]).
    pub fn hold_dns_one_poll(mut self) -> Self {
        self.hold_dns_one_poll = true;
        self
    }

    /// Every question, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }

    /// Every question as a line: `name TYPE` for DNS (retries included),
    /// `GET url` and ` name: value` per header for HTTP.
    pub fn asked_lines(&self) -> Vec<String> {
        self.asked()
            .into_iter()
            .map(|asked| match asked {
                Asked::Dns { name, rtype } | Asked::Retry { name, rtype, .. } => {
                    format!("{name} {rtype}")
                }
                Asked::Http { url, headers } => {
                    let sent: String = headers.iter().map(|(n, v)| format!(" {n}: {v}")).collect();
                    format!("GET {url}{sent}")
                }
            })
            .collect()
    }

    /// Every DNS question (retries included), in order.
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.asked()
            .into_iter()
            .filter_map(|asked| match asked {
                Asked::Dns { name, rtype } | Asked::Retry { name, rtype, .. } => {
                    Some((name, rtype))
                }
                Asked::Http { .. } => None,
            })
            .collect()
    }

    /// Every retry: the question and the resolver whose answer failed.
    pub fn retries(&self) -> Vec<(String, RecordType, String)> {
        self.asked()
            .into_iter()
            .filter_map(|asked| match asked {
                Asked::Retry {
                    name,
                    rtype,
                    failed_resolver,
                } => Some((name, rtype, failed_resolver)),
                _ => None,
            })
            .collect()
    }

    /// Every URL fetched, in order.
    pub fn fetched(&self) -> Vec<String> {
        self.asked()
            .into_iter()
            .filter_map(|asked| match asked {
                Asked::Http { url, .. } => Some(url),
                _ => None,
            })
            .collect()
    }

    /// How many times the DNSSEC self-test ran.
    pub fn self_tests(&self) -> usize {
        self.self_tests.load(Ordering::SeqCst)
    }

    /// The most DNS questions that were in flight at once (counted only
    /// under [`FakeNetwork::hold_dns_one_poll`]).
    pub fn most_in_flight(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    fn record(&self, asked: Asked) {
        if self.remember {
            self.asked.lock().unwrap().push(asked);
        }
    }

    /// The next answer to (name, rtype), without recording the question.
    fn respond(&self, name: &str, rtype: RecordType) -> DnsEntry {
        let key = (name.to_owned(), rtype);
        let mut response = match self.dns.get(&key) {
            None => self.unlisted_dns.clone(),
            Some(responses) => {
                let mut served = self.served.lock().unwrap();
                let index = served.entry(key).or_default();
                let response = responses
                    .get(*index)
                    .or(responses.last())
                    .cloned()
                    .unwrap_or_else(|| Ok(answer(ResponseCode::NoError, Vec::new())));
                *index += 1;
                response
            }
        };
        if let Ok(answer) = &mut response {
            answer.name = name.to_owned();
            answer.rtype = rtype;
        }
        response
    }

    fn deliver<T>(&self, value: T) -> Delivery<T> {
        if self.silent {
            return Delivery::Never;
        }
        Delivery::Ready(Some(value))
    }

    fn deliver_dns(&self, response: DnsEntry) -> Delivery<DnsEntry> {
        if self.silent {
            return Delivery::Never;
        }
        if !self.hold_dns_one_poll {
            return Delivery::Ready(Some(response));
        }
        Delivery::Held {
            value: Some(response),
            waited: false,
            in_flight: Arc::clone(&self.in_flight),
        }
    }

    fn serve(&self, url: &Url, limits: &HttpLimits) -> Result<HttpResponse, HttpError> {
        let not_found = || {
            Ok(Page {
                status: 404,
                location: None,
                body: b"not found".to_vec(),
            })
        };
        let page = match &self.script {
            Some(script) => {
                let index = self.fetched().len() - 1;
                script.get(index).cloned().unwrap_or_else(not_found)
            }
            None => self
                .pages
                .get(url.as_str())
                .cloned()
                .unwrap_or_else(not_found),
        }?;
        let cut = page.body.len().min(limits.max_body_bytes);
        Ok(HttpResponse {
            url: url.to_string(),
            contacted: None,
            status: page.status,
            location: page.location,
            content_type: Some("text/plain".into()),
            body: page.body[..cut].to_vec(),
            body_truncated: cut < page.body.len(),
        })
    }
}

impl Network for FakeNetwork {
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.record(Asked::Dns {
            name: name.to_owned(),
            rtype,
        });
        self.deliver_dns(self.respond(name, rtype))
    }

    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.record(Asked::Retry {
            name: name.to_owned(),
            rtype,
            failed_resolver: failed.resolver.clone(),
        });
        let mut response = self.respond(name, rtype);
        if let Ok(answer) = &mut response {
            if self.single_resolver {
                answer.checking_disabled = true;
            } else if answer.resolver == RESOLVER {
                answer.resolver = SECOND_RESOLVER.into();
            }
        }
        self.deliver_dns(response)
    }

    fn dnssec_self_test(&self) -> impl Future<Output = DnssecSelfTest> + MaybeSend {
        self.self_tests.fetch_add(1, Ordering::SeqCst);
        let test = self.self_test.clone().unwrap_or_else(passing_self_test);
        std::future::ready(test)
    }

    type Connection = FakeConnection;

    fn address_policy(&self) -> AddressPolicy {
        self.policy
    }

    fn connect(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = Result<FakeConnection, ConnectError>> + MaybeSend {
        let refused = self.policy.check(address.ip()).err();
        if refused.is_none() {
            self.connected.lock().unwrap().push(address);
        }
        let connection = match (refused, self.servers.get(&address)) {
            (Some(refused), _) => Err(ConnectError::NotPermitted(refused.to_string())),
            (None, None) => Err(ConnectError::Failed(format!(
                "nothing listens at {address}"
            ))),
            (None, Some(server)) => {
                let (client, server_end) = tokio::io::duplex(64 * 1024);
                Ok(FakeConnection {
                    client,
                    server: Some(server(server_end)),
                })
            }
        };
        std::future::ready(connection)
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> + MaybeSend {
        Sleep {
            ms,
            fired: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            started: false,
        }
    }

    fn http_get(
        &self,
        url: &Url,
        headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        self.record(Asked::Http {
            url: url.to_string(),
            headers: headers.clone(),
        });
        let canned = self
            .servers
            .is_empty()
            .then(|| self.deliver(self.serve(url, limits)));
        let (url, headers, limits) = (url.clone(), headers.clone(), *limits);
        async move {
            match canned {
                Some(delivery) => delivery.await,
                None => crate::web::get(self, &url, &headers, &limits).await,
            }
        }
    }
}

/// The client's end of an in-memory connection. Each read or write first
/// drives the server's task, so one thread (no runtime) runs both ends.
pub struct FakeConnection {
    client: DuplexStream,
    server: Option<ServerTask>,
}

impl FakeConnection {
    fn drive_server(&mut self, context: &mut Context<'_>) {
        if let Some(task) = &mut self.server
            && task.as_mut().poll(context).is_ready()
        {
            self.server = None;
        }
    }
}

impl AsyncRead for FakeConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.drive_server(context);
        Pin::new(&mut this.client).poll_read(context, buf)
    }
}

impl AsyncWrite for FakeConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.drive_server(context);
        Pin::new(&mut this.client).poll_write(context, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.drive_server(context);
        Pin::new(&mut this.client).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.drive_server(context);
        Pin::new(&mut this.client).poll_shutdown(context)
    }
}

/// A real-time timer without a runtime: a thread sleeps, then wakes the
/// task. Test-only (one thread per timer).
struct Sleep {
    ms: u64,
    fired: Arc<std::sync::atomic::AtomicBool>,
    started: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !this.started {
            this.started = true;
            let fired = Arc::clone(&this.fired);
            let waker = context.waker().clone();
            let ms = this.ms;
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                fired.store(true, Ordering::SeqCst);
                waker.wake();
            });
        }
        Poll::Pending
    }
}

/// An answer the fake hands over: at once, after one poll (counted in
/// flight from its first poll until then), or never.
enum Delivery<T> {
    Ready(Option<T>),
    Held {
        value: Option<T>,
        waited: bool,
        in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    },
    Never,
}

impl<T> Unpin for Delivery<T> {}

impl<T> Future for Delivery<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            Delivery::Ready(value) => value.take().map_or(Poll::Pending, Poll::Ready),
            Delivery::Held {
                value,
                waited,
                in_flight,
            } => {
                if !*waited {
                    *waited = true;
                    let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
                    in_flight.1.fetch_max(now, Ordering::SeqCst);
                    context.waker().wake_by_ref();
                    return Poll::Pending;
                }
                in_flight.0.fetch_sub(1, Ordering::SeqCst);
                value.take().map_or(Poll::Pending, Poll::Ready)
            }
            Delivery::Never => Poll::Pending,
        }
    }
}

/// A self-test every resolver of the fake passed.
pub fn passing_self_test() -> DnssecSelfTest {
    let probe = |rcode: &str, ad| ProbeAnswer::Answer {
        rcode: rcode.into(),
        authentic_data: ad,
    };
    DnssecSelfTest {
        names: DnssecTestNames::default(),
        resolvers: vec![ResolverSelfTest {
            resolver: RESOLVER.into(),
            bogus: probe("SERVFAIL", false),
            signed: probe("NOERROR", true),
            failure: None,
        }],
    }
}

/// A self-test the fake's resolver failed: it does not validate.
pub fn failing_self_test() -> DnssecSelfTest {
    let mut test = passing_self_test();
    for resolver in &mut test.resolvers {
        resolver.bogus = ProbeAnswer::Answer {
            rcode: "NOERROR".into(),
            authentic_data: false,
        };
        resolver.failure = Some(SelfTestFailure::BogusAccepted {
            name: test.names.bogus.clone(),
            rcode: "NOERROR".into(),
        });
    }
    test
}
