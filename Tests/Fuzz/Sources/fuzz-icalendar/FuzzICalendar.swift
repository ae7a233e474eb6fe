import Foundation
import FuzzSupport
import TesseraSchedules

/// The iCalendar (RFC 5545 subset) parser of the on-call feeds, `ICalendarFeed(parsing:)`,
/// with people taken from attendees (the default) and from PagerDuty's summary pattern, then
/// expanded over a fixed 60-day window. Beyond not crashing: a feed that parses expands (or
/// says its series starts too early for the window), the shifts are sorted, each is non-empty
/// and meets the window, and the timeline puts each shift's person on call inside it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzICalendar(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    for options in Fixture.options {
        let feed: ICalendarFeed
        do {
            feed = try ICalendarFeed(parsing: bytes, options: options)
        } catch {
            continue
        }
        fuzzCheck(feed.eventsNamingNobody.count <= feed.eventCount, "more events name nobody than there are events")
        let shifts: [Shift]
        do {
            shifts = try feed.shifts(in: Fixture.window)
        } catch {
            // A feed that parses expands without surprises (ICalendarFeed's promise), except for
            // a series that starts too long before the window (RecurrenceRule.maximumPeriods).
            fuzzCheck(error.code == .unsupported, "a feed that parsed fails to expand: \(error)")
            continue
        }
        for (earlier, later) in zip(shifts, shifts.dropFirst()) {
            fuzzCheck(earlier.start <= later.start, "shifts out of order: \(earlier), \(later)")
        }
        for shift in shifts {
            fuzzCheck(shift.start < shift.end, "an empty shift \(shift)")
            fuzzCheck(shift.end > Fixture.window.lowerBound && shift.start < Fixture.window.upperBound, "a shift outside the window: \(shift)")
        }
        let timeline = ShiftTimeline(shifts: shifts, window: Fixture.window)
        for shift in shifts.prefix(64) {
            let inside = max(shift.start, Fixture.window.lowerBound)
            fuzzCheck(timeline.isOnCall(shift.person, at: inside), "\(shift.person) is not on call during \(shift)")
        }
        _ = timeline.people
    }
    return 0
}

enum Fixture {
    /// 2026-01-01T00:00:00Z to 2026-03-02T00:00:00Z.
    static let window = Date(timeIntervalSince1970: 1_767_225_600)..<Date(timeIntervalSince1970: 1_767_225_600 + 60 * 86_400)
    static let options = [
        ICalendarOptions(maximumBytes: 1 << 20, defaultTimeZone: TimeZone(identifier: "Europe/Berlin")!),
        ICalendarOptions(maximumBytes: 1 << 20, people: [.summary(.pagerDuty)]),
    ]
}
