import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A server the benchmark starts as a child process (`tessera serve`, a peer such as nginx),
/// optionally confined to some cores with `taskset`, its output in a log file of the workspace,
/// and stopped by its own process id.
final class ChildProcess {
    let name: String
    let logPath: String
    private let process = Process()

    /// Starts `executable` with `arguments`; `cores` nil: wherever the kernel schedules it.
    init(name: String, executable: String, arguments: [String], cores: CoreSet?, environment: [String: String]? = nil,
         workspace: Workspace) throws {
        self.name = name
        logPath = workspace.path("\(name).log")
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw BenchError(description: "cannot create \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.launch(executable, arguments, on: cores)
        if let environment { process.environment = environment }
        // A file, not a pipe: nothing can block on a full pipe buffer.
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// What the process wrote so far (for error messages).
    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until `GET url` answers 200, or fails with the process's output when it exits first
    /// or `seconds` pass.
    func waitUntilServing(_ url: String, seconds: Double = 30) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 2
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw BenchError(description: "\(name) exited (status \(process.terminationStatus)) before serving \(url):\n\(output)")
            }
            if let (_, response) = try? await URLSession.shared.data(for: request),
               (response as? HTTPURLResponse)?.statusCode == 200 {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        throw BenchError(description: "\(name) did not serve \(url) within \(Int(seconds)) s:\n\(output)")
    }

    /// SIGTERM to its own process id, then SIGKILL if it has not exited within five seconds.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

extension Process {
    /// Sets the program and its arguments, under `taskset` when `cores` are given.
    func launch(_ executable: String, _ arguments: [String], on cores: CoreSet?) throws {
        if let cores {
            executableURL = URL(fileURLWithPath: try Executable.find("taskset", hint: "apt-get install -y util-linux"))
            self.arguments = ["-c", cores.list, executable] + arguments
        } else {
            executableURL = URL(fileURLWithPath: executable)
            self.arguments = arguments
        }
    }

    /// Runs to completion with its output in the file at `logPath` (a file, not a pipe, so
    /// nothing can block on a full pipe buffer), waiting without blocking a thread of the
    /// concurrency pool, which a server in this process shares; returns the exit status and output.
    func runToCompletion(loggingTo logPath: String) async throws -> (status: Int32, output: String) {
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw BenchError(description: "cannot create \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        standardOutput = log
        standardError = log
        standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try run()
            } catch {
                terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return (status, (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }
}

/// Cores as `taskset -c` takes them.
struct CoreSet: CustomStringConvertible {
    let cores: [Int]
    var list: String { cores.map(String.init).joined(separator: ",") }
    var description: String { cores.count == 1 ? "core \(list)" : "cores \(list)" }
}

/// Programs the benchmark runs, found on PATH (or next to the benchmark itself).
enum Executable {
    static func find(_ name: String, hint: String, extraDirectories: [String] = []) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in extraDirectories + path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw BenchError(description: "\(name) was not found; \(hint)")
    }

    /// The folder of the running benchmark binary, where `swift build` puts the `tessera` binary too.
    static var buildDirectory: String {
        (CommandLine.arguments[0] as NSString).deletingLastPathComponent
    }
}

/// A loopback port nobody listens on right now (bound and closed), for a child process to take.
enum LoopbackPort {
    static func free() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchError(description: "socket() failed: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(socket, generic, length) == 0 && getsockname(socket, generic, &length) == 0
            }
        }
        guard bound else { throw BenchError(description: "cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
