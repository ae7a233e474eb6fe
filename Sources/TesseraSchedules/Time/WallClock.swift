import Foundation

/// A local wall-clock reading: a date and a time of day, with no zone attached.
struct LocalDateTime: Sendable, Hashable, Comparable {
    var date: CivilDate
    /// 0 ..< 86400.
    var second: Int

    init(date: CivilDate, second: Int) {
        self.date = date
        self.second = second
    }

    /// Seconds since 1970-01-01T00:00 on this wall clock (as if it were UTC).
    init(naive: Int) {
        let day = naive >= 0 ? naive / 86400 : (naive - 86399) / 86400
        date = CivilDate(dayNumber: day)
        second = naive - day * 86400
    }

    var naive: Int { date.dayNumber * 86400 + second }

    static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool { lhs.naive < rhs.naive }
}

/// The offsets from UTC a wall clock follows: an IANA zone, a fixed offset (UTC), or the rules
/// of an iCalendar `VTIMEZONE` block.
///
/// Converting a wall-clock time to an instant is where daylight saving time bites; every
/// conversion in this target goes through `instant(of:)`, so the two rules below hold for
/// hand-offs, restriction windows and iCalendar times alike. They are RFC 5545 section 3.3.5's
/// rules, which Python's `zoneinfo` (fold=0), Google Calendar and goalert also follow:
/// - a local time that does not exist (spring forward: 02:30 on the night the clocks jump from
///   02:00 to 03:00) is read with the offset in force before the gap, which moves it forward by
///   the gap: 02:30 becomes 03:30 summer time;
/// - a local time that occurs twice (fall back: 02:30 on the night the clocks go from 03:00
///   back to 02:00) is its first occurrence, the one in summer time.
enum WallClockZone: Sendable {
    case system(TimeZone)
    case fixed(seconds: Int)
    case rules(VTimeZoneRules)

    static let utc = WallClockZone.fixed(seconds: 0)

    /// Seconds east of UTC at the instant `utc` (seconds since 1970).
    func offset(atUTC utc: Int) -> Int {
        switch self {
        case let .system(zone): zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(utc)))
        case let .fixed(seconds): seconds
        case let .rules(rules): rules.offset(atUTC: utc)
        }
    }

    func local(ofUTC utc: Int) -> LocalDateTime {
        LocalDateTime(naive: utc + offset(atUTC: utc))
    }

    /// The instant (seconds since 1970) of a wall-clock time, with the gap and overlap rules
    /// stated on the type.
    func instant(of local: LocalDateTime) -> Int {
        instant(ofNaive: local.naive)
    }

    func instant(ofNaive naive: Int) -> Int {
        if case let .fixed(seconds) = self { return naive - seconds }
        // The offsets a day either side bracket any transition near this time (zones change
        // offset at most once in two days).
        let before = offset(atUTC: naive - 86400)
        let after = offset(atUTC: naive + 86400)
        let early = naive - before
        let late = naive - after
        let earlyValid = offset(atUTC: early) == before
        let lateValid = offset(atUTC: late) == after
        switch (earlyValid, lateValid) {
        case (true, true): return min(early, late) // occurs twice: the first occurrence
        case (true, false): return early
        case (false, true): return late
        case (false, false):
            // A gap (spring forward): the offset before it, which moves the time forward by the gap.
            if before != after { return early }
            // Two transitions within two days (never seen in tzdata): follow the offset at the guess.
            return naive - offset(atUTC: early)
        }
    }
}
