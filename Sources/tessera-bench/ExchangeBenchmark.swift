import Foundation
import Logging
import TesseraCore
import TesseraServer

/// Token exchange (RFC 8693) end to end over HTTP under wrk: an ES256 identity token from the
/// development upstream exchanged for a role with five conditions, by the real application in
/// this process with its durable SQLite audit. Each exchange verifies one ES256 signature (the
/// subject token) and makes one (the role token), so the reference is that crypto floor on one
/// core, measured in the same run: pinned, one server core against it; shared, the server and
/// wrk on all cores.
struct ExchangeBenchmark {
    static let pinnedTarget = 0.30
    static let sharedTarget = 0.6
    static let role = "bench-oncall"
    /// Engineers exchanging at once, each with an activation of their own. (Sixty-four parallel
    /// exchanges by one person into one role all change that one activation and conflict.)
    static let engineers = 1000
    static let clientID = "bench-cli"

    let wrk: Wrk
    let placement: Placement

    func run(in workspace: Workspace, floor: CryptoFloor) async throws {
        let name = placement == .pinned ? "exchange-pinned" : "exchange"
        let (server, data) = try await DevBundleServer.start(in: workspace, name: name, files: Self.policyFiles, placement: placement)
        let load = placement.load(wrk)
        print("== exchange: token exchange over HTTP, ES256 subject token -> ES256 role token, a role with 5 conditions")
        print("   (mfa, max_auth_age, device_compliant, networks, justification), \(Self.engineers) engineers in turn, durable audit on SQLite, \(load.loadDescription)")
        print("   (\(placement.description))")
        let result: LoadResult
        do {
            let upstream = try DevUpstream.open(dataDirectory: data, tesseraIssuer: TokenFixture.issuer)
            let now = Date()
            let subjectTokens = try (0..<Self.engineers).map { index in
                try upstream.mint(DevUpstream.Claims(subject: "engineer-\(index)", groups: ["payments-sre"],
                                                     authenticationMethods: ["pwd", "mfa"], deviceCompliant: true), now: now)
            }
            var request = Self.exchangeRequest(subjectToken: subjectTokens[0])
            try await Self.checkExchange(request, baseURL: server.baseURL)
            request.bodies = subjectTokens.map { Self.exchangeRequest(subjectToken: $0).body ?? "" }
            result = try await load.run(request, baseURL: server.baseURL, name: name, workspace: workspace)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        guard result.non2xx == 0 else {
            throw BenchError(description: "token exchange had \(result.non2xx) responses that were not 2xx: its rate measures errors")
        }
        HTTPBenchmark.report("POST /token (exchange)", result, unit: "exchanges/s")
        let ratio = result.requestsPerSecond / floor.exchangesPerSecond
        let verdict = Verdict(ratio: ratio, target: placement == .pinned ? Self.pinnedTarget : Self.sharedTarget, applies: true)
        print("   exchanges/s / crypto floor (\(Format.count(floor.exchangesPerSecond))/s = one core doing raw ES256 verify "
            + "\(Format.count(floor.verifyPerSecond))/s + sign \(Format.count(floor.signPerSecond))/s): ratio \(Format.ratio(ratio))  \(verdict.description)")
    }

    /// The form a public CLI client posts; the role goes in `scope`.
    static func exchangeRequest(subjectToken: String) -> LoadRequest {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("client_id", clientID),
            ("subject_token", subjectToken),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
            ("scope", role),
            ("justification", "benchmark load"),
        ]
        let body = form.map { "\($0.0)=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        return LoadRequest(method: "POST", path: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
    }

    /// One public client, the loopback network, and one role whose five conditions all hold for
    /// the benchmark's identity, so every rule runs on every request.
    static let policyFiles = [
        "clients.yaml": """
        clients:
          - id: \(clientID)
            public: true
            description: tessera-bench exchange client
        """,
        "networks.yaml": """
        networks:
          loopback: [127.0.0.0/8, "::1/128"]
        """,
        "roles/bench.yaml": """
        roles:
          - name: \(role)
            audiences: [\(TokenFixture.audience)]
            scopes: [orders:write]
            default_duration: 15m
            max_duration: 1h
            eligible:
              upstreams: [dev]
              groups: [payments-sre]
            conditions:
              mfa: true
              max_auth_age: 8h
              device_compliant: true
              networks: [loopback]
              justification: required
        """,
    ]

    /// One exchange before the load: it must be allowed, or wrk would measure denials.
    static func checkExchange(_ request: LoadRequest, baseURL: String) async throws {
        let (status, data) = try await request.sendOnce(to: baseURL)
        guard status == 200 else {
            throw BenchError(description: "the exchange answered \(status), not 200: \(String(decoding: data, as: UTF8.self))")
        }
        print("   check: one exchange answered 200 with a role token")
    }
}

/// The raw OpenSSL work of one exchange on one core: a verify and a sign, back to back.
struct CryptoFloor {
    let signPerSecond: Double
    let verifyPerSecond: Double

    var exchangesPerSecond: Double { 1 / (1 / signPerSecond + 1 / verifyPerSecond) }
}

/// `application/x-www-form-urlencoded` values: everything but unreserved characters escaped.
enum FormEncoding {
    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
