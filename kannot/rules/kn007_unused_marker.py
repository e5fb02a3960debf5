from kannot.rules.base import Rule

RULE = Rule(
    code="KN007",
    name="unused-marker",
    family="marker",
    severity="warning",
    default_enabled=True,
    summary="A kannot allow comment suppresses nothing.",
    rationale="""
An allow comment that no longer matches a finding hides nothing today but would silently hide a
future, different problem on that line. It usually means the code was fixed or moved.""",
    fix="Remove the comment, or move it to the line of the call it is about (or the line above).",
)
