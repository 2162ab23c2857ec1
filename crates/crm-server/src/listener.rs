//! What happens to a connection before HTTP sees it: a cap on how many are open at once,
//! `TCP_NODELAY`, and an idle timeout that closes a connection on which nothing has been
//! read or written for a while (a stalled body, an abandoned TLS handshake, an idle
//! HTTP/2 connection). The HTTP/1 header timeout is hyper's, configured in `app`.

use axum_server::accept::Accept;
use std::future::{Future, Ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Accepts TCP connections up to a cap and wraps each in an [`IdleTimeout`].
#[derive(Debug, Clone)]
pub struct Limited {
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl Limited {
    /// At most `max_connections` open at once; each closed after `idle` without traffic.
    pub fn new(max_connections: usize, idle: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_connections)),
            idle,
        }
    }

    /// Connections that may still be opened.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }
}

impl<S> Accept<TcpStream, S> for Limited {
    type Stream = IdleTimeout<TcpStream>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, S)>>;

    /// Over the cap the connection is refused at once (dropping it closes the socket), so
    /// idle or hostile clients cannot exhaust the process's file descriptors.
    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            tracing::warn!("connection refused: the connection limit is reached");
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        let ready = stream
            .set_nodelay(true)
            .map(|()| (IdleTimeout::new(stream, self.idle, permit), service));
        std::future::ready(ready)
    }
}

/// A stream that fails with `TimedOut` once it has been idle (no byte read or written)
/// for its timeout while a read or write is waiting; it holds its connection slot until
/// dropped.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration, slot: OwnedSemaphorePermit) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            _slot: slot,
        }
    }

    fn progressed(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// A write's result: progress resets the deadline, `Pending` waits on it.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx),
        }
    }

    /// `Pending` stays pending until the deadline passes; then the connection fails.
    fn check<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.check(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// HTTP and HTTPS on one listener: the first byte of a connection tells them apart (a TLS
/// handshake starts with 0x16, an HTTP request with a letter), then the connection goes to
/// the TLS acceptor or straight to the plain one.
#[derive(Debug, Clone)]
pub struct Sniffing<T, P> {
    tls: T,
    plain: P,
    /// How long a connection may wait before sending its first byte.
    patience: Duration,
}

impl<T, P> Sniffing<T, P> {
    /// Sniffs each connection for at most `patience`, then hands it to `tls` or `plain`.
    pub fn new(tls: T, plain: P, patience: Duration) -> Self {
        Self {
            tls,
            plain,
            patience,
        }
    }
}

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// A connection that is either TLS or plain.
#[derive(Debug)]
pub enum EitherStream<A, B> {
    /// A TLS connection.
    Tls(A),
    /// A plain one.
    Plain(B),
}

impl<S, T, P> Accept<TcpStream, S> for Sniffing<T, P>
where
    T: Accept<TcpStream, S, Service = S> + Clone + Send + Sync + 'static,
    T::Future: Send,
    P: Accept<TcpStream, S, Service = S> + Clone + Send + Sync + 'static,
    P::Future: Send,
    S: Send + 'static,
{
    type Stream = EitherStream<T::Stream, P::Stream>;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let (tls, plain, patience) = (self.tls.clone(), self.plain.clone(), self.patience);
        Box::pin(async move {
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(patience, stream.peek(&mut first)).await;
            let is_tls = matches!(peeked, Ok(Ok(1))) && first[0] == TLS_HANDSHAKE;
            if peeked.is_err() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no first byte"));
            }
            if is_tls {
                let (s, svc) = tls.accept(stream, service).await?;
                Ok((EitherStream::Tls(s), svc))
            } else {
                let (s, svc) = plain.accept(stream, service).await?;
                Ok((EitherStream::Plain(s), svc))
            }
        })
    }
}

impl<A: AsyncRead + Unpin, B: AsyncRead + Unpin> AsyncRead for EitherStream<A, B> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(a) => Pin::new(a).poll_read(cx, buf),
            Self::Plain(b) => Pin::new(b).poll_read(cx, buf),
        }
    }
}

impl<A: AsyncWrite + Unpin, B: AsyncWrite + Unpin> AsyncWrite for EitherStream<A, B> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tls(a) => Pin::new(a).poll_write(cx, buf),
            Self::Plain(b) => Pin::new(b).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(a) => Pin::new(a).poll_flush(cx),
            Self::Plain(b) => Pin::new(b).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(a) => Pin::new(a).poll_shutdown(cx),
            Self::Plain(b) => Pin::new(b).poll_shutdown(cx),
        }
    }
}
