//! The command line, parsed by hand: a handful of flags does not earn a parser dependency.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip::Credentials;

pub(crate) const USAGE: &str = "\
earshot — a voice media node that answers, places and taps SIP calls

Usage:
  earshot serve [SIP OPTIONS] [--bridge URI]
                                       run the node: answer every call and echo its audio,
                                       or with --bridge, connect every call to URI (B2BUA)
    --config FILE         read the configuration (TOML) from FILE; EARSHOT_<SECTION>_<KEY>
                          variables override it, and these flags override both
    --print-config        print the effective configuration (secrets redacted) and exit
    --api ADDR|off        the control API's listen address       [default: 127.0.0.1:8080]
    --swml FILE|URL       run this SWML document on every call (the default route)
    --swml-inline TEXT    the default route's document itself (JSON or YAML text)
    --route USER=FILE     run FILE on calls to USER (the Request-URI's user); repeatable
    --media-dir DIR       where play's file:// URLs are looked up  [default: .]
    --deny-private        refuse tap and status destinations that are loopback, private,
                          link-local or the node's own (a hosted node's policy)
    --tts-command CMD     speaks say: text: sh -c CMD with the text as $1, an 8 kHz WAV on stdout
  earshot dial URI [DIAL OPTIONS]      call URI, play a tone sequence, hang up
  earshot check FILE...                validate SWML documents (JSON or YAML); exit 1 on errors
  earshot demo [--seconds N] [--out DIR]
                                       a tapped call on loopback, end to end, with a report
  earshot receive URI [--out DIR] [--no-wav] [--json] [--duration SECS] [--once] [--idle SECS]
                                       take taps on rtp://HOST:PORT or ws://HOST:PORT (or status
                                       events on http://HOST:PORT), check them against the tap
                                       contract, write WAV files; exit 1 on violations
  earshot bench [OPTIONS]              the load tool (earshot bench --help)
  earshot --help | --version

SIP options (serve and dial):
  --sip ADDR            SIP UDP listen address            [default: 127.0.0.1:5060]
  --sip-tcp ADDR|off    SIP TCP listen address            [default: the UDP address]
  --rtp-ip IP           address RTP legs bind on          [default: 127.0.0.1]
  --rtp-ports FIRST-LAST  RTP port range                  [default: 16384-32767]
  --sip-rate N          SIP messages per second per source IP (burst 2N) [default: 200]
  --inactivity SECS|off end a call after this long without RTP [default: 30]
  --log-level LEVEL     error, warn, info, debug, trace   [default: info]
  --log-format FORMAT   human or json (one object per line) [default: human]

Dial options:
  --from URI            our From URI                      [default: sip:earshot@<SIP address>]
  --duration SECS       how long to stay on the call      [default: 5]
  --ring-timeout SECS   how long to let it ring           [default: 30]
  --user NAME --password SECRET   digest credentials for 401/407
";

pub(crate) enum Command {
    Help,
    Version,
    Serve(ServeArgs),
    Dial(DialArgs),
    Check(Vec<std::path::PathBuf>),
    Demo(crate::demo::DemoArgs),
    Receive(crate::receive::ReceiveArgs),
    Bench(Vec<String>),
}

/// The SIP and RTP flags; each `None` when not given (the configuration decides).
#[derive(Default)]
pub(crate) struct SipArgs {
    pub(crate) rate: Option<u32>,
    pub(crate) udp: Option<SocketAddr>,
    pub(crate) tcp: Option<Option<SocketAddr>>,
    pub(crate) rtp_ip: Option<IpAddr>,
    pub(crate) rtp_ports: Option<(u16, u16)>,
    pub(crate) inactivity: Option<Option<Duration>>,
    pub(crate) log_level: Option<tracing::Level>,
    pub(crate) log_format: Option<String>,
}

pub(crate) struct ServeArgs {
    pub(crate) sip: SipArgs,
    pub(crate) bridge: Option<String>,
    pub(crate) swml: Option<std::path::PathBuf>,
    pub(crate) swml_inline: Option<String>,
    pub(crate) routes: Vec<(String, std::path::PathBuf)>,
    pub(crate) media_dir: Option<std::path::PathBuf>,
    pub(crate) tts_command: Option<String>,
    pub(crate) deny_private: bool,
    pub(crate) config: Option<std::path::PathBuf>,
    pub(crate) print_config: bool,
    pub(crate) api: Option<String>,
}

pub(crate) struct DialArgs {
    pub(crate) sip: SipArgs,
    pub(crate) to: String,
    pub(crate) from: Option<String>,
    pub(crate) duration: Duration,
    pub(crate) ring_timeout: Duration,
    pub(crate) credentials: Option<Credentials>,
}

fn value(flag: &str, it: &mut impl Iterator<Item = String>) -> Result<String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn parsed<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: cannot use {v:?}"))
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = parsed(flag, v)?;
    if s.is_finite() && s > 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "{flag}: expected a positive number of seconds, found {v:?}"
        ))
    }
}

fn port_range(v: &str) -> Result<(u16, u16), String> {
    let (a, b) = v
        .split_once('-')
        .ok_or_else(|| format!("--rtp-ports: expected FIRST-LAST, found {v:?}"))?;
    let (a, b): (u16, u16) = (parsed("--rtp-ports", a)?, parsed("--rtp-ports", b)?);
    if a == 0 || a > b {
        return Err(format!("--rtp-ports: {v:?} is not a range of ports"));
    }
    Ok((a, b))
}

pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut it = args.into_iter();
    let command = match it.next().as_deref() {
        None | Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some("check") => {
            let files: Vec<std::path::PathBuf> = it.map(Into::into).collect();
            if files.is_empty() {
                return Err("check needs at least one SWML file".into());
            }
            return Ok(Command::Check(files));
        }
        Some("demo") => return crate::demo::DemoArgs::parse(it).map(Command::Demo),
        Some("receive") => return crate::receive::ReceiveArgs::parse(it).map(Command::Receive),
        Some("bench") => return Ok(Command::Bench(it.collect())),
        Some(c @ ("serve" | "dial")) => c.to_string(),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    let mut sip = SipArgs::default();
    let mut config = None;
    let mut print_config = false;
    let mut api = None;
    let mut to = None;
    let mut bridge = None;
    let mut swml = None;
    let mut swml_inline = None;
    let mut routes = Vec::new();
    let mut media_dir = None;
    let mut tts_command = None;
    let mut deny_private = false;
    let mut from = None;
    let mut duration = Duration::from_secs(5);
    let mut ring_timeout = Duration::from_secs(30);
    let (mut user, mut password) = (None, None);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--sip" => sip.udp = Some(parsed("--sip", &value("--sip", &mut it)?)?),
            "--sip-tcp" => {
                let v = value("--sip-tcp", &mut it)?;
                sip.tcp = Some(if v == "off" {
                    None
                } else {
                    Some(parsed("--sip-tcp", &v)?)
                });
            }
            "--rtp-ip" => {
                sip.rtp_ip = Some(parsed::<IpAddr>("--rtp-ip", &value("--rtp-ip", &mut it)?)?);
            }
            "--rtp-ports" => sip.rtp_ports = Some(port_range(&value("--rtp-ports", &mut it)?)?),
            "--inactivity" => {
                let v = value("--inactivity", &mut it)?;
                sip.inactivity = Some(if v == "off" {
                    None
                } else {
                    Some(seconds("--inactivity", &v)?)
                });
            }
            "--sip-rate" => {
                sip.rate = Some(parsed("--sip-rate", &value("--sip-rate", &mut it)?)?);
            }
            "--log-level" => {
                sip.log_level = Some(parsed("--log-level", &value("--log-level", &mut it)?)?);
            }
            "--log-format" => {
                let v = value("--log-format", &mut it)?;
                if v != "human" && v != "json" {
                    return Err(format!("--log-format: expected human or json, found {v:?}"));
                }
                sip.log_format = Some(v);
            }
            "--config" if command == "serve" => config = Some(value("--config", &mut it)?.into()),
            "--print-config" if command == "serve" => print_config = true,
            "--api" if command == "serve" => api = Some(value("--api", &mut it)?),
            "--bridge" if command == "serve" => bridge = Some(value("--bridge", &mut it)?),
            "--swml" if command == "serve" => swml = Some(value("--swml", &mut it)?.into()),
            "--swml-inline" if command == "serve" => {
                swml_inline = Some(value("--swml-inline", &mut it)?);
            }
            "--route" if command == "serve" => {
                let v = value("--route", &mut it)?;
                let (user, file) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--route: expected USER=FILE, found {v:?}"))?;
                routes.push((user.to_string(), file.into()));
            }
            "--deny-private" if command == "serve" => deny_private = true,
            "--tts-command" if command == "serve" => {
                tts_command = Some(value("--tts-command", &mut it)?);
            }
            "--media-dir" if command == "serve" => {
                media_dir = Some(value("--media-dir", &mut it)?.into());
            }
            "--from" if command == "dial" => from = Some(value("--from", &mut it)?),
            "--duration" if command == "dial" => {
                duration = seconds("--duration", &value("--duration", &mut it)?)?;
            }
            "--ring-timeout" if command == "dial" => {
                ring_timeout = seconds("--ring-timeout", &value("--ring-timeout", &mut it)?)?;
            }
            "--user" if command == "dial" => user = Some(value("--user", &mut it)?),
            "--password" if command == "dial" => password = Some(value("--password", &mut it)?),
            uri if command == "dial" && !uri.starts_with('-') && to.is_none() => {
                to = Some(uri.to_string());
            }
            other => return Err(format!("unknown argument {other:?} for {command}")),
        }
    }
    if command == "serve" {
        return Ok(Command::Serve(ServeArgs {
            sip,
            bridge,
            swml,
            swml_inline,
            routes,
            media_dir,
            tts_command,
            deny_private,
            config,
            print_config,
            api,
        }));
    }
    let credentials = match (user, password) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        (None, None) => None,
        _ => return Err("--user and --password go together".into()),
    };
    let to = to.ok_or("dial needs a SIP URI to call")?;
    Ok(Command::Dial(DialArgs {
        sip,
        to,
        from,
        duration,
        ring_timeout,
        credentials,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn serve_takes_its_defaults_and_overrides() {
        let Ok(Command::Serve(a)) = parse(args("serve")) else {
            panic!("serve parses")
        };
        assert_eq!(a.sip.udp, None, "the configuration decides");
        assert_eq!(a.sip.tcp, None);
        let Ok(Command::Serve(a)) = parse(args(
            "serve --sip 127.0.0.1:5070 --sip-tcp off --rtp-ports 20000-20099 --config n.toml \
             --print-config --log-format json",
        )) else {
            panic!("serve parses")
        };
        assert_eq!(a.sip.udp.map(|u| u.port()), Some(5070));
        assert_eq!(a.sip.tcp, Some(None));
        assert_eq!(a.sip.rtp_ports, Some((20000, 20099)));
        assert_eq!(a.config.as_deref(), Some(std::path::Path::new("n.toml")));
        assert!(a.print_config);
        assert_eq!(a.sip.log_format.as_deref(), Some("json"));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let err = |s: &str| parse(args(s)).err().expect("an error");
        assert_eq!(err("serve --sip nowhere"), "--sip: cannot use \"nowhere\"");
        assert_eq!(
            err("serve --rtp-ports 9-3"),
            "--rtp-ports: \"9-3\" is not a range of ports"
        );
        assert_eq!(err("dial"), "dial needs a SIP URI to call");
        assert_eq!(
            err("dial sip:a@b --user x"),
            "--user and --password go together"
        );
        assert_eq!(
            err("serve --duration 3"),
            "unknown argument \"--duration\" for serve"
        );
        assert_eq!(err("listen"), "unknown command \"listen\"");
        assert_eq!(
            err("serve --log-format xml"),
            "--log-format: expected human or json, found \"xml\""
        );
    }
}
