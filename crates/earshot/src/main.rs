//! The `earshot` command: `serve` runs the node, `dial` places a call, `demo` shows a tap
//! end to end, `receive` takes taps and checks them.

mod args;
mod bench;
mod demo;
mod receive;

use std::process::ExitCode;
use std::time::Duration;

use args::{Command, DialArgs, ServeArgs, USAGE};
use server::{DialOptions, Node, NodeConfig};

fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("earshot: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("earshot {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check(files) => check(&files),
        Command::Serve(a) => run(a.log_level, serve(a)),
        Command::Dial(a) => run(a.log_level, dial(a)),
        // Only problems are logged: the demo and the receiver print their own progress.
        Command::Demo(a) => run(tracing::Level::WARN, demo::run(a)),
        Command::Receive(a) => run(tracing::Level::WARN, receive::run(a)),
        Command::Bench(a) => bench::main(&a),
    }
}

/// Validates each file as `earshot` would before running it; prints every error with its
/// place.
fn check(files: &[std::path::PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        let name = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                println!("{name}: cannot read: {error}");
                failed = true;
                continue;
            }
        };
        match swml::check(&text) {
            Ok(_) => println!("{name}: ok"),
            Err(errors) => {
                failed = true;
                for error in errors {
                    println!("{name}: {error}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run(level: tracing::Level, job: impl Future<Output = Result<(), String>>) -> ExitCode {
    // One TLS crypto provider (ring) for WebSocket taps and HTTPS, before anything uses TLS.
    server::sink::tls::install_crypto_provider();
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("earshot: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("earshot: {message}");
            ExitCode::FAILURE
        }
    }
}

fn node_config(sip: &args::SipArgs) -> NodeConfig {
    let mut config = NodeConfig::default();
    config.sip.udp_addr = sip.udp;
    config.sip.tcp_addr = sip.tcp;
    config.rtp = sip.rtp;
    config.leg.inactivity_timeout = sip.inactivity;
    if let Some(per_second) = sip.rate {
        config.sip.rate_limit = sip::RateLimit {
            per_second,
            burst: per_second.saturating_mul(2),
        };
    }
    config
}

async fn serve(a: ServeArgs) -> Result<(), String> {
    let mut config = node_config(&a.sip);
    if let Some(to) = &a.bridge {
        config.flow = server::CallFlow::Bridge(to.clone());
    }
    if a.swml.is_some() || a.swml_inline.is_some() || !a.routes.is_empty() {
        if a.bridge.is_some() {
            return Err("--bridge and --swml/--route do not go together".into());
        }
        if a.swml.is_some() && a.swml_inline.is_some() {
            return Err("--swml and --swml-inline both name the default route".into());
        }
        let mut routes = server::load_routes(a.swml.as_deref(), &a.routes)?;
        if let Some(text) = &a.swml_inline {
            let document = swml::check(text).map_err(|errors| {
                errors
                    .iter()
                    .map(|e| format!("--swml-inline: {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            routes.default = Some(server::Route::Document(document));
        }
        config.flow = server::CallFlow::Swml(std::sync::Arc::new(routes));
    }
    if let Some(dir) = &a.media_dir {
        config.media_dir = dir.clone();
    }
    config.tts_command = a.tts_command.clone();
    if a.deny_private {
        config.destinations = server::sink::policy::DestinationPolicy::deny_private(vec![
            config.rtp.ip,
            config.sip.udp_addr.ip(),
        ]);
    }
    let flow = match &config.flow {
        server::CallFlow::Echo => "every call is answered and hears itself".to_string(),
        server::CallFlow::Bridge(to) => format!("every call is connected to {to}"),
        server::CallFlow::Swml(routes) => format!(
            "calls run SWML ({} route(s){})",
            routes.by_user.len(),
            if routes.default.is_some() {
                " and a default"
            } else {
                ""
            }
        ),
    };
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let tcp = node
        .sip_tcp_addr()
        .map_or_else(|| "off".to_string(), |a| a.to_string());
    let rtp = node.port_pool().config();
    println!(
        "earshot {} listening: SIP udp {} tcp {tcp}, RTP {} ports {}-{}; {flow} (ctrl-c to stop)",
        env!("CARGO_PKG_VERSION"),
        node.sip_udp_addr(),
        rtp.ip,
        rtp.first,
        rtp.last
    );
    let mut reports = node.reports();
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|e| e.to_string())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.map_err(|e| e.to_string()),
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = &mut stop => { r?; break; }
            report = reports.recv() => if let Ok(r) = report {
                println!(
                    "call {}: {}; RTP in {} out {} lost {} malformed {}",
                    r.call_id, r.ended, r.stats.packets_in, r.stats.packets_out, r.stats.lost,
                    r.stats.malformed
                );
            },
        }
    }
    println!("earshot: shutting down");
    node.shutdown();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while node.active_calls() > 0 && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout_at(deadline, reports.recv()).await;
    }
    Ok(())
}

async fn dial(a: DialArgs) -> Result<(), String> {
    let node = Node::start(node_config(&a.sip))
        .await
        .map_err(|e| e.to_string())?;
    let from = a
        .from
        .unwrap_or_else(|| format!("sip:earshot@{}", node.sip_udp_addr()));
    println!("calling {} from {from}", a.to);
    let report = server::dial(
        &node,
        DialOptions {
            to: a.to,
            from,
            duration: a.duration,
            ring_timeout: a.ring_timeout,
            credentials: a.credentials,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let s = report.stats;
    println!(
        "call {}: answered ({} {} ms), {}; RTP out {} packets / {} bytes, in {} packets / {} bytes, \
         lost {}, late {}",
        report.call_id,
        report.media.codec,
        report.media.ptime.as_ms(),
        report.ended,
        s.packets_out,
        s.bytes_out,
        s.packets_in,
        s.bytes_in,
        s.lost,
        s.late
    );
    Ok(())
}
