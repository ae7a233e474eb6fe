import Foundation

/// Tessera against two peers in the same run, each server alone on the server core with wrk on
/// the load core (the `--pin` placement): nginx serving Tessera's own JWKS document as a static
/// file (the floor for `GET /.well-known/jwks.json`), and glewlwyd issuing ES256 JWT access
/// tokens for client_credentials (a real issuer's `POST /token`). Ratios are Tessera's rate over
/// the peer's; only the JWKS one has a target.
struct PeerBenchmark {
    /// Tessera's JWKS requests/s over nginx's, both pinned to one core.
    static let jwksTarget = 0.8

    let wrk: Wrk

    func run(in workspace: Workspace, rawES256Signing: Double) async throws {
        let load = Placement.pinned.load(wrk)
        let cores = Placement.serverCores
        print("== peers: Tessera, then nginx and glewlwyd, each server alone on \(cores), \(load.loadDescription)")
        let tessera = try await HTTPBenchmark(wrk: wrk, placement: .pinned)
            .run(in: workspace, storeURL: nil, rawES256Signing: rawES256Signing)

        let nginx = try await measureNginx(serving: tessera.jwksDocument, cores: cores, load: load, workspace: workspace)
        let jwksRatio = tessera.jwks.requestsPerSecond / nginx.requestsPerSecond
        let verdict = Verdict(ratio: jwksRatio, target: Self.jwksTarget, applies: true)
        print("   GET /.well-known/jwks.json Tessera requests/s / nginx requests/s (\(Format.count(nginx.requestsPerSecond))/s): "
            + "ratio \(Format.ratio(jwksRatio))  \(verdict.description)")

        let glewlwyd = try await measureGlewlwyd(cores: cores, load: load, workspace: workspace)
        for (client, result) in glewlwyd {
            let ratio = tessera.tokens.requestsPerSecond / result.requestsPerSecond
            print("   POST /token Tessera tokens/s / glewlwyd tokens/s, secret stored with \(Format.count(Double(client.iterations))) "
                + "PBKDF2 iteration\(client.iterations == 1 ? "" : "s") (\(Format.count(result.requestsPerSecond))/s): "
                + "ratio \(Format.ratio(ratio))  info (no target)")
        }
    }

    /// nginx on the document Tessera served; fails on any non-2xx answer.
    private func measureNginx(serving document: JWKSDocument, cores: CoreSet, load: Wrk, workspace: Workspace) async throws -> LoadResult {
        let nginx = try await NginxPeer.start(serving: document, cores: cores, workspace: workspace)
        print("== peer: nginx on \(nginx.baseURL), Tessera's JWKS document (\(document.body.count) bytes) as a static file, "
            + "1 worker, master and worker pinned to \(cores)")
        let result: LoadResult
        do {
            let (status, body) = try await HTTPBenchmark.jwksRequest.sendOnce(to: nginx.baseURL)
            guard status == 200, body == document.body else {
                throw BenchError(description: "nginx answered \(status) with \(body.count) bytes, not Tessera's JWKS document:\n\(nginx.output)")
            }
            print("   check: one GET answered 200 with Tessera's JWKS document, byte for byte")
            result = try await load.run(HTTPBenchmark.jwksRequest, baseURL: nginx.baseURL, name: "peer-nginx-jwks", workspace: workspace)
        } catch {
            nginx.stop()
            throw error
        }
        nginx.stop()
        HTTPBenchmark.report("nginx GET jwks.json", result, unit: "requests/s")
        try Self.requireSuccess(result, of: "nginx GET /.well-known/jwks.json")
        return result
    }

    /// glewlwyd with both clients, one load run each on the same server; fails on any non-2xx.
    private func measureGlewlwyd(cores: CoreSet, load: Wrk, workspace: Workspace) async throws -> [(GlewlwydPeer.Client, LoadResult)] {
        let glewlwyd = try await GlewlwydPeer.start(cores: cores, workspace: workspace)
        print("== peer: glewlwyd on \(glewlwyd.baseURL), OIDC plugin, ES256 JWT access tokens, client_credentials + HTTP Basic, "
            + "SQLite, pinned to \(cores)")
        print("   (clients created through its admin API; secrets stored as PBKDF2-SHA256 with "
            + glewlwyd.clients.map { "\(Format.count(Double($0.iterations)))" }.joined(separator: " and ") + " iterations)")
        var results: [(GlewlwydPeer.Client, LoadResult)] = []
        do {
            for client in glewlwyd.clients {
                try await glewlwyd.checkTokenRequest(client)
                print("   check: \(client.id) got 200 with an ES256 JWT access token")
                let result = try await load.run(client.tokenRequest, baseURL: glewlwyd.baseURL,
                                                name: "peer-glewlwyd-\(client.iterations)", workspace: workspace)
                results.append((client, result))
            }
        } catch {
            glewlwyd.stop()
            throw error
        }
        glewlwyd.stop()
        for (client, result) in results {
            HTTPBenchmark.report(client.label, result, unit: "tokens/s")
        }
        for (client, result) in results {
            try Self.requireSuccess(result, of: "glewlwyd POST /token (\(client.id))")
        }
        return results
    }

    /// A rate of error answers would measure the peer's error path, not the peer.
    private static func requireSuccess(_ result: LoadResult, of name: String) throws {
        guard result.non2xx == 0 else {
            throw BenchError(description: "\(name) had \(result.non2xx) responses that were not 2xx/3xx: its rate measures errors, not the peer")
        }
    }
}
