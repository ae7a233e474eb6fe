import Foundation
import Logging
import TesseraCore
import TesseraServer

/// The application, in this process, on a bundle of its own (`files`: paths in the policies
/// folder and their text) with the development upstream, and folders of its own named after
/// the benchmark, so identity tokens can be minted for it (`data` holds the dev upstream key).
enum DevBundleServer {
    static func start(in workspace: Workspace, name: String, files: [String: String]) async throws -> (server: RunningServer, data: String) {
        let policies = workspace.path("policies-\(name)")
        let data = workspace.path("data-\(name)")
        try FileManager.default.createDirectory(atPath: (policies as NSString).appendingPathComponent("roles"), withIntermediateDirectories: true)
        for (path, text) in files {
            try (text + "\n").write(toFile: (policies as NSString).appendingPathComponent(path), atomically: true, encoding: .utf8)
        }
        let settings = ServerSettings(host: "127.0.0.1", port: 0, issuer: IssuerConfiguration(
            issuer: TokenFixture.issuer, keysDirectory: workspace.path("keys-\(name)"), policiesDirectory: policies,
            dataDirectory: data, devUpstream: true))
        var logger = Logger(label: "tessera-bench")
        logger.logLevel = .error  // --dev warns loudly at start; that is expected here
        return (try await RunningServer.start(settings, logger: logger), data)
    }
}
