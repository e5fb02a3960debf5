; Function definitions, at any depth. kannot keeps the outermost ones: a definition nested in
; another's body is a scoped_guard()/for_each_*() macro block that tree-sitter mistakes for a
; function (SEMANTICS.md 5.2). Annotations are NOT read from this tree's shape: they are read from
; the header text between the previous top-level item and @body (SEMANTICS.md 5.1).
(function_definition
  body: (compound_statement) @body) @definition
