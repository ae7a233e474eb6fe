import Foundation
import Logging
import TesseraCore
import TesseraStore

/// A run that produced no valid measurement.
struct BenchError: Error, CustomStringConvertible {
    let description: String
}

/// Parses the mode and runs the benchmarks it names.
enum BenchmarkCommand {
    enum Mode: String, CaseIterable {
        case crypto, store, http, exchange, policy, oncall, approvals, peers, all

        var runsCrypto: Bool { self == .crypto || self == .all }
        var runsStore: Bool { self == .store || self == .all }
        var runsHTTP: Bool { self == .http || self == .all }
        var runsExchange: Bool { self == .exchange || self == .all }
        var runsPolicy: Bool { self == .policy || self == .all }
        var runsOnCall: Bool { self == .oncall || self == .all }
        var runsApprovals: Bool { self == .approvals || self == .all }
        /// Not part of `all`: it may install nginx-light and glewlwyd with apt-get.
        var runsPeers: Bool { self == .peers }
    }

    static let usage = """
        usage: tessera-bench [\(Mode.allCases.map(\.rawValue).joined(separator: "|"))] [--pin]  (default: all)
          --pin  http and exchange: `tessera serve` pinned to one core and wrk to the other, instead of
                 the server in this process sharing every core with wrk
          peers  Tessera, nginx and glewlwyd, each pinned (as with --pin); not part of all, since it
                 installs nginx-light and glewlwyd with apt-get when they are missing
        """

    /// The process exit status.
    static func run(arguments: [String]) async -> Int32 {
        let pinned = arguments.contains("--pin")
        let rest = arguments.filter { $0 != "--pin" }
        guard rest.count <= 1, let mode = rest.isEmpty ? .all : Mode(rawValue: rest[0]) else {
            printError(usage)
            return 2
        }
        let placement: Placement = pinned ? .pinned : .shared
        // Logs go where `tessera serve` sends them by default (text on standard error), at
        // warning level, so the server pays its usual logging costs and stdout stays the report.
        LoggingSystem.bootstrap { label in
            var handler = StandardErrorLogHandler(label: label, format: .text)
            handler.logLevel = .warning
            return handler
        }
        // Find wrk before spending half a minute on the crypto benchmark.
        var wrk: Wrk?
        if mode.runsHTTP || mode.runsExchange || mode.runsPeers {
            wrk = Wrk.locate()
            if wrk == nil {
                printError(Wrk.installHint)
                return 1
            }
        }
        let workspace: Workspace
        do {
            workspace = try Workspace()
        } catch {
            printError("cannot create a temporary folder: \(error)")
            return 1
        }
        defer { workspace.remove() }
        do {
            let crypto = CryptoBenchmark()
            // Every mode but policy reports a ratio to the raw ES256 rates of this run.
            let floor = mode.runsCrypto ? try crypto.run(in: workspace)
                : mode == .policy || mode == .oncall || mode == .approvals ? CryptoFloor(signPerSecond: 0, verifyPerSecond: 0) : try crypto.rawES256Rates(in: workspace)
            let rawES256Signing = floor.signPerSecond
            let postgres = ProcessInfo.processInfo.environment["TESSERA_BENCH_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
            if postgres == nil, mode.runsStore || mode.runsHTTP {
                print("   (set TESSERA_BENCH_POSTGRES=postgres://... to a scratch database to measure PostgreSQL too)")
            }
            if mode.runsPolicy {
                try PolicyBenchmark().run()
            }
            if mode.runsOnCall {
                try OnCallBenchmark().run()
            }
            if mode.runsStore {
                print("== store: the audit log alone")
                let locations = [("SQLite", StoreLocation.sqlite(directory: workspace.path("audit-bench")))]
                    + (try postgres.map { [("PostgreSQL", try StoreLocation(storeURL: $0, dataDirectory: ""))] } ?? [])
                for (name, location) in locations {
                    let store = try await location.open()
                    do {
                        try await AuditBenchmark().run(on: store, name: name, rawES256Signing: rawES256Signing)
                    } catch {
                        try? await store.close()
                        throw error
                    }
                    try await store.close()
                }
            }
            if let wrk, mode.runsHTTP {
                let http = HTTPBenchmark(wrk: wrk, placement: placement)
                let sqlite = try await http.run(in: workspace, storeURL: nil, rawES256Signing: rawES256Signing)
                if let postgres {
                    try await http.run(in: workspace, storeURL: postgres, rawES256Signing: rawES256Signing, sqlite: sqlite)
                }
            }
            if let wrk, mode.runsExchange {
                try await ExchangeBenchmark(wrk: wrk, placement: placement).run(in: workspace, floor: floor)
            }
            if mode.runsApprovals {
                try await ApprovalBenchmark().run(in: workspace)
            }
            if let wrk, mode.runsPeers {
                try await PeerBenchmark(wrk: wrk).run(in: workspace, rawES256Signing: rawES256Signing)
            }
            return 0
        } catch {
            printError("tessera-bench: \(error)")
            return 1
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
