//! `countersign [OPTIONS] -- SERVER...`: the wrapper.

use std::time::Duration;

use crate::cli::WrapArgs;
use crate::core::config::Config;
use crate::core::label::default_label;
use crate::core::pins::{Mode, Pins};
use crate::edge::pin_store::PinStore;
use crate::Error;

pub(super) fn run(args: WrapArgs) -> Result<i32, Error> {
    let config = config(args)?;
    let pins = pins(&config)?;
    super::runtime::block_on(crate::relay::run(config, pins))?.map_err(Error::from)
}

/// The label's pin store and its pins, unless `[pinning] mode = "off"`. A pin file that
/// cannot be trusted stops countersign here (fail closed, docs/pins.md).
fn pins(config: &Config) -> Result<Option<(PinStore, Pins)>, Error> {
    if config.policy.pinning == Mode::Off {
        return Ok(None);
    }
    let store = PinStore::open(&config.name).map_err(|e| Error::Usage(e.to_string()))?;
    let pins = store.load().map_err(|e| Error::Usage(e.to_string()))?;
    Ok(Some((store, pins)))
}

fn config(args: WrapArgs) -> Result<Config, Error> {
    let (policy, policy_source) = super::load_policy(args.policy)?;
    let name = match args.name {
        Some(name) if !name.is_empty() => name,
        _ => {
            let argv: Vec<String> = args.server.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            default_label(&argv).unwrap_or_else(|| "server".into())
        }
    };
    let audit_dir = match args.audit_dir {
        Some(dir) => dir,
        None => super::default_audit_dir()?,
    };
    Ok(Config {
        name,
        command: args.server,
        policy,
        policy_source,
        audit_dir,
        audit_retention_days: args.audit_retention_days,
        headless: args.headless,
        approval_timeout: Duration::from_secs(args.approval_timeout),
    })
}
