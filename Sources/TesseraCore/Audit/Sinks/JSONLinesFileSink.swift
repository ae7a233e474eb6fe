import Foundation
import Synchronization
import TesseraStore

/// Audit lines appended to a file a SIEM agent tails, rotated by size: `audit.jsonl` becomes
/// `audit.jsonl.1` (and `.1` becomes `.2`, ...) once the next write would pass `maximumBytes`;
/// the oldest beyond `keep` is deleted. Every write is fsynced before it counts as delivered.
public final class JSONLinesFileSink: AuditSink {
    public let name: String
    let path: String
    let maximumBytes: Int
    let keep: Int
    private let handle = Mutex<FileHandle?>(nil)

    public init(name: String, path: String, maximumBytes: Int, keep: Int) {
        self.name = name
        self.path = path
        self.maximumBytes = maximumBytes
        self.keep = keep
    }

    public func deliver(_ entries: [SealedAuditEntry]) async throws {
        let bytes = Data(entries.map { AuditLine.json($0) + "\n" }.joined().utf8)
        try handle.withLock { handle in
            if handle == nil { handle = try open() }
            guard let file = handle else { return }
            let size = try file.seekToEnd()
            if size > 0, Int(size) + bytes.count > maximumBytes {
                try file.close()
                handle = nil
                try rotate()
                handle = try open()
            }
            try handle?.write(contentsOf: bytes)
            try handle?.synchronize()
        }
    }

    public func close() async {
        handle.withLock { handle in
            try? handle?.close()
            handle = nil
        }
    }

    private func open() throws -> FileHandle {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            // Audit lines name subjects and clients: readable by the owner and group only.
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw StoreError("\(path): cannot create the audit sink file")
            }
        }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    private func rotate() throws {
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(path).\(keep)")
        for index in stride(from: keep - 1, through: 1, by: -1) where manager.fileExists(atPath: "\(path).\(index)") {
            try manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
        }
        try manager.moveItem(atPath: path, toPath: "\(path).1")
    }
}
