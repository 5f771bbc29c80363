//! OPTIONS pings: 200 normally, 503 while draining.

mod sipp;

use sipp::{Sipp, endpoint, free_udp_port, scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_gets_200() {
    let (endpoint, _incoming) = endpoint().await;
    let target = endpoint.udp_addr().to_string();
    Sipp::spawn(
        free_udp_port(),
        &["-sf", &scenario("options.xml"), "-s", "earshot", &target],
    )
    .expect_success()
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_gets_503_while_draining() {
    let (endpoint, _incoming) = endpoint().await;
    endpoint.set_draining(true);
    let target = endpoint.udp_addr().to_string();
    Sipp::spawn(
        free_udp_port(),
        &[
            "-sf",
            &scenario("options_draining.xml"),
            "-s",
            "earshot",
            &target,
        ],
    )
    .expect_success()
    .await;
}
