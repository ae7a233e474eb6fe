import Foundation
import Logging
import TesseraStore

/// Feeds one sink from the audit log: reads the entries after its cursor, delivers them,
/// then moves and saves the cursor. The sink never sits between a request and its token: it
/// reads the durable log on its own schedule, so a sink that is down delays only itself, and
/// when it is back it catches up from where its cursor stopped.
public struct AuditForwarder: Sendable {
    public static let batchSize = 500

    let sink: any AuditSink
    let store: any AuditStore
    let cursorFile: String
    let pollInterval: Duration
    let maximumBackoff: Duration
    let logger: Logger

    public init(sink: any AuditSink, store: any AuditStore, cursorDirectory: String, pollInterval: Duration = .seconds(1),
                maximumBackoff: Duration = .seconds(30), logger: Logger) {
        self.sink = sink
        self.store = store
        self.cursorFile = (cursorDirectory as NSString).appendingPathComponent(sink.name + ".cursor")
        self.pollInterval = pollInterval
        self.maximumBackoff = maximumBackoff
        self.logger = logger
    }

    /// Forwards until the task is cancelled.
    public func run() async {
        var cursor = readCursor()
        var backoff = pollInterval
        var failing = false
        while !Task.isCancelled {
            do {
                let entries = try await store.auditEntries(after: cursor, limit: Self.batchSize)
                if let last = entries.last {
                    try await sink.deliver(entries)
                    cursor = last.sequence
                    try saveCursor(cursor)
                }
                if failing {
                    logger.notice("audit sink delivering again", metadata: ["tessera.sink": .string(sink.name),
                                                                           "tessera.sequence": .stringConvertible(cursor)])
                    failing = false
                }
                backoff = pollInterval
                if entries.count == Self.batchSize { continue }
                try await Task.sleep(for: pollInterval)
            } catch is CancellationError {
                break
            } catch {
                if !failing {
                    logger.error("audit sink unavailable; will catch up", metadata: [
                        "tessera.sink": .string(sink.name), "tessera.error": .string("\(error)"),
                    ])
                    failing = true
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, maximumBackoff)
            }
        }
        await sink.close()
    }

    /// The sink's name, as configured (`--audit-sink`).
    public var sinkName: String { sink.name }

    /// How many entries of the log the sink has not received yet, of the `head` entries there are.
    public func lag(head: Int64) -> Int64 { max(0, head - readCursor()) }

    /// The last sequence delivered; zero (everything) for a new sink.
    func readCursor() -> Int64 {
        guard let text = try? String(contentsOfFile: cursorFile, encoding: .utf8) else { return 0 }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func saveCursor(_ sequence: Int64) throws {
        try FileManager.default.createDirectory(atPath: (cursorFile as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try "\(sequence)\n".write(toFile: cursorFile, atomically: true, encoding: .utf8)
    }
}
