import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The JWKS document exactly as a Tessera server answered it, for a peer to serve.
struct JWKSDocument {
    let body: Data
    let contentType: String
    /// Tessera's `Cache-Control`, so the peer's answer carries the same headers' worth of work.
    let cacheControl: String?
}

/// The JWKS document a Tessera server of the run serves, with its headers, read while that
/// server is up, so nginx serves the very document Tessera was measured serving.
enum TesseraJWKS {
    static func fetch(from baseURL: String) async throws -> JWKSDocument {
        let url = baseURL + HTTPBenchmark.jwksRequest.path
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
