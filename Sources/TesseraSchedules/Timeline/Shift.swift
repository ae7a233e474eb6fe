import Foundation

/// Someone on call over the half-open interval [start, end): a hand-off at exactly `end`
/// belongs to the next person.
public struct Shift: Sendable, Hashable, CustomStringConvertible {
    /// An opaque participant: an e-mail, a paging-system user id, a name.
    public let person: String
    public let start: Date
    public let end: Date

    public init(person: String, start: Date, end: Date) {
        self.person = person
        self.start = start
        self.end = end
    }

    public func contains(_ instant: Date) -> Bool { start <= instant && instant < end }

    public var description: String { "\(person) [\(start.ISO8601Format()), \(end.ISO8601Format()))" }
}

/// An override of a schedule: `person` is on call over [start, end), on top of every layer.
public struct Override: Sendable, Hashable {
    public let person: String
    public let start: Date
    public let end: Date

    public init(person: String, start: Date, end: Date) {
        self.person = person
        self.start = start
        self.end = end
    }
}
