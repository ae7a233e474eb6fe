import TesseraJWT

/// Why a subject token was refused: a stable `code` for programs and tests, the upstream it was
/// checked against when one was picked, and a `message` safe to log and to return to the client
/// (it never contains the token, and attacker-controlled text goes through `displayed`).
public struct UpstreamVerificationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The token's `iss` is not the issuer of any configured upstream.
        public static let unknownIssuer = Code(rawValue: "unknown_issuer")
        /// The upstream's keys could not be obtained (never fetched, or stale beyond the bound).
        public static let keysUnavailable = Code(rawValue: "keys_unavailable")
        /// `iat` is older than the upstream's `max_token_age`.
        public static let tokenTooOld = Code(rawValue: "token_too_old")
        /// `auth_time` is older than the upstream's `max_auth_age`.
        public static let authenticationTooOld = Code(rawValue: "authentication_too_old")
        /// The mapped subject claim is missing or not a non-empty string.
        public static let missingSubject = Code(rawValue: "missing_subject")

        /// The JWT layer's codes keep their names (`expired`, `invalid_signature`, ...).
        public init(_ code: JWTError.Code) { self.rawValue = code.rawValue }
    }

    public let code: Code
    /// The `id` of the upstream the token was checked against, when the issuer picked one.
    public let upstream: String?
    public let message: String

    public init(_ code: Code, upstream: String? = nil, _ message: String) {
        self.code = code
        self.upstream = upstream
        self.message = message
    }

    init(_ error: JWTError, upstream: String?) {
        self.init(Code(error.code), upstream: upstream, error.message)
    }

    public var description: String {
        if let upstream { return "\(code): upstream \(upstream): \(message)" }
        return "\(code): \(message)"
    }
}
