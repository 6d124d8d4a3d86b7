//! Is a port free, open, answering like the server it should be?

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use anyhow::bail;

/// How long one probe waits on a connect, a write or a read.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What "the server answers" means for one kind of server on `127.0.0.1:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Anything HTTP answers, whatever the status (DynamoDB Local answers `GET /` with 400).
    Http(u16),
    /// `PING` gets `+PONG` (redis-server, plain TCP).
    RedisPing(u16),
    /// The port accepts a TCP connection (a TLS-only redis-server, which `PING` cannot reach).
    Tcp(u16),
    /// A DynamoDB `ListTables` is answered 200 (LocalStack, whose gateway answers HTTP
    /// before its DynamoDB does).
    DynamoDbApi(u16),
}

impl Probe {
    /// The port probed.
    pub fn port(self) -> u16 {
        match self {
            Probe::Http(p) | Probe::RedisPing(p) | Probe::Tcp(p) | Probe::DynamoDbApi(p) => p,
        }
    }

    /// One attempt, blocking for at most a few seconds.
    pub fn answers(self) -> bool {
        match self {
            Probe::Tcp(port) => port_open(port),
            Probe::Http(port) => exchange(port, b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", 5)
                .is_some_and(|head| head.starts_with(b"HTTP/")),
            Probe::RedisPing(port) => {
                exchange(port, b"PING\r\n", 7).is_some_and(|r| r == b"+PONG\r\n")
            }
            Probe::DynamoDbApi(port) => exchange(port, LIST_TABLES, 12)
                .is_some_and(|head| head.starts_with(b"HTTP/1.") && head.ends_with(b" 200")),
        }
    }
}

/// An (unsigned) ListTables; LocalStack checks only that the Authorization header names a
/// credential.
const LIST_TABLES: &[u8] = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\
X-Amz-Target: DynamoDB_20120810.ListTables\r\n\
Content-Type: application/x-amz-json-1.0\r\n\
Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
Content-Length: 2\r\nConnection: close\r\n\r\n{}";

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends `request`, reads the first `want` bytes of the answer.
fn exchange(port: u16, request: &[u8], want: usize) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&local(port), PROBE_TIMEOUT).ok()?;
    s.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    s.write_all(request).ok()?;
    let mut buf = vec![0u8; want];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Something accepts TCP connections on `127.0.0.1:port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&local(port), PROBE_TIMEOUT).is_ok()
}

/// A port in `range` nobody listens on. The search starts at a point that differs per process
/// and moves on with every call, so two test binaries, or two tests of one, pick different
/// ports.
pub fn free_port(range: Range<u16>) -> anyhow::Result<u16> {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = range.end.saturating_sub(range.start);
    if span == 0 {
        bail!("no port in the empty range {range:?}");
    }
    let seed = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let offset =
            (u32::from(seed) + u32::from(NEXT.fetch_add(1, Ordering::Relaxed))) % u32::from(span);
        let port = range.start + offset as u16;
        if TcpListener::bind(local(port)).is_ok() && !port_open(port) {
            return Ok(port);
        }
    }
    bail!("no free port in {range:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_free_in_range_and_differ() {
        let a = free_port(20000..20100).unwrap();
        let b = free_port(20000..20100).unwrap();
        assert!((20000..20100).contains(&a) && (20000..20100).contains(&b));
        assert_ne!(a, b);
        assert!(!port_open(a));
    }

    #[test]
    fn an_empty_range_is_an_error() {
        assert!(free_port(5..5).is_err());
    }

    #[test]
    fn probes_tell_a_listener_from_nothing_and_http_from_tcp() {
        let listener = TcpListener::bind(local(0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(Probe::Tcp(port).answers());
        let server = std::thread::spawn(move || {
            // First connection: the Tcp probe above. Second: answers HTTP.
            let _ = listener.accept();
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        });
        assert!(Probe::Http(port).answers());
        server.join().unwrap();
        let closed = free_port(20100..20200).unwrap();
        assert!(!Probe::Http(closed).answers());
        assert!(!Probe::RedisPing(closed).answers());
    }
}
