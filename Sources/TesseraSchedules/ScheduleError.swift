/// A schedule, restriction or escalation policy that cannot be used, with a message written
/// for the admin who will fix it (the YAML layer adds the file and line).
public struct ScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
