//! [`TcpProxy`]: an in-process TCP proxy in front of a NATS server, to put
//! one client's link in trouble while every process lives on: cut it
//! (connections dropped, new ones refused), black-hole it (connections stay
//! up, nothing gets through either way: a partition), hold it (nothing gets
//! through until healed, then everything does, in order: a stalled link),
//! slow it down (every chunk delayed by `base ± jitter`, order kept), heal
//! it.
//!
//! ```no_run
//! use std::time::Duration;
//! use aether_testkit::{NatsServer, TcpProxy};
//!
//! # async fn demo() {
//! let server = NatsServer::start().await;
//! let proxy = TcpProxy::start(server.port()).await;
//! let client = async_nats::connect(proxy.url()).await.unwrap();
//! proxy.blackhole(); // the client's traffic goes nowhere, its socket stays open
//! proxy.heal();
//! proxy.delay(Duration::from_millis(200), Duration::from_millis(100));
//! # drop(client);
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the proxy does with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    /// Read and dropped, both ways.
    Blackhole,
    /// Read and kept, both ways, until the mode changes.
    Hold,
    /// Connections dropped; new ones refused.
    Cut,
    /// Every chunk delivered `base ± jitter` after it was read, in order.
    Delay {
        base: Duration,
        jitter: Duration,
    },
}

/// A TCP proxy to `127.0.0.1:<target port>` (see the module docs).
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    mode: watch::Sender<Mode>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a random local port and forwards to `target_port`.
    pub async fn start(target_port: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port for the proxy");
        let port = listener.local_addr().expect("local address").port();
        let (mode, rx) = watch::channel(Mode::Pass);
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn(accept_loop(listener, target_port, rx, tasks.clone()));
        TcpProxy {
            port,
            mode,
            tasks,
            accept,
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Drops every proxied connection and refuses new ones until [`heal`](Self::heal).
    pub fn cut(&self) {
        let _ = self.mode.send(Mode::Cut);
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }

    /// Keeps the connections open but lets nothing through, either way (a
    /// network partition: the client notices only by its own timeouts).
    pub fn blackhole(&self) {
        let _ = self.mode.send(Mode::Blackhole);
    }

    /// Keeps the connections open and holds what they send, either way,
    /// until [`heal`](Self::heal) delivers it all in order (a stalled link:
    /// a request sent meanwhile is answered only after the heal). A chunk
    /// already on its way when the hold begins may still get through.
    pub fn hold(&self) {
        let _ = self.mode.send(Mode::Hold);
    }

    /// Delays every chunk, both ways, by `base` ± up to `jitter`.
    pub fn delay(&self, base: Duration, jitter: Duration) {
        let _ = self.mode.send(Mode::Delay { base, jitter });
    }

    /// Back to forwarding at once (what a black hole swallowed stays lost;
    /// what a hold kept goes on).
    pub fn heal(&self) {
        let _ = self.mode.send(Mode::Pass);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target_port: u16,
    mode: watch::Receiver<Mode>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            return;
        };
        if *mode.borrow() == Mode::Cut {
            drop(inbound);
            continue;
        }
        let Ok(outbound) = TcpStream::connect(("127.0.0.1", target_port)).await else {
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let (in_r, in_w) = inbound.into_split();
        let (out_r, out_w) = outbound.into_split();
        let mut list = tasks.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|t| !t.is_finished());
        list.push(tokio::spawn(pump(in_r, out_w, mode.clone())));
        list.push(tokio::spawn(pump(out_r, in_w, mode.clone())));
    }
}

/// A small random number without a generator to carry around.
fn random_below(n: u64) -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    if n == 0 { 0 } else { x % n }
}

/// Chunks waiting for their delivery time, oldest first.
type Pending = Arc<Mutex<VecDeque<(Instant, Vec<u8>)>>>;

/// Copies one direction, as the mode says.
async fn pump(mut from: OwnedReadHalf, to: OwnedWriteHalf, mode: watch::Receiver<Mode>) {
    let queue: Pending = Arc::default();
    let (wake, woken) = watch::channel(());
    let writer = tokio::spawn(deliver(to, queue.clone(), woken, mode.clone()));
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_due = Instant::now();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        let due = match *mode.borrow() {
            Mode::Pass | Mode::Hold => now,
            Mode::Blackhole => continue,
            Mode::Cut => break,
            Mode::Delay { base, jitter } => {
                let j = random_below(jitter.as_micros() as u64 * 2 + 1) as i64
                    - jitter.as_micros() as i64;
                let d = (base.as_micros() as i64 + j).max(0) as u64;
                now + Duration::from_micros(d)
            }
        };
        // Never before an earlier chunk: order is kept.
        last_due = last_due.max(due);
        queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((last_due, buf[..n].to_vec()));
        let _ = wake.send(());
    }
    drop(wake);
    let _ = writer.await;
}

async fn deliver(
    mut to: OwnedWriteHalf,
    queue: Pending,
    mut woken: watch::Receiver<()>,
    mut mode: watch::Receiver<Mode>,
) {
    loop {
        // Held: everything stays queued until the mode changes.
        while *mode.borrow_and_update() == Mode::Hold {
            if mode.changed().await.is_err() {
                return;
            }
        }
        let next = queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        match next {
            Some((due, bytes)) => {
                tokio::time::sleep_until(due).await;
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            None => {
                if woken.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server and a client through the proxy, in every mode.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_delays_blackholes_holds_heals_and_cuts() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_port = echo.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let proxy = TcpProxy::start(echo_port).await;
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port()))
            .await
            .unwrap();
        let mut got = [0u8; 2];
        let round = async |c: &mut TcpStream, got: &mut [u8; 2]| {
            c.write_all(b"hi").await.unwrap();
            tokio::time::timeout(Duration::from_millis(500), c.read_exact(got))
                .await
                .is_ok()
        };
        assert!(round(&mut c, &mut got).await && &got == b"hi");
        proxy.delay(Duration::from_millis(100), Duration::from_millis(20));
        let t = Instant::now();
        assert!(round(&mut c, &mut got).await);
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "two delayed legs"
        );
        proxy.blackhole();
        assert!(
            !round(&mut c, &mut got).await,
            "nothing through a black hole"
        );
        proxy.heal();
        assert!(round(&mut c, &mut got).await && &got == b"hi");
        proxy.hold();
        c.write_all(b"hi").await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(300), c.read_exact(&mut got)).await;
        assert!(held.is_err(), "nothing through while held");
        proxy.heal();
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut got))
            .await
            .expect("what was held arrives after the heal")
            .unwrap();
        assert_eq!(&got, b"hi");
        proxy.cut();
        let mut c2 = TcpStream::connect(("127.0.0.1", proxy.port()))
            .await
            .unwrap();
        let mut one = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_millis(500), c2.read(&mut one)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "refused: {closed:?}"
        );
    }
}
