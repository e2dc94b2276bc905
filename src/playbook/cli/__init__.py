"""The `playbook` command: `main` is the entry point (the top-level help from typer's saved
output), `app` the commands, `base` the one error boundary; each other module one group of
commands."""
