import TesseraJWT

/// An error answered to an OAuth client as RFC 6749 §5.2 JSON. The description is written for
/// the developer of the client: it says what was wrong and, where possible, how to fix it,
/// and never contains a secret, a token or an internal detail.
public struct OAuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidRequest = Code(rawValue: "invalid_request")
        public static let invalidClient = Code(rawValue: "invalid_client")
        public static let invalidGrant = Code(rawValue: "invalid_grant")
        public static let unauthorizedClient = Code(rawValue: "unauthorized_client")
        public static let unsupportedGrantType = Code(rawValue: "unsupported_grant_type")
        public static let invalidScope = Code(rawValue: "invalid_scope")
        public static let invalidTarget = Code(rawValue: "invalid_target")
        public static let serverError = Code(rawValue: "server_error")
        public static let notFound = Code(rawValue: "not_found")
        /// Token exchange: a role's conditions do not hold (403; the description names them).
        public static let accessDenied = Code(rawValue: "access_denied")
        /// Token exchange: every condition holds but the role needs an approval first (403),
        /// distinct so the CLI can start the approval flow.
        public static let approvalRequired = Code(rawValue: "approval_required")
        /// RFC 6749 §4.1.2.1: the server cannot answer now (the store is away, or it is
        /// overloaded); 503 with `Retry-After`.
        public static let temporarilyUnavailable = Code(rawValue: "temporarily_unavailable")
    }

    public let code: Code
    public let errorDescription: String
    /// The HTTP status: 400 for request errors, 401 for client authentication failures.
    public let httpStatus: Int
    /// Recorded in the audit entry of the refusal, never sent to the client (the decision's
    /// rules, the role, the subject).
    public var auditDetails: [String: JSONValue] = [:]
    /// The audit event of the refusal when it is not `token.denied` (`upstream.token_rejected`).
    public var auditEvent: String?
    /// Members the JSON answer carries besides `error` and `error_description` (the request
    /// id and state of an `approval_required`).
    public var fields: [String: JSONValue] = [:]

    public init(_ code: Code, _ description: String, status: Int? = nil, auditEvent: String? = nil,
                auditDetails: [String: JSONValue] = [:]) {
        self.code = code
        self.errorDescription = description
        self.httpStatus = status ?? (code == .invalidClient ? 401 : code == .serverError ? 500 : 400)
        self.auditEvent = auditEvent
        self.auditDetails = auditDetails
    }

    public var description: String { "\(code): \(errorDescription)" }

    public static func invalidRequest(_ description: String) -> OAuthError { OAuthError(.invalidRequest, description) }
    public static func invalidClient(_ description: String) -> OAuthError { OAuthError(.invalidClient, description) }
}
