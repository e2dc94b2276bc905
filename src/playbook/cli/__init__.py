"""The `playbook` command: `main` holds the app and its one error boundary (in `base`); each
other module one group of commands."""
