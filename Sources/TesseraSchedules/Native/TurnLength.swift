/// How long one participant's turn lasts.
///
/// Days and weeks are calendar units on the schedule zone's wall clock, so a daily 09:00
/// hand-off stays at 09:00 local across daylight saving time (the turn that spans the change
/// lasts 23 or 25 hours). Hours, minutes and seconds are elapsed time, as PagerDuty's
/// `rotation_turn_length_seconds`: a 12 h rotation that hands off at 08:00 and 20:00 in winter
/// hands off at 09:00 and 21:00 after the clocks go forward. Use `1d` turns with restrictions
/// when a hand-off must stay on the wall clock.
public enum TurnLength: Sendable, Hashable, CustomStringConvertible {
    case seconds(Int)
    case days(Int)
    case weeks(Int)

    /// The shortest turn accepted: shorter ones are almost surely a typo (`1s` for `1d`) and
    /// would make a year's timeline millions of turns long.
    public static let minimumSeconds = 60

    /// `90s`, `30m`, `12h`, `1d`, `2w` (a positive whole number and one unit).
    public init(parsing text: some StringProtocol) throws(ScheduleError) {
        let digits = text.prefix { $0.isASCIIDigit }
        let unit = text.dropFirst(digits.count)
        guard !digits.isEmpty, let count = Int(digits), count > 0 else {
            throw ScheduleError("\"\(text)\" is not a turn length; write a number and a unit: 12h, 1d, 1w")
        }
        switch unit {
        case "s": self = .seconds(count)
        case "m": self = .seconds(count * 60)
        case "h": self = .seconds(count * 3600)
        case "d": self = .days(count)
        case "w": self = .weeks(count)
        default: throw ScheduleError("\"\(text)\" has an unknown unit; use s, m, h (elapsed time) or d, w (calendar days and weeks)")
        }
        try validate()
    }

    func validate() throws(ScheduleError) {
        switch self {
        case let .seconds(n) where n < TurnLength.minimumSeconds:
            throw ScheduleError("a turn of \(n)s is shorter than the minimum of \(TurnLength.minimumSeconds)s")
        case let .days(n) where n <= 0, let .weeks(n) where n <= 0:
            throw ScheduleError("a turn length must be positive")
        default: break
        }
    }

    /// Calendar days per turn, nil for elapsed-time turns.
    var calendarDays: Int? {
        switch self {
        case .seconds: nil
        case let .days(n): n
        case let .weeks(n): n * 7
        }
    }

    public var description: String {
        switch self {
        case let .seconds(n) where n % 3600 == 0: "\(n / 3600)h"
        case let .seconds(n) where n % 60 == 0: "\(n / 60)m"
        case let .seconds(n): "\(n)s"
        case let .days(n): "\(n)d"
        case let .weeks(n): "\(n)w"
        }
    }
}
