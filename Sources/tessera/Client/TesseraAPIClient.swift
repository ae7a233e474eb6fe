import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The CLI's HTTP calls to one Tessera server: its token endpoint (from its RFC 8414
/// discovery document) and its requests and activations API. Network failures are retried
/// with backoff for a bounded time; what the server answers is returned as it is.
struct TesseraAPIClient {
    struct Answer {
        let status: Int
        let body: [String: Any]
        let text: String
    }

    let issuer: String
    let http: HTTPClient
    /// How long one call may keep retrying a network failure before it gives up.
    var retryBudget: TimeInterval = 20

    static let responseLimit = 1 << 20

    /// `TESSERA_NETWORK_TIMEOUT` (seconds) bounds the retries of one call (default 20).
    static func make(issuer: String) -> TesseraAPIClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(90)))
        configuration.httpVersion = .http1Only
        var client = TesseraAPIClient(issuer: issuer, http: HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration))
        if let budget = ProcessInfo.processInfo.environment["TESSERA_NETWORK_TIMEOUT"].flatMap(TimeInterval.init), budget >= 0 {
            client.retryBudget = budget
        }
        return client
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// `POST /token` with `form`, at the endpoint the discovery document names.
    func token(_ form: [(String, String)]) async throws(ClientFailure) -> Answer {
        let discovery = try await call("GET", "/.well-known/oauth-authorization-server")
        guard discovery.status == 200, let endpoint = discovery.body["token_endpoint"] as? String else {
            throw ClientFailure(.unavailable, "\(issuer) does not look like a Tessera server: its discovery document answered \(discovery.status)")
        }
        return try await call("POST", endpoint, form: form)
    }

    /// One call; `path` is relative to the issuer unless it is a URL.
    func call(_ method: String, _ path: String, bearer: String? = nil, form: [(String, String)]? = nil) async throws(ClientFailure) -> Answer {
        let url = path.hasPrefix("http://") || path.hasPrefix("https://") ? path : issuer + path
        let started = Date()
        var delay = 0.25
        while true {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = HTTPMethod(rawValue: method)
                request.headers.add(name: "Accept", value: "application/json")
                if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
                if let form {
                    request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
                }
                let response = try await http.execute(request, timeout: .seconds(90))
                let bytes = try await response.body.collect(upTo: Self.responseLimit)
                let text = String(buffer: bytes)
                let body = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
                if response.status.code >= 502, response.status.code <= 504, Date().timeIntervalSince(started) + delay < retryBudget {
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    delay = min(delay * 2, 4)
                    continue
                }
                return Answer(status: Int(response.status.code), body: body, text: text)
            } catch {
                // Connection refused, reset, timed out: the server may be restarting.
                guard Date().timeIntervalSince(started) + delay < retryBudget, !Task.isCancelled else {
                    throw ClientFailure(.unavailable, "cannot reach \(url): \(Self.describe(error))")
                }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 4)
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return "\(type(of: error))"
    }

}

extension TesseraAPIClient.Answer {
    /// `error_description` (or `error`, or the status) of a refusal, for a person to read.
    var problem: String {
        (body["error_description"] as? String) ?? (body["error"] as? String) ?? "the server answered \(status)"
    }
}
