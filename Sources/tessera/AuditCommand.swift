import ArgumentParser
import Foundation
import TesseraCore
import TesseraStore

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and verify the tamper-evident audit log.", subcommands: [Verify.self, Tail.self])

    /// The store in the data folder, refusing to create one where none exists.
    static func openStore(_ folders: FolderOptions) async -> SQLiteStorage {
        let path = (folders.data as NSString).appendingPathComponent(SQLiteStorage.fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            fail("no audit log at \(path); has `tessera serve` run with --data \(folders.data)?")
        }
        do {
            return try await SQLiteStorage.open(directory: folders.data)
        } catch {
            fail("\(error)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain; report the first broken entry and exit non-zero if there is one.")

        @OptionGroup var folders: FolderOptions

        func run() async throws {
            let store = await Audit.openStore(folders)
            let result = try await AuditLog.verify(store)
            try await store.close()
            switch result {
            case .success(let head?):
                print("audit log verified: \(head.sequence) entries, chain head \(head.hash)")
            case .success(nil):
                print("audit log verified: empty")
            case .failure(let broken):
                fail("audit log broken at \(broken)")
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the last entries as JSON lines, oldest first.")

        @Option(name: [.customShort("n"), .customLong("count")], help: "How many entries (default 20).")
        var count: Int = 20

        @OptionGroup var folders: FolderOptions

        func run() async throws {
            let store = await Audit.openStore(folders)
            let last = try await store.auditHead()?.sequence ?? 0
            let entries = try await store.auditEntries(after: max(0, last - Int64(max(count, 0))), limit: max(count, 0))
            try await store.close()
            for entry in entries {
                print(#"{"entry":\#(entry.body),"hash":"\#(entry.hash)"}"#)
            }
        }
    }
}
