import Foundation
import Synchronization
import Testing
@testable import TesseraCore

/// Store operations bounded in time (`StoreDeadline`), their deadlines on one shared timer
/// (`DeadlineWatch`).
@Suite("Store deadlines")
struct StoreDeadlineTests {
    struct Refused: Error {}

    /// An operation that never answers and ignores cancellation, as a query on a dead
    /// connection does: it ends only when the test lets it.
    final class StuckOperation: Sendable {
        private let release = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let started = Mutex(false)

        var hasStarted: Bool { started.withLock { $0 } }

        func run() async {
            await withCheckedContinuation { continuation in
                release.withLock { $0 = continuation }
                started.withLock { $0 = true }
            }
        }

        func finish() {
            release.withLock { $0.take() }?.resume()
        }
    }

    @Test func anAnswerOrAnErrorPassesThroughAndLeavesNoDeadlineBehind() async throws {
        let watch = DeadlineWatch()
        let answers = try await withThrowingTaskGroup(of: Int.self) { group in
            for number in 0..<200 {
                group.addTask { try await StoreDeadline.run(.seconds(30), "a read", watch: watch) { number } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.sorted() == Array(0..<200))
        await #expect(throws: Refused.self) { try await StoreDeadline.run(.seconds(30), "a write", watch: watch) { throw Refused() } }
        // Every operation removed its deadline as it answered: none waits for the timer.
        #expect(watch.count == 0)
    }

    @Test func anOperationThatDoesNotAnswerIsAbandonedAtItsDeadline() async throws {
        let stuck = StuckOperation()
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: StoreTimeout.self) {
            try await StoreDeadline.run(.milliseconds(200), "an activation read") { await stuck.run() }
        }
        let waited = started.duration(to: clock.now)
        #expect(stuck.hasStarted)
        #expect(waited >= .milliseconds(200), "answered before the deadline: \(waited)")
        stuck.finish()
    }

    /// A short deadline set while the shared timer sleeps until a long one still comes on time.
    @Test func aShortDeadlineBehindALongOneComesOnTime() async throws {
        let watch = DeadlineWatch()
        let long = StuckOperation()
        let waitingLong = Task { try await StoreDeadline.run(.seconds(60), "a long read", watch: watch) { await long.run() } }
        while !long.hasStarted { try await Task.sleep(for: .milliseconds(5)) }
        let short = StuckOperation()
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: StoreTimeout.self) {
            try await StoreDeadline.run(.milliseconds(100), "a short read", watch: watch) { await short.run() }
        }
        // Generous against a loaded machine; the long deadline is a minute away.
        #expect(started.duration(to: clock.now) < .seconds(20))
        short.finish()
        long.finish()
        _ = try await waitingLong.value
    }
}
