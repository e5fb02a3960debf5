; File-scope macro invocations such as `DEFINE_GHCB_ACCESSORS(sw_exit_code)` or
; `TRACE_EVENT(rcu_watching, ...)`: when the macro's #define expands to function definitions,
; those functions exist although no definition is written out (SEMANTICS.md 1.7, 5.3).
; File scope only: directly in the translation unit, or in an #if/#ifdef block there (an
; #ifdef inside a function body holds calls, not definitions).
(translation_unit
  (expression_statement
    (call_expression function: (identifier) @macro arguments: (argument_list) @args)))
(translation_unit
  (preproc_if
    (expression_statement
      (call_expression function: (identifier) @macro arguments: (argument_list) @args))))
(translation_unit
  (preproc_ifdef
    (expression_statement
      (call_expression function: (identifier) @macro arguments: (argument_list) @args))))
(translation_unit
  (preproc_ifdef
    (preproc_else
      (expression_statement
        (call_expression function: (identifier) @macro arguments: (argument_list) @args)))))
(translation_unit
  (preproc_if
    (preproc_else
      (expression_statement
        (call_expression function: (identifier) @macro arguments: (argument_list) @args)))))
