/// How many times an operation ran in how long.
struct Rate {
    var operations = 0
    var seconds = 0.0

    var perSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }

    static func + (lhs: Rate, rhs: Rate) -> Rate {
        Rate(operations: lhs.operations + rhs.operations, seconds: lhs.seconds + rhs.seconds)
    }
}

/// Runs an operation back to back on the calling thread for a while.
enum Stopwatch {
    /// Reading the clock costs tens of nanoseconds against tens of microseconds per signature,
    /// so it is read after every operation rather than batching and overshooting the time.
    static func run(for seconds: Double, _ operation: () throws -> Void) rethrows -> Rate {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: .seconds(seconds))
        var operations = 0
        var now = start
        repeat {
            try operation()
            operations += 1
            now = clock.now
        } while now < deadline
        let elapsed = start.duration(to: now).components
        return Rate(operations: operations, seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
    }
}

/// A raw OpenSSL rate and Tessera's rate for the same work, measured in the same run.
struct Comparison {
    static let rounds = 4
    static let warmUpSeconds = 0.1

    let baseline: Rate
    let candidate: Rate

    var ratio: Double { baseline.perSecond > 0 ? candidate.perSecond / baseline.perSecond : 0 }

    /// Alternates short rounds of baseline and candidate, `seconds` in total for each, after a
    /// warm-up of both: on a shared 2-core machine, background load then hits both sides alike
    /// instead of skewing whichever happened to run during a build.
    static func measure(seconds: Double, baseline: () throws -> Void, candidate: () throws -> Void) rethrows -> Comparison {
        _ = try Stopwatch.run(for: warmUpSeconds, baseline)
        _ = try Stopwatch.run(for: warmUpSeconds, candidate)
        let round = seconds / Double(rounds)
        var baselineRate = Rate()
        var candidateRate = Rate()
        for _ in 0..<rounds {
            baselineRate = baselineRate + (try Stopwatch.run(for: round, baseline))
            candidateRate = candidateRate + (try Stopwatch.run(for: round, candidate))
        }
        return Comparison(baseline: baselineRate, candidate: candidateRate)
    }
}
