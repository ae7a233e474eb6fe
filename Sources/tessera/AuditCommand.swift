import ArgumentParser
import Foundation
import TesseraCore
import TesseraJWT
import TesseraStore

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and verify the tamper-evident audit log.", subcommands: [Verify.self, Tail.self, Checkpoint.self])

    /// The selected store; for SQLite, refusing to create one where none exists.
    static func openStore(_ folders: FolderOptions, _ store: StoreOption) async -> any TesseraStorage {
        let location = store.location(folders)
        if case .sqlite = location {
            let path = (folders.data as NSString).appendingPathComponent(SQLiteStorage.fileName)
            guard FileManager.default.fileExists(atPath: path) else {
                fail("no audit log at \(path); has `tessera serve` run with --data \(folders.data)?")
            }
        }
        do {
            return try await location.open()
        } catch {
            fail("\(error)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain; report the first broken entry and exit non-zero if there is one.")

        @Option(name: .customLong("from-checkpoint"), help: "A checkpoint file from `tessera audit checkpoint`: also prove the log was not rewritten or truncated before it.")
        var checkpointFile: String?

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption
        @OptionGroup var issuer: IssuerOption

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            if let checkpointFile {
                let checkpoint = Audit.readCheckpoint(checkpointFile, issuer: issuer.value, folders: folders)
                if case .failure(let broken) = try await checkpoint.confirm(in: store) {
                    try await store.close()
                    fail("audit log does not match the checkpoint at \(broken)")
                }
                print("checkpoint confirmed: entry \(checkpoint.head.sequence) unchanged since \(checkpoint.time.formatted(.iso8601))")
            }
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
        @OptionGroup var store: StoreOption

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            let last = try await store.auditHead()?.sequence ?? 0
            let entries = try await store.auditEntries(after: max(0, last - Int64(max(count, 0))), limit: max(count, 0))
            try await store.close()
            for entry in entries {
                print(#"{"entry":\#(entry.body),"hash":"\#(entry.hash)"}"#)
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the audit log's current head with the current signing key and print the checkpoint; keep it somewhere the log's operators cannot edit.")

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption
        @OptionGroup var issuer: IssuerOption

        func run() async throws {
            let keys = Audit.signingKeys(folders)
            let store = await Audit.openStore(folders, self.store)
            guard let head = try await store.auditHead() else {
                try await store.close()
                fail("the audit log is empty: nothing to checkpoint")
            }
            let checkpoint = AuditCheckpoint(issuer: issuer.value, head: head, time: Date())
            let signed = try checkpoint.signed(with: keys)
            let audit = AuditLog(store: store, timeSource: SystemTimeSource())
            try await audit.record(AuditEvent("audit.checkpoint", outcome: .success, target: [
                "sequence": .number(Double(head.sequence)), "hash": .string(head.hash),
            ]))
            try await store.close()
            print(signed)
        }
    }

    static func signingKeys(_ folders: FolderOptions) -> SigningKeys {
        do {
            return try SigningKeys(keys: KeyDirectory(path: folders.keys).load())
        } catch {
            fail(error.description)
        }
    }

    static func readCheckpoint(_ path: String, issuer: String, folders: FolderOptions) -> AuditCheckpoint {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            fail("\(path): cannot read the checkpoint: \(error.localizedDescription)")
        }
        do {
            return try AuditCheckpoint.verified(text, issuer: issuer, keys: signingKeys(folders))
        } catch {
            fail("\(path): \(error.description)")
        }
    }
}

/// `--issuer`, resolved as `tessera serve` resolves it, for commands that sign or check
/// documents in the issuer's name.
struct IssuerOption: ParsableArguments {
    @Option(name: .customLong("issuer"), help: "The issuer URL (env TESSERA_ISSUER, default http://127.0.0.1:8080, as for serve).")
    var flag: String?

    var value: String {
        IssuerURLs(issuer: resolve(flag, "TESSERA_ISSUER", "http://127.0.0.1:8080")).issuer
    }
}
