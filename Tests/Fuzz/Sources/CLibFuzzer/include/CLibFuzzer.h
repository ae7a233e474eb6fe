#ifndef TESSERA_CLIBFUZZER_H
#define TESSERA_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver as a library call (compiler-rt's FuzzerInterface.h): parses the libFuzzer
/// flags in argv and runs `callback` on every input. The runtime comes with
/// `-sanitize=fuzzer`; the fuzzers call this from their own `main` (Package.swift says why).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
