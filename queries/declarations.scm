; File-scope declarations that matter to call resolution:
; - prototypes: `void panic(const char *fmt, ...) __noreturn;`, `noinstr void f(void);`
;   (gcc merges attributes across declarations, so noinstr or __noreturn on a prototype counts);
; - function-pointer variables: `void (*handle_arch_irq)(struct pt_regs *);`, whose calls are
;   indirect even though they look like direct calls by name.
(translation_unit
  (declaration) @declaration)
(preproc_if (declaration) @declaration)
(preproc_ifdef (declaration) @declaration)
(preproc_else (declaration) @declaration)
(preproc_elif (declaration) @declaration)
