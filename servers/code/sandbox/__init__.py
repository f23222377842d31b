"""Sandboxed test runs: bubblewrap, cgroup limits, throw-away workspaces."""
