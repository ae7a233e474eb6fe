/// Why a token was refused: a stable `code` for programs and tests, and a `message` safe to
/// show a caller (it never contains the token or key material).
public struct JWTError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let oversized = Code(rawValue: "oversized")
        public static let malformed = Code(rawValue: "malformed")
        public static let unsupportedAlgorithm = Code(rawValue: "unsupported_algorithm")
        public static let algorithmMismatch = Code(rawValue: "algorithm_mismatch")
        public static let unknownKey = Code(rawValue: "unknown_key")
        public static let invalidSignature = Code(rawValue: "invalid_signature")
        public static let unsupportedCritical = Code(rawValue: "unsupported_critical")
        public static let invalidType = Code(rawValue: "invalid_type")
        public static let missingClaim = Code(rawValue: "missing_claim")
        public static let invalidClaim = Code(rawValue: "invalid_claim")
        public static let invalidIssuer = Code(rawValue: "invalid_issuer")
        public static let invalidAudience = Code(rawValue: "invalid_audience")
        public static let expired = Code(rawValue: "expired")
        public static let notYetValid = Code(rawValue: "not_yet_valid")
        public static let issuedInFuture = Code(rawValue: "issued_in_future")
        public static let lifetimeTooLong = Code(rawValue: "lifetime_too_long")
        public static let signingFailed = Code(rawValue: "signing_failed")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Attacker-controlled text (a `kid`, an `alg`, an issuer) as it may appear in an error message:
/// at most 64 characters, control characters escaped, so a hostile token cannot forge log
/// lines or bloat responses.
public func displayed(_ value: String) -> String {
    var shown = ""
    for scalar in value.unicodeScalars.prefix(64) {
        if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" {
            shown += scalar.escaped(asASCII: true)
        } else {
            shown.unicodeScalars.append(scalar)
        }
    }
    return value.unicodeScalars.count > 64 ? shown + "..." : shown
}
