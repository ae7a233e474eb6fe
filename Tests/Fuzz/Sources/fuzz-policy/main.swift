import FuzzSupport

// A closure, not `fuzzPolicy` itself: converting the `@_cdecl` function to a C pointer here would
// emit a second `LLVMFuzzerTestOneInput` in this file.
runLibFuzzer { data, size in fuzzPolicy(data, size) }
