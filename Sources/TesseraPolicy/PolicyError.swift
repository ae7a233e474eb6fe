/// Where something was read from: a file and, when known, a line and column (1-based).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let column: Int?

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        switch (line, column) {
        case let (line?, column?): "\(file):\(line):\(column)"
        case let (line?, nil): "\(file):\(line)"
        default: file
        }
    }
}

/// A policy bundle that cannot be used, naming the file, the line and the field at fault.
/// The message is written for the admin who will fix the file.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let location: SourceLocation
    /// The dotted path of the field, e.g. `clients[2].scopes`.
    public let field: String?
    public let message: String

    public init(_ location: SourceLocation, field: String?, _ message: String) {
        self.location = location
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { return "\(location): \(field): \(message)" }
        return "\(location): \(message)"
    }
}
