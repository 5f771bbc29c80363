//! The `earshot` command: `serve` runs the node (configured by defaults, a TOML file, the
//! environment and flags, in that order), `dial` places a call, `check` validates documents,
//! `demo` shows a tap end to end, `receive` takes taps and checks them.

mod args;
mod bench;
mod demo;
mod receive;

use std::process::ExitCode;
use std::time::Duration;

use args::{Command, DialArgs, ServeArgs, USAGE};
use server::{Config, DialOptions, Node};

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
        Command::Serve(a) => serve_command(a),
        Command::Dial(a) => dial_command(a),
        // Only problems are logged: the demo and the receiver print their own progress.
        Command::Demo(a) => run(tracing::Level::WARN, false, demo::run(a)),
        Command::Receive(a) => run(tracing::Level::WARN, false, receive::run(a)),
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

fn run(
    level: tracing::Level,
    json: bool,
    job: impl Future<Output = Result<(), String>>,
) -> ExitCode {
    // One TLS crypto provider (ring) for WebSocket taps and HTTPS, before anything uses TLS.
    server::sink::tls::install_crypto_provider();
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The SIP stack logs every message it sends and receives at info: only at debug and
    // below is that wanted; otherwise its warnings and errors.
    let stack = if level >= tracing::Level::DEBUG {
        level
    } else {
        tracing::Level::WARN
    };
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("rsipstack", stack);
    // Colours only on a terminal: a journal or a file gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        logs.json()
            .flatten_event(true)
            .finish()
            .with(targets)
            .init();
    } else {
        logs.finish().with(targets).init();
    }
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

/// Lays the SIP, RTP and log flags over `config`.
fn apply_sip_flags(sip: &args::SipArgs, config: &mut Config) {
    if let Some(udp) = sip.udp {
        config.sip.udp = udp;
    }
    match sip.tcp {
        Some(None) => config.sip.tcp = "off".into(),
        Some(Some(tcp)) => config.sip.tcp = tcp.to_string(),
        None => {}
    }
    if let Some(ip) = sip.rtp_ip {
        config.rtp.ip = ip;
    }
    if let Some((first, last)) = sip.rtp_ports {
        config.rtp.ports = format!("{first}-{last}");
    }
    if let Some(inactivity) = sip.inactivity {
        // Whole seconds, rounded up: a fraction never turns the timeout off.
        config.rtp.inactivity_secs =
            inactivity.map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
    }
    if let Some(rate) = sip.rate {
        config.sip.rate_per_second = rate;
    }
    if let Some(level) = sip.log_level {
        config.log.level = level.to_string().to_ascii_lowercase();
    }
    if let Some(format) = &sip.log_format {
        config.log.format = format.clone();
    }
}

/// The effective configuration of `earshot serve`: defaults, file, environment, flags.
fn serve_config(a: &ServeArgs) -> Result<Config, String> {
    let mut config =
        Config::load(a.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
    apply_sip_flags(&a.sip, &mut config);
    if let Some(to) = &a.bridge {
        config.flow.mode = "bridge".into();
        config.flow.bridge = to.clone();
    }
    if a.swml.is_some() || a.swml_inline.is_some() || !a.routes.is_empty() {
        if a.bridge.is_some() {
            return Err("--bridge and --swml/--route do not go together".into());
        }
        if a.swml.is_some() && a.swml_inline.is_some() {
            return Err("--swml and --swml-inline both name the default route".into());
        }
        config.flow.mode = "swml".into();
        if let Some(swml) = &a.swml {
            config.flow.swml = swml.display().to_string();
            config.flow.swml_inline.clear();
        }
        if let Some(text) = &a.swml_inline {
            config.flow.swml_inline = text.clone();
            config.flow.swml.clear();
        }
        for (user, file) in &a.routes {
            config
                .flow
                .routes
                .insert(user.clone(), file.display().to_string());
        }
    }
    if let Some(dir) = &a.media_dir {
        config.flow.media_dir = dir.clone();
    }
    if let Some(command) = &a.tts_command {
        config.flow.tts_command = command.clone();
    }
    if a.deny_private {
        config.taps.deny_private = true;
    }
    if let Some(api) = &a.api {
        config.api.listen = api.clone();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn serve_command(a: ServeArgs) -> ExitCode {
    let config = match serve_config(&a) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("earshot: {message}");
            return ExitCode::from(2);
        }
    };
    if a.print_config {
        print!("{}", config.to_toml_redacted());
        return ExitCode::SUCCESS;
    }
    let level = config.log_level().unwrap_or(tracing::Level::INFO);
    let json = config.log.format == "json";
    run(level, json, serve(config))
}

async fn serve(mut config: Config) -> Result<(), String> {
    let node_config = config.node_config().map_err(|e| e.to_string())?;
    let flow = match &node_config.flow {
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
    let generated_token = config.api.token.is_empty();
    if generated_token {
        config.api.token = server::api::generate_token();
    }
    // The handlers are in place before the node says it listens: a SIGTERM right after that
    // line drains the node instead of killing the process.
    #[cfg(unix)]
    let (mut interrupt, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        (interrupt, term)
    };
    let node = Node::start(node_config).await.map_err(|e| e.to_string())?;
    let api = server::api::Api::start(&node, &config)
        .await
        .map_err(|e| e.to_string())?;
    let tcp = node
        .sip_tcp_addr()
        .map_or_else(|| "off".to_string(), |a| a.to_string());
    let rtp = node.port_pool().config();
    let api_text = match api.addr() {
        Some(addr) => format!("API http://{addr}"),
        None => "API off".to_string(),
    };
    println!(
        "earshot {} listening: SIP udp {} tcp {tcp}, RTP {} ports {}-{}, {api_text}; {flow} \
         (ctrl-c to stop)",
        env!("CARGO_PKG_VERSION"),
        node.sip_udp_addr(),
        rtp.ip,
        rtp.first,
        rtp.last
    );
    if generated_token && api.addr().is_some() {
        println!(
            "API credentials: user {:?}, token {} (generated; set api.token to choose one)",
            config.api.project_id, config.api.token
        );
    }
    if let Some(ops) = api.ops_addr() {
        println!("operations: http://{ops}/health /ready /metrics");
    }
    let mut reports = node.reports();
    let stop = async move {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = interrupt.recv() => Ok::<(), String>(()),
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
            report = reports.recv() => if let Ok(r) = report { print_report(&r) },
        }
    }
    let deadline = Duration::from_secs(config.shutdown.deadline_secs);
    println!(
        "earshot: shutting down ({} call(s), deadline {} s)",
        node.active_calls(),
        deadline.as_secs()
    );
    // The calls the shutdown ends are reported like any other.
    let shutdown = node.shutdown_gracefully(deadline);
    tokio::pin!(shutdown);
    let left = loop {
        tokio::select! {
            left = &mut shutdown => break left,
            report = reports.recv() => if let Ok(r) = report { print_report(&r) },
        }
    };
    while let Ok(r) = reports.try_recv() {
        print_report(&r);
    }
    api.stop();
    if left.is_clean() {
        println!("earshot: stopped cleanly");
    } else {
        println!(
            "earshot: deadline reached with {} call(s) and {} status channel(s) still open",
            left.calls, left.status_channels
        );
    }
    Ok(())
}

/// The line `serve` prints as a call ends.
fn print_report(r: &server::CallReport) {
    println!(
        "call {}: {}; RTP in {} out {} lost {} malformed {}",
        r.call_id,
        r.ended,
        r.stats.packets_in,
        r.stats.packets_out,
        r.stats.lost,
        r.stats.malformed
    );
}

fn dial_command(a: DialArgs) -> ExitCode {
    let mut config = Config::default();
    apply_sip_flags(&a.sip, &mut config);
    if let Err(error) = config.validate() {
        eprintln!("earshot: {error}");
        return ExitCode::from(2);
    }
    let level = config.log_level().unwrap_or(tracing::Level::INFO);
    run(level, config.log.format == "json", dial(a, config))
}

async fn dial(a: DialArgs, config: Config) -> Result<(), String> {
    let node_config = config.node_config().map_err(|e| e.to_string())?;
    let node = Node::start(node_config).await.map_err(|e| e.to_string())?;
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
