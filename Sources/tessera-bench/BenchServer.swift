import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraServer

/// Where the server and the load generator run.
enum Placement {
    /// The server in this process and wrk beside it, both free to use every core: what the
    /// machine does with all its cores.
    case shared
    /// `tessera serve` as a child process confined to one core, wrk on another: the figure is
    /// the server's own cost per core, undisturbed by the load generator.
    case pinned

    static let serverCores = CoreSet(cores: [0])
    static let loadCores = CoreSet(cores: [1])

    var description: String {
        switch self {
        case .shared: "server in this process, wrk sharing the machine's \(ProcessInfo.processInfo.activeProcessorCount) cores"
        case .pinned: "`tessera serve` pinned to \(Self.serverCores), wrk pinned to \(Self.loadCores)"
        }
    }

    /// `wrk` as this placement runs it.
    func load(_ wrk: Wrk) -> Wrk {
        self == .pinned ? wrk.pinned(to: Self.loadCores) : wrk
    }
}

/// What a benchmark's server needs: its folders, its store and whether it trusts the
/// development upstream. The same settings run in this process or as `tessera serve`.
struct BenchServerSettings {
    var keysDirectory: String
    var policiesDirectory: String
    var dataDirectory: String
    /// nil: SQLite in the data folder.
    var storeURL: String?
    var devUpstream = false

    /// PostgreSQL keeps signing keys encrypted, so its runs need a key-encryption key. A fixed
    /// one, so later runs on the same scratch database can read the keys earlier ones stored;
    /// never a key to protect anything with.
    var keyEncryptionKey: KeyEncryptionKey? {
        storeURL == nil ? nil : try? KeyEncryptionKey(bytes: Array(repeating: 0x42, count: KeyEncryptionKey.byteCount))
    }
}

/// A Tessera server under load, wherever it runs.
struct BenchServer {
    let baseURL: String
    private let stopServer: () async -> Void

    static func start(_ settings: BenchServerSettings, placement: Placement, workspace: Workspace) async throws -> BenchServer {
        switch placement {
        case .shared:
            let server = try await RunningServer.start(ServerSettings(host: "127.0.0.1", port: 0, issuer: IssuerConfiguration(
                issuer: TokenFixture.issuer, keysDirectory: settings.keysDirectory, policiesDirectory: settings.policiesDirectory,
                dataDirectory: settings.dataDirectory, storeURL: settings.storeURL, devUpstream: settings.devUpstream,
                keyEncryptionKey: settings.keyEncryptionKey)),
                logger: logger(settings))
            return BenchServer(baseURL: server.baseURL, stopServer: { await server.stop() })
        case .pinned:
            let process = try await startProcess(settings, workspace: workspace)
            return BenchServer(baseURL: process.baseURL, stopServer: { process.stop() })
        }
    }

    func stop() async { await stopServer() }

    /// The logger `tessera serve --log-level warning` has (see `BenchmarkCommand`): an info line
    /// per request would measure the logger, not the issuer. `--dev` warns loudly at start; that
    /// is expected here.
    private static func logger(_ settings: BenchServerSettings) -> Logger {
        var logger = Logger(label: "tessera-bench")
        logger.logLevel = settings.devUpstream ? .error : .warning
        return logger
    }

    /// `tessera serve` (the binary `swift build` put beside this one) on the server core.
    private static func startProcess(_ settings: BenchServerSettings, workspace: Workspace) async throws -> (baseURL: String, stop: () -> Void) {
        let executable = try Executable.find("tessera", hint: "build it beside the benchmark: swift build -c release --product tessera",
                                             extraDirectories: [Executable.buildDirectory])
        let port = try LoopbackPort.free()
        var arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--issuer", TokenFixture.issuer,
                         "--keys", settings.keysDirectory, "--policies", settings.policiesDirectory, "--data", settings.dataDirectory,
                         "--log-level", settings.devUpstream ? "error" : "warning"]
        if let storeURL = settings.storeURL { arguments += ["--store", storeURL] }
        if settings.devUpstream { arguments.append("--dev") }
        // Only the flags above configure it: no TESSERA_* variable of the caller's shell.
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TESSERA_") }
        if let key = settings.keyEncryptionKey { environment["TESSERA_KEY_ENCRYPTION_KEY"] = key.encoded }
        let process = try ChildProcess(name: "tessera-serve-\(port)", executable: executable, arguments: arguments,
                                       cores: Placement.serverCores, environment: environment, workspace: workspace)
        let baseURL = "http://127.0.0.1:\(port)"
        try await process.waitUntilServing(baseURL + "/readyz")
        return (baseURL, { process.stop() })
    }
}
