import Foundation

/// How to read a feed: its size limit, the zone for floating and all-day times when the feed
/// names none, and how an event names who is on call.
public struct ICalendarOptions: Sendable {
    /// Feeds larger than this are refused before any parsing.
    public var maximumBytes: Int
    /// The zone of floating times and all-day dates when the calendar has no `X-WR-TIMEZONE`.
    public var defaultTimeZone: TimeZone
    /// Tried in order for each event; the first that names someone wins. An event that names
    /// nobody is left out (and counted in `ICalendarFeed.eventsNamingNobody`).
    public var people: [EventPerson]

    public static let defaultMaximumBytes = 4 << 20

    public init(maximumBytes: Int = ICalendarOptions.defaultMaximumBytes, defaultTimeZone: TimeZone = TimeZone(identifier: "UTC")!,
                people: [EventPerson] = [.attendee]) {
        self.maximumBytes = maximumBytes
        self.defaultTimeZone = defaultTimeZone
        self.people = people
    }
}

/// Where an event names who is on call.
public enum EventPerson: Sendable, Hashable {
    /// Every `ATTENDEE`, with or without `mailto:` (PagerDuty writes a bare e-mail).
    case attendee
    /// The first capture of a pattern matched against the unescaped `SUMMARY`, e.g.
    /// `^On Call - (.+?) - ` for PagerDuty's `On Call - <Name> - <Schedule>`.
    case summary(SummaryPattern)
}

/// A regular expression (ICU syntax, as `NSRegularExpression`) with exactly one capture group,
/// checked when it is configured rather than when the first feed arrives.
public struct SummaryPattern: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String

    public init(_ pattern: String) throws(ScheduleError) {
        let expression: NSRegularExpression
        do {
            expression = try NSRegularExpression(pattern: pattern)
        } catch {
            throw ScheduleError("\"\(pattern)\" is not a valid regular expression")
        }
        guard expression.numberOfCaptureGroups == 1 else {
            throw ScheduleError("the pattern \"\(pattern)\" must have exactly one capture group (the person); it has \(expression.numberOfCaptureGroups)")
        }
        self.pattern = pattern
    }

    /// PagerDuty's feed summary, `On Call - <Name> - <Schedule>`.
    public static let pagerDuty = try! SummaryPattern("^On Call - (.+?) - ")

    /// The trimmed first capture in `text`, nil when the pattern does not match or captures
    /// only white space.
    func person(in text: String, using expression: NSRegularExpression) -> String? {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = expression.firstMatch(in: text, range: range), match.range(at: 1).location != NSNotFound,
              let captured = Range(match.range(at: 1), in: text)
        else { return nil }
        let person = text[captured].trimmingCharacters(in: .whitespaces)
        return person.isEmpty ? nil : person
    }

    public var description: String { pattern }
}
