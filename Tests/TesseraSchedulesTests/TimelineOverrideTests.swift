import Foundation
import Testing
import TesseraSchedules

/// Overrides laid on a resolved timeline (how run-time overrides apply to native and imported
/// schedules alike).
@Suite("timeline overrides")
struct TimelineOverrideTests {
    @Test func anOverrideReplacesEveryoneOnCallForItsInterval() {
        let window = at("2026-03-02T00:00:00Z")..<at("2026-03-03T00:00:00Z")
        // A feed with two people on call at once over the whole day.
        let feed = ShiftTimeline(shifts: [Shift(person: "ann", start: window.lowerBound, end: window.upperBound),
                                          Shift(person: "bob", start: window.lowerBound, end: window.upperBound)], window: window)
        let t = feed.overridden(by: [Override(person: "cem", start: at("2026-03-02T10:00:00Z"), end: at("2026-03-02T12:00:00Z"))])
        #expect(t.people("2026-03-02T09:59:59Z") == ["ann", "bob"])
        #expect(t.people("2026-03-02T10:00:00Z") == ["cem"])
        #expect(t.until("2026-03-02T10:30:00Z") == at("2026-03-02T12:00:00Z"))
        #expect(t.people("2026-03-02T12:00:00Z") == ["ann", "bob"])
        // "Until when" for ann before the override is its start: the stretch is cut.
        #expect(t.shift(of: "ann", at: at("2026-03-02T08:00:00Z"))?.end == at("2026-03-02T10:00:00Z"))
    }

    @Test func theLastOfOverlappingOverridesWinsAndOverridesAreClippedToTheWindow() {
        let window = at("2026-03-02T00:00:00Z")..<at("2026-03-03T00:00:00Z")
        let base = ShiftTimeline(shifts: [Shift(person: "ann", start: window.lowerBound, end: window.upperBound)], window: window)
        let t = base.overridden(by: [
            Override(person: "bob", start: at("2026-03-01T20:00:00Z"), end: at("2026-03-02T06:00:00Z")),
            Override(person: "cem", start: at("2026-03-02T04:00:00Z"), end: at("2026-03-02T08:00:00Z")),
        ])
        #expect(t.people("2026-03-02T00:00:00Z") == ["bob"])
        #expect(t.people("2026-03-02T05:00:00Z") == ["cem"])
        #expect(t.people("2026-03-02T08:00:00Z") == ["ann"])
        #expect(t.shifts.allSatisfy { window.lowerBound <= $0.start && $0.end <= window.upperBound })
    }

    /// On a native schedule, an override laid on the timeline gives what the same override
    /// written in the schedule gives, at every minute of a week.
    @Test func onANativeScheduleItEqualsTheScheduleOverride() throws {
        let layers = [try layer(["ann", "bob", "cem"], from: "2026-03-02T09:00:00+01:00", turn: .seconds(12 * 3600))]
        let overrides = [Override(person: "dan", start: at("2026-03-03T20:00:00+01:00"), end: at("2026-03-04T11:00:00+01:00")),
                         Override(person: "eve", start: at("2026-03-04T10:00:00+01:00"), end: at("2026-03-04T12:30:00+01:00"))]
        let window = at("2026-03-02T00:00:00Z")..<at("2026-03-09T00:00:00Z")
        let written = try timeline(berlin, layers, overrides: overrides, window: window)
        let laid = try timeline(berlin, layers, window: window).overridden(by: overrides)
        var instant = window.lowerBound
        while instant < window.upperBound {
            #expect(written.onCall(at: instant) == laid.onCall(at: instant), "at \(instant)")
            instant += 60
        }
    }
}
