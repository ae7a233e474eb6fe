#if canImport(Glibc)
import Glibc
#endif

internal import CLibFuzzer

/// libFuzzer's test function: one input, its size; the answer is 0.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer on `target` with the process's arguments (libFuzzer's flags and corpus
/// folders) and exits with its status. Each fuzzer's `main.swift` is this one call.
public func runLibFuzzer(_ target: FuzzTarget) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}

/// The fuzzer's input as an array: the parsers under test take arrays or collections.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Stops the run when a property of the code under test does not hold. libFuzzer reports the
/// trap as a crash and keeps the input that caused it, so a broken property is found (and
/// reproduced) exactly like a crash.
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    guard !condition else { return }
    fatalError("property failed: \(message())", file: file, line: line)
}
