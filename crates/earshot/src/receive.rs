//! `earshot receive URI`: the reference tap receiver, on the command line.
//!
//! Listens on `rtp://HOST:PORT` or `ws://HOST:PORT` (or takes status events on
//! `http://HOST:PORT`), writes each stream to a WAV file, checks it against the tap contract,
//! prints one line per stream per second to stderr and each stream's summary to stdout when it
//! ends (a JSON line with `--json`). Exits 1 when a stream broke the contract (the summary
//! lists how) or when nothing arrived.

use std::path::PathBuf;
use std::time::Duration;

use receiver::{
    ListenUri, Receiver, ReceiverConfig, ReceiverEvent, StatusEvent, StatusReceiver, Transport,
};

/// `earshot receive`'s options.
pub(crate) struct ReceiveArgs {
    pub(crate) uri: String,
    pub(crate) out: PathBuf,
    pub(crate) no_wav: bool,
    pub(crate) json: bool,
    pub(crate) duration: Option<Duration>,
    pub(crate) once: bool,
    pub(crate) idle: Duration,
}

impl ReceiveArgs {
    /// Parses the arguments after `receive`.
    pub(crate) fn parse(mut it: impl Iterator<Item = String>) -> Result<ReceiveArgs, String> {
        let mut a = ReceiveArgs {
            uri: String::new(),
            out: PathBuf::from("."),
            no_wav: false,
            json: false,
            duration: None,
            once: false,
            idle: Duration::from_secs(2),
        };
        let seconds = |flag: &str, v: Option<String>| -> Result<Duration, String> {
            let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
            match v.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Ok(Duration::from_secs_f64(s)),
                _ => Err(format!(
                    "{flag}: expected a positive number of seconds, found {v:?}"
                )),
            }
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--out" => a.out = it.next().ok_or("--out needs a value")?.into(),
                "--no-wav" => a.no_wav = true,
                "--json" => a.json = true,
                "--once" => a.once = true,
                "--duration" => a.duration = Some(seconds("--duration", it.next())?),
                "--idle" => a.idle = seconds("--idle", it.next())?,
                uri if !uri.starts_with('-') && a.uri.is_empty() => a.uri = uri.to_string(),
                other => return Err(format!("unknown argument {other:?} for receive")),
            }
        }
        if a.uri.is_empty() {
            return Err(
                "receive needs a URI: rtp://HOST:PORT, ws://HOST:PORT or http://HOST:PORT".into(),
            );
        }
        ListenUri::parse(&a.uri).map_err(|e| e.to_string())?;
        Ok(a)
    }
}

/// A future that resolves when ctrl-c (or SIGTERM) arrives, or after `duration`. The signal
/// handlers are installed here, before anything is printed, so a signal sent as soon as the
/// receiver says where it listens is never missed.
fn ended(duration: Option<Duration>) -> Result<impl Future<Output = ()>, String> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        (
            install(SignalKind::interrupt())?,
            install(SignalKind::terminate())?,
        )
    };
    Ok(async move {
        let deadline = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            () = deadline => {}
        }
        #[cfg(not(unix))]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = deadline => {}
        }
    })
}

pub(crate) async fn run(a: ReceiveArgs) -> Result<(), String> {
    let uri = ListenUri::parse(&a.uri).map_err(|e| e.to_string())?;
    if uri.transport == Transport::Http {
        return status(&a, &uri).await;
    }
    let config = ReceiverConfig {
        out_dir: (!a.no_wav).then(|| a.out.clone()),
        rtp_idle: a.idle,
        ..ReceiverConfig::default()
    };
    let stop = ended(a.duration)?;
    let mut rx = Receiver::bind(&uri, config)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "earshot receive: listening on {}://{} (ctrl-c to stop)",
        uri.transport.scheme(),
        rx.local_addr()
    );
    tokio::pin!(stop);
    let (mut streams, mut broken, mut stopping) = (0usize, 0usize, false);
    loop {
        let event = tokio::select! {
            () = &mut stop, if !stopping => {
                rx.stop();
                stopping = true;
                continue;
            }
            event = rx.next_event() => event,
        };
        match event {
            None => break,
            Some(ReceiverEvent::Started(r)) => eprintln!("+ {}", r.name()),
            Some(ReceiverEvent::Progress(r)) => eprintln!("  {}", r.live_line()),
            Some(ReceiverEvent::Ended(r)) => {
                streams += 1;
                if r.violation_count > 0 {
                    broken += 1;
                }
                if a.json {
                    println!("{}", r.to_json());
                } else {
                    println!("{}", r.summary());
                }
                if a.once && !stopping {
                    rx.stop();
                    stopping = true;
                }
            }
            Some(ReceiverEvent::Stray { datagrams }) => {
                eprintln!("earshot receive: {datagrams} datagram(s) belonged to no RTP stream");
            }
        }
    }
    match (streams, broken) {
        (0, _) => Err("no stream arrived".into()),
        (_, 0) => Ok(()),
        (n, b) => Err(format!("{b} of {n} stream(s) broke the tap contract")),
    }
}

fn status_line(e: &StatusEvent, json: bool) -> String {
    if json {
        return serde_json::json!({
            "method": e.method,
            "path": e.path,
            "content_type": e.header("content-type"),
            "signature": e.header("x-earshot-signature"),
            "body": e.json.clone().unwrap_or_else(|| e.body.clone().into()),
        })
        .to_string();
    }
    let params = e.json.as_ref().and_then(|j| j.get("params"));
    let field = |k: &str| {
        params
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_string()
    };
    let extra = params
        .and_then(|p| p.get("stats"))
        .map_or_else(String::new, |s| format!(" stats {s}"));
    format!(
        "{} {} {}: control_id {} state {} reason {}{extra}",
        e.method,
        e.path,
        e.json
            .as_ref()
            .and_then(|j| j.get("event_type"))
            .and_then(|v| v.as_str())
            .unwrap_or("(not JSON)"),
        field("control_id"),
        field("state"),
        field("reason"),
    )
}

/// `earshot receive http://…`: prints each status event as it arrives.
async fn status(a: &ReceiveArgs, uri: &ListenUri) -> Result<(), String> {
    let stop = ended(a.duration)?;
    let mut rx = StatusReceiver::bind(uri.addr)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "earshot receive: taking status events on http://{} (ctrl-c to stop)",
        rx.local_addr()
    );
    tokio::pin!(stop);
    let mut seen = 0usize;
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = rx.next_event() => {
                let Some(e) = event else { break };
                seen += 1;
                println!("{}", status_line(&e, a.json));
                if a.once && e.state() == Some("finished") {
                    break;
                }
            }
        }
    }
    if seen == 0 {
        return Err("no status event arrived".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ReceiveArgs, String> {
        ReceiveArgs::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn options_parse_and_mistakes_say_what_is_wrong() {
        let a = parse("ws://127.0.0.1:0 --json --once --out /tmp/x --duration 2.5 --idle 1")
            .expect("valid");
        assert!(a.json && a.once && !a.no_wav);
        assert_eq!(a.out, PathBuf::from("/tmp/x"));
        assert_eq!(a.duration, Some(Duration::from_millis(2500)));
        assert_eq!(a.idle, Duration::from_secs(1));
        let err = |s: &str| parse(s).err().expect("an error");
        assert!(err("").starts_with("receive needs a URI"));
        assert!(err("rtp://1.2.3.4:5 --idle 0").contains("positive number of seconds"));
        assert!(err("rtp://1.2.3.4:5 --bogus").contains("unknown argument \"--bogus\""));
        assert!(err("rtp://1.2.3.4").contains("HOST:PORT"));
        assert!(err("rtp://1.2.3.4:5 rtp://1.2.3.4:6").contains("unknown argument"));
    }
}
