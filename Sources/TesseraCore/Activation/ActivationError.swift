import Foundation

/// A refusal of the activation API, answered as the OAuth errors are (`error`,
/// `error_description`) with its HTTP status.
public struct ActivationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    /// RFC 6750 §3 challenge for a 401.
    public var challenge: String?

    public init(status: Int, code: String, _ message: String, challenge: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.challenge = challenge
    }

    public var description: String { "\(code): \(message)" }

    static func notFound(_ message: String) -> ActivationError { ActivationError(status: 404, code: "not_found", message) }
    static func forbidden(_ message: String) -> ActivationError { ActivationError(status: 403, code: "forbidden", message) }
    static func conflict(_ message: String) -> ActivationError { ActivationError(status: 409, code: "conflict", message) }
    static func invalid(_ message: String) -> ActivationError { ActivationError(status: 400, code: "invalid_request", message) }
    static func unavailable(_ message: String) -> ActivationError { ActivationError(status: 503, code: "temporarily_unavailable", message) }
}
