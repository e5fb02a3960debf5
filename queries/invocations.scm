; File-scope macro invocations such as `DEFINE_GHCB_ACCESSORS(sw_exit_code)` or
; `TRACE_EVENT(rcu_watching, ...)`: when the macro's #define expands to function definitions,
; those functions exist although no definition is written out (SEMANTICS.md 1.7, 5.3).
(translation_unit
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
(preproc_if
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
(preproc_ifdef
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
(preproc_else
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
(preproc_elif
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
