import Foundation
import TesseraServer

// `swift run -c release tessera-bench [crypto|http|all]`: prints Tessera's rates as ratios to
// raw OpenSSL measured in the same run (DESIGN.md, performance model). Not a test: a ratio
// below target is reported, not failed; only a broken run exits non-zero.
//
// The server of the shared benchmarks runs in this process, on the runtime `tessera serve` has.
ServerRuntime.prepare()
exit(await BenchmarkCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
