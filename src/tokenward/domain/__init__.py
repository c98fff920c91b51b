"""The pure core: token format, policy, scopes, value types. Standard library only."""
