"""The symbolic (rule-based) converters, one subpackage per direction."""
