//! [`Valve`]: a TCP relay in front of a real service that a test can
//! freeze, to see what callers do when a process hangs with its socket
//! open — connections are accepted and bytes taken, but nothing is passed
//! on either way until the valve is thawed.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A relay on a port of its own to `target`; dropping it closes every
/// connection through it.
pub struct Valve {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    cuts: watch::Sender<u64>,
    relay: JoinHandle<()>,
}

impl Valve {
    /// Starts relaying to `target`, open.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the valve");
        let addr = listener.local_addr().expect("the valve's address");
        let (open, watching) = watch::channel(true);
        let (cuts, cut_watch) = watch::channel(0_u64);
        let relay = tokio::spawn(async move {
            // Held by the accept loop, so aborting it ends every connection.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let open = watching.clone();
                let mut cut = cut_watch.clone();
                cut.mark_unchanged();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        tokio::select! {
                            () = relay(client, server, open) => {}
                            _ = cut.changed() => {}
                        }
                    }
                });
            }
        });
        Self {
            addr,
            open,
            cuts,
            relay,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` and the relay's address, for a gRPC client or discovery.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Holds every byte from now on, in both directions.
    pub fn freeze(&self) {
        self.open.send_replace(false);
    }

    /// Closes every connection open now, as a process that dies does;
    /// later ones are relayed again.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Passes bytes again, the held ones first.
    pub fn thaw(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Valve {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, open: watch::Receiver<bool>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pass(client_read, server_write, open.clone()) => {}
        () = pass(server_read, client_write, open) => {}
    }
}

/// Copies `from` to `to`, each chunk waiting until the valve is open.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: watch::Receiver<bool>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if open.wait_for(|open| *open).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
