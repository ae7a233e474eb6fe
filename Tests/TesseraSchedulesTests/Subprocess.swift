import Foundation
import Testing

/// What a finished program wrote and how it exited.
struct ProcessResult {
    let status: Int32
    let output: String
    let error: String
}

/// Runs a program to completion on a Dispatch thread (blocking reads stay off the cooperative
/// pool), killing it after `timeout` seconds so a hung peer cannot hang the suite.
func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                let output = Pipe()
                let error = Pipe()
                process.standardOutput = output
                process.standardError = error
                try process.run()
                let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
                defer { timer.cancel() }
                // Read standard error concurrently so neither pipe fills up and blocks the child.
                nonisolated(unsafe) var errorData = Data()
                let errorRead = DispatchWorkItem { errorData = error.fileHandleForReading.readDataToEndOfFile() }
                DispatchQueue.global().async(execute: errorRead)
                let outputData = output.fileHandleForReading.readDataToEndOfFile()
                errorRead.wait()
                process.waitUntilExit()
                return ProcessResult(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                                     error: String(decoding: errorData, as: UTF8.self))
            })
        }
    }
}

/// The first executable named `name` on PATH.
func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Whether the suite runs in CI, where a missing test peer is a failure, not a skip.
var runningInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

/// Reports a missing test peer: a recorded failure in CI, a printed note elsewhere.
func peerMissing(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if runningInCI {
        Issue.record("test peer missing in CI: \(what)", sourceLocation: sourceLocation)
    } else {
        print("skipping: \(what) (install it, or run .ci/run, to run this test)")
    }
}
