//! Commands that come with later work. Until a command's module exists, `ehr NAME` says so
//! clearly instead of "unrecognized subcommand"; once its line is in `commands!`, clap
//! matches it first and its entry here is never reached (remove it then).

use eyre::eyre;

/// Commands users will script against, and what brings them (none at the moment: `claim`
/// arrived with insurance claims).
const PLANNED: &[(&str, &str)] = &[];

/// The error for `ehr WORD …` when WORD is not a command of this build.
pub(crate) fn unavailable(words: &[String]) -> eyre::Result<()> {
    let name = words.first().map(String::as_str).unwrap_or_default();
    match PLANNED.iter().find(|(planned, _)| *planned == name) {
        Some((_, with)) => Err(eyre!("`ehr {name}` is not available yet: it comes with {with}")),
        None => Err(eyre!("unknown command {name:?}; `ehr --help` lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_get_clear_errors() {
        let message = unavailable(&["grnat".into()]).unwrap_err().to_string();
        assert!(message.contains("unknown command \"grnat\""), "{message}");
        let message = unavailable(&[]).unwrap_err().to_string();
        assert!(message.contains("`ehr --help` lists the commands"), "{message}");
    }
}
