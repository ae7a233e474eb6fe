/// A feed Tessera will not use, with the line (1-based, where the offending content line
/// begins) and a reason written for the person who configured the feed. Callers keep the last
/// good data in force and report this.
public struct ICalendarError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable codes for machines (`--json`, metrics); the reason is for people.
    public enum Code: String, Sendable, Hashable {
        /// Bigger than the configured limit; nothing was parsed.
        case tooLarge = "too_large"
        /// Not UTF-8, not iCalendar, broken folding or nesting, a required property missing or
        /// a value that does not parse.
        case malformed
        /// Valid iCalendar that uses something this parser does not implement.
        case unsupported
        /// A `TZID` that is neither an IANA name nor defined by a `VTIMEZONE` in the feed.
        case unknownTimeZone = "unknown_time_zone"
    }

    public let code: Code
    public let line: Int?
    public let reason: String

    public init(_ code: Code, line: Int?, _ reason: String) {
        self.code = code
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "line \(line): \(reason)" }
        return reason
    }
}
