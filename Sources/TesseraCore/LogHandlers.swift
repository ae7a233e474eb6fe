import Foundation
import Logging
import TesseraJWT

/// Log records on standard error, one line each, as text for people or JSON for log shippers.
///
/// Metadata is rendered only when a record is written. swift-log's `StreamLogHandler`
/// re-renders its text every time metadata is set, which Hummingbird does for every request
/// (a request id): about a tenth of a token request's CPU, even with nothing logged.
public struct StandardErrorLogHandler: LogHandler {
    public enum Format: String, Sendable {
        case text
        case json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: Format

    public init(label: String, format: Format) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // Hummingbird announces its socket; Tessera's own `listening` line says the same with
        // the issuer, so one line is enough.
        if event.source == "HummingbirdCore", event.message.description.hasPrefix("Server started and listening") { return }
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        var line = format == .json ? jsonLine(event, merged) : textLine(event, merged)
        line.append(0x0A)
        // One write(2) per record keeps lines whole when several threads log at once.
        line.withUnsafeBytes { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
    }

    private func textLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> [UInt8] {
        let fields = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
        let time = Date().formatted(.iso8601)
        return Array("\(time) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) \(event.message)".utf8)
    }

    private func jsonLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("time"); writer.string(Date().formatted(.iso8601))
        writer.key("level"); writer.string(event.level.rawValue)
        writer.key("label"); writer.string(label)
        writer.key("message"); writer.string(event.message.description)
        for key in metadata.keys.sorted() {
            writer.key(key)
            writer.value(Self.json(metadata[key]!))
        }
        writer.endObject()
        return writer.bytes
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): .string(string)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary): .object(dictionary.mapValues(json))
        }
    }
}
