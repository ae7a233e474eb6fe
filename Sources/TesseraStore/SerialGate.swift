/// Lets one task at a time through, in arrival order, across suspension points (an actor alone
/// would interleave callers at every `await`). SQLite transactions on one connection need this:
/// a statement from another task inside an open transaction would join it.
actor SerialGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()  // stays busy: ownership passes to the next waiter
        }
    }
}
