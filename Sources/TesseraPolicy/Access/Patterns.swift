import Foundation
import TesseraText

/// A shell-style glob: `*` matches any run of characters (including `/` and `:`), `?` exactly
/// one character; everything else matches itself. The whole value must match.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let bytes: [UInt8]
    private let isLiteral: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        self.bytes = Array(pattern.utf8)
        self.isLiteral = !bytes.contains(UInt8(ascii: "*")) && !bytes.contains(UInt8(ascii: "?"))
    }

    public var description: String { pattern }

    public func matches(_ value: String) -> Bool {
        if isLiteral { return value.isExactly(pattern) }
        var value = value
        return value.withUTF8 { Self.match(bytes, $0) }
    }

    private static func match(_ pattern: [UInt8], _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var p = 0
        var t = 0
        var star = -1
        var starText = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") {
                p += 1
                t = nextScalar(text, t)
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                starText = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if star >= 0 {
                p = star + 1
                starText = nextScalar(text, starText)
                t = starText
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// `?` is one character: skip a whole UTF-8 sequence, not one byte.
    private static func nextScalar(_ text: UnsafeBufferPointer<UInt8>, _ index: Int) -> Int {
        var next = index + 1
        while next < text.count, text[next] & 0xC0 == 0x80 { next += 1 }
        return next
    }
}

/// A regular expression compiled once when the policy loads. It must match the whole value
/// (it is anchored as `\A(?:pattern)\z`), so `main` never matches `not-main-really`.
public struct RegexPattern: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let box: Box

    /// NSRegularExpression is immutable after init and documented as safe to use from several
    /// threads at once, so sharing one instance is safe.
    private final class Box: @unchecked Sendable {
        let expression: NSRegularExpression
        init(_ expression: NSRegularExpression) { self.expression = expression }
    }

    /// Compiles `pattern`; the error message says why it does not compile.
    public init(_ pattern: String) throws(PolicyError) {
        do {
            let expression = try NSRegularExpression(pattern: "\\A(?:\(pattern))\\z")
            self.pattern = pattern
            self.box = Box(expression)
        } catch {
            throw PolicyError(SourceLocation(file: "pattern"), field: nil, "invalid regular expression \"\(pattern)\": \(error.localizedDescription)")
        }
    }

    public func matches(_ value: String) -> Bool {
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return box.expression.firstMatch(in: value, options: [], range: range) != nil
    }

    public var description: String { pattern }

    public static func == (lhs: RegexPattern, rhs: RegexPattern) -> Bool { lhs.pattern == rhs.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}

/// A condition on one claim of the identity token, e.g. GitHub Actions' `repository`, `ref` or
/// `environment`. Array claims match when any element matches.
public struct ClaimCondition: Sendable, Hashable {
    public enum Test: Sendable, Hashable {
        case equals(String)
        case oneOf([String])
        case glob(GlobPattern)
        case regex(RegexPattern)
        case present
        case absent
    }

    public var claim: String
    public var test: Test

    public init(claim: String, test: Test) {
        self.claim = claim
        self.test = test
    }

    /// How the test reads in a reason: `equals "acme/payments"`, `matches glob refs/tags/v*`.
    public var expectation: String {
        switch test {
        case .equals(let value): "equals \"\(value)\""
        case .oneOf(let values): "is one of [\(values.joined(separator: ", "))]"
        case .glob(let glob): "matches glob \(glob.pattern)"
        case .regex(let regex): "matches regex \(regex.pattern)"
        case .present: "is present"
        case .absent: "is absent"
        }
    }

    /// Whether the claim (nil when the token does not have it) passes the test.
    public func holds(for value: ClaimValue?) -> Bool {
        let present: Bool = switch value {
        case nil, .null?: false
        default: true
        }
        switch test {
        case .present: return present
        case .absent: return !present
        default: break
        }
        guard let value else { return false }
        if case .array(let elements) = value { return elements.contains { scalarHolds($0) } }
        return scalarHolds(value)
    }

    private func scalarHolds(_ value: ClaimValue) -> Bool {
        guard let text = value.scalarText else { return false }
        switch test {
        case .equals(let expected): return text.isExactly(expected)
        case .oneOf(let values): return values.containsExactly(text)
        case .glob(let glob): return glob.matches(text)
        case .regex(let regex): return regex.matches(text)
        case .present, .absent: return true
        }
    }
}

extension ClaimValue {
    /// The text a string, number or boolean claim compares as: `42` for an integral number,
    /// `true`/`false` for a boolean. Arrays, objects and null have none.
    public var scalarText: String? {
        switch self {
        case .string(let string): string
        case .bool(let bool): bool ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { String(Int64(number)) } else { String(number) }
        case .array, .object, .null: nil
        }
    }

    /// A short rendering for reasons: `"acme/web"`, `42`, `["a", "b"]`.
    public var displayText: String {
        switch self {
        case .string(let string): "\"\(string)\""
        case .array(let elements): "[\(elements.map(\.displayText).joined(separator: ", "))]"
        case .object: "{...}"
        case .null: "null"
        default: scalarText ?? "?"
        }
    }
}

/// When a role may be used: some days of the week, between two local times, in one time zone.
/// A window whose end is before its start crosses midnight (`22:00-06:00`); the part after
/// midnight belongs to the day the window started on, so `days: [fri]` with `22:00-06:00`
/// covers Friday 22:00 to Saturday 06:00. Local time comes from the zone's UTC offset at that
/// instant, so daylight-saving changes are followed.
public struct TimeWindow: Sendable, Hashable, CustomStringConvertible {
    /// Bit `n` set: day `n` is included, 0 = Sunday ... 6 = Saturday.
    public let dayMask: UInt8
    /// Minutes after local midnight; `endMinute` may be 1440 (`24:00`).
    public let startMinute: Int
    public let endMinute: Int
    public let timeZone: TimeZone
    /// The zone as the policy names it (Foundation on Linux reports `UTC` as `GMT`).
    public let timeZoneName: String

    public static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(dayMask: UInt8 = 0x7F, startMinute: Int, endMinute: Int, timeZone: TimeZone, timeZoneName: String? = nil) {
        self.dayMask = dayMask
        self.startMinute = startMinute
        self.endMinute = endMinute
        self.timeZone = timeZone
        self.timeZoneName = timeZoneName ?? timeZone.identifier
    }

    /// The weekday (0 = Sunday) and minute of the day of `date` in this window's zone.
    public func localTime(_ date: Date) -> (weekday: Int, minute: Int) {
        let offset = Double(timeZone.secondsFromGMT(for: date))
        let local = date.timeIntervalSince1970 + offset
        let days = (local / 86_400).rounded(.down)
        // Checked conversions: `now` comes from a clock or a policy test, but a Double that does
        // not fit an Int must never trap the process (it lands on Thursday 00:00 instead).
        let minute = Int(exactly: ((local - days * 86_400) / 60).rounded(.down)) ?? 0
        // 1970-01-01 was a Thursday (4).
        let weekday = (((Int(exactly: days) ?? 0) % 7) + 7 + 4) % 7
        return (weekday, min(max(minute, 0), 1439))
    }

    public func contains(_ date: Date) -> Bool {
        let (weekday, minute) = localTime(date)
        if startMinute < endMinute {
            return includes(weekday) && minute >= startMinute && minute < endMinute
        }
        return (includes(weekday) && minute >= startMinute) || (includes((weekday + 6) % 7) && minute < endMinute)
    }

    private func includes(_ weekday: Int) -> Bool { dayMask & (1 << UInt8(weekday)) != 0 }

    public var description: String {
        let days = dayMask == 0x7F ? "every day" : (0..<7).filter { includes($0) }.map { Self.dayNames[$0] }.joined(separator: ",")
        return "\(days) \(Self.clock(startMinute))-\(Self.clock(endMinute)) \(timeZoneName)"
    }

    static func clock(_ minute: Int) -> String {
        let hours = minute / 60
        let minutes = minute % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }
}
