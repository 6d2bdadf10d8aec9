//! Ctrl-C for the commands that watch until the user stops them.
//!
//! The handler is installed when [`Interrupt::install`] returns, before the
//! command draws anything: a Ctrl-C that arrives between two events is
//! then seen by the next wait instead of killing the process with the
//! default action (exit 130 and a cut line).

use crate::error::CliError;

/// An installed Ctrl-C (SIGINT) handler.
pub(crate) struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(windows)]
    signal: tokio::signal::windows::CtrlC,
}

impl Interrupt {
    /// Installs the handler now (not on the first poll).
    pub(crate) fn install() -> Result<Self, CliError> {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c();
        let signal = signal.map_err(|e| {
            CliError::new(
                crate::error::FAILED,
                format!("cannot install the Ctrl-C handler: {e}"),
            )
        })?;
        Ok(Self { signal })
    }

    /// Waits for the next Ctrl-C since the handler was installed.
    pub(crate) async fn recv(&mut self) {
        self.signal.recv().await;
    }
}
