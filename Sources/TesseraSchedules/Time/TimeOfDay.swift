/// A wall-clock time of day, to the second, e.g. a hand-off at 09:00.
public struct TimeOfDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 0 ..< 86400.
    public let secondsSinceMidnight: Int

    public init?(hour: Int, minute: Int, second: Int = 0) {
        guard (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second) else { return nil }
        secondsSinceMidnight = hour * 3600 + minute * 60 + second
    }

    public static let midnight = TimeOfDay(hour: 0, minute: 0)!

    /// `HH:mm` or `HH:mm:ss` (24-hour clock; `24:00` is refused: use `00:00` of the next day).
    public init(parsing text: some StringProtocol) throws(ScheduleError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCIIDigit) }),
              let time = TimeOfDay(hour: Int(parts[0])!, minute: Int(parts[1])!, second: parts.count == 3 ? Int(parts[2])! : 0)
        else { throw ScheduleError("\"\(text)\" is not a time of day; write HH:mm or HH:mm:ss, e.g. 09:00") }
        self = time
    }

    public var hour: Int { secondsSinceMidnight / 3600 }
    public var minute: Int { secondsSinceMidnight / 60 % 60 }
    public var second: Int { secondsSinceMidnight % 60 }

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.secondsSinceMidnight < rhs.secondsSinceMidnight }

    public var description: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return second == 0 ? "\(two(hour)):\(two(minute))" : "\(two(hour)):\(two(minute)):\(two(second))"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
