import FuzzSupport

// A closure, not `fuzzForm` itself: converting the `@_cdecl` function to a C pointer here would
// emit a second `LLVMFuzzerTestOneInput` in this file.
runLibFuzzer { data, size in fuzzForm(data, size) }
