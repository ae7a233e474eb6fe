import ArgumentParser
import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// `tessera token ROLE`: the one command an engineer runs. Allowed: the token. Denied: every
/// failed condition in words. Approval needed: who was asked, then a wait that shows each
/// change and ends with the token the moment the last approval lands.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Get a token for a role, waiting for approval when the role needs it.",
        discussion: """
        Examples:
          tessera token db-admin --reason "replica lag" --ticket INC-4211
          tessera token db-admin --output exec-credential        (a kubectl credential plugin)
          tessera token payments-admin --no-wait                 (prints the request id and returns)
          tessera token payments-admin --request req_...         (resumes waiting for that request)

        A token is cached per server, role and audience and printed again, with no network call,
        while more than a minute of it remains. Status lines go to standard error.

        Exit status: 0 token printed; 64 usage; 3 denied (every failed condition is printed);
        4 approval pending (--no-wait, or the wait was left); 5 the request was denied, cancelled
        or expired; 69 the server cannot be reached; 77 no usable subject token (not signed in).
        """)

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case token, json, env
        case execCredential = "exec-credential"
    }

    @Argument(help: "The role.") var role: String
    @Option(help: "How long the token should live, e.g. 30m (the role's default otherwise).") var duration: String?
    @Option(help: "Why you need the role (the justification approvers read).") var reason: String?
    @Option(help: "A ticket reference, e.g. INC-4211.") var ticket: String?
    @Option(help: "Narrow the token to one of the role's audiences.") var audience: String?
    @Option(help: "token, json, env or exec-credential.") var output: Output = .token
    @Flag(name: .customLong("no-wait"), help: "When approval is needed, print the request and return (exit 4).") var noWait = false
    @Option(help: "Collect the token of this request (or wait for it).") var request: String?
    @Flag(name: .customLong("break-glass"), help: "Use break-glass where the role allows it (needs --reason; reviewed afterwards).")
    var breakGlass = false
    @Flag(name: .customLong("no-cache"), help: "Ask the server even when a cached token is still valid.") var noCache = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if breakGlass, reason == nil { throw ValidationError("--break-glass needs --reason: say why, for the review") }
        if let duration, DurationText.seconds(duration) == nil { throw ValidationError("--duration must be a duration such as 30m") }
    }

    func run() async throws {
        let settings = client.settings()
        let cache = TokenCache(cacheDirectory: settings.cacheDirectory)
        let key = TokenCache.key(role: role, audience: audience, clientID: settings.clientID.value)
        let api = TesseraAPIClient.make(issuer: settings.issuer)
        do throws(ClientFailure) {
            // The cache entry is locked while it is read or a token is fetched, not while an
            // approval is awaited: a second invocation then finds the same pending request.
            var subject: String?
            var outcome = try await cache.locked(key) { () async throws(ClientFailure) -> Outcome in
                if !noCache, !breakGlass, request == nil, let cached = cache.read(key, now: Date()) { return .token(cached) }
                try confirmBreakGlass()
                subject = try await SubjectToken.read(settings)
                return try await exchange(api, settings, subject: subject!, requestID: request, cache: cache, key: key)
            }
            while case .pending(let id, let body) = outcome {
                let waiter = ApprovalWaiter(api: api, role: role, requestID: id, settings: settings)
                waiter.announce(body)
                if noWait {
                    throw ClientFailure(.pending, "request \(id) waits for approval; collect the token with `tessera token \(role) --request \(id)`")
                }
                let asking: String
                if let subject { asking = subject } else { asking = try await SubjectToken.read(settings) }
                let current = try await waiter.waitForDecision(subject: asking)
                subject = current
                outcome = try await cache.locked(key) { () async throws(ClientFailure) -> Outcome in
                    try await exchange(api, settings, subject: current, requestID: id, cache: cache, key: key)
                }
            }
            await api.shutdown()
            if case .token(let entry) = outcome { print(Self.render(entry, as: output)) }
        } catch {
            await api.shutdown()
            exitWith(error.status, error.message)
        }
    }

    enum Outcome {
        case token(TokenCache.Entry)
        case pending(id: String, body: [String: Any])
    }

    func confirmBreakGlass() throws(ClientFailure) {
        guard breakGlass, isatty(STDIN_FILENO) == 1 else { return }
        FileHandle.standardError.write(Data("Break-glass activates \(role) at once and is reviewed afterwards. Continue? [y/N] ".utf8))
        guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { throw ClientFailure(.usage, "break-glass not used") }
    }

    /// One exchange: the token (written to the cache), a pending request, or a failure in words.
    func exchange(_ api: TesseraAPIClient, _ settings: ClientSettings, subject: String, requestID: String?, cache: TokenCache,
                  key: String) async throws(ClientFailure) -> Outcome {
        let answer = try await api.token(exchangeForm(settings, subject: subject, requestID: requestID))
        switch (answer.status, answer.body["error"] as? String) {
        case (200, _):
            let entry = try Self.entry(answer, role: role)
            try cache.write(entry, key: key)
            return .token(entry)
        case (403, "approval_required"?):
            guard let id = answer.body["request_id"] as? String else { throw ClientFailure(.failure, "approval_required without a request id") }
            return .pending(id: id, body: answer.body)
        case (403, "access_denied"?):
            let closed = requestID != nil && answer.problem.hasPrefix("request ")
            throw ClientFailure(closed ? .requestClosed : .denied, Self.denial(answer.problem, role: role))
        case (400, "invalid_grant"?):
            throw ClientFailure(.notSignedIn, "the server refused your identity token: \(answer.problem)")
        default:
            throw ClientFailure(answer.status >= 500 ? .unavailable : .failure, answer.problem)
        }
    }

    func exchangeForm(_ settings: ClientSettings, subject: String, requestID: String?) -> [(String, String)] {
        var form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("client_id", settings.clientID.value),
            ("subject_token", subject), ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), ("scope", role),
        ]
        if let duration { form.append(("requested_lifetime", duration)) }
        if let reason { form.append(("justification", reason)) }
        if let ticket { form.append(("ticket", ticket)) }
        if let audience { form.append(("audience", audience)) }
        if breakGlass { form.append(("break_glass", "true")) }
        if let requestID { form.append(("request_id", requestID)) }
        return form
    }

    /// "role db-admin denied: A; B" as one line per failed condition.
    static func denial(_ description: String, role: String) -> String {
        let prefix = "role \(role) denied: "
        guard description.hasPrefix(prefix) else { return description }
        let reasons = description.dropFirst(prefix.count).components(separatedBy: "; ")
        return "role \(role) denied:\n" + reasons.map { "  - \($0)" }.joined(separator: "\n")
    }

    static func entry(_ answer: TesseraAPIClient.Answer, role: String) throws(ClientFailure) -> TokenCache.Entry {
        guard let token = answer.body["access_token"] as? String, let lifetime = answer.body["expires_in"] as? Int else {
            throw ClientFailure(.failure, "the server answered 200 without a token")
        }
        // Our own server's token, read only to show its activation.
        let claims = token.split(separator: ".").dropFirst().first.flatMap { Base64URL.decode(String($0)) }
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
        return TokenCache.Entry(accessToken: token, expiresAt: Date().addingTimeInterval(TimeInterval(lifetime)), role: role,
                                scope: answer.body["scope"] as? String, activationID: claims?["act_id"] as? String)
    }

    static func render(_ entry: TokenCache.Entry, as output: Output) -> String {
        let expires = entry.expiresAt.formatted(Date.ISO8601FormatStyle())
        switch output {
        case .token:
            return entry.accessToken
        case .env:
            return "export TESSERA_TOKEN=\(entry.accessToken)\nexport TESSERA_TOKEN_EXPIRES_AT=\(expires)"
        case .json:
            var object: [String: JSONValue] = [
                "access_token": .string(entry.accessToken), "expires_at": .string(expires), "role": .string(entry.role),
                "expires_in": .number(Double(max(0, Int(entry.expiresAt.timeIntervalSinceNow)))),
            ]
            object["activation_id"] = entry.activationID.map(JSONValue.string)
            object["scope"] = entry.scope.map(JSONValue.string)
            var writer = JSONWriter()
            writer.value(.object(object))
            return String(decoding: writer.bytes, as: UTF8.self)
        case .execCredential:
            // client.authentication.k8s.io/v1 (REFERENCE.md): kubectl reads only stdout.
            var writer = JSONWriter()
            writer.value(.object([
                "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                "status": .object(["token": .string(entry.accessToken), "expirationTimestamp": .string(expires)]),
            ]))
            return String(decoding: writer.bytes, as: UTF8.self)
        }
    }
}
