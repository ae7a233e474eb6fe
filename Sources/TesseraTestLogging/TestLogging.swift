import Foundation
import Logging
import Synchronization
import Testing

/// Where the tests' log lines go: one file per test, `<directory>/<test>.log`, so a passing test
/// prints nothing and a failing one's lines are there to read (`.ci/run` prints the files of the
/// tests that failed after the run).
///
/// The directory is `TESSERA_TEST_LOG_DIR`, or `tessera-test-logs` in the temporary folder. The
/// file is named like the test's entry in swift-testing's xUnit report, its `classname` and
/// `name` joined by a dot:
/// `TesseraCoreTests.UpstreamKeyCacheTests.aDeadUpstreamDoesNotDelayAnother().log`.
public enum TestLogging {
    /// The variable that names the directory of the log files.
    public static let directoryVariable = "TESSERA_TEST_LOG_DIR"

    /// The directory the log files are written to.
    public static var directory: String {
        if let directory = ProcessInfo.processInfo.environment[directoryVariable], !directory.isEmpty {
            return directory
        }
        return (NSTemporaryDirectory() as NSString).appendingPathComponent("tessera-test-logs")
    }

    /// The log file of the test running in the current task, or `outside-tests.log` for code that
    /// runs outside any test. The first logger for a test in this process removes the file an
    /// earlier run left, so the file holds this run's lines only (and exists only if the test
    /// logged).
    static func fileForCurrentTest() -> String {
        let name: String
        if let test = Test.current {
            name = ([test.id.moduleName] + test.id.nameComponents).joined(separator: ".")
        } else {
            name = "outside-tests"
        }
        let directory = directory
        let path = (directory as NSString).appendingPathComponent(name.replacingOccurrences(of: "/", with: "_") + ".log")
        let first = started.withLock { $0.insert(path).inserted }
        if first {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: path)
        }
        return path
    }

    /// The files this process has started, so each is cleared once per run.
    private static let started = Mutex<Set<String>>([])
}

extension Logger {
    /// A logger whose lines go to the current test's log file (see `TestLogging`) instead of the
    /// terminal. Create it inside the test: the file is chosen from `Test.current` here, and
    /// everything logged through this logger later (background tasks included) goes to it.
    public static func forCurrentTest(label: String = "test") -> Logger {
        let file = TestLogging.fileForCurrentTest()
        return Logger(label: label) { label in TestLogHandler(label: label, file: file) }
    }
}

/// Appends each record to a file as one line, in the format of swift-log's `StreamLogHandler`.
struct TestLogHandler: LogHandler {
    let label: String
    let file: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let details = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(Date().formatted(Self.timestamp)) \(event.level) \(label):\(details) [\(event.source)] \(event.message)\n"
        Self.append(line, to: file)
    }

    private static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// One `write` to a file opened for appending, so lines from concurrent loggers of a test
    /// do not interleave within a line.
    private static func append(_ line: String, to path: String) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
