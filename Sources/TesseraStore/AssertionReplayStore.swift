import Foundation

/// Remembers the `jti` of every client assertion (RFC 7523) until it expires, so that a
/// captured assertion can never be used twice (RFC 7523 §3, item 7).
///
/// The persistent backends (SQLite, PostgreSQL) come with the storage work; they conform to
/// this same protocol so several replicas share one replay window.
public protocol AssertionReplayStore: Sendable {
    /// Records `jti` for `clientID` until `expiresAt`. Returns false if it was already recorded
    /// and has not expired: the assertion is a replay and must be refused.
    func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) async throws -> Bool
}

/// The in-memory replay store of a single node. Expired entries are dropped as new ones
/// arrive, so memory stays bounded by the assertions of the last few minutes.
public actor InMemoryAssertionReplayStore: AssertionReplayStore {
    private struct Key: Hashable {
        let clientID: String
        let jti: String
    }

    private var expiries: [Key: Date] = [:]
    private var nextPrune = Date.distantPast
    private let pruneInterval: TimeInterval

    public init(pruneInterval: TimeInterval = 30) {
        self.pruneInterval = pruneInterval
    }

    public func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) -> Bool {
        pruneIfDue(now: now)
        let key = Key(clientID: clientID, jti: jti)
        if let existing = expiries[key], existing > now { return false }
        expiries[key] = expiresAt
        return true
    }

    public var count: Int { expiries.count }

    private func pruneIfDue(now: Date) {
        guard now >= nextPrune else { return }
        prune(now: now)
    }

    /// Forgets the jtis expired at `now`; returns how many.
    @discardableResult
    public func prune(now: Date) -> Int {
        let before = expiries.count
        expiries = expiries.filter { $0.value > now }
        nextPrune = now.addingTimeInterval(pruneInterval)
        return before - expiries.count
    }
}
