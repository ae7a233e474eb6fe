import Foundation

/// A Tessera server on a bundle of its own (`files`: paths in the policies folder and their
/// text) with the development upstream, and folders of its own named after the benchmark, so
/// identity tokens can be minted for it (`data` holds the dev upstream key).
enum DevBundleServer {
    static func start(in workspace: Workspace, name: String, files: [String: String],
                      placement: Placement = .shared) async throws -> (server: BenchServer, data: String) {
        let policies = workspace.path("policies-\(name)")
        let data = workspace.path("data-\(name)")
        try FileManager.default.createDirectory(atPath: (policies as NSString).appendingPathComponent("roles"), withIntermediateDirectories: true)
        for (path, text) in files {
            try (text + "\n").write(toFile: (policies as NSString).appendingPathComponent(path), atomically: true, encoding: .utf8)
        }
        let settings = BenchServerSettings(keysDirectory: workspace.path("keys-\(name)"), policiesDirectory: policies,
                                           dataDirectory: data, devUpstream: true)
        return (try await BenchServer.start(settings, placement: placement, workspace: workspace), data)
    }
}
