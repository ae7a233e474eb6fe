import Foundation
import Testing

/// What a finished program wrote and how it exited.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let output: String
    public let error: String
}

/// Runs blocking work (pipe reads, `waitUntilExit`) on a Dispatch thread. Blocking a thread of
/// the cooperative pool instead would starve a server under test, whose handlers run there.
public func onBlockingThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs a program to completion, killing it after `timeout` seconds so a hung peer cannot hang
/// the suite.
public func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60,
                environment: [String: String]? = nil) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    return try await collect(process, output: output, error: error, timeout: timeout)
}

/// Waits for a started process, killing it after `timeout` seconds, and returns what it wrote
/// (both pipes read at once, so neither fills up and blocks the child).
public func collect(_ process: Process, output: Pipe, error: Pipe, timeout: TimeInterval = 60) async throws -> ProcessResult {
    let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
    defer { timer.cancel() }
    async let outData = onBlockingThread { output.fileHandleForReading.readDataToEndOfFile() }
    async let errData = onBlockingThread { error.fileHandleForReading.readDataToEndOfFile() }
    let (out, err) = try await (outData, errData)
    try await onBlockingThread { process.waitUntilExit() }
    return ProcessResult(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                         error: String(decoding: err, as: UTF8.self))
}

/// The first executable named `name` on PATH.
public func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Whether the suite runs in CI, where a missing test peer is a failure, not a skip.
public var runningInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

/// Reports a missing test peer: a recorded failure in CI, a printed note elsewhere.
public func peerMissing(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if runningInCI {
        Issue.record("test peer missing in CI: \(what)", sourceLocation: sourceLocation)
    } else {
        print("skipping: \(what) (install it, or run .ci/run, to run this test)")
    }
}
