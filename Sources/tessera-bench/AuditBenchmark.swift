import Foundation
import TesseraCore
import TesseraJWT
import TesseraStore

/// Audit appends per second through the real `AuditLog` (group commit) on a durable store,
/// with no HTTP and no signing: what durability alone can sustain. Each append carries an
/// issued-token record, as a `token.issued` entry does.
struct AuditBenchmark {
    static let writers = 64
    static let seconds = 5.0

    func run(on store: any TesseraStorage, name: String, rawES256Signing: Double) async throws {
        let log = AuditLog(store: store, timeSource: SystemTimeSource())
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(Self.seconds))
        let start = clock.now
        let appended = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<Self.writers {
                group.addTask {
                    var index = 0
                    while clock.now < deadline {
                        index += 1
                        let jti = "bench-\(writer)-\(index)-\(UUID().uuidString)"
                        let now = Date()
                        let record = IssuedTokenRecord(jwtID: jti, subject: "bench", clientID: "bench", audiences: ["https://api.example.com"],
                                                       scope: "read", keyID: "bench-kid", issuedAt: now, expiresAt: now + 300)
                        _ = try await log.record(AuditEvent("token.issued", outcome: .success,
                                                            actor: AuditActor(subject: "bench", clientID: "bench", remoteAddress: "127.0.0.1"),
                                                            target: ["jti": .string(jti)]), issuedToken: record)
                    }
                    return index
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = start.duration(to: clock.now).components
        let rate = Double(appended) / (Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
        guard case .success = try await AuditLog.verify(store) else {
            throw BenchError(description: "the audit chain written by the benchmark does not verify")
        }
        print("   audit appends on \(Format.left(name, 10)) \(Format.right(Format.count(rate), 7)) entries/s (\(Self.writers) concurrent writers, each entry durable before its caller resumes; chain verified)  "
              + "ratio to raw one-core ES256 sign/s \(Format.ratio(rate / rawES256Signing)) (info)")
    }
}
