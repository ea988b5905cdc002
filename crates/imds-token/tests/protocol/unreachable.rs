//! Off Azure nothing answers: the error must come fast, say "no identity", and not stick.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use imds_token::{Environment, ErrorKind, ManagedIdentity, ManualClock};
use wiremock::MockServer;

use crate::common::{
    assert_imds_request, mount_imds, ok_token, requests, DAY, IMDS_STORAGE_QUERY, STORAGE,
};

#[tokio::test]
async fn a_closed_port_is_no_identity_and_a_later_call_tries_again() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = ManualClock::default();
    let identity = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(clock.clone())
        .imds_endpoint(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NoIdentity);
    assert_eq!(error.status(), None);
    assert_eq!(
        error.to_string(),
        format!(
            "no managed identity endpoint answered: the IMDS at \
             http://127.0.0.1:{port}/metadata/identity/oauth2/token: the connection failed or \
             was refused. Off Azure this is expected; on Azure, check that this VM or app has a \
             managed identity"
        )
    );

    // The endpoint comes up on that port; after the failure backoff the same identity works.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    mount_imds(&server, ok_token("eyJ-later", &clock, DAY)).await;
    clock.advance(Duration::from_secs(2));

    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-later");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_imds_request(&sent[0], IMDS_STORAGE_QUERY);
}

/// A listener whose accept queue is full: the kernel drops new connection attempts, as a
/// firewall that swallows packets would, so connecting hangs until the connect timeout.
fn listener_that_never_accepts() -> (tokio::net::TcpListener, SocketAddr, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the queue; the attempts past its size are the ones that time out.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => break,
        }
    }
    (listener, addr, fillers)
}

#[tokio::test]
async fn an_endpoint_that_never_accepts_is_no_identity_after_the_connect_timeout() {
    let (_listener, addr, fillers) = listener_that_never_accepts();
    assert!(
        !fillers.is_empty(),
        "the accept queue should take at least one connection"
    );
    let identity = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(ManualClock::default())
        .imds_endpoint(format!("http://{addr}"))
        .connect_timeout(Duration::from_millis(100))
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NoIdentity);
    assert_eq!(
        error.to_string(),
        format!(
            "no managed identity endpoint answered: the IMDS at \
             http://{addr}/metadata/identity/oauth2/token: no connection within 100ms. Off Azure \
             this is expected; on Azure, check that this VM or app has a managed identity"
        )
    );
}
