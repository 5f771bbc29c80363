//! Legs on real UDP sockets on 127.0.0.1, driven the way a call task drives them: one task,
//! `select!` over the socket and the next deadline. Waits are on events with deadlines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use g711::Law;
use media::{Leg, LegConfig, LegEvent, PortPool, PortPoolConfig, Received, Source};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rtp::{Header, Packet, PayloadType, RtpTime, SeqNo, Ssrc};
use sdp::{Direction, NegotiatedMedia, Ptime};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::{sleep_until, timeout};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn pool(first: u16) -> PortPool {
    PortPool::new(PortPoolConfig {
        ip: LOCALHOST,
        first,
        last: first + 999,
    })
    .expect("non-empty range")
}

fn media(remote: SocketAddr, codec: Law, ptime_ms: u16) -> NegotiatedMedia {
    NegotiatedMedia {
        remote_rtp: remote,
        codec,
        payload_type: PayloadType::new(codec.payload_type()).expect("static"),
        telephone_event: PayloadType::new(101),
        ptime: Ptime::from_ms(ptime_ms).expect("not zero"),
        direction: Direction::SendRecv,
        on_hold: false,
    }
}

fn rtp(seq: u16, ts: u32, pt: PayloadType, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        marker: seq == 0,
        payload_type: pt,
        seq: SeqNo(seq),
        timestamp: RtpTime(ts),
        ssrc: Ssrc(0x5EED),
    };
    let mut buf = vec![0; 12 + payload.len()];
    Packet::write(&header, payload, &mut buf).expect("sized");
    buf
}

/// Non-silent audio that differs from packet to packet.
fn audio(k: usize, len: usize, silence: u8) -> Vec<u8> {
    (0..len)
        .map(|i| match ((k * 131 + i * 7) % 256) as u8 {
            b if b == silence => 0x2A,
            b => b,
        })
        .collect()
}

/// Runs `leg` as a call task would, until told to stop; gives the leg back.
fn spawn_leg(mut leg: Leg) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Leg>) {
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        loop {
            let deadline = leg.next_deadline();
            tokio::select! {
                r = leg.recv() => { r.expect("loopback receive"); }
                _ = sleep_until(deadline) => {}
                _ = &mut stopped => return leg,
            }
            leg.send_due(Leg::now(), |_| {});
        }
    });
    (stop, task)
}

#[derive(Debug)]
struct Got {
    from: SocketAddr,
    header: Header,
    payload: Vec<u8>,
}

async fn recv_one(socket: &UdpSocket) -> Got {
    let mut buf = [0u8; 2048];
    let (n, from) = socket.recv_from(&mut buf).await.expect("loopback receive");
    let p = Packet::parse(&buf[..n]).expect("the leg sends RTP");
    Got {
        from,
        header: p.header,
        payload: p.payload.to_vec(),
    }
}

fn assert_one_stream(got: &[Got], pt: PayloadType, samples: usize) {
    assert!(got[0].header.marker, "marker on the first packet");
    for w in got.windows(2) {
        assert_eq!(w[1].header.ssrc, w[0].header.ssrc);
        assert_eq!(w[1].header.seq, w[0].header.seq.wrapping_add(1));
        assert_eq!(
            w[1].header.timestamp,
            w[0].header.timestamp.wrapping_add(samples as u32)
        );
        assert!(!w[1].header.marker);
    }
    assert!(got.iter().all(|g| g.header.payload_type == pt));
    assert!(got.iter().all(|g| g.payload.len() == samples));
}

/// Receives until the audio that follows the leading silence is `expected_len` long and a
/// frame of silence has followed it; returns everything received.
async fn receive_audio(socket: &UdpSocket, silence: u8, expected_len: usize) -> Vec<Got> {
    let mut got = Vec::new();
    loop {
        got.push(recv_one(socket).await);
        let all: Vec<u8> = got.iter().flat_map(|g| g.payload.iter().copied()).collect();
        if let Some(start) = all.iter().position(|&b| b != silence)
            && all.len() >= start + expected_len + 2 * got[0].payload.len()
        {
            return got;
        }
    }
}

fn audio_after_silence(got: &[Got], silence: u8) -> Vec<u8> {
    let all: Vec<u8> = got.iter().flat_map(|g| g.payload.iter().copied()).collect();
    let start = all.iter().position(|&b| b != silence).expect("some audio");
    let end = all.iter().rposition(|&b| b != silence).expect("some audio");
    all[start..=end].to_vec()
}

#[tokio::test]
async fn an_echo_leg_plays_30_ms_of_pcma_back_in_its_20_ms_frames() {
    let pool = pool(42_000);
    let peer = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await.expect("loopback"));
    let config = LegConfig {
        // Generous, so a loaded CI machine's scheduling jitter cannot reorder audio.
        playout_window_ms: 200,
        ..LegConfig::default()
    };
    let leg = Leg::bind(
        &pool,
        config,
        &media(peer.local_addr().expect("bound"), Law::Alaw, 20),
        Source::Echo,
        &mut SmallRng::seed_from_u64(1),
    )
    .expect("a free port");
    let leg_addr = leg.local_addr();
    assert_eq!(leg_addr.port() % 2, 0);
    assert_eq!(pool.leased(), 1);
    let (stop, leg_task) = spawn_leg(leg);

    let sender = {
        let peer = Arc::clone(&peer);
        tokio::spawn(async move {
            let mut said = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(30));
            for k in 0..50u16 {
                tick.tick().await;
                let payload = audio(usize::from(k), 240, Law::Alaw.silence());
                said.extend_from_slice(&payload);
                let p = rtp(k, 240 * u32::from(k), PayloadType::PCMA, &payload);
                peer.send_to(&p, leg_addr).await.expect("loopback send");
                if k == 10 {
                    peer.send_to(b"not rtp", leg_addr).await.expect("send");
                    peer.send_to(&[0x40; 20], leg_addr).await.expect("send");
                }
                if k == 20 {
                    let mut rr = [0u8; 8];
                    rr[0] = 0x80;
                    rr[1] = 201;
                    peer.send_to(&rr, leg_addr).await.expect("send");
                }
            }
            said
        })
    };

    let got = timeout(
        Duration::from_secs(10),
        receive_audio(&peer, Law::Alaw.silence(), 50 * 240),
    )
    .await
    .expect("the echo within 10 s");
    let said = sender.await.expect("sender");
    assert!(got.iter().all(|g| g.from == leg_addr));
    assert_one_stream(&got, PayloadType::PCMA, 160);
    assert_eq!(audio_after_silence(&got, Law::Alaw.silence()), said);

    stop.send(()).expect("leg task alive");
    let leg = leg_task.await.expect("leg task");
    let st = leg.stats();
    assert_eq!(st.packets_in, 50);
    assert_eq!((st.malformed, st.rtcp_ignored), (2, 1));
    assert_eq!((st.lost, st.late, st.foreign), (0, 0, 0));
    assert!(st.packets_out >= got.len() as u64);
    assert_eq!(leg.core().destination(), peer.local_addr().ok());
    drop(leg);
    assert_eq!(pool.leased(), 0);
    std::net::UdpSocket::bind(leg_addr).expect("the port is free again");
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_reported_inactive_after_30_seconds() {
    let pool = pool(43_000);
    let peer = UdpSocket::bind((LOCALHOST, 0)).await.expect("loopback");
    let mut leg = Leg::bind(
        &pool,
        LegConfig::default(),
        &media(peer.local_addr().expect("bound"), Law::Ulaw, 20),
        Source::Silence,
        &mut SmallRng::seed_from_u64(2),
    )
    .expect("a free port");
    let start = Leg::now();
    let event = timeout(Duration::from_secs(60), async {
        loop {
            let deadline = leg.next_deadline();
            tokio::select! {
                r = leg.recv() => { r.expect("loopback receive"); }
                _ = sleep_until(deadline) => {}
            }
            leg.send_due(Leg::now(), |_| {});
            if let Some(event) = leg.poll_event() {
                return event;
            }
        }
    })
    .await
    .expect("an event within 60 s of virtual time");
    assert_eq!(
        event,
        LegEvent::Inactive {
            silent_for: Duration::from_secs(30)
        }
    );
    assert_eq!(Leg::now() - start, Duration::from_secs(30));
    // It kept sending meanwhile: 30 s of 20 ms frames.
    // Nobody reads the peer's socket: once its buffer is full, sends may fail; they are
    // counted and never hold the schedule up.
    let st = leg.stats();
    assert_eq!(st.packets_out + st.send_failed, 1501, "{st:?}");
    assert_eq!(st.frames_skipped, 0);
    assert!(matches!(
        recv_one(&peer).await.header.payload_type,
        PayloadType::PCMU
    ));
}

#[tokio::test]
async fn two_bridged_legs_transcode_and_relay_telephone_events() {
    let pool = pool(44_000);
    let peer_a = UdpSocket::bind((LOCALHOST, 0)).await.expect("loopback");
    let peer_b = UdpSocket::bind((LOCALHOST, 0)).await.expect("loopback");
    let mut rng = SmallRng::seed_from_u64(3);
    let config = LegConfig {
        playout_window_ms: 200,
        ..LegConfig::default()
    };
    let mut a = Leg::bind(
        &pool,
        config,
        &media(peer_a.local_addr().expect("bound"), Law::Alaw, 20),
        Source::Relay,
        &mut rng,
    )
    .expect("a free port");
    let mut media_b = media(peer_b.local_addr().expect("bound"), Law::Ulaw, 20);
    media_b.telephone_event = PayloadType::new(96);
    let mut b = Leg::bind(&pool, config, &media_b, Source::Relay, &mut rng).expect("a free port");
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    assert_eq!(pool.leased(), 2);
    let (stop, mut stopped) = oneshot::channel::<()>();
    // The call task: both legs in one task, A's audio relayed to B.
    let call = tokio::spawn(async move {
        loop {
            let deadline = a.next_deadline().min(b.next_deadline());
            tokio::select! {
                r = a.recv() => if let Received::Rtp(p) = r.expect("receive") {
                    b.core_mut().handle_relay(p.at, &p);
                },
                r = b.recv() => if let Received::Rtp(p) = r.expect("receive") {
                    a.core_mut().handle_relay(p.at, &p);
                },
                _ = sleep_until(deadline) => {}
                _ = &mut stopped => return (a, b),
            }
            let now = Leg::now();
            a.send_due(now, |_| {});
            b.send_due(now, |_| {});
        }
    });

    let mut said = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for k in 0..20u16 {
        tick.tick().await;
        let payload = audio(usize::from(k), 160, Law::Alaw.silence());
        said.extend(payload.iter().map(|&c| g711::alaw_to_ulaw(c)));
        let p = rtp(k, 160 * u32::from(k), PayloadType::PCMA, &payload);
        peer_a.send_to(&p, a_addr).await.expect("send");
    }
    let digit = [7u8, 0x8A, 0x03, 0x20];
    let te = PayloadType::new(101).expect("7 bits");
    peer_a
        .send_to(&rtp(20, 3200, te, &digit), a_addr)
        .await
        .expect("send");

    let mut got = Vec::new();
    let mut event = None;
    let mut seqs = Vec::new();
    timeout(Duration::from_secs(10), async {
        loop {
            let g = recv_one(&peer_b).await;
            seqs.push(g.header.seq);
            if g.header.payload_type.get() == 96 {
                event = Some(g);
            } else {
                got.push(g);
            }
            let all: Vec<u8> = got.iter().flat_map(|g| g.payload.iter().copied()).collect();
            let audio_done = all
                .iter()
                .position(|&b| b != 0xFF)
                .is_some_and(|s| all.len() >= s + said.len() + 320);
            if audio_done && event.is_some() {
                return;
            }
        }
    })
    .await
    .expect("relayed audio and the digit within 10 s");
    assert!(got.iter().all(|g| g.from == b_addr));
    // The digit took one sequence number of B's stream; the audio's timestamps go on.
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1));
    }
    for w in got.windows(2) {
        assert_eq!(
            w[1].header.timestamp,
            w[0].header.timestamp.wrapping_add(160)
        );
    }
    assert!(
        got.iter()
            .all(|g| g.header.payload_type == PayloadType::PCMU)
    );
    assert_eq!(audio_after_silence(&got, 0xFF), said);
    let event = event.expect("the digit");
    assert_eq!(event.payload, digit);
    assert_eq!(event.header.ssrc, got[0].header.ssrc);

    stop.send(()).expect("call task alive");
    let (a, b) = call.await.expect("call task");
    assert_eq!(a.stats().packets_in, 21);
    assert_eq!(a.stats().events_in, 1);
    assert_eq!(b.stats().events_out, 1);
    drop((a, b));
    assert_eq!(pool.leased(), 0);
}

/// A leg reads up to two datagrams per system call and, after a short read, tells the reactor
/// its socket is drained: no datagram may be stranded by that. Bursts of 1 to 7 datagrams are
/// queued on the leg's socket while the leg is not being polled, then the loop (with a timer
/// branch taking turns too) must receive every one of them before the next burst is sent: a
/// datagram left in the socket with its readiness cleared would never be read.
#[tokio::test]
async fn every_datagram_of_a_burst_is_received() {
    let pool = pool(45_000);
    let peer = std::net::UdpSocket::bind((LOCALHOST, 0)).expect("loopback");
    // The leg only receives: a send of its own would make the socket report its readiness
    // afresh and hide a datagram stranded by the reads.
    let mut negotiated = media(peer.local_addr().expect("bound"), Law::Ulaw, 20);
    negotiated.direction = Direction::RecvOnly;
    let mut leg = Leg::bind(
        &pool,
        LegConfig::default(),
        &negotiated,
        Source::Silence,
        &mut SmallRng::seed_from_u64(5),
    )
    .expect("a free port");
    let to = leg.local_addr();
    let payload = vec![0x55u8; 160];
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    let mut seq = 0u16;
    let mut received = 0u16;
    for round in 0..140u16 {
        let burst = round % 7 + 1;
        for _ in 0..burst {
            let packet = rtp(seq, u32::from(seq) * 160, PayloadType::PCMU, &payload);
            peer.send_to(&packet, to).expect("loopback send");
            seq += 1;
        }
        let drained = timeout(Duration::from_secs(5), async {
            while received < seq {
                tokio::select! {
                    r = leg.recv() => {
                        if let Received::Rtp(inbound) = r.expect("loopback receive") {
                            assert_eq!(inbound.packet.header.seq.0, received, "in order");
                            received += 1;
                        }
                    }
                    _ = ticks.tick() => {}
                }
                leg.send_due(Leg::now(), |_| {});
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "burst {round} of {burst}: received {received} of {seq}"
        );
    }
    assert_eq!(leg.stats().packets_in, u64::from(seq));
    assert_eq!(leg.stats().packets_out, 0, "the leg sent nothing");
}
