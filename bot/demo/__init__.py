"""The one-command demo: a simulated museum and its supporters run a whole campaign locally."""
