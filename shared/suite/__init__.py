"""The suite's chassis: what the three task packages share apart from data. A task implements the contract
in `run` and `recipe`; `registry` names the tasks; `cli` is the front door; `console.setup()` is the one
place that changes the process (called by the CLI and the service, never by an import)."""
