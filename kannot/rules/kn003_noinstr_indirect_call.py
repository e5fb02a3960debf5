from kannot.rules.base import Rule

RULE = Rule(
    code="KN003",
    name="noinstr-indirect-call",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="A noinstr function makes an indirect call outside an instrumentation region.",
    rationale="""
The target of a call through a function pointer is not known from the source, so nothing shows it
is noinstr. objtool reports these as "call to {dynamic}() leaves .noinstr.text section".
static_call() and __ubsan_handle_* are accepted, as objtool accepts them.""",
    fix="""
Call the known target directly, use static_call(), or wrap the call in
instrumentation_begin()/instrumentation_end(). If every possible target is noinstr, say so with
/* kannot: allow KN003 <which targets> */.""",
)
