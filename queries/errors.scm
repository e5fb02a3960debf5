; Parse errors: counted and located per file, reported in `errors` when a file could not be
; fully parsed (its functions are still checked, from the parts tree-sitter recovered).
(ERROR) @error
