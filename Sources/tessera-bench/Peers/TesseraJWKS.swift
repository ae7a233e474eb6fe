import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The JWKS document of the Tessera server the `peers` run measured, for nginx to serve.
///
/// `HTTPBenchmark.run` stops its server before it returns, so the same `tessera serve` is started
/// once more on the folders of that run (its keys, policies and data) and asked for
/// `GET /.well-known/jwks.json`: the same keys give the very document the load run was served.
/// The folder names are `HTTPBenchmark`'s for its SQLite run; if they change, the check below
/// fails the run rather than let a fresh key folder produce another document.
enum TesseraJWKS {
    static let keysFolder = "keys"
    static let policiesFolder = "policies"
    static let dataFolder = "data"

    static func fetch(in workspace: Workspace) async throws -> JWKSDocument {
        let keys = workspace.path(keysFolder)
        let keyFiles = (try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? []
        guard !keyFiles.isEmpty else {
            throw BenchError(description: "the http run left no keys in \(keys): TesseraJWKS needs the folders HTTPBenchmark used")
        }
        let settings = BenchServerSettings(keysDirectory: keys, policiesDirectory: workspace.path(policiesFolder),
                                           dataDirectory: workspace.path(dataFolder), storeURL: nil)
        let server = try await BenchServer.start(settings, placement: .pinned, workspace: workspace)
        do {
            let document = try await get(server.baseURL + HTTPBenchmark.jwksRequest.path)
            await server.stop()
            return document
        } catch {
            await server.stop()
            throw error
        }
    }

    private static func get(_ url: String) async throws -> JWKSDocument {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        guard let http, http.statusCode == 200, (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw BenchError(description: "Tessera's GET \(url) answered \(http?.statusCode ?? 0) without a JWKS: \(String(decoding: data, as: UTF8.self))")
        }
        return JWKSDocument(body: data, contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "application/json",
                            cacheControl: http.value(forHTTPHeaderField: "Cache-Control"))
    }
}
