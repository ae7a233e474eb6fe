import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The request wrk sends, repeated on every connection.
struct LoadRequest {
    var method = "GET"
    var path: String
    var headers: [(name: String, value: String)] = []
    var body: String?
    /// Bodies sent in turn instead of `body` (wrk's `request` hook), for load from many callers.
    var bodies: [String]?
}

extension LoadRequest {
    /// Sends the request once (outside wrk): the check before a load run.
    func sendOnce(to baseURL: String) async throws -> (status: Int, body: Data) {
        var urlRequest = URLRequest(url: URL(string: baseURL + path)!)
        urlRequest.httpMethod = method
        urlRequest.httpBody = body.map { Data($0.utf8) }
        for header in headers { urlRequest.setValue(header.value, forHTTPHeaderField: header.name) }
        let (data, response) = try await URLSession.shared.data(for: urlRequest)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}

/// What wrk measured for one run.
struct LoadResult {
    let requests: Int
    let seconds: Double
    let p50Microseconds: Double
    let p99Microseconds: Double
    /// Responses whose status was not 2xx or 3xx (wrk's own split).
    let non2xx: Int
    /// Connect, read and write errors and timeouts.
    let socketErrors: Int

    var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
}

/// The `wrk` HTTP load generator (Debian package `wrk`), run as a child process.
struct Wrk {
    static let installHint = "wrk is not installed or not on PATH; install it with `apt-get install -y wrk`"

    var connections = 64
    var threads = 2
    var seconds = 10
    /// The cores wrk runs on (`taskset`); nil: wherever the kernel puts it.
    var cores: CoreSet?
    let executable: String

    /// wrk on PATH, or nil.
    static func locate() -> Wrk? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/wrk"
            if FileManager.default.isExecutableFile(atPath: candidate) { return Wrk(executable: candidate) }
        }
        return nil
    }

    var loadDescription: String {
        "wrk \(connections) connections, \(threads) thread\(threads == 1 ? "" : "s"), \(seconds) s" + (cores.map { " on \($0)" } ?? "")
    }

    /// The same load confined to `cores`, one thread per core.
    func pinned(to cores: CoreSet) -> Wrk {
        var copy = self
        copy.cores = cores
        copy.threads = cores.cores.count
        return copy
    }

    /// Runs wrk against `baseURL` + `request.path`. Files for the script and output go into
    /// `workspace` under `name`.
    func run(_ request: LoadRequest, baseURL: String, name: String, workspace: Workspace) async throws -> LoadResult {
        let scriptPath = workspace.path("\(name).lua")
        let outputPath = workspace.path("\(name).out")
        try Self.script(for: request).write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = Process()
        try process.launch(executable, ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", scriptPath,
                                        baseURL + request.path], on: cores)
        let (status, text) = try await process.runToCompletion(loggingTo: outputPath)
        guard status == 0, let result = Self.parse(text) else {
            throw BenchError(description: "wrk failed (exit status \(status)) for \(request.method) \(request.path):\n\(text)")
        }
        return result
    }

    /// The request setup plus a `done` hook printing wrk's totals, latency percentiles (from
    /// the same histogram `--latency` prints) and error counts in one machine-readable line.
    static func script(for request: LoadRequest) -> String {
        var lines = ["wrk.method = \(lua(request.method))"]
        if let body = request.body { lines.append("wrk.body = \(lua(body))") }
        if let bodies = request.bodies, !bodies.isEmpty {
            lines.append("local bodies = {" + bodies.map(lua).joined(separator: ",\n") + "}")
            lines.append("local next = 0")
            lines.append("request = function() next = next % #bodies + 1; return wrk.format(nil, nil, nil, bodies[next]) end")
        }
        for header in request.headers {
            lines.append("wrk.headers[\(lua(header.name))] = \(lua(header.value))")
        }
        lines.append("""
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("\(resultMarker) %d %d %d %d %d %d\\n", summary.requests, summary.duration,
            latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
        end
        """)
        return lines.joined(separator: "\n") + "\n"
    }

    static let resultMarker = "tessera-bench-result"

    /// Reads the `done` line: requests, duration (us), p50 (us), p99 (us), non-2xx/3xx, socket errors.
    static func parse(_ output: String) -> LoadResult? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix(resultMarker + " ") }) else { return nil }
        let numbers = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard numbers.count == 6 else { return nil }
        return LoadResult(requests: Int(numbers[0]), seconds: numbers[1] / 1_000_000, p50Microseconds: numbers[2],
                          p99Microseconds: numbers[3], non2xx: Int(numbers[4]), socketErrors: Int(numbers[5]))
    }

    /// A Lua string literal.
    private static func lua(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.append(character)
            }
        }
        return "\"\(escaped)\""
    }
}
