/// Why an on-call source (the PagerDuty API, an iCalendar feed) gave no data this time. The
/// caller keeps the last good data in force and reports `message`; `code` is for metrics,
/// `--json` output and tests, and does not change between releases.
///
/// A message names the source and the cause in words. It never contains a credential, and
/// never a response body beyond a short, cleaned excerpt of the server's own error text.
public struct OnCallSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No connection: refused, reset, no route, name not found.
        public static let unreachable = Code(rawValue: "unreachable")
        /// No complete answer within the configured timeout.
        public static let timeout = Code(rawValue: "timeout")
        /// An answer with a status other than success (`status` says which).
        public static let httpStatus = Code(rawValue: "http_status")
        /// An answer that is not what the API documents: not JSON, wrong shapes, missing
        /// fields, bad dates. Nothing of it is used.
        public static let malformed = Code(rawValue: "malformed")
        /// Rate limited for longer than the configured budget allows waiting.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// A response, or a result, larger than the configured limit.
        public static let tooLarge = Code(rawValue: "too_large")
        /// The fetch was cancelled (the service is stopping); not a fault of the source.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The source's configuration cannot work (a plain-http URL, no token, nothing to fetch).
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
    }

    public let code: Code
    public let message: String
    /// The HTTP status, for `http_status` (and `rate_limited`: 429).
    public let status: Int?

    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { message }
}
