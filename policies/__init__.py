"""The policy engine: packs of YAML rules (schema, loader), compiled conditions, the engine
that turns a dispute's facts into a Decision, and regression cases. See policies/README.md."""
