import FuzzSupport

// A closure, not `fuzzJWS` itself: converting the `@_cdecl` function to a C pointer here would
// emit a second `LLVMFuzzerTestOneInput` in this file.
runLibFuzzer { data, size in fuzzJWS(data, size) }
