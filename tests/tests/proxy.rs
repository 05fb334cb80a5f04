//! The fault proxy itself does what the fault-injection tests rely on.

use std::time::Duration;

use hearth_e2e::proxy::{Direction, Fault, FaultProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that records everything it receives and answers each read with "ok:" + the bytes.
async fn echo_upstream() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut all = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    all.extend_from_slice(&buf[..n]);
                    let _ = s.write_all(&[b"ok:", &buf[..n]].concat()).await;
                }
                let _ = tx.send(all);
            });
        }
    });
    (addr, rx)
}

async fn read_all(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("no hang")?;
    Ok(out)
}

#[tokio::test]
async fn passes_bytes_both_ways_by_default() {
    let (up, mut seen) = echo_upstream().await;
    let proxy = FaultProxy::start(up).await.unwrap();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 8];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ok:hello");
    c.shutdown().await.unwrap();
    assert_eq!(seen.recv().await.unwrap(), b"hello");
    let stats = proxy.stats();
    assert_eq!(
        (stats.connections, stats.bytes_up, stats.bytes_down),
        (1, 5, 8)
    );
    proxy.stop().await;
}

#[tokio::test]
async fn closes_after_exactly_n_bytes_up() {
    let (up, mut seen) = echo_upstream().await;
    let proxy = FaultProxy::start(up).await.unwrap();
    proxy.push_faults([Fault::Close {
        dir: Direction::Up,
        after: 3,
    }]);
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"abcdefgh").await.unwrap();
    let _ = read_all(&mut c).await;
    assert_eq!(
        seen.recv().await.unwrap(),
        b"abc",
        "the service saw only the first 3 bytes"
    );
    assert_eq!(proxy.stats().faults_applied, 1);

    // The plan is used up: the next connection passes.
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"xyz").await.unwrap();
    let mut buf = [0u8; 6];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ok:xyz");
}

#[tokio::test]
async fn resets_the_client_connection() {
    let (up, _seen) = echo_upstream().await;
    let proxy = FaultProxy::start(up).await.unwrap();
    proxy.push_faults([Fault::Reset {
        dir: Direction::Down,
        after: 2,
    }]);
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let err = loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("no hang")
        {
            Ok(0) => panic!("expected a reset, got a clean close after {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(got, b"ok", "exactly the bytes before the fault arrived");
}

#[tokio::test]
async fn answers_an_injected_http_status_without_the_service() {
    let (up, mut seen) = echo_upstream().await;
    let proxy = FaultProxy::start(up).await.unwrap();
    proxy.push_faults([Fault::HttpStatus { status: 503 }]);
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"GET /v1/anchor HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_all(&mut c).await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(seen.try_recv().is_err(), "the service was never contacted");
}

#[tokio::test]
async fn stalls_then_closes() {
    let (up, _seen) = echo_upstream().await;
    let proxy = FaultProxy::start(up).await.unwrap();
    proxy.push_faults([Fault::Stall {
        dir: Direction::Down,
        after: 0,
        stall: Duration::from_millis(300),
    }]);
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let started = std::time::Instant::now();
    let got = read_all(&mut c).await.unwrap_or_default();
    assert!(got.is_empty(), "nothing comes through a stalled link");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the link stayed open while stalled"
    );
}
